"""How many messages one member may send the bot in a private chat: the arithmetic only.

A member over the rate is told once to slow down; what they send past it is dropped and
counted, never queued. The router asks :meth:`PrivateLimit.verdict` before handling a
direct-chat event and records the event as handled whatever the verdict, so a dropped
message is not run again after a restart. Group rooms are never limited here: the bridge
must carry every message (the outbox merges bursts instead).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum

WINDOW_SECONDS = 60.0


class Verdict(Enum):
    HANDLE = "handle"
    SLOW_DOWN = "slow_down"
    """The first message over the limit: answered with one "slow down", not handled."""
    DROP = "drop"


@dataclass
class _Member:
    times: deque[float] = field(default_factory=deque)
    """When the member's handled messages of the last window came."""
    dropped: int = 0
    """Messages dropped since the member went over the limit (0: not over it)."""
    warned: bool = False


@dataclass(frozen=True)
class Lifted:
    """A member back under the limit, and how many of their messages were dropped."""

    member_id: int
    dropped: int


class PrivateLimit:
    """A sliding window of one minute per member; ``per_minute`` messages are handled in it.

    Dropped messages do not count towards the window: a member who keeps typing is back
    as soon as the messages that were handled fall out of it.
    """

    def __init__(self, per_minute: int) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self._per_minute = per_minute
        self._members: dict[int, _Member] = {}
        self.dropped_total = 0

    def verdict(self, member_id: int, now: float) -> tuple[Verdict, Lifted | None]:
        """Whether to handle a member's message that came at ``now`` (seconds, monotonic);
        with it, the end of an earlier episode over the limit, to be logged."""
        member = self._members.setdefault(member_id, _Member())
        while member.times and member.times[0] <= now - WINDOW_SECONDS:
            member.times.popleft()
        if len(member.times) < self._per_minute:
            member.times.append(now)
            lifted = None
            if member.warned:
                lifted = Lifted(member_id, member.dropped)
                member.warned, member.dropped = False, 0
            return Verdict.HANDLE, lifted
        self.dropped_total += 1
        if not member.warned:
            member.warned = True
            member.dropped = 1
            return Verdict.SLOW_DOWN, None
        member.dropped += 1
        return Verdict.DROP, None

    def forget_idle(self, now: float) -> None:
        """Drop the windows of members quiet for a whole window (memory stays bounded)."""
        idle = [
            member_id
            for member_id, member in self._members.items()
            if not member.warned and (not member.times or member.times[-1] <= now - WINDOW_SECONDS)
        ]
        for member_id in idle:
            del self._members[member_id]
