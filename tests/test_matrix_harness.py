"""The Matrix test harness itself: members on a real Synapse, plain and end-to-end encrypted.

Most tests use a second member standing in for the bot; the last ones run the real bot.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from nio import WhoamiResponse

from bot.types import Platform
from storage import Store
from tests.harness.matrix_harness import (
    KEYCAPS,
    MEDIA_MSGTYPES,
    MatrixBot,
    MatrixChat,
    MatrixHarnessError,
    MatrixMember,
    find_choice,
    matrix_config,
    matrix_config_sync,
    posted_messages,
    render,
    settle,
)
from tests.harness.synapse_server import SynapseServer

MemberFactory = Callable[..., Awaitable[MatrixMember]]


@pytest.fixture
async def members(
    synapse: SynapseServer, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[MatrixMember]]]:
    made: list[MatrixMember] = []

    async def make(name: str, *, encrypted: bool = False) -> MatrixMember:
        store_dir = tmp_path / f"nio-{name}" if encrypted else None
        member = await MatrixMember.create(synapse, name, encrypted=encrypted, store_dir=store_dir)
        made.append(member)
        return member

    yield make
    for member in made:
        await member.close()


@pytest.fixture
def idle_store(sqlite_url: str) -> Iterator[Store]:
    """A bot store with nothing pending, for a member standing in for the bot."""
    store = Store(sqlite_url)
    store.upgrade()
    try:
        yield store
    finally:
        store.close()


async def open_dm(alice: MatrixMember, bob: MatrixMember, *, encrypted: bool) -> tuple[str, float]:
    """Alice opens a direct room with Bob, who accepts; the room id and the seconds taken."""
    began = time.monotonic()
    room_id, accepted = await asyncio.gather(
        alice.open_direct_room(bob.user_id, encrypted=encrypted),
        bob.accept_invite(alice.user_id),
    )
    assert room_id == accepted
    if encrypted:
        # Bob trusts Alice's device on first use, as the bot does.
        await bob.wait_until(lambda: bob.devices_of(alice.user_id), what="Alice's keys")
    return room_id, time.monotonic() - began


async def raw_event(
    server: SynapseServer, member: MatrixMember, room_id: str, event_id: str
) -> Any:
    """The event as the homeserver stores it (still encrypted, if it was)."""
    return await server.request(
        "GET",
        f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/event/{quote(event_id, safe='')}",
        access_token=member.account.access_token,
    )


def notice(text: str, choices: list[str]) -> dict[str, Any]:
    """A reply shaped like the bot's: ``m.notice``, plain body ending in numbered lines."""
    lines = [f"{n}. {label}" for n, label in enumerate(choices, start=1)]
    items = "".join(f"<li>{label}</li>" for label in choices)
    return {
        "msgtype": "m.notice",
        "body": text + ("\n\n" + "\n".join(lines) if lines else ""),
        "format": "org.matrix.custom.html",
        "formatted_body": f"{text}<ol>{items}</ol>" if choices else text,
    }


# -- members ---------------------------------------------------------------------------------


async def test_members_are_registered_with_fresh_ids_and_their_names(
    synapse: SynapseServer, members: MemberFactory
) -> None:
    first = await members("Ana Lima")
    second = await members("Ana Lima")
    assert first.user_id != second.user_id
    assert first.user_id.startswith("@ana-lima-")
    assert first.user_id.endswith(f":{synapse.server_name}")
    whoami = await first.client.whoami()
    assert isinstance(whoami, WhoamiResponse)
    assert (whoami.user_id, whoami.device_id) == (first.user_id, first.device_id)
    profile = await synapse.request(
        "GET", f"/_matrix/client/v3/profile/{quote(first.user_id, safe='')}/displayname"
    )
    assert profile == {"displayname": "Ana Lima"}
    assert first.client.olm is None  # plain members carry no crypto
    secret = await members("Secret", encrypted=True)
    assert secret.client.olm is not None
    assert not secret.client.should_upload_keys  # uploaded on creation


