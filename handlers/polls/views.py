"""Reading polls and recording their outcome: ``/polls`` lists the open and recent polls of
the member's groups; ``/poll N`` shows one with its tally (hidden from members until it
closes when its results show only then; for an open ballot its coordinators also see, in a
private chat, who voted what: never for a secret one); ``/outcome N TEXT`` records the
decision taken and posts it where the poll went and to its creator."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from bot.context import Context, UserError
from bot.moments import moment
from bot.notices import notify_member
from bot.types import Command, CommandRef, Lines, Literal, Message, Origin, Reply, Role
from handlers.consultations_rules import named
from handlers.polls.labels import (
    BALLOT_KEYS,
    KIND_KEYS,
    VOTERS_KEYS,
    option_labels,
    quorum_label,
)
from handlers.polls.results import current_tally, group_language
from handlers.polls.tally import Tally
from storage import WorkingGroupRecord
from storage.polls import BallotKind, PollKind, PollRecord, PollState, ResultsShown

log = logging.getLogger(__name__)

RECENT = timedelta(days=30)
"""How long a closed poll stays in ``/polls``."""
OUTCOME_MAX = 2000


# -- who may see what -------------------------------------------------------------------------


def member_groups(context: Context) -> list[WorkingGroupRecord]:
    """The groups whose polls the member reads: their own; every group for a network role.
    In a group's room, that group's alone: what is said there every member of it reads,
    and they need not belong to the member's other groups."""
    if not context.origin.is_direct:
        group = context.working_group
        return [group] if group is not None and group.id in _readable(context) else []
    return [group for group in context.store.groups.all() if group.id in _readable(context)]


def _readable(context: Context) -> set[int]:
    everything = context.roles.network is not None or context.origin.trusted_role is not None
    return {
        group.id
        for group in context.store.groups.all()
        if everything or group.id in context.roles.by_group
    }


def coordinates(context: Context, record: PollRecord) -> bool:
    return context.role_in(record.fields.working_group_id).includes(Role.COORDINATOR)


def poll_numbered(context: Context, typed: str) -> PollRecord:
    """The poll ``N`` (or ``#N``) names, if the member may read it."""
    number = typed.removeprefix("#")
    record = (
        context.store.polls.get(int(number))
        if number.isascii() and number.isdigit() and 0 < int(number) < 2**31
        else None
    )
    readable = {group.id for group in member_groups(context)}
    if record is None or record.fields.working_group_id not in readable:
        raise UserError("polls.show.no_such", typed=Literal(typed[:20]), list=CommandRef("polls"))
    return record


def _group_name(context: Context, group_id: int) -> Literal:
    group = context.store.groups.get(group_id)
    return Literal(group.name if group else str(group_id))


def _state(context: Context, record: PollRecord) -> Message:
    reader = context.reader
    if record.state is PollState.CLOSED:
        closed = record.closed_at or record.fields.deadline
        return Message.of(
            "polls.list.closed", when=Literal(moment(closed, reader.language, reader.time_zone))
        )
    return Message.of(
        "polls.list.open",
        when=Literal(moment(record.fields.deadline, reader.language, reader.time_zone)),
    )


# -- /polls -----------------------------------------------------------------------------------


def list_polls(context: Context, command: Command) -> Sequence[Reply]:
    groups = member_groups(context)
    now = context.store.now()
    found = context.store.polls.of_groups([group.id for group in groups], closed_since=now - RECENT)
    if not found:
        return [Reply(Message.of("polls.list.none", create=CommandRef("poll")))]
    lines: list[Message | Literal] = [Message.of("polls.list.header")]
    for record in found:
        tally = current_tally(context.store, record)
        lines.append(
            Message.of(
                "polls.list.line",
                number=record.id,
                question=Literal(record.fields.question),
                group=_group_name(context, record.fields.working_group_id),
                state=_state(context, record),
                turnout=Message.counted(
                    "polls.list.turnout", tally.voters, eligible=tally.eligible
                ),
            )
        )
    lines.append(Message.of("polls.list.footer", show=CommandRef("poll")))
    return [Reply(Lines(tuple(lines)))]


# -- /poll N ----------------------------------------------------------------------------------


