"""The bridge end to end: real python-telegram-bot over the Bot API emulator, a real Synapse,
real matrix-nio members, on SQLite and PostgreSQL. Every feature is relayed both ways."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from nio import RoomCreateResponse

import bot.transports.matrix.transport
from bot.ratelimit import SendLimiter, Window
from bot.richtext import from_matrix_html, from_telegram, normalize
from bot.transports.matrix.render import RELAY_MARK
from bot.types import MediaKind, Platform, RichText
from tests.harness.bridge_harness import (
    GROUP_CHAT,
    Bridge,
    BridgeBot,
    bridge_config_text,
    open_bridge,
    register_bot,
    wait_for_join,
    write_bridge_config,
)
from tests.harness.matrix_harness import MatrixMember, PostedMessage
from tests.harness.synapse_server import SynapseServer
from tests.harness.telegram_emulator import BotApiEmulator, SentMessage
from tests.harness.telegram_harness import TelegramGroup, make_token

FALLBACK_END = "</strong>"


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(make_token()) as running:
        yield running


@pytest.fixture
async def bridge(
    tmp_path: Path, database_url: str, emulator: BotApiEmulator, synapse: SynapseServer
) -> AsyncIterator[Bridge]:
    opened = await open_bridge(tmp_path, database_url, emulator, synapse)
    try:
        yield opened
    finally:
        await opened.close()


async def relayed_to_matrix(bridge: Bridge, count: int = 1, **wait: Any) -> list[PostedMessage]:
    return await bridge.matrix.wait_for_posts(
        bridge.room_id, bridge.bot_user.user_id, count=count, **wait
    )


def shown_on_matrix(post: PostedMessage) -> RichText:
    """The relayed text and formatting, without the sender's fallback name."""
    body = post.formatted_body or ""
    assert body.startswith("<strong data-mx-profile-fallback>"), body
    rich = from_matrix_html(body[body.index(FALLBACK_END) + len(FALLBACK_END) :], "")
    return normalize(rich)


def shown_on_telegram(sent: SentMessage, header: str) -> RichText:
    """The relayed text and formatting, without the bold "Name (Platform): " header."""
    rich = from_telegram(sent.shown, sent.entities)
    prefix = header + ": "
    assert rich.text.startswith(prefix), rich.text
    cut = len(prefix)
    spans = tuple(
        type(span)(span.start - cut, span.end - cut, span.kind, span.value)
        for span in rich.spans
        if span.start >= cut
    )
    return normalize(RichText(rich.text[cut:], spans))


FORMATTED_HTML = (
    "<b>bold</b> <i>italic</i> <u>under</u> <s>struck</s> <code>x = 1</code> "
    '<a href="https://example.org/a?b=1&amp;c=2">a link</a> <tg-spoiler>secret</tg-spoiler>\n'
    '<pre><code class="language-python">print("hi")</code></pre>\n'
    "<blockquote>quoted words</blockquote>"
)


async def test_formatted_text_from_telegram_reads_the_same_on_matrix(bridge: Bridge) -> None:
    ana = bridge.telegram("ana")
    posted = ana.say_html(FORMATTED_HTML)
    (post,) = await relayed_to_matrix(bridge)
    expected = normalize(from_telegram(posted.update["message"]["text"],
                                       posted.update["message"]["entities"]))  # fmt: skip
    assert shown_on_matrix(post) == expected
    assert post.profile is not None and post.profile["displayname"] == "Ana (Telegram)"
    assert post.body is not None and post.body.startswith("Ana (Telegram): bold italic")
    assert post.content["m.mentions"] == {} and RELAY_MARK in post.content


async def test_formatted_text_from_matrix_reads_the_same_on_telegram(bridge: Bridge) -> None:
    html = (
        "<strong>bold</strong> <em>italic</em> <u>under</u> <del>struck</del> <code>x</code> "
        '<a href="https://example.org">a link</a> <span data-mx-spoiler>secret</span>'
        '<pre><code class="language-rust">fn main() {}</code></pre>'
        "<blockquote>quoted</blockquote>"
    )
    await bridge.matrix.send_formatted(bridge.room_id, "plain fallback", html)
    (sent,) = await bridge.group.new_posts()
    assert shown_on_telegram(sent, "Bo (Matrix)") == normalize(from_matrix_html(html, ""))
    assert {entity["type"] for entity in sent.entities} >= {
        "bold", "italic", "underline", "strikethrough", "code", "pre", "text_link", "spoiler",
        "blockquote",
    }  # fmt: skip


