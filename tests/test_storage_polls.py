"""Polls' storage on SQLite and PostgreSQL: a poll is created and found by its groups; an
open vote is recorded, changed, withdrawn, and an older or repeated one changes nothing; a
secret ballot is cast once and kept apart from who cast it, in no table together; a poll
closes once even when two connections race; notices are said once; blocks keep their
reasons; a member's votes are exported and unlinked when they are erased; two members
merged who both voted keep the vote cast last; and migration 0022 goes down and up."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import datetime, timedelta

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from bot.types import Platform
from storage import Store, WorkingGroupSpec
from storage.database import alembic_config
from storage.merging import merge_members_in
from storage.models import Base
from storage.polls import (
    PROPOSAL_OPTIONS,
    BallotKind,
    BlockRecord,
    PollClosed,
    PollFields,
    PollKind,
    PollRecord,
    PollState,
    QuorumKind,
    ResultsShown,
    VoteOutcome,
    VotersAre,
)
from tests.harness.clock import Clock
from tests.test_storage import head_revision

CONSOLE, TG, MX = Platform.CONSOLE, Platform.TELEGRAM, Platform.MATRIX


def a_group(store: Store, slug: str = "cawg") -> int:
    store.groups.sync_configured([WorkingGroupSpec(slug, slug.upper())], [], default_language="en")
    group = store.groups.by_slug(slug)
    assert group is not None
    return group.id


def a_member(store: Store, name: str) -> int:
    return store.members.for_identity(CONSOLE, name, language="en").id


def fields_for(store: Store, group: int, **changes: object) -> PollFields:
    fields = PollFields(
        working_group_id=group,
        question="Join the campaign?",
        options=("Yes", "No", "Later"),
        kind=PollKind.SIMPLE,
        max_selections=2,
        ballot=BallotKind.OPEN,
        voters=VotersAre.MEMBERS,
        results=ResultsShown.LIVE,
        quorum=QuorumKind.SHARE,
        quorum_value=50,
        deadline=store.now() + timedelta(days=2),
        time_zone="America/Lima",
        remind_before=timedelta(hours=24),
        rooms=((TG, "-1001"), (MX, "!room:example.org")),
    )
    return dataclasses.replace(fields, **changes)  # type: ignore[arg-type]


def a_poll(store: Store, **changes: object) -> PollRecord:
    group = a_group(store)
    return store.polls.create(fields_for(store, group, **changes), None)


def cast(
    store: Store, poll: int, member: int, choices: tuple[int, ...], at: datetime
) -> VoteOutcome:
    return store.polls.cast(
        poll,
        voter=f"member:{member}",
        member_id=member,
        organization_id=None,
        choices=choices,
        platform=TG,
        cast_at=at,
    )


def raw_rows(store: Store, query: str) -> list[tuple[object, ...]]:
    with store._engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(query))]


# -- polls ----------------------------------------------------------------------------------


def test_a_poll_is_created_and_read_back_with_every_field(store: Store) -> None:
    group = a_group(store)
    creator = a_member(store, "coordinator")
    fields = fields_for(store, group, question="¿Unirse? انضمام")
    poll = store.polls.create(fields, creator)
    assert poll.fields == fields
    assert (poll.state, poll.created_by, poll.closed_at, poll.outcome) == (
        PollState.OPEN,
        creator,
        None,
        None,
    )
    assert store.polls.get(poll.id) == poll
    assert store.polls.get(poll.id + 1) is None


def test_a_proposal_has_the_consent_options_and_one_choice(store: Store) -> None:
    group = a_group(store)
    proposal = fields_for(
        store, group, kind=PollKind.PROPOSAL, options=PROPOSAL_OPTIONS, max_selections=1
    )
    assert store.polls.create(proposal, None).fields.options == PROPOSAL_OPTIONS
    with pytest.raises(ValueError, match="proposal"):
        store.polls.create(dataclasses.replace(proposal, options=("agree", "block")), None)
    with pytest.raises(ValueError, match="options"):
        store.polls.create(fields_for(store, group, options=("only one",)), None)


def test_a_groups_polls_are_the_open_ones_and_those_closed_lately_newest_first(
    clocked_store: Store, clock: Clock
) -> None:
    store = clocked_store
    group, other = a_group(store), a_group(store, "other")
    old = store.polls.create(fields_for(store, group), None)
    store.polls.close(old.id, now=clock.now, eligible=3)
    clock.advance(days=10)
    recent = store.polls.create(fields_for(store, group), None)
    store.polls.close(recent.id, now=clock.now, eligible=3)
    clock.advance(minutes=1)
    open_one = store.polls.create(fields_for(store, group), None)
    store.polls.create(fields_for(store, other), None)
    found = store.polls.of_groups([group], closed_since=clock.now - timedelta(days=7))
    assert [poll.id for poll in found] == [open_one.id, recent.id]
    assert store.polls.of_groups([], closed_since=clock.now) == []


# -- open ballot ------------------------------------------------------------------------------


def test_a_vote_is_recorded_changed_repeated_and_withdrawn(
    clocked_store: Store, clock: Clock
) -> None:
    store = clocked_store
    poll = a_poll(store).id
    ana = a_member(store, "ana")
    at = clock.now
    assert cast(store, poll, ana, (1, 0), at) is VoteOutcome.RECORDED
    [vote] = store.polls.votes(poll)
    assert (vote.voter, vote.member_id, vote.choices, vote.platform, vote.cast_at) == (
        f"member:{ana}",
        ana,
        (0, 1),
        TG,
        at,
    )
    assert cast(store, poll, ana, (0, 1), at) is VoteOutcome.UNCHANGED
    assert cast(store, poll, ana, (2,), at + timedelta(seconds=5)) is VoteOutcome.CHANGED
    assert [vote.choices for vote in store.polls.votes(poll)] == [(2,)]
    assert cast(store, poll, ana, (), at + timedelta(seconds=9)) is VoteOutcome.WITHDRAWN
    assert store.polls.votes(poll) == []
    assert store.polls.voters(poll) == set()
    assert cast(store, poll, ana, (), at + timedelta(seconds=10)) is VoteOutcome.UNCHANGED
    assert cast(store, poll, ana, (1,), at + timedelta(seconds=11)) is VoteOutcome.RECORDED
    assert store.polls.voters(poll) == {f"member:{ana}"}


def test_a_vote_older_than_the_current_one_is_stale_even_after_a_withdrawal(
    clocked_store: Store, clock: Clock
) -> None:
    store = clocked_store
    poll = a_poll(store).id
    ana, ben = a_member(store, "ana"), a_member(store, "ben")
    at = clock.now
    assert cast(store, poll, ana, (1,), at) is VoteOutcome.RECORDED
    assert cast(store, poll, ana, (0,), at - timedelta(seconds=1)) is VoteOutcome.STALE
    assert cast(store, poll, ben, (), at) is VoteOutcome.UNCHANGED  # withdrew first
    assert cast(store, poll, ben, (0,), at - timedelta(seconds=1)) is VoteOutcome.STALE
    assert [(vote.voter, vote.choices) for vote in store.polls.votes(poll)] == [
        (f"member:{ana}", (1,))
    ]


def test_the_same_vote_again_moves_its_time_on(clocked_store: Store, clock: Clock) -> None:
    store = clocked_store
    poll = a_poll(store).id
    ana = a_member(store, "ana")
    at = clock.now
    assert cast(store, poll, ana, (1,), at) is VoteOutcome.RECORDED
    assert cast(store, poll, ana, (1,), at + timedelta(seconds=5)) is VoteOutcome.UNCHANGED
    assert cast(store, poll, ana, (0,), at + timedelta(seconds=3)) is VoteOutcome.STALE
    assert [vote.choices for vote in store.polls.votes(poll)] == [(1,)]


def test_choices_the_poll_does_not_offer_are_refused(store: Store) -> None:
    poll = a_poll(store, max_selections=1).id
    ana = a_member(store, "ana")
    with pytest.raises(ValueError, match="options 0 to 2"):
        cast(store, poll, ana, (3,), store.now())
    with pytest.raises(ValueError, match="allows 1"):
        cast(store, poll, ana, (0, 1), store.now())
    with pytest.raises(ValueError, match="voter"):
        store.polls.cast(
            poll,
            voter="member:999",
            member_id=ana,
            organization_id=None,
            choices=(0,),
            platform=TG,
            cast_at=store.now(),
        )
    assert store.polls.votes(poll) == []


def test_a_vote_on_a_closed_poll_or_after_its_deadline_is_refused(
    clocked_store: Store, clock: Clock
) -> None:
    store = clocked_store
    poll = a_poll(store)
    ana, ben = a_member(store, "ana"), a_member(store, "ben")
    late = poll.fields.deadline + timedelta(seconds=1)
    assert cast(store, poll.id, ana, (0,), late) is VoteOutcome.CLOSED
    assert cast(store, poll.id, ben, (0,), clock.now) is VoteOutcome.RECORDED
    store.polls.close(poll.id, now=clock.now, eligible=2)
    assert cast(store, poll.id, ana, (0,), clock.now) is VoteOutcome.CLOSED
    assert cast(store, poll.id, ben, (), clock.now) is VoteOutcome.CLOSED
    assert [vote.voter for vote in store.polls.votes(poll.id)] == [f"member:{ben}"]


def test_an_organization_votes_once_the_latest_signatory_counting(
    clocked_store: Store, clock: Clock
) -> None:
    store = clocked_store
    poll = a_poll(store, voters=VotersAre.ORGANIZATIONS).id
    org = store.organizations.add("Red Étnica", "CO", "movement").id
    ana, ben = a_member(store, "ana"), a_member(store, "ben")

    def sign(member: int, choices: tuple[int, ...], at: datetime) -> VoteOutcome:
        return store.polls.cast(
            poll,
            voter=f"organization:{org}",
            member_id=member,
            organization_id=org,
            choices=choices,
            platform=MX,
            cast_at=at,
        )

    assert sign(ana, (0,), clock.now) is VoteOutcome.RECORDED
    assert sign(ben, (1,), clock.now + timedelta(seconds=1)) is VoteOutcome.CHANGED
    [vote] = store.polls.votes(poll)
    assert (vote.voter, vote.member_id, vote.organization_id, vote.choices) == (
        f"organization:{org}",
        ben,
        org,
        (1,),
    )


# -- secret ballot ----------------------------------------------------------------------------


def test_a_secret_ballot_is_cast_once_and_counted_without_its_voter(
    clocked_store: Store, clock: Clock
) -> None:
    store = clocked_store
    poll = a_poll(store, ballot=BallotKind.SECRET).id
    ana, ben = a_member(store, "ana"), a_member(store, "ben")
    assert store.polls.cast_secret(poll, voter=f"member:{ana}", member_id=ana, choices=(0, 2))
    assert not store.polls.cast_secret(poll, voter=f"member:{ana}", member_id=ana, choices=(1,))
    assert store.polls.cast_secret(poll, voter=f"member:{ben}", member_id=ben, choices=(1,))
    assert sorted(store.polls.secret_ballots(poll)) == [(0, 2), (1,)]
    assert store.polls.voters(poll) == {f"member:{ana}", f"member:{ben}"}
    assert store.polls.votes(poll) == []
    with pytest.raises(ValueError, match="secret"):
        cast(store, poll, ana, (0,), clock.now)


def test_a_secret_ballot_after_closing_raises_and_closing_keeps_the_ballots(
    clocked_store: Store, clock: Clock
) -> None:
    store = clocked_store
    poll = a_poll(store, ballot=BallotKind.SECRET).id
    voters = [a_member(store, name) for name in ("ana", "ben", "eva", "ivo")]
    for index, member in enumerate(voters):
        store.polls.cast_secret(
            poll, voter=f"member:{member}", member_id=member, choices=(index % 3,)
        )
    before = sorted(store.polls.secret_ballots(poll))
    assert store.polls.close(poll, now=clock.now, eligible=4) is not None
    assert sorted(store.polls.secret_ballots(poll)) == before
    with pytest.raises(PollClosed):
        store.polls.cast_secret(poll, voter="member:99", member_id=99, choices=(0,))


def test_no_table_holds_both_a_voter_and_a_choice(clocked_store: Store, clock: Clock) -> None:
    """Every table of the schema, whatever is added later: none that can name a voter (a
    member, an organization, a voter key) also holds choices; the ballots hold no time
    and no sequence either."""
    store = clocked_store
    poll = a_poll(store, ballot=BallotKind.SECRET).id
    for name in ("ana", "ben", "eva"):
        member = a_member(store, name)
        clock.advance(seconds=1)
        store.polls.cast_secret(poll, voter=f"member:{member}", member_id=member, choices=(1,))
    naming = {"members", "organizations", "identities"}
    for table in Base.metadata.tables.values():
        if table.name == "poll_open_votes":
            continue  # the open ballot: who voted what is meant to be seen
        columns = {column.name for column in table.columns}
        links = {key.column.table.name for column in table.columns for key in column.foreign_keys}
        names_a_voter = bool(links & naming) or bool(columns & {"voter", "member_id"})
        holds_choices = bool(columns & {"choices", "choice", "options_chosen"})
        assert not (names_a_voter and holds_choices), table.name
    ballots = Base.metadata.tables["poll_ballots"]
    assert {column.name for column in ballots.columns} == {"id", "poll_id", "choices"}
    assert [key.column.table.name for key in ballots.foreign_keys] == ["polls"]
    assert ballots.dialect_options["sqlite"]["with_rowid"] is False
    assert ballots.c.id.type.python_type is str  # random, not a sequence
    participation = Base.metadata.tables["poll_participation"]
    shared = {c.name for c in participation.columns} & {c.name for c in ballots.columns}
    assert shared == {"id", "poll_id"}  # ids of their own: a number there, random text here
    ids = [row[0] for row in raw_rows(store, "SELECT id FROM poll_ballots")]
    assert len(ids) == 3 and all(len(ballot) == 32 for ballot in ids)
    # And row by row, in every table, the open ballot's included: no row of this poll
    # holds choices beside anything that names a voter.
    with store._engine.connect() as connection:
        for table in Base.metadata.tables.values():
            if "poll_id" not in table.c or "choices" not in table.c:
                continue
            naming_columns = [
                column
                for column in table.columns
                if any(key.column.table.name in naming for key in column.foreign_keys)
            ]
            rows = connection.execute(select(table).where(table.c.poll_id == poll)).mappings()
            for row in rows:
                assert all(row[column.name] is None for column in naming_columns), table.name


@pytest.mark.backends("postgresql")
def test_every_secret_vote_writes_all_ballots_again_so_no_query_pairs_one_with_its_voter(
    store: Store,
) -> None:
    """PostgreSQL stamps each row with the transaction that wrote it (``xmin``), and the
    participation is written in the ballot's transaction: every vote rewrites the poll's
    ballots, so that all carry the latest vote's stamp."""
    poll = a_poll(store, ballot=BallotKind.SECRET).id
    for name, choice in (("ana", 0), ("ben", 1), ("eva", 1)):
        member = a_member(store, name)
        store.polls.cast_secret(poll, voter=f"member:{member}", member_id=member, choices=(choice,))
    stamps = raw_rows(store, f"SELECT DISTINCT xmin::text FROM poll_ballots WHERE poll_id = {poll}")
    voters = raw_rows(
        store, f"SELECT xmin::text FROM poll_participation WHERE poll_id = {poll} ORDER BY id"
    )
    assert len(stamps) == 1 and len(voters) == 3
    assert stamps[0] == voters[-1]  # the last voter's: that one vote's ballot is not told apart
    assert sorted(store.polls.secret_ballots(poll)) == [(0,), (1,), (1,)]


