"""Reading joint statements: ``/statements`` lists the open and recent ones a member may
read; ``/statement N`` shows one (its state, deadline, version, the signatures that stand,
its translations and whether each is current, where it was published) with its text in
the reader's language; ``/published N URL`` records where a closed one was published."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from urllib.parse import urlsplit

from bot.context import Context, UserError
from bot.moments import moment
from bot.registry import Registry
from bot.types import Command, CommandRef, Lines, Literal, Message, Reply, Role
from handlers.statements import common, signing
from storage.statement_records import URL_MAX, StatementRecord, StatementState

log = logging.getLogger(__name__)

RECENT = timedelta(days=30)
"""How long a closed statement stays in ``/statements``."""


def register(registry: Registry) -> None:
    registry.command("statements", list_statements, help_key="help.statements")
    registry.command(
        "published", record_published, help_key="help.published", role=Role.COORDINATOR
    )


def _group_name(context: Context, group_id: int) -> Literal:
    group = context.store.groups.get(group_id)
    return Literal(group.name if group else str(group_id))


def _when(context: Context, record: StatementRecord) -> Message:
    reader = context.reader
    if record.state is StatementState.CLOSED:
        closed = record.closed_at or record.fields.deadline
        return Message.of(
            "statements.view.closed_on",
            when=Literal(moment(closed, reader.language, reader.time_zone)),
        )
    return Message.of(
        "statements.view.open_until",
        when=Literal(moment(record.fields.deadline, reader.language, reader.time_zone)),
    )


def readable_here(context: Context, record: StatementRecord) -> bool:
    """Whether the statement may be shown where the member asked: privately, whatever they
    may read; in a group room, only that room's own working group's statements (none in a
    room of no group), whoever asks, since the whole room reads the answer."""
    if not common.may_read(context, record):
        return False
    if context.origin.is_direct:
        return True
    group = context.working_group
    return group is not None and group.id == record.fields.working_group_id


def _counts(context: Context, record: StatementRecord) -> tuple[int, int, int]:
    """Organizations and individuals whose signature stands (as the rooms count them), and
    signatures waiting for confirmation after a change of substance."""
    organizations, individuals = signing.standing_counts(context, record)
    waiting = sum(1 for s in context.store.statements.signatures(record.id) if s.waiting)
    return organizations, individuals, waiting


# -- /statements ------------------------------------------------------------------------------


def list_statements(context: Context, command: Command) -> Sequence[Reply]:
    now = context.store.now()
    found = [
        record
        for record in context.store.statements.of_groups(None, closed_since=now - RECENT)
        if readable_here(context, record)
    ]
    if not found:
        return [Reply(Message.of("statements.view.none", create=CommandRef("statement")))]
    lines: list[Message | Literal] = [Message.of("statements.view.list_header")]
    for record in found:
        organizations, _ = signing.standing_counts(context, record)
        lines.append(
            Message.of(
                "statements.view.list_line",
                number=record.id,
                title=Literal(record.fields.title),
                group=_group_name(context, record.fields.working_group_id),
                state=_when(context, record),
                signed=Message.counted("statements.view.signed", organizations),
            )
        )
    lines.append(Message.of("statements.view.list_footer", show=CommandRef("statement")))
    return [Reply(Lines(tuple(lines)))]


# -- /statement N -----------------------------------------------------------------------------


def show_statement(context: Context, command: Command) -> Sequence[Reply]:
    record = common.find_readable(context, command.args[0])
    if not readable_here(context, record):
        # Another group's, asked in a room: the same answer as an unknown number.
        raise UserError("statements.no_such_statement", number=record.id)
    fields = record.fields
    version = record.current
    lines: list[Message | Literal] = [
        Message.of(
            "statements.view.heading",
            number=record.id,
            title=Literal(fields.title),
            group=_group_name(context, fields.working_group_id),
        ),
        _when(context, record),
        Message.of(
            "statements.view.version",
            version=version.number,
            tag=Literal(common.hash_tag(version.text_hash)),
            language=Message.of("language.native_name@" + fields.language),
        ),
    ]
    organizations, individuals, waiting = _counts(context, record)
    lines.append(Message.counted("statements.view.signed", organizations))
    if individuals:
        lines.append(Message.counted("statements.view.individuals", individuals))
    if waiting:
        lines.append(Message.counted("statements.view.waiting", waiting))
    for translation in context.store.statements.translations(record.id):
        lines.append(
            Message.of(
                "statements.view.translation_current"
                if translation.current
                else "statements.view.translation_out_of_date",
                language=Message.of("language.native_name@" + translation.language),
                version=translation.version_number,
            )
        )
    if record.published_url:
        lines.append(Message.of("statements.view.published", url=Literal(record.published_url)))
    read = common.reading(context.store, record, context.member.language)
    if read.original_instead:
        lines.append(
            Message.of(
                "statements.view.original_instead",
                language=Message.of("language.native_name@" + read.language),
            )
        )
    body, media = common.text_body(
        record, read.text, read.file, read.language, Message.of("statements.view.text_attached")
    )
    lines.append(body)
    return [Reply(Lines(tuple(lines)), media=media)]


# -- /published N URL -------------------------------------------------------------------------


def read_url(typed: str) -> str | None:
    """An http or https address with a host, on one line, or ``None``."""
    url = typed.strip()
    if not url or len(url) > URL_MAX or any(c.isspace() or ord(c) < 32 for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def record_published(context: Context, command: Command) -> Sequence[Reply]:
    if len(command.args) != 2:
        raise UserError("statements.published.usage", command=CommandRef("published"))
    record = common.find_coordinated(context, command.args[0], open_now=False)
    url = read_url(command.args[1])
    if url is None:
        raise UserError("statements.published.bad_url")
    if record.state is not StatementState.CLOSED:
        raise UserError(
            "statements.published.not_closed", number=record.id, close=CommandRef("closestatement")
        )
    published = context.store.statements.publish(record.id, url)
    if published is None:
        raise UserError(
            "statements.published.not_closed", number=record.id, close=CommandRef("closestatement")
        )
    context.store.audit.record(
        "statement.published",
        context.member.id,
        working_group_id=record.fields.working_group_id,
        detail={"statement": record.id},
    )
    log.info("statement_published statement=%d member=%d", record.id, context.member.id)
    return [
        Reply(
            Message.of(
                "statements.published.recorded", number=record.id, show=CommandRef("statement")
            )
        )
    ]
