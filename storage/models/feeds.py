"""Configured feeds and calendars the bot polls, and the items it has seen in each."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime


class Feed(Base):
    """One feed of one working group: where it is, what the last answer said to keep for a
    conditional request, and how the last tries went."""

    __tablename__ = "feeds"
    __table_args__ = (
        UniqueConstraint("working_group_id", "url"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    working_group_id: Mapped[int] = mapped_column(
        ForeignKey("working_groups.id", ondelete="CASCADE")
    )
    url: Mapped[str] = mapped_column(String(2000))
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failure_reason: Mapped[str | None] = mapped_column(String(200))
    failure_reported: Mapped[bool] = mapped_column(Boolean(), default=False)


class FeedItemSeen(Base):
    """An item of a feed already offered (by the source's own id): never offered again."""

    __tablename__ = "feed_items_seen"
    __table_args__ = (Index("ix_feed_items_seen_seen_at", "seen_at"),)

    feed_id: Mapped[int] = mapped_column(
        ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True
    )
    source_uid: Mapped[str] = mapped_column(String(500), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