async def test_markup_typed_by_a_member_shows_literally_on_the_other_side(bridge: Bridge) -> None:
    bridge.telegram("ana").say('<b>not bold</b> & <a href="x">')
    (post,) = await relayed_to_matrix(bridge)
    assert post.body == 'Ana (Telegram): <b>not bold</b> & <a href="x">'
    assert "<b>" not in (post.formatted_body or "").split(FALLBACK_END, 1)[1]
    await bridge.matrix.send_formatted(
        bridge.room_id, "<i>typed</i> &amp;", "&lt;i&gt;typed&lt;/i&gt; &amp;amp;"
    )
    (sent,) = await bridge.group.new_posts()
    assert sent.shown == "Bo (Matrix): <i>typed</i> &amp;"
    assert [entity["type"] for entity in sent.entities] == ["bold"]  # the name only


async def test_replies_are_relayed_as_replies_to_the_counterpart_both_ways(
    bridge: Bridge,
) -> None:
    ana = bridge.telegram("ana")
    question = ana.say("Who signs the statement?")
    (copy,) = await relayed_to_matrix(bridge)
    answer_id = await bridge.matrix.reply(bridge.room_id, copy.event_id, "Our network does")
    (answer,) = await bridge.group.new_posts()
    assert answer.reply_to == question.message_id
    assert answer.shown == "Bo (Matrix): Our network does"  # the reply fallback is gone
    ana.say("Thanks!", reply_to=answer.message_id)
    (thanks,) = await relayed_to_matrix(bridge, after=copy.event_id)
    assert thanks.reply_to == answer_id


async def test_edits_are_relayed_both_ways_and_an_unchanged_edit_is_not(bridge: Bridge) -> None:
    ana = bridge.telegram("ana")
    draft = ana.say("Deadline is Friday")
    (copy,) = await relayed_to_matrix(bridge)
    ana.edit(draft.message_id, "Deadline is <b>Monday</b>", html=True)
    (edited,) = await relayed_to_matrix(bridge, until=lambda posts: bool(posts[0].edits))
    assert shown_on_matrix(edited).text == "Deadline is Monday"
    ana.edit(draft.message_id, "Deadline is <b>Monday</b>", html=True)  # nothing changed
    event_id = await bridge.matrix.send_text(bridge.room_id, "ok")
    await bridge.group.new_posts()
    (again,) = [p for p in bridge.matrix.posts(bridge.room_id) if p.event_id == copy.event_id]
    assert len(again.edits) == 1

    await bridge.matrix.edit(bridge.room_id, event_id, "ok, Monday")
    await bridge.group.wait_until(lambda: bool(bridge.group.last_post().shown_edits))
    assert bridge.group.last_post().shown == "Bo (Matrix): ok, Monday"


async def test_a_matrix_redaction_deletes_the_telegram_copy(bridge: Bridge) -> None:
    event_id = await bridge.matrix.send_text(bridge.room_id, "posted by mistake")
    (sent,) = await bridge.group.new_posts()
    await bridge.matrix.redact(bridge.room_id, event_id)
    await bridge.group.wait_until(lambda: bridge.group.is_deleted(sent.message_id))


async def test_a_copy_too_old_for_telegram_to_delete_is_explained_instead(
    bridge: Bridge, emulator: BotApiEmulator
) -> None:
    event_id = await bridge.matrix.send_text(bridge.room_id, "an old message")
    (sent,) = await bridge.group.new_posts()
    emulator.age_message(GROUP_CHAT, sent.message_id, hours=49)
    await bridge.matrix.redact(bridge.room_id, event_id)
    (notice,) = await bridge.group.new_posts()
    assert not bridge.group.is_deleted(sent.message_id)
    assert notice.reply_to == sent.message_id
    assert (
        notice.shown
        == "Bo (Matrix) deleted a message there, but its copy here could not be deleted."
    )


