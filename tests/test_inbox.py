"""The one inbox of a process with Telegram and Matrix: both platforms' stored events are
handed to the one dispatcher in one order (by arrival), each read back by its own
transport, and a Matrix event waiting for its room key is never handed over, however many
wait. The real services are built (store, router, both transports), not started: the
events are put in the inbox as each transport stores them, so no server is needed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text

from bot.app import Services
from bot.config import load_config
from bot.incoming_json import to_json
from bot.transports.telegram.transport import from_private_chat
from bot.types import Command, Origin, Platform, TextMessage
from storage import StorageUnavailable
from tests.harness.databases import Backend

TG = Platform.TELEGRAM
MX = Platform.MATRIX

CONFIG = """
[telegram]
mode = "polling"
api_base_url = "http://127.0.0.1:1"

[matrix]
homeserver = "http://127.0.0.1:1"
user_id = "@caucus:example.org"
device_id = "CAUCUS"
"""


@pytest.fixture
async def services(tmp_path: Path, database_url: str) -> AsyncIterator[Services]:
    path = tmp_path / "config.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n' + CONFIG, encoding="utf-8")
    config = load_config(
        path,
        env={
            "CAUCUS_DATABASE_URL": database_url,
            "CAUCUS_TELEGRAM_TOKEN": "123456:test-token",
            "CAUCUS_MATRIX_ACCESS_TOKEN": "unused",
            "CAUCUS_MATRIX_PICKLE_KEY": "a pickle key long enough to be one",
        },
    )
    opened = Services(config, warn=lambda line: None)
    try:
        yield opened
    finally:
        await opened.stop()


def telegram_command(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    """A private message as Telegram sends it, and as its transport stores it."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": user_id, "type": "private", "first_name": "Ana"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Ana"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
        },
    }


def matrix_direct(user_id: str) -> Origin:
    return Origin(MX, f"!dm-{user_id}", user_id, True, "Bo")


def store_matrix(services: Services, event_id: str, event: Command | TextMessage) -> None:
    """What the Matrix transport stores for a translated event of its sync."""
    assert services.store.inbox.record(MX, event_id, None, to_json(event))


def answered_rooms(services: Services) -> list[tuple[Platform, str]]:
    """Where the handled events' answers went, in the order they were queued."""
    queued = [*services.store.outbox.pending(TG), *services.store.outbox.pending(MX)]
    rooms: list[tuple[Platform, str]] = []
    for record in sorted(queued, key=lambda record: record.id):
        if not rooms or rooms[-1] != (record.platform, record.room_id):
            rooms.append((record.platform, record.room_id))
    return rooms


async def test_matrix_and_telegram_events_are_handled_in_one_order_of_arrival(
    services: Services,
) -> None:
    store = services.store
    store_matrix(services, "$first", Command(matrix_direct("@bo:example.org"), "help"))
    store.inbox.record(TG, "1", 1, telegram_command(1, 11, "/help"))
    store_matrix(services, "$third", Command(matrix_direct("@cy:example.org"), "help"))
    store.inbox.record(TG, "2", 2, telegram_command(2, 22, "/help"))

    assert await services.inbox.drain() == 4

    assert answered_rooms(services) == [
        (MX, "!dm-@bo:example.org"),
        (TG, "11"),
        (MX, "!dm-@cy:example.org"),
        (TG, "22"),
    ]
    assert store.inbox.pending(MX) == [] and store.inbox.pending(TG) == []


async def test_a_matrix_event_waiting_for_its_key_is_not_handed_over_nor_blocks_others(
    services: Services,
) -> None:
    store = services.store
    # More waiting events than the inbox reads in one page.
    for number in range(120):
        waiting = {"room_id": "!group:example.org", "event": {"event_id": f"$locked{number}"}}
        store.inbox.record(MX, f"$locked{number}", None, waiting, waiting=True)
    store_matrix(services, "$ready", Command(matrix_direct("@bo:example.org"), "help"))

    assert await services.inbox.drain() == 1
    assert answered_rooms(services) == [(MX, "!dm-@bo:example.org")]
    assert len(store.inbox.waiting(MX, limit=1000)) == 120

    # Its key came: made ready, it is handled like any other event.
    assert store.inbox.make_ready(
        MX, "$locked7", to_json(Command(matrix_direct("@cy:example.org"), "help"))
    )
    assert await services.inbox.drain() == 1
    assert answered_rooms(services)[-1] == (MX, "!dm-@cy:example.org")
    assert len(store.inbox.waiting(MX, limit=1000)) == 119


