"""Reminding before a statement's deadline: each ``statement.reminder`` row, once, privately
to the members of each eligible signer that has not answered."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.registry import NoLongerUseful, Registry
from bot.types import Reply
from handlers.statements import common
from handlers.statements.common import Telling, eligible_signers
from handlers.statements.signing import answer_buttons, private_request
from storage.scheduled import ScheduledRecord
from storage.statement_records import Answer, organization_of_signer

log = logging.getLogger(__name__)


def register(registry: Registry) -> None:
    registry.scheduled(common.REMINDER, remind_due, lateness=common.REMINDER_LATENESS)


def remind_due(context: Telling, row: ScheduledRecord) -> Sequence[Reply]:
    """A ``statement.reminder`` row: each eligible signer that has not answered (a waiting
    signature has not; a withdrawn one has: it took its signature back, knowingly) is
    reminded privately through its members, once per row; a member signing in their own
    name is not told about "your organization"."""
    statement_id = row.target.get("statement")
    hours = row.target.get("hours")
    if not isinstance(statement_id, int) or not isinstance(hours, int):
        raise NoLongerUseful("a reminder row without its statement")
    record = context.store.statements.get(statement_id)
    if record is None or not common.is_open(record, context.store.now()):
        raise NoLongerUseful("the statement is closed or past its deadline")
    answered = {
        signature.signer
        for signature in context.store.statements.signatures(record.id)
        if signature.stands or signature.answer in (Answer.DECLINED, Answer.WITHDRAWN)
    }
    replies: list[Reply] = []
    reminded = 0
    for signer, members in eligible_signers(context.store, record).items():
        if signer in answered:
            continue
        reminded += 1
        for member_id in members:
            if not context.store.statements.note_once(record.id, member_id, f"remind:{hours}"):
                continue
            key = (
                "statements.remind.headline"
                if organization_of_signer(signer) is not None
                else "statements.remind.headline_own"
            )
            replies.extend(private_request(context, record, member_id, key, answer_buttons(record)))
    log.info("statement_reminded statement=%d signers=%d", record.id, reminded)
    return replies
