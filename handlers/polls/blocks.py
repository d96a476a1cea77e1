"""Blocks of a proposal: a block on an open ballot is reported at once to the group's
coordinators, with the voter's name, and the voter is asked privately for their reason
(``/blockreason N``, a one-question conversation), which goes to the coordinators too.

On a secret ballot no block is reported as it is cast: a notice sent at the moment a
member votes would tell the coordinators (and the database, by its time) whose ballot it
was. The coordinators learn the number of blocks when the poll closes, without names. No
reason is asked either: giving one (a conversation saved, logged and answered under the
member's number) would say who blocked.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from bot.context import Context, UserError
from bot.conversation import Answers, Conversation, InvalidAnswer, Step
from bot.notices import notify_coordinators
from bot.registry import Registry
from bot.types import Command, CommandRef, Lines, Literal, Message, ParamValue, Reply, Text
from handlers.polls.labels import poll_number
from handlers.polls.results import Telling
from handlers.polls.telling import privately
from storage.polls import PROPOSAL_OPTIONS, PollKind, PollRecord, VotersAre

log = logging.getLogger(__name__)

BLOCK = PROPOSAL_OPTIONS.index("block")
REASON_MAX = 1000


def register(registry: Registry) -> None:
    registry.conversation(
        REASON, command="blockreason", help_key="polls.vote.reason_help", prepare=prepare_reason
    )


def to_coordinators(context: Telling, record: PollRecord, text: Text) -> list[Reply]:
    return notify_coordinators(
        context.store,
        record.fields.working_group_id,
        text,
        enabled=context.config.enabled_platforms,
    )


def voter_named(context: Context, record: PollRecord) -> Message | Literal:
    """The voter as coordinators read them: their name (or number), and for an
    organizations' poll the organization they sign for."""
    member = context.member
    person: Message | Literal = (
        Literal(member.display_name)
        if member.display_name
        else Message.of("polls.vote.member_number", number=member.id)
    )
    if record.fields.voters is not VotersAre.ORGANIZATIONS:
        return person
    affiliation = context.store.organizations.affiliation_of(member.id)
    if affiliation is None:
        return person
    organization = Literal(affiliation.organization.name)
    return Message.of("polls.vote.for_organization", person=person, organization=organization)


def changed(
    context: Context, record: PollRecord, before: tuple[int, ...], after: tuple[int, ...]
) -> list[Reply]:
    """An open ballot's vote changed from ``before`` to ``after``: a block chosen is
    reported and its reason asked for; a block taken back is reported too."""
    if record.fields.kind is not PollKind.PROPOSAL:
        return []
    was, now = BLOCK in before, BLOCK in after
    if was == now:
        return []
    who = voter_named(context, record)
    question = Literal(record.fields.question)
    if not now:
        context.store.polls.withdraw_block(record.id, context.member.id)
        log.info("poll_block_withdrawn poll=%d member=%d", record.id, context.member.id)
        notice = Message.of("polls.vote.block_withdrawn", number=record.id, who=who)
        return to_coordinators(context, record, Lines((notice, question)))
    context.store.polls.record_block(record.id, context.member.id, None)
    log.info("poll_block poll=%d member=%d", record.id, context.member.id)
    notice = Message.of("polls.vote.block_reported", number=record.id, who=who)
    ask = Message.of(
        "polls.vote.block_ask_reason", number=record.id, command=CommandRef("blockreason")
    )
    return [*to_coordinators(context, record, Lines((notice, question))), *privately(context, ask)]


def secret_blocks_at_close(context: Telling, record: PollRecord, blocks: int) -> list[Reply]:
    """How many blocks a secret ballot's proposal got, to its coordinators, at closing."""
    if record.fields.kind is not PollKind.PROPOSAL or blocks == 0:
        return []
    notice = Message.counted("polls.close.secret_blocks", blocks, number=record.id)
    return to_coordinators(context, record, Lines((notice, Literal(record.fields.question))))


# -- the reason ---------------------------------------------------------------------------


def prepare_reason(context: Context, command: Command) -> Mapping[str, Any]:
    """``/blockreason N``: only by a voter who blocked proposal N on an open ballot."""
    number = poll_number(command.args[0]) if len(command.args) == 1 else None
    if number is None:
        raise UserError("polls.vote.reason_usage", command=CommandRef("blockreason"))
    record = context.store.polls.get(number)
    if record is None or record.fields.kind is not PollKind.PROPOSAL:
        raise UserError("polls.vote.no_such_proposal", number=number)
    blocks = context.store.polls.blocks(record.id)
    if not any(block.member_id == context.member.id for block in blocks):
        raise UserError("polls.vote.no_block", number=record.id)
    return {"poll": record.id}


def _reason(text: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise InvalidAnswer("polls.vote.reason_empty")
    if len(cleaned) > REASON_MAX:
        raise InvalidAnswer("polls.vote.reason_too_long", limit=REASON_MAX)
    return cleaned


def _number(answers: Answers) -> Mapping[str, ParamValue]:
    return {"number": int(answers.get("poll") or 0)}


def reason_given(context: Context, answers: Answers) -> Sequence[Reply]:
    record = context.store.polls.get(int(answers.get("poll") or 0))
    if record is None:
        raise UserError("polls.vote.no_such_proposal", number=int(answers.get("poll") or 0))
    reason = Literal(str(answers.get("reason") or ""))
    context.store.polls.set_block_reason(record.id, context.member.id, reason.text)
    who = voter_named(context, record)
    notice = Message.of("polls.vote.block_reason", number=record.id, who=who)
    log.info("poll_block_reason poll=%d member=%d", record.id, context.member.id)
    said = Reply(Message.of("polls.vote.reason_sent", number=record.id))
    return [said, *to_coordinators(context, record, Lines((notice, reason)))]


REASON = Conversation(
    name="pollblock",
    title="polls.vote.reason_title",
    steps=(
        Step(
            "reason",
            prompt="polls.vote.reason_ask",
            label="polls.vote.reason_label",
            parse=_reason,
            prompt_params=_number,
        ),
    ),
    submit=reason_given,
    review=False,
)
