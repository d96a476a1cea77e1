"""Ballots in a private chat: every secret ballot, and an open ballot's numbered choices for
a member who asks (``/vote N``).

A secret ballot is never a room poll: the room's announcement carries a button
(``pollballot:<id>``) or the command ``/vote N``, and the member gets the ballot privately.
A secret vote is cast once (``store.polls.cast_secret`` keeps that the member voted apart
from what they chose) and is final. Nothing the bot says or keeps names a secret choice: the
confirmation is the same whatever was chosen, no log line or audit entry names it, and a
ballot of several selections is cast in one message (``/vote N 1 3``), since toggles kept
between messages would keep the member's choice beside their name until they cast it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.choosing import typed_numbers
from bot.context import Context, UserError
from bot.moments import moment
from bot.notices import notify_member
from bot.registry import Registry
from bot.types import (
    Choice,
    ChoicePicked,
    Command,
    CommandRef,
    Lines,
    Literal,
    Message,
    Reply,
)
from handlers.polls.labels import option_labels, parse_ballot_value, vote_value
from handlers.polls.telling import admitted, late, privately
from storage.polls import BallotKind, PollClosed, PollKind, PollRecord

log = logging.getLogger(__name__)

BALLOT_CHOICE = "pollballot"
"""The prefix of a room's "vote privately" button: ``pollballot:<id>``."""
BALLOT_LINK = "ballot"
"""The prefix of a deep link's payload that opens a ballot: ``/start ballot-<id>``."""


def register(registry: Registry) -> None:
    registry.choice(BALLOT_CHOICE, ballot_requested)
    registry.start_payload(BALLOT_LINK, ballot_linked)


def _poll(context: Context, payload: str) -> PollRecord:
    number = parse_ballot_value(payload)
    record = context.store.polls.get(number) if number is not None else None
    if record is None:
        raise UserError("router.choice_expired", help=CommandRef("help"))
    return record


def ballot_requested(context: Context, picked: ChoicePicked, payload: str) -> Sequence[Reply]:
    return offer_ballot(context, _poll(context, payload))


def ballot_linked(context: Context, command: Command, payload: str) -> Sequence[Reply]:
    return offer_ballot(context, _poll(context, payload))


def offer_ballot(context: Context, record: PollRecord) -> list[Reply]:
    """The ballot in the member's private chat (here when they asked in one); in the room,
    only a word when the bot cannot write to them privately yet."""
    voter, refused = admitted(context, record, context.store.now(), once=False)
    if voter is None:
        return refused
    if record.fields.ballot is BallotKind.SECRET and voter in context.store.polls.voters(record.id):
        return privately(context, Message.of("polls.vote.already_voted", number=record.id))
    ballot = _ballot(context, record)
    if context.origin.is_direct:
        return [ballot]
    notices = notify_member(
        context.store, context.member.id, ballot.text, enabled=context.config.enabled_platforms
    )
    if not notices:
        hint = Message.of("polls.vote.write_me_first", command=CommandRef("vote"), number=record.id)
        return [Reply(hint)]
    return [
        Reply(n.text, choices=ballot.choices, to=n.to, language=n.language, confidential=True)
        for n in notices
    ]


def _ballot(context: Context, record: PollRecord) -> Reply:
    fields = record.fields
    reader = context.reader
    when = Literal(moment(fields.deadline, reader.language, reader.time_zone))
    secret = fields.ballot is BallotKind.SECRET
    key = "polls.vote.ballot_secret" if secret else "polls.vote.ballot_open"
    lines: list[Message | Literal] = [
        Message.of(key, number=record.id, when=when),
        Literal(fields.question),
    ]
    if secret and fields.kind is PollKind.PROPOSAL:
        lines.append(Message.of("polls.vote.ballot_secret_blocks"))
    labels = option_labels(record)
    if secret and fields.max_selections > 1:
        # Cast in one message: no selection is kept between messages.
        lines.extend(
            Message.of("polls.vote.numbered", position=position, option=label)
            for position, label in enumerate(labels, start=1)
        )
        lines.append(
            Message.counted(
                "polls.vote.type_several",
                fields.max_selections,
                command=CommandRef("vote"),
                number=record.id,
            )
        )
        return Reply(Lines(tuple(lines)))
    if fields.max_selections > 1:
        lines.append(Message.counted("polls.vote.pick_several", fields.max_selections))
    choices = tuple(
        Choice(vote_value(record.id, index), label) for index, label in enumerate(labels)
    )
    return Reply(Lines(tuple(lines)), choices=choices)


def typed_options(record: PollRecord, words: Sequence[str]) -> list[int]:
    """The options (0-based) a member typed by number (``1 3``, ``1, 3``, in any digits)."""
    numbers = typed_numbers(" ".join(words))
    count = len(record.fields.options)
    if numbers is None or not all(1 <= number <= count for number in numbers):
        raise UserError("polls.vote.bad_numbers", last=count)
    return [number - 1 for number in numbers]


def cast_typed(context: Context, record: PollRecord, indexes: Sequence[int]) -> list[Reply]:
    """Cast a secret vote for ``indexes``; only in a private chat."""
    if not context.origin.is_direct:
        raise UserError(
            "polls.vote.secret_in_private", command=CommandRef("vote"), number=record.id
        )
    voter, refused = admitted(context, record, context.store.now(), once=False)
    if voter is None:
        return refused
    chosen = tuple(sorted(set(indexes)))
    most = record.fields.max_selections
    if len(chosen) > most:
        return privately(context, Message.counted("polls.vote.too_many", most, number=record.id))
    try:
        cast = context.store.polls.cast_secret(
            record.id, voter=voter, member_id=context.member.id, choices=chosen
        )
    except PollClosed:
        return late(context, record, once=False)
    if not cast:
        return privately(context, Message.of("polls.vote.already_voted", number=record.id))
    log.info("poll_secret_vote poll=%d", record.id)
    return privately(context, Message.of("polls.vote.secret_cast", number=record.id))
