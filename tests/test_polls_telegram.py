"""Polls on Telegram, once: a question as a native poll, live results edited in place, a
poll closed, and the answers coming back, through the real transport, outbox and store
against the Bot API emulator. What the bot decides about them is tested on the console."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

import bot.app
from bot.context import Context
from bot.queueing import queue_replies
from bot.registry import Registry
from bot.transports.telegram.events import ALLOWED_UPDATES, translate_update
from bot.transports.telegram.render import POLL_CLOSE_LATEST, close_date, parts
from bot.types import Outgoing, Platform, RenderedPoll, Reply, VoteCast
from tests.harness.telegram_emulator import BotApiEmulator, SentMessage
from tests.harness.telegram_harness import (
    USER_IDS,
    TelegramBot,
    TelegramGroup,
    make_token,
    telegram_config,
)

pytestmark = pytest.mark.backends("sqlite")

GROUP_ID = -1009876
CHANNEL_ID = -1005555
VOTER = USER_IDS["ana"]
OPTIONS = ("Geneva", "Online", "Both")


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(make_token()) as running:
        running.add_group(GROUP_ID, "Working group")
        running.add_user(VOTER, "Ana")
        yield running


@pytest.fixture
async def votes(
    tmp_path: Path,
    database_url: str,
    emulator: BotApiEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[TelegramBot, list[VoteCast]]]:
    """The bot, with one capability of the test's own that keeps every answer it is given."""
    answers: list[VoteCast] = []

    def keep(context: Context, event: VoteCast) -> Sequence[Reply]:
        answers.append(event)
        return []

    registry = Registry()
    registry.on_vote(keep)
    monkeypatch.setattr(bot.app, "build_registry", lambda: registry)
    running = TelegramBot(telegram_config(tmp_path, database_url, emulator))
    await running.start()
    try:
        yield running, answers
    finally:
        await running.stop()


def said(text: str, room: int = GROUP_ID, **fields: Any) -> Outgoing:
    return Outgoing(Platform.TELEGRAM, str(room), text, "en", **fields)


def question(key: str, closes_at: datetime | None, room: int = GROUP_ID) -> Outgoing:
    poll = RenderedPoll(
        "Where do we meet?",
        OPTIONS,
        tuple(f"{key}:{index}" for index in range(len(OPTIONS))),
        max_selections=2,
        disclosed=False,
        closes_at=closes_at,
    )
    return said("Where do we meet?\n1. Geneva\n2. Online\n3. Both", room, poll=poll, post=key)


async def owe(emulator: BotApiEmulator, running: TelegramBot, *replies: Outgoing) -> None:
    """Queue the replies as the dispatcher does, and wait until all are delivered."""
    store = running.store
    planners = {Platform.TELEGRAM: lambda item: parts(item, store.transports.callback_token)}
    await asyncio.to_thread(queue_replies, store, replies, planners)
    assert running.service is not None
    running.service.wake(Platform.TELEGRAM)
    await emulator.wait_for(lambda: not store.outbox.pending(Platform.TELEGRAM), timeout=20)


def failed(running: TelegramBot) -> int:
    since = datetime.now(UTC) - timedelta(hours=1)
    return running.store.outbox.status(Platform.TELEGRAM, since=since).failed


def calls(emulator: BotApiEmulator, method: str) -> list[int]:
    """The HTTP status of each call of ``method`` the bot made, in order."""
    return [request.status for request in emulator.requests if request.method == method]


def poll_of(sent: SentMessage) -> str:
    assert sent.kind == "poll" and sent.poll is not None, sent
    return str(sent.poll["id"])


async def test_a_question_goes_out_as_a_native_poll_whose_answers_come_back_as_votes(
    emulator: BotApiEmulator, votes: tuple[TelegramBot, list[VoteCast]]
) -> None:
    running, answers = votes
    closes_at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    await owe(emulator, running, question("poll:1:start", closes_at))
    [sent] = emulator.sent(GROUP_ID)  # the poll alone: its introduction is not sent
    poll_id = poll_of(sent)
    [poll] = TelegramGroup(emulator, GROUP_ID).polls()
    assert poll["question"] == "Where do we meet?"
    assert [option["text"] for option in poll["options"]] == list(OPTIONS)
    assert not poll["is_anonymous"] and poll["allows_multiple_answers"]
    assert poll["hide_results_until_closes"]
    assert poll["close_date"] == int(closes_at.timestamp())
    assert running.store.posts.key_of_native(Platform.TELEGRAM, poll_id) == "poll:1:start"

    ana = TelegramGroup(emulator, GROUP_ID).member("ana")
    ana.vote(poll_id, 0, 2)
    assert emulator.poll_votes(poll_id) == {VOTER: [0, 2]}
    ana.vote(poll_id)  # taken back
    await emulator.wait_for(lambda: len(answers) == 2, timeout=20)
    assert [(vote.poll_id, vote.options) for vote in answers] == [
        (poll_id, ("0", "2")),
        (poll_id, ()),
    ]
    origin = answers[0].origin
    assert (origin.user_id, origin.room_id, origin.is_direct) == (str(VOTER), str(VOTER), True)
    assert emulator.poll_votes(poll_id) == {}


