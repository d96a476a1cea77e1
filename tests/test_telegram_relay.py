"""Relaying on Telegram: ``TelegramSender`` delivering rendered payloads, the Telegram
``MediaSource``, and ``translate_update`` on what members post, all against the Bot API
emulator with the bot's own python-telegram-bot Application."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from telegram import Update
from telegram.ext import Application

from bot.media import (
    TELEGRAM_PHOTO_LIMIT,
    MediaSource,
    MediaTooLarge,
    MediaUnavailable,
)
from bot.outbox import FloodControl, PermanentFailure, TransientFailure
from bot.outgoing import BotMessage, FileSource
from bot.transports.telegram.events import translate_update
from bot.transports.telegram.media import TelegramMediaSource
from bot.transports.telegram.payloads import (
    TelegramDeletion,
    TelegramEdit,
    TelegramPayload,
    TelegramRelayFile,
    TelegramText,
)
from bot.transports.telegram.render import render
from bot.transports.telegram.sender import TelegramSender
from bot.types import (
    MediaKind,
    MediaReceived,
    MessageEdited,
    Platform,
    RenderedChoice,
    Span,
    SpanKind,
    TextMessage,
    Unrelayable,
    UnrelayableKind,
)
from tests.harness.telegram_emulator import MB, BotApiEmulator, parse_html
from tests.harness.telegram_harness import TelegramGroup, make_token, telegram_application

App = Application[Any, Any, Any, Any, Any, Any]
ANA, BEA = 1004, 1005
GROUP, OTHER_GROUP, FORUM = -100111, -100222, -100333
JPEG = b"\xff\xd8\xff\xe0 a tiny jpeg"
PNG = b"\x89PNG\r\n\x1a\n a tiny png"


class MatrixFiles:
    """A stand-in for the Matrix transport's MediaSource: files by mxc URL, in memory."""

    platform = Platform.MATRIX

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self.files = dict(files)
        self.fetched: list[tuple[str, int]] = []

    async def fetch(self, ref: str, max_bytes: int) -> bytes:
        self.fetched.append((ref, max_bytes))
        if ref not in self.files:
            raise MediaUnavailable("redacted")
        if len(self.files[ref]) > max_bytes:
            raise MediaTooLarge(len(self.files[ref]))
        return self.files[ref]


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(make_token()) as running:
        running.add_user(ANA, "Ana")
        running.add_user(BEA, "Bea", language_code="es")
        running.add_group(GROUP, "CAWG")
        running.add_group(OTHER_GROUP, "CAWG Lima")
        running.add_group(FORUM, "CAWG forum", forum=True)
        yield running


@pytest.fixture
async def application(emulator: BotApiEmulator) -> AsyncIterator[App]:
    app = telegram_application(emulator)
    async with app:
        yield app


@pytest.fixture
def matrix_files() -> MatrixFiles:
    return MatrixFiles({})


@pytest.fixture
def sender(application: App, matrix_files: MatrixFiles) -> TelegramSender:
    sending = TelegramSender(application)
    sources: dict[Platform, MediaSource] = {
        Platform.TELEGRAM: TelegramMediaSource(application.bot),
        Platform.MATRIX: matrix_files,
    }
    sending.media_sources.update(sources)
    return sending


def ref(message_id: int | str | None) -> int | None:
    return None if message_id is None else int(message_id)


def text(html: str, reply_to: int | str | None = None) -> TelegramText:
    return TelegramText(html, reply_to=ref(reply_to))


def media(
    kind: MediaKind,
    source_ref: str,
    *,
    platform: Platform = Platform.MATRIX,
    filename: str | None = "file.bin",
    content_type: str | None = None,
    size: int | None = None,
    html: str = "",
    reply_to: int | None = None,
) -> TelegramRelayFile:
    return TelegramRelayFile(
        kind=kind,
        source=FileSource(platform, source_ref, filename, content_type, size),
        caption_html=html,
        fallback_html="<i>Ana sent a file that cannot be shown here.</i>",
        reply_to=ref(reply_to),
    )


async def deliver(sender: TelegramSender, chat_id: int, payload: TelegramPayload) -> str | None:
    return await sender.deliver(str(chat_id), payload, "outbox-1")


# ---------------------------------------------------------------------------------- text


