"""What is particular to Telegram: the real python-telegram-bot over HTTP against the Bot API
emulator, with the real store and outbox."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import AppConfig
from bot.i18n import Catalogs
from bot.outgoing import BotMessage
from bot.outgoing_json import to_json
from bot.ratelimit import telegram_limiter
from bot.transports.telegram.render import parts
from bot.types import Message, Outgoing, Platform, RenderedChoice
from locales import SUPPORTED_LANGUAGES
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import (
    USER_IDS,
    TelegramBot,
    TelegramChat,
    make_token,
    render,
    settle,
    telegram_config,
)

REPO = Path(__file__).resolve().parents[1]
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
CATALOGS = Catalogs.load()
GROUP_ID = -1001234

GROUPS = f"""
admins = ["telegram:1003"]

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
telegram_chats = [{GROUP_ID}]
"""


def text(key: str, language: str = "en") -> str:
    return CATALOGS.renderer(language, Platform.TELEGRAM).label(Message.of(key))


def queued(reply: Outgoing) -> list[tuple[Platform, str, dict[str, object]]]:
    """A reply's outbox rows, planned as the dispatcher plans them."""
    planned = parts(BotMessage.of(reply), lambda value: 1)
    return [(Platform.TELEGRAM, reply.room_id, to_json(part)) for part in planned]


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(make_token()) as running:
        yield running


@pytest.fixture
def config(tmp_path: Path, database_url: str, emulator: BotApiEmulator) -> AppConfig:
    return telegram_config(tmp_path, database_url, emulator, extra=GROUPS)


@pytest.fixture
async def bot(config: AppConfig) -> AsyncIterator[TelegramBot]:
    running = TelegramBot(config)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def test_commands_are_announced_in_every_language(
    emulator: BotApiEmulator, bot: TelegramBot
) -> None:
    for language in (None, *SUPPORTED_LANGUAGES):
        commands = dict(emulator.commands[(language, "default")])
        assert {"start", "help", "language", "whoami", "profile"} <= commands.keys()
        assert "as" not in commands
        assert "role" not in commands
        assert commands["help"] == text("help.help", language or "en")


async def test_the_members_telegram_language_picks_their_first_language(
    emulator: BotApiEmulator, bot: TelegramBot
) -> None:
    chat = TelegramChat(emulator, bot, "ana", language_code="pt-BR")
    answer = await chat.send("/help")
    assert text("help.help", "pt") in answer


async def test_html_typed_by_a_member_arrives_as_literal_text(
    emulator: BotApiEmulator, bot: TelegramBot
) -> None:
    chat = TelegramChat(emulator, bot, "local")
    await chat.send("/profile")
    await chat.send("<b>Tom & Jerry</b>")
    await chat.send("/skip")
    review = await chat.send("UTC")
    assert "<b>Tom & Jerry</b>" in review
    sent = emulator.sent(USER_IDS["local"])[-1]
    assert "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;" in (sent.text or "")
    assert sent.parse_mode == "HTML"


async def test_every_button_press_is_answered(emulator: BotApiEmulator, bot: TelegramBot) -> None:
    chat = TelegramChat(emulator, bot, "local")
    await chat.send("/language")
    await chat.pick("Español")
    await chat.send("/start")
    await chat.pick("English")
    assert emulator.answered_callbacks()
    assert emulator.unanswered_callbacks() == []


async def test_a_command_for_another_bot_in_a_group_is_ignored(
    emulator: BotApiEmulator, bot: TelegramBot
) -> None:
    emulator.add_user(USER_IDS["local"], "Local")
    emulator.add_group(GROUP_ID, "CAWG")
    other = emulator.send_text(USER_IDS["local"], "/help@some_other_bot", chat_id=GROUP_ID)
    await settle(emulator, bot.store, other["update_id"])
    assert emulator.sent(GROUP_ID) == []
    ours = emulator.send_text(
        USER_IDS["local"], f"/help@{emulator.bot_user['username']}", chat_id=GROUP_ID
    )
    await settle(emulator, bot.store, ours["update_id"])
    assert text("help.help") in render(emulator.sent(GROUP_ID))


