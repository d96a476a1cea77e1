"""The members' messages the bridge relayed (their copies are outbox rows)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime


class BridgedMessage(Base):
    """A member's message the bridge relayed; its copies are outbox rows pointing here.

    Only ids are kept (and a digest of the last relayed text, to skip edits that change
    nothing): the mapping lets replies, edits and deletions find their counterparts.
    """

    __tablename__ = "bridged_messages"
    __table_args__ = (
        UniqueConstraint("platform", "room_id", "message_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    working_group_id: Mapped[int] = mapped_column(
        ForeignKey("working_groups.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(32))
    room_id: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[str] = mapped_column(String(255))
    # "text", or the kind of file ("photo", "voice", ...): an edit of a file is a caption's.
    kind: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