async def test_relayed_text_keeps_its_formatting_and_answers_the_replied_message(
    emulator: BotApiEmulator, sender: TelegramSender
) -> None:
    question = emulator.send_text(ANA, "Who comes?", chat_id=GROUP)["message"]["message_id"]
    html = '<b>Bea</b>: me, see <a href="https://example.org/a?b=1&amp;c=2">the plan</a>'
    message_id = await deliver(sender, GROUP, text(html, reply_to=question))
    [sent] = emulator.sent(GROUP)
    assert message_id == str(sent.message_id)
    assert sent.shown == "Bea: me, see the plan"
    assert [entity["type"] for entity in sent.entities] == ["bold", "text_link"]
    assert sent.reply_to == question
    [call] = emulator.methods_called("sendMessage")
    assert "link_preview_options" not in call.params  # previews stay on for relayed links


async def test_relayed_text_answering_a_deleted_message_is_still_sent(
    emulator: BotApiEmulator, sender: TelegramSender
) -> None:
    await deliver(sender, GROUP, text("hello", reply_to=99))
    assert emulator.sent(GROUP)[0].reply_to is None
    await deliver(sender, GROUP, text("again", reply_to=None))
    assert [sent.shown for sent in emulator.sent(GROUP)] == ["hello", "again"]


async def test_the_bots_own_replies_are_sent_as_before(
    emulator: BotApiEmulator, sender: TelegramSender
) -> None:
    choices = (RenderedChoice("a", "A"),)
    await deliver(sender, ANA, render(BotMessage("<b>literal</b> & https://x.org", choices)))
    [sent] = emulator.sent(ANA)
    assert sent.shown == "<b>literal</b> & https://x.org"
    assert sent.button_data == ["a"]
    [call] = emulator.methods_called("sendMessage")
    assert "is_disabled" in str(call.params["link_preview_options"])


# ---------------------------------------------------------------------------------- edits


def edit(target: int | str | None, html: str) -> TelegramEdit:
    return TelegramEdit(target=ref(target), html=html, fallback_html=f"<i>edited:</i> {html}")


async def test_an_edit_changes_the_relayed_message(
    emulator: BotApiEmulator, sender: TelegramSender
) -> None:
    first = await deliver(sender, GROUP, text("<b>Ana</b>: 10h"))
    assert first is not None
    assert await deliver(sender, GROUP, edit(int(first), "<b>Ana</b>: 11h")) == first
    [sent] = emulator.sent(GROUP)
    assert sent.shown_edits == ["Ana: 11h"]


async def test_an_edit_that_changes_nothing_is_done(
    emulator: BotApiEmulator, sender: TelegramSender
) -> None:
    first = await deliver(sender, GROUP, text("<b>Ana</b>: 10h"))
    assert first is not None
    assert await deliver(sender, GROUP, edit(int(first), "<strong>Ana</strong>: 10h")) == first
    assert len(emulator.sent(GROUP)) == 1 and emulator.sent(GROUP)[0].shown_edits == []
    assert emulator.methods_called("editMessageText")[-1].status == 400


async def test_an_edit_of_a_relayed_file_changes_its_caption(
    emulator: BotApiEmulator, sender: TelegramSender, matrix_files: MatrixFiles
) -> None:
    matrix_files.files["mxc://h/photo"] = JPEG
    sent_id = await deliver(sender, GROUP, media(MediaKind.PHOTO, "mxc://h/photo", html="old"))
    assert sent_id is not None
    assert await deliver(sender, GROUP, edit(int(sent_id), "<u>new</u>")) == sent_id
    [photo] = emulator.sent(GROUP)
    assert (photo.kind, photo.shown, photo.shown_edits) == ("photo", "new", ["new"])


@pytest.mark.parametrize("target", ["none", "deleted", "a members"])
async def test_an_edit_that_cannot_be_made_is_sent_as_a_new_message(
    emulator: BotApiEmulator, sender: TelegramSender, target: str
) -> None:
    target_id: int | None = None
    if target == "deleted":
        sent = await deliver(sender, GROUP, text("gone soon"))
        assert sent is not None
        target_id = int(sent)
        await deliver(sender, GROUP, TelegramDeletion(target=ref(sent), fallback_html="x"))
    elif target == "a members":
        target_id = emulator.send_text(ANA, "mine", chat_id=GROUP)["message"]["message_id"]
    new_id = await deliver(sender, GROUP, edit(target_id, "<b>fixed</b>"))
    last = emulator.sent(GROUP)[-1]
    assert new_id == str(last.message_id)
    assert last.shown == "edited: fixed" and not last.deleted


