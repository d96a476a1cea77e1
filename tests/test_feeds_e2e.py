"""The import journey over python-telegram-bot and the Bot API emulator, with a real feed
server on 127.0.0.1 (SQLite only): the running bot polls the group's configured feed and its
coordinator gets the drafts made of the new items in a notice (kept until they can be told);
an ``.ics`` file sent with ``/importfile`` is read through Telegram and its events drafted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.types import Literal
from tests.harness.databases import Backend
from tests.harness.features import said
from tests.harness.feed_server import INDICO_ICS, feed_server, rss
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import (
    USER_IDS,
    TelegramBot,
    TelegramChat,
    make_token,
    telegram_config,
)
from tests.test_feeds_import import counted


@pytest.mark.backends(Backend.SQLITE)
@pytest.mark.e2e
async def test_on_telegram_a_feeds_new_items_reach_the_coordinator_and_an_ics_file_is_read(
    tmp_path: Path, database_url: str
) -> None:
    coord = USER_IDS["coord"]
    with feed_server() as server:
        url = server.url("/calls.rss")
        server.put("/calls.rss", rss(3))
        group = (
            '[[working_groups]]\nslug = "cawg"\nname = "Corporate Accountability"\n'
            f'coordinators = ["telegram:{coord}"]\nfeeds = ["{url}"]\n'
        )
        async with BotApiEmulator(make_token()) as emulator:
            config = telegram_config(tmp_path, database_url, emulator, extra=group)
            bot = TelegramBot(config)
            service = await bot.start()
            try:
                coordinator = TelegramChat(emulator, bot, "coord")
                await coordinator.send("/start")
                # Polled at start, its items reached nobody (the coordinator had never
                # written to the bot) and were kept: polled again now, they are offered.
                assert service.feeds is not None
                await service.feeds.poll_due(every_feed=True)
                offered = counted(
                    "imports.new_drafts",
                    3,
                    feed=Literal(url),
                    group=Literal("Corporate Accountability"),
                )
                await emulator.wait_for(
                    lambda: any(offered in m.shown for m in emulator.sent(coord)), timeout=15
                )

                assert said("imports.file_ask") in await coordinator.send("/importfile")
                await coordinator.send_document(INDICO_ICS, "forum.ics", "text/calendar")

                def press_done() -> dict[str, Any]:
                    asked = next(m for m in reversed(emulator.sent(coord)) if m.reply_markup)
                    data = next(
                        button["callback_data"]
                        for row in asked.reply_markup["inline_keyboard"]
                        for button in row
                        if button["text"] == said("conversation.done")
                    )
                    return emulator.press_button(coord, coord, asked.message_id, data)

                press_done()
                found = counted("imports.drafts_made", 3, source=Literal("forum.ics"))
                await emulator.wait_for(
                    lambda: any(found in m.shown for m in emulator.sent(coord)), timeout=20
                )
            finally:
                await bot.stop()
