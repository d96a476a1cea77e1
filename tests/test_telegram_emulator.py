"""The Bot API emulator, driven by the real python-telegram-bot ``Bot`` and ``Application``."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    ChatMemberBanned,
    ChatMemberMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.harness.telegram_emulator import BotApiEmulator, parse_html, utf16_length

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

TOKEN = "123456789:AAF-emulator-test-token_0123456789ab"
ALICE = 1001
BOB = 1002
GROUP = -1001234567890


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(TOKEN) as server:
        server.add_user(ALICE, "Alice", language_code="en", username="alice")
        server.add_user(BOB, "Bob", language_code="es")
        server.add_group(GROUP, "Working group")
        yield server


@pytest.fixture
async def bot(emulator: BotApiEmulator) -> AsyncIterator[Bot]:
    async with Bot(
        TOKEN, base_url=emulator.base_url, base_file_url=emulator.base_file_url
    ) as client:
        yield client


def seconds(value: int | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(item, callback_data=item)] for item in data])


# ------------------------------------------------------------------------------------ basics


async def test_get_me(bot: Bot, emulator: BotApiEmulator) -> None:
    me = await bot.get_me()
    assert me.id == 777000111
    assert me.is_bot
    assert me.username == "caucus_test_bot"
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is True
    assert me.supports_inline_queries is False
    assert [log.method for log in emulator.requests] == ["getMe", "getMe"]  # initialize + call
    assert all(log.status == 200 for log in emulator.requests)


@pytest.mark.e2e
async def test_wrong_token_is_invalid_token() -> None:
    async with BotApiEmulator(TOKEN) as server:
        # Bot.__aenter__ calls getMe, which answers 401; the Bot shuts itself down again.
        with pytest.raises(InvalidToken, match="rejected by the server"):
            async with Bot("123456789:wrong", base_url=server.base_url):
                pass
        assert [(log.method, log.status) for log in server.requests] == [("getMe", 401)]
        assert server.requests[-1].description == "Unauthorized"


async def test_unknown_method_is_not_found(bot: Bot, emulator: BotApiEmulator) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": ALICE})
    assert emulator.requests[-1].status == 404


async def test_json_body_and_get_are_accepted(emulator: BotApiEmulator) -> None:
    url = f"{emulator.base_url}{TOKEN}"
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{url}/sendMessage",
            json={"chat_id": ALICE, "text": "<i>json</i>", "parse_mode": "HTML"},
        ) as response:
            body = await response.json()
        async with session.get(f"{url}/getMe") as response:
            me = await response.json()
        async with session.post(f"{url}/sendMessage", json={"chat_id": 5, "text": "x"}) as resp:
            missing = await resp.json()
            missing_status = resp.status
    assert body["ok"] is True
    assert body["result"]["text"] == "json"
    assert body["result"]["entities"] == [{"offset": 0, "length": 4, "type": "italic"}]
    assert me["result"]["username"] == "caucus_test_bot"
    assert missing_status == 400
    assert missing == {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
    assert emulator.sent(ALICE)[0].plain_text == "json"


# ------------------------------------------------------------------------------------ updates


async def test_long_poll_returns_command_and_offset_confirms(
    bot: Bot, emulator: BotApiEmulator
) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    assert not poll.done()  # it is waiting for an update
    emulator.send_text(ALICE, "/start@caucus_test_bot now")
    updates = await poll
    assert time.monotonic() - started < 4
    assert len(updates) == 1
    update = updates[0]
    assert update.update_id == 1
    assert update.message is not None
    assert update.message.text == "/start@caucus_test_bot now"
    assert update.message.chat.id == ALICE
    assert update.message.chat.type == "private"
    assert update.message.from_user is not None
    assert update.message.from_user.language_code == "en"
    commands = update.message.parse_entities(["bot_command"])
    assert list(commands.values()) == ["/start@caucus_test_bot"]

    # Not confirmed yet: the same update comes again.
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [1]
    # The offset confirms it and it is gone.
    assert await bot.get_updates(offset=2, timeout=0) == ()
    assert emulator.confirmed_offset == 1
    assert emulator.confirmed_offset() == 1
    assert emulator.pending_updates == []
    # The long poll ends empty at its timeout.
    started = time.monotonic()
    assert await bot.get_updates(offset=2, timeout=1) == ()
    assert 0.8 < time.monotonic() - started < 3


async def test_update_kinds_parse_in_ptb(bot: Bot, emulator: BotApiEmulator) -> None:
    sent = await bot.send_message(GROUP, "Vote?", reply_markup=keyboard("yes", "no"))
    emulator.send_text(BOB, "plain words", chat_id=GROUP, reply_to_message_id=sent.message_id)
    emulator.edit_text(BOB, GROUP, sent.message_id + 1, "edited words")
    emulator.press_button(ALICE, GROUP, sent.message_id, "yes")
    emulator.send_photo(ALICE, b"\x89PNG fake", caption="/report look")
    emulator.send_document(ALICE, b"a,b\n1,2\n", "data.csv", "text/csv", chat_id=GROUP)
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [1, 2, 3, 4, 5]
    reply, edited, pressed, photo, document = updates
    assert reply.message is not None and reply.message.reply_to_message is not None
    assert reply.message.reply_to_message.message_id == sent.message_id
    assert reply.message.chat.type == "supergroup"
    assert edited.edited_message is not None
    assert edited.edited_message.text == "edited words"
    assert edited.edited_message.edit_date is not None
    query = pressed.callback_query
    assert query is not None and query.data == "yes"
    assert query.message is not None and query.message.message_id == sent.message_id
    assert photo.message is not None and len(photo.message.photo) == 2
    assert photo.message.caption == "/report look"
    assert document.message is not None and document.message.document is not None
    assert document.message.document.file_name == "data.csv"
    downloaded = await (
        await bot.get_file(document.message.document.file_id)
    ).download_as_bytearray()
    assert bytes(downloaded) == b"a,b\n1,2\n"
    photo_file = await bot.get_file(photo.message.photo[-1].file_id)
    assert bytes(await photo_file.download_as_bytearray()) == b"\x89PNG fake"


async def test_allowed_updates_are_honoured(bot: Bot, emulator: BotApiEmulator) -> None:
    await bot.get_updates(timeout=0, allowed_updates=["callback_query"])
    ignored = emulator.send_text(ALICE, "not wanted")
    assert "update_id" not in ignored
    sent = await bot.send_message(ALICE, "pick", reply_markup=keyboard("a"))
    emulator.press_button(ALICE, ALICE, sent.message_id, "a")
    updates = await bot.get_updates(timeout=0)
    assert [u.callback_query is not None for u in updates] == [True]
    assert updates[0].update_id == 1


@pytest.mark.e2e
async def test_privacy_mode_hides_plain_group_messages() -> None:
    async with BotApiEmulator(TOKEN, can_read_all_group_messages=False) as server:
        server.add_user(ALICE, "Alice")
        server.add_group(GROUP, "Group")
        assert "update_id" not in server.send_text(ALICE, "chatter", chat_id=GROUP)
        assert server.send_text(ALICE, "/help", chat_id=GROUP)["update_id"] == 1
        assert server.send_text(ALICE, "hey @caucus_test_bot", chat_id=GROUP)["update_id"] == 2
        assert server.send_text(ALICE, "private words")["update_id"] == 3


async def test_second_poller_conflicts(bot: Bot, emulator: BotApiEmulator) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    # One Bot never overlaps its own getUpdates calls (a pool of one connection): a second
    # instance of the bot is what conflicts.
    async with Bot(TOKEN, base_url=emulator.base_url) as other:
        assert await other.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first


# ------------------------------------------------------------------------------------ sending


async def test_send_message_html_and_keyboard_recorded(bot: Bot, emulator: BotApiEmulator) -> None:
    text = '<b>Hi</b> &amp; welcome &lt;3 <a href="https://example.org/?a=1&amp;b=2">link</a> 🎉'
    message = await bot.send_message(
        ALICE, text, parse_mode=ParseMode.HTML, reply_markup=keyboard("join:7", "skip")
    )
    assert message.text == "Hi & welcome <3 link 🎉"
    assert message.message_id == 1
    bold, link = message.entities
    assert (bold.type, bold.offset, bold.length) == ("bold", 0, 2)
    assert (link.type, link.url) == ("text_link", "https://example.org/?a=1&b=2")
    assert message.parse_entity(link) == "link"
    assert message.reply_markup is not None
    assert message.reply_markup.inline_keyboard[0][0].callback_data == "join:7"

    [sent] = emulator.sent(ALICE)
    assert sent.kind == "text"
    assert sent.text == text
    assert sent.parse_mode == "HTML"
    assert sent.plain_text == "Hi & welcome <3 link 🎉"
    assert sent.reply_markup == {
        "inline_keyboard": [
            [{"text": "join:7", "callback_data": "join:7"}],
            [{"text": "skip", "callback_data": "skip"}],
        ]
    }
    assert sent.button_data == ["join:7", "skip"]
    assert emulator.all_sent == [sent]
    log = emulator.requests[-1]
    assert (log.method, log.status) == ("sendMessage", 200)
    assert log.content_type == "application/x-www-form-urlencoded"
    assert log.params["chat_id"] == str(ALICE)
    assert isinstance(log.params["reply_markup"], str)  # nested objects arrive as JSON strings


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("<b>unclosed", "Can't find end tag"),
        ("<b>x</i>", "Unmatched end tag"),
        ("<blink>x</blink>", 'Unsupported start tag "blink"'),
        ("Tom & Jerry", '"&" must be escaped'),
        ("1 < 2", "Unsupported start tag"),
        ("2 > 1", '">" must be escaped'),
        ('<span class="x">s</span>', "tg-spoiler"),
        ("&nbsp;", '"&" must be escaped'),
    ],
)
async def test_bad_html_is_bad_request(
    bot: Bot, emulator: BotApiEmulator, text: str, fragment: str
) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities") as error:
        await bot.send_message(ALICE, text, parse_mode=ParseMode.HTML)
    assert fragment.lower() in str(error.value).lower()
    assert emulator.sent(ALICE) == []


def test_html_parser_offsets_and_nesting() -> None:
    plain, entities = parse_html(
        '😀 <b>bold <i>both</i></b> <span class="tg-spoiler">s</span> '
        '<pre><code class="language-python">x = 1</code></pre>'
        " <blockquote expandable>q</blockquote> &#x27;&#39;&quot;"
    )
    assert plain == "😀 bold both s x = 1 q ''\""
    types = [(entity["type"], entity["offset"], entity["length"]) for entity in entities]
    assert types == [
        ("bold", 3, 9),
        ("italic", 8, 4),
        ("spoiler", 13, 1),
        ("pre", 15, 5),
        ("expandable_blockquote", 21, 1),
    ]
    assert entities[3]["language"] == "python"
    assert utf16_length("😀") == 2


async def test_text_length_counts_utf16_after_parsing(bot: Bot, emulator: BotApiEmulator) -> None:
    await bot.send_message(ALICE, "<b>" + "a" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(ALICE, "😀" * 2049)  # 4098 UTF-16 code units
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(ALICE, "<b> </b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(4242, "hello?")
    assert len(emulator.sent(ALICE)) == 1


@pytest.mark.parametrize(
    ("mode", "text", "fragment"),
    [
        (ParseMode.MARKDOWN_V2, "Done.", "Character '.' is reserved"),
        (ParseMode.MARKDOWN_V2, "*bold", "Can't find end of Bold entity at byte offset 0"),
        (ParseMode.MARKDOWN_V2, "a [link](http://x", "Can't find end of a URL"),
        (ParseMode.MARKDOWN, "_open", "Can't find end of the entity starting at byte offset 0"),
    ],
)
async def test_broken_markdown_is_bad_request(
    bot: Bot, emulator: BotApiEmulator, mode: str, text: str, fragment: str
) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities") as error:
        await bot.send_message(ALICE, text, parse_mode=mode)
    assert fragment.lower() in str(error.value).lower()
    assert emulator.sent(ALICE) == []


async def test_markdown_is_parsed_and_measured_after_parsing(
    bot: Bot, emulator: BotApiEmulator
) -> None:
    await bot.send_message(ALICE, "*" + "a" * 4096 + "*", parse_mode=ParseMode.MARKDOWN_V2)
    await bot.send_message(ALICE, "\\_" + "b" * 4094 + "\\.", parse_mode=ParseMode.MARKDOWN_V2)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(ALICE, "_" + "c" * 4097 + "_", parse_mode=ParseMode.MARKDOWN)
    bold, escaped = emulator.sent(ALICE)
    assert bold.shown == "a" * 4096
    assert bold.entities == [{"type": "bold", "offset": 0, "length": 4096}]
    assert escaped.shown == "_" + "b" * 4094 + "."


async def test_callback_data_limit_is_64_bytes(bot: Bot, emulator: BotApiEmulator) -> None:
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(ALICE, "x", reply_markup=keyboard("a" * 65))
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(ALICE, "x", reply_markup=keyboard("é" * 33))  # 66 bytes
    await bot.send_message(ALICE, "x", reply_markup=keyboard("é" * 32))  # 64 bytes
    assert len(emulator.sent(ALICE)) == 1


async def test_caption_limit(bot: Bot, emulator: BotApiEmulator) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
        await bot.send_photo(ALICE, b"img", caption="c" * 1025)
    await bot.send_photo(ALICE, b"img", caption="<b>" + "c" * 1024 + "</b>", parse_mode="HTML")
    [photo] = emulator.sent(ALICE)
    assert photo.kind == "photo" and photo.file_bytes == b"img"
    assert photo.plain_text == "c" * 1024


async def test_edit_delete_and_callbacks(bot: Bot, emulator: BotApiEmulator) -> None:
    message = await bot.send_message(
        ALICE, "<b>Q</b>", parse_mode="HTML", reply_markup=keyboard("y")
    )
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "<strong>Q</strong>",
            chat_id=ALICE,
            message_id=message.message_id,
            parse_mode="HTML",
            reply_markup=keyboard("y"),
        )
    edited = await bot.edit_message_text(
        "Q — answered", chat_id=ALICE, message_id=message.message_id
    )
    assert not isinstance(edited, bool) and edited.reply_markup is None  # keyboard dropped
    [sent] = emulator.sent(ALICE)
    assert sent.text == "Q — answered" and sent.edits == ["Q — answered"]
    assert sent.reply_markup is None
    await bot.edit_message_reply_markup(ALICE, message.message_id, reply_markup=keyboard("z"))
    assert sent.button_data == ["z"]
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=ALICE, message_id=99)

    update = emulator.press_button(ALICE, ALICE, message.message_id, "z")
    query_id = update["callback_query"]["id"]
    assert emulator.unanswered_callbacks() == [query_id]
    assert await bot.answer_callback_query(query_id, text="Done", show_alert=True)
    assert emulator.answered_callbacks() == {
        query_id: {"callback_query_id": query_id, "text": "Done", "show_alert": True}
    }
    assert emulator.unanswered_callbacks() == []
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query("123")
    with pytest.raises(ValueError, match="no button"):
        emulator.press_button(ALICE, ALICE, message.message_id, "gone")

    assert await bot.delete_message(ALICE, message.message_id)
    assert sent.deleted
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(ALICE, message.message_id)


async def test_document_upload_and_download_round_trip(bot: Bot, emulator: BotApiEmulator) -> None:
    payload = bytes(range(256)) * 40
    message = await bot.send_document(
        GROUP, payload, filename="minutes.pdf", caption="Minutes <i>v2</i>", parse_mode="HTML"
    )
    assert message.document is not None
    assert message.document.file_name == "minutes.pdf"
    assert message.document.file_size == len(payload)
    assert message.caption == "Minutes v2"
    [sent] = emulator.sent(GROUP)
    assert (sent.kind, sent.filename, sent.file_bytes) == ("document", "minutes.pdf", payload)
    assert sent.plain_text == "Minutes v2"
    assert emulator.requests[-1].content_type == "multipart/form-data"

    file = await bot.get_file(message.document.file_id)
    assert file.file_path is not None and file.file_path.startswith(emulator.base_file_url)
    assert bytes(await file.download_as_bytearray()) == payload
    # Sending again by file_id needs no upload.
    again = await bot.send_document(ALICE, message.document.file_id)
    assert again.document is not None and again.document.file_id == message.document.file_id
    assert emulator.sent(ALICE)[0].file_bytes == payload
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_document(ALICE, "no-such-file-id")
    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await bot.get_file("no-such-file-id")


async def test_polls(bot: Bot, emulator: BotApiEmulator) -> None:
    message = await bot.send_poll(
        GROUP, "When do we meet?", ["Monday", "Tuesday"], is_anonymous=False
    )
    assert message.poll is not None
    poll_id = message.poll.id
    update = emulator.answer_poll(BOB, poll_id, [1])
    assert update["poll_answer"]["option_ids"] == [1]
    [parsed] = await bot.get_updates(timeout=0)
    assert parsed.poll_answer is not None
    assert parsed.poll_answer.option_ids == (1,)
    assert parsed.poll_answer.user is not None and parsed.poll_answer.user.id == BOB
    stopped = await bot.stop_poll(GROUP, message.message_id)
    assert stopped.is_closed
    assert [option.voter_count for option in stopped.options] == [0, 1]
    with pytest.raises(BadRequest, match=r"(?i)already been closed"):
        await bot.stop_poll(GROUP, message.message_id)
    [sent] = emulator.sent(GROUP)
    assert sent.kind == "poll" and sent.poll is not None and sent.poll["is_closed"]


async def test_get_chat_and_leave_chat(bot: Bot, emulator: BotApiEmulator) -> None:
    chat = await bot.get_chat(GROUP)
    assert (chat.id, chat.type, chat.title) == (GROUP, "supergroup", "Working group")
    private = await bot.get_chat(ALICE)
    assert private.first_name == "Alice" and private.username == "alice"
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.get_chat(-5)
    assert await bot.leave_chat(GROUP)
    with pytest.raises(Forbidden, match="kicked from the supergroup chat"):
        await bot.send_message(GROUP, "still here?")


# ------------------------------------------------------------------------------------ faults


async def test_injected_429_is_retry_after_and_nothing_sent(
    bot: Bot, emulator: BotApiEmulator
) -> None:
    emulator.inject_fault("429", times=1)
    with pytest.raises(RetryAfter) as error:
        await bot.send_message(ALICE, "hello")
    assert seconds(error.value.retry_after) == 1
    assert emulator.sent(ALICE) == []
    assert emulator.requests[-1].status == 429
    await bot.send_message(ALICE, "hello")  # the fault was for one call only
    assert len(emulator.sent(ALICE)) == 1


@pytest.mark.parametrize("kind", ["500", "502"])
async def test_injected_5xx_is_network_error_and_nothing_sent(
    bot: Bot, emulator: BotApiEmulator, kind: Any
) -> None:
    emulator.inject_fault(kind, methods=["sendMessage"])
    for _ in range(2):
        with pytest.raises(NetworkError) as error:
            await bot.send_message(ALICE, "hello")
        assert not isinstance(error.value, RetryAfter)
    await bot.get_me()  # other methods are unaffected
    assert emulator.sent(ALICE) == []
    emulator.clear_faults()
    await bot.send_message(ALICE, "hello")
    assert len(emulator.sent(ALICE)) == 1


async def test_fault_rate_and_slow(bot: Bot, emulator: BotApiEmulator) -> None:
    emulator.inject_fault("400", rate=0.5, seed=3)
    outcomes = []
    for index in range(20):
        try:
            await bot.send_message(ALICE, f"m{index}")
            outcomes.append(True)
        except BadRequest:
            outcomes.append(False)
    assert 3 < outcomes.count(False) < 17
    assert len(emulator.sent(ALICE)) == outcomes.count(True)
    emulator.clear_faults()
    emulator.inject_fault("slow", delay=0.3, times=1, methods=["sendMessage"])
    started = time.monotonic()
    await bot.send_message(ALICE, "slow")
    assert time.monotonic() - started >= 0.3
    assert emulator.sent(ALICE)[-1].text == "slow"


async def test_blocked_user_is_forbidden(bot: Bot, emulator: BotApiEmulator) -> None:
    update = emulator.block_bot(ALICE)
    assert update["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(ALICE, "hello")
    assert emulator.sent(ALICE) == []
    emulator.unblock_bot(ALICE)
    await bot.send_message(ALICE, "welcome back")
    [blocked, unblocked] = await bot.get_updates(timeout=0)
    assert blocked.my_chat_member is not None
    assert isinstance(blocked.my_chat_member.old_chat_member, ChatMemberMember)
    assert isinstance(blocked.my_chat_member.new_chat_member, ChatMemberBanned)
    assert unblocked.my_chat_member is not None
    assert isinstance(unblocked.my_chat_member.new_chat_member, ChatMemberMember)


async def test_removed_from_group_is_forbidden(bot: Bot, emulator: BotApiEmulator) -> None:
    emulator.remove_bot_from_group(ALICE, GROUP)
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await bot.send_message(GROUP, "hello")
    assert "update_id" not in emulator.send_text(ALICE, "bot cannot see this", chat_id=GROUP)
    emulator.add_bot_to_group(ALICE, GROUP)
    await bot.send_message(GROUP, "hello again")
    statuses = [
        (u.my_chat_member.old_chat_member.status, u.my_chat_member.new_chat_member.status)
        for u in await bot.get_updates(timeout=0)
        if u.my_chat_member is not None
    ]
    assert statuses == [("member", "left"), ("left", "member")]


async def test_user_who_never_started_the_bot(bot: Bot, emulator: BotApiEmulator) -> None:
    emulator.add_user(2001, "Carol", started=False)
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await bot.send_message(2001, "hi")
    emulator.send_text(2001, "/start")
    await bot.send_message(2001, "hi")


# ------------------------------------------------------------------------------------ limits


@pytest.mark.e2e
async def test_enforce_limits_21st_group_message_within_a_minute() -> None:
    now = [1000.0]
    async with BotApiEmulator(TOKEN, enforce_limits=True, clock=lambda: now[0]) as server:
        server.add_group(GROUP, "Busy group")
        async with Bot(TOKEN, base_url=server.base_url) as client:
            for index in range(20):
                await client.send_message(GROUP, f"notice {index}")
                now[0] += 1.0
            with pytest.raises(RetryAfter) as error:
                await client.send_message(GROUP, "one too many")
            assert seconds(error.value.retry_after) == 40  # the first left 60 s after t=1000
            assert len(server.sent(GROUP)) == 20
            now[0] = 1060.0
            await client.send_message(GROUP, "allowed again")
            # One a second into one group: a second message in the same second waits.
            with pytest.raises(RetryAfter):
                await client.send_message(GROUP, "too soon")


@pytest.mark.e2e
async def test_enforce_limits_private_burst_and_global() -> None:
    now = [0.0]
    async with BotApiEmulator(TOKEN, enforce_limits=True, clock=lambda: now[0]) as server:
        for user in range(1, 40):
            server.add_user(user, f"U{user}")
        async with Bot(TOKEN, base_url=server.base_url) as client:
            for _ in range(3):
                await client.send_message(1, "burst")
            with pytest.raises(RetryAfter):
                await client.send_message(1, "fourth")
            now[0] = 5.0
            for user in range(2, 32):
                await client.send_message(user, "broadcast")
            with pytest.raises(RetryAfter):
                await client.send_message(33, "31st in one second")


# ------------------------------------------------------------------------------------ webhook


async def test_webhook_delivers_in_order_with_retry_and_secret(
    bot: Bot, emulator: BotApiEmulator
) -> None:
    received: list[tuple[int, str | None]] = []
    failures = [1]

    async def receive(request: web.Request) -> web.Response:
        body = await request.json()
        received.append((body["update_id"], request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        if failures[0]:
            failures[0] -= 1
            return web.Response(status=500)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        emulator.send_text(ALICE, "first")
        emulator.send_text(BOB, "second")
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cr3t")
        emulator.send_text(ALICE, "third")
        await emulator.wait_for(lambda: len(received) >= 4)
        assert [update_id for update_id, _ in received] == [1, 1, 2, 3]
        assert {secret for _, secret in received} == {"s3cr3t"}
        assert emulator.webhook_deliveries == [(1, 500), (1, 200), (2, 200), (3, 200)]
        assert emulator.confirmed_offset == 3
        assert emulator.webhook_url == f"http://127.0.0.1:{port}/hook"
        assert emulator.webhook_secret == "s3cr3t"
        info = await bot.get_webhook_info()
        assert info.url == emulator.webhook_url and info.pending_update_count == 0
        assert info.last_error_message is not None and "500" in info.last_error_message

        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates(timeout=0)
        assert emulator.requests[-1].status == 409

        assert await bot.delete_webhook()
        assert emulator.webhook_url is None
        emulator.send_text(ALICE, "polled again")
        [update] = await bot.get_updates(timeout=0)
        assert update.update_id == 4
    finally:
        await runner.cleanup()


async def test_webhook_target_stands_in_for_the_public_url(
    bot: Bot, emulator: BotApiEmulator
) -> None:
    received: list[int] = []

    async def receive(request: web.Request) -> web.Response:
        received.append((await request.json())["update_id"])
        return web.Response()

    app = web.Application()
    app.router.add_post("/local", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        emulator.webhook_target = f"http://127.0.0.1:{runner.addresses[0][1]}/local"
        await bot.set_webhook("https://bot.example.org/telegram", drop_pending_updates=True)
        assert emulator.webhook_secret is None
        emulator.send_text(ALICE, "via the proxy")
        await emulator.wait_for(lambda: received == [1])
        assert (await bot.get_webhook_info()).url == "https://bot.example.org/telegram"
    finally:
        await bot.delete_webhook()
        await runner.cleanup()


# ------------------------------------------------------------------------------------ commands


async def test_set_my_commands_per_language(bot: Bot, emulator: BotApiEmulator) -> None:
    from telegram import BotCommand, BotCommandScopeAllGroupChats

    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("help", "Help")])
    await bot.set_my_commands([BotCommand("start", "Empezar")], language_code="es")
    await bot.set_my_commands(
        [BotCommand("groups", "Groups")], scope=BotCommandScopeAllGroupChats()
    )
    assert emulator.commands == {
        (None, "default"): [("start", "Start"), ("help", "Help")],
        ("es", "default"): [("start", "Empezar")],
        (None, "all_group_chats"): [("groups", "Groups")],
    }
    spanish = await bot.get_my_commands(language_code="es")
    assert [(c.command, c.description) for c in spanish] == [("start", "Empezar")]
    assert await bot.get_my_commands(language_code="fr") == ()
    await bot.delete_my_commands(language_code="es")
    assert ("es", "default") not in emulator.commands
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])


# ------------------------------------------------------------------------------------ application


async def test_application_polling_end_to_end(emulator: BotApiEmulator) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(
            update.effective_chat.id,
            "<b>Welcome</b>",
            parse_mode="HTML",
            reply_markup=keyboard("ok"),
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer("noted")
        await update.callback_query.edit_message_text("Thanks")

    application = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(emulator.base_url)
        .base_file_url(emulator.base_file_url)
        .build()
    )
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CallbackQueryHandler(pressed))
    async with application:
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0.0, timeout=1)
        await application.start()
        try:
            emulator.send_text(ALICE, "/start")
            await emulator.wait_for(lambda: len(emulator.sent(ALICE)) == 1)
            [welcome] = emulator.sent(ALICE)
            assert welcome.plain_text == "Welcome"
            emulator.press_button(ALICE, ALICE, welcome.message_id, "ok")
            await emulator.wait_for(lambda: welcome.text == "Thanks")
            assert [a.get("text") for a in emulator.answered_callbacks().values()] == ["noted"]
            await emulator.wait_for(lambda: emulator.confirmed_offset >= 1)
        finally:
            await application.updater.stop()
            await application.stop()


async def test_wait_for_times_out_helpfully(emulator: BotApiEmulator) -> None:
    with pytest.raises(TimeoutError, match=r"not met within 0\.05 s") as error:
        await emulator.wait_for(lambda: False, timeout=0.05)
    assert "last calls" in str(error.value)


# ------------------------------------------------------------------------ members' messages


async def test_member_text_carries_the_given_entities_and_reply(
    bot: Bot, emulator: BotApiEmulator
) -> None:
    sent = await bot.send_message(GROUP, "agenda")
    text, entities = parse_html('😀 <b>bold</b> <a href="https://example.org">site</a>')
    entities.append(
        {
            "type": "text_mention",
            "offset": 0,
            "length": 2,
            "user": {"id": BOB, "is_bot": False, "first_name": "Bob"},
        }
    )
    emulator.send_text(
        ALICE, text, chat_id=GROUP, entities=entities, reply_to_message_id=sent.message_id
    )
    emulator.send_text(ALICE, "/help now", chat_id=GROUP)  # no entities given: the command's
    [formatted, command] = await bot.get_updates(timeout=0)
    message = formatted.message
    assert message is not None and message.text == "😀 bold site"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 3, 4),
        ("text_link", 8, 4),
        ("text_mention", 0, 2),
    ]
    assert message.entities[1].url == "https://example.org"
    assert message.entities[2].user is not None and message.entities[2].user.id == BOB
    assert message.parse_entity(message.entities[0]) == "bold"
    assert message.reply_to_message is not None
    assert message.reply_to_message.message_id == sent.message_id
    assert command.message is not None and command.message.entities[0].type == "bot_command"
    with pytest.raises(ValueError, match=r"(?i)outside the text"):
        emulator.send_text(ALICE, "short", entities=[{"type": "bold", "offset": 3, "length": 5}])


async def test_member_edits_text_and_caption_with_entities(
    bot: Bot, emulator: BotApiEmulator
) -> None:
    text = emulator.send_text(ALICE, "first", chat_id=GROUP)["message"]["message_id"]
    document = emulator.send_document(
        ALICE,
        b"x",
        "a.txt",
        "text/plain",
        chat_id=GROUP,
        caption="old",
        caption_entities=[{"type": "italic", "offset": 0, "length": 3}],
    )["message"]["message_id"]
    queued = emulator.pending_updates
    emulator.edit_text(
        ALICE, GROUP, text, "second", entities=[{"type": "bold", "offset": 0, "length": 6}]
    )
    emulator.edit_caption(
        ALICE,
        GROUP,
        document,
        "new caption",
        caption_entities=[{"type": "underline", "offset": 0, "length": 3}],
    )
    emulator.edit_caption(ALICE, GROUP, document, "")
    assert emulator.pending_updates[:2] == queued  # what was queued stays as it was sent
    updates = await bot.get_updates(timeout=0)
    assert updates[0].message is not None and updates[0].message.text == "first"
    assert updates[1].message is not None and updates[1].message.caption_entities[0].type == (
        "italic"
    )
    edited_text, edited_caption, removed = (u.edited_message for u in updates[2:])
    assert edited_text is not None and edited_text.text == "second"
    assert edited_text.entities[0].type == "bold"
    assert edited_caption is not None and edited_caption.caption == "new caption"
    assert edited_caption.caption_entities[0].type == "underline"
    assert edited_caption.document is not None
    assert removed is not None and removed.caption is None and removed.edit_date is not None
    with pytest.raises(ValueError, match=r"(?i)no caption"):
        emulator.edit_caption(ALICE, GROUP, text, "x")
    with pytest.raises(ValueError, match=r"(?i)no text"):
        emulator.edit_text(ALICE, GROUP, document, "x")
    with pytest.raises(ValueError, match=r"(?i)not user"):
        emulator.edit_text(BOB, GROUP, text, "x")


@pytest.mark.parametrize(
    ("kind", "mime_type"),
    [
        ("photo", None),
        ("document", "application/pdf"),
        ("voice", None),
        ("audio", "audio/mpeg"),
        ("video", None),
        ("animation", None),
        ("video_note", None),
        ("sticker", "application/x-tgsticker"),
    ],
)
async def test_each_media_kind_a_member_sends_parses_and_downloads(
    bot: Bot, emulator: BotApiEmulator, kind: Any, mime_type: str | None
) -> None:
    captioned = kind not in ("sticker", "video_note")
    emulator.send_media(
        ALICE,
        kind,
        b"bytes of " + kind.encode(),
        chat_id=GROUP,
        filename="clip.bin",
        mime_type=mime_type,
        caption="look" if captioned else None,
    )
    [update] = await bot.get_updates(timeout=0)
    message = update.message
    assert message is not None
    attachment: Any = message.photo[-1] if kind == "photo" else getattr(message, kind)
    assert attachment is not None
    assert attachment.file_size == len(b"bytes of " + kind.encode())
    file = await bot.get_file(attachment.file_id)
    assert bytes(await file.download_as_bytearray()) == b"bytes of " + kind.encode()
    assert message.caption == ("look" if captioned else None)
    if kind == "animation":
        assert message.document is not None  # Telegram sends an animation as a document too
    if kind == "sticker":
        assert message.sticker is not None and message.sticker.is_animated
    if kind in ("document", "audio", "video", "animation"):
        assert attachment.file_name == "clip.bin"
    if mime_type is not None and kind != "sticker":
        assert attachment.mime_type == mime_type


async def test_location_venue_contact_poll_dice_and_other_content(
    bot: Bot, emulator: BotApiEmulator
) -> None:
    emulator.send_location(ALICE, -12.05, -77.04, chat_id=GROUP)
    emulator.send_location(ALICE, -12.05, -77.04, chat_id=GROUP, title="Office", address="Lima")
    emulator.send_contact(ALICE, "+51 1 555 0100", "Carla", chat_id=GROUP)
    emulator.send_poll_message(ALICE, "Lunch?", ["yes", "no"], chat_id=GROUP)
    emulator.send_dice(ALICE, chat_id=GROUP)
    emulator.send_content(
        ALICE, {"story": {"chat": {"id": ALICE, "type": "private"}, "id": 7}}, chat_id=GROUP
    )
    messages = [u.message for u in await bot.get_updates(timeout=0)]
    assert all(message is not None for message in messages)
    location, venue, contact, poll, dice, story = messages
    assert location is not None and location.location is not None
    assert location.location.latitude == -12.05
    assert venue is not None and venue.venue is not None and venue.location is not None
    assert venue.venue.title == "Office"
    assert contact is not None and contact.contact is not None
    assert contact.contact.first_name == "Carla"
    assert poll is not None and poll.poll is not None and poll.poll.question == "Lunch?"
    assert dice is not None and dice.dice is not None and dice.dice.value == 4
    assert story is not None and story.story is not None and story.story.id == 7


async def test_a_file_declared_over_20_mb_cannot_be_fetched(
    bot: Bot, emulator: BotApiEmulator
) -> None:
    update = emulator.send_document(
        ALICE, b"head", "big.zip", "application/zip", declared_size=25 * 1024 * 1024
    )
    assert update["message"]["document"]["file_size"] == 25 * 1024 * 1024
    with pytest.raises(BadRequest, match=r"(?i)file is too big"):
        await bot.get_file(update["message"]["document"]["file_id"])
    emulator.download_limit = 3
    small = emulator.send_document(ALICE, b"four", "four.txt", "text/plain")
    with pytest.raises(BadRequest, match=r"(?i)file is too big"):
        await bot.get_file(small["message"]["document"]["file_id"])


async def test_forum_topic_messages_answer_the_topic_root(
    bot: Bot, emulator: BotApiEmulator
) -> None:
    forum = -100777
    emulator.add_group(forum, "Forum", forum=True)
    topic = emulator.open_topic(ALICE, forum, "Logistics")["message"]["message_id"]
    first = emulator.send_text(ALICE, "in the topic", chat_id=forum, message_thread_id=topic)
    emulator.send_text(
        BOB, "answer", chat_id=forum, reply_to_message_id=first["message"]["message_id"]
    )
    created, plain, answer = (u.message for u in await bot.get_updates(timeout=0))
    assert created is not None and created.forum_topic_created is not None
    assert created.chat.is_forum
    assert plain is not None and plain.is_topic_message and plain.message_thread_id == topic
    assert plain.reply_to_message is not None
    assert plain.reply_to_message.forum_topic_created is not None
    assert answer is not None and answer.message_thread_id == topic
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.message_id == first["message"]["message_id"]
    sent = await bot.send_message(forum, "bot in topic", message_thread_id=topic)
    assert sent.message_thread_id == topic and emulator.sent(forum)[0].thread_id == topic
    with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
        await bot.send_message(forum, "nowhere", message_thread_id=999)


# ------------------------------------------------------------------------ bot media, edits


async def test_voice_audio_and_video_are_sent_with_caption_and_reply(
    bot: Bot, emulator: BotApiEmulator
) -> None:
    asked = emulator.send_text(ALICE, "send me the files", chat_id=GROUP)["message"]
    reply = ReplyParameters(asked["message_id"], allow_sending_without_reply=True)
    voice = await bot.send_voice(
        GROUP,
        b"OggS voice",
        filename="v.ogg",
        caption="<b>hear</b>",
        parse_mode="HTML",
        reply_parameters=reply,
    )
    audio = await bot.send_audio(GROUP, b"ID3 song", filename="song.mp3")
    video = await bot.send_video(GROUP, b"mp4 video", filename="clip.mp4", caption="watch")
    assert voice.voice is not None and audio.audio is not None and video.video is not None
    assert audio.audio.file_name == "song.mp3" and video.caption == "watch"
    sent = emulator.sent(GROUP)
    assert [(m.kind, m.file_bytes, m.filename) for m in sent] == [
        ("voice", b"OggS voice", "v.ogg"),
        ("audio", b"ID3 song", "song.mp3"),
        ("video", b"mp4 video", "clip.mp4"),
    ]
    assert sent[0].shown == "hear" and sent[0].plain_text == "hear"
    assert sent[0].entities == [{"offset": 0, "length": 4, "type": "bold"}]
    assert sent[0].reply_to == asked["message_id"] and sent[1].reply_to is None
    file = await bot.get_file(voice.voice.file_id)
    assert bytes(await file.download_as_bytearray()) == b"OggS voice"


async def test_uploads_past_the_limits_are_refused(bot: Bot, emulator: BotApiEmulator) -> None:
    emulator.upload_limit = 1000
    emulator.photo_limit = 100
    with pytest.raises(NetworkError, match=r"(?i)Request Entity Too Large") as error:
        await bot.send_document(ALICE, b"x" * 1001, filename="big.bin")
    assert not isinstance(error.value, BadRequest)
    assert emulator.requests[-1].status == 413
    with pytest.raises(BadRequest, match=r"(?i)too big for a photo"):
        await bot.send_photo(ALICE, b"x" * 101)
    await bot.send_document(ALICE, b"x" * 101, filename="photo.jpg")
    assert [m.kind for m in emulator.sent(ALICE)] == ["document"]


async def test_replies_name_the_replied_message_or_are_refused(
    bot: Bot, emulator: BotApiEmulator
) -> None:
    question = await bot.send_message(ALICE, "question")
    answer = await bot.send_message(
        ALICE, "answer", reply_parameters=ReplyParameters(question.message_id)
    )
    assert answer.reply_to_message is not None
    await bot.delete_message(ALICE, question.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(ALICE, "late", reply_parameters=ReplyParameters(question.message_id))
    await bot.send_message(
        ALICE,
        "late",
        reply_parameters=ReplyParameters(question.message_id, allow_sending_without_reply=True),
    )
    assert [m.reply_to for m in emulator.sent(ALICE)] == [None, question.message_id, None]


async def test_edits_record_the_shown_text_and_refuse_no_change(
    bot: Bot, emulator: BotApiEmulator
) -> None:
    message = await bot.send_message(GROUP, "<b>plan</b> A", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("<b>plan</b> A", GROUP, message.message_id, parse_mode="HTML")
    await bot.edit_message_text("<i>plan</i> A", GROUP, message.message_id, parse_mode="HTML")
    await bot.edit_message_text("<i>plan</i> B", GROUP, message.message_id, parse_mode="HTML")
    [sent] = emulator.sent(GROUP)
    assert sent.shown_edits == ["plan A", "plan B"]
    assert sent.edits == ["<i>plan</i> A", "<i>plan</i> B"]
    assert sent.entities == [{"offset": 0, "length": 4, "type": "italic"}]
    with pytest.raises(BadRequest, match=r"(?i)there is no caption in the message to edit"):
        await bot.edit_message_caption(GROUP, message.message_id, caption="x")

    photo = await bot.send_photo(GROUP, b"jpeg", caption="before")
    with pytest.raises(BadRequest, match=r"(?i)there is no text in the message to edit"):
        await bot.edit_message_text("x", GROUP, photo.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_caption(GROUP, photo.message_id, caption="before")
    await bot.edit_message_caption(
        GROUP, photo.message_id, caption="<u>after</u>", parse_mode="HTML"
    )
    picture = emulator.sent(GROUP)[1]
    assert (picture.shown, picture.shown_edits) == ("after", ["after"])
    assert picture.entities == [{"offset": 0, "length": 5, "type": "underline"}]
    current = emulator.message(GROUP, photo.message_id)
    assert current is not None and current["caption"] == "after"


async def test_delete_message_follows_telegrams_rules(bot: Bot, emulator: BotApiEmulator) -> None:
    fresh = await bot.send_message(GROUP, "fresh")
    old = await bot.send_message(GROUP, "old")
    member = emulator.send_text(ALICE, "mine", chat_id=GROUP)["message"]["message_id"]
    private = emulator.send_text(ALICE, "private words")["message"]["message_id"]
    assert await bot.delete_message(GROUP, fresh.message_id)
    assert emulator.sent(GROUP)[0].deleted and emulator.is_deleted(GROUP, fresh.message_id)
    assert emulator.message(GROUP, fresh.message_id) is None
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(GROUP, fresh.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(GROUP, 999)
    emulator.age_message(GROUP, old.message_id, hours=49)
    with pytest.raises(BadRequest, match=r"(?i)message can't be deleted"):
        await bot.delete_message(GROUP, old.message_id)
    emulator.age_message(GROUP, old.message_id, hours=-2)  # 47 hours old: still deletable
    assert await bot.delete_message(GROUP, old.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message can't be deleted"):
        await bot.delete_message(GROUP, member)  # a member's, and the bot is no admin
    assert await bot.delete_message(ALICE, private)  # in private chats the bot may
    assert emulator.is_deleted(ALICE, private) and not emulator.is_deleted(GROUP, member)
    moderated = -100888
    emulator.add_group(moderated, "Moderated", bot_can_delete_messages=True)
    theirs = emulator.send_text(BOB, "spam", chat_id=moderated)["message"]["message_id"]
    assert await bot.delete_message(moderated, theirs)
