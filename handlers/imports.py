"""Importing consultations from calendars and feeds: ``/import URL``, ``/importfile``, and
the coordinators' notice of a configured feed's new items.

Each item not seen before (its ``source_uid``: across imports, polls and restarts) becomes
a draft consultation (``store.consultations.create_draft``) that a coordinator completes
and publishes with ``/newconsultation N``: nothing is published without a coordinator.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from bot.config import AppConfig
from bot.context import Context, HandlerStore, UserError
from bot.conversation import Answers, Conversation, Json, Step
from bot.feed_fetch import FeedFetcher, FetchFailed, NotModified, PrivateAddress, url_problem
from bot.feed_polling import FeedPoller, Turns, is_calendar
from bot.feeds import FeedError, ImportedItem, parse_any
from bot.file_reads import FileUnreadable
from bot.i18n import Catalogs
from bot.moments import day
from bot.notices import notify_coordinators, notify_member
from bot.registry import Registry
from bot.types import Command, CommandRef, Lines, Literal, Message, Platform, Reply, Role
from storage import Store
from storage.consultations import ConsultationDraft, ConsultationRecord

log = logging.getLogger(__name__)

SHOWN_ITEMS = 20
"""Items listed one by one in an answer or a notice; the rest are counted."""
PIECES_MAX = 5
"""Files (or addresses) one ``/importfile`` reads at most."""


class NoticeContext(Protocol):
    """What a notice about a feed needs: the handlers' store and the configuration."""

    @property
    def store(self) -> HandlerStore: ...

    @property
    def config(self) -> AppConfig: ...


@dataclass(frozen=True)
class FeedNoticeContext:
    """The circumstances of a feed poll, which no member's event started."""

    store: HandlerStore
    config: AppConfig


def draft_of(item: ImportedItem, *, calendar: bool, source: str) -> ConsultationDraft:
    """The draft an item starts: an event's start and end are the session's dates; an
    article's date is when it was published, neither a session nor a deadline (the deadline
    is the coordinator's to set). Without a link of its own, the item links to its source."""
    link = item.link or (source if url_problem(source) is None else None)
    return ConsultationDraft(
        title=item.title,
        link=link,
        summary=item.summary or None,
        starts_at=item.starts_at if calendar else None,
        ends_at=item.ends_at if calendar else None,
        source_uid=item.source_uid,
    )


def make_drafts(
    store: HandlerStore,
    items: Sequence[ImportedItem],
    *,
    calendar: bool,
    source: str,
    group_id: int | None,
) -> list[ConsultationRecord]:
    """A draft of each item not drafted before (the same ``source_uid``: by an earlier
    import or poll), concerning ``group_id`` when one is known; the drafts made."""
    made = []
    for item in items:
        record, new = store.consultations.create_draft(
            draft_of(item, calendar=calendar, source=source)
        )
        if not new:
            continue
        if group_id is not None:
            record = store.consultations.update(
                record.id, replace(record.fields, working_groups=(group_id,))
            )
        made.append(record)
    return made


def _draft_lines(
    drafts: Sequence[ConsultationRecord], language: str, time_zone: str | None
) -> list[Message | Literal]:
    lines: list[Message | Literal] = []
    for record in drafts[:SHOWN_ITEMS]:
        title = Literal(record.fields.title)
        starts = record.fields.starts_at
        if starts is not None:
            when = day(starts, language, time_zone)
            lines.append(Message.of("imports.draft_dated", number=record.id, title=title, day=when))
        else:
            lines.append(Message.of("imports.draft", number=record.id, title=title))
    if len(drafts) > SHOWN_ITEMS:
        lines.append(Message.counted("imports.more", len(drafts) - SHOWN_ITEMS))
    lines.append(Message.of("imports.complete_how", command=CommandRef("newconsultation")))
    return lines


def _group_name(store: HandlerStore, group_id: int) -> str:
    group = store.groups.get(group_id)
    return group.name if group is not None else ""


def on_new_items(
    context: NoticeContext,
    group_id: int,
    items: Sequence[ImportedItem],
    *,
    source: str,
    calendar: bool = False,
) -> list[Reply] | None:
    """New items of the group's feed ``source``: each not drafted before becomes a draft
    of the group, offered to its coordinators in a notice (in each one's language and time
    zone); ``None`` when every item was drafted before (nothing to tell).

    Called in the unit of work that marks the items seen."""
    drafts = make_drafts(context.store, items, calendar=calendar, source=source, group_id=group_id)
    if not drafts:
        return None
    group = Literal(_group_name(context.store, group_id))
    notices: list[Reply] = []
    for member_id in context.store.groups.coordinators_of(group_id):
        member = context.store.members.get(member_id)
        if member is None:
            continue
        zone = member.time_zone or context.config.time_zone
        text = Lines(
            (
                Message.counted(
                    "imports.new_drafts", len(drafts), feed=Literal(source), group=group
                ),
                *_draft_lines(drafts, member.language, zone),
            )
        )
        notices.extend(
            notify_member(context.store, member_id, text, enabled=context.config.enabled_platforms)
        )
    log.info(
        "feed_drafts_offered group=%d items=%d drafts=%d notices=%d",
        group_id,
        len(items),
        len(drafts),
        len(notices),
    )
    return notices


def on_feed_failed(
    context: NoticeContext, group_id: int, reason: str, *, source: str
) -> list[Reply]:
    """The group's feed ``source`` could not be read: its coordinators are told, once."""
    text = Message.of(
        "imports.feed_failed",
        feed=Literal(source),
        group=Literal(_group_name(context.store, group_id)),
        reason=Literal(reason),
    )
    return notify_coordinators(
        context.store, group_id, text, enabled=context.config.enabled_platforms
    )


