"""Answering a joint statement: the sign / decline / confirm / withdraw buttons and the
``/sign N``, ``/decline N`` and ``/withdrawsignature N`` commands.

Every press and command is checked against the store when it arrives
(:func:`handlers.statements.common.signing_of`): a button's value says which statement and
which version the member was shown, never for whom they may answer. A stale version's tag
is refused and the current text offered again. What the member is told goes to them
privately (:func:`handlers.statements.telling.privately`), never into a group room.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.context import Context, UserError
from bot.registry import Registry
from bot.types import Choice, ChoicePicked, Command, CommandRef, Literal, Message, Reply
from handlers.statements import common, forwarding
from handlers.statements.common import NotSigner, Signing, hash_tag
from handlers.statements.signing import (
    CONFIRM,
    DECLINE,
    FORWARD,
    SIGN,
    WITHDRAW,
    answer_buttons,
    button_value,
    count_edits,
    standing_counts,
    text_for,
)
from handlers.statements.telling import ask_for_private_chat, privately, reaches
from storage.statement_records import Answer, AnswerOutcome, StatementRecord, member_signer

log = logging.getLogger(__name__)


def register(registry: Registry) -> None:
    registry.choice(common.CHOICE, picked)
    registry.command("sign", sign_command, help_key="help.sign")
    registry.command("decline", decline_command, help_key="help.decline")
    registry.command("withdrawsignature", withdraw_command, help_key="help.withdrawsignature")


REFUSALS = {
    NotSigner.NOT_MEMBER: "statements.sign.not_member",
    NotSigner.NOT_SIGNATORY: "statements.sign.not_signatory",
    NotSigner.NO_ORGANIZATION: "statements.sign.no_organization",
}


def refused(context: Context, record: StatementRecord, signing: Signing) -> list[Reply]:
    """Why the member may not answer; a member of an organization who is not its signatory
    is offered to forward the request to its signatories."""
    reason = signing.refused or NotSigner.NOT_MEMBER
    log.info(
        "statement_answer_refused statement=%d member=%d reason=%s",
        record.id,
        context.member.id,
        reason,
    )
    text = Message.of(REFUSALS[reason], number=record.id)
    if reason is NotSigner.NOT_SIGNATORY:
        forward = Choice(
            button_value(FORWARD, record, tagged=False), Message.of("statements.forward.button")
        )
        return privately(context, text, (forward,))
    return privately(context, text)


def version_of_tag(context: Context, record: StatementRecord, tag: str | None) -> str | None:
    """The full hash of the version whose tag a button or command carries, if any."""
    if tag is None:
        return None
    for version in context.store.statements.versions(record.id):
        if hash_tag(version.text_hash) == tag.lower():
            return version.text_hash
    return None


def offer_current(context: Context, record: StatementRecord, headline: Message) -> list[Reply]:
    """The current text, privately, with the buttons that answer it."""
    text, media = text_for(context, record, context.member.language, headline)
    return privately(context, text, answer_buttons(record), media)


def answer(
    context: Context,
    record: StatementRecord,
    given: Answer,
    tag: str | None,
    *,
    signing: Signing | None = None,
) -> list[Reply]:
    """Record the member's answer for whomever they may answer for now (checked against the
    store, never taken from the button; ``signing`` only for the member's own signature,
    which they may always withdraw), and edit the rooms' count when it changed.

    A member the bot cannot tell privately (on Telegram, one who never wrote to it in a
    private chat) is asked to open a private chat, and nothing is recorded: they would not
    see what their answer did. A member whose own signature (given in their own name before
    a change of substance) waits confirms that one first, as withdrawing takes it first."""
    if not reaches(context):
        return ask_for_private_chat(context)
    now = context.store.now()
    if not common.is_open(record, now):
        return privately(context, Message.of("statements.sign.closed", number=record.id))
    if signing is None:
        signing = common.signing_of(context.store, record, context.member.id)
        if (
            given is Answer.SIGNED
            and signing.refused is not NotSigner.NOT_MEMBER
            and own_signature_waits(context, record)
        ):
            signing = Signing(member_signer(context.member.id))
    if signing.signer is None:
        return refused(context, record, signing)
    text_hash = version_of_tag(context, record, tag)
    if given is Answer.SIGNED and text_hash is None:
        return stale(context, record)
    before = standing_counts(context, record)
    outcome = context.store.statements.answer(
        record.id,
        signer=signing.signer,
        member_id=context.member.id,
        answer=given,
        text_hash=text_hash or record.current.text_hash,
        now=now,
    )
    log.info(
        "statement_answer statement=%d member=%d outcome=%s",
        record.id,
        context.member.id,
        outcome,
    )
    if outcome is AnswerOutcome.STALE:
        return stale(context, record)
    if outcome is AnswerOutcome.CLOSED:
        return privately(context, Message.of("statements.sign.closed", number=record.id))
    replies = privately(context, said(context, record, signing, outcome))
    if standing_counts(context, record) != before:
        replies.extend(count_edits(context, record))
    return replies


def own_signature_waits(context: Context, record: StatementRecord) -> bool:
    """Whether the member's own ``member:N`` signature waits for confirmation (they signed
    in their own name before a change of substance, whatever they belong to since)."""
    own = member_signer(context.member.id)
    return any(
        signature.signer == own and signature.waiting
        for signature in context.store.statements.signatures(record.id)
    )


def said(
    context: Context, record: StatementRecord, signing: Signing, outcome: AnswerOutcome
) -> Message:
    """What the member is told their answer did, naming the organization they answered for."""
    number = record.id
    if outcome is AnswerOutcome.WITHDRAWN and signing.signer == member_signer(context.member.id):
        affiliated = common.signing_of(context.store, record, context.member.id).organization_id
        key = (
            "statements.sign.withdrawn_own" if affiliated else "statements.sign.withdrawn_own_alone"
        )
        return Message.of(key, number=number)
    organization = (
        context.store.organizations.get(signing.organization_id)
        if signing.organization_id is not None
        else None
    )
    if organization is None:
        # In their own name: said to them as such, never as "yourself has signed".
        keys = {
            AnswerOutcome.SIGNED: "statements.sign.signed_own",
            AnswerOutcome.CONFIRMED: "statements.sign.confirmed_own",
            AnswerOutcome.ALREADY: "statements.sign.already_own",
            AnswerOutcome.DECLINED: "statements.sign.declined_own",
            AnswerOutcome.ALREADY_SIGNED: "statements.sign.already_signed_own",
            AnswerOutcome.ALREADY_DECLINED: "statements.sign.already_declined_own",
            AnswerOutcome.WITHDRAWN: "statements.sign.withdrawn_own_alone",
        }
        key = keys.get(outcome, "statements.sign.not_signed_own")
        return Message.of(
            key,
            number=number,
            version=record.current.number,
            command=CommandRef("withdrawsignature"),
        )
    who = Literal(organization.name)
    version = record.current.number
    if outcome is AnswerOutcome.SIGNED:
        return Message.of("statements.sign.signed", number=number, who=who, version=version)
    if outcome is AnswerOutcome.CONFIRMED:
        return Message.of("statements.sign.confirmed", number=number, who=who, version=version)
    if outcome is AnswerOutcome.ALREADY:
        return Message.of("statements.sign.already", number=number, who=who)
    if outcome is AnswerOutcome.DECLINED:
        return Message.of("statements.sign.declined", number=number, who=who)
    if outcome is AnswerOutcome.ALREADY_SIGNED:
        return Message.of(
            "statements.sign.already_signed",
            number=number,
            who=who,
            command=CommandRef("withdrawsignature"),
        )
    if outcome is AnswerOutcome.ALREADY_DECLINED:
        return Message.of("statements.sign.already_declined", number=number, who=who)
    if outcome is AnswerOutcome.WITHDRAWN:
        return Message.of("statements.sign.withdrawn", number=number, who=who)
    return Message.of("statements.sign.not_signed", number=number, who=who)


def stale(context: Context, record: StatementRecord) -> list[Reply]:
    """A signature for a text that is no longer the current one: refused, the current text
    offered again (with buttons carrying its tag)."""
    log.info("statement_answer_stale statement=%d member=%d", record.id, context.member.id)
    headline = Message.of("statements.sign.stale", number=record.id, version=record.current.number)
    return offer_current(context, record, headline)


def parse_value(payload: str) -> tuple[str, int, str | None] | None:
    """``<action>:<id>[:<hash tag>]`` (what follows ``statement:``)."""
    parts = payload.split(":")
    if len(parts) not in (2, 3) or not parts[1].isascii() or not parts[1].isdigit():
        return None
    if len(parts[1]) > 9 or int(parts[1]) == 0:
        return None
    return parts[0], int(parts[1]), parts[2] if len(parts) == 3 else None


def picked(context: Context, choice: ChoicePicked, payload: str) -> Sequence[Reply]:
    """A statement's button: sign, confirm, decline, withdraw or forward (asking a
    question is its own button, which begins ``/askstatement``)."""
    parsed = parse_value(payload)
    record = context.store.statements.get(parsed[1]) if parsed is not None else None
    if parsed is None or record is None:
        raise UserError("router.choice_expired", help=CommandRef("help"))
    action, _, tag = parsed
    if action in (SIGN, CONFIRM):
        return answer(context, record, Answer.SIGNED, tag)
    if action == DECLINE:
        return answer(context, record, Answer.DECLINED, tag)
    if action == WITHDRAW:
        return answer(context, record, Answer.WITHDRAWN, tag)
    if action == FORWARD:
        return forwarding.forward(context, record)
    raise UserError("router.choice_expired", help=CommandRef("help"))


def command_statement(context: Context, command: Command, usage: str) -> StatementRecord:
    if not command.args:
        raise UserError(usage, command=CommandRef(command.name))
    return common.find(context, command.args[0])


def sign_command(context: Context, command: Command) -> Sequence[Reply]:
    """``/sign N TAG``: sign the version whose tag the member was shown; ``/sign N``: the
    current text, privately, with its buttons (a signature binds a text the member read)."""
    record = command_statement(context, command, "statements.sign.usage")
    if len(command.args) < 2:
        if not common.is_open(record, context.store.now()):
            return privately(context, Message.of("statements.sign.closed", number=record.id))
        signing = common.signing_of(context.store, record, context.member.id)
        if signing.signer is None:
            return refused(context, record, signing)
        headline = Message.of(
            "statements.sign.offered",
            number=record.id,
            command=CommandRef("sign"),
            tag=hash_tag(record.current.text_hash),
        )
        return offer_current(context, record, headline)
    return answer(context, record, Answer.SIGNED, command.args[1])


def decline_command(context: Context, command: Command) -> Sequence[Reply]:
    record = command_statement(context, command, "statements.sign.decline_usage")
    return answer(context, record, Answer.DECLINED, None)


def withdraw_command(context: Context, command: Command) -> Sequence[Reply]:
    """``/withdrawsignature N``: the member's own signature when it is signed (an
    individual's signature outlives their joining an organization), else their
    organization's (any of its signatories may withdraw it)."""
    record = command_statement(context, command, "statements.sign.withdraw_usage")
    own = member_signer(context.member.id)
    if any(
        signature.signer == own and signature.answer is Answer.SIGNED
        for signature in context.store.statements.signatures(record.id)
    ):
        return answer(context, record, Answer.WITHDRAWN, None, signing=Signing(own))
    return answer(context, record, Answer.WITHDRAWN, None)
