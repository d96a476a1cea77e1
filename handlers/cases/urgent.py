"""Urgent alerts that waited: an urgent report that no coordinator could be told of when it
was filed keeps its alert (:mod:`storage.urgent_alerts`), and the first coordinator or admin
of its group who then writes to the bot privately, about anything, gets it before the
answer to what they wrote, with how long it waited. When the group has no coordinator who
could ever write to the bot (none configured, or none on a platform the bot runs), the
first network admin who writes gets it instead, told that only the group's coordinators
can read the report. It goes to one person, once, by its number only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from babel.dates import format_timedelta

from bot.context import Context
from bot.registry import Registry
from bot.types import CommandRef, Literal, Message, Platform, Reply, Role
from handlers.cases.review import coordinated_groups
from storage.urgent_alerts import WaitingAlert

log = logging.getLogger(__name__)


def register(registry: Registry) -> None:
    registry.on_private_message(deliver_waiting_alerts)


def deliver_waiting_alerts(context: Context) -> Sequence[Reply]:
    """The waiting alerts this member may receive, each claimed for them as it is queued
    (in the unit of work that queues it: a rollback leaves it waiting)."""
    waiting = context.store.urgent_alerts.waiting()
    if not waiting:
        return []
    now = context.store.now()
    names = {group.id: group.name for group in context.store.groups.all()}
    coordinated = set(coordinated_groups(context))
    network_admin = context.role_in(None) is Role.ADMIN
    replies = []
    for alert in waiting:
        group = alert.working_group_id
        if group in coordinated:
            key = "cases.urgent_alert_waited"
        elif network_admin and not coordinators_could_write(context, group):
            key = "cases.urgent_alert_waited_admin"
        else:
            continue
        if not context.store.urgent_alerts.claim(alert.case_id, context.member.id):
            continue
        log.info(
            "case_alert_delivered case=%d group=%d member=%d as=%s waited_s=%d",
            alert.case_id,
            group,
            context.member.id,
            "coordinator" if group in coordinated else "network_admin",
            int((now - alert.since).total_seconds()),
        )
        replies.append(
            Reply(
                Message.of(
                    key,
                    number=alert.case_id,
                    group=Literal(names.get(group, "")),
                    waited=Literal(waited_for(alert.since, now, context.member.language)),
                    case=CommandRef("case"),
                )
            )
        )
    return replies


def coordinators_could_write(context: Context, working_group_id: int) -> bool:
    """Whether a coordinator or admin of the group has an account where the bot runs (the
    configured platforms, else the console), so could write to it and get the alert."""
    running = set(context.config.enabled_platforms) or {Platform.CONSOLE}
    return any(
        identity.platform in running
        for member_id in context.store.groups.coordinators_of(working_group_id)
        for identity in context.store.members.identities_of(member_id)
    )


def waited_for(since: datetime, now: datetime, language: str) -> str:
    """How long something has waited, in the reader's language ("3 hours")."""
    return format_timedelta(max(now - since, timedelta(0)), locale=language)


def waiting_summary(alerts: Sequence[WaitingAlert]) -> tuple[int, str, datetime] | None:
    """How many alerts wait, their case numbers and since when the oldest has; ``None``
    when none does."""
    if not alerts:
        return None
    oldest = min(alert.since for alert in alerts)
    numbers = ", ".join(str(alert.case_id) for alert in sorted(alerts, key=lambda a: a.case_id))
    return len(alerts), numbers, oldest