async def test_a_stored_matrix_event_this_version_cannot_read_is_set_aside(
    services: Services,
) -> None:
    store = services.store
    store.inbox.record(MX, "$odd", None, {"kind": "telepathy", "version": 1})
    store_matrix(services, "$next", Command(matrix_direct("@bo:example.org"), "help"))
    assert await services.inbox.drain() == 2
    assert answered_rooms(services) == [(MX, "!dm-@bo:example.org")]
    assert store.inbox.pending(MX) == []


async def test_the_events_of_a_pass_are_handled_in_one_commit(services: Services) -> None:
    store = services.store
    for number in range(1, 21):
        store.inbox.record(TG, str(number), number, telegram_command(number, 100 + number, "/help"))
    commits: list[str] = []
    engine = store._engine  # the commits this store's connections make

    def listener(connection: Any) -> None:
        commits.append("commit")

    event.listen(engine, "commit", listener)
    try:
        assert await services.inbox.drain() == 20
    finally:
        event.remove(engine, "commit", listener)

    # One read that finds the twenty, one unit of work for all of them, one read that
    # finds nothing more: not one commit per event.
    assert len(commits) == 3
    assert answered_rooms(services) == [(TG, str(100 + number)) for number in range(1, 21)]
    assert store.inbox.pending(TG) == []


async def test_an_event_that_fails_in_a_batch_is_set_aside_alone(services: Services) -> None:
    store = services.store
    store.inbox.record(TG, "1", 1, telegram_command(1, 11, "/help"))
    # An account id longer than any platform gives: the member cannot even be looked up.
    odd = Origin(MX, "!dm-odd", "@" + "x" * 300 + ":example.org", True, "Odd")
    store_matrix(services, "$odd", Command(odd, "help"))
    store_matrix(services, "$after", Command(matrix_direct("@bo:example.org"), "help"))
    store.inbox.record(TG, "2", 2, telegram_command(2, 22, "/help"))

    assert await services.inbox.drain() == 4

    # The others of its batch are answered in order; it gets the apology and is not
    # tried again.
    assert answered_rooms(services) == [
        (TG, "11"),
        (MX, "!dm-odd"),
        (MX, "!dm-@bo:example.org"),
        (TG, "22"),
    ]
    apology = [row for row in store.outbox.pending(MX) if row.room_id == "!dm-odd"]
    assert len(apology) == 1 and "went wrong" in str(apology[0].payload)
    assert store.inbox.pending(MX) == [] and store.inbox.pending(TG) == []
    assert await services.inbox.drain() == 0


@pytest.mark.backends(Backend.SQLITE)
async def test_a_database_away_for_many_passes_loses_no_event(
    services: Services, database_url: str
) -> None:
    """The database refusing every pass (here: a table it needs gone, which SQLite reports
    as an operational error, like a database that is away) is not the event's fault: it
    stays pending for as long as it takes, then is answered, not set aside."""
    store = services.store
    store.inbox.record(TG, "1", 1, telegram_command(1, 11, "/help"))
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE members RENAME TO members_away"))
    try:
        for _ in range(8):
            with pytest.raises(StorageUnavailable):
                await services.inbox.drain()
    finally:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE members_away RENAME TO members"))
        engine.dispose()

    assert await services.inbox.drain() == 1
    (answer,) = store.outbox.pending(TG)
    assert "went wrong" not in str(answer.payload)
    assert store.inbox.pending(TG) == []


def telegram_group_message(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    """A message in a group, as Telegram sends it."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": -100_777, "type": "supergroup", "title": "Busy"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Flo"},
            "text": text,
        },
    }


async def test_a_private_command_is_handled_before_a_flood_of_group_messages(
    services: Services,
) -> None:
    """As the Telegram transport stores them: 250 group messages, then a member's /help in
    a private chat; the /help goes in the first batch, the flood after it in its order."""
    store = services.store
    updates = [telegram_group_message(n, 900, f"flood {n}") for n in range(1, 251)]
    updates.append(telegram_command(251, 31, "/help"))
    store.inbox.record_many(
        TG, [(str(u["update_id"]), u["update_id"], u, from_private_chat(u)) for u in updates]
    )
    handled_order: list[str] = []
    dispatcher = services.dispatcher
    original = dispatcher.handle_batch

    async def noting(batch: Any) -> None:
        handled_order.extend(handover.inbound[1] for handover in batch)
        await original(batch)

    dispatcher.handle_batch = noting  # type: ignore[method-assign]
    assert await services.inbox.drain() == 251
    assert handled_order[0] == "251"
    assert handled_order[1:] == [str(n) for n in range(1, 251)]
    assert answered_rooms(services)[0] == (TG, "31")
