"""Typed declarative models. Only ``storage`` code uses them; they never leave the package.

The schema itself is created and changed by the Alembic migrations in
``storage/migrations/versions``; these models must describe the same schema (a test runs
Alembic's autogenerate comparison against the migrated database on SQLite and PostgreSQL).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from storage.sealing import SealedBytes, SealedText

# Constraint names are spelled out so that migrations can refer to them on every backend
# (SQLite batch migrations in particular need named constraints).
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL stores ``timestamp with time zone``; SQLite has no such type, so the value is
    stored as naive UTC text and made aware again when read. Naive datetimes are refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: storage keeps aware UTC datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Every table with a surrogate key uses ``sqlite_autoincrement``: SQLite then never reuses
# the id of a deleted row (PostgreSQL sequences never do), so an old reference to a deleted
# member cannot come to point at a new one.


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
    """The private chat in which the member last wrote to the bot: where notices reach them."""


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


class Conversation(Base):
    """The one open conversation of a member; ``data`` is JSON text."""

    __tablename__ = "conversations"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(64))
    data: Mapped[str] = mapped_column(SealedText())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InboundEvent(Base):
    """A raw platform event, stored before the platform is told it arrived.

    ``payload`` is JSON text, replaced by ``{}`` once the event is handled.
    """

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("platform", "key"),
        Index("ix_inbound_events_platform_handled_at_id", "platform", "handled_at", "id"),
        Index("ix_inbound_events_platform_sequence", "platform", "sequence"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    sequence: Mapped[int | None] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(255))
    payload: Mapped[str] = mapped_column(SealedText())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


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


class OutboxMessage(Base):
    """A message the bot owes a room; ``id`` (never reused) is the order of sending.

    A relayed copy names its original (``bridged_message_id``) and which part of it it is
    (``bridge_part``, 0 for the first: a long text may take several messages).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
        Index("ix_outbox_platform_status_id", "platform", "status", "id"),
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


class CallbackPayload(Base):
    """A button's callback value too long for the platform, stood in for by its ``id``."""

    __tablename__ = "callback_payloads"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    # sha256 of the value, hex: the unique key (an index on the value itself could be huge).
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UnreachableChat(Base):
    """A chat the bot cannot write to (the member blocked it, the group is gone)."""

    __tablename__ = "unreachable_chats"
    __table_args__ = (
        UniqueConstraint("platform", "chat_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(255))
    since: Mapped[datetime] = mapped_column(UTCDateTime())


class TransportState(Base):
    """A named value a transport keeps between runs (Matrix's sync token)."""

    __tablename__ = "transport_state"
    __table_args__ = (
        UniqueConstraint("platform", "name"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


# -- case reports -----------------------------------------------------------------------
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
