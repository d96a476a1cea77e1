"""The Matrix transport's half of the bridge, on a real Synapse: what members post in a group
room becomes neutral events, and relay payloads become messages, edits, redactions and
files that members' clients show (decrypted, in encrypted rooms).

The transport runs on its own here (no router): the events it stores in the inbox are
read back and collected.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from nio import ProfileSetDisplayNameError

import bot.transports.matrix.transport
from bot.i18n import Catalogs
from bot.media import MB, MediaTooLarge, MediaUnavailable
from bot.outbox import TransientFailure
from bot.outgoing import FileSource
from bot.transports.matrix.events import RELAY_MARKER, strip_reply_fallback, translate
from bot.transports.matrix.payloads import (
    MatrixEdit,
    MatrixMessage,
    MatrixPayload,
    MatrixRedaction,
    MatrixRelayFile,
)
from bot.transports.matrix.transport import MatrixTransport
from bot.types import (
    Command,
    Incoming,
    MediaKind,
    MediaReceived,
    MessageDeleted,
    MessageEdited,
    Origin,
    Platform,
    Span,
    SpanKind,
    TextMessage,
    Unrelayable,
    UnrelayableKind,
)
from storage import Store
from tests.harness.matrix_harness import MatrixMember, StoredEvents, matrix_config
from tests.harness.synapse_server import SynapseServer

T = TypeVar("T")
BOLD = SpanKind.BOLD
ITALIC = SpanKind.ITALIC
PROFILE = "com.beeper.per_message_profile"


@dataclass
class Bridge:
    """A started transport in a group room with two members, Alice and Bob."""

    transport: MatrixTransport
    alice: MatrixMember
    bob: MatrixMember
    room_id: str
    events: list[Incoming] = field(default_factory=list)

    @property
    def bot_id(self) -> str:
        return self.transport.user_id

    async def wait_for(
        self, found: Callable[[list[Incoming]], T | None], what: str, within: float = 30
    ) -> T:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            result = found(self.events)
            if result is not None:
                return result
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {what} within {within} s; got {self.events}")

    async def event_for(self, message_id: str, within: float = 30) -> Incoming:
        """The event the transport made of the member's event ``message_id``."""
        return await self.wait_for(
            lambda events: next((e for e in events if _event_id(e) == message_id), None),
            f"event for {message_id}",
            within,
        )

    async def deliver(self, payload: MatrixPayload, key: str) -> str | None:
        """Deliver as the outbox does: again after a transient failure (the room's keys
        may still be on their way), with the same key."""
        deadline = time.monotonic() + 30
        while True:
            try:
                return await self.transport.sender.deliver(self.room_id, payload, key)
            except TransientFailure:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)


def _event_id(event: Incoming) -> str | None:
    if isinstance(event, MessageEdited | MessageDeleted):
        return None
    return getattr(event, "message_id", None)


@pytest.fixture
async def bridge(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_url: str, synapse: SynapseServer
) -> AsyncIterator[Bridge]:
    encrypted = bool(getattr(request, "param", False))
    config = await matrix_config(tmp_path, sqlite_url, synapse)
    assert config.matrix is not None
    store = Store(sqlite_url)
    store.upgrade()
    warnings: list[str] = []
    events: list[Incoming] = []

    stored = StoredEvents(store)
    events = stored.events
    transport = MatrixTransport(
        config.matrix,
        store,
        stored.wake,
        catalogs=Catalogs.load(),
        known_commands=frozenset({"help"}),
        configured_rooms=frozenset(),
        default_language="en",
        warn=warnings.append,
    )
    await transport.start()
    running = asyncio.create_task(transport.run())
    reading = asyncio.create_task(stored.run(transport))
    alice = await MatrixMember.create(synapse, "Alice", encrypted=encrypted)
    bob = await MatrixMember.create(synapse, "Bob", encrypted=encrypted)
    try:
        room_id, _ = await asyncio.gather(
            alice.open_group_room([bob.user_id, transport.user_id], encrypted=encrypted),
            bob.accept_invite(alice.user_id),
        )
        yield Bridge(transport, alice, bob, room_id, events)
        assert warnings == []
    finally:
        transport.stop()
        await running
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)
        await transport.close()
        await alice.close()
        await bob.close()
        store.close()


