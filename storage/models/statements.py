"""Joint statements: the statements of working groups, their versions and translations,
each signer's current answer and the history of answers, questions, and notices said once.

A signer is not stored as its key (``organization:3``, ``member:12``): it is made from the
row's kind and its organization or member, so that merging two members (which moves
``member_id``) leaves one signer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime

STATES = ("open", "closed")
WHO_SIGNS = ("group", "network")
LIST_ORDERS = ("alphabetical", "country")
CHANGES = ("original", "correction", "substance")
ANSWERS = ("signed", "declined", "withdrawn")
SIGNER_KINDS = ("member", "organization")


def _among(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"


MEMBER_SIGNER = "signer_kind = 'member'"


class Statement(Base):
    """One joint statement of one working group. ``rooms`` and ``remind_hours_before`` are
    JSON lists; its text is its latest version (:class:`StatementTextVersion`)."""

    __tablename__ = "statements"
    __table_args__ = (
        CheckConstraint(_among("state", STATES), name="state"),
        CheckConstraint(_among("who_signs", WHO_SIGNS), name="who_signs"),
        CheckConstraint(_among("list_order", LIST_ORDERS), name="list_order"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    working_group_id: Mapped[int] = mapped_column(
        ForeignKey("working_groups.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(16))
    deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    who_signs: Mapped[str] = mapped_column(String(16))
    individuals: Mapped[bool] = mapped_column(Boolean())
    list_order: Mapped[str] = mapped_column(String(16))
    rooms: Mapped[str] = mapped_column(Text())
    time_zone: Mapped[str] = mapped_column(String(64))
    remind_hours_before: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_url: Mapped[str | None] = mapped_column(String(2000))


class StatementTextVersion(Base):
    """One version of a statement's text, with the document it was given as, if any."""

    __tablename__ = "statement_versions"
    __table_args__ = (
        CheckConstraint(_among("change", CHANGES), name="change"),
        UniqueConstraint("statement_id", "number"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text())
    text_hash: Mapped[str] = mapped_column(String(64))
    change: Mapped[str] = mapped_column(String(16))
    edition: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(127))
    data: Mapped[bytes | None] = mapped_column(LargeBinary())
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StatementTranslation(Base):
    """A language's latest translation of a statement, and the version it translates."""

    __tablename__ = "statement_translations"
    __table_args__ = (
        UniqueConstraint("statement_id", "language"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(16))
    version_number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text())
    filename: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(127))
    data: Mapped[bytes | None] = mapped_column(LargeBinary())
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StatementSignature(Base):
    """A signer's current answer: one row per organization, or per member signing in their
    own name (the partial unique index). ``member_id`` is who gave it; for a member's own
    signature, the signer too."""

    __tablename__ = "statement_signatures"
    __table_args__ = (
        CheckConstraint(_among("signer_kind", SIGNER_KINDS), name="signer_kind"),
        CheckConstraint(_among("answer", ANSWERS), name="answer"),
        UniqueConstraint("statement_id", "organization_id"),
        Index(
            "uq_statement_signatures_statement_id_member",
            "statement_id",
            "member_id",
            unique=True,
            sqlite_where=text(MEMBER_SIGNER),
            postgresql_where=text(MEMBER_SIGNER),
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id", ondelete="CASCADE"))
    signer_kind: Mapped[str] = mapped_column(String(16))
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    answer: Mapped[str] = mapped_column(String(16))
    version_number: Mapped[int] = mapped_column(Integer)
    text_hash: Mapped[str] = mapped_column(String(64))
    first_answered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    withdrawn_by: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StatementSignatureEvent(Base):
    """One answer as it was given: the history of signing, declining, confirming and
    withdrawing."""

    __tablename__ = "statement_signature_events"
    __table_args__ = (
        CheckConstraint(_among("signer_kind", SIGNER_KINDS), name="signer_kind"),
        CheckConstraint(_among("answer", ANSWERS), name="answer"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    statement_id: Mapped[int] = mapped_column(
        ForeignKey("statements.id", ondelete="CASCADE"), index=True
    )
    signer_kind: Mapped[str] = mapped_column(String(16))
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    answer: Mapped[str] = mapped_column(String(16))
    version_number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class StatementQuestion(Base):
    """A member's question about a statement, and the coordinators' answer."""

    __tablename__ = "statement_questions"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    statement_id: Mapped[int] = mapped_column(
        ForeignKey("statements.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text())
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answer: Mapped[str | None] = mapped_column(Text())
    answered_by: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StatementNotice(Base):
    """A notice about a statement already given to a member: each is said once."""

    __tablename__ = "statement_notices"
    __table_args__ = (
        UniqueConstraint("statement_id", "member_id", "what"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    what: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
