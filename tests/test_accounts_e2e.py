"""One person's Telegram and Matrix accounts connected, end to end: the real
python-telegram-bot against the Bot API emulator and a real Synapse, both served by one bot
on SQLite. Five wrong codes are refused (the sixth, the right one, too); a code asked for
on Matrix connects the accounts from Telegram; a report filed on Telegram is listed on
Matrix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.types import CommandRef, Literal, Message, ParamValue, Platform
from storage import Store
from tests.harness.bridge_harness import BridgeBot, register_bot, write_bridge_config
from tests.harness.case_intake import CATALOGS, ReportAnswers, case_number, fill_report, text
from tests.harness.databases import Backend
from tests.harness.matrix_harness import MatrixChat, matrix_section
from tests.harness.synapse_server import SynapseServer
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import TelegramChat, make_token, telegram_section

CODE = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b")
CONFIG = """
data_dir = "data"

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en"]

[limits]
private_messages_per_minute = 10000
"""


class BothPlatforms:
    """What the members' drivers need of the bot serving both platforms."""

    def __init__(self, bot: BridgeBot) -> None:
        self._bot = bot

    @property
    def store(self) -> Store:
        return self._bot.store

    @property
    def user_id(self) -> str:
        assert self._bot.config.matrix is not None
        return self._bot.config.matrix.user_id


def spoken(where: Platform, key: str, count: int | None = None, **params: ParamValue) -> str:
    renderer = CATALOGS.renderer("en", where)
    if count is not None:
        return renderer.label(Message.counted(key, count, **params))
    return renderer.label(Message.of(key, **params))


def code_in(answer: str) -> str:
    found = CODE.search(answer)
    assert found is not None, answer
    return found.group(0)


@pytest.mark.backends(Backend.SQLITE)
async def test_a_person_connects_telegram_and_matrix_and_lists_a_telegram_report_on_matrix(
    tmp_path: Path, database_url: str, synapse: SynapseServer
) -> None:
    async with BotApiEmulator(make_token()) as emulator:
        bot_user = await register_bot(synapse)
        config_text = (
            CONFIG
            + telegram_section(emulator, "polling")
            + "\n"
            + matrix_section(synapse, bot_user)
        )
        config, _ = write_bridge_config(tmp_path, database_url, config_text, emulator, bot_user)
        bot = BridgeBot(config)
        await bot.start()
        both = BothPlatforms(bot)
        matrix = await MatrixChat.open(synapse, both, "Ana")  # type: ignore[arg-type]
        try:
            telegram = TelegramChat(emulator, both, "ana")  # type: ignore[arg-type]
            first = code_in(await telegram.send("/connect"))

            # Five wrong codes from Matrix; then even the right one is refused.
            connect = CommandRef("connect")
            for left in (4, 3, 2, 1):
                wrong = await matrix.send("!connect ZZZZ-ZZZZ")
                assert spoken(Platform.MATRIX, "accounts.code_wrong", left) in wrong
            last = await matrix.send("!connect zzzz zzzy")
            assert spoken(Platform.MATRIX, "accounts.code_wrong_last") in last
            refused = await matrix.send(f"!connect {first}")
            assert spoken(Platform.MATRIX, "accounts.locked", connect=connect) in refused
            store = bot.store
            on_telegram = store.members.for_identity(Platform.TELEGRAM, "1004", language="en")
            on_matrix = store.members.for_identity(
                Platform.MATRIX, matrix.member.user_id, language="en"
            )
            assert on_telegram.id != on_matrix.id

            # A code asked for on Matrix, typed on Telegram: one member (the older one).
            second = code_in(await matrix.send("!connect"))
            summary = await telegram.send(f"/connect {second.lower()}")
            connected = spoken(Platform.TELEGRAM, "accounts.connected", number=on_telegram.id)
            assert connected in summary
            assert matrix.member.user_id in summary
            assert store.members.get(on_matrix.id) is None
            # The Matrix account is told, in the bot's own room with it, how to undo it.
            notices = await matrix.member.accept_invite(both.user_id)
            told = spoken(
                Platform.MATRIX,
                "accounts.connected_notice",
                platform=Message.of("platform.telegram"),
                disconnect=CommandRef("disconnect"),
                slug=Literal("telegram"),
            )
            await matrix.member.wait_until(
                lambda: any(
                    told in str(event.get("body")) for event in matrix.member.timeline(notices)
                ),
                what="the notice that the accounts were connected",
            )

            answers = ReportAnswers(marker="Cnx")
            await fill_report(telegram, "en", answers)
            number = case_number(await telegram.pick(text("conversation.submit")))
            mine = await matrix.send("!myreports")
            assert spoken(Platform.MATRIX, "cases.mine_header", 1) in mine
            assert f"{number}" in mine and answers.title in mine
        finally:
            await matrix.close()
            await bot.stop()
