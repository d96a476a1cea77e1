"""The admin read commands (/links, /outbox, /whoami, /groups): answered in private chats
only, and showing a working group's admin their own groups only (a network admin sees
all). On the console and through the router, over both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.app import build_router
from bot.config import AppConfig, load_config
from bot.types import Command, CommandRef, Message, Origin, Platform
from tests.harness.chat import ConsoleChat, console_chats
from tests.harness.features import first_line, said

CAWG_ROOM = "-1001"
LAND_ROOM = "!land:example.org"

CONFIG = f"""
data_dir = "data"
admins = ["console:root"]

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en"]
telegram_chats = [{CAWG_ROOM}]
admins = ["console:gadmin", "telegram:77"]
coordinators = ["console:coord"]

[[working_groups]]
slug = "landrights"
name = "Land Rights"
languages = ["en"]
matrix_rooms = ["{LAND_ROOM}"]
admins = ["console:oadmin"]
"""

READ_COMMANDS = ("links", "outbox", "whoami", "groups")


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> AppConfig:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return load_config(path, env={"CAUCUS_DATABASE_URL": database_url})


Chats = Callable[[str], ConsoleChat]


@pytest.fixture
async def chats(config: AppConfig) -> AsyncIterator[Chats]:
    async with console_chats(config) as chat:
        yield chat


@pytest.mark.parametrize("user", ["77", "12"])
async def test_in_a_group_room_the_read_commands_only_say_to_ask_in_private(
    config: AppConfig, chats: Chats, user: str
) -> None:
    """Asked in the working group's own room, by its admin or by a member."""
    store = chats("root").store
    router = build_router(config, store)
    in_room = Origin(Platform.TELEGRAM, CAWG_ROOM, user, is_direct=False)
    for name in READ_COMMANDS:
        with store.transaction():
            answers = router.handle(Command(in_room, name))
        hint = said("router.direct_only", command=CommandRef(name)).replace("/", "")
        assert [answer.text.replace("/", "") for answer in answers] == [hint], name
        assert all(answer.room_id == CAWG_ROOM for answer in answers)


async def test_a_group_admin_sees_only_their_own_groups_and_a_network_admin_all(
    chats: Chats,
) -> None:
    own, everything = chats("gadmin"), chats("root")
    links = await own.send("/links")
    assert CAWG_ROOM in links and LAND_ROOM not in links
    assert "Land Rights" not in links
    refused = await own.send("/links landrights")
    assert said("links.not_admin_of", group="Land Rights") in refused
    assert LAND_ROOM not in refused
    all_links = await everything.send("/links")
    assert CAWG_ROOM in all_links and LAND_ROOM in all_links

    # Every member sees the groups they may join; the counts are only of one's own groups.
    for reader in ("gadmin", "coord"):
        groups = await chats(reader).send("/groups")
        assert "Corporate Accountability (cawg), languages" in groups, reader
        assert "Land Rights (landrights), languages" not in groups, reader
    all_groups = await everything.send("/groups")
    assert "Corporate Accountability (cawg), languages" in all_groups
    assert "Land Rights (landrights), languages" in all_groups


def outbox_line(platform: Platform, pending: int) -> str:
    return said(
        "outbox.line",
        platform=Message.of(f"platform.{platform.value}"),
        pending=Message.counted("outbox.count_pending", pending),
        failed=Message.counted("outbox.count_failed", 0),
        delivered=Message.counted("outbox.count_delivered", 0),
    )


async def test_a_group_admin_counts_only_the_messages_to_their_groups_rooms(
    chats: Chats,
) -> None:
    store = chats("root").store
    payload = {"kind": "test"}
    store.outbox.enqueue([(Platform.TELEGRAM, CAWG_ROOM, payload)] * 2)
    store.outbox.enqueue([(Platform.MATRIX, LAND_ROOM, payload)] * 3)
    store.outbox.enqueue([(Platform.TELEGRAM, "4242", payload)])  # a member's private chat
    own = await chats("gadmin").send("/outbox")
    assert first_line("outbox.own_groups_only") in own and "Land Rights" not in own
    assert outbox_line(Platform.TELEGRAM, 2) in own
    assert outbox_line(Platform.MATRIX, 0) in own
    other = await chats("oadmin").send("/outbox")
    assert outbox_line(Platform.TELEGRAM, 0) in other
    assert outbox_line(Platform.MATRIX, 3) in other
    everything = await chats("root").send("/outbox")
    assert first_line("outbox.own_groups_only") not in everything
    assert outbox_line(Platform.TELEGRAM, 3) in everything
    assert outbox_line(Platform.MATRIX, 3) in everything