async def test_plain_direct_room_and_messages_both_ways(members: MemberFactory) -> None:
    alice = await members("Alice")
    bob = await members("Bob")
    room_id, _ = await open_dm(alice, bob, encrypted=False)
    assert alice.has_joined(room_id, bob.user_id)
    assert not alice.client.rooms[room_id].encrypted
    invite = next(
        record
        for record in alice.timeline(room_id)
        if record["type"] == "m.room.member" and record["content"].get("membership") == "invite"
    )
    assert invite["content"].get("is_direct") is True

    hello = await alice.send_text(room_id, "hello bob")
    [received] = await bob.wait_for_messages(alice.user_id, room_id, _first_event(bob, room_id))
    assert (received["event_id"], received["body"]) == (hello, "hello bob")
    assert (received["msgtype"], received["encrypted"]) == ("m.text", False)

    reply = await bob.send_message(room_id, notice("Pick one", ["Red", "Blue"]))
    [answer] = await alice.wait_for_messages(bob.user_id, room_id, hello)
    assert answer["event_id"] == reply
    assert answer["msgtype"] == "m.notice"
    assert answer["body"] == "Pick one\n\n1. Red\n2. Blue"
    assert answer["formatted_body"] == "Pick one<ol><li>Red</li><li>Blue</li></ol>"
    assert not answer["encrypted"]
    assert await alice.messages_from(bob.user_id, room_id, hello) == [answer]
    assert await alice.messages_from(bob.user_id, room_id, reply) == []


def _first_event(member: MatrixMember, room_id: str) -> str:
    return str(member.timeline(room_id)[0]["event_id"])


async def test_encrypted_direct_room_uses_real_megolm_both_ways(
    synapse: SynapseServer, members: MemberFactory
) -> None:
    alice = await members("Alice", encrypted=True)
    bob = await members("Bob", encrypted=True)
    room_id, seconds = await open_dm(alice, bob, encrypted=True)
    print(f"\nencrypted DM set up (create, invite, join, keys, trust) in {seconds:.2f} s")
    assert alice.client.rooms[room_id].encrypted
    assert [device.verified for device in alice.devices_of(bob.user_id)] == [True]

    began = time.monotonic()
    hello = await alice.send_text(room_id, "a secret hello")
    [received] = await bob.wait_for_messages(alice.user_id, room_id, _first_event(bob, room_id))
    print(f"first encrypted message delivered and decrypted in {time.monotonic() - began:.2f} s")
    assert received["event_id"] == hello
    assert received["body"] == "a secret hello"
    assert received["decrypted"] and received["verified"]
    on_the_server = await raw_event(synapse, bob, room_id, hello)
    assert on_the_server["type"] == "m.room.encrypted"
    assert on_the_server["content"]["algorithm"] == "m.megolm.v1.aes-sha2"
    assert "secret" not in str(on_the_server)

    reply = await bob.send_message(room_id, notice("Secret menu", ["Tea", "Coffee"]))
    [answer] = await alice.wait_for_messages(bob.user_id, room_id, hello)
    assert answer["event_id"] == reply
    assert answer["body"] == "Secret menu\n\n1. Tea\n2. Coffee"
    assert answer["formatted_body"] == "Secret menu<ol><li>Tea</li><li>Coffee</li></ol>"
    assert answer["msgtype"] == "m.notice"
    assert answer["decrypted"] and not answer["undecryptable"]

    # Later messages reuse the sessions; both sides keep decrypting.
    again = await alice.send_text(room_id, "second")
    [second] = await bob.wait_for_messages(alice.user_id, room_id, hello)
    assert (second["event_id"], second["body"], second["decrypted"]) == (again, "second", True)


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_reactions_point_at_the_message_with_the_keycap(
    synapse: SynapseServer, members: MemberFactory, encrypted: bool
) -> None:
    alice = await members("Alice", encrypted=encrypted)
    bob = await members("Bob", encrypted=encrypted)
    room_id, _ = await open_dm(alice, bob, encrypted=encrypted)
    menu = await bob.send_message(room_id, notice("Choose", ["Yes", "No"]))
    await alice.wait_until(
        lambda: any(record["event_id"] == menu for record in alice.timeline(room_id)),
        what="the menu",
    )
    reaction = await alice.react(room_id, menu, KEYCAPS[1])
    [seen] = await bob.wait_for_messages(alice.user_id, room_id, menu)
    assert seen["event_id"] == reaction
    assert seen["type"] == "m.reaction"
    assert (seen["relates_to"], seen["rel_type"], seen["key"]) == (menu, "m.annotation", "2️⃣")
    wire = await raw_event(synapse, bob, room_id, reaction)
    # Element encrypts reactions and leaves m.relates_to in the clear; so does the harness.
    assert wire["type"] == ("m.room.encrypted" if encrypted else "m.reaction")
    assert wire["content"]["m.relates_to"]["event_id"] == menu
    assert seen["decrypted"] is encrypted
    if encrypted:
        plain = await alice.react(room_id, menu, KEYCAPS[0], encrypt=False)
        assert (await raw_event(synapse, bob, room_id, plain))["type"] == "m.reaction"
        [_, unencrypted] = await bob.wait_for_messages(alice.user_id, room_id, menu, count=2)
        assert (unencrypted["key"], unencrypted["decrypted"]) == ("1️⃣", False)


