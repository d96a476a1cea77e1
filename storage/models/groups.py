"""Working groups, the rooms linked to them, and the roles members hold in them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime


class WorkingGroup(Base):
    __tablename__ = "working_groups"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    # Language codes separated by commas, in order of preference ("" for none).
    languages: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Room(Base):
    __tablename__ = "rooms"
    __table_args__ = (
        UniqueConstraint("platform", "room_id"),
        CheckConstraint("source IN ('config', 'command')", name="source"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    room_id: Mapped[str] = mapped_column(String(255))
    working_group_id: Mapped[int] = mapped_column(
        ForeignKey("working_groups.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Membership(Base):
    """A role held by a member in a working group, or network-wide when the group is NULL."""

    __tablename__ = "memberships"
    __table_args__ = (
        # Covers rows with a group; SQL treats NULLs as distinct, so the partial index below
        # covers the network-wide rows. The store also checks before inserting.
        UniqueConstraint("member_id", "working_group_id"),
        Index(
            "uq_memberships_member_id_network",
            "member_id",
            unique=True,
            sqlite_where=text("working_group_id IS NULL"),
            postgresql_where=text("working_group_id IS NULL"),
        ),
        CheckConstraint("role IN ('member', 'coordinator', 'admin')", name="role"),
        CheckConstraint("source IN ('config', 'command')", name="source"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    working_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("working_groups.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