# ---------------------------------------------------------------------------------- deletions


def delete(target: int | str | None) -> TelegramDeletion:
    return TelegramDeletion(target=ref(target), fallback_html="<i>Ana deleted a message.</i>")


async def test_a_deletion_removes_the_relayed_message(
    emulator: BotApiEmulator, sender: TelegramSender
) -> None:
    sent = await deliver(sender, GROUP, text("oops"))
    assert sent is not None
    assert await deliver(sender, GROUP, delete(sent)) is None
    assert emulator.is_deleted(GROUP, int(sent))


async def test_a_deletion_of_nothing_or_of_a_gone_message_does_nothing(
    emulator: BotApiEmulator, sender: TelegramSender
) -> None:
    assert await deliver(sender, GROUP, delete(None)) is None
    assert emulator.methods_called("deleteMessage") == []
    assert await deliver(sender, GROUP, delete(404)) is None
    assert emulator.sent(GROUP) == []


async def test_a_message_older_than_48_hours_gets_a_notice_instead(
    emulator: BotApiEmulator, sender: TelegramSender
) -> None:
    sent = await deliver(sender, GROUP, text("from last week"))
    assert sent is not None
    emulator.age_message(GROUP, int(sent), hours=49)
    notice = await deliver(sender, GROUP, delete(sent))
    original, added = emulator.sent(GROUP)
    assert not original.deleted
    assert notice == str(added.message_id)
    assert added.shown == "Ana deleted a message." and added.reply_to == int(sent)


# ---------------------------------------------------------------------------------- media


async def test_a_members_photo_is_relayed_to_another_group_with_caption_and_reply(
    emulator: BotApiEmulator, sender: TelegramSender
) -> None:
    update = emulator.send_photo(ANA, JPEG, chat_id=GROUP, caption="the venue")
    file_id = update["message"]["photo"][-1]["file_id"]
    earlier = emulator.send_text(BEA, "where?", chat_id=OTHER_GROUP)["message"]["message_id"]
    payload = media(
        MediaKind.PHOTO,
        file_id,
        platform=Platform.TELEGRAM,
        filename=None,
        content_type="image/jpeg",
        html="<b>Ana</b>: the venue",
        reply_to=earlier,
    )
    sent_id = await deliver(sender, OTHER_GROUP, payload)
    [photo] = emulator.sent(OTHER_GROUP)
    assert sent_id == str(photo.message_id)
    assert (photo.kind, photo.file_bytes, photo.shown) == ("photo", JPEG, "Ana: the venue")
    assert photo.entities == [{"offset": 0, "length": 3, "type": "bold"}]
    assert photo.reply_to == earlier
    assert emulator.requests[-1].params["parse_mode"] == "HTML"


