"""Who may vote in a poll and as whom, the poll's tally, and its results as members read
them: counts and shares by option in text bars, turnout against the quorum, and the same
numbers as a bar chart (PNG).

One person is one vote: a member votes as ``member:<id>`` (their accounts on every platform
are one member), or, when a poll is for organizations, as ``organization:<id>`` through
any of its signatories, so an organization counts once (the latest signatory's vote).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection
from typing import Protocol

from bot.charts import bar_chart_png, drawable, text_bars
from bot.config import AppConfig
from bot.context import HandlerStore, room_language
from bot.i18n import Catalogs, Renderer
from bot.moments import moment
from bot.types import Lines, Literal, Media, Message, Origin, Platform
from handlers.polls.labels import option_labels
from handlers.polls.tally import Quorum, Tally, largest_remainder, needed_voters, tally
from storage.polls import (
    BallotKind,
    PollRecord,
    PollState,
    VotersAre,
    member_voter,
    organization_voter,
)

log = logging.getLogger(__name__)

ROSTER_PAGE = 500


class Telling(Protocol):
    """What the polls' handlers need of a request's or the scheduler's context."""

    @property
    def store(self) -> HandlerStore: ...

    @property
    def config(self) -> AppConfig: ...


# -- who votes ----------------------------------------------------------------------------


def group_members(store: HandlerStore, working_group_id: int) -> set[int]:
    """Every member of the working group (everyone with a role there)."""
    found: set[int] = set()
    offset = 0
    while True:
        page = store.roster.members_of(working_group_id, offset=offset, limit=ROSTER_PAGE)
        found.update(entry.member_id for entry in page.entries)
        offset += ROSTER_PAGE
        if offset >= page.total or not page.entries:
            return found


def organization_signatories(store: HandlerStore, record: PollRecord) -> dict[int, list[int]]:
    """The organizations that vote in ``record`` (an organizations' poll), each with its
    signatories who are members of the poll's group; an organization none of whose
    signatories is in the group takes no part."""
    members = group_members(store, record.fields.working_group_id)
    voting: dict[int, list[int]] = {}
    for organization in store.organizations.all():
        signing = [m for m in store.organizations.signatories(organization.id) if m in members]
        if signing:
            voting[organization.id] = sorted(signing)
    return voting


def eligible_voters(store: HandlerStore, record: PollRecord) -> set[str]:
    """The voter keys that may vote in ``record`` now."""
    if record.fields.voters is VotersAre.ORGANIZATIONS:
        return {organization_voter(org) for org in organization_signatories(store, record)}
    return {member_voter(member) for member in group_members(store, record.fields.working_group_id)}


def voter_key_of(store: HandlerStore, record: PollRecord, member_id: int) -> str | None:
    """Whose vote ``member_id`` casts in ``record``: their own, or their organization's
    when they sign for it; ``None`` when they may not vote (not a member of the group, or
    not a signatory of an organization in an organizations' poll)."""
    group_id = record.fields.working_group_id
    if group_id not in store.groups.roles_of(member_id).by_group:
        return None
    if record.fields.voters is not VotersAre.ORGANIZATIONS:
        return member_voter(member_id)
    affiliation = store.organizations.affiliation_of(member_id)
    if affiliation is None or not affiliation.signatory:
        return None
    return organization_voter(affiliation.organization.id)


def organization_of_key(voter: str) -> int | None:
    """The organization a voter key names, or ``None`` for a member's own key."""
    kind, _, number = voter.partition(":")
    return int(number) if kind == "organization" and number.isdigit() else None


def current_tally(
    store: HandlerStore, record: PollRecord, eligible: Collection[str] | None = None
) -> Tally:
    """The poll's tally: of an open ballot, each eligible voter's current vote (a vote of
    someone who has since left the group does not count); of a secret ballot, the ballots.
    A closed poll counts against those who could vote when it closed."""
    quorum = Quorum(record.fields.quorum, record.fields.quorum_value)
    if (
        record.final_counts is not None
        and record.final_voters is not None
        and record.eligible_at_close is not None
    ):
        # Closed: the results as they were posted, whoever has left the group since.
        needed = needed_voters(quorum, record.eligible_at_close)
        return Tally(
            counts=record.final_counts,
            shares=largest_remainder(record.final_counts),
            voters=record.final_voters,
            eligible=record.eligible_at_close,
            needed=needed,
            quorum_met=None if needed is None else record.final_voters >= needed,
        )
    keys = set(eligible_voters(store, record) if eligible is None else eligible)
    if record.state is PollState.CLOSED and record.eligible_at_close is not None:
        count = record.eligible_at_close
    else:
        count = len(keys)
    options = len(record.fields.options)
    if record.fields.ballot is BallotKind.SECRET:
        ballots: list[tuple[int, ...]] = list(store.polls.secret_ballots(record.id))
    else:
        ballots = [vote.choices for vote in store.polls.votes(record.id) if vote.voter in keys]
    return tally(options, ballots, eligible=count, quorum=quorum)


