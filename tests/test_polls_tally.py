"""The tally: shares by largest remainder add up to 100 and settle ties the same way every
time; a quorum of voters or of a share of the eligible (rounded up) is met or not; and, for
any sequence of votes, changes, withdrawals and duplicate deliveries across platforms and
accounts, what the store keeps counts the same as a recount of each voter's last vote."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.types import Platform
from handlers.polls.tally import (
    CastEvent,
    Quorum,
    Tally,
    largest_remainder,
    needed_voters,
    recount,
    tally,
)
from storage import Store, WorkingGroupSpec
from storage.polls import (
    BallotKind,
    PollFields,
    PollKind,
    QuorumKind,
    ResultsShown,
    VoteOutcome,
    VotersAre,
)

NO_QUORUM = Quorum(QuorumKind.NONE, 0)

# -- largest remainder ------------------------------------------------------------------------


def test_shares_add_up_to_100_giving_the_rest_to_the_largest_remainders() -> None:
    assert largest_remainder([2, 1]) == (67, 33)
    assert largest_remainder([5, 3, 3]) == (46, 27, 27)  # 45.45, 27.27, 27.27
    assert largest_remainder([1, 0, 0]) == (100, 0, 0)
    assert largest_remainder([0, 0, 0]) == (0, 0, 0)
    assert largest_remainder([]) == ()


def test_equal_remainders_go_to_the_earlier_option_every_time() -> None:
    assert largest_remainder([1, 1, 1]) == (34, 33, 33)
    assert largest_remainder([1, 1, 1, 1, 1, 1]) == (17, 17, 17, 17, 16, 16)
    assert largest_remainder([3, 0, 3, 3]) == (34, 0, 33, 33)


def test_of_equal_remainders_the_larger_count_comes_first() -> None:
    assert largest_remainder([1, 2, 5]) == (12, 25, 63)  # 12.5, 25, 62.5
    assert largest_remainder([5, 2, 1]) == (63, 25, 12)
    assert largest_remainder([3, 1, 1, 3, 1], total=10) == (4, 1, 1, 3, 1)


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=12))
def test_shares_always_add_up_to_100_each_within_one_of_its_exact_share(
    counts: list[int],
) -> None:
    shares = largest_remainder(counts)
    whole = sum(counts)
    if whole == 0:
        assert shares == (0,) * len(counts)
        return
    assert sum(shares) == 100
    for count, share in zip(counts, shares, strict=True):
        assert abs(share - count * 100 / whole) < 1


# -- quorum -----------------------------------------------------------------------------------


def test_a_quorum_of_voters_is_met_by_that_many_voters() -> None:
    quorum = Quorum(QuorumKind.VOTERS, 3)
    assert tally(2, [(0,), (1,)], eligible=10, quorum=quorum).quorum_met is False
    met = tally(2, [(0,), (1,), (1,)], eligible=10, quorum=quorum)
    assert (met.voters, met.needed, met.quorum_met) == (3, 3, True)


def test_a_share_of_the_eligible_is_rounded_up() -> None:
    assert needed_voters(Quorum(QuorumKind.SHARE, 50), 7) == 4
    assert needed_voters(Quorum(QuorumKind.SHARE, 50), 8) == 4
    assert needed_voters(Quorum(QuorumKind.SHARE, 33), 3) == 1
    assert needed_voters(Quorum(QuorumKind.SHARE, 100), 5) == 5
    quorum = Quorum(QuorumKind.SHARE, 50)
    assert tally(2, [(0,)] * 3, eligible=7, quorum=quorum).quorum_met is False
    assert tally(2, [(0,)] * 4, eligible=7, quorum=quorum).quorum_met is True


def test_without_a_quorum_none_is_needed_and_none_is_met() -> None:
    counted = tally(3, [(0, 2), (2,), ()], eligible=5, quorum=NO_QUORUM)
    assert counted == Tally(
        counts=(1, 0, 2), shares=(33, 0, 67), voters=2, eligible=5, needed=None, quorum_met=None
    )


def test_an_option_the_poll_does_not_have_is_refused() -> None:
    with pytest.raises(ValueError, match="option 3"):
        tally(3, [(3,)], eligible=1, quorum=NO_QUORUM)


# -- the recount model --------------------------------------------------------------------------

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_the_vote_cast_last_counts_whatever_order_it_arrived_in() -> None:
    events = [
        CastEvent("member:1", (1,), at(5)),
        CastEvent("member:1", (0,), at(2)),  # older, arrived late
        CastEvent("member:2", (0,), at(1)),
        CastEvent("member:2", (), at(3)),  # withdrawn
        CastEvent("member:3", (2,), at(4)),
        CastEvent("member:3", (1,), at(4)),  # same moment, arrived later
    ]
    assert recount(events) == {"member:1": (1,), "member:3": (1,)}


# -- the store against the model ------------------------------------------------------------------

ACCOUNTS = (
    # (platform, account, member name): one person on two or three accounts
    (Platform.TELEGRAM, "tg:ana", "ana"),
    (Platform.MATRIX, "@ana:example.org", "ana"),
    (Platform.CONSOLE, "console:ana", "ana"),
    (Platform.TELEGRAM, "tg:ben", "ben"),
    (Platform.MATRIX, "@ben:example.org", "ben"),
    (Platform.TELEGRAM, "tg:eva", "eva"),
    (Platform.MATRIX, "@ivo:example.org", "ivo"),
)
ORGANIZATION_OF = {"ana": "Red", "ben": "Red", "eva": "Frente", "ivo": "Frente"}
OPTIONS = ("A", "B", "C", "D")


class Voters:
    """The store shared by every example, its group, members and organizations."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.groups.sync_configured([WorkingGroupSpec("cawg", "CAWG")], [], default_language="en")
        group = store.groups.by_slug("cawg")
        assert group is not None
        self.group = group.id
        names = sorted({name for _, _, name in ACCOUNTS})
        self.members = {
            name: store.members.for_identity(Platform.CONSOLE, name, language="en").id
            for name in names
        }
        self.organizations = {
            name: store.organizations.add(name, "CO", "movement").id
            for name in sorted(set(ORGANIZATION_OF.values()))
        }

    def voter(self, name: str, voters: VotersAre) -> tuple[str, int, int | None]:
        member = self.members[name]
        if voters is VotersAre.MEMBERS:
            return f"member:{member}", member, None
        organization = self.organizations[ORGANIZATION_OF[name]]
        return f"organization:{organization}", member, organization


