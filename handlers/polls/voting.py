"""Votes on open ballots: native poll answers (Telegram ``poll_answer``, Matrix poll
responses) and picks by number or button (``poll:<id>:<index>``: the console, Matrix
clients without polls), counted once per member (or per organization) in one tally.

A member's latest valid vote counts, from whichever account; an empty answer withdraws it.
A vote from someone who may not vote is not counted, and they are told once, privately; a
vote after the deadline or on a closed poll is refused, with a notice said once. When the
poll shows results live, each counted change edits the results message in every room the
poll went to. Secret ballots are :mod:`handlers.polls.secret`'s; blocks of a proposal,
:mod:`handlers.polls.blocks`'.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.context import Context, UserError
from bot.registry import Registry
from bot.types import ChoicePicked, Command, CommandRef, Literal, Message, Platform, Reply, VoteCast
from handlers.polls import blocks, secret
from handlers.polls.labels import parse_vote_value, poll_number, results_key, start_key
from handlers.polls.results import (
    current_tally,
    group_language,
    labels_in,
    organization_of_key,
    poll_rooms,
    renderer,
    results_text,
)
from handlers.polls.telling import admitted, late, privately
from storage.polls import BallotKind, PollRecord, PollState, ResultsShown, VoteOutcome

log = logging.getLogger(__name__)

VOTE_CHOICE = "poll"
"""The prefix of a pick by number or button: ``poll:<id>:<index>`` (0-based)."""
COUNTED = frozenset({VoteOutcome.RECORDED, VoteOutcome.CHANGED, VoteOutcome.WITHDRAWN})


def register(registry: Registry) -> None:
    registry.on_vote(vote_cast)
    registry.choice(VOTE_CHOICE, number_picked)
    registry.command("vote", vote_command, help_key="polls.vote.help")
    secret.register(registry)
    blocks.register(registry)


# -- counting -----------------------------------------------------------------------------


def current_choices(context: Context, record: PollRecord, voter: str) -> tuple[int, ...]:
    for vote in context.store.polls.votes(record.id):
        if vote.voter == voter:
            return vote.choices
    return ()


def count(
    context: Context,
    record: PollRecord,
    voter: str,
    choices: tuple[int, ...],
    cast_at: datetime,
    *,
    tell: bool,
) -> list[Reply]:
    """Count ``choices`` as ``voter``'s vote (empty: withdraw it); ``tell``: say privately
    what their vote now is (a pick by number; a native poll shows it itself)."""
    before = current_choices(context, record, voter)
    outcome = context.store.polls.cast(
        record.id,
        voter=voter,
        member_id=context.member.id,
        organization_id=organization_of_key(voter),
        choices=choices,
        platform=context.origin.platform,
        cast_at=cast_at,
    )
    log.info("poll_vote poll=%d member=%d outcome=%s", record.id, context.member.id, outcome)
    if outcome is VoteOutcome.CLOSED:
        return late(context, record)
    if outcome not in COUNTED:
        return vote_now(context, record, choices) if tell else []
    replies = blocks.changed(context, record, before, choices)
    if tell:
        replies.extend(vote_now(context, record, choices))
    replies.extend(live_results(context, record))
    return replies


def vote_now(context: Context, record: PollRecord, choices: tuple[int, ...]) -> list[Reply]:
    """What the member's vote now is, privately."""
    if not choices:
        return privately(context, Message.of("polls.vote.withdrawn", number=record.id))
    chosen = shown(context, record, choices)
    return privately(context, Message.of("polls.vote.now", number=record.id, choices=chosen))


def shown(context: Context, record: PollRecord, choices: tuple[int, ...]) -> Literal:
    """The chosen options by their labels, in the member's language."""
    language = context.member.language
    labels = labels_in(record, language)
    comma = "، " if renderer(language).right_to_left else ", "
    return Literal(comma.join(labels[index] for index in choices))


def live_results(context: Context, record: PollRecord) -> list[Reply]:
    """The results message in each of the poll's rooms, edited to the current tally, when
    the poll shows results live (an open ballot's; a secret ballot's tally changing with
    each vote would tell who chose what to anyone who knows when someone voted)."""
    if record.fields.results is not ResultsShown.LIVE or record.fields.ballot is BallotKind.SECRET:
        return []
    counted = current_tally(context.store, record)
    language = group_language(context, record)
    text = results_text(record, counted, language=language, zone=record.fields.time_zone)
    key = results_key(record.id)
    # Keeps the room's numbered choices: on Matrix they are the poll's options, by which a
    # member whose client shows no polls votes.
    return [
        Reply(text, to=room, language=language, edits=key, keeps_choices=True)
        for room in poll_rooms(record)
    ]


# -- native poll answers ------------------------------------------------------------------


def poll_of_post(key: str | None) -> int | None:
    """The poll a post key names, when it is a poll's start (``poll:7:start``)."""
    if key is None:
        return None
    parts = key.split(":")
    if len(parts) != 3 or not parts[1].isascii() or not parts[1].isdigit():
        return None
    number = int(parts[1])
    return number if key == start_key(number) else None


def read_answers(answers: Sequence[str], options: int) -> list[int] | None:
    """The options a native answer names (0-based, in its order, each once), or ``None``
    when it names one the poll does not have (MSC3381: an unknown answer spoils the
    response)."""
    picked: list[int] = []
    for answer in answers:
        if not answer.isascii() or not answer.isdigit() or str(int(answer)) != answer:
            return None
        index = int(answer)
        if index >= options:
            return None
        if index not in picked:
            picked.append(index)
    return picked


