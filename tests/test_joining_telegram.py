"""Joining on Telegram, over real python-telegram-bot and the Bot API emulator: the deep link
``t.me/<bot>?start=join-<slug>`` opens a request, a coordinator approves it with the notice's
button, and the welcome carries an invite link the bot made with createChatInviteLink (one
person, one day) for the group chat where it has the right, and none where it has not."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.types import Literal
from tests.harness.features import first_line, said
from tests.harness.telegram_emulator import BotApiEmulator, SentMessage
from tests.harness.telegram_harness import (
    TelegramBot,
    TelegramChat,
    make_token,
    telegram_config,
)

MAY_INVITE = -100500
MAY_NOT = -100600
pytestmark = pytest.mark.e2e  # through the Bot API emulator

GROUPS = f"""
data_dir = "data"

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en"]
telegram_chats = [{MAY_INVITE}, {MAY_NOT}]
coordinators = ["telegram:1002"]
"""


@pytest.fixture
async def running(
    tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[BotApiEmulator, TelegramBot]]:
    async with BotApiEmulator(make_token()) as emulator:
        emulator.add_group(MAY_INVITE, "CAWG", bot_can_invite_users=True)
        emulator.add_group(MAY_NOT, "CAWG regional")
        bot = TelegramBot(telegram_config(tmp_path, database_url, emulator, extra=GROUPS))
        await bot.start()
        try:
            yield emulator, bot
        finally:
            await bot.stop()


def approve_button(messages: list[SentMessage]) -> tuple[int, str]:
    for message in messages:
        for row in (message.reply_markup or {}).get("inline_keyboard", []):
            for button in row:
                if button["text"] == "Approve":
                    return message.message_id, button["callback_data"]
    raise AssertionError("no Approve button in the coordinator's chat")


async def test_a_request_from_the_deep_link_approved_on_telegram_brings_an_invite_link(
    running: tuple[BotApiEmulator, TelegramBot],
) -> None:
    emulator, bot = running
    coordinator = TelegramChat(emulator, bot, "coord")
    member = TelegramChat(emulator, bot, "local")
    shared = await coordinator.send("/joinlink cawg")
    link = f"https://t.me/{emulator.username}?start=join-cawg"
    assert said("join.link", group=Literal("Corporate Accountability"), link=Literal(link)) in (
        shared
    )

    asked = await member.send("/start join-cawg")  # what opening the link sends
    assert first_line("join.requested") in asked
    message_id, data = approve_button(emulator.sent(1002))

    before = len(emulator.sent(1001))
    emulator.press_button(1002, 1002, message_id, data)

    # Waited for on the emulator alone: while the handler asks Telegram for the link, the
    # store's write gate is the dispatcher's, and a wait on the store here would block the
    # event loop the link is asked on.
    def welcomed() -> str | None:
        texts = "\n".join(message.plain_text for message in emulator.sent(1001)[before:])
        return texts if first_line("join.welcome") in texts else None

    await emulator.wait_for(lambda: welcomed() is not None, timeout=20.0)
    welcome = welcomed() or ""

    (made,) = emulator.invite_links(MAY_INVITE)
    assert made["member_limit"] == 1
    assert abs(made["expire_date"] - (time.time() + 24 * 3600)) < 120
    assert made["invite_link"] in welcome
    assert emulator.invite_links(MAY_NOT) == []  # no right there: no link, and no error
    assert len(emulator.methods_called("createChatInviteLink")) == 2
    assert first_line("join.ask_for_rooms") not in welcome