def test_keycaps_and_choice_lines() -> None:
    assert KEYCAPS[0] == "1\ufe0f\u20e3"
    assert KEYCAPS[9] == "\U0001f51f"
    assert len(KEYCAPS) == 10
    replies: list[dict[str, Any]] = [
        {"event_id": "$a", "body": "Language?\n\n1. English\n2. Español"},
        {"event_id": "$b", "body": "Also:\n\n1. Español (again)\n2. Other"},
    ]
    assert find_choice(replies, "Español") == (replies[1], 1)
    assert find_choice(replies, "English") == (replies[0], 1)
    assert find_choice(replies, "Klingon") is None
    assert render(replies) == (
        "Language?\n\n1. English\n2. Español\n\nAlso:\n\n1. Español (again)\n2. Other\n"
    )
    assert render([]) == ""


# -- the Chat driver against a scripted stand-in -------------------------------------------


class StandIn:
    """A member answering like the bot would, with a store the test controls."""

    def __init__(self, member: MatrixMember, store: Store) -> None:
        self.member = member
        self.store = store
        self.user_id = member.user_id


async def answer_next(
    bob: MatrixMember, room_id: str, after: str, sender: str, replies: list[dict[str, Any]]
) -> str:
    """Wait for the next message of ``sender`` after ``after``; answer with ``replies``."""
    [question] = (await bob.wait_for_messages(sender, room_id, after))[-1:]
    for content in replies:
        await bob.send_message(room_id, content)
    return str(question["event_id"])


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_chat_sends_settles_and_picks_by_number_and_by_reaction(
    members: MemberFactory, idle_store: Store, encrypted: bool
) -> None:
    alice = await members("Alice", encrypted=encrypted)
    bob = await members("Bob", encrypted=encrypted)
    room_id, _ = await open_dm(alice, bob, encrypted=encrypted)
    stand_in = StandIn(bob, idle_store)
    chat = MatrixChat(alice, stand_in, room_id, timeout=20)  # type: ignore[arg-type]
    assert chat.user_label == alice.user_id
    mark = _first_event(bob, room_id)

    # The stand-in "receives" the event first: the chat waits for the store to be idle.
    idle_store.inbox.record(Platform.MATRIX, "$in-flight", None, {})

    async def bot_side() -> None:
        asked = await answer_next(
            bob, room_id, mark, alice.user_id,
            [notice("Hello!", []), notice("Which language?", ["English", "Español"])],
        )  # fmt: skip
        await asyncio.sleep(0.5)
        idle_store.inbox.mark_handled(Platform.MATRIX, "$in-flight")
        picked = await answer_next(bob, room_id, asked, alice.user_id, [notice("Español!", [])])
        await answer_next(bob, room_id, picked, alice.user_id, [notice("English!", [])])

    script = asyncio.create_task(bot_side())
    answer = await chat.send("!start")
    assert answer == "Hello!\n\nWhich language?\n\n1. English\n2. Español\n"
    assert [reply["msgtype"] for reply in chat.shown] == ["m.notice", "m.notice"]
    assert await chat.pick("Español") == "Español!\n"
    sent = alice.timeline(room_id)
    assert [r["body"] for r in sent if r["sender"] == alice.user_id and r["body"]][-1] == "2"
    # The choices of the last answer are gone ("Español!" offers none) ...
    with pytest.raises(AssertionError, match="no choice labelled 'English'"):
        await chat.pick("English")
    # ... so react to the earlier menu by hand, as a member scrolling up would.
    menu = next(r for r in alice.timeline(room_id) if r["body"] and "Which" in r["body"])
    chat.shown = [menu]
    assert await chat.pick_by_reaction("English") == "English!\n"
    await asyncio.wait_for(script, 5)
    reaction = [r for r in alice.timeline(room_id) if r["type"] == "m.reaction"][-1]
    assert (reaction["relates_to"], reaction["key"]) == (menu["event_id"], "1️⃣")
    assert await chat.resume() == ""


