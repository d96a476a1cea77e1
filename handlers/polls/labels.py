"""What every part of polls calls a poll's pieces: the keys of its posts, the values of its
choices, its options' and settings' labels, the native poll it is posted as, and the text
of its post (the introduction, which is also what a client without polls shows)."""

from __future__ import annotations

from bot.choosing import typed_number
from bot.moments import moment
from bot.types import Choice, CommandRef, Lines, Literal, Message, PollView
from storage.polls import (
    BallotKind,
    PollKind,
    PollRecord,
    QuorumKind,
    ResultsShown,
    VotersAre,
)

VOTE_PREFIX = "poll"
"""The prefix of an open ballot's choices: ``poll:<id>:<index>``."""
BALLOT_PREFIX = "pollballot"
"""The prefix of a secret ballot's "vote privately" button: ``pollballot:<id>``."""

OPTION_KEYS = {
    "agree": "polls.option.agree",
    "abstain": "polls.option.abstain",
    "disagree": "polls.option.disagree",
    "block": "polls.option.block",
}
"""A proposal's option codes and their labels."""
KIND_KEYS = {PollKind.SIMPLE: "polls.kind.simple", PollKind.PROPOSAL: "polls.kind.proposal"}
BALLOT_KEYS = {BallotKind.OPEN: "polls.ballot.open", BallotKind.SECRET: "polls.ballot.secret"}
VOTERS_KEYS = {
    VotersAre.MEMBERS: "polls.voters.members",
    VotersAre.ORGANIZATIONS: "polls.voters.organizations",
}
SHOWN_KEYS = {
    ResultsShown.LIVE: "polls.shown.live",
    ResultsShown.AFTER_CLOSE: "polls.shown.after_close",
}


# -- keys and values --------------------------------------------------------------------------


def start_key(poll_id: int) -> str:
    """The post that opens a poll in a room (the native poll, or a secret ballot's notice)."""
    return f"poll:{poll_id}:start"


def results_key(poll_id: int) -> str:
    """The post of a poll's results in a room (edited in place while they are live)."""
    return f"poll:{poll_id}:results"


def vote_value(poll_id: int, index: int) -> str:
    """The choice that votes for option ``index`` (0-based) of an open ballot."""
    return f"{VOTE_PREFIX}:{poll_id}:{index}"


def ballot_value(poll_id: int) -> str:
    """The button that opens a secret ballot in the member's private chat."""
    return f"{BALLOT_PREFIX}:{poll_id}"


def _number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None


def poll_number(typed: str) -> int | None:
    """The poll number a member typed (``7``, ``#7``, ``٧``): decimal digits of any script
    (``²`` is a digit to Python, not a number), within what the store keeps."""
    number = typed_number(typed.removeprefix("#"))
    return number if number is not None and 0 < number < 2**31 else None


def parse_vote_value(value: str) -> tuple[int, int] | None:
    """``(poll id, option index)`` of ``poll:<id>:<index>`` (or of the ``<id>:<index>``
    the registry hands a choice handler); ``None`` for anything else."""
    parts = value.split(":")
    if len(parts) == 3 and parts[0] == VOTE_PREFIX:
        parts = parts[1:]
    if len(parts) != 2:
        return None
    poll_id, index = _number(parts[0]), _number(parts[1])
    if poll_id is None or index is None or poll_id < 1:
        return None
    return poll_id, index


def parse_ballot_value(value: str) -> int | None:
    """The poll id of ``pollballot:<id>`` (or of the bare ``<id>``)."""
    number = _number(value.removeprefix(f"{BALLOT_PREFIX}:"))
    return number if number is not None and number > 0 else None


# -- labels -----------------------------------------------------------------------------------


def option_labels(record: PollRecord) -> tuple[Message | Literal, ...]:
    """A proposal's options in the reader's language; a simple poll's as they were typed."""
    fields = record.fields
    if fields.kind is PollKind.PROPOSAL:
        return tuple(
            Message.of(OPTION_KEYS[code]) if code in OPTION_KEYS else Literal(code)
            for code in fields.options
        )
    return tuple(Literal(option) for option in fields.options)


def quorum_label(record: PollRecord) -> Message:
    fields = record.fields
    if fields.quorum is QuorumKind.VOTERS:
        return Message.counted("polls.quorum.voters", fields.quorum_value)
    if fields.quorum is QuorumKind.SHARE:
        return Message.of("polls.quorum.share", share=fields.quorum_value)
    return Message.of("polls.quorum.none")


def poll_view(record: PollRecord) -> PollView:
    """The poll as the platforms' own polls show it (an open ballot only)."""
    fields = record.fields
    return PollView(
        question=Literal(fields.question),
        options=option_labels(record),
        choice_values=tuple(vote_value(record.id, index) for index in range(len(fields.options))),
        max_selections=fields.max_selections,
        disclosed=fields.results is ResultsShown.LIVE,
        closes_at=fields.deadline,
    )


# -- the post ---------------------------------------------------------------------------------


def introduction(record: PollRecord, *, group: str, language: str) -> Lines:
    """A poll's post in a room, in ``language``: what is asked (the options numbered for a
    secret ballot, which is no platform's poll), how to vote and until when (in the group's
    time zone), who votes, when results show, the quorum; for a secret ballot, plainly who
    can see what."""
    fields = record.fields
    lines: list[Message | Literal] = [
        Message.of(
            "polls.post.heading",
            number=record.id,
            group=Literal(group),
            question=Literal(fields.question),
        )
    ]
    if fields.ballot is BallotKind.SECRET:
        # No poll of the platform's own lists them (each platform numbers a poll's options
        # as it shows them: the console and Matrix's text for clients without polls).
        for number, label in enumerate(option_labels(record), start=1):
            lines.append(Message.of("polls.post.option", number=number, option=label))
    lines.append(Message.of("polls.post.kind", kind=Message.of(KIND_KEYS[fields.kind])))
    if fields.kind is PollKind.PROPOSAL:
        lines.append(
            Message.of("polls.post.block_reported")
            if fields.ballot is BallotKind.OPEN
            else Message.of("polls.vote.ballot_secret_blocks")
        )
    elif fields.max_selections > 1:
        lines.append(Message.counted("polls.post.up_to", fields.max_selections))
    if fields.voters is VotersAre.ORGANIZATIONS:
        lines.append(Message.of("polls.post.by_organizations"))
    else:
        lines.append(Message.of("polls.post.by_members"))
    if fields.ballot is BallotKind.SECRET:
        lines.append(
            Message.of("polls.post.secret_how", command=CommandRef("vote"), number=record.id)
        )
        lines.append(Message.of("polls.post.secret_who_sees"))
    else:
        lines.append(Message.of("polls.post.open_how"))
        lines.append(Message.of("polls.post.open_who_sees"))
    lines.append(
        Message.of(
            "polls.post.deadline", when=Literal(moment(fields.deadline, language, fields.time_zone))
        )
    )
    lines.append(
        Message.of(
            "polls.post.live" if fields.results is ResultsShown.LIVE else "polls.post.after_close"
        )
    )
    lines.append(Message.of("polls.post.quorum", quorum=quorum_label(record)))
    return Lines(tuple(lines))


def secret_button(record: PollRecord) -> Choice:
    """The button under a secret ballot's notice: it opens the vote in a private chat."""
    return Choice(ballot_value(record.id), Message.of("polls.post.vote_privately"))
