"""Polls of working groups, their votes and ballots (``store.polls``).

An open ballot keeps each voter's current vote, one row per voter: a member's own, or, when
organizations vote, one row per organization (the latest signatory's). A vote older than the
current one (Matrix events arriving out of order) changes nothing; an empty choice withdraws.

A secret ballot is kept in two tables that share nothing but the poll: who voted
(``poll_participation``: the voter, the member, when) and what was chosen (``poll_ballots``:
a random id, the poll, the choices; no time, no sequence). No query can join a voter to a
choice. What remains is physical: the order in which the database wrote the rows. SQLite
keeps ``poll_ballots`` without a rowid, so its rows sit in the order of their random ids,
but freed pages and the write-ahead log may still hold earlier layouts for a while
(``secure_delete`` zeroes deleted content, not the WAL before a checkpoint). PostgreSQL
writes each row with the id of the transaction that made it (``xmin``) and at the end of
the table (``ctid``), and a ballot is written in the same transaction as its voter's
participation. So every secret vote writes all of the poll's ballots again, in a random
order with new random ids, in its own transaction (and closing does once more): every
ballot a query can see carries the latest vote's transaction and no place of its own. What
is left: the first voter's ballot is alone until a second votes; someone who watches the
database while people vote sees which ballot each vote added (as the tally would tell them,
which is why it shows only at the close); and the old row versions stay in PostgreSQL's
files until it vacuums them, as frames stay in SQLite's log until it is truncated (which a
secret vote's unit asks for).

A secret vote is final: nothing links it back to be changed. Two accounts of one person
not yet connected can each cast one; merging the two members later keeps one
participation row but cannot tell which ballot was whose, so both ballots stay counted.

Voter keys (``"member:12"``, ``"organization:3"``) are not stored: they are made from the
row's member or organization, so that merging two members (which moves ``member_id``)
leaves one voter. A vote whose member was erased (or organization deleted) still counts,
as ``"gone:<row id>"``, linked to no one.
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from bot.types import Platform
from storage.erasure import truncate_log_after_commit
from storage.errors import NotFoundError, StorageError
from storage.member_data import Forgetting, MemberSection, add_section, plain, rows_of
from storage.merging import COLLISION_RULES, Keep, Row
from storage.models import (
    Poll,
    PollBallot,
    PollBlock,
    PollNotice,
    PollParticipation,
    PollVote,
)
from storage.poll_records import (
    NOTICE_MAX,
    OPTION_MAX,
    OPTIONS_MAX,
    OPTIONS_MIN,
    OUTCOME_MAX,
    PROPOSAL_OPTIONS,
    QUESTION_MAX,
    REASON_MAX,
    TIME_ZONE_MAX,
    BallotKind,
    BlockRecord,
    PollFields,
    PollKind,
    PollRecord,
    PollState,
    QuorumKind,
    ResultsShown,
    VoteOutcome,
    VoteRecord,
    VotersAre,
    member_voter,
    organization_voter,
)
from storage.units import Area
from storage.upserts import insert_unless_present
from storage.validation import check_aware, check_int, check_optional_text, check_text

__all__ = [
    "NOTICE_MAX",
    "OPTIONS_MAX",
    "OPTIONS_MIN",
    "OPTION_MAX",
    "OUTCOME_MAX",
    "PROPOSAL_OPTIONS",
    "QUESTION_MAX",
    "REASON_MAX",
    "TIME_ZONE_MAX",
    "BallotKind",
    "BlockRecord",
    "PollClosed",
    "PollFields",
    "PollKind",
    "PollRecord",
    "PollState",
    "PollsStore",
    "QuorumKind",
    "ResultsShown",
    "VoteOutcome",
    "VoteRecord",
    "VotersAre",
    "member_voter",
    "organization_voter",
]


class PollClosed(StorageError):
    """A secret ballot cast on a poll that is closed or past its deadline."""


class PollsStore(Area):
    """Polls, votes, secret ballots, notices and blocks (``store.polls``)."""

    def create(self, fields: PollFields, created_by: int | None) -> PollRecord:
        _check_fields(fields)
        if created_by is not None:
            check_int("member id", created_by, minimum=1)
        return self._run(_create_in, fields, created_by, self._now())

    def get(self, poll_id: int) -> PollRecord | None:
        check_int("poll id", poll_id, minimum=1)
        return self._read(_get_in, poll_id)

    def of_groups(self, group_ids: Collection[int], *, closed_since: datetime) -> list[PollRecord]:
        """The open polls of these groups and those closed since ``closed_since``, newest
        first."""
        check_aware("closed since", closed_since)
        return self._read(_of_groups_in, sorted(set(group_ids)), closed_since)

    # -- open ballot ----------------------------------------------------------------------

    def cast(
        self,
        poll_id: int,
        *,
        voter: str,
        member_id: int | None,
        organization_id: int | None,
        choices: Iterable[int],
        platform: Platform,
        cast_at: datetime,
    ) -> VoteOutcome:
        """Record a vote of an open ballot (empty ``choices``: withdraw it).

        ``voter`` must be ``member:<member_id>`` (no organization) or
        ``organization:<organization_id>``. Choices out of range, or more than the poll's
        ``max_selections``, raise :class:`ValueError` (the caller checks them first)."""
        check_int("poll id", poll_id, minimum=1)
        check_aware("cast at", cast_at)
        _check_voter(voter, member_id, organization_id)
        picked = tuple(sorted(set(choices)))
        return self._run(
            _cast_in, poll_id, member_id, organization_id, picked, Platform(platform), cast_at
        )

    def votes(self, poll_id: int) -> list[VoteRecord]:
        """The current votes (withdrawn ones left out), by voter."""
        check_int("poll id", poll_id, minimum=1)
        return self._read(_votes_in, poll_id)

    # -- secret ballot --------------------------------------------------------------------

    def cast_secret(
        self, poll_id: int, *, voter: str, member_id: int | None, choices: Iterable[int]
    ) -> bool:
        """Cast a secret ballot; False when this voter has voted already (a secret vote
        is final). Raises :class:`PollClosed` when the poll is closed or past its
        deadline, :class:`ValueError` for choices the poll does not allow."""
        check_int("poll id", poll_id, minimum=1)
        organization_id = _organization_of(voter)
        _check_voter(voter, member_id, organization_id)
        picked = tuple(sorted(set(choices)))
        if not picked:
            raise ValueError("a secret ballot needs a choice")
        return self._run(_cast_secret_in, poll_id, member_id, organization_id, picked, self._now())

    def secret_ballots(self, poll_id: int) -> list[tuple[int, ...]]:
        """The secret ballots' choices, in no meaningful order."""
        check_int("poll id", poll_id, minimum=1)
        return self._read(_secret_ballots_in, poll_id)

    def voters(self, poll_id: int) -> set[str]:
        """The voter keys that voted (open votes not withdrawn, and secret ballots)."""
        check_int("poll id", poll_id, minimum=1)
        return self._read(_voters_in, poll_id)

    # -- closing --------------------------------------------------------------------------

    def close(
        self,
        poll_id: int,
        *,
        now: datetime,
        eligible: int,
        counts: tuple[int, ...] | None = None,
        voters: int | None = None,
    ) -> PollRecord | None:
        """Close the poll, once: None when it was closed already (by another caller).
        ``counts`` and ``voters``: the results as they are posted, kept with it."""
        check_int("poll id", poll_id, minimum=1)
        check_aware("now", now)
        check_int("eligible", eligible, minimum=0)
        final = None if counts is None else _choices_text(counts)
        return self._run(_close_in, poll_id, now, eligible, final, voters)

    def set_outcome(self, poll_id: int, text: str, *, by: int | None, now: datetime) -> PollRecord:
        """Record the decision taken (replacing an earlier one)."""
        check_int("poll id", poll_id, minimum=1)
        check_text("outcome", text, OUTCOME_MAX)
        check_aware("now", now)
        return self._run(_set_outcome_in, poll_id, text, by, now)

    # -- notices and blocks ---------------------------------------------------------------

    def note_once(self, poll_id: int, member_id: int, what: str) -> bool:
        """True the first time ``what`` (``"not_member"``, ``"late"``) is noted for this
        member and poll: the notice is to be said now, and never again."""
        check_int("poll id", poll_id, minimum=1)
        check_int("member id", member_id, minimum=1)
        check_text("notice", what, NOTICE_MAX)
        return self._run(_note_once_in, poll_id, member_id, what, self._now())

    def record_block(self, poll_id: int, member_id: int, reason: str | None) -> None:
        """A member blocks the proposal; again: the reason is replaced when one is given."""
        check_int("poll id", poll_id, minimum=1)
        check_int("member id", member_id, minimum=1)
        check_optional_text("reason", reason, REASON_MAX)
        self._run(_record_block_in, poll_id, member_id, reason, self._now(), False)

    def set_block_reason(self, poll_id: int, member_id: int, reason: str) -> None:
        check_int("poll id", poll_id, minimum=1)
        check_int("member id", member_id, minimum=1)
        check_text("reason", reason, REASON_MAX)
        self._run(_record_block_in, poll_id, member_id, reason, self._now(), True)

    def withdraw_block(self, poll_id: int, member_id: int) -> bool:
        """The member no longer blocks the proposal (their vote changed): their block and
        its reason go. False when there was none."""
        check_int("poll id", poll_id, minimum=1)
        check_int("member id", member_id, minimum=1)

        def withdraw_in(session: Session) -> bool:
            gone = session.execute(
                delete(PollBlock).where(
                    PollBlock.poll_id == poll_id, PollBlock.member_id == member_id
                )
            )
            return bool(getattr(gone, "rowcount", 0))

        return self._run(withdraw_in)

    def blocks(self, poll_id: int) -> list[BlockRecord]:
        """The blocks of a proposal, first first."""
        check_int("poll id", poll_id, minimum=1)
        return self._read(_blocks_in, poll_id)


