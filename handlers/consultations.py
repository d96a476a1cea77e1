"""Consultations: ``/consultations`` lists the open ones, soonest deadline first, with the
days left in the reader's time zone; ``/consultation N`` shows one (and, to those who manage
it, who plans to contribute); ``/consultation N deadline DATE`` and ``/consultation N
withdraw`` change it and tell its subscribers. Creating one is the conversation of
:mod:`handlers.consultations_form` (``/newconsultation``); subscriptions are
:mod:`handlers.consultations_subscriptions`.

What publishing, a moved deadline and a withdrawal tell members, and the reminders
(:func:`handlers.consultations_alerts.reminder_due`, for the scheduler), are
:mod:`handlers.consultations_alerts`.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.context import Context, UserError
from bot.moments import day, moment
from bot.registry import Registry
from bot.types import (
    Command,
    CommandRef,
    Lines,
    Literal,
    Message,
    Reply,
    Territory,
)
from handlers import consultations_form, consultations_subscriptions
from handlers.consultations_alerts import (
    CHOICE,
    REMINDER,
    REMINDER_LATENESS,
    answer_picked,
    move_deadline,
    remind,
    withdraw,
)
from handlers.consultations_form import kind_label, region_label, topic_label
from handlers.consultations_rules import consultation_numbered, is_open, may_manage, named, when_due
from storage.consultations import (
    ConsultationRecord,
    ConsultationState,
)

STATE_KEYS = {
    ConsultationState.DRAFT: "consult.state.draft",
    ConsultationState.PUBLISHED: "consult.state.published",
    ConsultationState.WITHDRAWN: "consult.state.withdrawn",
    ConsultationState.CLOSED: "consult.state.closed",
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
    registry.scheduled(REMINDER, remind, lateness=REMINDER_LATENESS)
    consultations_subscriptions.register(registry)


# -- who may do what --------------------------------------------------------------------------


def _visible(context: Context, record: ConsultationRecord) -> bool:
    return record.state is not ConsultationState.DRAFT or may_manage(context, record)


# -- /consultations ---------------------------------------------------------------------------


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
    if may_manage(context, record) and context.origin.is_direct:
        # Who plans to contribute is for coordinators' eyes: never in a group's room.
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


# -- publishing and telling subscribers ---------------------------------------------------------


# -- answers to an alert ----------------------------------------------------------------------


# -- reminders (the scheduler calls these) ------------------------------------------------------