ENCRYPTION = pytest.mark.parametrize(
    "bridge", [False, True], ids=["plain", "encrypted"], indirect=True
)


# -- inbound: members' events become neutral events ------------------------------------------


@ENCRYPTION
async def test_formatted_text_replies_emotes_and_commands_are_read(bridge: Bridge) -> None:
    alice, room = bridge.alice, bridge.room_id
    first = await alice.send_formatted(room, "hello world", "<b>hello</b> world")
    text = await bridge.event_for(first)
    assert text == TextMessage(text.origin, "hello world", first, (Span(0, 5, BOLD),))
    assert text.origin.display_name == "Alice" and text.origin.user_id == alice.user_id
    assert not text.origin.is_direct and text.origin.room_id == room

    quoted = await alice.reply(room, first, "I agree", "<i>I</i> agree")
    reply = await bridge.event_for(quoted)
    assert isinstance(reply, TextMessage)
    assert (reply.text, reply.reply_to, reply.formatting) == (
        "I agree",
        first,
        (Span(0, 1, ITALIC),),
    )
    bare = await alice.reply(room, first, "me too", fallback=False)
    assert await bridge.event_for(bare) == TextMessage(text.origin, "me too", bare, reply_to=first)

    waving = await alice.send_emote(room, "waves", "<b>waves</b>")
    emote = await bridge.event_for(waving)
    assert isinstance(emote, TextMessage)
    assert (emote.text, emote.formatting) == ("* Alice waves", (Span(8, 13, BOLD),))

    command = await alice.send_text(room, "!help")
    assert await bridge.event_for(command) == Command(text.origin, "help", (), command)
    bare_word = await alice.send_text(room, "help")  # a bare command word only in a DM
    assert isinstance(await bridge.event_for(bare_word), TextMessage)


async def test_a_senders_name_loses_line_breaks_controls_and_direction_overrides(
    bridge: Bridge,
) -> None:
    alice, room = bridge.alice, bridge.room_id
    renamed = await alice.client.set_displayname("Al\nBob (Telegram): \u202eok\x07")
    assert not isinstance(renamed, ProfileSetDisplayNameError), renamed
    # Synapse sends the new name into each room after answering: wait until it is there,
    # so that the emote comes after it.
    for _ in range(100):
        await alice.sync(timeout_ms=300)
        if "Bob" in (alice.client.rooms[room].user_name(alice.user_id) or ""):
            break
    waving = await alice.send_emote(room, "waves")
    emote = await bridge.event_for(waving)
    assert emote.origin.display_name == "Al Bob (Telegram): ok"
    assert isinstance(emote, TextMessage) and emote.text == "* Al Bob (Telegram): ok waves"


@ENCRYPTION
async def test_edits_and_redactions_are_read(bridge: Bridge) -> None:
    alice, room = bridge.alice, bridge.room_id
    first = await alice.send_text(room, "draft")
    await bridge.event_for(first)
    await alice.edit(room, first, "final words", "<b>final</b> words")
    edited = await bridge.wait_for(
        lambda events: next((e for e in events if isinstance(e, MessageEdited)), None), "edit"
    )
    assert (edited.message_id, edited.text) == (first, "final words")
    assert edited.formatting == (Span(0, 5, BOLD),)
    await alice.redact(room, first)
    deleted = await bridge.wait_for(
        lambda events: next((e for e in events if isinstance(e, MessageDeleted)), None), "delete"
    )
    assert deleted.message_id == first and deleted.origin.user_id == alice.user_id


