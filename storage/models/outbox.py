"""The messages the bot owes rooms."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime
from storage.sealing import SealedText


class OutboxMessage(Base):
    """A message the bot owes a room; ``id`` (never reused) is the order of sending.

    A relayed copy names its original (``bridged_message_id``) and which part of it it is
    (``bridge_part``, 0 for the first: a long text may take several messages).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
        Index("ix_outbox_platform_status_id", "platform", "status", "id"),
        # The head of each room's queue, and the rooms owed messages (storage/outbox.py).
        Index("ix_outbox_platform_status_room_id_id", "platform", "status", "room_id", "id"),
        Index(
            "ix_outbox_platform_room_id_platform_message_id",
            "platform",
            "room_id",
            "platform_message_id",
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    room_id: Mapped[str] = mapped_column(String(255))
    payload: Mapped[str] = mapped_column(SealedText())
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    platform_message_id: Mapped[str | None] = mapped_column(String(255))
    failure_reason: Mapped[str | None] = mapped_column(String(255))
    bridged_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("bridged_messages.id", ondelete="SET NULL"), index=True
    )
    bridge_part: Mapped[int | None] = mapped_column(Integer)


class OutboxCaseContent(Base):
    """An outbox message carries something of case report ``case_id`` (its text, a list
    naming it, an export holding it) or, with ``attachment_id``, one of its evidence files."""

    __tablename__ = "outbox_case_contents"

    outbox_id: Mapped[int] = mapped_column(
        ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True
    )
    case_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)
    attachment_id: Mapped[int | None] = mapped_column(Integer)