# -- checks ---------------------------------------------------------------------------------


def _check_fields(fields: PollFields) -> None:
    check_int("working group id", fields.working_group_id, minimum=1)
    check_text("question", fields.question, QUESTION_MAX)
    if not OPTIONS_MIN <= len(fields.options) <= OPTIONS_MAX:
        raise ValueError(f"a poll has {OPTIONS_MIN} to {OPTIONS_MAX} options")
    for option in fields.options:
        check_text("option", option, OPTION_MAX)
    kind = PollKind(fields.kind)
    if kind is PollKind.PROPOSAL and (
        fields.options != PROPOSAL_OPTIONS or fields.max_selections != 1
    ):
        raise ValueError("a proposal has the proposal options and one choice")
    check_int("max selections", fields.max_selections, minimum=1, maximum=len(fields.options))
    BallotKind(fields.ballot)
    VotersAre(fields.voters)
    ResultsShown(fields.results)
    quorum = QuorumKind(fields.quorum)
    if quorum is QuorumKind.NONE:
        check_int("quorum value", fields.quorum_value, minimum=0, maximum=0)
    elif quorum is QuorumKind.SHARE:
        check_int("quorum share", fields.quorum_value, minimum=1, maximum=100)
    else:
        check_int("quorum voters", fields.quorum_value, minimum=1, maximum=1_000_000)
    check_aware("deadline", fields.deadline)
    check_text("time zone", fields.time_zone, TIME_ZONE_MAX)
    if fields.remind_before is not None and fields.remind_before <= timedelta(0):
        raise ValueError("a reminder comes before the deadline")
    for platform, room in fields.rooms:
        Platform(platform)
        check_text("room", room, 255)


