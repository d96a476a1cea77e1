"""Polls on Matrix, over a real Synapse with real matrix-nio members: the bot's poll goes out
as an MSC3381 poll start (encrypted in an encrypted room), members' responses in the unstable
and the stable shapes come back as votes with the server's time, a number typed by a member
whose client shows the poll as text picks that option, live results are an ``m.replace`` of
the results message, and the end is a poll end referencing the start.

The rules of the translation itself (the event contents, malformed responses) are checked
without a server at the end of the module. What the votes then count for is the poll
handlers' (tests/test_polls.py, on the console).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.outgoing import BotEdit, MessageRef, PollEnd, PollStart
from bot.queueing import queue_replies
from bot.transports.matrix.events import SPOILED_ANSWER, translate
from bot.transports.matrix.payloads import (
    MatrixEdit,
    MatrixNotice,
    MatrixPollEnd,
    MatrixPollStart,
)
from bot.transports.matrix.render import render
from bot.transports.matrix.sender import CHOICES_STATE, POLL_CHOICES_STATE
from bot.transports.planning import PLANNING
from bot.types import (
    ChoicePicked,
    Incoming,
    Origin,
    Outgoing,
    Platform,
    RenderedPoll,
    TextMessage,
    VoteCast,
)
from tests.harness.matrix_harness import (
    POLL_END,
    POLL_START,
    MatrixBot,
    MatrixMember,
    matrix_config,
)
from tests.harness.synapse_server import SynapseServer

T = TypeVar("T")
MX = Platform.MATRIX
TEXT = "org.matrix.msc1767.text"
INTRODUCTION = "Poll 1: Lunch?\nAnswer in the poll, or with a number."
FALLBACK = f"{INTRODUCTION}\n1. Pizza\n2. Soup\n3. Salad"
"""What a client without polls shows: the introduction, then the options numbered."""
OPTIONS = ("Pizza", "Soup", "Salad")
VALUES = ("poll:1:0", "poll:1:1", "poll:1:2")


@dataclass
class Room:
    """A running bot in a group room with Alice and Bob."""

    bot: MatrixBot
    alice: MatrixMember
    bob: MatrixMember
    room_id: str

    def queue(self, **fields: Any) -> None:
        """Owe one reply in the room, as the dispatcher does, and wake the outbox."""
        store = self.bot.store
        planner = PLANNING[MX].parts
        reply = Outgoing(MX, self.room_id, language="en", **fields)
        with store.transaction():
            queue_replies(
                store, [reply], {MX: lambda item: planner(item, store.transports.callback_token)}
            )
        assert self.bot.service is not None
        self.bot.service.wake(MX)

    async def from_bot(self, event_type: str, count: int = 1) -> list[dict[str, Any]]:
        return await self.alice.wait_for_events(
            self.room_id, event_type, self.bot.user_id, count=count
        )

    async def read(self, found: Callable[[list[Incoming]], T | None], what: str) -> T:
        """What the bot's inbox handed the router, once ``found`` finds it there."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            result = found(self.bot.events)
            if result is not None:
                return result
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {what} within 30 s; the bot read {self.bot.events}")

    async def votes(self, count: int) -> list[VoteCast]:
        def enough(events: list[Incoming]) -> list[VoteCast] | None:
            votes = [event for event in events if isinstance(event, VoteCast)]
            return votes if len(votes) >= count else None

        return await self.read(enough, f"{count} votes")

    async def event_for(self, message_id: str) -> Incoming:
        return await self.read(
            lambda events: next(
                (e for e in events if getattr(e, "message_id", None) == message_id), None
            ),
            f"the event {message_id}",
        )

    async def post_key(self, event_id: str) -> str:
        """The post a delivered event is (recorded just after the send)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            key = self.bot.store.posts.key_of_message(MX, self.room_id, event_id)
            if key is not None:
                return key
            await asyncio.sleep(0.05)
        raise AssertionError(f"{event_id} is no post")


@pytest.fixture
async def room(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_url: str, synapse: SynapseServer
) -> AsyncIterator[Room]:
    encrypted = bool(getattr(request, "param", False))
    bot = MatrixBot(await matrix_config(tmp_path, sqlite_url, synapse))
    await bot.start()
    alice = await MatrixMember.create(synapse, "Alice", encrypted=encrypted)
    bob = await MatrixMember.create(synapse, "Bob", encrypted=encrypted)
    try:
        room_id, _ = await asyncio.gather(
            alice.open_group_room([bob.user_id, bot.user_id], encrypted=encrypted),
            bob.accept_invite(alice.user_id),
        )
        yield Room(bot, alice, bob, room_id)
    finally:
        await alice.close()
        await bob.close()
        await bot.stop()


def poll(question: str = "Lunch?", *, disclosed: bool = True) -> RenderedPoll:
    return RenderedPoll(question, OPTIONS, VALUES, 1, disclosed, None)


@pytest.mark.parametrize("room", [False, True], ids=["plain", "encrypted"], indirect=True)
async def test_a_poll_goes_out_as_a_poll_start_and_responses_come_back_as_votes(
    room: Room,
) -> None:
    alice, bob, room_id = room.alice, room.bob, room.room_id
    room.queue(text=INTRODUCTION, poll=poll(), post="poll:1:start")

    [start] = await room.from_bot(POLL_START)
    assert start["decrypted"] is (alice.client.rooms[room_id].encrypted)
    content = start["content"]
    assert content[TEXT] == content["body"] == FALLBACK
    assert content[POLL_START] == {
        "kind": "org.matrix.msc3381.poll.disclosed",
        "max_selections": 1,
        "question": {TEXT: "Lunch?", "body": "Lunch?", "msgtype": "m.text"},
        "answers": [
            {"id": "0", TEXT: "Pizza"},
            {"id": "1", TEXT: "Soup"},
            {"id": "2", TEXT: "Salad"},
        ],
    }
    poll_id = start["event_id"]
    assert await room.post_key(poll_id) == "poll:1:start"

    # Element's unstable shape, the stable one, a change, and a vote taken back.
    await alice.send_poll_response(room_id, poll_id, ["1"])
    await bob.send_poll_response(room_id, poll_id, ["0", "2"], stable=True)
    await alice.send_poll_response(room_id, poll_id, ["2"])
    await alice.send_poll_response(room_id, poll_id, [], stable=True)
    votes = await room.votes(4)
    by = {alice.user_id: "alice", bob.user_id: "bob"}
    said = [(by[vote.origin.user_id], vote.poll_id, vote.options) for vote in votes]
    assert sorted(said) == sorted(
        [
            ("alice", poll_id, ("1",)),
            ("bob", poll_id, ("0", "2")),
            ("alice", poll_id, ("2",)),
            ("alice", poll_id, ()),
        ]
    )
    now = datetime.now(UTC)
    for vote in votes:
        assert vote.sent_at is not None and vote.sent_at.tzinfo is UTC
        assert abs(vote.sent_at - now) < timedelta(minutes=2)
        assert vote.origin.room_id == room_id and not vote.origin.is_direct
    alices = sorted(
        (vote for vote in votes if vote.origin.user_id == alice.user_id),
        key=lambda vote: vote.sent_at or now,
    )
    assert [vote.options for vote in alices] == [("1",), ("2",), ()]

    # A member whose client shows the poll as its text answers it with a number; a "2" said
    # in the room's conversation is no vote (and goes on to the group's other rooms).
    said = await bob.send_text(room_id, "2")
    assert isinstance(await room.event_for(said), TextMessage)
    typed = await bob.reply(room_id, poll_id, "2")
    picked = await room.event_for(typed)
    assert isinstance(picked, ChoicePicked) and picked.value == "poll:1:1"
    worded = await bob.reply(room_id, poll_id, "Salad")
    assert isinstance(await room.event_for(worded), TextMessage)


async def test_live_results_are_edited_in_place_and_the_end_references_the_start(
    room: Room,
) -> None:
    alice, room_id, bot_id = room.alice, room.room_id, room.bot.user_id
    room.queue(text=INTRODUCTION, poll=poll(disclosed=False), post="poll:1:start")
    # Results leave the poll's numbers standing (keeps_choices); the first becomes the post.
    room.queue(text="Pizza 0, Soup 0", edits="poll:1:results", keeps_choices=True)
    room.queue(text="Pizza 1, Soup 0", edits="poll:1:results", keeps_choices=True)

    [start] = await room.from_bot(POLL_START)
    assert start["content"][POLL_START]["kind"] == "org.matrix.msc3381.poll.undisclosed"

    def edited(posts: list[Any]) -> bool:
        return any(post.edits for post in posts)

    posts = await alice.wait_for_posts(room_id, bot_id, count=2, until=edited)
    results = next(post for post in posts if "Pizza 1" in str(post.body))
    assert results.original["body"] == "Pizza 0, Soup 0"
    assert results.body == "Pizza 1, Soup 0" and results.msgtype == "m.notice"
    [edit] = results.edits
    assert (edit["rel_type"], edit["relates_to"]) == ("m.replace", results.event_id)
    assert edit["body"] == "* Pizza 1, Soup 0"
    assert await room.post_key(results.event_id) == "poll:1:results"
    offered = room.bot.store.transports.state(MX, POLL_CHOICES_STATE + start["event_id"])
    assert offered and len(json.loads(offered)) == 3  # numbered replies still vote
    assert not room.bot.store.transports.state(MX, CHOICES_STATE + room_id)

    room.queue(text="The poll has ended.", ends_poll="poll:1:start")
    [end] = await room.from_bot(POLL_END)
    assert end["content"] == {
        "m.relates_to": {"rel_type": "m.reference", "event_id": start["event_id"]},
        POLL_END: {},
        TEXT: "The poll has ended.",
        "body": "The poll has ended.",
        "msgtype": "m.text",
    }
    # Closed: a number in reply to it now is just words in the room.
    late = await alice.reply(room_id, start["event_id"], "2")
    assert isinstance(await room.event_for(late), TextMessage)
    # The bot's own poll, results and end are never read back as members' events.
    assert all(event.origin.user_id != bot_id for event in room.bot.events)


# -- the translation alone -------------------------------------------------------------------

ORIGIN = Origin(MX, "!room:example.org", "@ana:example.org", is_direct=False)
START = "$start"
STAMP = 1_767_000_000_123


def response(event_type: str, content: dict[str, Any]) -> Incoming | None:
    source = {"type": event_type, "event_id": "$vote", "origin_server_ts": STAMP}
    return translate(ORIGIN, {**source, "content": content})


def test_responses_are_read_in_both_shapes_and_malformed_ones_are_spoiled() -> None:
    relation = {"m.relates_to": {"rel_type": "m.reference", "event_id": START}}
    sent_at = datetime.fromtimestamp(STAMP / 1000, UTC)
    unstable = "org.matrix.msc3381.poll.response"
    assert response(unstable, {**relation, unstable: {"answers": ["1", "7"]}}) == VoteCast(
        ORIGIN, START, ("1", "7"), sent_at
    )
    assert response("m.poll.response", {**relation, "m.selections": []}) == VoteCast(
        ORIGIN, START, (), sent_at
    )
    spoiled = VoteCast(ORIGIN, START, (SPOILED_ANSWER,), sent_at)
    assert response("m.poll.response", {**relation, "m.selections": [1]}) == spoiled
    assert response(unstable, {**relation, unstable: {"answers": "1"}}) == spoiled
    assert response(unstable, relation) == spoiled
    # A response that answers no poll is nothing.
    assert response(unstable, {unstable: {"answers": ["1"]}}) is None
    elsewhere = {"m.relates_to": {"rel_type": "m.thread", "event_id": START}}
    assert response(unstable, {**elsewhere, unstable: {"answers": ["1"]}}) is None
    # A member's poll end closes nothing of the bot's.
    ended = {**relation, POLL_END: {}, "org.matrix.msc1767.text": "Closed", "body": "Closed"}
    assert response(POLL_END, ended) is None


def test_without_their_original_an_edit_is_a_new_message_and_an_end_a_notice() -> None:
    edit = render(BotEdit(None, "Pizza 2"))
    assert isinstance(edit, MatrixEdit) and edit.target is None
    assert edit.content["body"] == "Pizza 2" and edit.content["msgtype"] == "m.notice"
    end = render(PollEnd(None, "The poll has ended."))
    assert isinstance(end, MatrixNotice) and end.keeps_choices
    assert end.content["body"] == "The poll has ended."
    closing = render(PollEnd(MessageRef("$start"), "The poll has ended."))
    assert isinstance(closing, MatrixPollEnd) and closing.start == "$start"


def test_a_poll_allows_at_most_as_many_selections_as_it_has_options() -> None:
    item = PollStart("Q", "Q", ("a", "b"), ("v:0", "v:1"), max_selections=5)
    payload = render(item)
    assert isinstance(payload, MatrixPollStart)
    assert payload.content[POLL_START]["max_selections"] == 2
    assert payload.choices == (("v:0", "a"), ("v:1", "b"))
