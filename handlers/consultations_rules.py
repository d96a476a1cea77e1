"""Who may manage a consultation, which one a command names, and how its deadline reads:
what the consultation commands, the conversation and the alerts share."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.context import Context, UserError
from bot.conversation import InvalidAnswer
from bot.moments import day, reader_zone
from bot.types import Literal, Message, Role
from storage.consultations import ConsultationRecord, ConsultationState


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


def named(context: Context, member_id: int) -> Message:
    member = context.store.members.get(member_id)
    if member is not None and member.display_name:
        return Message.of("join.member_named", name=Literal(member.display_name), number=member_id)
    return Message.of("join.member_numbered", number=member_id)


_WHEN = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T](\d{1,2}:\d{2}))?(?:\s+(\S+))?$")


def zone_named(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def read_deadline(text: str) -> dict[str, str | None]:
    """``2027-01-15``, ``2027-01-15 17:00`` or either with a time zone (``Europe/Zurich``);
    a day alone means its last minute."""
    found = _WHEN.match(" ".join(text.split()))
    if found is None:
        raise InvalidAnswer("consult.bad_deadline")
    day, clock, zone = found.groups()
    try:
        moment = datetime.fromisoformat(f"{day}T{clock or '23:59'}")
    except ValueError as error:
        raise InvalidAnswer("consult.bad_deadline") from error
    if zone is not None and zone_named(zone) is None:
        raise InvalidAnswer("consult.bad_zone", zone=Literal(zone[:60]))
    return {"local": moment.isoformat(timespec="minutes"), "zone": zone}


def deadline_at(answer: Mapping[str, Any], default_zone: str) -> tuple[datetime, str]:
    """The deadline in UTC terms (aware), and the zone it was given in."""
    zone_name = str(answer.get("zone") or default_zone or "UTC")
    zone = zone_named(zone_name) or ZoneInfo("UTC")
    local = datetime.fromisoformat(str(answer["local"]))
    return local.replace(tzinfo=zone), zone_name
