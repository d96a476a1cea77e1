"""Closing polls and reminding those who have not voted.

A poll closes at its deadline (scheduled work ``poll.close``, done even when the deadline
passed while the bot was down, and once: the poll's state changes by a conditional update)
or by ``/closepoll N`` from a coordinator of its group. Closing ends the native poll in each
room it went to, posts the results there (text bars and the chart) and sends them to the
poll's creator. ``poll.reminder`` reminds each voter who has not voted, once, in private.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from bot.context import Context, HandlerStore, UserError
from bot.moments import moment
from bot.notices import notify_member
from bot.registry import NoLongerUseful, Registry
from bot.types import Choice, Command, CommandRef, Lines, Literal, Message, Platform, Reply, Role
from handlers.polls import blocks
from handlers.polls.labels import ballot_value, poll_number, results_key, start_key
from handlers.polls.results import (
    Telling,
    current_tally,
    eligible_voters,
    group_language,
    group_members,
    organization_signatories,
    poll_rooms,
    results_picture,
    results_text,
)
from handlers.polls.tally import Tally
from storage.polls import (
    BallotKind,
    PollKind,
    PollRecord,
    PollState,
    ResultsShown,
    VotersAre,
    member_voter,
    organization_voter,
)
from storage.scheduled import ScheduledRecord

log = logging.getLogger(__name__)

CLOSE = "poll.close"
"""The kind of scheduled work that closes a poll at its deadline."""
CLOSE_LATENESS = timedelta(days=3650)
"""A deadline passed while the bot was down still closes the poll, once, at start."""
REMINDER = "poll.reminder"
"""The kind of scheduled work that reminds those who have not voted."""
REMINDER_LATENESS = timedelta(hours=3)
"""A reminder due while the bot was down still goes this late (and only before the
deadline); later it is no longer a reminder."""


def register(registry: Registry) -> None:
    registry.scheduled(CLOSE, close_due, lateness=CLOSE_LATENESS)
    registry.scheduled(REMINDER, remind_due, lateness=REMINDER_LATENESS)
    registry.command("closepoll", close_command, help_key="polls.close.help", role=Role.COORDINATOR)


# -- closing ------------------------------------------------------------------------------


def close_command(context: Context, command: Command) -> Sequence[Reply]:
    """``/closepoll N``: close an open poll before its deadline."""
    number = poll_number(command.args[0]) if len(command.args) == 1 else None
    if number is None:
        raise UserError("polls.close.usage", command=CommandRef("closepoll"))
    record = context.store.polls.get(number)
    if record is None:
        raise UserError("polls.close.no_such_poll", number=number)
    group_id = record.fields.working_group_id
    if not context.role_in(group_id).includes(Role.COORDINATOR):
        raise UserError("polls.close.not_yours", number=record.id)
    replies = close_poll(context, record, now=context.store.now())
    if not replies:
        raise UserError("polls.close.already_closed", number=record.id)
    context.store.audit.record(
        "poll.closed", context.member.id, working_group_id=group_id, detail={"poll": record.id}
    )
    log.info("poll_closed_by_command poll=%d member=%d", record.id, context.member.id)
    return [Reply(Message.of("polls.close.done", number=record.id)), *replies]


def close_due(context: Telling, row: ScheduledRecord) -> Sequence[Reply]:
    """The scheduler's handler of :data:`CLOSE` rows."""
    poll_id = row.target.get("poll")
    if not isinstance(poll_id, int):
        raise NoLongerUseful("a closing row without its poll")
    record = context.store.polls.get(poll_id)
    if record is None or record.state is PollState.CLOSED:
        raise NoLongerUseful("the poll is gone or closed already")
    replies = close_poll(context, record, now=context.store.now())
    if not replies:
        raise NoLongerUseful("the poll was closed meanwhile")
    log.info("poll_closed_at_deadline poll=%d", poll_id)
    return replies