async def test_group_chatter_is_not_answered(emulator: BotApiEmulator, bot: TelegramBot) -> None:
    emulator.add_user(USER_IDS["local"], "Local")
    emulator.add_group(GROUP_ID, "CAWG")
    update = emulator.send_text(USER_IDS["local"], "good morning all", chat_id=GROUP_ID)
    await settle(emulator, bot.store, update["update_id"])
    assert emulator.sent(GROUP_ID) == []


async def test_the_bot_added_to_its_group_introduces_itself(
    emulator: BotApiEmulator, bot: TelegramBot
) -> None:
    emulator.add_user(USER_IDS["local"], "Local")
    emulator.add_group(GROUP_ID, "CAWG")
    update = emulator.add_bot_to_group(USER_IDS["local"], GROUP_ID)
    await settle(emulator, bot.store, update["update_id"])
    assert "Corporate Accountability" in render(emulator.sent(GROUP_ID))


async def test_a_member_who_blocks_the_bot_is_not_written_to_again(
    emulator: BotApiEmulator, bot: TelegramBot
) -> None:
    chat = TelegramChat(emulator, bot, "local")
    await chat.send("/start")
    blocked = emulator.block_bot(USER_IDS["local"])
    await settle(emulator, bot.store, blocked["update_id"])
    assert bot.store.transports.is_unreachable(Platform.TELEGRAM, str(USER_IDS["local"]))
    reply = Outgoing(Platform.TELEGRAM, str(USER_IDS["local"]), "late news", "en")
    bot.store.outbox.enqueue(queued(reply))
    assert bot.service is not None
    bot.service.outboxes[Platform.TELEGRAM].wake()
    await emulator.wait_for(lambda: not bot.store.outbox.pending(Platform.TELEGRAM))
    status = bot.store.outbox.status(Platform.TELEGRAM, since=LONG_AGO)
    assert status.failed == 1
    refused = [log for log in emulator.methods_called("sendMessage") if log.status == 403]
    assert refused == []  # known unreachable: not even tried


async def test_a_reply_longer_than_telegram_allows_arrives_in_pieces(
    emulator: BotApiEmulator, bot: TelegramBot
) -> None:
    emulator.add_user(USER_IDS["local"], "Local")
    paragraphs = [f"Paragraph {n}: " + "lorem ipsum " * 60 for n in range(20)]
    choice = RenderedChoice("lang:es", "Español")
    reply = Outgoing(
        Platform.TELEGRAM, str(USER_IDS["local"]), "\n\n".join(paragraphs), "en",
        choices=(choice,),
    )  # fmt: skip
    bot.store.outbox.enqueue(queued(reply))
    assert bot.service is not None
    bot.service.outboxes[Platform.TELEGRAM].wake()
    await emulator.wait_for(lambda: not bot.store.outbox.pending(Platform.TELEGRAM))
    sent = emulator.sent(USER_IDS["local"])
    assert len(sent) > 1
    assert "\n\n".join(message.plain_text for message in sent) == reply.text
    assert [message.reply_markup is not None for message in sent][-1]
    assert all(message.reply_markup is None for message in sent[:-1])


async def test_a_restart_neither_loses_nor_repeats_an_update(
    emulator: BotApiEmulator, config: AppConfig
) -> None:
    user = USER_IDS["local"]
    emulator.add_user(user, "Local")
    bot = TelegramBot(config)
    await bot.start()
    first = [emulator.send_text(user, f"/whoami{n}") for n in range(3)]
    await settle(emulator, bot.store, first[-1]["update_id"])
    await bot.stop()
    while_down = [emulator.send_text(user, f"hello {n}") for n in range(5)]
    await bot.start()
    try:
        await settle(emulator, bot.store, while_down[-1]["update_id"])
        assert len(emulator.sent(user)) == 8
    finally:
        await bot.stop()


