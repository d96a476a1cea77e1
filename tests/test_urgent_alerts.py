"""An urgent report's alert that no coordinator could receive is kept, and delivered to the
first coordinator (or, when the group has none, network admin) who writes to the bot, with
how long it waited; until then admins see it waiting. On the console, over both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.app import group_specs
from bot.config import AppConfig, load_config
from bot.keys import sealer_for
from bot.types import CommandRef, Literal, Platform
from storage import Store
from tests.harness.case_intake import ReportAnswers, case_number, fill_report, text
from tests.harness.chat import ConsoleChat
from tests.harness.clock import Clock
from tests.harness.features import first_line, said

GROUP_NAME = "Corporate Accountability"
CONFIG = """
data_dir = "data"
admins = ["console:root"]

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en", "es"]
coordinators = ["console:coord", "console:second"]

[limits]
private_messages_per_minute = 10000
"""
NO_COORDINATOR = CONFIG.replace('coordinators = ["console:coord", "console:second"]\n', "")


class Bot:
    """The bot on the console with a clock the test moves; :meth:`restart` opens the
    database anew, as a new process would."""

    def __init__(self, config: AppConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.store = self._open()
        self.chats: list[ConsoleChat] = []

    def _open(self) -> Store:
        # What bot.app.open_store does, with the test's clock.
        config = self.config
        store = Store(config.database_url, clock=self.clock, sealer=sealer_for(config))
        store.upgrade()
        store.groups.sync_configured(
            group_specs(config),
            [(identity.platform, identity.user_id) for identity in config.admins],
            default_language=config.default_language,
        )
        return store

    def chat(self, user_id: str) -> ConsoleChat:
        opened = ConsoleChat(self.config, user_id, store=self.store)
        self.chats.append(opened)
        return opened

    async def close(self) -> None:
        for opened in self.chats:
            await opened.close()
        self.chats = []
        self.store.close()

    async def restart(self) -> None:
        await self.close()
        self.store = self._open()


BotFactory = Callable[[str], Bot]


@pytest.fixture
async def start_bot(tmp_path: Path, database_url: str) -> AsyncIterator[BotFactory]:
    started: list[Bot] = []

    def start(text: str) -> Bot:
        path = tmp_path / "config.toml"
        path.write_text(text, encoding="utf-8")
        bot = Bot(load_config(path, env={"CAUCUS_DATABASE_URL": database_url}), Clock())
        started.append(bot)
        return bot

    yield start
    for bot in started:
        await bot.close()


async def file_urgent_report(bot: Bot) -> int:
    reporter = bot.chat("local")
    await fill_report(reporter, "en", ReportAnswers(marker="Urg", urgent=True))
    submitted = await reporter.pick(text("conversation.submit"))
    assert first_line("cases.urgent_unreached") in submitted
    return case_number(submitted)


def alert(number: int, waited: str, key: str = "cases.urgent_alert_waited") -> str:
    return said(
        key,
        number=number,
        group=Literal(GROUP_NAME),
        waited=Literal(waited),
        case=CommandRef("case"),
    )


async def test_an_urgent_alert_nobody_could_receive_waits_across_a_restart_for_the_first_coordinator_who_writes(  # noqa: E501
    start_bot: BotFactory,
) -> None:
    bot = start_bot(CONFIG)
    number = await file_urgent_report(bot)
    # Its author and a network admin are not the group's coordinators: it waits for one.
    assert "URGENT" not in await bot.chat("local").send("/help")
    assert "URGENT" not in await bot.chat("root").send("/help")

    await bot.restart()
    bot.clock.advance(hours=3)
    answer = await bot.chat("coord").send("/help")
    expected = alert(number, "3 hours")
    assert expected in answer
    assert answer.index(expected) < answer.index(first_line("help.header"))

    # Delivered once, to one person: neither again to them nor to another coordinator.
    assert "URGENT" not in await bot.chat("coord").send("/help")
    assert "URGENT" not in await bot.chat("second").send("/help")


async def test_the_waiting_alert_is_said_in_the_coordinators_language(
    start_bot: BotFactory,
) -> None:
    bot = start_bot(CONFIG)
    coordinator = bot.chat("coord")
    await coordinator.send("/language es")
    number = await file_urgent_report(bot)
    bot.clock.advance(minutes=40)
    answer = await coordinator.send("/help")
    expected = said(
        "cases.urgent_alert_waited",
        "es",
        number=number,
        group=Literal(GROUP_NAME),
        waited=Literal("40 minutos"),
        case=CommandRef("case"),
    )
    assert expected in answer


async def test_a_network_admin_gets_the_waiting_alert_when_the_group_has_no_coordinator(
    start_bot: BotFactory,
) -> None:
    bot = start_bot(NO_COORDINATOR)
    number = await file_urgent_report(bot)
    bot.clock.advance(days=2)
    answer = await bot.chat("root").send("/whoami")
    assert alert(number, "2 days", "cases.urgent_alert_waited_admin") in answer
    assert "URGENT" not in await bot.chat("root").send("/whoami")


async def test_outbox_and_the_start_up_line_say_an_urgent_alert_waits_until_it_is_delivered(
    start_bot: BotFactory,
) -> None:
    bot = start_bot(CONFIG)
    number = await file_urgent_report(bot)
    bot.clock.advance(hours=5)
    waiting = said("outbox.urgent_waiting", count=1, cases=Literal(str(number)), waited="5 hours")
    assert waiting in await bot.chat("root").send("/outbox")

    from bot.app import warn_urgent_waiting  # what every start logs

    lines: list[str] = []
    warn_urgent_waiting(bot.store, lines.append)
    assert len(lines) == 1
    assert f"1 urgent alert(s) waiting since 2025-03-01 12:00 UTC (cases {number})" in lines[0]

    await bot.chat("coord").send("/help")
    assert first_line("outbox.urgent_waiting") not in await bot.chat("root").send("/outbox")
    lines.clear()
    warn_urgent_waiting(bot.store, lines.append)
    assert lines == []


async def test_a_withdrawn_reports_waiting_alert_is_dropped(start_bot: BotFactory) -> None:
    bot = start_bot(CONFIG)
    number = await file_urgent_report(bot)
    root = bot.chat("root")
    assert first_line("outbox.urgent_waiting") in await root.send("/outbox")
    reporter = bot.chat("local")
    await reporter.send(f"/withdraw {number}")
    assert said("cases.withdrawn", number=number) in await reporter.pick(text("cases.withdraw_yes"))
    assert "URGENT" not in await bot.chat("coord").send("/help")
    assert first_line("outbox.urgent_waiting") not in await root.send("/outbox")


@pytest.mark.e2e  # Telegram through the Bot API emulator
async def test_on_telegram_the_waiting_alert_reaches_the_coordinator_before_the_answer(
    tmp_path: Path, database_url: str
) -> None:
    from tests.harness.telegram_emulator import BotApiEmulator
    from tests.harness.telegram_harness import (
        USER_IDS,
        TelegramBot,
        TelegramChat,
        make_token,
        telegram_config,
    )

    extra = CONFIG.replace(
        'coordinators = ["console:coord", "console:second"]',
        f'coordinators = ["telegram:{USER_IDS["coord"]}"]',
    ).replace('admins = ["console:root"]', f'admins = ["telegram:{USER_IDS["root"]}"]')
    async with BotApiEmulator(make_token()) as emulator:
        bot = TelegramBot(telegram_config(tmp_path, database_url, emulator, extra=extra))
        await bot.start()
        try:
            author = TelegramChat(emulator, bot, "ana")
            await fill_report(author, "en", ReportAnswers(marker="Tg", urgent=True))
            submitted = await author.pick(text("conversation.submit"))
            assert first_line("cases.urgent_unreached") in submitted
            number = case_number(submitted)
            # A network admin is not given it while the group has a coordinator on Telegram.
            assert "URGENT" not in await TelegramChat(emulator, bot, "root").send("/start")

            coordinator = TelegramChat(emulator, bot, "coord")
            answer = await coordinator.send("/start")
            waited = first_line("cases.urgent_alert_waited")
            assert waited in answer
            assert f"case {number} for {GROUP_NAME}" in answer
            assert answer.index(waited) < answer.index(first_line("start.welcome"))
            assert "URGENT" not in await coordinator.send("/start")
        finally:
            await bot.stop()


async def test_of_two_coordinators_writing_at_once_only_one_is_given_the_alert(
    start_bot: BotFactory, database_url: str
) -> None:
    from tests.harness.races import at_once

    bot = start_bot(CONFIG)
    number = await file_urgent_report(bot)
    members = [
        bot.store.members.for_identity(Platform.CONSOLE, f"c{n}", language="en").id
        for n in range(6)
    ]
    claimed = at_once(database_url, lambda store: store.urgent_alerts.claim(number, members.pop()))
    assert sorted(claimed) == [False] * 5 + [True]
    assert bot.store.urgent_alerts.waiting() == []
