"""The outbox's state, for admins: what is waiting, what failed, what went out lately."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bot.context import Context
from bot.health import key_warning
from bot.registry import Registry
from bot.types import Command, Lines, Literal, Message, Platform, Reply, Role

RECENT = timedelta(hours=1)
DELIVERING_PLATFORMS = (Platform.TELEGRAM, Platform.MATRIX)


def register(registry: Registry) -> None:
    registry.command("outbox", show_outbox, help_key="help.outbox", role=Role.ADMIN)


def show_outbox(context: Context, command: Command) -> Sequence[Reply]:
    now = datetime.now(UTC)
    lines: list[Message | Literal] = [Message.of("outbox.header")]
    for platform in DELIVERING_PLATFORMS:
        status = context.store.outbox.status(platform, since=now - RECENT)
        lines.append(
            Message.of(
                "outbox.line",
                platform=Message.of(f"platform.{platform.value}"),
                pending=status.pending,
                failed=status.failed,
                delivered=status.delivered,
            )
        )
        if status.oldest_pending_at is not None:
            waiting = int((now - status.oldest_pending_at).total_seconds() // 60)
            lines.append(Message.of("outbox.oldest", minutes=waiting))
    if (warning := key_warning(context.config)) is not None:
        lines.append(warning)
    return [Reply(Lines(tuple(lines)))]
