"""The outbox worker on the Bot API emulator, over both databases: fairness, priority of the
bot's answers, and retry timers that a wall-clock jump does not upset (issue 12)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import AppConfig
from bot.outgoing import BotMessage
from bot.outgoing_json import to_json
from bot.ratelimit import telegram_limiter
from bot.types import Platform
from storage import Store
from tests.harness.clock import Clock
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import TelegramBot, make_token, telegram_config

TG = Platform.TELEGRAM
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
MEMBER = 2001
GROUPS = [-100_500 - n for n in range(90)]


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(make_token()) as running:
        running.add_user(MEMBER, "Member")
        yield running


@pytest.fixture
def config(tmp_path: Path, database_url: str, emulator: BotApiEmulator) -> AppConfig:
    return telegram_config(tmp_path, database_url, emulator)


async def delivered(emulator: BotApiEmulator, store: Store, within: float) -> None:
    await emulator.wait_for(lambda: not store.outbox.pending(TG), timeout=within)


def wake(bot: TelegramBot) -> None:
    assert bot.service is not None
    bot.service.outboxes[TG].wake()


async def test_a_retry_time_left_far_ahead_by_a_clock_set_back_does_not_stall_the_room(
    emulator: BotApiEmulator, config: AppConfig
) -> None:
    """A try failed once and was put off by a second; the clock has since been set back a
    day, so the stored time is a day ahead: the message goes out after at most its back-off."""
    bot = TelegramBot(config)
    await bot.start()
    try:
        [queued] = bot.store.outbox.enqueue([(TG, str(MEMBER), to_json(BotMessage("hello")))])
        ahead = datetime.now(UTC) + timedelta(days=1)
        bot.store.outbox.record_failed_attempt(queued, "timed out", ahead)
        wake(bot)
        await delivered(emulator, bot.store, within=15)
    finally:
        await bot.stop()
    assert [message.plain_text for message in emulator.sent(MEMBER)] == ["hello"]


async def test_a_clock_set_forward_gives_up_nothing_that_is_being_retried(
    emulator: BotApiEmulator, config: AppConfig, database_url: str
) -> None:
    """The message was stored, then the clock was set four days forward (past the three
    days after which an outage's messages are given up); one try fails: it is retried."""
    before_the_jump = Clock(datetime.now(UTC) - timedelta(days=4))
    with Store(database_url, clock=before_the_jump) as earlier:
        earlier.outbox.enqueue([(TG, str(MEMBER), to_json(BotMessage("still wanted")))])
    emulator.inject_fault("500", methods={"sendMessage"}, times=1)
    bot = TelegramBot(config)
    await bot.start()
    try:
        await delivered(emulator, bot.store, within=15)
        status = bot.store.outbox.status(TG, since=LONG_AGO)
    finally:
        await bot.stop()
    assert (status.delivered, status.failed) == (1, 0)
    assert [message.plain_text for message in emulator.sent(MEMBER)] == ["still wanted"]


async def test_an_answer_goes_before_relayed_copies_waiting_for_the_global_rate(
    emulator: BotApiEmulator, config: AppConfig
) -> None:
    """90 relayed copies to 90 groups wait on Telegram's 30 messages a second; an answer to a
    member queued after them takes the next free slot, not the 91st."""
    for chat in GROUPS:
        emulator.add_group(chat, f"Group {chat}")
    bot = TelegramBot(config, limiter=telegram_limiter)
    await bot.start()
    try:
        copies = [(TG, str(chat), to_json(BotMessage(f"copy to {chat}")), 0) for chat in GROUPS]
        bot.store.bridge.enqueue_copies(None, copies)
        wake(bot)
        await emulator.wait_for(lambda: len(emulator.all_sent) >= 5, timeout=15)
        bot.store.outbox.enqueue([(TG, str(MEMBER), to_json(BotMessage("your answer")))])
        wake(bot)
        await delivered(emulator, bot.store, within=30)
    finally:
        await bot.stop()
    order = sorted(emulator.all_sent, key=lambda message: message.accepted_at)
    position = [message.chat_id for message in order].index(MEMBER)
    # Copies booked before the answer was queued (at most a second's worth) may go first.
    assert position <= 40, position


async def test_a_room_with_thousands_waiting_does_not_hold_up_another_room(
    emulator: BotApiEmulator, config: AppConfig
) -> None:
    """3,000 copies wait for one group (20 a minute); an answer to a member arrives at once,
    and each pass of the outbox reads no more than the rooms owed messages."""
    emulator.add_group(GROUPS[0], "Busy group")
    bot = TelegramBot(config, limiter=telegram_limiter)
    await bot.start()
    try:
        backlog = [(TG, str(GROUPS[0]), to_json(BotMessage(f"copy {n}")), 0) for n in range(3000)]
        bot.store.bridge.enqueue_copies(None, backlog)
        wake(bot)
        await emulator.wait_for(lambda: len(emulator.sent(GROUPS[0])) >= 1, timeout=15)
        loop_start = emulator.clock()
        bot.store.outbox.enqueue([(TG, str(MEMBER), to_json(BotMessage("your answer")))])
        wake(bot)
        await emulator.wait_for(lambda: len(emulator.sent(MEMBER)) == 1, timeout=15)
        waited = emulator.sent(MEMBER)[0].accepted_at - loop_start
    finally:
        await bot.stop()
    assert waited < 2.0, waited