async def test_kill_9_loses_and_repeats_no_update(
    emulator: BotApiEmulator, config: AppConfig, tmp_path: Path
) -> None:
    """The real program, killed hard while updates wait, answers each exactly once."""
    user = USER_IDS["local"]
    emulator.add_user(user, "Local")
    assert config.source is not None
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CAUCUS_")}
    environment.update(
        CAUCUS_DATABASE_URL=config.database_url,
        CAUCUS_TELEGRAM_TOKEN=emulator.token,
        PYTHONPATH=str(REPO),
    )

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--config", str(config.source),
            env=environment, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip

    process = await start()
    early = [emulator.send_text(user, f"early {n}") for n in range(5)]
    # Replies into one chat go out 1.1 s apart: after the second, three still wait in
    # the outbox. Kill between two sends, not during one.
    await emulator.wait_for(lambda: len(emulator.sent(user)) == 2, timeout=60)
    await asyncio.sleep(0.4)
    process.send_signal(signal.SIGKILL)
    await process.wait()
    assert len(emulator.sent(user)) < 5
    late = [emulator.send_text(user, f"late {n}") for n in range(5)]
    process = await start()
    try:
        await emulator.wait_for(lambda: len(emulator.sent(user)) >= 10, timeout=60)
        await asyncio.sleep(1.0)  # time enough for a repeated answer to show up
        assert len(emulator.sent(user)) == 10
        assert emulator.confirmed_offset >= late[-1]["update_id"]
        assert len(early) == 5
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()


async def test_webhook_refuses_a_caller_without_the_secret(
    tmp_path: Path, database_url: str, emulator: BotApiEmulator
) -> None:
    config = telegram_config(tmp_path, database_url, emulator, mode="webhook", extra=GROUPS)
    assert config.telegram is not None
    bot = TelegramBot(config)
    await bot.start()
    try:
        import aiohttp

        port = config.telegram.webhook_port
        async with aiohttp.ClientSession() as session:
            forged = {"update_id": 999999, "message": {"message_id": 1}}
            async with session.post(f"http://127.0.0.1:{port}/telegram", json=forged) as response:
                status = response.status
        assert status == 403
        assert bot.store.inbox.last_sequence(Platform.TELEGRAM) != 999999
    finally:
        await bot.stop()


async def test_wrong_token_stops_the_program_with_one_line(
    emulator: BotApiEmulator, config: AppConfig
) -> None:
    assert config.source is not None
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CAUCUS_")}
    environment.update(
        CAUCUS_DATABASE_URL=config.database_url,
        CAUCUS_TELEGRAM_TOKEN="123:not-the-token",
        PYTHONPATH=str(REPO),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config.source),
        env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    lines = stderr.decode().strip().splitlines()
    assert process.returncode == 2
    assert len(lines) == 1, stderr.decode()
    assert "telegram.token" in lines[0]
    assert "not-the-token" not in stderr.decode()


@pytest.mark.e2e
async def test_privacy_mode_is_reported_at_start_with_the_fix(
    tmp_path: Path, database_url: str
) -> None:
    async with BotApiEmulator(make_token(), can_read_all_group_messages=False) as emulator:
        config = telegram_config(tmp_path, database_url, emulator, extra=GROUPS)
        bot = TelegramBot(config)
        await bot.start()
        await bot.stop()
    assert any("privacy mode" in line and "/setprivacy" in line for line in bot.warnings)


async def test_polling_failures_are_retried_with_visible_back_off(
    emulator: BotApiEmulator, bot: TelegramBot
) -> None:
    emulator.inject_fault("502", methods={"getUpdates"}, times=2)
    chat = TelegramChat(emulator, bot, "local")
    answer = await chat.send("/help")
    assert text("help.help") in answer
    assert any("polling failed" in line and "retrying in" in line for line in bot.warnings)


