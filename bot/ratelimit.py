"""Send-rate arithmetic: when may the next message to a room go out? Pure, no clock of its own.

A limiter hands out send slots: :meth:`SendLimiter.reserve` books the earliest moment that
keeps every window within its limit and returns how long to wait for it. Callers sleep
that long and send; because slots are booked, concurrent senders never overshoot together.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable
from dataclasses import dataclass, field

_TOLERANCE = 1e-9
FORGET_IDLE_EVERY = 1000
"""Reservations between sweeps of rooms that have gone quiet."""


@dataclass(frozen=True)
class Window:
    """At most ``count`` sends in any ``seconds``-long span."""

    count: int
    seconds: float

    def __post_init__(self) -> None:
        if self.count < 1 or self.seconds <= 0:
            raise ValueError("a window needs a positive count and length")


@dataclass
class _Log:
    """Booked send times for one window, sorted; bookings may lie in the future."""

    window: Window
    times: list[float] = field(default_factory=list)

    def forget_before(self, now: float) -> None:
        cut = bisect.bisect_right(self.times, now - self.window.seconds)
        if cut:
            del self.times[:cut]

    def fits(self, at: float) -> bool:
        """Would one more send at ``at`` keep every ``seconds``-long span within ``count``?"""
        count, span = self.window.count, self.window.seconds
        times = self.times
        position = bisect.bisect_right(times, at)
        before = times[max(0, position - count) : position]
        merged = [*before, at, *times[position : position + count]]
        here = min(position, count)
        for first in range(max(0, here - count), here + 1):
            last = first + count
            # A send exactly one window after another is allowed; the tolerance absorbs
            # float rounding of "booking + window length".
            if last < len(merged) and merged[last] - merged[first] < span - _TOLERANCE:
                return False
        return True

    def candidates(self, at: float) -> list[float]:
        """Moments where a send may first fit: ``at`` and each booking's window end."""
        span = self.window.seconds
        return [moment + span for moment in self.times if moment + span > at]

    def book(self, at: float) -> None:
        bisect.insort(self.times, at)


class SendLimiter:
    """Global windows (all rooms together) plus windows per room, chosen by room kind."""

    def __init__(
        self,
        global_windows: tuple[Window, ...],
        room_windows: dict[str, tuple[Window, ...]],
    ) -> None:
        self._global = [_Log(window) for window in global_windows]
        self._room_windows = room_windows
        self._rooms: dict[Hashable, list[_Log]] = {}
        self._paused_until: dict[Hashable, float] = {}
        self._reservations = 0

    def reserve(self, room: Hashable, kind: str, now: float) -> float:
        """Book a send into ``room`` (of ``kind``); return the seconds to wait before it."""
        return self._book([*self._room_logs(room, kind, now), *self._global], room, now)

    def reserve_room(self, room: Hashable, kind: str, now: float) -> float:
        """Book only ``room``'s own windows; the global ones are booked apart with
        :meth:`reserve_global` once it is the room's turn (see :mod:`bot.outbox`), so that
        sends waiting for their room never hold global slots far ahead of others."""
        return self._book(self._room_logs(room, kind, now), room, now)

    def reserve_global(self, now: float) -> float:
        """Book a slot in the global windows alone; the seconds to wait for it."""
        return self._book(self._global, None, now)

    def _room_logs(self, room: Hashable, kind: str, now: float) -> list[_Log]:
        self._reservations += 1
        if self._reservations % FORGET_IDLE_EVERY == 0:
            self._forget_idle(now)
        logs = self._rooms.get(room)
        if logs is None:
            logs = [_Log(window) for window in self._room_windows.get(kind, ())]
            self._rooms[room] = logs
        return logs

    def _book(self, every: list[_Log], room: Hashable | None, now: float) -> float:
        for log in every:
            log.forget_before(now)
        start = now if room is None else max(now, self._paused_until.get(room, now))
        # A send first fits either at once or when some booking leaves its window.
        moments = sorted({start, *(m for log in every for m in log.candidates(start))})
        at = next(
            (moment for moment in moments if all(log.fits(moment) for log in every)),
            moments[-1],
        )
        for log in every:
            log.book(at)
        return at - now

    def _forget_idle(self, now: float) -> None:
        """Drop rooms with nothing booked in their windows, so memory follows activity."""
        for room, logs in list(self._rooms.items()):
            for log in logs:
                log.forget_before(now)
            if all(not log.times for log in logs) and self._paused_until.get(room, 0) <= now:
                del self._rooms[room]
                self._paused_until.pop(room, None)

    @property
    def tracked_rooms(self) -> int:
        return len(self._rooms)

    def settle(self, room: Hashable, finished: float) -> None:
        """The send booked last into ``room`` finished at ``finished``: count it from then.

        The server sees a send somewhere between its start and its answer; counting a
        room's sends from their answers keeps them spaced there, whatever the latency.
        """
        for log in self._rooms.get(room, ()):
            if log.times and log.times[-1] < finished:
                log.times[-1] = finished

    def pause(self, room: Hashable, until: float) -> None:
        """The platform asked us to wait (HTTP 429): nothing goes to ``room`` before ``until``."""
        self._paused_until[room] = max(until, self._paused_until.get(room, until))


SAFETY_MARGIN = 1.1
"""Windows are this much longer than published: requests take a varying time to reach the
server, so two sends spaced exactly a second apart here may land closer together there."""


def telegram_limiter(margin: float = SAFETY_MARGIN) -> SendLimiter:
    """Telegram's published limits: ~30 messages a second overall, one a second into one
    chat, 20 a minute into one group."""
    return SendLimiter(
        global_windows=(Window(30, 1.0 * margin),),
        room_windows={
            "private": (Window(1, 1.0 * margin),),
            "group": (Window(1, 1.0 * margin), Window(20, 60.0 * margin)),
        },
    )