@ENCRYPTION
async def test_media_of_every_kind_is_read_and_fetched(bridge: Bridge) -> None:
    alice, room, encrypted = bridge.alice, bridge.room_id, bridge.alice.encrypted
    mark = await alice.send_text(room, "files")
    kinds = {
        "image": (MediaKind.PHOTO, "image/png"),
        "file": (MediaKind.DOCUMENT, "application/pdf"),
        "audio": (MediaKind.AUDIO, "audio/mpeg"),
        "voice": (MediaKind.VOICE, "audio/ogg"),
        "video": (MediaKind.VIDEO, "video/mp4"),
        "sticker": (MediaKind.STICKER, "image/webp"),
    }
    sent = {}
    for kind, (_, mimetype) in kinds.items():
        image = kind == "image"
        sent[kind] = await alice.send_media(
            room,
            kind,
            f"{kind} bytes".encode(),
            filename=f"{kind}.bin",
            content_type=mimetype,
            caption="see <this>" if image else None,
            formatted_caption="see <b>&lt;this&gt;</b>" if image else None,
            reply_to=mark if kind == "video" else None,
        )
    for kind, event_id in sent.items():
        media = await bridge.event_for(event_id)
        assert isinstance(media, MediaReceived), kind
        assert media.kind is kinds[kind][0]
        assert media.size == len(f"{kind} bytes")
        assert media.file_ref.startswith("{" if encrypted else "mxc://")
        fetched = await bridge.transport.media_source.fetch(media.file_ref, MB)
        assert fetched == f"{kind} bytes".encode()
        if kind == "image":
            assert (media.caption, media.filename) == ("see <this>", "image.bin")
            assert media.caption_formatting == (Span(4, 10, BOLD),)
        elif kind == "sticker":
            assert (media.caption, media.filename) == ("", None)
        else:
            assert (media.caption, media.filename) == ("", f"{kind}.bin")
        assert media.reply_to == (mark if kind == "video" else None)
    image = await bridge.event_for(sent["image"])
    assert isinstance(image, MediaReceived)
    assert image.content_type == "image/png"
    if encrypted:
        assert json.loads(image.file_ref)["url"].startswith("mxc://")
    with pytest.raises(MediaTooLarge):
        await bridge.transport.media_source.fetch(image.file_ref, 3)


@ENCRYPTION
async def test_locations_polls_notices_and_relayed_messages(bridge: Bridge) -> None:
    alice, bob, room = bridge.alice, bridge.bob, bridge.room_id
    where = await alice.send_location(room)
    poll = await alice.send_poll(room, "Lunch?", ["Yes", "No"])
    await bob.send_message(room, {"msgtype": "m.notice", "body": "another bot's notice"})
    await bob.send_message(
        room, {"msgtype": "m.text", "body": "from another bridge", RELAY_MARKER: {"v": 1}}
    )
    last = await bob.send_text(room, "the end")
    await bridge.event_for(last)
    origin = Origin(Platform.MATRIX, room, alice.user_id, False, "Alice", encrypted=alice.encrypted)
    assert bridge.events[:2] == [
        Unrelayable(origin, UnrelayableKind.LOCATION, where),
        Unrelayable(origin, UnrelayableKind.POLL, poll),
    ]
    assert [type(event) for event in bridge.events] == [Unrelayable, Unrelayable, TextMessage]


@pytest.mark.parametrize("bridge", [True], ids=["encrypted"], indirect=True)
async def test_an_event_never_decrypted_is_reported_once_given_up(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.transports.matrix.transport, "UNDECRYPTED_TRIES", 2)
    monkeypatch.setattr(bot.transports.matrix.transport, "SYNC_TIMEOUT_MS", 200)
    lost = await bridge.alice.send_undecryptable(bridge.room_id)
    unreadable = await bridge.event_for(lost)
    assert isinstance(unreadable, Unrelayable)
    assert unreadable.kind is UnrelayableKind.UNDECRYPTABLE
    assert unreadable.origin.user_id == bridge.alice.user_id
    store = bridge.transport._store
    assert not store.inbox.waiting(Platform.MATRIX)
    assert not store.inbox.pending(Platform.MATRIX)


def test_reply_fallbacks_are_stripped_and_other_quotes_kept() -> None:
    assert strip_reply_fallback("> <@a:x> hi\n> there\n\nanswer\nmore") == "answer\nmore"
    assert strip_reply_fallback("> a quote\nno blank line") == "> a quote\nno blank line"
    assert strip_reply_fallback("plain") == "plain"
    origin = Origin(Platform.MATRIX, "!r:x", "@a:x", False, "Ana")
    quote = {"msgtype": "m.text", "body": "> quoted\n\nmine"}  # no reply: a member's quote
    read = translate(origin, {"type": "m.room.message", "event_id": "$1", "content": quote})
    assert isinstance(read, TextMessage) and read.text == "> quoted\n\nmine"
    thread = {
        "msgtype": "m.text",
        "body": "in thread",
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": "$root",
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": "$latest"},
        },
    }
    read = translate(origin, {"type": "m.room.message", "event_id": "$2", "content": thread})
    assert isinstance(read, TextMessage) and read.reply_to == "$root"