@pytest.mark.backends("sqlite")  # pacing and recovery over real servers; both databases: elsewhere
async def test_300_replies_to_30_members_arrive_once_in_order_within_the_limits(
    emulator: BotApiEmulator, config: AppConfig
) -> None:
    """20% of sends answered 429 (retry after 1 s) or 500; every reply still arrives once."""
    members = [2000 + n for n in range(30)]
    for member in members:
        emulator.add_user(member, f"Member {member}")
    emulator.inject_fault("429", rate=0.1, retry_after=1, seed=1)
    emulator.inject_fault("500", rate=0.1, seed=2)
    bot = TelegramBot(config, limiter=telegram_limiter)
    await bot.start()
    try:
        items = [
            (Platform.TELEGRAM, str(member), to_json(BotMessage(f"reply {n} to {member}")))
            for n in range(10)
            for member in members
        ]
        bot.store.outbox.enqueue(items)
        assert bot.service is not None
        bot.service.outboxes[Platform.TELEGRAM].wake()
        await emulator.wait_for(
            lambda: not bot.store.outbox.pending(Platform.TELEGRAM), timeout=240
        )
    finally:
        await bot.stop()
    faults = [log for log in emulator.requests if log.status in (429, 500)]
    assert len(faults) > 20
    for member in members:
        texts = [message.plain_text for message in emulator.sent(member)]
        assert texts == [f"reply {n} to {member}" for n in range(10)]
        moments = [message.accepted_at for message in emulator.sent(member)]
        gaps = [b - a for a, b in itertools.pairwise(moments)]
        assert min(gaps) >= 0.95, (member, sorted(gaps)[:3])
    everything = sorted(message.accepted_at for message in emulator.all_sent)
    assert len(everything) == 300
    for index in range(len(everything) - 30):
        assert everything[index + 30] - everything[index] >= 0.95


async def test_a_file_sent_outside_a_conversation_gets_a_hint(
    emulator: BotApiEmulator, bot: TelegramBot
) -> None:
    emulator.add_user(USER_IDS["local"], "Local")
    update = emulator.send_document(USER_IDS["local"], b"%PDF-1.4", "a.pdf", "application/pdf")
    await settle(emulator, bot.store, update["update_id"])
    assert first_words("router.media_hint") in render(emulator.sent(USER_IDS["local"]))


async def test_an_edited_message_is_not_answered_twice(
    emulator: BotApiEmulator, bot: TelegramBot
) -> None:
    user = USER_IDS["local"]
    emulator.add_user(user, "Local")
    original = emulator.send_text(user, "hello")
    await settle(emulator, bot.store, original["update_id"])
    answered = len(emulator.sent(user))
    assert answered == 1
    edit = emulator.edit_text(user, user, original["message"]["message_id"], "hi")
    await settle(emulator, bot.store, edit["update_id"])
    assert len(emulator.sent(user)) == answered


def first_words(key: str) -> str:
    return CATALOGS.template("en", key).split("{")[0].strip()


async def test_an_unreadable_stored_update_is_set_aside_and_later_ones_answered(
    emulator: BotApiEmulator, bot: TelegramBot
) -> None:
    bot.store.inbox.record(Platform.TELEGRAM, "0", 0, {"update_id": "zero", "message": 1})
    chat = TelegramChat(emulator, bot, "local")
    assert text("help.help") in await chat.send("/help")
    assert bot.store.inbox.pending(Platform.TELEGRAM) == []


async def test_a_button_with_a_malformed_token_is_answered_as_expired(
    emulator: BotApiEmulator, bot: TelegramBot
) -> None:
    chat = TelegramChat(emulator, bot, "local")
    await chat.send("/start")
    message = emulator.sent(USER_IDS["local"])[-1]
    update = emulator.press_button(
        USER_IDS["local"], USER_IDS["local"], message.message_id, "#²", strict=False
    )
    await settle(emulator, bot.store, update["update_id"])
    assert first_words("router.choice_expired") in render(emulator.sent(USER_IDS["local"])[-1:])
    assert emulator.unanswered_callbacks() == []


async def test_flood_control_on_polling_is_waited_out(
    emulator: BotApiEmulator, bot: TelegramBot
) -> None:
    emulator.inject_fault("429", methods={"getUpdates"}, times=1, retry_after=1)
    chat = TelegramChat(emulator, bot, "local")
    assert text("help.help") in await chat.send("/help")