@pytest.mark.parametrize(
    ("kind", "data", "content_type", "sent_as"),
    [
        (MediaKind.PHOTO, JPEG, "image/jpeg", "photo"),
        (MediaKind.PHOTO, PNG, None, "photo"),  # no type given: the bytes tell
        (MediaKind.PHOTO, b"BM a bitmap", "image/bmp", "document"),
        (MediaKind.STICKER, b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp", "photo"),
        (MediaKind.STICKER, b"tgs", "application/x-tgsticker", "document"),
        (MediaKind.VOICE, b"OggS voice", "audio/ogg", "voice"),
        (MediaKind.AUDIO, b"ID3 song", "audio/mpeg", "audio"),
        (MediaKind.VIDEO, b"mp4 video", "video/mp4", "video"),
        (MediaKind.DOCUMENT, b"%PDF", "application/pdf", "document"),
        (MediaKind.OTHER, b"???", None, "document"),
    ],
)
async def test_each_kind_of_file_goes_by_the_method_telegram_shows_best(
    emulator: BotApiEmulator,
    sender: TelegramSender,
    matrix_files: MatrixFiles,
    kind: MediaKind,
    data: bytes,
    content_type: str | None,
    sent_as: str,
) -> None:
    matrix_files.files["mxc://h/f"] = data
    await deliver(
        sender,
        GROUP,
        media(kind, "mxc://h/f", filename="upload.dat", content_type=content_type, html="caption"),
    )
    [sent] = emulator.sent(GROUP)
    assert (sent.kind, sent.file_bytes, sent.filename, sent.shown) == (
        sent_as,
        data,
        "upload.dat",
        "caption",
    )
    assert matrix_files.fetched == [("mxc://h/f", 50 * MB)]


async def test_a_file_without_a_name_is_named_for_its_type(
    emulator: BotApiEmulator, sender: TelegramSender, matrix_files: MatrixFiles
) -> None:
    matrix_files.files["mxc://h/f"] = b"%PDF"
    await deliver(
        sender,
        GROUP,
        media(MediaKind.DOCUMENT, "mxc://h/f", filename=None, content_type="application/pdf"),
    )
    assert emulator.sent(GROUP)[0].filename == "file.pdf"
    assert emulator.sent(GROUP)[0].caption is None


async def test_a_photo_over_10_mb_goes_as_a_document(
    emulator: BotApiEmulator, sender: TelegramSender, matrix_files: MatrixFiles
) -> None:
    big = JPEG + bytes(TELEGRAM_PHOTO_LIMIT)
    matrix_files.files["mxc://h/big"] = big
    await deliver(sender, GROUP, media(MediaKind.PHOTO, "mxc://h/big", content_type="image/jpeg"))
    [sent] = emulator.sent(GROUP)
    assert sent.kind == "document" and sent.file_bytes == big
    assert emulator.methods_called("sendPhoto") == []


async def test_a_photo_telegram_refuses_goes_as_a_document(
    emulator: BotApiEmulator, sender: TelegramSender, matrix_files: MatrixFiles
) -> None:
    emulator.photo_limit = 4  # stands in for dimensions Telegram will not take
    matrix_files.files["mxc://h/wide"] = JPEG
    await deliver(
        sender,
        GROUP,
        media(MediaKind.PHOTO, "mxc://h/wide", content_type="image/jpeg", html="<i>panorama</i>"),
    )
    [sent] = emulator.sent(GROUP)
    assert (sent.kind, sent.shown) == ("document", "panorama")
    assert [log.status for log in emulator.methods_called("sendPhoto")] == [400]


@pytest.mark.parametrize("problem", ["unavailable", "declared over 50 MB", "upload refused"])
async def test_a_file_that_cannot_be_relayed_is_described_instead(
    emulator: BotApiEmulator, sender: TelegramSender, matrix_files: MatrixFiles, problem: str
) -> None:
    payload = media(MediaKind.DOCUMENT, "mxc://h/missing", reply_to=None)
    if problem == "declared over 50 MB":
        matrix_files.files["mxc://h/missing"] = b"x"
        payload = dataclasses.replace(
            payload, source=dataclasses.replace(payload.source, size=51 * MB)
        )
    if problem == "upload refused":
        matrix_files.files["mxc://h/missing"] = b"x" * 2000
        emulator.upload_limit = 1000
    sent_id = await deliver(sender, GROUP, payload)
    [notice] = emulator.sent(GROUP)
    assert (notice.kind, notice.shown) == ("text", "Ana sent a file that cannot be shown here.")
    assert sent_id == str(notice.message_id)
    if problem == "declared over 50 MB":
        assert matrix_files.fetched == []


async def test_a_telegram_file_over_20_mb_is_described_instead(
    emulator: BotApiEmulator, sender: TelegramSender
) -> None:
    update = emulator.send_document(
        ANA, b"zip", "big.zip", "application/zip", chat_id=GROUP, declared_size=25 * MB
    )
    file_id = update["message"]["document"]["file_id"]
    await deliver(
        sender,
        OTHER_GROUP,
        media(MediaKind.DOCUMENT, file_id, platform=Platform.TELEGRAM, size=25 * MB),
    )
    [notice] = emulator.sent(OTHER_GROUP)
    assert notice.kind == "text"


# ---------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("fault", "expected", "unreachable"),
    [
        ("429", FloodControl, False),
        ("403", PermanentFailure, True),
        ("500", TransientFailure, False),
        ("502", TransientFailure, False),
        ("400", PermanentFailure, False),
    ],
)
async def test_telegrams_refusals_become_wait_retry_or_give_up(
    emulator: BotApiEmulator,
    sender: TelegramSender,
    fault: Any,
    expected: type[Exception],
    unreachable: bool,
) -> None:
    for payload in (text("hi"), edit(1, "x"), delete(1)):
        emulator.inject_fault(fault, times=1)
        with pytest.raises(expected) as raised:
            await deliver(sender, GROUP, payload)
        if isinstance(raised.value, PermanentFailure):
            assert raised.value.unreachable is unreachable
        if isinstance(raised.value, FloodControl):
            assert raised.value.seconds == 1