def test_unknown_message_kinds_are_unrelayable_in_groups_only() -> None:
    group = Origin(Platform.MATRIX, "!r:x", "@a:x", False, "Ana")
    direct = Origin(Platform.MATRIX, "!d:x", "@a:x", True, "Ana")
    event = {"type": "m.room.message", "event_id": "$1", "content": {"msgtype": "x.game"}}
    assert translate(group, event) == Unrelayable(group, UnrelayableKind.OTHER, "$1")
    assert translate(direct, event) is None
    assert translate(group, {"type": "m.reaction", "event_id": "$2", "content": {}}) is None


# -- outbound: relay payloads ----------------------------------------------------------------


def relay_content(body: str, html: str | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {
        "msgtype": "m.text",
        "body": f"Ana: {body}",
        RELAY_MARKER: {"platform": "telegram"},
        "m.mentions": {},
        PROFILE: {"id": "telegram:1", "displayname": "Ana (Telegram)", "has_fallback": True},
    }
    if html is not None:
        content.update(format="org.matrix.custom.html", formatted_body=f"<b>Ana</b>: {html}")
    return content


@ENCRYPTION
async def test_relayed_text_replies_edits_and_deletions_reach_members(bridge: Bridge) -> None:
    alice, room, bot_id = bridge.alice, bridge.room_id, bridge.bot_id
    mark = await alice.send_text(room, "before")
    hello = MatrixMessage(relay_content("hi *all*", "hi <b>all</b>"))
    first = await bridge.deliver(hello, "1")
    assert first is not None and first.startswith("$")
    assert await bridge.deliver(hello, "1") == first  # a retry is the same event
    answer = MatrixMessage(relay_content("yes"), reply_to=mark)
    second = await bridge.deliver(answer, "2")
    orphan = MatrixEdit(relay_content("edited late"), target=None)
    third = await bridge.deliver(orphan, "3")
    edit = MatrixEdit(relay_content("hi!", "hi!"), target=first)
    edit_id = await bridge.deliver(edit, "4")
    delete = MatrixRedaction(target=second)
    redaction = await bridge.deliver(delete, "5")
    assert redaction is not None and await bridge.deliver(delete, "5") == redaction
    assert await bridge.deliver(MatrixRedaction(target=None), "6") is None

    posts = await alice.wait_for_posts(
        room, bot_id, after=mark, count=3, until=lambda p: bool(p[0].edits) and p[1].redacted
    )
    greeting, removed, late = posts
    assert [greeting.event_id, removed.event_id, late.event_id] == [first, second, third]
    assert greeting.original["formatted_body"] == "<b>Ana</b>: hi <b>all</b>"
    assert greeting.content == relay_content("hi!", "hi!")
    assert greeting.profile == relay_content("")[PROFILE]
    assert greeting.marker == {"platform": "telegram"}
    [edit_record] = greeting.edits
    assert edit_record["event_id"] == edit_id
    assert edit_record["body"] == "* Ana: hi!"
    assert edit_record["formatted_body"] == "* <b>Ana</b>: hi!"
    assert edit_record["content"][RELAY_MARKER] == {"platform": "telegram"}
    assert edit_record["content"]["m.mentions"] == {}
    assert removed.redacted_by == redaction
    assert (late.body, late.edits, late.reply_to) == ("Ana: edited late", [], None)
    # The bot reads none of its own relays back.
    await asyncio.sleep(0.5)
    assert bridge.events == [TextMessage(bridge.events[0].origin, "before", mark)]


class StubSource:
    """Files of "the other platform", kept in memory."""

    platform = Platform.TELEGRAM

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.asked: list[tuple[str, int]] = []

    async def fetch(self, ref: str, max_bytes: int) -> bytes:
        self.asked.append((ref, max_bytes))
        if ref not in self.files:
            raise MediaUnavailable("gone")
        if len(self.files[ref]) > max_bytes:
            raise MediaTooLarge(len(self.files[ref]))
        return self.files[ref]


def media_payload(
    ref: str, platform: str = "telegram", size: int | None = None, reply_to: str | None = None
) -> MatrixRelayFile:
    return MatrixRelayFile(
        source=FileSource(Platform(platform), ref, "cat.jpg", "image/jpeg", size),
        content={
            "msgtype": "m.image",
            "body": "a cat",
            "filename": "cat.jpg",
            "info": {"mimetype": "image/jpeg"},
            RELAY_MARKER: {"platform": platform},
            "m.mentions": {},
        },
        fallback={
            "msgtype": "m.notice",
            "body": "Ana sent a file too large to relay: cat.jpg",
            RELAY_MARKER: {"platform": platform},
            "m.mentions": {},
        },
        reply_to=reply_to,
    )


@ENCRYPTION
async def test_relayed_files_are_uploaded_for_the_room_or_replaced_by_the_fallback(
    bridge: Bridge,
) -> None:
    alice, room, bot_id = bridge.alice, bridge.room_id, bridge.bot_id
    encrypted = alice.encrypted
    sender = bridge.transport.sender
    assert sender.upload_limit == 50 * MB  # Synapse's default max_upload_size
    telegram = StubSource({"photo-1": b"\xff\xd8 jpeg cat", "huge": b"x" * 100})
    sender.media_sources[Platform.TELEGRAM] = telegram
    mark = await alice.send_text(room, "send the cat")
    own = await alice.send_media(room, "file", b"matrix file", filename="m.txt", content_type="t/p")
    member_file = await bridge.event_for(own)
    assert isinstance(member_file, MediaReceived)

    photo = await bridge.deliver(media_payload("photo-1", reply_to=mark), "m1")
    across = await bridge.deliver(media_payload(member_file.file_ref, platform="matrix"), "m2")
    missing = await bridge.deliver(media_payload("no-such-file"), "m3")
    too_big = await bridge.deliver(media_payload("huge", size=sender.upload_limit + 1), "m4")
    posts = await alice.wait_for_posts(room, bot_id, after=mark, count=4)
    assert [post.event_id for post in posts] == [photo, across, missing, too_big]
    cat, copied, gone, large = posts
    assert await alice.download(cat) == b"\xff\xd8 jpeg cat"
    assert await alice.download(copied) == b"matrix file"
    for post, size in ((cat, len(b"\xff\xd8 jpeg cat")), (copied, len(b"matrix file"))):
        assert ("file" in post.content, "url" in post.content) == (encrypted, not encrypted)
        assert post.content["info"] == {"mimetype": "image/jpeg", "size": size}
        assert (post.msgtype, post.body, post.content["filename"]) == (
            "m.image",
            "a cat",
            "cat.jpg",
        )
    assert cat.reply_to == mark and copied.reply_to is None
    assert copied.marker == {"platform": "matrix"}
    for fallback in (gone, large):
        assert fallback.msgtype == "m.notice"
        assert fallback.body == "Ana sent a file too large to relay: cat.jpg"
    # Known too large by its size: never fetched.
    assert [ref for ref, _ in telegram.asked] == ["photo-1", "no-such-file"]
    assert telegram.asked[0][1] == sender.upload_limit


async def test_the_matrix_media_source_refuses_what_it_cannot_fetch(bridge: Bridge) -> None:
    source = bridge.transport.media_source
    assert source.platform is Platform.MATRIX
    with pytest.raises(MediaUnavailable):
        await source.fetch("https://example.org/cat.jpg", MB)
    with pytest.raises(MediaUnavailable):
        await source.fetch(f"mxc://{bridge.alice.server.server_name}/nosuchmedia", MB)
    with pytest.raises(MediaUnavailable):
        await source.fetch('{"url": 5}', MB)
    uri, keys = await bridge.alice.upload(b"secret", content_type="t/p", filename="s", encrypt=True)
    assert keys is not None
    tampered = {**keys, "hashes": {"sha256": "AAAA" + keys["hashes"]["sha256"][4:]}}
    with pytest.raises(MediaUnavailable, match="decrypt"):
        await source.fetch(json.dumps(tampered), MB)
    assert await source.fetch(json.dumps(keys), MB) == b"secret"
    assert await source.fetch(uri, MB) != b"secret"  # the ciphertext
