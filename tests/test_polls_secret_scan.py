"""A secret ballot on Telegram, then every byte the bot keeps: three members vote in private
chats (from the group's button, by command, by a number in one message), and neither the
database nor its write-ahead log holds anything that says what one of them chose: no
choice's value (what a button press or a number carried), in any table or file, and no row
that names a voter beside a choice.

SQLite, whose files can be read byte for byte; what PostgreSQL's files keep is said in
storage/polls.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from bot.types import Platform
from handlers.polls.labels import ballot_value, vote_value
from storage.polls import BallotKind
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import (
    USER_IDS,
    TelegramBot,
    TelegramGroup,
    make_token,
    telegram_config,
)
from tests.test_polls_kill import post_poll

pytestmark = pytest.mark.backends("sqlite")

TG = Platform.TELEGRAM
GROUP = -1006060
OPTIONS = ("Geneva", "Nairobi", "Bogotá")
CONFIG = f"""
data_dir = "data"

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en"]
telegram_chats = [{GROUP}]
coordinators = ["telegram:{USER_IDS["coord"]}"]

[limits]
private_messages_per_minute = 10000
"""


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(make_token()) as running:
        yield running


def files_of(database_url: str) -> list[Path]:
    database = Path(database_url.removeprefix("sqlite:///"))
    return [Path(f"{database}{tail}") for tail in ("", "-wal", "-journal", "-shm")]


def found_in_files(paths: list[Path], needles: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in paths:
        if path.is_file():
            held = path.read_bytes()
            hits = [needle for needle in needles if needle.encode() in held]
            if hits:
                found[path.name] = hits
    return found


def rows_holding(database_url: str, needles: list[str]) -> dict[str, int]:
    """Rows of every table whose text holds one of ``needles``, counted by table."""
    engine = create_engine(database_url)
    held: dict[str, int] = {}
    try:
        with engine.connect() as connection:
            for table in inspect(connection).get_table_names():
                for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                    shown = " ".join(str(value) for value in row)
                    if any(needle in shown for needle in needles):
                        held[table] = held.get(table, 0) + 1
    finally:
        engine.dispose()
    return held


async def test_a_secret_ballot_leaves_no_byte_that_joins_a_voter_to_a_choice(
    tmp_path: Path, database_url: str, emulator: BotApiEmulator
) -> None:
    group = TelegramGroup(emulator, GROUP, "CAWG")
    ana, boss, local = (USER_IDS[name] for name in ("ana", "boss", "local"))
    for user, name in ((ana, "Ana"), (boss, "Boss"), (local, "Lou")):
        emulator.add_user(user, name)
        emulator.send_text(user, "/start")
    running = TelegramBot(telegram_config(tmp_path, database_url, emulator, extra=CONFIG))
    await running.start()
    try:
        store = running.store
        await emulator.wait_for(lambda: all(emulator.sent(u) for u in (ana, boss, local)), 20)
        cawg = store.groups.by_slug("cawg")
        assert cawg is not None
        for user in (ana, boss, local):
            member = store.members.for_identity(TG, str(user), language="en")
            store.joining.add_member(member.id, cawg.id)
        poll = post_poll(
            store,
            running.config,
            rooms=((TG, str(GROUP)),),
            lead=timedelta(days=2),
            ballot=BallotKind.SECRET,
            options=OPTIONS,
        )
        assert running.service is not None
        running.service.wake(TG)
        await emulator.wait_for(lambda: bool(group.bot_posts()), 20)
        [notice] = group.bot_posts()

        def ballot_in(user: int) -> tuple[int, list[str]] | None:
            for sent in reversed(emulator.sent(user)):
                buttons = [
                    button["callback_data"]
                    for row in (sent.reply_markup or {}).get("inline_keyboard", [])
                    for button in row
                ]
                if vote_value(poll, 0) in buttons:
                    return sent.message_id, buttons
            return None

        # Ana from the group's button, then in her private chat; Lou by /vote N and a tap;
        # Boss in one message.
        emulator.press_button(ana, GROUP, notice.message_id, ballot_value(poll))
        emulator.send_text(local, f"/vote {poll}")
        await emulator.wait_for(lambda: ballot_in(ana) and ballot_in(local), 20)
        for user, index in ((ana, 1), (local, 2)):
            found = ballot_in(user)
            assert found is not None
            emulator.press_button(user, user, found[0], vote_value(poll, index))
        emulator.send_text(boss, f"/vote {poll} 2")
        await emulator.wait_for(lambda: len(store.polls.voters(poll)) == 3, 20)
        await emulator.wait_for(lambda: store.outbox.status(TG, since=store.now()).pending == 0, 20)
        assert sorted(store.polls.secret_ballots(poll)) == [(1,), (1,), (2,)]

        # What a tap or a typed vote carried: the option's value, the command with its number.
        needles = [vote_value(poll, index) for index in range(len(OPTIONS))]
        needles += [f"/vote {poll} 2"]
        assert found_in_files(files_of(database_url), needles) == {}
        assert rows_holding(database_url, needles) == {}
        # And no row of the ballots names anyone: their columns are an id, the poll, the choice.
        ballots = rows_holding(database_url, [str(user) for user in (ana, boss, local)])
        assert "poll_ballots" not in ballots
    finally:
        await running.stop()
    assert found_in_files(files_of(database_url), needles) == {}