async def test_a_chat_that_does_not_exist_is_unreachable(sender: TelegramSender) -> None:
    with pytest.raises(PermanentFailure) as raised:
        await deliver(sender, -100999, text("anyone?"))
    assert raised.value.unreachable


async def test_a_media_fetch_in_trouble_is_retried(
    emulator: BotApiEmulator, sender: TelegramSender
) -> None:
    update = emulator.send_document(ANA, b"doc", "a.txt", "text/plain", chat_id=GROUP)
    file_id = update["message"]["document"]["file_id"]
    emulator.inject_fault("500", methods=["getFile"], times=1)
    with pytest.raises(TransientFailure):
        await deliver(
            sender, OTHER_GROUP, media(MediaKind.DOCUMENT, file_id, platform=Platform.TELEGRAM)
        )
    assert emulator.sent(OTHER_GROUP) == []
    await deliver(
        sender, OTHER_GROUP, media(MediaKind.DOCUMENT, file_id, platform=Platform.TELEGRAM)
    )
    assert emulator.sent(OTHER_GROUP)[0].file_bytes == b"doc"


# ---------------------------------------------------------------------------------- media source


async def test_the_media_source_downloads_a_members_file(
    emulator: BotApiEmulator, application: App
) -> None:
    source = TelegramMediaSource(application.bot)
    update = emulator.send_media(ANA, "voice", b"OggS", chat_id=GROUP)
    assert await source.fetch(update["message"]["voice"]["file_id"], 50 * MB) == b"OggS"
    assert source.platform is Platform.TELEGRAM


async def test_the_media_source_refuses_what_is_too_large_or_gone(
    emulator: BotApiEmulator, application: App
) -> None:
    source = TelegramMediaSource(application.bot)
    big = emulator.send_document(
        ANA, b"x", "big.iso", "application/octet-stream", declared_size=21 * MB
    )["message"]["document"]["file_id"]
    with pytest.raises(MediaTooLarge):
        await source.fetch(big, 50 * MB)
    small = emulator.send_document(ANA, b"12345", "five.txt", "text/plain")
    with pytest.raises(MediaTooLarge) as caught:
        await source.fetch(small["message"]["document"]["file_id"], 4)
    assert caught.value.size == 5
    with pytest.raises(MediaUnavailable):
        await source.fetch("no-such-file", 50 * MB)
    emulator.inject_fault("429", methods=["getFile"], times=1)
    with pytest.raises(TransientFailure):
        await source.fetch(small["message"]["document"]["file_id"], 50 * MB)


# ---------------------------------------------------------------------------------- inbound


def translated(application: App, update: dict[str, Any]) -> Any:
    assert "update_id" in update, "the bot would not see this"
    return translate_update(Update.de_json(update, application.bot), "caucus_test_bot")


async def test_formatted_text_and_its_reply_are_read(
    emulator: BotApiEmulator, application: App
) -> None:
    first = emulator.send_text(BEA, "plan?", chat_id=GROUP)["message"]["message_id"]
    text, entities = parse_html('😀 <b>yes</b> <a href="tg://user?id=1005">Bea</a> <code>x</code>')
    event = translated(
        application,
        emulator.send_text(ANA, text, chat_id=GROUP, entities=entities, reply_to_message_id=first),
    )
    assert isinstance(event, TextMessage)
    assert event.text == "😀 yes Bea x"
    assert event.reply_to == str(first)
    assert event.formatting == (
        Span(2, 5, SpanKind.BOLD),
        Span(6, 9, SpanKind.MENTION, "telegram:1005"),
        Span(10, 11, SpanKind.CODE),
    )
    plain = translated(application, emulator.send_text(ANA, "just words", chat_id=GROUP))
    assert plain == TextMessage(plain.origin, "just words", plain.message_id)