def _check_voter(voter: str, member_id: int | None, organization_id: int | None) -> None:
    if member_id is not None:
        check_int("member id", member_id, minimum=1)
    if organization_id is not None:
        check_int("organization id", organization_id, minimum=1)
        expected = organization_voter(organization_id)
    elif member_id is not None:
        expected = member_voter(member_id)
    else:
        raise ValueError("a vote is a member's or an organization's")
    if voter != expected:
        raise ValueError(f"voter {voter!r} is not {expected!r}")


def _organization_of(voter: str) -> int | None:
    kind, _, number = voter.partition(":")
    return int(number) if kind == "organization" and number.isdigit() else None


def _check_choices(poll: Poll, choices: tuple[int, ...]) -> None:
    count = len(json.loads(poll.options))
    if any(isinstance(c, bool) or not isinstance(c, int) for c in choices):
        raise TypeError("choices are option indexes")
    if any(not 0 <= choice < count for choice in choices):
        raise ValueError(f"poll {poll.id} has options 0 to {count - 1}")
    if len(choices) > poll.max_selections:
        raise ValueError(f"poll {poll.id} allows {poll.max_selections} choices")


# -- rows and records -----------------------------------------------------------------------


def _choices_text(choices: tuple[int, ...]) -> str:
    return ",".join(str(choice) for choice in choices)