# -- closing ----------------------------------------------------------------------------------


def test_a_poll_closes_once_when_two_connections_race(database_url: str, store: Store) -> None:
    poll = a_poll(store).id
    now = store.now()
    results: list[PollRecord | None] = []
    with Store(database_url) as other:
        waiting = threading.Event()

        def close_from_other() -> None:
            waiting.set()
            results.append(other.polls.close(poll, now=now, eligible=9))

        worker = threading.Thread(target=close_from_other)
        with store.transaction():
            first = store.polls.close(poll, now=now, eligible=5)
            worker.start()  # the other connection waits for this transaction's lock
            waiting.wait()
            time.sleep(0.3)
        worker.join(timeout=30)
    assert first is not None and first.state is PollState.CLOSED
    assert results == [None]
    closed = store.polls.get(poll)
    assert closed is not None
    assert (closed.eligible_at_close, closed.closed_at) == (5, now)
    assert store.polls.close(poll, now=now, eligible=1) is None


def test_an_outcome_is_recorded_and_replaced(clocked_store: Store, clock: Clock) -> None:
    store = clocked_store
    poll = a_poll(store).id
    coordinator = a_member(store, "coordinator")
    store.polls.set_outcome(poll, "We join.", by=coordinator, now=clock.now)
    later = clock.advance(hours=1)
    record = store.polls.set_outcome(poll, "We join, with a delegation.", by=None, now=later)
    assert (record.outcome, record.outcome_at) == ("We join, with a delegation.", later)


