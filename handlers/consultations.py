"""Consultations: ``/consultations`` lists the open ones, soonest deadline first, with the
days left in the reader's time zone; ``/consultation N`` shows one (and, to those who manage
it, who plans to contribute); ``/consultation N deadline DATE`` and ``/consultation N
withdraw`` change it and tell its subscribers. Creating one is the conversation of
:mod:`handlers.consultations_form` (``/newconsultation``); subscriptions are
:mod:`handlers.consultations_subscriptions`.

Publishing alerts every subscribed member privately, in their language, with the buttons
"I plan to contribute" and "Interested", and posts in the rooms of the groups it concerns.
Reminders are scheduled work: :func:`reminder_keys` names them and :func:`reminder_due`
builds their notices when the scheduler calls it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from bot.context import Context, UserError
from bot.moments import day, moment, reader_zone
from bot.notices import notify_member
from bot.registry import Registry
from bot.territories import region_of
from bot.types import (
    Choice,
    ChoicePicked,
    Command,
    CommandRef,
    Lines,
    Literal,
    Message,
    Origin,
    Reply,
    Role,
    Territory,
)
from handlers import consultations_form, consultations_subscriptions
from handlers.consultations_form import kind_label, read_deadline, region_label, topic_label
from storage.consultations import (
    ConsultationRecord,
    ConsultationState,
    Intent,
    reminder_offsets,
)

CHOICE = "consult"
STATE_KEYS = {
    ConsultationState.DRAFT: "consult.state.draft",
    ConsultationState.PUBLISHED: "consult.state.published",
    ConsultationState.WITHDRAWN: "consult.state.withdrawn",
    ConsultationState.CLOSED: "consult.state.closed",
}
ANSWERED_KEYS = {
    Intent.CONTRIBUTE: "consult.answered_contribute",
    Intent.INTERESTED: "consult.answered_interested",
}


def register(registry: Registry) -> None:
    registry.command("consultations", list_open, help_key="help.consultations")
    registry.command("consultation", consultation, help_key="help.consultation")
    registry.conversation(
        consultations_form.CONVERSATION,
        command="newconsultation",
        help_key="help.newconsultation",
        prepare=consultations_form.prepare,
    )
    registry.choice(CHOICE, answer_picked)
    consultations_subscriptions.register(registry)


# -- who may do what --------------------------------------------------------------------------


def may_manage(context: Context, record: ConsultationRecord) -> bool:
    """Coordinators of a group it concerns, and network-wide coordinators; any coordinator
    for a draft that concerns no group yet (an import)."""
    if context.role_in(None).includes(Role.COORDINATOR):
        return True
    groups = record.fields.working_groups
    if not groups:
        return record.state is ConsultationState.DRAFT and bool(
            context.groups_where(Role.COORDINATOR)
        )
    return any(context.role_in(group).includes(Role.COORDINATOR) for group in groups)


def consultation_numbered(context: Context, typed: str) -> ConsultationRecord:
    number = typed.removeprefix("#")
    record = (
        context.store.consultations.get(int(number))
        if number.isdigit() and int(number) > 0
        else None
    )
    if record is None:
        raise UserError("consult.no_such", typed=Literal(typed[:20]))
    return record


def _visible(context: Context, record: ConsultationRecord) -> bool:
    return record.state is not ConsultationState.DRAFT or may_manage(context, record)


# -- /consultations ---------------------------------------------------------------------------


def days_left(deadline: datetime, now: datetime, time_zone: str | None) -> int:
    """Whole days from today to the deadline's day, both in the reader's time zone."""
    zone = reader_zone(time_zone)
    return (deadline.astimezone(zone).date() - now.astimezone(zone).date()).days


def when_due(context_now: datetime, deadline: datetime, language: str, zone: str | None) -> Message:
    """ "Jan 15, 2027 (in 3 days)", in the reader's language and time zone."""
    left = days_left(deadline, context_now, zone)
    if left <= 0:
        relative = Message.of("consult.due_today")
    else:
        relative = Message.counted("consult.in_days", left)
    return Message.of("consult.due", date=Literal(day(deadline, language, zone)), left=relative)


def is_open(record: ConsultationRecord, now: datetime) -> bool:
    deadline = record.fields.deadline
    return record.state is ConsultationState.PUBLISHED and (deadline is None or deadline > now)


