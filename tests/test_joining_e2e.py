"""The joining journey over real servers, on one database (the rules are tested over both in
tests/test_joining.py): a member asks on Matrix to join a working group, its coordinator
approves on Telegram with the notice's button, and the member is welcomed on Matrix and
invited by the bot into the group's Matrix room."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nio import RoomCreateResponse, RoomPreset

from bot.types import Platform
from tests.harness.attentive_member import AttentiveMember
from tests.harness.bridge_harness import BridgeBot, register_bot, write_bridge_config
from tests.harness.features import first_line, said
from tests.harness.matrix_harness import MatrixMember, matrix_section
from tests.harness.synapse_server import SynapseServer
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import make_token, telegram_section

COORDINATOR = 1002


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(make_token()) as running:
        yield running


def approve_button(emulator: BotApiEmulator) -> tuple[int, str] | None:
    for message in emulator.sent(COORDINATOR):
        for row in (message.reply_markup or {}).get("inline_keyboard", []):
            for button in row:
                if button["text"] == "Approve":
                    return message.message_id, button["callback_data"]
    return None


async def test_a_request_made_on_matrix_approved_on_telegram_welcomes_and_invites_the_member(
    tmp_path: Path, sqlite_url: str, synapse: SynapseServer, emulator: BotApiEmulator
) -> None:
    bot_user = await register_bot(synapse)
    organizer = await MatrixMember.create(synapse, "Bo")
    ana = await AttentiveMember.create(synapse, "Ana")
    ana.inviter = bot_user.user_id
    # The group's room, where the bot holds the power to invite (as its creator's equal).
    created = await organizer.client.room_create(
        name="CAWG", preset=RoomPreset.trusted_private_chat, invite=[bot_user.user_id]
    )
    assert isinstance(created, RoomCreateResponse)
    group_room = str(created.room_id)
    config_text = (
        'data_dir = "data"\n\n'
        "[[working_groups]]\n"
        'slug = "cawg"\n'
        'name = "Corporate Accountability"\n'
        'languages = ["en"]\n'
        f'matrix_rooms = ["{group_room}"]\n'
        f'coordinators = ["telegram:{COORDINATOR}"]\n\n'
        + telegram_section(emulator, "polling")
        + "\n"
        + matrix_section(synapse, bot_user)
    )
    config, _ = write_bridge_config(tmp_path, sqlite_url, config_text, emulator, bot_user)
    bot = BridgeBot(config)
    await bot.start()
    try:
        await organizer.wait_until(
            lambda: organizer.has_joined(group_room, bot_user.user_id), what="the bot's join"
        )
        emulator.add_user(COORDINATOR, "Coord")
        emulator.send_text(COORDINATOR, "/start")  # the coordinator has written to the bot
        await emulator.wait_for(lambda: bool(emulator.sent(COORDINATOR)), timeout=20.0)

        direct = await ana.open_direct_room(bot_user.user_id, encrypted=False)
        await ana.send_text(direct, "!join cawg")
        await ana.wait_until(
            lambda: any(first_line("join.requested") in body for body in ana.bot_bodies()),
            what="the answer to !join",
        )
        await emulator.wait_for(lambda: approve_button(emulator) is not None, timeout=20.0)
        found = approve_button(emulator)
        assert found is not None
        emulator.press_button(COORDINATOR, COORDINATOR, *found)

        # Her client joins what the bot invites her to: the notices' room and the group's.
        await ana.wait_until(
            lambda: ana.has_joined(group_room, ana.user_id), what="the group room's invitation"
        )
        welcome = await ana.wait_until(
            lambda: next(
                (body for body in ana.bot_bodies() if first_line("join.welcome") in body), None
            ),
            what="the welcome",
        )
        assert said("join.matrix_invited", room=group_room) in welcome
        await emulator.wait_for(
            lambda: any(
                first_line("join.you_approved") in message.plain_text
                for message in emulator.sent(COORDINATOR)
            ),
            timeout=20.0,
        )
        member = bot.store.members.for_identity(Platform.MATRIX, ana.user_id, language="en")
        group = bot.store.groups.by_slug("cawg")
        assert group is not None
        assert group.id in bot.store.groups.roles_of(member.id).by_group
    finally:
        await bot.stop()
        await ana.close()
        await organizer.close()