# -- notices and blocks -----------------------------------------------------------------------


def test_a_notice_is_noted_once_per_member_poll_and_kind(store: Store) -> None:
    poll = a_poll(store).id
    ana, ben = a_member(store, "ana"), a_member(store, "ben")
    assert store.polls.note_once(poll, ana, "not_member")
    assert not store.polls.note_once(poll, ana, "not_member")
    assert store.polls.note_once(poll, ana, "late")
    assert store.polls.note_once(poll, ben, "not_member")


def test_a_block_keeps_the_reason_given_afterwards(clocked_store: Store, clock: Clock) -> None:
    store = clocked_store
    poll = a_poll(store, kind=PollKind.PROPOSAL, options=PROPOSAL_OPTIONS, max_selections=1).id
    ana, ben = a_member(store, "ana"), a_member(store, "ben")
    store.polls.record_block(poll, ana, None)
    at = clock.now
    clock.advance(minutes=2)
    store.polls.set_block_reason(poll, ana, "It puts partners at risk.")
    store.polls.record_block(poll, ben, "Too soon.")
    assert store.polls.blocks(poll) == [
        BlockRecord(ana, "It puts partners at risk.", at),
        BlockRecord(ben, "Too soon.", clock.now),
    ]


# -- a member's data ----------------------------------------------------------------------------