async def test_settle_without_an_answer_waits_quietly_then_gives_up_loudly(
    members: MemberFactory, idle_store: Store
) -> None:
    alice = await members("Alice")
    bob = await members("Bob")
    room_id, _ = await open_dm(alice, bob, encrypted=False)
    ignored = await alice.send_text(room_id, "nobody answers this")
    began = time.monotonic()
    assert await settle(alice, idle_store, room_id, ignored, bob.user_id, expect_reply=False) == []
    assert 0.9 < time.monotonic() - began < 5

    idle_store.inbox.record(Platform.MATRIX, "$stuck", None, {})
    with pytest.raises(MatrixHarnessError) as stuck:
        await settle(alice, idle_store, room_id, ignored, bob.user_id, timeout=1.0)
    message = str(stuck.value)
    assert "did not settle" in message
    assert "pending inbound ['$stuck']" in message
    assert "nobody answers this" in message  # what the member saw


# -- configuration and the real bot ----------------------------------------------------------


async def test_matrix_config_registers_an_admin_bot_without_rate_limits(
    synapse: SynapseServer, tmp_path: Path, sqlite_url: str
) -> None:
    config = await matrix_config(tmp_path, sqlite_url, synapse, extra='admins = ["console:x"]')
    matrix = config.matrix
    assert matrix is not None
    assert matrix.homeserver == synapse.base_url
    assert matrix.join_invites_from == (synapse.server_name,)
    assert matrix.device_trust == "on-first-use"
    assert matrix.store_path == tmp_path / "data" / "matrix-store"
    assert matrix.access_token is not None and matrix.pickle_key is not None
    assert config.database_url == sqlite_url
    token = matrix.access_token.get_secret_value()
    whoami = await synapse.request("GET", "/_matrix/client/v3/account/whoami", access_token=token)
    assert (whoami["user_id"], whoami["device_id"]) == (matrix.user_id, matrix.device_id)
    user = await synapse.request(
        "GET", f"/_synapse/admin/v2/users/{quote(matrix.user_id, safe='')}", access_token=token
    )
    assert user["admin"] is True
    override = await synapse.request(
        "GET",
        f"/_synapse/admin/v1/users/{quote(matrix.user_id, safe='')}/override_ratelimit",
        access_token=token,
    )
    assert override == {"messages_per_second": 0, "burst_count": 0}

    # Synchronous fixtures can make one too, even from under a running event loop.
    other = matrix_config_sync(tmp_path / "sync", sqlite_url, synapse)
    assert other.matrix is not None and other.matrix.user_id != matrix.user_id


@pytest.fixture
def matrix_service() -> None:
    try:
        from bot.app import Services  # noqa: F401
    except ImportError as error:
        pytest.skip(f"the bot's Matrix transport is not there yet: {error}")


@pytest.fixture
async def bot(
    matrix_service: None, synapse: SynapseServer, tmp_path: Path, sqlite_url: str
) -> AsyncIterator[MatrixBot]:
    config = await matrix_config(tmp_path / "bot", sqlite_url, synapse)
    running = MatrixBot(config)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_the_real_bot_answers_help_and_takes_choices_by_number_and_reaction(
    synapse: SynapseServer, bot: MatrixBot, tmp_path: Path, encrypted: bool
) -> None:
    began = time.monotonic()
    chat = await MatrixChat.open(
        synapse, bot, "Ana", encrypted=encrypted, store_dir=tmp_path / "ana"
    )
    try:
        opened = time.monotonic() - began
        answer = await chat.send("!help")
        print(
            f"\n{'encrypted' if encrypted else 'plain'} DM with the bot opened in {opened:.2f} s,"
            f" !help answered after {time.monotonic() - began - opened:.2f} s"
        )
        assert "!whoami" in answer
        [reply] = chat.shown
        assert reply["msgtype"] == "m.notice"
        assert reply["formatted_body"]
        assert reply["decrypted"] is encrypted

        assert "Which language" in await chat.send("!language")
        assert "español" in await chat.pick("Español")
        assert "English" in await chat.send("language")  # a bare command word in a DM
        assert "in English" in await chat.pick_by_reaction("English")
        assert bot.warnings == []
    finally:
        await chat.close()


# -- group rooms: formatting, replies, edits, redactions, media, polls -----------------------