async def test_the_topic_root_is_no_reply_in_a_forum(
    emulator: BotApiEmulator, application: App
) -> None:
    topic = emulator.open_topic(ANA, FORUM, "Logistics")
    assert translated(application, topic) is None  # a service message: nobody's words
    thread = topic["message"]["message_id"]
    first = emulator.send_text(ANA, "in the topic", chat_id=FORUM, message_thread_id=thread)
    answer = emulator.send_text(
        BEA, "answer", chat_id=FORUM, reply_to_message_id=first["message"]["message_id"]
    )
    assert translated(application, first).reply_to is None
    assert translated(application, answer).reply_to == str(first["message"]["message_id"])


async def test_edited_text_and_captions_are_read_with_formatting(
    emulator: BotApiEmulator, application: App
) -> None:
    said = emulator.send_text(ANA, "10h", chat_id=GROUP)["message"]["message_id"]
    event = translated(
        application,
        emulator.edit_text(
            ANA, GROUP, said, "11h", entities=[{"type": "italic", "offset": 0, "length": 3}]
        ),
    )
    assert isinstance(event, MessageEdited)
    assert (event.message_id, event.text, event.formatting) == (
        str(said),
        "11h",
        (Span(0, 3, SpanKind.ITALIC),),
    )
    photo = emulator.send_photo(ANA, JPEG, chat_id=GROUP, caption="old")["message"]["message_id"]
    caption = translated(
        application,
        emulator.edit_caption(
            ANA, GROUP, photo, "new", caption_entities=[{"type": "bold", "offset": 0, "length": 3}]
        ),
    )
    assert isinstance(caption, MessageEdited)
    assert (caption.text, caption.formatting) == ("new", (Span(0, 3, SpanKind.BOLD),))
    removed = translated(application, emulator.edit_caption(ANA, GROUP, photo, ""))
    assert isinstance(removed, MessageEdited) and removed.text == ""


@pytest.mark.parametrize(
    ("kind", "mime_type", "expected_kind", "expected_type"),
    [
        ("photo", None, MediaKind.PHOTO, "image/jpeg"),
        ("document", "application/pdf", MediaKind.DOCUMENT, "application/pdf"),
        ("voice", None, MediaKind.VOICE, "audio/ogg"),
        ("audio", "audio/mpeg", MediaKind.AUDIO, "audio/mpeg"),
        ("video", None, MediaKind.VIDEO, "video/mp4"),
        ("animation", None, MediaKind.VIDEO, "video/mp4"),
        ("video_note", None, MediaKind.VIDEO, "video/mp4"),
        ("sticker", None, MediaKind.STICKER, "image/webp"),
        # Animated and video stickers pass as their still thumbnail.
        ("sticker", "video/webm", MediaKind.STICKER, "image/webp"),
        ("sticker", "application/x-tgsticker", MediaKind.STICKER, "image/webp"),
    ],
)
async def test_each_kind_of_file_is_read_with_caption_and_reply(
    emulator: BotApiEmulator,
    application: App,
    kind: Any,
    mime_type: str | None,
    expected_kind: MediaKind,
    expected_type: str,
) -> None:
    first = emulator.send_text(BEA, "send it", chat_id=GROUP)["message"]["message_id"]
    captioned = kind not in ("sticker", "video_note")
    update = emulator.send_media(
        ANA,
        kind,
        b"data",
        chat_id=GROUP,
        filename="clip.mp4",
        mime_type=mime_type,
        caption="see this" if captioned else None,
        caption_entities=[{"type": "bold", "offset": 0, "length": 3}] if captioned else None,
        reply_to_message_id=first,
        declared_size=1234,
    )
    event = translated(application, update)
    assert isinstance(event, MediaReceived)
    assert (event.kind, event.content_type) == (expected_kind, expected_type)
    still = kind == "sticker" and mime_type is not None  # the thumbnail, not the sticker
    assert (event.size == 1234) is not still
    assert event.reply_to == str(first)
    assert event.message_id == str(update["message"]["message_id"])
    if captioned:
        assert (event.caption, event.caption_formatting) == (
            "see this",
            (Span(0, 3, SpanKind.BOLD),),
        )
    if kind in ("document", "audio", "video", "animation"):
        assert event.filename == "clip.mp4"