def test_a_members_export_holds_their_votes_and_that_they_cast_a_secret_ballot(
    store: Store,
) -> None:
    open_poll = a_poll(store).id
    secret = a_poll(store, ballot=BallotKind.SECRET).id
    ana = a_member(store, "ana")
    cast(store, open_poll, ana, (2,), store.now())
    store.polls.cast_secret(secret, voter=f"member:{ana}", member_id=ana, choices=(1,))
    store.polls.note_once(open_poll, ana, "late")
    exported = store.member_data.export(ana)
    assert [(row["poll"], row["choices"]) for row in exported["poll_open_votes"]] == [
        (open_poll, [2])
    ]
    assert [row["poll"] for row in exported["poll_secret_ballots_cast"]] == [secret]
    assert "choices" not in exported["poll_secret_ballots_cast"][0]
    assert [row["what"] for row in exported["poll_notices"]] == ["late"]


def test_an_erased_members_vote_still_counts_linked_to_no_one(store: Store) -> None:
    poll = a_poll(store).id
    secret = a_poll(store, ballot=BallotKind.SECRET).id
    proposal = a_poll(store, kind=PollKind.PROPOSAL, options=PROPOSAL_OPTIONS, max_selections=1).id
    ana, ben = a_member(store, "ana"), a_member(store, "ben")
    cast(store, poll, ana, (1,), store.now())
    cast(store, poll, ben, (0,), store.now())
    store.polls.cast_secret(secret, voter=f"member:{ana}", member_id=ana, choices=(1,))
    store.polls.record_block(proposal, ana, "Ana's reasons")
    store.member_data.erase(ana, keep_reports=True)
    votes = store.polls.votes(poll)
    assert sorted(vote.choices for vote in votes) == [(0,), (1,)]
    assert all(vote.member_id != ana for vote in votes)
    assert {vote.voter for vote in votes} - {f"member:{ben}"} == {
        vote.voter for vote in votes if vote.voter.startswith("gone:")
    }
    assert store.polls.voters(secret) != {f"member:{ana}"}
    assert store.polls.secret_ballots(secret) == [(1,)]
    assert store.polls.blocks(proposal)[0].member_id is None
    assert store.polls.blocks(proposal)[0].reason is None


