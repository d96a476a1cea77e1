"""Case reports: the counted fields in the clear, everything a reporter wrote sealed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime
from storage.sealing import SealedBytes

# Only what statistics count stays in the clear (country, region, sector, rights, dates,
# status, urgency); everything a reporter wrote, and every choice about them, is sealed.


class CaseReport(Base):
    __tablename__ = "case_reports"
    __table_args__ = (
        CheckConstraint(
            "status IN ('submitted', 'under_review', 'needs_info', 'verified', "
            "'published', 'archived', 'rejected')",
            name="status",
        ),
        # Each count of /casestats reads one of these alone (status included, so that
        # rejected reports are left out without reading the table).
        Index("ix_case_reports_group_status", "working_group_id", "status"),
        Index("ix_case_reports_group_country", "working_group_id", "country", "status"),
        Index("ix_case_reports_group_region", "working_group_id", "region", "status"),
        Index("ix_case_reports_group_sector", "working_group_id", "sector", "status"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    working_group_id: Mapped[int] = mapped_column(
        ForeignKey("working_groups.id", ondelete="CASCADE")
    )
    author_member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    urgent: Mapped[bool] = mapped_column(Boolean)
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str] = mapped_column(String(32))
    sector: Mapped[str] = mapped_column(String(32))
    started: Mapped[str] = mapped_column(String(10))
    """A year ("2024"), a month ("2024-03") or a day ("2024-03-15")."""
    ongoing: Mapped[bool] = mapped_column(Boolean)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CaseContent(Base):
    """Every other answer of a report, sealed; a table of its own, so that counting the
    reports never reads (or decrypts) their contents."""

    __tablename__ = "case_contents"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("case_reports.id", ondelete="CASCADE"), primary_key=True
    )
    contents: Mapped[bytes] = mapped_column(SealedBytes())
    """JSON of the answers, sealed."""


class CaseRight(Base):
    """A right a case report says was affected (several per report), for counting.

    The report's group and status are repeated here (kept equal by the store), so that
    counting by right reads this table's index alone."""

    __tablename__ = "case_rights"
    __table_args__ = (Index("ix_case_rights_group_right", "working_group_id", "right", "status"),)

    case_id: Mapped[int] = mapped_column(
        ForeignKey("case_reports.id", ondelete="CASCADE"), primary_key=True
    )
    right: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    working_group_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))


class CaseAttachment(Base):
    """Evidence sent with a report: the platform's reference until fetched, then the file."""

    __tablename__ = "case_attachments"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'stored', 'failed')", name="status"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("case_reports.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)
    source: Mapped[bytes] = mapped_column(SealedBytes())
    """JSON of the platform's reference, the file name and type, sealed."""
    data: Mapped[bytes | None] = mapped_column(SealedBytes())
    size: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CaseEvent(Base):
    """A report's history: status changes, coordinators' questions, the author's answers."""

    __tablename__ = "case_events"
    __table_args__ = (
        CheckConstraint("kind IN ('status', 'question', 'answer')", name="kind"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("case_reports.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str | None] = mapped_column(String(16))
    actor_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
    text: Mapped[bytes | None] = mapped_column(SealedBytes())
    """The question, the answer or the reason, sealed."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
