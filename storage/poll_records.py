"""What the store hands out and takes in for polls (:mod:`storage.polls`): frozen values
and enums, no SQLAlchemy, so that the pure tally can use them too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.types import Platform

QUESTION_MAX = 300
OPTION_MAX = 100
OPTIONS_MIN = 2
OPTIONS_MAX = 12
TIME_ZONE_MAX = 64
OUTCOME_MAX = 4000
REASON_MAX = 1000
NOTICE_MAX = 32


class PollKind(StrEnum):
    SIMPLE = "simple"
    PROPOSAL = "proposal"


class BallotKind(StrEnum):
    OPEN = "open"
    SECRET = "secret"  # noqa: S105 (a kind of ballot, not a password)


class VotersAre(StrEnum):
    MEMBERS = "members"
    ORGANIZATIONS = "organizations"


class ResultsShown(StrEnum):
    LIVE = "live"
    AFTER_CLOSE = "after_close"


class QuorumKind(StrEnum):
    NONE = "none"
    VOTERS = "voters"
    SHARE = "share"


class PollState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


PROPOSAL_OPTIONS = ("agree", "abstain", "disagree", "block")
"""A proposal's options, as codes (labels are localized on display)."""


class VoteOutcome(StrEnum):
    """What :meth:`PollsStore.cast` did."""

    RECORDED = "recorded"  # a first vote
    CHANGED = "changed"  # replaced the voter's earlier vote
    WITHDRAWN = "withdrawn"  # an empty choice took the voter's vote back
    UNCHANGED = "unchanged"  # the same again (a duplicate delivery), or nothing to withdraw
    STALE = "stale"  # older than the voter's current vote: ignored
    CLOSED = "closed"  # the poll is closed, or the vote was cast after its deadline


@dataclass(frozen=True, slots=True)
class PollFields:
    """What a coordinator sets on a poll."""

    working_group_id: int
    question: str
    options: tuple[str, ...]
    kind: PollKind
    max_selections: int
    ballot: BallotKind
    voters: VotersAre
    results: ResultsShown
    quorum: QuorumKind
    quorum_value: int
    deadline: datetime
    time_zone: str
    remind_before: timedelta | None
    rooms: tuple[tuple[Platform, str], ...]


@dataclass(frozen=True, slots=True)
class PollRecord:
    id: int
    fields: PollFields
    created_by: int | None
    created_at: datetime
    state: PollState
    closed_at: datetime | None
    eligible_at_close: int | None
    """How many could vote, counted at closing."""
    outcome: str | None
    outcome_at: datetime | None
    final_counts: tuple[int, ...] | None = None
    """The votes for each option when it closed, and how many voted: the results as they
    were posted, whoever has left the group since."""
    final_voters: int | None = None


@dataclass(frozen=True, slots=True)
class VoteRecord:
    voter: str
    """Whose vote it counts as: ``"member:12"``, ``"organization:3"`` (or ``"gone:<n>"``)."""
    member_id: int | None
    """Who cast it (``None`` once erased)."""
    organization_id: int | None
    choices: tuple[int, ...]
    """0-based option indexes, sorted, non-empty."""
    platform: Platform
    cast_at: datetime


@dataclass(frozen=True, slots=True)
class BlockRecord:
    member_id: int | None
    reason: str | None
    at: datetime


def member_voter(member_id: int) -> str:
    return f"member:{member_id}"


def organization_voter(organization_id: int) -> str:
    return f"organization:{organization_id}"