async def test_a_403_marks_the_chat_unreachable_and_stops_sending_there(
    emulator: BotApiEmulator, bot: TelegramBot
) -> None:
    user = USER_IDS["local"]
    emulator.add_user(user, "Local")
    emulator.inject_fault("403", methods={"sendMessage"}, times=1)
    replies = [(Platform.TELEGRAM, str(user), to_json(BotMessage(f"news {n}"))) for n in range(3)]
    bot.store.outbox.enqueue(replies)
    assert bot.service is not None
    bot.service.outboxes[Platform.TELEGRAM].wake()
    await emulator.wait_for(lambda: not bot.store.outbox.pending(Platform.TELEGRAM))
    assert bot.store.transports.is_unreachable(Platform.TELEGRAM, str(user))
    assert len(emulator.methods_called("sendMessage")) == 1
    assert bot.store.outbox.status(Platform.TELEGRAM, since=LONG_AGO).failed == 3


async def test_a_start_up_call_refused_by_telegram_stops_with_one_line(
    emulator: BotApiEmulator, config: AppConfig
) -> None:
    from bot.transports.telegram.transport import TelegramStartError

    emulator.inject_fault("400", methods={"setMyCommands"}, times=1)
    bot = TelegramBot(config)
    with pytest.raises(TelegramStartError) as caught:
        await bot.start()
    assert "\n" not in str(caught.value)
    assert "fix:" in str(caught.value)


async def test_a_conversation_resumes_after_the_bot_restarts(
    emulator: BotApiEmulator, config: AppConfig
) -> None:
    bot = TelegramBot(config)
    await bot.start()
    chat = TelegramChat(emulator, bot, "local")
    await chat.send("/profile")
    await chat.send("Ana María")
    await chat.send("/skip")
    await bot.stop()
    await bot.start()
    try:
        review = await chat.send("/home/ana")
        assert first_words("profile.unknown_time_zone") in review
        review = await chat.send("America/Lima")
        assert "Ana María" in review
        assert "America/Lima" in review
    finally:
        await bot.stop()


async def test_messages_queued_before_the_upgrade_are_still_delivered(
    emulator: BotApiEmulator, bot: TelegramBot
) -> None:
    """Rows an earlier version stored (payloads, not outgoing items) still go out, their
    references to earlier rows resolved as that version's were."""
    user = USER_IDS["local"]
    emulator.add_user(user, "Local")
    emulator.add_group(GROUP_ID, "CAWG")
    tg, group = Platform.TELEGRAM, str(GROUP_ID)
    old_reply = {"text": "<b>literal</b>", "choices": [["lang:es", "Español"]]}
    (_, first) = bot.store.outbox.enqueue(
        [(tg, str(user), old_reply), (tg, group, {"relay": "text", "html": "<b>Ana</b>: 10h"})]
    )
    answer = {"relay": "text", "html": "<b>Bo</b>: ok", "reply_to": {"outbox": first}}
    edit = {
        "relay": "edit",
        "target": {"outbox": first},
        "html": "<b>Ana</b>: 11h",
        "fallback_html": "<b>Ana, edited</b>: 11h",
    }
    bot.store.outbox.enqueue([(tg, group, answer), (tg, group, edit)])
    assert bot.service is not None
    bot.service.outboxes[Platform.TELEGRAM].wake()
    await emulator.wait_for(lambda: not bot.store.outbox.pending(Platform.TELEGRAM))
    [reply] = emulator.sent(user)
    assert (reply.shown, reply.button_data) == ("<b>literal</b>", ["lang:es"])
    relayed, answered = emulator.sent(GROUP_ID)
    assert (relayed.shown, relayed.shown_edits) == ("Ana: 11h", ["Ana: 11h"])
    assert (answered.shown, answered.reply_to) == ("Bo: ok", relayed.message_id)
    assert bot.store.outbox.status(Platform.TELEGRAM, since=LONG_AGO).failed == 0


async def test_an_item_this_version_cannot_read_is_given_up_and_the_room_goes_on(
    emulator: BotApiEmulator, bot: TelegramBot
) -> None:
    user = USER_IDS["local"]
    emulator.add_user(user, "Local")
    newer = {"kind": "poll_start", "version": 1, "question": "Lunch?"}
    bot.store.outbox.enqueue(
        [
            (Platform.TELEGRAM, str(user), newer),
            *queued(Outgoing(Platform.TELEGRAM, str(user), "next", "en")),
        ]
    )
    assert bot.service is not None
    bot.service.outboxes[Platform.TELEGRAM].wake()
    await emulator.wait_for(lambda: not bot.store.outbox.pending(Platform.TELEGRAM))
    assert [message.plain_text for message in emulator.sent(user)] == ["next"]
    assert bot.store.outbox.status(Platform.TELEGRAM, since=LONG_AGO).failed == 1


