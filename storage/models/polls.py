"""Polls of working groups: the polls, open votes, secret ballots kept apart from who voted,
notices said once, and blocks of proposals."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime

KINDS = ("simple", "proposal")
BALLOTS = ("open", "secret")
VOTERS = ("members", "organizations")
RESULTS = ("live", "after_close")
QUORUMS = ("none", "voters", "share")
STATES = ("open", "closed")
VOTER_KINDS = ("member", "organization")


def _among(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"


_MEMBER_VOTER = "voter_kind = 'member'"


class Poll(Base):
    """One poll of one working group. ``options`` and ``rooms`` are JSON lists;
    ``remind_before`` is in seconds (NULL: no reminder)."""

    __tablename__ = "polls"
    __table_args__ = (
        CheckConstraint(_among("kind", KINDS), name="kind"),
        CheckConstraint(_among("ballot", BALLOTS), name="ballot"),
        CheckConstraint(_among("voters", VOTERS), name="voters"),
        CheckConstraint(_among("results", RESULTS), name="results"),
        CheckConstraint(_among("quorum", QUORUMS), name="quorum"),
        CheckConstraint(_among("state", STATES), name="state"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    working_group_id: Mapped[int] = mapped_column(
        ForeignKey("working_groups.id", ondelete="CASCADE"), index=True
    )
    question: Mapped[str] = mapped_column(String(300))
    options: Mapped[str] = mapped_column(Text())
    kind: Mapped[str] = mapped_column(String(16))
    max_selections: Mapped[int] = mapped_column(Integer)
    ballot: Mapped[str] = mapped_column(String(16))
    voters: Mapped[str] = mapped_column(String(16))
    results: Mapped[str] = mapped_column(String(16))
    quorum: Mapped[str] = mapped_column(String(16))
    quorum_value: Mapped[int] = mapped_column(Integer)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    time_zone: Mapped[str] = mapped_column(String(64))
    remind_before: Mapped[int | None] = mapped_column(Integer)
    rooms: Mapped[str] = mapped_column(Text())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    eligible_at_close: Mapped[int | None] = mapped_column(Integer)
    final_counts: Mapped[str | None] = mapped_column(Text())
    """JSON: the votes for each option when it closed."""
    final_voters: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(Text())
    outcome_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PollVote(Base):
    """The current open-ballot vote of one voter in one poll: a member's own
    (``voter_kind`` member, one row per member) or an organization's, cast by one of its
    signatories (one row per organization). ``choices`` are 0-based option indexes,
    comma-separated; empty: withdrawn (kept, so that an older vote arriving late is
    recognized as older)."""

    __tablename__ = "poll_open_votes"
    __table_args__ = (
        CheckConstraint(_among("voter_kind", VOTER_KINDS), name="voter_kind"),
        UniqueConstraint("poll_id", "organization_id"),
        Index(
            "uq_poll_open_votes_poll_id_member",
            "poll_id",
            "member_id",
            unique=True,
            sqlite_where=text(_MEMBER_VOTER),
            postgresql_where=text(_MEMBER_VOTER),
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    voter_kind: Mapped[str] = mapped_column(String(16))
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL")
    )
    choices: Mapped[str] = mapped_column(String(40))
    platform: Mapped[str] = mapped_column(String(16))
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PollParticipation(Base):
    """That a voter cast their secret ballot in a poll, and when: never what they chose
    (:class:`PollBallot`, which shares nothing with this table but the poll)."""

    __tablename__ = "poll_participation"
    __table_args__ = (
        CheckConstraint(_among("voter_kind", VOTER_KINDS), name="voter_kind"),
        UniqueConstraint("poll_id", "organization_id"),
        Index(
            "uq_poll_participation_poll_id_member",
            "poll_id",
            "member_id",
            unique=True,
            sqlite_where=text(_MEMBER_VOTER),
            postgresql_where=text(_MEMBER_VOTER),
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    voter_kind: Mapped[str] = mapped_column(String(16))
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL")
    )
    voted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PollBallot(Base):
    """One secret ballot: a random id, its poll and its choices; no time, no sequence, no
    voter. On SQLite the table has no rowid (which would count insertions): rows are kept
    in the order of their random ids."""

    __tablename__ = "poll_ballots"
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    choices: Mapped[str] = mapped_column(String(40))


class PollNotice(Base):
    """A notice about a poll already given to a member (not a member of its group; voted
    late): each is said once."""

    __tablename__ = "poll_notices"
    __table_args__ = (
        UniqueConstraint("poll_id", "member_id", "what"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    what: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PollBlock(Base):
    """A block of a proposal by a member, with the reason they gave (asked afterwards)."""

    __tablename__ = "poll_blocks"
    __table_args__ = (
        UniqueConstraint("poll_id", "member_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    reason: Mapped[str | None] = mapped_column(Text())
    at: Mapped[datetime] = mapped_column(UTCDateTime())