def _choices_of(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",")) if text else ()


def _fields(row: Poll) -> PollFields:
    return PollFields(
        working_group_id=row.working_group_id,
        question=row.question,
        options=tuple(str(option) for option in json.loads(row.options)),
        kind=PollKind(row.kind),
        max_selections=row.max_selections,
        ballot=BallotKind(row.ballot),
        voters=VotersAre(row.voters),
        results=ResultsShown(row.results),
        quorum=QuorumKind(row.quorum),
        quorum_value=row.quorum_value,
        deadline=row.deadline,
        time_zone=row.time_zone,
        remind_before=None if row.remind_before is None else timedelta(seconds=row.remind_before),
        rooms=tuple((Platform(platform), str(room)) for platform, room in json.loads(row.rooms)),
    )


def _record(row: Poll) -> PollRecord:
    return PollRecord(
        id=row.id,
        fields=_fields(row),
        created_by=row.created_by,
        created_at=row.created_at,
        state=PollState(row.state),
        closed_at=row.closed_at,
        eligible_at_close=row.eligible_at_close,
        outcome=row.outcome,
        outcome_at=row.outcome_at,
        final_counts=None if row.final_counts is None else _choices_of(row.final_counts),
        final_voters=row.final_voters,
    )


def _voter_of(row: PollVote | PollParticipation) -> str:
    if row.voter_kind == "organization" and row.organization_id is not None:
        return organization_voter(row.organization_id)
    if row.voter_kind == "member" and row.member_id is not None:
        return member_voter(row.member_id)
    return f"gone:{row.id}"


def _existing(session: Session, poll_id: int, *, for_share: bool = False) -> Poll:
    query = select(Poll).where(Poll.id == poll_id)
    if for_share:
        # Held until the vote commits: a closing waits for it, and no vote slips in after.
        query = query.with_for_update(read=True)
    row = session.scalars(query).one_or_none()
    if row is None:
        raise NotFoundError(f"no poll with id {poll_id}")
    return row


# -- queries --------------------------------------------------------------------------------


def _create_in(
    session: Session, fields: PollFields, created_by: int | None, now: datetime
) -> PollRecord:
    remind = fields.remind_before
    row = Poll(
        working_group_id=fields.working_group_id,
        question=fields.question,
        options=json.dumps(list(fields.options), ensure_ascii=False),
        kind=PollKind(fields.kind).value,
        max_selections=fields.max_selections,
        ballot=BallotKind(fields.ballot).value,
        voters=VotersAre(fields.voters).value,
        results=ResultsShown(fields.results).value,
        quorum=QuorumKind(fields.quorum).value,
        quorum_value=fields.quorum_value,
        deadline=fields.deadline,
        time_zone=fields.time_zone,
        remind_before=None if remind is None else int(remind.total_seconds()),
        rooms=json.dumps([[Platform(p).value, room] for p, room in fields.rooms]),
        created_by=created_by,
        created_at=now,
        state=PollState.OPEN.value,
    )
    session.add(row)
    session.flush()
    return _record(row)


