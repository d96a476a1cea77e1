"""The bot's named messages (``Reply.post``) and the replies that change them, queued in the
outbox on SQLite and PostgreSQL: a post's later edits, a poll's start and end, and the
platform's ids learnt at delivery that let an answer find its poll."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.outgoing import BotEdit, BotMessage, OutboxRef, OutgoingItem, PollEnd, PollStart
from bot.outgoing_json import from_json
from bot.queueing import Planner, queue_replies
from bot.transports.planning import PLANNING
from bot.types import Outgoing, Platform, RenderedPoll
from storage import DeliveryStatus, Store

TG = Platform.TELEGRAM
MX = Platform.MATRIX
GROUP = "-1001"
ROOM = "!room:example.org"


def _planners(store: Store) -> dict[Platform, Planner]:
    def planner(platform: Platform) -> Planner:
        return lambda item: PLANNING[platform].parts(item, store.transports.callback_token)

    return {TG: planner(TG), MX: planner(MX)}


def _say(platform: Platform, room: str, text: str, **extra: object) -> Outgoing:
    return Outgoing(platform, room, text, "en", **extra)  # type: ignore[arg-type]


def _pending(store: Store, platform: Platform, room: str) -> list[OutgoingItem]:
    return [from_json(row.payload) for row in store.outbox.room_head(platform, room)]


POLL = RenderedPoll(
    question="Join the campaign?",
    options=("Yes", "No"),
    choice_values=("poll:7:0", "poll:7:1"),
    max_selections=1,
    disclosed=True,
    closes_at=datetime(2027, 1, 15, 17, 0, tzinfo=UTC),
)


def test_a_poll_reply_is_queued_as_the_platforms_poll_and_named(store: Store) -> None:
    queue_replies(
        store,
        [_say(TG, GROUP, "Poll 7\n1. Yes\n2. No", poll=POLL, post="poll:7:start")],
        _planners(store),
    )
    [item] = _pending(store, TG, GROUP)
    assert item == PollStart(
        "Poll 7\n1. Yes\n2. No",
        "Join the campaign?",
        ("Yes", "No"),
        ("poll:7:0", "poll:7:1"),
        1,
        True,
        "2027-01-15T17:00:00+00:00",
    )
    [posted] = store.posts.rooms_of("poll:7:start")
    assert (posted.platform, posted.room_id, posted.message_id) == (TG, GROUP, None)


def test_an_edit_of_a_post_never_made_is_said_anew_and_becomes_the_post(store: Store) -> None:
    planners = _planners(store)
    queue_replies(store, [_say(MX, ROOM, "No votes yet", edits="poll:7:results")], planners)
    [first] = _pending(store, MX, ROOM)
    assert first == BotMessage("No votes yet")
    first_id = store.outbox.room_head(MX, ROOM)[0].id
    queue_replies(store, [_say(MX, ROOM, "Yes 1", edits="poll:7:results")], planners)
    assert _pending(store, MX, ROOM)[1] == BotEdit(OutboxRef(first_id), "Yes 1")


def test_a_newer_edit_supersedes_one_still_waiting_so_a_burst_sends_one(store: Store) -> None:
    planners = _planners(store)
    queue_replies(store, [_say(TG, GROUP, "Results", post="poll:7:results")], planners)
    for count in range(1, 6):
        queue_replies(store, [_say(TG, GROUP, f"Yes {count}", edits="poll:7:results")], planners)
    rows = store.outbox.room_head(TG, GROUP)
    results_id = rows[0].id
    assert [from_json(row.payload) for row in rows] == [
        BotMessage("Results"),
        BotEdit(OutboxRef(results_id), "Yes 5"),
    ]
    status = store.outbox.status(TG, since=datetime(2000, 1, 1, tzinfo=UTC))
    assert (status.pending, status.failed, status.delivered) == (2, 0, 4)
    # The post itself, and the edit the outbox took before the next was queued, stand.
    store.outbox.mark_delivered(rows[1].id, rows[0].platform_message_id or "501")
    queue_replies(store, [_say(TG, GROUP, "Yes 6", edits="poll:7:results")], planners)
    assert store.outbox.targets([rows[1].id])[rows[1].id].status is DeliveryStatus.DELIVERED


def test_ending_a_poll_refers_to_its_start_and_passes_over_rooms_it_never_went_to(
    store: Store,
) -> None:
    planners = _planners(store)
    queue_replies(store, [_say(MX, ROOM, "Poll 7", poll=POLL, post="poll:7:start")], planners)
    start_id = store.outbox.room_head(MX, ROOM)[0].id
    queue_replies(
        store,
        [
            _say(MX, ROOM, "The poll has ended.", ends_poll="poll:7:start"),
            _say(TG, GROUP, "The poll has ended.", ends_poll="poll:7:start"),
        ],
        planners,
    )
    assert _pending(store, MX, ROOM)[1] == PollEnd(OutboxRef(start_id), "The poll has ended.")
    assert _pending(store, TG, GROUP) == []


def test_a_delivered_post_is_found_by_its_message_and_by_the_poll_it_carries(
    store: Store,
) -> None:
    planners = _planners(store)
    queue_replies(
        store,
        [
            _say(TG, GROUP, "Poll 7", poll=POLL, post="poll:7:start"),
            _say(MX, ROOM, "Poll 7", poll=POLL, post="poll:7:start"),
        ],
        planners,
    )
    telegram = store.outbox.room_head(TG, GROUP)[0].id
    matrix = store.outbox.room_head(MX, ROOM)[0].id
    assert store.posts.key_of_native(TG, "5345") is None
    store.outbox.mark_delivered_in_batch(
        [([telegram], "77"), ([matrix], "$start:example.org")], {telegram: "5345"}
    )
    assert store.posts.key_of_native(TG, "5345") == "poll:7:start"
    assert store.posts.key_of_native(MX, "5345") is None
    assert store.posts.key_of_message(MX, ROOM, "$start:example.org") == "poll:7:start"
    assert store.posts.key_of_message(MX, "!other:example.org", "$start:example.org") is None
    assert {
        (room.platform, room.room_id, room.message_id)
        for room in store.posts.rooms_of("poll:7:start")
    } == {(TG, GROUP, "77"), (MX, ROOM, "$start:example.org")}


def test_an_edit_of_a_post_that_never_arrived_is_said_anew_and_stands_in_for_it(
    store: Store,
) -> None:
    planners = _planners(store)
    queue_replies(store, [_say(TG, GROUP, "No votes yet", post="poll:7:results")], planners)
    lost = store.outbox.room_head(TG, GROUP)[0].id
    store.outbox.mark_failed(lost, "chat not found")
    queue_replies(store, [_say(TG, GROUP, "Yes 1", edits="poll:7:results")], planners)
    [anew] = store.outbox.room_head(TG, GROUP)
    assert from_json(anew.payload) == BotMessage("Yes 1")
    queue_replies(store, [_say(TG, GROUP, "Yes 2", edits="poll:7:results")], planners)
    assert _pending(store, TG, GROUP)[1] == BotEdit(OutboxRef(anew.id), "Yes 2")