# -- merging --------------------------------------------------------------------------------------


def test_two_members_merged_who_both_voted_keep_the_vote_cast_last(
    clocked_store: Store, clock: Clock
) -> None:
    store = clocked_store
    first, second = a_poll(store).id, a_poll(store).id
    older, newer = a_member(store, "older"), a_member(store, "newer")
    at = clock.now
    cast(store, first, older, (0,), at + timedelta(seconds=5))
    cast(store, first, newer, (1,), at)
    cast(store, second, older, (0,), at)
    cast(store, second, newer, (2,), at + timedelta(seconds=5))
    store.polls.note_once(first, older, "late")
    store.polls.note_once(first, newer, "late")
    with store._sessions.begin() as session:
        merge_members_in(session, older, newer)
    assert [(vote.voter, vote.choices) for vote in store.polls.votes(first)] == [
        (f"member:{older}", (0,))
    ]
    assert [(vote.voter, vote.choices) for vote in store.polls.votes(second)] == [
        (f"member:{older}", (2,))
    ]
    # The merged person goes on voting as one voter.
    later = at + timedelta(seconds=9)
    assert cast(store, second, older, (1,), later) is VoteOutcome.CHANGED
    assert not store.polls.note_once(first, older, "late")


def test_two_members_merged_who_both_cast_a_secret_ballot_are_one_voter(store: Store) -> None:
    poll = a_poll(store, ballot=BallotKind.SECRET).id
    older, newer = a_member(store, "older"), a_member(store, "newer")
    store.polls.cast_secret(poll, voter=f"member:{older}", member_id=older, choices=(0,))
    store.polls.cast_secret(poll, voter=f"member:{newer}", member_id=newer, choices=(1,))
    with store._sessions.begin() as session:
        merge_members_in(session, older, newer)
    assert store.polls.voters(poll) == {f"member:{older}"}
    # Which ballot was whose is known to no one: both stay (the module says so).
    assert len(store.polls.secret_ballots(poll)) == 2


# -- migration ------------------------------------------------------------------------------------


def test_migration_0022_goes_down_and_up_again(store: Store) -> None:
    revision = ScriptDirectory.from_config(alembic_config()).get_revision("0022")
    assert revision is not None
    a_poll(store)
    with store._engine.begin() as connection:
        command.downgrade(alembic_config(connection=connection), str(revision.down_revision))
        tables = set(connection.dialect.get_table_names(connection))
    assert not tables & {
        "polls",
        "poll_open_votes",
        "poll_participation",
        "poll_ballots",
        "poll_notices",
        "poll_blocks",
    }
    store.upgrade()
    assert store.current_revision() == head_revision()
    assert a_poll(store).state is PollState.OPEN
