"""What is particular to Matrix: the bot on a real Synapse, members on real matrix-nio
clients, in plain and end-to-end encrypted rooms."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nio import RoomSendError

from bot.config import AppConfig, load_config
from bot.i18n import Catalogs
from bot.outbox import FloodControl, PermanentFailure, TransientFailure
from bot.outgoing import BotMessage
from bot.outgoing_json import to_json
from bot.ratelimit import SendLimiter, Window
from bot.transports.matrix.sender import _delivery_error
from bot.types import Message, Platform
from tests.harness.case_intake import fill_report, option
from tests.harness.features import LazyMatrixChat
from tests.harness.matrix_harness import (
    MatrixBot,
    MatrixChat,
    MatrixMember,
    matrix_config,
    unique_localpart,
)
from tests.harness.synapse_server import RegisteredUser, SynapseServer, start_synapse

CATALOGS = Catalogs.load()
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def text(key: str) -> str:
    return CATALOGS.renderer("en", Platform.MATRIX).label(Message.of(key))


def first_words(key: str) -> str:
    return CATALOGS.template("en", key).split("{")[0].strip()


@pytest.fixture
async def config(tmp_path: Path, database_url: str, synapse: SynapseServer) -> AppConfig:
    # The restart test's member sends 130 messages at once, far past a person's rate.
    return await matrix_config(
        tmp_path, database_url, synapse, extra="[limits]\nprivate_messages_per_minute = 10000\n"
    )


@pytest.fixture
async def bot(config: AppConfig) -> AsyncIterator[MatrixBot]:
    running = MatrixBot(config)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def test_commands_start_with_a_bang_and_may_be_bare_in_a_direct_room(
    synapse: SynapseServer, bot: MatrixBot
) -> None:
    chat = await MatrixChat.open(synapse, bot, "Ana")
    try:
        help_text = await chat.send("!help")
        assert "!whoami" in help_text
        assert "/whoami" not in help_text
        assert text("help.help") in await chat.send("help")
    finally:
        await chat.close()


async def test_markup_and_ampersands_arrive_as_literal_text(
    synapse: SynapseServer, bot: MatrixBot
) -> None:
    chat = await MatrixChat.open(synapse, bot, "Ana")
    try:
        await chat.send("!profile")
        await chat.send("<b>Tom & Jerry</b>")
        await chat.send("!skip")
        await chat.send("UTC")
        review = [event for event in chat.shown if "Tom" in (event["body"] or "")]
        assert review, chat.last
        assert "<b>Tom & Jerry</b>" in review[0]["body"]
        assert "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;" in review[0]["formatted_body"]
        assert "<b>Tom" not in review[0]["formatted_body"]
    finally:
        await chat.close()


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_a_keycap_reaction_picks_a_choice(
    synapse: SynapseServer, bot: MatrixBot, encrypted: bool
) -> None:
    chat = await MatrixChat.open(synapse, bot, "Ana", encrypted=encrypted)
    try:
        await chat.send("!language")
        changed = await chat.pick_by_reaction("Español")
        assert first_words("language.changed") not in changed
        assert CATALOGS.template("es", "language.changed").split("{")[0].strip() in changed
    finally:
        await chat.close()


async def test_after_a_pick_the_list_above_still_picks_by_reaction(
    synapse: SynapseServer, tmp_path: Path, sqlite_url: str
) -> None:
    # The reply to a pick in a multiple choice offers nothing of its own: the keycaps on
    # the list above must go on picking (they stopped at the first pick before).
    group = '[[working_groups]]\nslug = "cawg"\nname = "CAWG"\nlanguages = ["en"]\n'
    limits = "[limits]\nprivate_messages_per_minute = 10000\n"
    config = await matrix_config(tmp_path, sqlite_url, synapse, extra=group + limits)
    bot = MatrixBot(config)
    await bot.start()
    chat = await MatrixChat.open(synapse, bot, "Ana", encrypted=True)
    try:
        await fill_report(LazyMatrixChat.in_room(synapse, bot, chat), until="sector")
        listing = list(chat.shown)
        water, health = option("right", "water"), option("right", "health")
        assert water in await chat.pick_by_reaction_from(listing, water)
        both = await chat.pick_by_reaction_from(listing, health)
        assert water in both and health in both, both
        done = await chat.send(text("conversation.done"))  # beyond the ten keycaps
        assert first_words("cases.ask_affected") in done, done
    finally:
        await chat.close()
        await bot.stop()


@pytest.mark.parametrize("count", [20, 130], ids=["20", "more-than-one-sync-carries"])
async def test_messages_sent_while_the_bot_was_down_are_each_answered_once(
    synapse: SynapseServer, bot: MatrixBot, count: int
) -> None:
    chat = await MatrixChat.open(synapse, bot, "Ana")
    try:
        await chat.send("!help")
        await bot.stop()
        sent = [await chat.member.send_text(chat.room_id, f"hello {n}") for n in range(count)]
        await bot.start()
        hint = first_words("router.free_text_hint")

        def delivered() -> int:
            return bot.store.outbox.status(Platform.MATRIX, since=LONG_AGO).delivered

        # Counted at the bot (every reply it sent), then, for a short run, as the member
        # sees them (a member's own sync may skip part of a long burst).
        await chat.member.wait_until(
            lambda: delivered() >= count + 1, what="the answers", timeout=120
        )
        await asyncio.sleep(1.5)  # time for a repeated answer to show up
        assert delivered() == count + 1
        assert not bot.store.outbox.pending(Platform.MATRIX)
        if count <= 50:
            await chat.member.sync()
            answers = [
                event
                for event in chat.member.events_after(chat.room_id, sent[0]) or []
                if event["sender"] == bot.user_id and hint in (event["body"] or "")
            ]
            assert len(answers) == count
    finally:
        await chat.close()


async def test_history_is_not_answered_on_the_very_first_start(
    tmp_path: Path, database_url: str, synapse: SynapseServer
) -> None:
    config = await matrix_config(tmp_path / "first", database_url, synapse)
    bot = MatrixBot(config)
    await bot.start()
    chat = await MatrixChat.open(synapse, bot, "Ana")
    try:
        await bot.stop()
        old = await chat.member.send_text(chat.room_id, "!help")
        # The same account and device, with a brand-new database: a first start.
        again = config.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'new.db'}"})
        bot = MatrixBot(again)
        await bot.start()
        chat = MatrixChat(chat.member, bot, chat.room_id)
        answer = await chat.send("!whoami")
        assert "@" in answer
        replies = chat.member.events_after(chat.room_id, old)
        help_answers = [
            event
            for event in replies
            if event["sender"] == bot.user_id and text("help.help") in (event["body"] or "")
        ]
        assert help_answers == [], [event["body"] for event in replies]
    finally:
        await chat.close()
        await bot.stop()


async def test_invitations_from_unlisted_servers_are_declined(
    tmp_path: Path, database_url: str, synapse: SynapseServer
) -> None:
    config = await matrix_config(tmp_path, database_url, synapse)
    assert config.matrix is not None
    closed = config.model_copy(
        update={"matrix": config.matrix.model_copy(update={"join_invites_from": ()})}
    )
    bot = MatrixBot(closed)
    await bot.start()
    member = await MatrixMember.create(synapse, "Ana")
    try:
        created = await member.client.room_create(is_direct=True, invite=[bot.user_id])
        room_id = created.room_id

        def declined() -> bool:
            room = member.client.rooms.get(room_id)
            return (
                room is not None
                and bot.user_id not in room.invited_users
                and (bot.user_id not in room.users)
            )

        await member.wait_until(declined, what="the invitation declined", timeout=20)
    finally:
        await member.close()
        await bot.stop()


def test_rate_limit_and_server_errors_map_to_wait_retry_or_give_up() -> None:
    limited = RoomSendError("slow down", "M_LIMIT_EXCEEDED", retry_after_ms=1500)
    flood = _delivery_error(limited)
    assert isinstance(flood, FloodControl)
    assert flood.seconds == 1.5
    assert isinstance(_delivery_error(RoomSendError("no", "M_FORBIDDEN")), PermanentFailure)
    assert isinstance(_delivery_error(RoomSendError("boom", "M_UNKNOWN")), TransientFailure)


@pytest.mark.e2e
@pytest.mark.backends("sqlite")  # pacing and recovery over real servers; both databases: elsewhere
async def test_sends_throttled_by_the_homeserver_arrive_once_and_in_order(
    tmp_path: Path, database_url: str
) -> None:
    strict = {"rc_message": {"per_second": 0.5, "burst_count": 2}}
    async with await start_synapse(tmp_path / "syn", extra_config=strict) as server:
        account = await server.register(unique_localpart("bot"), admin=False)
        config = await _config_for(tmp_path, database_url, server, account)
        bot = MatrixBot(config, limiter=lambda: SendLimiter((Window(100, 0.01),), {}))
        await bot.start()
        chat = await MatrixChat.open(server, bot, "Ana")
        try:
            await chat.send("!help")
            items = [
                (Platform.MATRIX, chat.room_id, to_json(BotMessage(f"news {n}"))) for n in range(6)
            ]
            bot.store.outbox.enqueue(items)
            assert bot.service is not None
            bot.service.outboxes[Platform.MATRIX].wake()
            await chat.member.wait_until(
                lambda: (
                    len(_news(chat, bot)) >= 6 and not bot.store.outbox.pending(Platform.MATRIX)
                ),
                what="six news delivered",
                timeout=60,
            )
            assert _news(chat, bot) == [f"news {n}" for n in range(6)]
            assert bot.service.outboxes[Platform.MATRIX].counts.retried > 0
        finally:
            await chat.close()
            await bot.stop()


def _news(chat: MatrixChat, bot: MatrixBot) -> list[str]:
    return [
        str(event["body"])
        for event in chat.member.timeline(chat.room_id)
        if event["sender"] == bot.user_id and str(event["body"] or "").startswith("news ")
    ]


async def _config_for(
    tmp_path: Path, database_url: str, server: SynapseServer, account: RegisteredUser
) -> AppConfig:
    path = tmp_path / "config.toml"
    path.write_text(
        "[matrix]\n"
        f'homeserver = "{server.base_url}"\nuser_id = "{account.user_id}"\n'
        f'device_id = "{account.device_id}"\njoin_invites_from = ["{server.server_name}"]\n',
        encoding="utf-8",
    )
    return load_config(
        path,
        env={
            "CAUCUS_DATABASE_URL": database_url,
            "CAUCUS_MATRIX_ACCESS_TOKEN": account.access_token,
            "CAUCUS_MATRIX_PICKLE_KEY": secrets.token_urlsafe(16),
        },
    )


@pytest.mark.e2e
async def test_a_homeserver_restart_mid_conversation_loses_no_answer(
    tmp_path: Path, database_url: str
) -> None:
    async with await start_synapse(tmp_path / "syn") as server:
        config = await matrix_config(tmp_path, database_url, server)
        bot = MatrixBot(config)
        await bot.start()
        chat = await MatrixChat.open(server, bot, "Ana")
        try:
            await chat.send("!profile")
            await chat.send("Ana María")
            await server.restart()
            asked = await chat.send("Red de Acción")
            assert text("profile.ask_time_zone") in asked
            review = await chat.send("America/Lima")
            assert "Ana María" in review
            assert "Red de Acción" in review
        finally:
            await chat.close()
            await bot.stop()


class _ClockAhead:
    """The ``time`` module as the bot's transport sees it on a machine whose clock runs
    ``seconds`` ahead of the homeserver's."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    def time(self) -> float:
        return time.time() + self._seconds

    def __getattr__(self, name: str) -> object:
        return getattr(time, name)


async def test_a_bot_clock_minutes_ahead_of_the_homeserver_still_answers_and_logs_the_skew(
    tmp_path: Path,
    database_url: str,
    synapse: SynapseServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """First start and a fresh invitation: what is said after them is answered, though the
    homeserver stamps it with a time three minutes before the bot's clock."""
    from bot.transports.matrix import transport

    monkeypatch.setattr(transport, "time", _ClockAhead(180))
    config = await matrix_config(tmp_path, database_url, synapse)
    bot = MatrixBot(config)
    with caplog.at_level("WARNING", logger="bot.transports.matrix.transport"):
        await bot.start()
        chat = await MatrixChat.open(synapse, bot, "Ana")
        try:
            answer = await chat.send("!help")
        finally:
            await chat.close()
            await bot.stop()
    assert text("help.help") in answer
    [skew] = [record.getMessage() for record in caplog.records if "clock_skew" in record.msg]
    ahead = float(skew.rpartition("=")[2])
    assert -182 <= ahead <= -178