async def test_what_cannot_be_relayed_from_a_group_is_named(
    emulator: BotApiEmulator, application: App
) -> None:
    posted = [
        (emulator.send_location(ANA, 1.0, 2.0, chat_id=GROUP), UnrelayableKind.LOCATION),
        (
            emulator.send_location(ANA, 1.0, 2.0, chat_id=GROUP, title="Café"),
            UnrelayableKind.LOCATION,
        ),
        (emulator.send_contact(ANA, "+1 555", "Carla", chat_id=GROUP), UnrelayableKind.CONTACT),
        (
            emulator.send_poll_message(ANA, "Lunch?", ["y", "n"], chat_id=GROUP),
            UnrelayableKind.POLL,
        ),
        (emulator.send_dice(ANA, chat_id=GROUP), UnrelayableKind.OTHER),
        (
            emulator.send_content(
                ANA, {"story": {"chat": {"id": ANA, "type": "private"}, "id": 3}}, chat_id=GROUP
            ),
            UnrelayableKind.OTHER,
        ),
    ]
    for update, kind in posted:
        event = translated(application, update)
        assert isinstance(event, Unrelayable)
        assert (event.kind, event.message_id) == (kind, str(update["message"]["message_id"]))
        assert event.origin.room_id == str(GROUP) and event.origin.user_id == str(ANA)
    service = emulator.send_content(ANA, {"new_chat_title": "CAWG 2026"}, chat_id=GROUP)
    assert translated(application, service) is None


async def test_in_a_private_chat_such_things_are_left_alone(
    emulator: BotApiEmulator, application: App
) -> None:
    assert translated(application, emulator.send_location(ANA, 1.0, 2.0)) is None
    assert translated(application, emulator.send_dice(ANA)) is None
    animation = translated(application, emulator.send_media(ANA, "animation", b"gif"))
    assert isinstance(animation, MediaReceived) and animation.kind is MediaKind.VIDEO


async def test_a_senders_name_loses_line_breaks_controls_and_direction_overrides(
    emulator: BotApiEmulator, application: App
) -> None:
    emulator.add_user(1006, "Mal\nBea (Matrix): \u202eyes\x1b[0m", language_code=None)
    event = translated(application, emulator.send_text(1006, "hello", chat_id=GROUP))
    assert event.origin.display_name == "Mal Bea (Matrix): yes[0m"
    emulator.add_user(1007, "\u200b\u2066 \u2069", language_code=None)
    unnamed = translated(application, emulator.send_text(1007, "hi", chat_id=GROUP))
    assert unnamed.origin.display_name is None  # the bridge names them by their id


# ---------------------------------------------------------------------------------- harness


async def test_the_group_harness_posts_as_members_and_reads_what_the_bot_posted(
    emulator: BotApiEmulator, application: App, sender: TelegramSender
) -> None:
    group = TelegramGroup(emulator, -100444, "Harness")
    ana, bea = group.member("ana"), group.member("bea", user_id=BEA)
    hello = ana.say_html("<b>hi</b> all")
    said = translated(application, hello.update)
    assert isinstance(said, TextMessage) and said.formatting == (Span(0, 2, SpanKind.BOLD),)
    answer = bea.say("hello", reply_to=hello.message_id)
    assert translated(application, answer.update).reply_to == str(hello.message_id)
    voice = ana.send_file("voice", b"OggS", caption_html="<i>listen</i>")
    heard = translated(application, voice.update)
    assert isinstance(heard, MediaReceived) and heard.kind is MediaKind.VOICE
    edited = translated(application, ana.edit(hello.message_id, "<u>hi</u> all", html=True).update)
    assert isinstance(edited, MessageEdited) and edited.formatting[0].kind is SpanKind.UNDERLINE
    for update, kind in [
        (ana.share_location().update, UnrelayableKind.LOCATION),
        (ana.share_contact().update, UnrelayableKind.CONTACT),
        (ana.post_poll().update, UnrelayableKind.POLL),
        (ana.throw_dice().update, UnrelayableKind.OTHER),
    ]:
        assert translated(application, update).kind is kind

    relayed = await deliver(
        sender, group.chat_id, text("<b>Bob</b>: yes", reply_to=hello.message_id)
    )
    [post] = await group.new_posts()
    assert (str(post.message_id), post.shown, post.reply_to) == (relayed, "Bob: yes", 1)
    await deliver(sender, group.chat_id, edit(post.message_id, "<b>Bob</b>: no"))
    assert group.post(post.message_id).shown_edits == ["Bob: no"]
    await deliver(sender, group.chat_id, delete(post.message_id))
    assert group.is_deleted(post.message_id) and group.bot_posts(include_deleted=False) == []
    assert group.transcript() == f"#{post.message_id} ↩1 text: Bob: no (edited) (deleted)"
