"""Replies into the outbox: each cut into its platform's parts and stored in order, and those
that name a message of the bot's (``Reply.post``), change one (``edits``) or close a poll
(``ends_poll``) kept with it in ``store.posts``. Used by the router's dispatcher and the
scheduler, in their unit of work."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from bot.outgoing import BotEdit, BotMessage, OutboxRef, OutgoingItem, PollEnd, PollStart
from bot.outgoing_json import to_json
from bot.types import Outgoing, Platform
from storage import DeliveryStatus, Store

log = logging.getLogger(__name__)

Planner = Callable[[OutgoingItem], list[OutgoingItem]]


def queue_replies(
    store: Store, replies: Sequence[Outgoing], planners: Mapping[Platform, Planner]
) -> None:
    """Owe the replies, in order; a reply for a platform without a planner (not running)
    is logged and left out."""
    for reply in replies:
        plan = planners.get(reply.platform)
        if plan is None:
            log.warning("no_sender platform=%s", reply.platform)
            continue
        item = _item(store, reply)
        if item is None:
            continue
        rows = [(reply.platform, reply.room_id, to_json(part)) for part in plan(item)]
        ids = store.outbox.enqueue(rows)
        if not ids:
            continue
        if reply.post is not None:
            store.posts.record(reply.post, reply.platform, reply.room_id, ids[0])
        elif reply.edits is not None and isinstance(item, BotMessage):
            # Said anew: it is the post from now on, also in place of one that never arrived.
            store.posts.record(reply.edits, reply.platform, reply.room_id, ids[0], replace=True)
        if isinstance(item, BotEdit) and reply.edits is not None:
            store.posts.replace_pending_edit(reply.edits, reply.platform, reply.room_id, ids[0])


def _item(store: Store, reply: Outgoing) -> OutgoingItem | None:
    """The kind of outgoing item the reply is; ``None``: nothing to send (a poll to close
    that never went to this room)."""
    if reply.ends_poll is not None:
        started = store.posts.outbox_id_of(reply.ends_poll, reply.platform, reply.room_id)
        if started is None:
            return None
        return PollEnd(OutboxRef(started), reply.text)
    if reply.edits is not None:
        posted = store.posts.outbox_id_of(reply.edits, reply.platform, reply.room_id)
        if posted is not None and not _failed(store, posted):
            return BotEdit(OutboxRef(posted), reply.text)
        # Never posted here, or it never arrived: said as a new message, the post from now on.
    if reply.poll is not None:
        poll = reply.poll
        return PollStart(
            text=reply.text,
            question=poll.question,
            options=poll.options,
            choice_values=poll.choice_values,
            max_selections=poll.max_selections,
            disclosed=poll.disclosed,
            closes_at=None if poll.closes_at is None else poll.closes_at.isoformat(),
        )
    return BotMessage.of(reply)


def _failed(store: Store, outbox_id: int) -> bool:
    """Whether the outbox gave up on the message (an edit of it would edit nothing)."""
    target = store.outbox.targets([outbox_id]).get(outbox_id)
    return target is not None and target.status is DeliveryStatus.FAILED
