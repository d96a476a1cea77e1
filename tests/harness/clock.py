"""A clock the storage tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    """Stands in for ``datetime.now(UTC)``; ``advance(minutes=5)`` moves it on."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now