async def test_a_text_telegram_cannot_parse_or_finds_too_long_is_sent_again_mended(
    emulator: BotApiEmulator, bot: TelegramBot
) -> None:
    """Stored by an earlier version: HTML Telegram refuses ("can't parse entities") goes out
    as plain text, and more than 4,096 characters in parts, the formatting kept."""
    emulator.add_group(GROUP_ID, "CAWG")
    tg, group = Platform.TELEGRAM, str(GROUP_ID)
    broken = {"relay": "text", "html": "<b>Ana</b>: 5 <3 you & <i>all"}
    long = {"relay": "text", "html": "<b>Bo</b>: " + "word " * 1000}
    bot.store.outbox.enqueue([(tg, group, broken), (tg, group, long)])
    assert bot.service is not None
    bot.service.outboxes[tg].wake()
    await emulator.wait_for(lambda: not bot.store.outbox.pending(tg))
    plain, *parts_sent = emulator.sent(GROUP_ID)
    assert (plain.parse_mode, plain.shown) == (None, "Ana: 5 <3 you & all")
    assert len(parts_sent) == 2
    assert parts_sent[0].entities[0] == {"type": "bold", "offset": 0, "length": 2}
    assert " ".join(part.shown for part in parts_sent).split() == ["Bo:", *["word"] * 1000]
    assert bot.store.outbox.status(tg, since=LONG_AGO).failed == 0


async def test_a_text_that_cannot_be_mended_fails_with_its_reason_and_no_words_logged(
    emulator: BotApiEmulator, bot: TelegramBot, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy import select

    from storage.models.outbox import OutboxMessage

    emulator.add_group(GROUP_ID, "CAWG")
    tg, group = Platform.TELEGRAM, str(GROUP_ID)
    # Broken HTML (the tag is a name), and nothing left to read once it is plain text.
    [row_id] = bot.store.outbox.enqueue([(tg, group, {"relay": "text", "html": "<ana-maria>  "})])
    assert bot.service is not None
    with caplog.at_level("INFO"):
        bot.service.outboxes[tg].wake()
        await emulator.wait_for(lambda: not bot.store.outbox.pending(tg))
    assert emulator.sent(GROUP_ID) == []
    with bot.store._sessions() as session:
        row = session.get(OutboxMessage, row_id)
        assert row is not None
        assert (row.status, row.failure_reason) == (
            "failed",
            "400 can't parse entities; nothing is left to send as plain text",
        )
        assert session.scalars(select(OutboxMessage)).all() == [row]
    assert "delivery_failed" in caplog.text
    assert "ana-maria" not in caplog.text


async def test_an_update_the_database_keeps_refusing_is_retried_with_growing_pauses(
    emulator: BotApiEmulator, bot: TelegramBot, database_url: str
) -> None:
    from bot.health import HEALTH, ReceiveState
    from tests.test_backoff import table_away

    chat = TelegramChat(emulator, bot, "local")
    with table_away(database_url, "inbound_events"):
        emulator.send_text(chat.user_id, "/help")
        await emulator.wait_for(lambda: len(bot.warnings) >= 2, timeout=15.0)
        failing = HEALTH.of(Platform.TELEGRAM)
    refused = [line for line in bot.warnings if "polling failed" in line]
    assert [line.rsplit("retrying in ", 1)[1] for line in refused[:2]] == ["1 s", "2 s"]
    assert failing is not None and failing.state is ReceiveState.FAILING
    await emulator.wait_for(lambda: len(emulator.sent(chat.user_id)) == 1, timeout=15.0)
    assert text("help.help") in emulator.sent(chat.user_id)[0].plain_text
    receiving = HEALTH.of(Platform.TELEGRAM)
    assert receiving is not None and receiving.state is ReceiveState.RECEIVING
