"""A write the database keeps refusing is retried after longer and longer pauses, one line
each: the back-off the receive loops use, against a real database made to fail."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text

from bot.backoff import Backoff
from bot.health import HEALTH, ReceiveState
from bot.types import Platform
from storage import Store

SECRET_WORDS = "words a member typed"


@contextmanager
def table_away(database_url: str, table: str) -> Iterator[None]:
    """The database loses ``table`` (renamed aside) until the block ends."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"ALTER TABLE {table} RENAME TO {table}_away"))
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"ALTER TABLE {table}_away RENAME TO {table}"))
        engine.dispose()


def test_pauses_grow_from_the_first_to_the_longest_and_start_again_after_a_success() -> None:
    backoff = Backoff("test", first=1.0, longest=8.0)
    assert [backoff.failed("x") for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    backoff.succeeded()
    assert (backoff.failures, backoff.next_pause()) == (0, 1.0)
    with pytest.raises(ValueError, match="pauses must grow"):
        Backoff("test", first=0)


async def test_a_write_the_database_keeps_refusing_backs_off_one_line_per_pause(
    store: Store, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    lines: list[str] = []
    backoff = Backoff(
        "test: storing", notice=lines.append, platform=Platform.CONSOLE, first=0.01, longest=0.04
    )
    pauses: list[float] = []
    loop = asyncio.get_running_loop()
    started = loop.time()
    with table_away(database_url, "inbound_events"):
        while len(pauses) < 5:
            try:
                store.inbox.record(Platform.CONSOLE, "1", None, {"text": SECRET_WORDS})
            except Exception as error:
                pauses.append(await backoff.pause(error))
        failing = HEALTH.of(Platform.CONSOLE)
    assert store.inbox.record(Platform.CONSOLE, "1", None, {"text": SECRET_WORDS})
    with caplog.at_level(logging.INFO):
        backoff.succeeded()
    assert pauses == [0.01, 0.02, 0.04, 0.04, 0.04]
    assert loop.time() - started >= sum(pauses)
    assert len(lines) == 5
    assert lines[0].startswith("test: storing failed (") and lines[0].endswith("retrying in 0.01 s")
    assert not any(SECRET_WORDS in line for line in lines)
    assert failing is not None and (failing.state, failing.failures) == (ReceiveState.FAILING, 5)
    recovered = HEALTH.of(Platform.CONSOLE)
    assert recovered is not None and recovered.state is ReceiveState.RECEIVING
    assert "backoff_recovered" in caplog.text
    HEALTH.forget(Platform.CONSOLE)
