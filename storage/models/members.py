"""Members, and their accounts on each platform."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime


class Member(Base):
    __tablename__ = "members"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    language: Mapped[str] = mapped_column(String(8))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(255))
    organization: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Identity(Base):
    __tablename__ = "identities"
    __table_args__ = (
        UniqueConstraint("platform", "user_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(255))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    direct_room_id: Mapped[str | None] = mapped_column(String(255))
    """The private chat in which the member last wrote to the bot: where notices reach them
    (on Telegram; on Matrix, :attr:`notice_room_id`)."""
    notice_room_id: Mapped[str | None] = mapped_column(String(255))
    """The private room the bot made with this account for notices (Matrix), once needed."""