def list_open(context: Context, command: Command) -> Sequence[Reply]:
    now = context.store.now()
    reader = context.reader
    found = [record for record in context.store.consultations.published() if is_open(record, now)]
    if not found:
        return [Reply(Message.of("consult.none_open"))]
    lines: list[Message | Literal] = [Message.of("consult.open_header")]
    for record in found:
        deadline = record.fields.deadline
        lines.append(
            Message.of(
                "consult.list_line",
                number=record.id,
                title=Literal(record.title),
                due=when_due(now, deadline, reader.language, reader.time_zone)
                if deadline is not None
                else Message.of("consult.no_deadline"),
            )
        )
    lines.append(Message.of("consult.list_footer", show=CommandRef("consultation")))
    return [Reply(Lines(tuple(lines)))]


# -- /consultation N ... -----------------------------------------------------------------------


def consultation(context: Context, command: Command) -> Sequence[Reply]:
    if not command.args:
        raise UserError(
            "consult.usage",
            show=CommandRef("consultation"),
            new=CommandRef("newconsultation"),
            list=CommandRef("consultations"),
        )
    record = consultation_numbered(context, command.args[0])
    if not _visible(context, record):
        raise UserError("consult.no_such", typed=Literal(command.args[0][:20]))
    if len(command.args) == 1:
        return [Reply(Lines(tuple(details(context, record))))]
    action = command.args[1].lower()
    if action not in ("deadline", "withdraw", "edit"):
        raise UserError(
            "consult.usage",
            show=CommandRef("consultation"),
            new=CommandRef("newconsultation"),
            list=CommandRef("consultations"),
        )
    if not may_manage(context, record):
        raise UserError("consult.not_yours", number=record.id)
    if action == "edit":
        if record.state is not ConsultationState.DRAFT:
            raise UserError("consult.not_a_draft", number=record.id)
        return [
            Reply(
                Message.of(
                    "consult.edit_with", command=CommandRef("newconsultation"), number=record.id
                )
            )
        ]
    if action == "withdraw":
        return withdraw(context, record)
    return move_deadline(context, record, " ".join(command.args[2:]))


def details(context: Context, record: ConsultationRecord) -> list[Message | Literal]:
    """Everything known of a consultation, for the reader; its contributors to managers."""
    reader = context.reader
    fields = record.fields
    now = context.store.now()
    lines: list[Message | Literal] = [
        Message.of(
            "consult.heading",
            number=record.id,
            title=Literal(fields.title),
            state=Message.of(STATE_KEYS[record.state]),
        ),
        Message.of("consult.show_kind", kind=kind_label(fields.kind.value)),
    ]
    optional = {
        "consult.show_issuer": fields.issuer,
        "consult.show_summary": fields.summary,
        "consult.show_link": fields.link,
        "consult.show_submit_how": fields.submit_how,
        "consult.show_languages": fields.languages,
        "consult.show_length_limit": fields.length_limit,
    }
    for key, value in optional.items():
        if value:
            lines.append(Message.of(key, value=Literal(value)))
    if fields.deadline is not None:
        lines.append(
            Message.of(
                "consult.show_deadline",
                when=Literal(moment(fields.deadline, reader.language, reader.time_zone)),
                due=when_due(now, fields.deadline, reader.language, reader.time_zone),
            )
        )
    if fields.starts_at is not None:
        ends = fields.ends_at or fields.starts_at
        lines.append(
            Message.of(
                "consult.show_sessions",
                first=Literal(day(fields.starts_at, reader.language, fields.time_zone)),
                last=Literal(day(ends, reader.language, fields.time_zone)),
            )
        )
    about = [topic_label(topic) for topic in fields.topics]
    about += [region_label(region) for region in fields.regions]
    about += [
        Message.of("cases.country_name", country=Territory(code)) for code in fields.countries
    ]
    for label in about:
        lines.append(Message.of("conversation.bullet", item=label))
    if may_manage(context, record):
        lines.extend(_contributors(context, record))
    elif record.state is ConsultationState.PUBLISHED:
        lines.append(Message.of("consult.answer_hint"))
    return lines


def _contributors(context: Context, record: ConsultationRecord) -> list[Message | Literal]:
    answered = context.store.consultations.contributions(record.id)
    lines: list[Message | Literal] = [
        Message.counted("consult.contributors", len(answered.contribute)),
    ]
    lines.extend(
        Message.of("conversation.bullet", item=named(context, member_id))
        for member_id in answered.contribute
    )
    lines.append(Message.counted("consult.interested_count", len(answered.interested)))
    return lines