def _get_in(session: Session, poll_id: int) -> PollRecord | None:
    row = session.get(Poll, poll_id)
    return None if row is None else _record(row)


def _of_groups_in(
    session: Session, group_ids: list[int], closed_since: datetime
) -> list[PollRecord]:
    if not group_ids:
        return []
    rows = session.scalars(
        select(Poll)
        .where(
            Poll.working_group_id.in_(group_ids),
            or_(Poll.state == PollState.OPEN.value, Poll.closed_at >= closed_since),
        )
        .order_by(Poll.created_at.desc(), Poll.id.desc())
    )
    return [_record(row) for row in rows]


def _refused(poll: Poll, at: datetime) -> bool:
    return poll.state != PollState.OPEN.value or at > poll.deadline


def _current_vote(
    session: Session, poll_id: int, member_id: int | None, organization_id: int | None
) -> PollVote | None:
    query = select(PollVote).where(PollVote.poll_id == poll_id)
    if organization_id is not None:
        query = query.where(PollVote.organization_id == organization_id)
    else:
        query = query.where(PollVote.voter_kind == "member", PollVote.member_id == member_id)
    return session.scalars(query).one_or_none()


def _cast_in(
    session: Session,
    poll_id: int,
    member_id: int | None,
    organization_id: int | None,
    choices: tuple[int, ...],
    platform: Platform,
    cast_at: datetime,
) -> VoteOutcome:
    poll = _existing(session, poll_id, for_share=True)
    if poll.ballot != BallotKind.OPEN.value:
        raise ValueError(f"poll {poll_id} is a secret ballot")
    if _refused(poll, cast_at):
        return VoteOutcome.CLOSED
    _check_choices(poll, choices)
    text = _choices_text(choices)
    current = _current_vote(session, poll_id, member_id, organization_id)
    if current is None:
        session.add(
            PollVote(
                poll_id=poll_id,
                voter_kind="organization" if organization_id is not None else "member",
                member_id=member_id,
                organization_id=organization_id,
                choices=text,
                platform=platform.value,
                cast_at=cast_at,
            )
        )
        session.flush()
        # A withdrawal with no vote before is kept too: an older vote arriving later is stale.
        return VoteOutcome.RECORDED if choices else VoteOutcome.UNCHANGED
    if cast_at < current.cast_at:
        return VoteOutcome.STALE
    had_vote, unchanged = bool(current.choices), current.choices == text
    # The same choice again still moves the time on: a vote cast between the two, arriving
    # late, is older than this one.
    current.choices = text
    current.platform = platform.value
    current.cast_at = cast_at
    current.member_id = member_id  # an organization's vote is its latest signatory's
    session.flush()
    if unchanged:
        return VoteOutcome.UNCHANGED
    if not choices:
        return VoteOutcome.WITHDRAWN
    return VoteOutcome.CHANGED if had_vote else VoteOutcome.RECORDED


def _votes_in(session: Session, poll_id: int) -> list[VoteRecord]:
    rows = session.scalars(
        select(PollVote).where(PollVote.poll_id == poll_id, PollVote.choices != "")
    )
    records = [
        VoteRecord(
            voter=_voter_of(row),
            member_id=row.member_id,
            organization_id=row.organization_id,
            choices=_choices_of(row.choices),
            platform=Platform(row.platform),
            cast_at=row.cast_at,
        )
        for row in rows
    ]
    return sorted(records, key=lambda record: record.voter)