def items_found(
    context: Context, items: Sequence[ImportedItem], source: str, *, calendar: bool = False
) -> list[Reply]:
    """The answer to an import: a draft of each item not drafted before, listed with how
    to complete one. The drafts concern the coordinator's group when they coordinate one."""
    if not items:
        return [Reply(Message.of("imports.none", source=Literal(source)))]
    groups = context.groups_where(Role.COORDINATOR)
    group_id = groups[0].id if len(groups) == 1 else None
    drafts = make_drafts(context.store, items, calendar=calendar, source=source, group_id=group_id)
    log.info(
        "import_drafts member=%d items=%d drafts=%d", context.member.id, len(items), len(drafts)
    )
    if not drafts:
        return [Reply(Message.counted("imports.nothing_new", len(items), source=Literal(source)))]
    reader = context.reader
    made = Message.counted("imports.drafts_made", len(drafts), source=Literal(source))
    return [Reply(Lines((made, *_draft_lines(drafts, reader.language, reader.time_zone))))]


def _fetcher(config: AppConfig) -> FeedFetcher:
    return FeedFetcher(
        max_bytes=config.feeds.max_bytes,
        timeout=config.feeds.timeout_seconds,
        public_only=not config.feeds.allow_private_hosts,
    )


def _read_url(context: Context, url: str) -> tuple[list[ImportedItem], bool]:
    if url_problem(url) is not None:
        raise UserError("imports.bad_url", example=Literal("https://example.org/events.ics"))
    try:
        fetched = _fetcher(context.config).fetch(url)
    except PrivateAddress:
        log.info("import_refused_private member=%d", context.member.id)
        raise UserError("imports.private_address") from None
    except FetchFailed as failure:
        log.info("import_fetch_failed member=%d reason=%r", context.member.id, failure.reason)
        raise UserError("imports.fetch_failed", reason=Literal(failure.reason)) from None
    if isinstance(fetched, NotModified):  # never asked conditionally; a server's whim
        raise UserError("imports.fetch_failed", reason=Literal("HTTP 304"))
    return _parsed(fetched.body)


def _parsed(data: bytes) -> tuple[list[ImportedItem], bool]:
    """The items, and whether they are a calendar's events."""
    try:
        return parse_any(data), is_calendar(data)
    except FeedError as error:
        raise UserError("imports.unreadable", reason=Literal(error.reason)) from None


def import_command(context: Context, command: Command) -> Sequence[Reply]:
    """``/import URL``: read the calendar or feed at URL and say what it holds."""
    if len(command.args) != 1:
        return [
            Reply(
                Message.of(
                    "imports.usage",
                    command=CommandRef("import"),
                    file_command=CommandRef("importfile"),
                )
            )
        ]
    url = command.args[0].strip("<>")
    items, calendar = _read_url(context, url)
    log.info("import_read member=%d items=%d", context.member.id, len(items))
    return items_found(context, items, url, calendar=calendar)


def _piece(text: str) -> Json:
    return text.strip()


def file_imported(context: Context, answers: Answers) -> Sequence[Reply]:
    """``/importfile``'s end: each file (or address) sent, read and answered."""
    pieces = answers.get("files")
    replies: list[Reply] = []
    for piece in (pieces if isinstance(pieces, list) else [pieces])[:PIECES_MAX]:
        file = piece.get("file") if isinstance(piece, dict) else None
        if isinstance(file, dict):
            platform, ref = file.get("platform"), file.get("ref")
            name = file.get("filename")
            if platform not in {p.value for p in Platform} or not isinstance(ref, str):
                raise UserError("imports.file_unreadable")
            try:
                data = context.file_reads.read(
                    Platform(str(platform)), ref, context.config.feeds.max_bytes
                )
            except FileUnreadable:
                raise UserError("imports.file_unreadable") from None
            items, calendar = _parsed(data)
            source = name if isinstance(name, str) and name else "file"
        elif isinstance(piece, str) and piece:
            (items, calendar), source = _read_url(context, piece), piece
        else:
            continue
        log.info("import_read member=%d items=%d", context.member.id, len(items))
        replies.extend(items_found(context, items, source, calendar=calendar))
    return replies or [Reply(Message.of("imports.nothing_sent"))]


IMPORT_FILE = Conversation(
    name="importfile",
    title="imports.file_title",
    steps=(
        Step(
            "files",
            prompt="imports.file_ask",
            label="imports.file_label",
            parse=_piece,
            hint="imports.file_hint",
            gather=True,
            accepts_media=True,
            max_items=PIECES_MAX,
        ),
    ),
    submit=file_imported,
    role=Role.COORDINATOR,
    review=False,
)


def register(registry: Registry) -> None:
    registry.command(
        "import", import_command, help_key="help.import", role=Role.COORDINATOR, direct_only=True
    )
    registry.conversation(IMPORT_FILE, command="importfile", help_key="help.importfile")


def feed_poller(config: AppConfig, store: Store, catalogs: Catalogs, turns: Turns) -> FeedPoller:
    """The loop polling the configured feeds, its notices made here."""
    context = FeedNoticeContext(HandlerStore.of(store), config)
    return FeedPoller(
        config,
        store,
        catalogs,
        turns,
        offer=lambda feed, items, calendar: on_new_items(
            context, feed.working_group_id, items, source=feed.url, calendar=calendar
        ),
        report=lambda feed, reason: on_feed_failed(
            context, feed.working_group_id, reason, source=feed.url
        ),
    )