def named(context: Context, member_id: int) -> Message:
    member = context.store.members.get(member_id)
    if member is not None and member.display_name:
        return Message.of("join.member_named", name=Literal(member.display_name), number=member_id)
    return Message.of("join.member_numbered", number=member_id)


# -- publishing and telling subscribers ---------------------------------------------------------


def _buttons(record: ConsultationRecord) -> tuple[Choice, ...]:
    return (
        Choice(
            f"{CHOICE}:{Intent.CONTRIBUTE.value}:{record.id}", Message.of("consult.i_contribute")
        ),
        Choice(f"{CHOICE}:{Intent.INTERESTED.value}:{record.id}", Message.of("consult.interested")),
    )


def _notice(
    context: Context,
    record: ConsultationRecord,
    headline: str,
    *,
    reader_language: str,
    zone: str | None,
) -> Lines:
    fields = record.fields
    lines: list[Message | Literal] = [
        Message.of(headline, number=record.id, title=Literal(fields.title)),
    ]
    if fields.issuer:
        lines.append(Message.of("consult.show_issuer", value=Literal(fields.issuer)))
    if fields.deadline is not None:
        lines.append(
            Message.of(
                "consult.show_deadline",
                when=Literal(moment(fields.deadline, reader_language, zone)),
                due=when_due(context.store.now(), fields.deadline, reader_language, zone),
            )
        )
    if fields.link:
        lines.append(Message.of("consult.show_link", value=Literal(fields.link)))
    lines.append(Message.of("consult.more", command=CommandRef("consultation"), number=record.id))
    return Lines(tuple(lines))


def subscribers(context: Context, record: ConsultationRecord) -> list[int]:
    """The members alerted of ``record``: a region's subscribers hear of its countries."""
    regions = {region_of(code).value for code in record.fields.countries}
    return context.store.consultations.subscribers_of(record, country_regions=regions)


def tell_subscribers(
    context: Context,
    record: ConsultationRecord,
    headline: str,
    *,
    members: Sequence[int] | None = None,
    buttons: bool = False,
) -> list[Reply]:
    """A private notice to each subscriber (or to ``members``), in their language and
    time zone."""
    notices: list[Reply] = []
    wanted = subscribers(context, record) if members is None else members
    for member_id in wanted:
        member = context.store.members.get(member_id)
        if member is None:
            continue
        zone = member.time_zone or context.config.time_zone
        text = _notice(context, record, headline, reader_language=member.language, zone=zone)
        for notice in notify_member(
            context.store, member_id, text, enabled=context.config.enabled_platforms
        ):
            notices.append(replace(notice, choices=_buttons(record)) if buttons else notice)
    return notices


def room_posts(context: Context, record: ConsultationRecord) -> list[Reply]:
    """The alert in each room linked to the groups it concerns, in the group's language."""
    posts: list[Reply] = []
    groups = {group.id: group for group in context.store.groups.all()}
    for group_id in record.fields.working_groups:
        group = groups.get(group_id)
        if group is None:
            continue
        language = group.languages[0] if group.languages else context.config.default_language
        zone = context.config.time_zone
        text = _notice(context, record, "consult.alert", reader_language=language, zone=zone)
        for link in context.store.rooms.links(group_id):
            where = Origin(
                platform=link.platform, room_id=link.room_id, user_id="", is_direct=False
            )
            posts.append(Reply(text, to=where, language=language))
    return posts


def publish(context: Context, record: ConsultationRecord) -> list[Reply]:
    """Publish a draft: alert its subscribers and post in its groups' rooms."""
    if not may_manage(context, record):
        raise UserError("consult.not_yours", number=record.id)
    if record.state is not ConsultationState.DRAFT:
        raise UserError("consult.not_a_draft", number=record.id)
    record = context.store.consultations.set_state(record.id, ConsultationState.PUBLISHED)
    notices = tell_subscribers(context, record, "consult.alert", buttons=True)
    posts = room_posts(context, record)
    alerted = len({notice.to for notice in notices})
    said = Message.of(
        "consult.published",
        number=record.id,
        alerted=Message.counted("consult.accounts", alerted),
        rooms=Message.counted("consult.rooms", len(posts)),
    )
    return [Reply(said), *notices, *posts]


