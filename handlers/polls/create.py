"""``/poll``: a coordinator sets up a poll step by step (the working group, the question,
the kind and options, the ballot, the deadline, the quorum, who votes, when results show,
the rooms), reviews and changes any answer, and posts it. Posting stores the poll, schedules
its closing and its reminder, records it in the audit log and sends it to its rooms: a
native poll for an open ballot, a notice with a private-vote button for a secret one."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from bot.context import Context, UserError, room_language
from bot.conversation import Answers, Conversation, Step
from bot.conversation_steps import keyed_choices
from bot.moments import moment
from bot.types import (
    Choice,
    Command,
    CommandRef,
    Lines,
    Literal,
    Message,
    Origin,
    Platform,
    Reply,
    Role,
)
from handlers.polls.answers import (
    LONGEST,
    OPTIONS_MAX,
    OPTIONS_MIN,
    READ_DEADLINE,
    deadline_of,
    finish_options,
    read_option_lines,
    read_question,
    read_quorum_share,
    read_quorum_voters,
    show_options,
    show_poll_deadline,
)
from handlers.polls.labels import (
    BALLOT_KEYS,
    KIND_KEYS,
    SHOWN_KEYS,
    VOTERS_KEYS,
    introduction,
    poll_view,
    secret_button,
    start_key,
)
from storage import WorkingGroupRecord
from storage.polls import (
    PROPOSAL_OPTIONS,
    BallotKind,
    PollFields,
    PollKind,
    PollRecord,
    QuorumKind,
    ResultsShown,
    VotersAre,
)

log = logging.getLogger(__name__)

NEW_POLL = "poll"
GROUPS_OFFERED = "groups_offered"
"""Not a step: the working groups the coordinator may choose, known when it starts."""
ROOMS_OFFERED = "rooms_offered"
"""Not a step: each of those groups' linked rooms, ``{group id: [[platform, room], ...]}``."""
ZONE = "zone"
"""Not a step: the groups' time zone, for a deadline typed without one."""
CLOSE_KIND = "poll.close"
REMIND_KIND = "poll.reminder"
ALL_ROOMS, SOME_ROOMS = "all", "some"

QUORUM_KEYS = {
    QuorumKind.NONE: "polls.create.quorum_none",
    QuorumKind.VOTERS: "polls.create.quorum_voters",
    QuorumKind.SHARE: "polls.create.quorum_share",
}


# -- choices that depend on earlier answers ----------------------------------------------------


def offered_groups(answers: Answers) -> tuple[Choice, ...]:
    return tuple(Choice(str(gid), Literal(name)) for gid, name in answers.get(GROUPS_OFFERED, []))


def _room_value(platform: str, room_id: str) -> str:
    return f"{platform}|{room_id}"


def room_label(platform: str, room_id: str) -> Message:
    return Message.of(
        "polls.create.room", platform=Message.of(f"platform.{platform}"), room=Literal(room_id)
    )


def offered_rooms(answers: Answers) -> tuple[Choice, ...]:
    rooms = (answers.get(ROOMS_OFFERED) or {}).get(str(answers.get("group")), [])
    return tuple(
        Choice(_room_value(platform, room_id), room_label(platform, room_id))
        for platform, room_id in rooms
    )


def max_choices(answers: Answers) -> tuple[Choice, ...]:
    count = len(answers.get("options") or ()) or OPTIONS_MIN
    return tuple(Choice(str(n), Literal(str(n))) for n in range(1, count + 1))


def _after_kind(answers: Answers) -> str:
    return "options" if answers.get("kind") == PollKind.SIMPLE.value else "ballot"


def _after_quorum(answers: Answers) -> str:
    return {
        QuorumKind.VOTERS.value: "quorum_voters",
        QuorumKind.SHARE.value: "quorum_share",
    }.get(str(answers.get("quorum")), "voters")


def _after_voters(answers: Answers) -> str:
    # A secret ballot's results show only at the close: counts that change with each vote
    # would tell what someone chose to whoever knows when they voted.
    return "where" if answers.get("ballot") == BallotKind.SECRET.value else "results"


def _after_where(answers: Answers) -> str | None:
    return "rooms" if answers.get("where") == SOME_ROOMS else None


# -- the conversation -------------------------------------------------------------------------


