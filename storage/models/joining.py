"""Requests to join a working group, decided by its coordinators."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime


class JoinRequest(Base):
    """A member's request to join a working group: pending until a coordinator approves or
    declines it, or the member cancels it. One pending request per member and group."""

    __tablename__ = "join_requests"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'approved', 'declined', 'cancelled')", name="state"),
        Index(
            "uq_join_requests_pending",
            "member_id",
            "working_group_id",
            unique=True,
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    working_group_id: Mapped[int] = mapped_column(
        ForeignKey("working_groups.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    """The coordinator who approved or declined it (NULL while pending, or once erased)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