TELEGRAM_FILES = [
    (MediaKind.PHOTO, "photo.jpg", "image/jpeg", "m.image"),
    (MediaKind.DOCUMENT, "report.pdf", "application/pdf", "m.file"),
    (MediaKind.VOICE, "voice.ogg", "audio/ogg", "m.audio"),
    (MediaKind.AUDIO, "song.mp3", "audio/mpeg", "m.audio"),
    (MediaKind.VIDEO, "clip.mp4", "video/mp4", "m.video"),
    (MediaKind.STICKER, "sticker.webp", "image/webp", "m.image"),
]


async def test_files_from_telegram_arrive_on_matrix_with_their_bytes(bridge: Bridge) -> None:
    ana = bridge.telegram("ana")
    for number, (kind, filename, mime, _) in enumerate(TELEGRAM_FILES):
        ana.send_file(kind, f"{kind}-bytes-{number}".encode(), filename=filename, mime_type=mime,
                      caption="see this" if kind is MediaKind.PHOTO else None)  # fmt: skip
    posts = await relayed_to_matrix(bridge, count=len(TELEGRAM_FILES))
    for number, ((kind, _, _, msgtype), post) in enumerate(zip(TELEGRAM_FILES, posts, strict=True)):
        assert post.msgtype == msgtype, kind
        assert await bridge.matrix.download(post) == f"{kind}-bytes-{number}".encode()
    assert posts[0].body == "Ana (Telegram): see this"
    assert "org.matrix.msc3245.voice" in posts[2].content


MATRIX_FILES = [
    ("image", "map.png", "image/png", "photo"),
    ("file", "brief.pdf", "application/pdf", "document"),
    ("voice", "note.ogg", "audio/ogg", "voice"),
    ("audio", "talk.mp3", "audio/mpeg", "audio"),
    ("video", "march.mp4", "video/mp4", "video"),
    ("sticker", "wave.png", "image/png", "photo"),
]


async def test_files_from_matrix_arrive_on_telegram_with_their_bytes(bridge: Bridge) -> None:
    for number, (kind, filename, mime, _) in enumerate(MATRIX_FILES):
        await bridge.matrix.send_media(bridge.room_id, kind, f"{kind}-{number}".encode(),
                                       filename=filename, content_type=mime)  # fmt: skip
    sent = await bridge.group.new_posts(len(MATRIX_FILES))
    for number, ((kind, _, _, telegram_kind), post) in enumerate(
        zip(MATRIX_FILES, sent, strict=True)
    ):
        assert post.kind == telegram_kind, kind
        assert post.file_bytes == f"{kind}-{number}".encode()
        assert post.shown.startswith("Bo (Matrix)")


async def test_files_over_the_limits_arrive_as_a_note_with_name_and_size(bridge: Bridge) -> None:
    bridge.telegram("ana").send_file(
        MediaKind.DOCUMENT, b"small stand-in", filename="evidence.zip",
        mime_type="application/zip", declared_size=25 * 1024 * 1024,
    )  # fmt: skip
    (note,) = await relayed_to_matrix(bridge)
    assert note.body is not None and "evidence.zip (25.0 MB)" in note.body
    await bridge.matrix.send_media(bridge.room_id, "file", b"stand-in", filename="film.mkv",
                                   content_type="video/x-matroska",
                                   info={"size": 60 * 1024 * 1024})  # fmt: skip
    (sent,) = await bridge.group.new_posts()
    assert sent.kind == "text" and "film.mkv (60.0 MB)" in sent.shown


async def test_what_cannot_be_relayed_is_announced_both_ways(bridge: Bridge) -> None:
    bridge.telegram("ana").share_location()
    (note,) = await relayed_to_matrix(bridge)
    assert note.msgtype == "m.notice" and "location" in (note.body or "")
    await bridge.matrix.send_location(bridge.room_id)
    (sent,) = await bridge.group.new_posts()
    assert "location" in sent.shown


async def test_commands_and_the_bots_own_messages_are_never_relayed(bridge: Bridge) -> None:
    ana = bridge.telegram("ana")
    ana.say("/help")
    (help_reply,) = await bridge.group.new_posts()  # the bot answers in the group itself
    await bridge.matrix.send_text(bridge.room_id, "!help")
    bot_matrix_posts = await relayed_to_matrix(bridge)  # its answer on Matrix
    ana.say("after the commands")
    later = await relayed_to_matrix(bridge, count=2)
    assert [post.body for post in later[1:]] == ["Ana (Telegram): after the commands"]
    assert help_reply.kind == "text" and bot_matrix_posts[0].msgtype == "m.notice"
    assert [post.shown for post in bridge.group.bot_posts()] == [help_reply.shown]


