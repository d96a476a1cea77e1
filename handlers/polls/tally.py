"""Counting a poll, with no I/O: counts and shares of each option, turnout against the
quorum, and the model of which vote counts (:func:`recount`), against which the store's
bookkeeping is tested."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.types import Platform
from storage.poll_records import QuorumKind


@dataclass(frozen=True, slots=True)
class Quorum:
    kind: QuorumKind
    value: int
    """Voters for :attr:`QuorumKind.VOTERS`, percent of the eligible for
    :attr:`QuorumKind.SHARE`, 0 for :attr:`QuorumKind.NONE`."""


@dataclass(frozen=True, slots=True)
class Tally:
    counts: tuple[int, ...]
    """Ballots choosing each option."""
    shares: tuple[int, ...]
    """Whole percents of all the selections, by largest remainder: they sum to 100 (all 0
    when no one voted)."""
    voters: int
    eligible: int
    needed: int | None
    """Voters the quorum asks for (``None``: no quorum)."""
    quorum_met: bool | None


@dataclass(frozen=True, slots=True)
class CastEvent:
    """A vote as it reached the bot: whose vote it counts as (``"member:12"``), what was
    chosen (empty: withdrawn), when it was cast, and through which account."""

    voter: str
    choices: tuple[int, ...]
    cast_at: datetime
    platform: Platform = Platform.CONSOLE
    account: str = ""


def largest_remainder(counts: Sequence[int], total: int = 100) -> tuple[int, ...]:
    """``counts`` as whole shares of ``total`` that add up to it (Hamilton's method): each
    gets its share rounded down, and what is left goes one by one to the largest
    remainders; equal remainders go to the larger count, then to the earlier option."""
    if any(count < 0 for count in counts):
        raise ValueError("counts are never negative")
    whole = sum(counts)
    if whole == 0:
        return tuple(0 for _ in counts)
    shares = [count * total // whole for count in counts]
    remainders = [count * total % whole for count in counts]
    left = total - sum(shares)
    order = sorted(range(len(counts)), key=lambda i: (-remainders[i], -counts[i], i))
    for index in order[:left]:
        shares[index] += 1
    return tuple(shares)


def needed_voters(quorum: Quorum, eligible: int) -> int | None:
    """How many voters the quorum asks for; a share of the eligible is rounded up."""
    if quorum.kind is QuorumKind.NONE:
        return None
    if quorum.kind is QuorumKind.VOTERS:
        return quorum.value
    return -(-eligible * quorum.value // 100)


def tally(
    option_count: int,
    ballots: Iterable[tuple[int, ...]],
    *,
    eligible: int,
    quorum: Quorum,
) -> Tally:
    """Count ``ballots`` (each a voter's chosen option indexes; empty ones are not
    ballots) of a poll with ``option_count`` options."""
    counts = [0] * option_count
    voters = 0
    for ballot in ballots:
        chosen = set(ballot)
        if not chosen:
            continue
        voters += 1
        for index in chosen:
            if not 0 <= index < option_count:
                raise ValueError(f"option {index} of a poll with {option_count}")
            counts[index] += 1
    needed = needed_voters(quorum, eligible)
    return Tally(
        counts=tuple(counts),
        shares=largest_remainder(counts),
        voters=voters,
        eligible=eligible,
        needed=needed,
        quorum_met=None if needed is None else voters >= needed,
    )


def recount(events: Iterable[CastEvent]) -> dict[str, tuple[int, ...]]:
    """Each voter's last valid vote, from every event in the order it arrived: the one cast
    last counts (of two cast at the same moment, the one that arrived last); a withdrawal
    cast last leaves the voter out."""
    latest: dict[str, tuple[datetime, int, CastEvent]] = {}
    for arrival, event in enumerate(events):
        known = latest.get(event.voter)
        if known is None or (event.cast_at, arrival) >= known[:2]:
            latest[event.voter] = (event.cast_at, arrival, event)
    return {
        voter: tuple(sorted(set(event.choices)))
        for voter, (_, _, event) in latest.items()
        if event.choices
    }