def _steps() -> tuple[Step, ...]:
    return (
        Step("group", "polls.create.ask_group", "polls.field.group", choices=offered_groups),
        Step("question", "polls.create.ask_question", "polls.field.question", parse=read_question),
        Step(
            "kind",
            "polls.create.ask_kind",
            "polls.field.kind",
            choices=keyed_choices(KIND_KEYS),
            next=_after_kind,
        ),
        Step(
            "options",
            "polls.create.ask_options",
            "polls.field.options",
            parse=read_option_lines,
            gather=True,
            finish=finish_options,
            show=show_options,
            max_items=OPTIONS_MAX,
            hint="polls.create.options_hint",
        ),
        Step("max", "polls.create.ask_max", "polls.field.max", choices=max_choices),
        Step(
            "ballot",
            "polls.create.ask_ballot",
            "polls.field.ballot",
            choices=keyed_choices(BALLOT_KEYS),
        ),
        Step(
            "deadline",
            "polls.create.ask_deadline",
            "polls.field.deadline",
            parse=READ_DEADLINE,
            show=show_poll_deadline,
            prompt_params=lambda answers: {"zone": Literal(str(answers.get(ZONE) or "UTC"))},
        ),
        Step(
            "quorum",
            "polls.create.ask_quorum",
            "polls.field.quorum",
            choices=keyed_choices(QUORUM_KEYS),
            next=_after_quorum,
        ),
        Step(
            "quorum_voters",
            "polls.create.ask_quorum_voters",
            "polls.field.quorum_voters",
            parse=read_quorum_voters,
            next=lambda answers: "voters",
        ),
        Step(
            "quorum_share",
            "polls.create.ask_quorum_share",
            "polls.field.quorum_share",
            parse=read_quorum_share,
            show=lambda value: Literal(f"{value}%"),
        ),
        Step(
            "voters",
            "polls.create.ask_voters",
            "polls.field.voters",
            choices=keyed_choices(VOTERS_KEYS),
            next=_after_voters,
        ),
        Step(
            "results",
            "polls.create.ask_results",
            "polls.field.results",
            choices=keyed_choices(SHOWN_KEYS),
        ),
        Step(
            "where",
            "polls.create.ask_where",
            "polls.field.where",
            choices=(
                Choice(ALL_ROOMS, Message.of("polls.create.where_all")),
                Choice(SOME_ROOMS, Message.of("polls.create.where_some")),
            ),
            next=_after_where,
        ),
        Step(
            "rooms",
            "polls.create.ask_rooms",
            "polls.field.rooms",
            choices=offered_rooms,
            multiple=True,
        ),
    )


def prepare(context: Context, command: Command) -> Mapping[str, Any]:
    """The groups the coordinator may choose, with their rooms, and the time zone."""
    groups = context.groups_where(Role.COORDINATOR)
    if not groups:
        raise UserError("polls.create.no_groups")
    known: dict[str, Any] = {
        GROUPS_OFFERED: [[str(group.id), group.name] for group in groups],
        ROOMS_OFFERED: {
            str(group.id): [
                [link.platform.value, link.room_id] for link in context.store.rooms.links(group.id)
            ]
            for group in groups
        },
        ZONE: context.config.time_zone,
    }
    if len(groups) == 1:
        known["group"] = str(groups[0].id)
    return known


def _group(context: Context, answers: Answers) -> WorkingGroupRecord:
    group = context.coordinated_group(int(answers["group"]))
    if group is None:
        raise UserError("polls.create.not_coordinator")
    return group


def _rooms(
    context: Context, group: WorkingGroupRecord, answers: Answers
) -> tuple[tuple[Platform, str], ...]:
    linked = [(link.platform, link.room_id) for link in context.store.rooms.links(group.id)]
    if answers.get("where") == SOME_ROOMS:
        wanted = set(answers.get("rooms") or ())
        linked = [room for room in linked if _room_value(room[0].value, room[1]) in wanted]
    if not linked:
        raise UserError("polls.create.no_rooms", group=Literal(group.name), link=CommandRef("link"))
    return tuple(linked)