async def test_replies_and_edits_still_find_their_counterparts_after_a_restart(
    bridge: Bridge,
) -> None:
    ana = bridge.telegram("ana")
    first = ana.say("before the restart")
    (copy,) = await relayed_to_matrix(bridge)
    own = await bridge.matrix.send_text(bridge.room_id, "mine, before")
    await bridge.group.new_posts()
    await bridge.bot.stop()
    await bridge.bot.start()
    await bridge.matrix.reply(bridge.room_id, copy.event_id, "answer after")
    (answer,) = await bridge.group.new_posts()
    assert answer.reply_to == first.message_id
    await bridge.matrix.edit(bridge.room_id, own, "mine, edited after")
    await bridge.group.wait_until(
        lambda: any("mine, edited after" in p.shown for p in bridge.group.bot_posts())
    )


async def test_two_bridges_in_one_room_do_not_echo_each_other(
    tmp_path: Path, bridge: Bridge
) -> None:
    async with BotApiEmulator(make_token()) as other_emulator:
        second = await _second_bridge(tmp_path / "second", bridge, other_emulator)
        try:
            bridge.telegram("ana").say("from the first group")
            await relayed_to_matrix(bridge)
            await bridge.matrix.send_text(bridge.room_id, "from Matrix")
            await bridge.group.new_posts()
            await second.group.new_posts()
            bridge.telegram("ana").say("once more")
            await relayed_to_matrix(bridge, count=2)
            await bridge.matrix.sync(timeout_ms=1000)
            bodies = [post.body for post in bridge.matrix.posts(bridge.room_id)]
            assert bodies.count("Ana (Telegram): from the first group") == 1
            assert [p.shown for p in second.group.bot_posts()] == ["Bo (Matrix): from Matrix"]
            assert [p.shown for p in bridge.group.bot_posts()] == ["Bo (Matrix): from Matrix"]
        finally:
            await second.bot.stop()


async def _second_bridge(folder: Path, first: Bridge, emulator: BotApiEmulator) -> Bridge:
    """Another bot, with its own database and Telegram group, bridging the same room."""
    bot_user = await register_bot(first.server)
    group = TelegramGroup(emulator, -1005678, "CAWG too")
    text = bridge_config_text(emulator, first.server, bot_user, [group.chat_id], [first.room_id])
    database_url = f"sqlite:///{folder / 'second.sqlite3'}"
    config, env = write_bridge_config(folder, database_url, text, emulator, bot_user)
    bot = BridgeBot(config)
    await bot.start()
    await first.matrix.client.room_invite(first.room_id, bot_user.user_id)
    second = Bridge(emulator, first.server, bot, group, first.room_id, first.matrix, bot_user, env)
    await wait_for_join(second)
    return second


async def test_an_encrypted_room_relays_text_and_files_both_ways(
    tmp_path: Path, database_url: str, emulator: BotApiEmulator, synapse: SynapseServer
) -> None:
    bridge = await open_bridge(tmp_path, database_url, emulator, synapse, encrypted=True)
    try:
        ana = bridge.telegram("ana")
        ana.say_html("<b>encrypted</b> hello")
        ana.send_file(MediaKind.PHOTO, b"jpeg bytes", filename="p.jpg", mime_type="image/jpeg")
        text, photo = await relayed_to_matrix(bridge, count=2)
        assert shown_on_matrix(text).text == "encrypted hello"
        assert "file" in photo.content and "url" not in photo.content  # an encrypted upload
        assert await bridge.matrix.download(photo) == b"jpeg bytes"
        await bridge.matrix.send_formatted(bridge.room_id, "back", "<em>back</em>")
        await bridge.matrix.send_media(
            bridge.room_id, "file", b"secret pdf", filename="s.pdf", content_type="application/pdf"
        )
        back, document = await bridge.group.new_posts(2)
        assert back.shown == "Bo (Matrix): back"
        assert document.kind == "document" and document.file_bytes == b"secret pdf"
    finally:
        await bridge.close()


