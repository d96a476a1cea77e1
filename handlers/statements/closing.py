"""Closing a joint statement: at its deadline (scheduled work ``statement.close``, done even
when the deadline passed while the bot was down) or by ``/closestatement N`` from a
coordinator of its group; once, whichever comes first (the store closes it by a conditional
update). Closing cancels the statement's scheduled work, tells its rooms the count and edits
their count post to the final figure, and gives each coordinator of the group (and whoever
closed or opened it), privately, the final text, the signatory list ready to paste (in the
statement's language) and the CSV.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from bot.context import Context, UserError
from bot.notices import notify_member
from bot.registry import NoLongerUseful, Registry
from bot.types import Command, CommandRef, Lines, Literal, Media, Message, Reply, Role, Text
from handlers.statements import signing
from handlers.statements.common import (
    CLOSE,
    CLOSE_LATENESS,
    Telling,
    coordinates,
    find,
    group_language,
    statement_rooms,
    text_body,
)
from handlers.statements.signatories import Listed, export_replies, heading, standing
from storage.scheduled import ScheduledRecord
from storage.statement_records import StatementRecord, StatementState

log = logging.getLogger(__name__)


def register(registry: Registry) -> None:
    registry.scheduled(CLOSE, close_due, lateness=CLOSE_LATENESS)
    registry.command(
        "closestatement",
        close_command,
        help_key="help.closestatement",
        role=Role.COORDINATOR,
    )


def close_command(context: Context, command: Command) -> Sequence[Reply]:
    """``/closestatement N``: stop signing before the deadline."""
    if len(command.args) != 1:
        raise UserError("statements.close.usage", command=CommandRef("closestatement"))
    record = find(context, command.args[0])
    if not coordinates(context, record):
        raise UserError("statements.close.not_yours", number=record.id)
    if record.state is StatementState.CLOSED:
        raise UserError("statements.close.already", number=record.id)
    replies = close_statement(context, record, closer=context.member.id)
    if not replies:
        raise UserError("statements.close.already", number=record.id)
    context.store.audit.record(
        "statement.closed",
        context.member.id,
        working_group_id=record.fields.working_group_id,
        detail={"statement": record.id},
    )
    log.info("statement_closed_by_command statement=%d member=%d", record.id, context.member.id)
    return [Reply(Message.of("statements.close.done", number=record.id)), *replies]


def close_due(context: Telling, row: ScheduledRecord) -> Sequence[Reply]:
    """The scheduler's handler of :data:`CLOSE` rows."""
    statement_id = row.target.get("statement")
    if not isinstance(statement_id, int):
        raise NoLongerUseful("a closing row without its statement")
    record = context.store.statements.get(statement_id)
    if record is None or record.state is StatementState.CLOSED:
        raise NoLongerUseful("the statement is gone or closed already")
    replies = close_statement(context, record)
    if not replies:
        raise NoLongerUseful("the statement was closed meanwhile")
    log.info("statement_closed_at_deadline statement=%d", statement_id)
    return replies


def close_statement(
    context: Telling, record: StatementRecord, *, closer: int | None = None
) -> list[Reply]:
    """Close ``record`` once and say so; nothing when it was closed already. ``closer`` is
    the member who closed it by command (told as the coordinators are)."""
    store = context.store
    closed = store.statements.close(record.id)
    if closed is None:
        return []
    store.scheduled.cancel_prefix(f"statement:{closed.id}:")
    entries = standing(store, closed)
    language = group_language(context, closed)
    told = Message.of(
        "statements.close.rooms",
        number=closed.id,
        title=Literal(closed.fields.title),
        signed=heading(entries),
    )
    replies = [Reply(told, to=room, language=language) for room in statement_rooms(closed)]
    replies.extend(signing.count_edits(context, closed))
    replies.extend(_to_coordinators(context, closed, entries, _recipients(context, closed, closer)))
    return replies


def _final_text(record: StatementRecord) -> tuple[Text, tuple[Media, ...]]:
    """The final version as a message (beside its document, or as a file when long)."""
    version = record.current
    body, media = text_body(
        record,
        version.text,
        version.file,
        record.fields.language,
        Message.of("statements.view.text_attached"),
    )
    return Lines((Message.of("statements.close.final_text", number=record.id), body)), media


def _recipients(context: Telling, record: StatementRecord, closer: int | None) -> list[int]:
    """Who gets the final text and the list, each once: the group's coordinators, the
    member who closed it, and the member who opened it (a network coordinator, say, who
    coordinates no group, or one who has stopped coordinating it)."""
    members = [
        *context.store.groups.coordinators_of(record.fields.working_group_id),
        *(m for m in (closer, record.created_by) if m is not None),
    ]
    return list(dict.fromkeys(members))


def _to_coordinators(
    context: Telling, record: StatementRecord, entries: Sequence[Listed], recipients: list[int]
) -> list[Reply]:
    """To each recipient's private chats: what happened (in their language), the final
    text, then the list to paste and the CSV (in the statement's language)."""
    store = context.store
    headline = Message.of(
        "statements.close.coordinators",
        number=record.id,
        title=Literal(record.fields.title),
        version=record.current.number,
        signed=heading(entries),
    )
    final, final_media = _final_text(record)
    exported = export_replies(record, entries)
    replies: list[Reply] = []
    for member_id in recipients:
        for notice in notify_member(
            store, member_id, headline, enabled=context.config.enabled_platforms
        ):
            replies.append(notice)
            replies.append(replace(notice, text=final, media=final_media))
            replies.extend(
                replace(notice, text=reply.text, media=reply.media, language=reply.language)
                for reply in exported
            )
    log.info(
        "statement_close_sent statement=%d signers=%d notices=%d",
        record.id,
        len(entries),
        len(replies),
    )
    return replies