async def test_a_channel_gets_the_question_as_text_with_a_button_per_option(
    emulator: BotApiEmulator, votes: tuple[TelegramBot, list[VoteCast]]
) -> None:
    running, _ = votes
    emulator.add_channel(CHANNEL_ID, "News")
    await owe(emulator, running, question("poll:2:start", None, room=CHANNEL_ID))
    [sent] = emulator.sent(CHANNEL_ID)
    assert sent.kind == "text" and sent.plain_text.startswith("Where do we meet?\n1. Geneva")
    assert sent.button_data == ["poll:2:start:0", "poll:2:start:1", "poll:2:start:2"]
    assert calls(emulator, "sendPoll") == [400]
    assert failed(running) == 0


async def test_live_results_are_edited_in_place_and_a_burst_sends_fewer_edits(
    emulator: BotApiEmulator, votes: tuple[TelegramBot, list[VoteCast]]
) -> None:
    running, _ = votes
    await owe(emulator, running, said("Results: no vote yet", post="poll:1:results"))
    burst = [said(f"Results: {count} votes", edits="poll:1:results") for count in range(1, 6)]
    await owe(emulator, running, *burst)
    [results] = emulator.sent(GROUP_ID)
    assert results.plain_text == "Results: 5 votes"
    assert 1 <= len(results.shown_edits) < len(burst), results.shown_edits

    await owe(emulator, running, said("Results: 5 votes", edits="poll:1:results"))  # "not modified"
    assert calls(emulator, "editMessageText")[-1] == 400
    assert len(emulator.sent(GROUP_ID)) == 1 and failed(running) == 0

    # A results message that never went out: its edit says it as a new message.
    emulator.inject_fault("400", methods=["sendMessage"], times=1)
    await owe(emulator, running, said("Turnout: 0", post="poll:2:results"))
    await owe(emulator, running, said("Turnout: 3", edits="poll:2:results"))
    assert [sent.plain_text for sent in emulator.sent(GROUP_ID)][1:] == ["Turnout: 3"]

    # One an administrator deleted: no copy is posted in its place, at each edit.
    emulator.delete_by_admin(GROUP_ID, results.message_id)
    await owe(emulator, running, said("Results: 6 votes", edits="poll:1:results"))
    assert len(emulator.sent(GROUP_ID)) == 2 and failed(running) == 1  # the refused "Turnout: 0"


async def test_ending_stops_the_poll_once_and_ending_again_or_after_telegram_closed_it_is_harmless(
    emulator: BotApiEmulator, votes: tuple[TelegramBot, list[VoteCast]]
) -> None:
    running, _ = votes
    closes_at = datetime.now(UTC) + timedelta(hours=2)
    await owe(
        emulator, running, question("poll:1:start", closes_at), question("poll:2:start", closes_at)
    )
    first, second = (poll_of(sent) for sent in emulator.sent(GROUP_ID))

    await owe(emulator, running, said("Poll closed.", ends_poll="poll:1:start"))
    assert emulator.poll(first)["is_closed"]
    await owe(emulator, running, said("Poll closed.", ends_poll="poll:1:start"))
    emulator.expire_poll(second)  # Telegram closes it at its close_date
    with pytest.raises(ValueError, match="closed"):
        emulator.answer_poll(VOTER, second, [1])
    await owe(emulator, running, said("Poll closed.", ends_poll="poll:2:start"))
    assert calls(emulator, "stopPoll") == [200, 400, 400]  # "poll has already been closed"
    assert failed(running) == 0
    assert all(sent.kind == "poll" for sent in emulator.sent(GROUP_ID))  # no end text

    # A poll Telegram refused has nothing to stop: nothing is sent.
    emulator.inject_fault("400", methods=["sendPoll"], times=1)
    await owe(emulator, running, question("poll:3:start", closes_at))
    await owe(emulator, running, said("Poll closed.", ends_poll="poll:3:start"))
    assert len(calls(emulator, "stopPoll")) == 3
    assert failed(running) == 1  # the refused poll alone


def test_telegram_is_asked_to_close_a_poll_only_within_its_limits() -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert close_date(now + timedelta(days=3), now) == now + timedelta(days=3)
    assert close_date(now + timedelta(seconds=10), now) is None  # too soon: the bot closes it
    assert close_date(now + POLL_CLOSE_LATEST, now) is None  # beyond about 30 days
    assert close_date(None, now) is None


def test_an_answer_given_as_a_chat_is_no_members_vote() -> None:
    assert "poll_answer" in ALLOWED_UPDATES
    answer = {"poll_id": "7", "option_ids": [1], "option_persistent_ids": ["1"]}
    person = {"id": VOTER, "is_bot": False, "first_name": "Ana"}
    as_person = Update.de_json({"update_id": 1, "poll_answer": {**answer, "user": person}}, None)
    as_chat = Update.de_json(
        {
            "update_id": 2,
            "poll_answer": {
                **answer,
                "user": {"id": 136817688, "is_bot": True, "first_name": "Channel"},
                "voter_chat": {"id": GROUP_ID, "type": "supergroup", "title": "Working group"},
            },
        },
        None,
    )
    vote = translate_update(as_person, "caucus_test_bot")
    assert isinstance(vote, VoteCast) and vote.options == ("1",)
    assert translate_update(as_chat, "caucus_test_bot") is None
