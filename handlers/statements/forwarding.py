"""Forwarding a statement: a member of an organization who is not its signatory asks the
organization's signatories (those who may answer this statement) to answer it."""

from __future__ import annotations

import logging

from bot.context import Context
from bot.types import Literal, Message, Reply
from handlers.statements import common
from handlers.statements.common import NotSigner, eligible_signers
from handlers.statements.signing import answer_buttons, private_text
from handlers.statements.telling import ask_for_private_chat, privately, reaches
from storage.statement_records import StatementRecord, organization_signer

log = logging.getLogger(__name__)


def forward(context: Context, record: StatementRecord) -> list[Reply]:
    """Once per member and statement, each of their organization's signatories in the
    statement's scope is told privately, with the text and buttons; the member is told how
    many could be reached (a signatory who never wrote to the bot cannot). When none can
    be, the member is told so and nothing is noted: they may try again once one has written
    to the bot."""
    if not reaches(context):
        return ask_for_private_chat(context)
    if not common.is_open(record, context.store.now()):
        return privately(context, Message.of("statements.sign.closed", number=record.id))
    signing = common.signing_of(context.store, record, context.member.id)
    if signing.refused is not NotSigner.NOT_SIGNATORY or signing.organization_id is None:
        return privately(context, Message.of("statements.forward.not_needed", number=record.id))
    member = context.member
    who: Message | Literal = (
        Literal(member.display_name)
        if member.display_name
        else Message.of("statements.forward.member_number", number=member.id)
    )
    headline = Message.of("statements.forward.asked", number=record.id, who=who)
    signer = organization_signer(signing.organization_id)
    signatories = eligible_signers(context.store, record).get(signer, [])
    notices: list[Reply] = []
    reached = 0
    for member_id in signatories:
        sent = private_text(context, record, member_id, headline, answer_buttons(record))
        reached += bool(sent)
        notices.extend(sent)
    if not reached:
        log.info("statement_forward_unreachable statement=%d member=%d", record.id, member.id)
        return privately(context, Message.of("statements.forward.none_reachable", number=record.id))
    if not context.store.statements.note_once(record.id, member.id, "forward"):
        return privately(context, Message.of("statements.forward.already", number=record.id))
    log.info(
        "statement_forwarded statement=%d member=%d signatories=%d reached=%d",
        record.id,
        member.id,
        len(signatories),
        reached,
    )
    told = Message.counted("statements.forward.sent", reached, number=record.id)
    return [*privately(context, told), *notices]
