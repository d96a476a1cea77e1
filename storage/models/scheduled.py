"""Scheduled work: reminders, deadlines and announcements due at a time, done once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime


class ScheduledWork(Base):
    """One piece of work due at ``due_at`` (UTC), named by its unique ``dedup_key``.

    ``kind`` names the registered handler; ``target`` is a JSON object of plain values
    (numbers, slugs) for it; ``state`` is pending, sending, done, skipped, failed or
    unknown. Repeating work carries its ``rule`` (a crontab line) and ``time_zone``; each
    occurrence is a row of its own. ``last_error`` is an error class or a reason, never
    personal data. No member is referred to: nothing here belongs to a member's data."""

    __tablename__ = "scheduled_work"
    __table_args__ = (
        Index("ix_scheduled_work_state_due_at", "state", "due_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    target: Mapped[str] = mapped_column(Text())
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str | None] = mapped_column(String(100))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