def move_deadline(context: Context, record: ConsultationRecord, typed: str) -> list[Reply]:
    if record.state not in (ConsultationState.DRAFT, ConsultationState.PUBLISHED):
        raise UserError("consult.not_open", number=record.id)
    answer = read_deadline_or_refuse(typed)
    zone = answer.get("zone") or record.fields.time_zone or context.reader.time_zone or "UTC"
    deadline, zone_name = consultations_form.deadline_at(answer, zone)
    if deadline <= context.store.now():
        raise UserError("consult.deadline_past")
    if deadline == record.fields.deadline:
        raise UserError("consult.deadline_same", number=record.id)
    record = context.store.consultations.set_deadline(record.id, deadline, zone_name)
    reader = context.reader
    said = Reply(
        Message.of(
            "consult.deadline_moved",
            number=record.id,
            when=Literal(moment(deadline, reader.language, reader.time_zone)),
        )
    )
    if record.state is not ConsultationState.PUBLISHED:
        return [said]
    return [said, *tell_subscribers(context, record, "consult.deadline_notice")]


def read_deadline_or_refuse(typed: str) -> dict[str, str | None]:
    from bot.conversation import InvalidAnswer

    try:
        return read_deadline(typed)
    except InvalidAnswer as refused:
        raise UserError("consult.bad_deadline") from refused


def withdraw(context: Context, record: ConsultationRecord) -> list[Reply]:
    if record.state not in (ConsultationState.DRAFT, ConsultationState.PUBLISHED):
        raise UserError("consult.not_open", number=record.id)
    was_published = record.state is ConsultationState.PUBLISHED
    record = context.store.consultations.set_state(record.id, ConsultationState.WITHDRAWN)
    said = Reply(Message.of("consult.withdrawn", number=record.id))
    if not was_published:
        return [said]
    return [said, *tell_subscribers(context, record, "consult.withdrawn_notice")]


# -- answers to an alert ----------------------------------------------------------------------


def answer_picked(context: Context, picked: ChoicePicked, payload: str) -> Sequence[Reply]:
    """``consult:contribute:N`` or ``consult:interested:N``, from an alert's buttons."""
    verb, _, number = payload.partition(":")
    if verb not in (Intent.CONTRIBUTE.value, Intent.INTERESTED.value) or not number.isdigit():
        raise UserError("router.choice_expired", help=CommandRef("help"))
    record = context.store.consultations.get(int(number))
    if record is None or not is_open(record, context.store.now()):
        raise UserError("consult.closed", number=int(number))
    context.store.consultations.answer(record.id, context.member.id, Intent(verb))
    return [
        Reply(
            Message.of(ANSWERED_KEYS[Intent(verb)], number=record.id, title=Literal(record.title))
        )
    ]


# -- reminders (the scheduler calls these) ------------------------------------------------------


def reminder_keys(record: ConsultationRecord) -> list[tuple[str, datetime]]:
    """The scheduled reminders of a published consultation: ``(key, due_at)`` for each
    offset still ahead, keyed ``consultation:N:reminder:P3D``. None without a deadline or
    once it is no longer published (withdrawn: the scheduler cancels what it holds)."""
    deadline = record.fields.deadline
    if deadline is None or record.state is not ConsultationState.PUBLISHED:
        return []
    return [
        (
            f"consultation:{record.id}:reminder:{offset}",
            deadline - timedelta(days=int(offset[1:-1])),
        )
        for offset in reminder_offsets(record.fields.reminder_days)
    ]


def reminder_due(context: Context, consultation_id: int, offset: str) -> list[Reply]:
    """The reminder notices for one offset (``P3D``): to every subscriber, and to those who
    plan to contribute with a line saying so. Nothing once it is withdrawn, closed or past.

    ``context`` is any context the scheduler builds (its member is not used)."""
    record = context.store.consultations.get(consultation_id)
    if record is None or not is_open(record, context.store.now()):
        return []
    if offset not in reminder_offsets(record.fields.reminder_days):
        return []
    contributors = set(context.store.consultations.contributions(record.id).contribute)
    others = [m for m in subscribers(context, record) if m not in contributors]
    return [
        *tell_subscribers(
            context, record, "consult.reminder_contributor", members=sorted(contributors)
        ),
        *tell_subscribers(context, record, "consult.reminder", members=others, buttons=True),
    ]