def _cast_secret_in(
    session: Session,
    poll_id: int,
    member_id: int | None,
    organization_id: int | None,
    choices: tuple[int, ...],
    now: datetime,
) -> bool:
    poll = _existing(session, poll_id, for_share=True)
    if poll.ballot != BallotKind.SECRET.value:
        raise ValueError(f"poll {poll_id} is an open ballot")
    if _refused(poll, now):
        raise PollClosed(f"poll {poll_id} is closed")
    _check_choices(poll, choices)
    kind = "organization" if organization_id is not None else "member"
    values: dict[str, Any] = {
        "poll_id": poll_id,
        "voter_kind": kind,
        "member_id": member_id,
        "organization_id": organization_id,
        "voted_at": now,
    }
    if organization_id is not None:
        inserted = insert_unless_present(
            session, PollParticipation, values, ["poll_id", "organization_id"]
        )
    else:
        inserted = _insert_member_participation(session, values)
    if not inserted:
        return False
    session.add(
        PollBallot(id=secrets.token_hex(16), poll_id=poll_id, choices=_choices_text(choices))
    )
    session.flush()
    # Every ballot of the poll written again with this one: none keeps the transaction, or
    # the place in the table, of the vote that cast it (see the module).
    _rewrite_ballots(session, poll_id)
    # The log's frames would keep this unit's pages together (the participation beside the
    # ballot, the event that carried the choice before it was forgotten).
    truncate_log_after_commit(session)
    return True


def _insert_member_participation(session: Session, values: dict[str, Any]) -> bool:
    """The member's participation row unless there is one. The unique index is partial, so
    a conflict is looked for first; two writers at once trip the index and the unit of
    work runs again."""
    found = session.scalars(
        select(PollParticipation.id).where(
            PollParticipation.poll_id == values["poll_id"],
            PollParticipation.voter_kind == "member",
            PollParticipation.member_id == values["member_id"],
        )
    ).first()
    if found is not None:
        return False
    session.add(PollParticipation(**values))
    session.flush()
    return True


def _secret_ballots_in(session: Session, poll_id: int) -> list[tuple[int, ...]]:
    texts = session.scalars(
        select(PollBallot.choices).where(PollBallot.poll_id == poll_id).order_by(PollBallot.id)
    )
    return [_choices_of(text) for text in texts]


def _voters_in(session: Session, poll_id: int) -> set[str]:
    found = {
        _voter_of(row)
        for row in session.scalars(
            select(PollVote).where(PollVote.poll_id == poll_id, PollVote.choices != "")
        )
    }
    found.update(
        _voter_of(row)
        for row in session.scalars(
            select(PollParticipation).where(PollParticipation.poll_id == poll_id)
        )
    )
    return found


def _close_in(
    session: Session,
    poll_id: int,
    now: datetime,
    eligible: int,
    final_counts: str | None = None,
    final_voters: int | None = None,
) -> PollRecord | None:
    closed = session.execute(
        update(Poll)
        .where(Poll.id == poll_id, Poll.state == PollState.OPEN.value)
        .values(
            state=PollState.CLOSED.value,
            closed_at=now,
            eligible_at_close=eligible,
            final_counts=final_counts,
            final_voters=final_voters,
        )
        .execution_options(synchronize_session=False)
    )
    if closed.rowcount != 1:  # type: ignore[attr-defined]
        _existing(session, poll_id)
        return None
    _rewrite_ballots(session, poll_id)
    session.expire_all()
    return _record(_existing(session, poll_id))


def _rewrite_ballots(session: Session, poll_id: int) -> None:
    """Write the poll's secret ballots again, in a random order with new random ids, all
    in this one transaction: what the order of writing told is gone (see the module)."""
    choices = list(session.scalars(select(PollBallot.choices).where(PollBallot.poll_id == poll_id)))
    if not choices:
        return
    random.SystemRandom().shuffle(choices)
    session.execute(delete(PollBallot).where(PollBallot.poll_id == poll_id))
    session.add_all(
        PollBallot(id=secrets.token_hex(16), poll_id=poll_id, choices=text) for text in choices
    )
    session.flush()


def _set_outcome_in(
    session: Session, poll_id: int, text: str, by: int | None, now: datetime
) -> PollRecord:
    row = _existing(session, poll_id)
    row.outcome, row.outcome_by, row.outcome_at = text, by, now
    session.flush()
    return _record(row)


def _note_once_in(session: Session, poll_id: int, member_id: int, what: str, now: datetime) -> bool:
    _existing(session, poll_id)
    values = {"poll_id": poll_id, "member_id": member_id, "what": what, "created_at": now}
    return insert_unless_present(session, PollNotice, values, ["poll_id", "member_id", "what"])


