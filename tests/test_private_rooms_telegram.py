"""``/link GROUP telegram CHAT`` over python-telegram-bot and the Bot API emulator: the
bot asks Telegram (getChat, getChatMember) whether it is in that group and may speak."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.i18n import Catalogs
from bot.types import Platform
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import (
    USER_IDS,
    TelegramBot,
    make_token,
    telegram_config,
)

pytestmark = pytest.mark.e2e
CATALOGS = Catalogs.load()
ROOT = USER_IDS["root"]
CONFIG = f"""
data_dir = "data"
admins = ["telegram:{ROOT}"]

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en"]
"""


def said(key: str) -> str:
    return max(re.split(r"\{[^}]*\}", CATALOGS.template("en", key)), key=len).strip()


async def answer(emulator: BotApiEmulator, typed: str) -> str:
    """The bot's answer in the admin's private chat. (Waiting reads no database: /link
    holds the unit of work while it asks Telegram, and SQLite's reads wait for it.)"""
    before = len(emulator.sent(ROOT))
    emulator.send_text(ROOT, typed)
    await emulator.wait_for(lambda: len(emulator.sent(ROOT)) > before, timeout=20)
    return str(emulator.sent(ROOT)[-1].shown)


@pytest.fixture
async def running(
    tmp_path: Path, sqlite_url: str
) -> AsyncIterator[tuple[BotApiEmulator, TelegramBot]]:
    async with BotApiEmulator(make_token()) as emulator:
        bot = TelegramBot(telegram_config(tmp_path, sqlite_url, emulator, extra=CONFIG))
        await bot.start()
        emulator.add_user(ROOT, "Root")
        try:
            yield emulator, bot
        finally:
            await bot.stop()


async def test_only_a_group_the_bot_is_in_and_may_speak_in_is_linked(
    running: tuple[BotApiEmulator, TelegramBot],
) -> None:
    emulator, bot = running
    emulator.add_group(-1001, "Speaking")
    emulator.add_group(-1002, "Muted")
    emulator.restrict_bot(-1002, can_send_messages=False)
    emulator.add_group(-1003, "Left")
    emulator.remove_bot_from_group(ROOT, -1003)
    emulator.add_user(USER_IDS["ana"], "Ana")
    assert said("links.bot_cannot_send") in await answer(emulator, "/link cawg telegram -1002")
    assert said("links.bot_not_member") in await answer(emulator, "/link cawg telegram -1003")
    assert said("links.bot_not_member") in await answer(emulator, "/link cawg telegram -1009")
    assert said("links.not_a_group") in await answer(
        emulator, f"/link cawg telegram {USER_IDS['ana']}"
    )
    groups = bot.store.groups
    for refused in ("-1002", "-1003", "-1009", str(USER_IDS["ana"])):
        assert groups.for_room(Platform.TELEGRAM, refused) is None
    assert "-1001" in await answer(emulator, "/link cawg telegram -1001")
    assert groups.for_room(Platform.TELEGRAM, "-1001") is not None
    assert emulator.methods_called("getChatMember")