# -- how results read ---------------------------------------------------------------------


@functools.cache
def _catalogs() -> Catalogs:
    # Handlers answer with catalog keys; the bars and the picture need the labels as text.
    return Catalogs.load()


def renderer(language: str) -> Renderer:
    return _catalogs().renderer(language, Platform.CONSOLE)


def labels_in(record: PollRecord, language: str) -> list[str]:
    """The options as a reader of ``language`` reads them."""
    shown = renderer(language)
    return [shown.label(label) for label in option_labels(record)]


def results_text(
    record: PollRecord,
    counted: Tally,
    *,
    language: str,
    zone: str | None,
) -> Lines:
    """The results in one language: a headline, a text bar per option, turnout, quorum,
    and when voting closes (or closed), in the reader's time zone."""
    if record.state is PollState.CLOSED:
        headline = Message.of("polls.result.final", number=record.id)
    else:
        headline = Message.of("polls.result.live", number=record.id)
    lines: list[Message | Literal] = [headline, Literal(record.fields.question)]
    bars = text_bars(
        labels_in(record, language),
        counted.counts,
        counted.shares,
        right_to_left=renderer(language).right_to_left,
    )
    lines.extend(Literal(bar) for bar in bars)
    lines.append(turnout_line(record, counted))
    quorum = quorum_line(counted)
    if quorum is not None:
        lines.append(quorum)
    when = Literal(moment(record.closed_at or record.fields.deadline, language, zone))
    if record.state is PollState.CLOSED:
        lines.append(Message.of("polls.result.closed_at", when=when))
    else:
        lines.append(Message.of("polls.result.closes_at", when=when))
    return Lines(tuple(lines))


def turnout_line(record: PollRecord, counted: Tally) -> Message:
    share = round(100 * counted.voters / counted.eligible) if counted.eligible else 0
    key = (
        "polls.result.turnout_organizations"
        if record.fields.voters is VotersAre.ORGANIZATIONS
        else "polls.result.turnout"
    )
    return Message.counted(key, counted.voters, eligible=counted.eligible, share=share)


def quorum_line(counted: Tally) -> Message | None:
    if counted.needed is None or counted.quorum_met is None:
        return None
    key = "polls.result.quorum_met" if counted.quorum_met else "polls.result.quorum_not_met"
    return Message.counted(key, counted.needed)


def results_picture(record: PollRecord, counted: Tally, *, language: str) -> tuple[Media, ...]:
    """The results as a bar chart, labelled in ``language``; none where this machine cannot
    draw its words readably (Arabic without complex text layout: the text bars say it all,
    and the start-up log says why)."""
    shown = renderer(language)
    labels = labels_in(record, language)
    if not drawable([record.fields.question, *labels]):
        return ()
    footer = shown.label(turnout_line(record, counted))
    quorum = quorum_line(counted)
    if quorum is not None:
        footer = f"{footer} · {shown.label(quorum)}"
    data = bar_chart_png(
        title=record.fields.question,
        labels=labels,
        counts=counted.counts,
        shares=counted.shares,
        footer=footer,
        right_to_left=shown.right_to_left,
    )
    return (Media(f"poll-{record.id}-results.png", "image/png", data),)


# -- where results go ---------------------------------------------------------------------


def group_language(context: Telling, record: PollRecord) -> str:
    """The language a poll's rooms read: its group's first, else the configuration's."""
    return room_language(context.store.groups.get(record.fields.working_group_id), context.config)


def poll_rooms(record: PollRecord) -> list[Origin]:
    """Where the poll went, as addresses for replies."""
    return [
        Origin(platform=Platform(platform), room_id=room_id, user_id="", is_direct=False)
        for platform, room_id in record.fields.rooms
    ]