def show_poll(context: Context, command: Command) -> Sequence[Reply]:
    record = poll_numbered(context, command.args[0])
    fields = record.fields
    # A coordinator's view (a tally still hidden, who voted what) only in a private chat.
    coordinator = coordinates(context, record) and context.origin.is_direct
    lines: list[Message | Literal] = [
        Message.of(
            "polls.show.heading",
            number=record.id,
            question=Literal(fields.question),
            group=_group_name(context, fields.working_group_id),
        ),
        _state(context, record),
        Message.of(
            "polls.show.settings",
            kind=Message.of(KIND_KEYS[fields.kind]),
            ballot=Message.of(BALLOT_KEYS[fields.ballot]),
            voters=Message.of(VOTERS_KEYS[fields.voters]),
        ),
        Message.of("polls.post.quorum", quorum=quorum_label(record)),
    ]
    hidden = record.state is PollState.OPEN and fields.results is ResultsShown.AFTER_CLOSE
    tally = current_tally(context.store, record)
    # A secret ballot's counts while it is open would tell, to anyone who knows when someone
    # voted, what they chose: nobody sees them before it closes, coordinators included.
    secret_open = record.state is PollState.OPEN and fields.ballot is BallotKind.SECRET
    if secret_open or (hidden and not coordinator):
        for number, label in enumerate(option_labels(record), start=1):
            lines.append(Message.of("polls.post.option", number=number, option=label))
        lines.append(
            Message.of("polls.show.secret_until_close" if secret_open else "polls.show.hidden")
        )
    else:
        lines.extend(_tally_lines(record, tally))
        if hidden:
            lines.append(Message.of("polls.show.hidden_from_members"))
    lines.append(_turnout(tally))
    if record.outcome:
        lines.append(Message.of("polls.show.outcome", outcome=Literal(record.outcome)))
    if coordinator and fields.ballot is BallotKind.OPEN:
        lines.extend(_who_voted_what(context, record))
        if fields.kind is PollKind.PROPOSAL:
            lines.extend(_blocks(context, record))
    elif coordinates(context, record) and fields.ballot is BallotKind.OPEN:
        lines.append(Message.of("polls.show.who_in_private", command=CommandRef("poll")))
    return [Reply(Lines(tuple(lines)))]


def _tally_lines(record: PollRecord, tally: Tally) -> list[Message | Literal]:
    return [
        Message.counted(
            "polls.show.tally_line",
            count,
            number=number,
            option=label,
            share=share,
        )
        for number, (label, count, share) in enumerate(
            zip(option_labels(record), tally.counts, tally.shares, strict=False), start=1
        )
    ]


def _turnout(tally: Tally) -> Message:
    if tally.quorum_met is None or tally.needed is None:
        met = Message.of("polls.show.no_quorum")
    elif tally.quorum_met:
        met = Message.counted("polls.show.quorum_met", tally.needed)
    else:
        met = Message.counted("polls.show.quorum_not_met", tally.needed)
    return Message.counted("polls.show.turnout", tally.voters, eligible=tally.eligible, quorum=met)


def _who_voted_what(context: Context, record: PollRecord) -> list[Message | Literal]:
    votes = context.store.polls.votes(record.id)
    lines: list[Message | Literal] = [Message.counted("polls.show.who_header", len(votes))]
    for vote in votes:
        if vote.organization_id is not None:
            organization = context.store.organizations.get(vote.organization_id)
            who: Message | Literal = (
                Literal(organization.name)
                if organization is not None
                else Message.of("audit.organization_gone", number=vote.organization_id)
            )
        elif vote.member_id is not None:
            who = named(context, vote.member_id)
        else:
            who = Message.of("audit.member_gone")
        chosen = Literal(", ".join(str(index + 1) for index in vote.choices))
        lines.append(Message.of("polls.show.vote_line", who=who, choices=chosen))
    return lines


def _blocks(context: Context, record: PollRecord) -> list[Message | Literal]:
    """An open proposal's blocks with their reasons (a secret ballot's are never named)."""
    blocks = context.store.polls.blocks(record.id)
    if not blocks:
        return []
    lines: list[Message | Literal] = [Message.counted("polls.show.blocks_header", len(blocks))]
    for block in blocks:
        who = (
            named(context, block.member_id)
            if block.member_id is not None
            else Message.of("audit.member_gone")
        )
        if block.reason:
            lines.append(Message.of("polls.show.block_line", who=who, reason=Literal(block.reason)))
        else:
            lines.append(Message.of("polls.show.block_no_reason", who=who))
    return lines


# -- /outcome N TEXT ----------------------------------------------------------------------------


def record_outcome(context: Context, command: Command) -> Sequence[Reply]:
    if len(command.args) < 2:
        raise UserError("polls.outcome.usage", command=CommandRef("outcome"))
    record = poll_numbered(context, command.args[0])
    if not coordinates(context, record):
        raise UserError("polls.outcome.not_yours", number=record.id)
    if record.state is not PollState.CLOSED:
        raise UserError("polls.outcome.not_closed", number=record.id, close=CommandRef("closepoll"))
    text = " ".join(command.args[1:])
    if len(text) > OUTCOME_MAX:
        raise UserError("polls.outcome.too_long", limit=OUTCOME_MAX)
    record = context.store.polls.set_outcome(
        record.id, text, by=context.member.id, now=context.store.now()
    )
    context.store.audit.record(
        "poll.outcome",
        context.member.id,
        working_group_id=record.fields.working_group_id,
        detail={"poll": record.id},
    )
    log.info("poll_outcome poll=%d member=%d", record.id, context.member.id)
    notice = Message.of(
        "polls.outcome.notice",
        number=record.id,
        question=Literal(record.fields.question),
        outcome=Literal(text),
    )
    language = group_language(context, record)
    posts = [
        Reply(
            notice,
            to=Origin(platform=platform, room_id=room_id, user_id="", is_direct=False),
            language=language,
        )
        for platform, room_id in record.fields.rooms
    ]
    creator = record.created_by
    if creator is not None and creator != context.member.id:
        posts.extend(
            notify_member(context.store, creator, notice, enabled=context.config.enabled_platforms)
        )
    said = Reply(
        Message.of(
            "polls.outcome.recorded",
            number=record.id,
            rooms=Message.counted("polls.create.rooms", len(record.fields.rooms)),
        )
    )
    return [said, *posts]