def _record_block_in(
    session: Session,
    poll_id: int,
    member_id: int,
    reason: str | None,
    now: datetime,
    reason_only: bool,
) -> None:
    _existing(session, poll_id)
    row = session.scalars(
        select(PollBlock).where(PollBlock.poll_id == poll_id, PollBlock.member_id == member_id)
    ).one_or_none()
    if row is None:
        session.add(PollBlock(poll_id=poll_id, member_id=member_id, reason=reason, at=now))
    else:
        if not reason_only:
            row.at = now
        if reason is not None:
            row.reason = reason
    session.flush()


def _blocks_in(session: Session, poll_id: int) -> list[BlockRecord]:
    rows = session.scalars(
        select(PollBlock).where(PollBlock.poll_id == poll_id).order_by(PollBlock.at, PollBlock.id)
    )
    return [BlockRecord(row.member_id, row.reason, row.at) for row in rows]


# -- a member's data ------------------------------------------------------------------------


def _export_votes(session: Session, member_id: int) -> Any:
    rows = session.scalars(
        select(PollVote).where(PollVote.member_id == member_id).order_by(PollVote.id)
    )
    return [
        {
            "poll": row.poll_id,
            "for_organization": row.organization_id,
            "choices": list(_choices_of(row.choices)),
            "withdrawn": not row.choices,
            "platform": row.platform,
            "at": plain(row.cast_at),
        }
        for row in rows
    ]


def _export_participation(session: Session, member_id: int) -> Any:
    """That they cast a secret ballot, and when; what they chose is kept by no one."""
    rows = session.scalars(
        select(PollParticipation)
        .where(PollParticipation.member_id == member_id)
        .order_by(PollParticipation.id)
    )
    return [
        {"poll": row.poll_id, "for_organization": row.organization_id, "at": plain(row.voted_at)}
        for row in rows
    ]


def _export_blocks(session: Session, member_id: int) -> Any:
    rows = session.scalars(
        select(PollBlock).where(PollBlock.member_id == member_id).order_by(PollBlock.id)
    )
    return [{"poll": row.poll_id, "reason": row.reason, "at": plain(row.at)} for row in rows]


def _erase_blocks(session: Session, forgetting: Forgetting) -> None:
    """A block stays on the proposal's record, without who made it or their words."""
    session.execute(
        update(PollBlock)
        .where(PollBlock.member_id == forgetting.member_id)
        .values(member_id=None, reason=None)
    )


def _erase_votes(session: Session, forgetting: Forgetting) -> None:
    """Their votes still count, linked to no one (the member row's deletion sets the
    link NULL); a withdrawn vote has nothing to count and goes."""
    session.execute(
        delete(PollVote).where(PollVote.member_id == forgetting.member_id, PollVote.choices == "")
    )


add_section(
    MemberSection(
        "polls_created",
        ("polls.created_by", "polls.outcome_by"),
        rows_of("polls", "created_by", "outcome_by"),
    )
)
add_section(
    MemberSection("poll_open_votes", ("poll_open_votes.member_id",), _export_votes, _erase_votes)
)
add_section(
    MemberSection(
        "poll_secret_ballots_cast", ("poll_participation.member_id",), _export_participation
    )
)
add_section(
    MemberSection("poll_notices", ("poll_notices.member_id",), rows_of("poll_notices", "member_id"))
)
add_section(MemberSection("poll_blocks", ("poll_blocks.member_id",), _export_blocks, _erase_blocks))


def _latest_vote(kept: Row, other: Row) -> Keep:
    """Two accounts of one person that both voted in a poll: the vote cast last counts
    (a withdrawal included), as if one account had cast both."""
    return Keep.OTHER if other["cast_at"] > kept["cast_at"] else Keep.KEPT


def _latest_block(kept: Row, other: Row) -> Keep:
    return Keep.OTHER if other["at"] > kept["at"] else Keep.KEPT


COLLISION_RULES["poll_open_votes"] = _latest_vote
COLLISION_RULES["poll_blocks"] = _latest_block
