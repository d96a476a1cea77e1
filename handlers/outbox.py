"""The outbox's state, for admins: what is waiting, what failed, what went out lately, and
the urgent alerts that wait for a coordinator to write to the bot.

A network admin sees the whole outbox; a working group's admin, the messages to their
groups' rooms (and their groups' waiting alerts) only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bot.context import Context
from bot.health import key_warning
from bot.registry import Registry
from bot.types import Command, Lines, Literal, Message, Platform, Reply, Role
from handlers.cases.urgent import waited_for, waiting_summary

RECENT = timedelta(hours=1)
DELIVERING_PLATFORMS = (Platform.TELEGRAM, Platform.MATRIX)


def register(registry: Registry) -> None:
    registry.command(
        "outbox", show_outbox, help_key="help.outbox", role=Role.ADMIN, direct_only=True
    )


def show_outbox(context: Context, command: Command) -> Sequence[Reply]:
    now = datetime.now(UTC)
    lines: list[Message | Literal] = [Message.of("outbox.header")]
    rooms: dict[Platform, list[str]] | None = None
    group_ids: list[int] | None = None
    if context.role_in(None) is not Role.ADMIN:
        groups = context.groups_where(Role.ADMIN)
        group_ids = [group.id for group in groups]
        rooms = {platform: [] for platform in DELIVERING_PLATFORMS}
        for group in groups:
            for link in context.store.rooms.links(group.id):
                rooms.setdefault(link.platform, []).append(link.room_id)
        names = ", ".join(group.name for group in groups)
        lines.append(Message.of("outbox.own_groups_only", groups=Literal(names)))
    for platform in DELIVERING_PLATFORMS:
        status = context.store.outbox.status(
            platform, since=now - RECENT, rooms=None if rooms is None else rooms[platform]
        )
        lines.append(
            Message.of(
                "outbox.line",
                platform=Message.of(f"platform.{platform.value}"),
                pending=Message.counted("outbox.count_pending", status.pending),
                failed=Message.counted("outbox.count_failed", status.failed),
                delivered=Message.counted("outbox.count_delivered", status.delivered),
            )
        )
        if status.oldest_pending_at is not None:
            waiting = int((now - status.oldest_pending_at).total_seconds() // 60)
            lines.append(Message.counted("outbox.oldest", waiting))
    summary = waiting_summary(context.store.urgent_alerts.waiting(group_ids))
    if summary is not None:
        count, numbers, oldest = summary
        waited = waited_for(oldest, context.store.now(), context.member.language)
        lines.append(
            Message.of(
                "outbox.urgent_waiting", count=count, cases=Literal(numbers), waited=Literal(waited)
            )
        )
    if (warning := key_warning(context.config)) is not None:
        lines.append(warning)
    return [Reply(Lines(tuple(lines)))]