def vote_cast(context: Context, event: VoteCast) -> Sequence[Reply]:
    """A native poll answer: Telegram names its poll by the poll's own id, Matrix by the
    poll start event's id in the room."""
    posts = context.store.posts
    platform = event.origin.platform
    if platform is Platform.TELEGRAM:
        key = posts.key_of_native(platform, event.poll_id)
    else:
        key = posts.key_of_message(platform, event.origin.room_id, event.poll_id)
    poll_id = poll_of_post(key)
    record = context.store.polls.get(poll_id) if poll_id is not None else None
    if record is None or record.fields.ballot is BallotKind.SECRET:
        return []
    picked = read_answers(event.options, len(record.fields.options))
    if picked is None:
        log.info("poll_vote_spoiled poll=%d member=%d", record.id, context.member.id)
        return []
    cast_at = answered_at(record, event, context.store.now())
    voter, refused = admitted(context, record, cast_at)
    if voter is None:
        return refused if picked else []
    # More than the poll allows (a Telegram poll cannot say how many): the first ones count.
    most = record.fields.max_selections
    choices = tuple(sorted(picked[:most]))
    replies = count(context, record, voter, choices, cast_at, tell=False)
    if len(picked) > most:
        cut = Message.counted(
            "polls.vote.cut", most, number=record.id, choices=shown(context, record, choices)
        )
        replies = [*privately(context, cut), *replies]
    return replies


TELEGRAM_CLOSES_ITSELF = (timedelta(seconds=65), timedelta(seconds=2_628_000 - 60))
"""The deadlines, from a poll's posting, for which Telegram's own poll carries them as its
``close_date`` and refuses answers after it (the Telegram renderer's bounds: Bot API's 5 s
to 2,628,000 s, a minute's margin each side)."""


def answered_at(record: PollRecord, event: VoteCast, now: datetime) -> datetime:
    """When a native answer counts as cast. Matrix: the homeserver's time of sending, never
    after it arrived (a homeserver whose clock runs fast cannot push a vote ahead). Telegram
    says no time: it is when the bot reads it, except for a poll Telegram closed itself at
    the deadline and the bot has not yet: an answer from it was cast in time, however late
    it is read (sent while the bot was down)."""
    if event.sent_at is not None:
        return min(event.sent_at, now)
    deadline = record.fields.deadline
    shortest, longest = TELEGRAM_CLOSES_ITSELF
    closed_by_telegram = shortest <= deadline - record.created_at <= longest
    if (
        event.origin.platform is Platform.TELEGRAM
        and record.state is PollState.OPEN
        and now > deadline
        and closed_by_telegram
    ):
        return deadline
    return now


# -- picks by number or button ------------------------------------------------------------


def number_picked(context: Context, picked: ChoicePicked, payload: str) -> Sequence[Reply]:
    """``poll:<id>:<index>``: a vote for one option; in a poll of several selections, a
    pick adds the option or takes it away again."""
    parsed = parse_vote_value(payload)
    record = context.store.polls.get(parsed[0]) if parsed is not None else None
    if parsed is None or record is None or parsed[1] >= len(record.fields.options):
        raise UserError("router.choice_expired", help=CommandRef("help"))
    if record.fields.ballot is BallotKind.SECRET:
        return secret.cast_typed(context, record, [parsed[1]])
    return pick(context, record, parsed[1])


def pick(context: Context, record: PollRecord, index: int) -> list[Reply]:
    now = context.store.now()
    voter, refused = admitted(context, record, now)
    if voter is None:
        return refused
    most = record.fields.max_selections
    if most == 1:
        return count(context, record, voter, (index,), now, tell=True)
    chosen = set(current_choices(context, record, voter)) ^ {index}
    if len(chosen) > most:
        return privately(context, Message.counted("polls.vote.too_many", most, number=record.id))
    return count(context, record, voter, tuple(sorted(chosen)), now, tell=True)


def choose(context: Context, record: PollRecord, indexes: Sequence[int]) -> list[Reply]:
    """A whole selection at once (``/vote N 1 3`` on an open ballot)."""
    now = context.store.now()
    voter, refused = admitted(context, record, now)
    if voter is None:
        return refused
    chosen = tuple(sorted(set(indexes)))
    if len(chosen) > record.fields.max_selections:
        most = record.fields.max_selections
        return privately(context, Message.counted("polls.vote.too_many", most, number=record.id))
    return count(context, record, voter, chosen, now, tell=True)


def vote_command(context: Context, command: Command) -> Sequence[Reply]:
    """``/vote N``: the poll's ballot, privately; ``/vote N 1 3``: vote for those options
    (a secret ballot only in a private chat: typed in a room, a choice is no secret)."""
    number = poll_number(command.args[0]) if command.args else None
    if number is None:
        raise UserError("polls.vote.usage", command=CommandRef("vote"))
    record = context.store.polls.get(number)
    if record is None:
        raise UserError("polls.vote.no_such_poll", number=number)
    if len(command.args) == 1:
        return secret.offer_ballot(context, record)
    indexes = secret.typed_options(record, command.args[1:])
    if record.fields.ballot is BallotKind.SECRET:
        return secret.cast_typed(context, record, indexes)
    return choose(context, record, indexes)
