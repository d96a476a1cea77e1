"""Telling members of consultations: the alert when one is published (privately to every
subscriber, in their language and time zone, with the buttons "I plan to contribute" and
"Interested"; and in the rooms of the groups it concerns), the notice of a moved deadline or
a withdrawal, the answers to an alert's buttons, and the reminders.

Reminders are scheduled work: :func:`reminder_keys` names them and their times, and
:func:`reminder_due` builds their notices when the scheduler calls it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from bot.config import AppConfig
from bot.context import Context, HandlerStore, UserError, room_language
from bot.conversation import InvalidAnswer
from bot.moments import moment
from bot.notices import notify_member
from bot.registry import NoLongerUseful
from bot.territories import region_of
from bot.types import (
    Choice,
    ChoicePicked,
    CommandRef,
    Lines,
    Literal,
    Message,
    Origin,
    Reply,
)
from handlers.consultations_rules import deadline_at, is_open, may_manage, read_deadline, when_due
from storage.consultations import (
    ConsultationRecord,
    ConsultationState,
    Intent,
    reminder_offsets,
)
from storage.scheduled import ScheduledRecord


class Telling(Protocol):
    """What telling members needs: the store and the configuration. A member's request
    (:class:`bot.context.Context`) has them, and so does the scheduler's context."""

    @property
    def store(self) -> HandlerStore: ...

    @property
    def config(self) -> AppConfig: ...


REMINDER = "consultation.reminder"
"""The kind of scheduled work that reminds subscribers of a deadline."""
REMINDER_LATENESS = timedelta(hours=12)
"""A reminder that fell due while the bot was down is still sent this late (and only
before the deadline); later, it is skipped: the next one, or the deadline, is near."""

CHOICE = "consult"
"""The prefix of an alert's buttons: ``consult:contribute:N``, ``consult:interested:N``."""
ANSWERED_KEYS = {
    Intent.CONTRIBUTE: "consult.answered_contribute",
    Intent.INTERESTED: "consult.answered_interested",
}


def _buttons(record: ConsultationRecord) -> tuple[Choice, ...]:
    return (
        Choice(
            f"{CHOICE}:{Intent.CONTRIBUTE.value}:{record.id}", Message.of("consult.i_contribute")
        ),
        Choice(f"{CHOICE}:{Intent.INTERESTED.value}:{record.id}", Message.of("consult.interested")),
    )


def _notice(
    context: Telling,
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


def subscribers(context: Telling, record: ConsultationRecord) -> list[int]:
    """The members alerted of ``record``: a region's subscribers hear of its countries."""
    regions = {region_of(code).value for code in record.fields.countries}
    return context.store.consultations.subscribers_of(record, country_regions=regions)


def tell_subscribers(
    context: Telling,
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
        language = room_language(group, context.config)
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
    schedule_reminders(context, record)
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
    deadline, zone_name = deadline_at(answer, zone)
    if deadline <= context.store.now():
        raise UserError("consult.deadline_past")
    if deadline == record.fields.deadline:
        raise UserError("consult.deadline_same", number=record.id)
    record = context.store.consultations.set_deadline(record.id, deadline, zone_name)
    schedule_reminders(context, record)  # the same keys, moved to the new times
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
    try:
        return read_deadline(typed)
    except InvalidAnswer as refused:
        raise UserError("consult.bad_deadline") from refused


def withdraw(context: Context, record: ConsultationRecord) -> list[Reply]:
    if record.state not in (ConsultationState.DRAFT, ConsultationState.PUBLISHED):
        raise UserError("consult.not_open", number=record.id)
    was_published = record.state is ConsultationState.PUBLISHED
    record = context.store.consultations.set_state(record.id, ConsultationState.WITHDRAWN)
    context.store.scheduled.cancel_prefix(f"consultation:{record.id}:")
    said = Reply(Message.of("consult.withdrawn", number=record.id))
    if not was_published:
        return [said]
    return [said, *tell_subscribers(context, record, "consult.withdrawn_notice")]


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


def reminder_keys(record: ConsultationRecord) -> list[tuple[str, datetime]]:
    """The scheduled reminders of a published consultation: ``(key, due_at)`` for each of
    its offsets, keyed ``consultation:N:reminder:P3D`` (one already past is the scheduler's
    lateness rule to settle). None without a deadline or once it is no longer published
    (withdrawn: the scheduler cancels what it holds). A moved deadline gives the same keys
    with new times."""
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


def reminder_due(context: Telling, consultation_id: int, offset: str) -> list[Reply]:
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


def schedule_reminders(context: Context, record: ConsultationRecord) -> None:
    """Keep a scheduled row for each of the consultation's reminders, in the unit of work
    that publishes it or moves its deadline (a row not yet sent moves with the deadline)."""
    for key, due_at in reminder_keys(record):
        offset = key.rsplit(":", 1)[1]
        context.store.scheduled.schedule(
            key, REMINDER, due_at, {"consultation": record.id, "offset": offset}
        )


def remind(context: Telling, row: ScheduledRecord) -> Sequence[Reply]:
    """The scheduler's handler of :data:`REMINDER` rows."""
    consultation_id, offset = row.target.get("consultation"), row.target.get("offset")
    if not isinstance(consultation_id, int) or not isinstance(offset, str):
        raise NoLongerUseful("a reminder row without its consultation")
    record = context.store.consultations.get(consultation_id)
    if record is None or not is_open(record, context.store.now()):
        raise NoLongerUseful("the consultation is closed, withdrawn or past its deadline")
    return reminder_due(context, consultation_id, offset)