@pytest.fixture(scope="module")
def voters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Voters]:
    path: Path = tmp_path_factory.mktemp("polls") / "caucus.sqlite3"
    with Store(f"sqlite:///{path}") as store:
        store.upgrade()
        yield Voters(store)


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[VotersAre, int, list[tuple[int, tuple[int, ...], int]]]:
    """Who votes (members or organizations), the most choices allowed, and the votes as they
    arrive: (account, choices, seconds after the start), some delivered twice."""
    who = draw(st.sampled_from(VotersAre))
    most = draw(st.integers(min_value=1, max_value=len(OPTIONS)))
    choices = st.lists(
        st.integers(min_value=0, max_value=len(OPTIONS) - 1), max_size=most, unique=True
    ).map(tuple)
    vote = st.tuples(
        st.integers(min_value=0, max_value=len(ACCOUNTS) - 1),
        choices,
        st.integers(min_value=0, max_value=12),  # few moments: ties and late arrivals
    )
    sent = draw(st.lists(vote, max_size=25))
    arrived = list(sent)
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        if sent:
            again = draw(st.sampled_from(sent))
            arrived.insert(draw(st.integers(min_value=0, max_value=len(arrived))), again)
    return who, most, arrived


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(deliveries())
@example((VotersAre.MEMBERS, 1, [(0, (), 0), (0, (), 1), (0, (0,), 0)]))  # found by hypothesis
@example((VotersAre.MEMBERS, 1, [(0, (1,), 0), (1, (1,), 5), (2, (0,), 3)]))
def test_what_the_store_keeps_tallies_as_a_recount_of_each_voters_last_vote(
    voters: Voters, delivered: tuple[VotersAre, int, list[tuple[int, tuple[int, ...], int]]]
) -> None:
    who, most, arrived = delivered
    store = voters.store
    start = store.now()
    poll = store.polls.create(
        PollFields(
            working_group_id=voters.group,
            question="Which?",
            options=OPTIONS,
            kind=PollKind.SIMPLE,
            max_selections=most,
            ballot=BallotKind.OPEN,
            voters=who,
            results=ResultsShown.LIVE,
            quorum=QuorumKind.NONE,
            quorum_value=0,
            deadline=start + timedelta(days=1),
            time_zone="UTC",
            remind_before=None,
            rooms=(),
        ),
        None,
    ).id
    events = []
    for account, choices, seconds in arrived:
        platform, user, name = ACCOUNTS[account]
        voter, member, organization = voters.voter(name, who)
        cast_at = start + timedelta(seconds=seconds)
        outcome = store.polls.cast(
            poll,
            voter=voter,
            member_id=member,
            organization_id=organization,
            choices=choices,
            platform=platform,
            cast_at=cast_at,
        )
        assert outcome is not VoteOutcome.CLOSED
        events.append(CastEvent(voter, choices, cast_at, platform, user))
    expected = recount(events)
    kept = store.polls.votes(poll)
    assert {vote.voter: vote.choices for vote in kept} == expected
    assert store.polls.voters(poll) == set(expected)
    assert tally(
        len(OPTIONS), [vote.choices for vote in kept], eligible=4, quorum=NO_QUORUM
    ) == tally(len(OPTIONS), expected.values(), eligible=4, quorum=NO_QUORUM)
