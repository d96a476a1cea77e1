"""What one member may ask of the bot: a private chat's rate, evidence bytes, the files
queued for a chat, and what a withdrawn report leaves in the outbox (nothing).

The real services are built (store, router, dispatcher, inbox, both transports' planning)
on both databases, not started: events are put in the inbox as the transports store them,
so no server is needed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.app import Services
from bot.config import load_config
from bot.incoming_json import to_json
from bot.types import Command, Incoming, Origin, Platform, TextMessage
from tests.harness.features import said

TG = Platform.TELEGRAM
MX = Platform.MATRIX
GROUP_ROOM = "!group:example.org"
GROUP_CHAT = "-1001"

CONFIG = f"""
[telegram]
mode = "polling"
api_base_url = "http://127.0.0.1:1"

[matrix]
homeserver = "http://127.0.0.1:1"
user_id = "@caucus:example.org"
device_id = "CAUCUS"

[[working_groups]]
slug = "cawg"
name = "CAWG"
telegram_chats = [{GROUP_CHAT}]
matrix_rooms = ["{GROUP_ROOM}"]
coordinators = ["matrix:@coord:example.org"]
"""

ServicesFactory = Callable[..., Services]


@pytest.fixture
async def open_services(tmp_path: Path, database_url: str) -> AsyncIterator[ServicesFactory]:
    opened: list[Services] = []

    def open_one(limits: str = "") -> Services:
        path = tmp_path / "config.toml"
        text = f'data_dir = "{tmp_path / "data"}"\n' + CONFIG + limits
        path.write_text(text, encoding="utf-8")
        config = load_config(
            path,
            env={
                "CAUCUS_DATABASE_URL": database_url,
                "CAUCUS_TELEGRAM_TOKEN": "123456:test-token",
                "CAUCUS_MATRIX_ACCESS_TOKEN": "unused",
                "CAUCUS_MATRIX_PICKLE_KEY": "a pickle key long enough to be one",
            },
        )
        services = Services(config, warn=lambda line: None)
        opened.append(services)
        return services

    try:
        yield open_one
    finally:
        for services in opened:
            await services.stop()


def direct(user_id: str) -> Origin:
    return Origin(MX, f"!dm-{user_id}", user_id, True, "Bo")


def in_group(user_id: str) -> Origin:
    return Origin(MX, GROUP_ROOM, user_id, False, "Bo")


def stored(services: Services, key: str, event: Incoming) -> None:
    """What the Matrix transport stores for a translated event of its sync."""
    assert services.store.inbox.record(MX, key, None, to_json(event))


def texts_to(services: Services, platform: Platform, room_id: str) -> list[str]:
    return [
        str(record.payload.get("text", ""))
        for record in services.store.outbox.pending(platform)
        if record.room_id == room_id
    ]


# -- a private chat's rate ------------------------------------------------------------------


async def test_a_member_over_the_rate_is_told_once_and_the_rest_is_dropped_not_queued(
    open_services: ServicesFactory,
) -> None:
    services = open_services()
    ana, bo = direct("@ana:example.org"), direct("@bo:example.org")
    for number in range(30):
        stored(services, f"$ana-{number}", Command(ana, "help"))
    stored(services, "$bo", Command(bo, "help"))

    assert await services.inbox.drain() == 31

    answers = texts_to(services, MX, ana.room_id)
    slow_down = said("router.slow_down")
    assert len(answers) == 21  # twenty answers to /help, then one "slow down"
    assert answers[-1] == slow_down
    assert answers.count(slow_down) == 1
    assert texts_to(services, MX, bo.room_id) != []  # another member is not held back
    assert services.store.inbox.pending(MX) == []  # every dropped message is handled

    # Handled means handled: after a restart nothing dropped is run again.
    await services.stop()
    again = open_services()
    assert await again.inbox.drain() == 0
    assert len(texts_to(again, MX, ana.room_id)) == 21


async def test_group_messages_are_never_dropped_however_many(
    open_services: ServicesFactory,
) -> None:
    services = open_services()
    ana = in_group("@ana:example.org")
    for number in range(40):
        stored(services, f"$g-{number}", TextMessage(ana, f"line {number}"))

    assert await services.inbox.drain() == 40

    relayed = services.store.outbox.pending(TG)
    assert len([record for record in relayed if record.room_id == GROUP_CHAT]) == 40


async def test_the_rate_is_configurable(open_services: ServicesFactory) -> None:
    services = open_services("\n[limits]\nprivate_messages_per_minute = 3\n")
    ana = direct("@ana:example.org")
    for number in range(6):
        stored(services, f"$ana-{number}", TextMessage(ana, f"hello {number}"))

    assert await services.inbox.drain() == 6

    answers = texts_to(services, MX, ana.room_id)
    assert len(answers) == 4 and answers[-1] == said("router.slow_down")