async def test_a_small_room_linked_by_an_admins_command_joins_the_conversation(
    bridge: Bridge, emulator: BotApiEmulator
) -> None:
    carla = await MatrixMember.create(bridge.server, "Carla")
    try:
        created = await carla.client.room_create(name="Side room")
        assert isinstance(created, RoomCreateResponse), created
        side = created.room_id
        # The bot is invited first: only a room it is in and may speak in can be linked.
        await carla.client.room_invite(side, bridge.bot_user.user_id)
        while not carla.has_joined(side, bridge.bot_user.user_id):
            await carla.sync(timeout_ms=500)
        root = bridge.group.member("root")  # a network admin in the configuration
        emulator.send_text(root.user_id, f"/link cawg matrix {side}")
        await emulator.wait_for(lambda: bool(emulator.sent(root.user_id)))
        assert side in emulator.sent(root.user_id)[-1].shown
        # Carla and the bot alone: a room of two, yet a group's room, not a direct chat.
        await carla.send_text(side, "hello from the side room")
        (sent,) = await bridge.group.new_posts()
        assert sent.shown == "Carla (Matrix): hello from the side room"
        (copy,) = await relayed_to_matrix(bridge)
        assert copy.body == "Carla (Matrix): hello from the side room"
    finally:
        await carla.close()


def slow_group_limiter() -> SendLimiter:
    """Two messages per 6 s into a group: Telegram's 20 a minute, in small."""
    return SendLimiter((Window(30, 1.1),), {"group": (Window(2, 6.0),), "private": ()})


@pytest.mark.backends("sqlite")  # pacing and recovery over real servers; both databases: elsewhere
async def test_a_burst_held_back_by_the_group_limit_arrives_merged(
    tmp_path: Path, database_url: str, emulator: BotApiEmulator, synapse: SynapseServer
) -> None:
    bridge = await open_bridge(
        tmp_path, database_url, emulator, synapse, telegram_limiter=slow_group_limiter
    )
    try:
        burst = [f"point {n}" for n in range(8)]
        ids = [await bridge.matrix.send_text(bridge.room_id, text) for text in burst]
        await bridge.group.wait_until(lambda: "point 7" in bridge.group.transcript(), timeout=30)
        posts = bridge.group.bot_posts()
        assert len(posts) < len(burst)
        lines = [line for post in posts for line in post.shown.split(": ", 1)[1].split("\n")]
        assert lines == burst
        merged = posts[-1]
        assert merged.shown.startswith("Bo (Matrix): point ") and "\n" in merged.shown
        # Editing or deleting one message of a merged burst must not touch the others.
        await bridge.matrix.edit(bridge.room_id, ids[-1], "point 7, corrected")
        await bridge.matrix.redact(bridge.room_id, ids[-2])
        await bridge.group.wait_until(lambda: len(bridge.group.bot_posts()) >= len(posts) + 2,
                                      timeout=30)  # fmt: skip
        edit_note, delete_note = bridge.group.bot_posts()[len(posts) :]
        assert edit_note.reply_to == merged.message_id
        assert edit_note.shown == "Bo (Matrix), edited: point 7, corrected"
        assert delete_note.reply_to == merged.message_id
        assert not merged.deleted and not merged.shown_edits
    finally:
        await bridge.close()


async def test_an_event_waiting_for_its_key_is_still_awaited_after_a_restart(
    tmp_path: Path,
    database_url: str,
    emulator: BotApiEmulator,
    synapse: SynapseServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bridge = await open_bridge(tmp_path, database_url, emulator, synapse, encrypted=True)
    try:
        event_id = await bridge.matrix.send_undecryptable(bridge.room_id)

        def waiting() -> bool:
            waiting = bridge.bot.store.inbox.waiting(Platform.MATRIX)
            return any(record.key == event_id for record in waiting)

        await emulator.wait_for(waiting, timeout=20)
        await bridge.bot.stop()
        # Given up on after two syncs, so that the test need not wait for thirty.
        monkeypatch.setattr(bot.transports.matrix.transport, "UNDECRYPTED_TRIES", 2)
        await bridge.bot.start()
        await bridge.matrix.send_text(bridge.room_id, "a message to keep syncs coming")
        await bridge.matrix.send_text(bridge.room_id, "and another")
        await bridge.group.wait_until(
            lambda: any("could not decrypt" in p.shown for p in bridge.group.bot_posts())
        )
        assert not waiting()
    finally:
        await bridge.close()
