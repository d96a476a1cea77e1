"""The audit log: every change to who may do what (roles, memberships, organizations and
their signatories), with who made it and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime


class AuditEntry(Base):
    """One change. ``actor_member_id`` is who made it (NULL: the configuration, or a member
    since erased); ``member_id``, ``working_group_id`` and ``organization_id`` say what it
    was about; ``detail`` is a JSON object of plain values (roles, slugs, numbers), never
    a person's name or account."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_working_group_id_id", "working_group_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(64))
    actor_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    working_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("working_groups.id", ondelete="SET NULL")
    )
    organization_id: Mapped[int | None] = mapped_column(Integer)
    """No foreign key: an organization's entries outlive it (the table comes later)."""
    detail: Mapped[str] = mapped_column(Text())
