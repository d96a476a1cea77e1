"""``/health``, for the network's admins in a private chat: whether confidential data's key
is kept safely, which database the bot uses, how each platform's transport is receiving,
the outbox's counts (what ``/outbox`` shows), and scheduled work that was interrupted
or failed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.context import Context, UserError
from bot.health import HEALTH, ReceiveState, key_warning
from bot.registry import Registry
from bot.types import Command, Lines, Literal, Message, Platform, Reply, Role
from handlers.outbox import show_outbox
from storage.scheduled import ScheduledState

_DATABASES = {"sqlite": "health.database_sqlite", "postgresql": "health.database_postgresql"}


def register(registry: Registry) -> None:
    registry.command(
        "health", show_health, help_key="help.health", role=Role.ADMIN, direct_only=True
    )


def show_health(context: Context, command: Command) -> Sequence[Reply]:
    # The installation's state is the network admins' business, not a working group's.
    if context.role_in(None) is not Role.ADMIN:
        raise UserError("health.network_admins_only")
    config = context.config
    lines: list[Message | Literal] = [Message.of("health.header")]
    warning = key_warning(config)
    lines.append(warning if warning is not None else Message.of("health.key_configured"))
    lines.append(Message.of(_DATABASES[config.database_kind]))
    now = datetime.now(UTC)
    for platform in config.enabled_platforms:
        lines.append(_transport_line(platform, now))
    for reply in show_outbox(context, command):
        if isinstance(reply.text, Lines):
            lines.extend(item for item in reply.text.items if item != warning)
    scheduled = _scheduled_line(context)
    if scheduled is not None:
        lines.append(scheduled)
    return [Reply(Lines(tuple(lines)))]


def _scheduled_line(context: Context) -> Message | None:
    """Scheduled work an admin should know of: interrupted (not repeated) or failed."""
    counts = context.store.scheduled.counts()
    unknown = counts.get(ScheduledState.UNKNOWN, 0)
    failed = counts.get(ScheduledState.FAILED, 0)
    if not unknown and not failed:
        return None
    return Message.of(
        "health.scheduled_trouble",
        unknown=Message.counted("health.scheduled_unknown", unknown),
        failed=Message.counted("health.scheduled_failed", failed),
    )


def _transport_line(platform: Platform, now: datetime) -> Message:
    name = Message.of(f"platform.{platform.value}")
    state = HEALTH.of(platform)
    if state is None:
        return Message.of("health.transport_starting", platform=name)
    if state.state is ReceiveState.RECEIVING:
        return Message.of("health.transport_receiving", platform=name)
    minutes = int((now - state.since).total_seconds() // 60)
    return Message.of(
        "health.transport_failing",
        platform=name,
        minutes=minutes,
        failures=state.failures,
        reason=Literal(state.reason),
    )