async def open_group(alice: MatrixMember, *others: MatrixMember, encrypted: bool) -> str:
    """Alice opens a group room with the others, who accept."""
    room_id, *accepted = await asyncio.gather(
        alice.open_group_room([other.user_id for other in others], encrypted=encrypted),
        *(other.accept_invite(alice.user_id) for other in others),
    )
    assert accepted == [room_id] * len(others)
    for other in others:
        if encrypted:
            await other.wait_until(lambda o=other: o.devices_of(alice.user_id), what="keys")
    return room_id


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_formatted_text_replies_edits_and_redactions_as_a_client_shows_them(
    synapse: SynapseServer, members: MemberFactory, encrypted: bool
) -> None:
    alice = await members("Alice", encrypted=encrypted)
    bob = await members("Bob", encrypted=encrypted)
    room_id = await open_group(alice, bob, encrypted=encrypted)
    assert alice.client.rooms[room_id].encrypted is encrypted

    first = await alice.send_formatted(room_id, "hi there", "<b>hi</b> there")
    quoted = await alice.reply(room_id, first, "agreed", "<i>agreed</i>")
    bare = await alice.reply(room_id, first, "plain answer", fallback=False)
    emote = await alice.send_emote(room_id, "waves")
    edit = await alice.edit(room_id, first, "hi everyone", "<b>hi</b> everyone")
    redaction = await alice.redact(room_id, bare)

    posts = await bob.wait_for_posts(
        room_id,
        alice.user_id,
        count=4,
        until=lambda found: bool(found[0].edits) and found[2].redacted,
    )
    assert [post.event_id for post in posts] == [first, quoted, bare, emote]
    hello, answer, removed, waving = posts
    assert (hello.body, hello.formatted_body) == ("hi everyone", "<b>hi</b> everyone")
    assert hello.original["body"] == "hi there"
    assert [record["event_id"] for record in hello.edits] == [edit]
    assert hello.edits[0]["body"] == "* hi everyone"
    assert hello.reply_to is None and hello.marker is None and hello.profile is None

    assert answer.reply_to == first
    assert answer.body == f"> <{alice.user_id}> hi there\n\nagreed"
    assert answer.formatted_body is not None
    assert answer.formatted_body.startswith("<mx-reply><blockquote>")
    assert answer.formatted_body.endswith("</mx-reply><i>agreed</i>")

    # Seen before or after its redaction (then the homeserver hands out what is left of it).
    assert removed.body in (None, "plain answer")
    assert removed.redacted_by == redaction
    assert (waving.msgtype, waving.body) == ("m.emote", "waves")
    if encrypted:
        wire = await raw_event(synapse, bob, room_id, edit)
        assert wire["type"] == "m.room.encrypted"
        assert wire["content"]["m.relates_to"] == {"rel_type": "m.replace", "event_id": first}


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_each_media_kind_is_uploaded_sent_and_downloaded_intact(
    synapse: SynapseServer, members: MemberFactory, encrypted: bool
) -> None:
    alice = await members("Alice", encrypted=encrypted)
    bob = await members("Bob", encrypted=encrypted)
    room_id = await open_group(alice, bob, encrypted=encrypted)
    mark = await alice.send_text(room_id, "files follow")
    files = {
        "image": (b"\x89PNG fake picture", "cat.png", "image/png"),
        "file": (b"%PDF-1.4 minutes", "minutes.pdf", "application/pdf"),
        "audio": (b"ID3 song", "song.mp3", "audio/mpeg"),
        "voice": (b"OggS voice", "voice.ogg", "audio/ogg"),
        "video": (b"\x00\x00\x00 ftyp clip", "clip.mp4", "video/mp4"),
        "sticker": (b"RIFF webp sticker", "Grinning face", "image/webp"),
    }
    sent = {}
    for kind, (data, filename, content_type) in files.items():
        caption = "look at <this>" if kind == "image" else None
        formatted = "look at <b>&lt;this&gt;</b>" if kind == "image" else None
        sent[kind] = await alice.send_media(
            room_id, kind, data, filename=filename, content_type=content_type,
            caption=caption, formatted_caption=formatted,
            reply_to=mark if kind == "file" else None,
        )  # fmt: skip

    posts = await bob.wait_for_posts(room_id, alice.user_id, after=mark, count=len(files))
    by_id = {post.event_id: post for post in posts}
    for kind, (data, filename, content_type) in files.items():
        post = by_id[sent[kind]]
        assert await bob.download(post) == data, kind
        content = post.content
        assert content["info"] == {"mimetype": content_type, "size": len(data)}
        assert ("file" in content, "url" in content) == (encrypted, not encrypted), kind
        if kind == "sticker":
            assert (post.type, post.msgtype, post.body) == ("m.sticker", None, filename)
        else:
            assert (post.type, post.msgtype) == ("m.room.message", MEDIA_MSGTYPES[kind])
            assert content["filename"] == filename
    image = by_id[sent["image"]]
    assert (image.body, image.formatted_body) == ("look at <this>", "look at <b>&lt;this&gt;</b>")
    assert by_id[sent["file"]].reply_to == mark
    assert by_id[sent["voice"]].content["org.matrix.msc3245.voice"] == {}
    assert "org.matrix.msc3245.voice" not in by_id[sent["audio"]].content
    if encrypted:
        # What the homeserver keeps is ciphertext, and the event itself is encrypted.
        stored = by_id[sent["file"]].content["file"]["url"]
        raw = await bob.client.download(mxc=stored)
        assert raw.body != files["file"][0] and len(raw.body) == len(files["file"][0])
        wire = await raw_event(synapse, bob, room_id, sent["sticker"])
        assert wire["type"] == "m.room.encrypted"