def close_poll(context: Telling, record: PollRecord, *, now: datetime) -> list[Reply]:
    """Close ``record`` once and say so: the native polls end, the results go to every
    room the poll went to and to its creator. Nothing when it was closed already."""
    store = context.store
    eligible = eligible_voters(store, record)
    counted = current_tally(store, record, eligible)
    closed = store.polls.close(
        record.id,
        now=now,
        eligible=len(eligible),
        counts=counted.counts,
        voters=counted.voters,
    )
    if closed is None:
        return []
    store.scheduled.cancel_prefix(f"poll:{record.id}:")
    language = group_language(context, closed)
    zone = closed.fields.time_zone
    text = results_text(closed, counted, language=language, zone=zone)
    picture = results_picture(closed, counted, language=language)
    # Matrix shows the end event's text where a client has no polls: the results, then.
    ended = Lines((Message.of("polls.close.ended", number=closed.id), *text.items[1:]))
    replies: list[Reply] = []
    live = closed.fields.results is ResultsShown.LIVE and closed.fields.ballot is BallotKind.OPEN
    with_live_results = _rooms_with_post(store, results_key(closed.id)) if live else set()
    for room in poll_rooms(closed):
        if closed.fields.ballot is BallotKind.OPEN:
            replies.append(Reply(ended, to=room, language=language, ends_poll=start_key(closed.id)))
        if (room.platform, room.room_id) in with_live_results:
            replies.append(Reply(text, to=room, language=language, edits=results_key(closed.id)))
        replies.append(Reply(text, media=picture, to=room, language=language))
    replies.extend(_to_creator(context, closed, counted))
    if closed.fields.ballot is BallotKind.SECRET and closed.fields.kind is PollKind.PROPOSAL:
        replies.extend(blocks.secret_blocks_at_close(context, closed, counted.counts[blocks.BLOCK]))
    return replies


def _rooms_with_post(store: HandlerStore, key: str) -> set[tuple[Platform, str]]:
    return {(room.platform, room.room_id) for room in store.posts.rooms_of(key)}


def _to_creator(context: Telling, record: PollRecord, counted: Tally) -> list[Reply]:
    creator = record.created_by
    member = context.store.members.get(creator) if creator is not None else None
    if member is None:
        return []
    zone = member.time_zone or context.config.time_zone
    text = results_text(record, counted, language=member.language, zone=zone)
    picture = results_picture(record, counted, language=member.language)
    notices = notify_member(
        context.store, member.id, text, enabled=context.config.enabled_platforms
    )
    return [replace(notice, media=picture) for notice in notices]


# -- reminding ----------------------------------------------------------------------------


def remind_due(context: Telling, row: ScheduledRecord) -> Sequence[Reply]:
    """The scheduler's handler of :data:`REMINDER` rows: a private reminder to each member
    (or each signatory of an organization) who has not voted, in their language."""
    poll_id = row.target.get("poll")
    if not isinstance(poll_id, int):
        raise NoLongerUseful("a reminder row without its poll")
    record = context.store.polls.get(poll_id)
    now = context.store.now()
    if record is None or record.state is PollState.CLOSED or record.fields.deadline <= now:
        raise NoLongerUseful("the poll is closed or past its deadline")
    voted = context.store.polls.voters(record.id)
    replies: list[Reply] = []
    for member_id in not_voted(context.store, record, voted):
        if context.store.polls.note_once(record.id, member_id, "reminded"):
            replies.extend(_reminder(context, record, member_id))
    log.info("poll_reminded poll=%d notices=%d", record.id, len(replies))
    return replies


def not_voted(store: HandlerStore, record: PollRecord, voted: set[str]) -> list[int]:
    """The members to remind: each member of the group whose vote is missing, or each
    signatory (in the group) of an organization whose vote is missing."""
    if record.fields.voters is VotersAre.ORGANIZATIONS:
        signatories = organization_signatories(store, record)
        return sorted(
            member
            for organization, members in signatories.items()
            if organization_voter(organization) not in voted
            for member in members
        )
    members = group_members(store, record.fields.working_group_id)
    return sorted(member for member in members if member_voter(member) not in voted)


def _reminder(context: Telling, record: PollRecord, member_id: int) -> list[Reply]:
    member = context.store.members.get(member_id)
    if member is None:
        return []
    zone = member.time_zone or context.config.time_zone
    when = Literal(moment(record.fields.deadline, member.language, zone))
    lines: list[Message | Literal] = [
        Message.of("polls.remind.headline", number=record.id, when=when),
        Literal(record.fields.question),
    ]
    secret = record.fields.ballot is BallotKind.SECRET
    if secret:
        lines.append(
            Message.of("polls.remind.how_secret", command=CommandRef("vote"), number=record.id)
        )
    else:
        lines.append(Message.of("polls.remind.how_open"))
    notices = notify_member(
        context.store, member_id, Lines(tuple(lines)), enabled=context.config.enabled_platforms
    )
    if not secret:
        return notices
    button = Choice(ballot_value(record.id), Message.of("polls.vote.ballot_button"))
    return [replace(notice, choices=(button,)) for notice in notices]
