"""The network's member organizations, who belongs to which, and who signs for each."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime

KINDS = (
    "ngo",
    "movement",
    "indigenous",
    "union",
    "community",
    "academic",
    "individual",
)
"""The kinds of member organization, as stored (``bot``-free: storage imports no handler)."""


class Organization(Base):
    """A member organization. ``name_key`` is the name folded (case and accents set aside),
    unique, so that "Red Étnica" and "red etnica" cannot both exist."""

    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{kind}'" for kind in KINDS) + ")", name="kind"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    country: Mapped[str] = mapped_column(String(2))
    kind: Mapped[str] = mapped_column(String(16))
    website: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OrganizationMember(Base):
    """A member's link to their one organization: claimed (``pending``), then ``confirmed``
    by a coordinator; a confirmed member may be one of its signatories."""

    __tablename__ = "organization_members"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'confirmed')", name="status"),
        CheckConstraint("status = 'confirmed' OR NOT signatory", name="signatory_confirmed"),
    )

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    signatory: Mapped[bool] = mapped_column(Boolean())
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OrganizationImport(Base):
    """A CSV an admin sent, kept between its dry run and their choice to apply it."""

    __tablename__ = "organization_imports"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    csv_text: Mapped[str] = mapped_column(Text())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