def fields_of(context: Context, answers: Answers) -> PollFields:
    """The poll the answers describe, posted now; refused when an answer no longer fits
    (a deadline passed while reviewing, more choices allowed than options left)."""
    group = _group(context, answers)
    now = context.store.now()
    deadline, zone = deadline_of(
        dict(answers["deadline"]), now=now, zone=str(answers.get(ZONE) or context.config.time_zone)
    )
    if deadline <= now:
        raise UserError("polls.create.deadline_past", review=CommandRef("poll"))
    if deadline > now + LONGEST:
        raise UserError(
            "polls.create.deadline_too_far", days=LONGEST.days, review=CommandRef("poll")
        )
    kind = PollKind(str(answers["kind"]))
    if kind is PollKind.PROPOSAL:
        options: tuple[str, ...] = PROPOSAL_OPTIONS
        most = 1
    else:
        options = tuple(str(option) for option in answers["options"])
        most = int(answers.get("max") or 1)
        if most > len(options):
            raise UserError(
                "polls.create.max_too_many", most=len(options), review=CommandRef("poll")
            )
    quorum = QuorumKind(str(answers["quorum"]))
    value = {
        QuorumKind.VOTERS: answers.get("quorum_voters"),
        QuorumKind.SHARE: answers.get("quorum_share"),
    }.get(quorum)
    hours = context.config.polls.remind_hours_before
    return PollFields(
        working_group_id=group.id,
        question=str(answers["question"]),
        options=options,
        kind=kind,
        max_selections=most,
        ballot=BallotKind(str(answers["ballot"])),
        voters=VotersAre(str(answers["voters"])),
        results=(
            ResultsShown.AFTER_CLOSE
            if answers["ballot"] == BallotKind.SECRET.value
            else ResultsShown(str(answers.get("results") or ResultsShown.AFTER_CLOSE.value))
        ),
        quorum=quorum,
        quorum_value=int(value or 0),
        deadline=deadline,
        time_zone=zone,
        remind_before=timedelta(hours=hours) if hours else None,
        rooms=_rooms(context, group, answers),
    )


def submit(context: Context, answers: Answers) -> Sequence[Reply]:
    fields = fields_of(context, answers)
    record = context.store.polls.create(fields, context.member.id)
    schedule(context, record)
    context.store.audit.record(
        "poll.created",
        context.member.id,
        working_group_id=fields.working_group_id,
        detail={"poll": record.id, "ballot": fields.ballot.value, "rooms": len(fields.rooms)},
    )
    log.info(
        "poll_created poll=%d group=%d member=%d rooms=%d",
        record.id,
        fields.working_group_id,
        context.member.id,
        len(fields.rooms),
    )
    group = _group(context, answers)
    reader = context.reader
    said = Reply(
        Lines(
            (
                Message.of(
                    "polls.create.posted",
                    number=record.id,
                    rooms=Message.counted("polls.create.rooms", len(fields.rooms)),
                    when=Literal(moment(fields.deadline, reader.language, reader.time_zone)),
                ),
                Message.of(
                    "polls.create.what_next",
                    show=CommandRef("poll"),
                    close=CommandRef("closepoll"),
                    outcome=CommandRef("outcome"),
                    number=record.id,
                ),
            )
        )
    )
    return [said, *room_posts(context, record, group)]


def schedule(context: Context, record: PollRecord) -> None:
    """Its closing at the deadline, and its reminder before it while that is still ahead."""
    fields = record.fields
    target = {"poll": record.id}
    context.store.scheduled.schedule(f"poll:{record.id}:close", CLOSE_KIND, fields.deadline, target)
    if fields.remind_before is not None:
        due = fields.deadline - fields.remind_before
        if due > context.store.now():
            context.store.scheduled.schedule(f"poll:{record.id}:reminder", REMIND_KIND, due, target)


def room_posts(context: Context, record: PollRecord, group: WorkingGroupRecord) -> list[Reply]:
    """The poll in each of its rooms, in the group's first language: a native poll for an
    open ballot; for a secret one, the notice and its private-vote button, never a poll."""
    language = room_language(group, context.config)
    text = introduction(record, group=group.name, language=language)
    posts: list[Reply] = []
    for platform, room_id in record.fields.rooms:
        where = Origin(platform=platform, room_id=room_id, user_id="", is_direct=False)
        if record.fields.ballot is BallotKind.SECRET:
            posts.append(
                Reply(
                    text,
                    choices=(secret_button(record),),
                    to=where,
                    language=language,
                    post=start_key(record.id),
                )
            )
        else:
            posts.append(
                Reply(
                    text,
                    to=where,
                    language=language,
                    poll=poll_view(record),
                    post=start_key(record.id),
                )
            )
    return posts


CONVERSATION = Conversation(
    name=NEW_POLL,
    title="polls.create.title",
    steps=_steps(),
    submit=submit,
    role=Role.COORDINATOR,
)