async def test_locations_polls_and_undecryptable_events_show_up(
    members: MemberFactory,
) -> None:
    alice = await members("Alice", encrypted=True)
    bob = await members("Bob", encrypted=True)
    room_id = await open_group(alice, bob, encrypted=True)
    where = await alice.send_location(room_id)
    poll = await alice.send_poll(room_id, "Lunch?", ["Yes", "No"])
    await bob.wait_for_posts(room_id, alice.user_id, count=2)
    lost = await alice.send_undecryptable(room_id)
    await bob.wait_until(
        lambda: any(post.event_id == lost for post in bob.posts(room_id)), what="the event"
    )
    location, started, unreadable = bob.posts(room_id, alice.user_id)
    assert location.event_id == where
    assert location.content["geo_uri"] == "geo:51.5008,0.1247"
    assert (location.msgtype, location.body) == ("m.location", "Big Ben")
    assert (started.event_id, started.type) == (poll, "org.matrix.msc3381.poll.start")
    answers = started.content["org.matrix.msc3381.poll.start"]["answers"]
    assert [answer["org.matrix.msc1767.text"] for answer in answers] == ["Yes", "No"]
    assert (unreadable.event_id, unreadable.undecryptable) == (lost, True)
    with pytest.raises(MatrixHarnessError, match="waited"):
        await bob.wait_for_posts(room_id, alice.user_id, count=3, timeout=1)


def _record(event_id: str, sender: str, content: dict[str, Any], **more: Any) -> dict[str, Any]:
    relates = content.get("m.relates_to", {})
    record: dict[str, Any] = {
        "event_id": event_id, "sender": sender, "type": "m.room.message", "state": False,
        "content": content, "rel_type": relates.get("rel_type"),
        "relates_to": relates.get("event_id"), "undecryptable": False, "redacted": False,
        "redacts": None,
    }  # fmt: skip
    record.update(more)
    return record


def test_posted_messages_apply_own_edits_in_order_and_mark_redactions() -> None:
    def edit(event_id: str, sender: str, target: str, body: str) -> dict[str, Any]:
        new = {"msgtype": "m.text", "body": body}
        relates = {"rel_type": "m.replace", "event_id": target}
        return _record(event_id, sender, {**new, "m.new_content": new, "m.relates_to": relates})

    records = [
        _record("$a", "@ana:x", {"msgtype": "m.text", "body": "one"}),
        _record("$b", "@bo:x", {"msgtype": "m.text", "body": "two"}),
        edit("$e1", "@ana:x", "$a", "one, better"),
        edit("$e2", "@bo:x", "$a", "hijacked"),  # not the sender's: clients ignore it
        edit("$e3", "@ana:x", "$a", "one, best"),
        _record("$r", "@bo:x", {}, type="m.room.redaction", redacts="$b"),
        _record("$c", "@ana:x", {}, redacted=True),
        _record("$s", "@ana:x", {"membership": "join"}, type="m.room.member", state=True),
    ]
    first, second, gone = posted_messages(records)
    assert (first.body, [e["event_id"] for e in first.edits]) == ("one, best", ["$e1", "$e3"])
    assert first.original["body"] == "one" and not first.redacted
    assert (second.body, second.redacted_by) == ("two", "$r")
    assert (gone.event_id, gone.redacted_by, gone.body) == ("$c", "", None)
