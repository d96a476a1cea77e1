"""One running bot per database: a second ``caucus run`` waits as a standby and takes over
when the first dies; a bot whose lock is lost stops serving.

Real processes on a real database of each backend: the lock is PostgreSQL's advisory lock
or a file lock beside the SQLite file, and what releases it is the kernel or the server
noticing a ``kill -9``.
"""

from __future__ import annotations

import asyncio
import signal
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from bot.i18n import Catalogs
from bot.standby import STANDBY_NOTICE, TAKEOVER_NOTICE
from bot.types import Message, Platform
from storage.instance_lock import NoInstanceLock, instance_lock_for
from tests.harness.console_process import BotProcess
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import make_token, telegram_section

CATALOGS = Catalogs.load()

pytestmark = pytest.mark.e2e  # the bots run as processes of their own, one killed with SIGKILL

STARTED = 20.0
"""Seconds a process may take to start (imports, opening the database)."""

TAKEOVER = 8.0
"""Seconds within which a standby serves once the holder is gone: "a few". About 1 s when
measured; the margin is for a machine busy with the rest of the suite."""

STOPPED = 10.0
"""Seconds within which a bot whose lock is lost has stopped (about 2 s when measured)."""


def text(key: str) -> str:
    return CATALOGS.renderer("en", Platform.CONSOLE).label(Message.of(key))


WHOAMI = CATALOGS.template("en", "whoami.identity").split("{")[0]
"""How the answer to ``/whoami`` begins."""


def _config(folder: Path) -> Path:
    config = folder / "config.toml"
    config.write_text('data_dir = "data"\n', encoding="utf-8")
    return config


def _serving(bot: BotProcess) -> None:
    """Wait until ``bot`` answers in its console: it holds the database."""
    bot.type("/help")
    bot.wait_for(text("help.whoami"), timeout=STARTED)


def test_a_second_bot_waits_as_standby_and_serves_once_the_first_is_killed(
    tmp_path: Path, database_url: str
) -> None:
    config = _config(tmp_path)
    first = BotProcess(config, database_url)
    second: BotProcess | None = None
    try:
        _serving(first)
        second = BotProcess(config, database_url)
        second.wait_for_error(STANDBY_NOTICE, timeout=STARTED)
        second.type("/whoami")
        assert WHOAMI not in second.output_within(1.5), "a standby answered"

        first.kill_hard()
        killed = time.monotonic()
        second.wait_for(WHOAMI, timeout=TAKEOVER)
        assert time.monotonic() - killed < TAKEOVER
        assert TAKEOVER_NOTICE in second.wait_for_error(TAKEOVER_NOTICE)
        # The console's answers, each once: the command typed while waiting, then this one.
        _serving(second)
        assert second.seen.count(WHOAMI) == 1
        assert second.finish() == 0
    finally:
        first.kill_hard()
        if second is not None:
            second.kill_hard()
    assert first.process.returncode == -signal.SIGKILL


def _lose_the_lock(database_url: str) -> None:
    """What a lost lock looks like to its holder: its PostgreSQL session is ended (a server
    restart, a network cut, an administrator), or its lock file beside SQLite is removed."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        Path(url.database + ".lock").unlink()
        return
    with psycopg.connect(url.set(drivername="postgresql").render_as_string(False)) as admin:
        ended = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'caucus-instance-lock' AND datname = current_database()"
        ).fetchall()
    assert ended == [(True,)]


def test_a_bot_that_loses_its_lock_stops_serving_and_says_why(
    tmp_path: Path, database_url: str
) -> None:
    bot = BotProcess(_config(tmp_path), database_url)
    try:
        _serving(bot)
        _lose_the_lock(database_url)
        code = bot.process.wait(timeout=STOPPED)
        assert "instance lock was lost" in bot.wait_for_error("stopped serving")
        assert code == 1
    finally:
        bot.kill_hard()


# -- on Telegram: the standby neither polls nor answers ------------------------------------

MEMBER = 7001


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(make_token()) as running:
        yield running


async def _answers(emulator: BotApiEmulator, at_least: int, within: float) -> int:
    """How many messages the member has from the bot, once there are ``at_least``, and
    still after a moment more (an answer sent twice would show by then)."""
    await emulator.wait_for(lambda: len(emulator.sent(MEMBER)) >= at_least, timeout=within)
    await asyncio.sleep(1.0)
    return len(emulator.sent(MEMBER))


async def test_on_telegram_a_standby_answers_nothing_until_the_first_bot_is_killed(
    tmp_path: Path, sqlite_url: str, emulator: BotApiEmulator
) -> None:
    emulator.add_user(MEMBER, "Ana")
    config = tmp_path / "config.toml"
    config.write_text('data_dir = "data"\n' + telegram_section(emulator, "polling"), "utf-8")
    token = {"CAUCUS_TELEGRAM_TOKEN": emulator.token}
    first = BotProcess(config, sqlite_url, secrets=token)
    second: BotProcess | None = None
    try:
        emulator.send_text(MEMBER, "/whoami")
        assert await _answers(emulator, 1, within=STARTED) == 1
        second = BotProcess(config, sqlite_url, secrets=token)
        async with asyncio.timeout(STARTED):
            await second.until_error(STANDBY_NOTICE)

        emulator.send_text(MEMBER, "/whoami")
        assert await _answers(emulator, 2, within=TAKEOVER) == 2, "answered twice"

        first.kill_hard()
        emulator.send_text(MEMBER, "/whoami")
        assert await _answers(emulator, 3, within=TAKEOVER + 2) == 3
        assert all(WHOAMI in message.plain_text for message in emulator.sent(MEMBER))
    finally:
        first.kill_hard()
        if second is not None:
            second.kill_hard()


# -- where the lock is ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:x?mode=memory&uri=true"]
)
def test_an_in_memory_database_needs_no_lock(url: str) -> None:
    assert isinstance(instance_lock_for(url), NoInstanceLock)


def test_the_sqlite_lock_is_an_owner_only_file_beside_the_database(tmp_path: Path) -> None:
    lock = instance_lock_for(f"sqlite:///{tmp_path / 'data' / 'caucus.sqlite3'}")
    other = instance_lock_for(f"sqlite:///{tmp_path / 'data' / '..' / 'data' / 'caucus.sqlite3'}")
    try:
        assert lock.try_acquire()
        assert not other.try_acquire()
        path = tmp_path / "data" / "caucus.sqlite3.lock"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        lock.release()
        assert other.try_acquire()
    finally:
        lock.release()
        other.release()
