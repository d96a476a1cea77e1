"""Importing consultations from calendars and feeds: ``/import URL``, ``/importfile``, and
the coordinators' notice of a configured feed's new items.

What is read is only shown here (how many items, their titles and dates): nothing is
published. :func:`on_new_items` and :func:`items_found` are where drafts will be made of
the items (``store.consultations.create_draft``) once consultations exist.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.config import AppConfig
from bot.context import Context, HandlerStore, UserError
from bot.conversation import Answers, Conversation, Json, Step
from bot.feed_fetch import FeedFetcher, FetchFailed, NotModified, url_problem
from bot.feed_polling import FeedPoller, Turns
from bot.feeds import FeedError, ImportedItem, parse_any
from bot.file_reads import FileUnreadable
from bot.i18n import Catalogs
from bot.notices import notify_coordinators
from bot.registry import Registry
from bot.types import Command, CommandRef, Lines, Literal, Message, Platform, Reply, Role
from storage import Store

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


def _when(item: ImportedItem) -> str:
    return item.starts_at.date().isoformat() if item.starts_at is not None else ""


def _item_lines(items: Sequence[ImportedItem]) -> list[Message | Literal]:
    lines: list[Message | Literal] = []
    for item in items[:SHOWN_ITEMS]:
        when = _when(item)
        if when:
            lines.append(Message.of("imports.item_dated", title=Literal(item.title), day=when))
        else:
            lines.append(Message.of("imports.item", title=Literal(item.title)))
    if len(items) > SHOWN_ITEMS:
        lines.append(Message.counted("imports.more", len(items) - SHOWN_ITEMS))
    return lines


def _group_name(store: HandlerStore, group_id: int) -> str:
    group = next((g for g in store.groups.all() if g.id == group_id), None)
    return group.name if group is not None else ""


def on_new_items(
    context: NoticeContext, group_id: int, items: Sequence[ImportedItem], *, source: str
) -> list[Reply]:
    """New items of the group's feed ``source``: offered to its coordinators in a notice.

    Called in the unit of work that marks the items seen."""
    if not items:
        return []
    text = Lines(
        (
            Message.counted(
                "imports.new_items",
                len(items),
                feed=Literal(source),
                group=Literal(_group_name(context.store, group_id)),
                command=CommandRef("import"),
            ),
            *_item_lines(items),
        )
    )
    notices = notify_coordinators(
        context.store, group_id, text, enabled=context.config.enabled_platforms
    )
    log.info("feed_items_offered group=%d items=%d notices=%d", group_id, len(items), len(notices))
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


def items_found(context: Context, items: Sequence[ImportedItem], source: str) -> list[Reply]:
    """The answer to an import: how many items, and which (where drafts will be made)."""
    if not items:
        return [Reply(Message.of("imports.none", source=Literal(source)))]
    found = Message.counted("imports.found", len(items), source=Literal(source))
    return [Reply(Lines((found, *_item_lines(items))))]


def _fetcher(config: AppConfig) -> FeedFetcher:
    return FeedFetcher(max_bytes=config.feeds.max_bytes, timeout=config.feeds.timeout_seconds)


def _read_url(context: Context, url: str) -> list[ImportedItem]:
    if url_problem(url) is not None:
        raise UserError("imports.bad_url", example=Literal("https://example.org/events.ics"))
    try:
        fetched = _fetcher(context.config).fetch(url)
    except FetchFailed as failure:
        log.info("import_fetch_failed member=%d reason=%r", context.member.id, failure.reason)
        raise UserError("imports.fetch_failed", reason=Literal(failure.reason)) from None
    if isinstance(fetched, NotModified):  # never asked conditionally; a server's whim
        raise UserError("imports.fetch_failed", reason=Literal("HTTP 304"))
    return _parsed(fetched.body)


def _parsed(data: bytes) -> list[ImportedItem]:
    try:
        return parse_any(data)
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
    items = _read_url(context, url)
    log.info("import_read member=%d items=%d", context.member.id, len(items))
    return items_found(context, items, url)


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
            items = _parsed(data)
            source = name if isinstance(name, str) and name else "file"
        elif isinstance(piece, str) and piece:
            items, source = _read_url(context, piece), piece
        else:
            continue
        log.info("import_read member=%d items=%d", context.member.id, len(items))
        replies.extend(items_found(context, items, source))
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
        offer=lambda feed, items: on_new_items(
            context, feed.working_group_id, items, source=feed.url
        ),
        report=lambda feed, reason: on_feed_failed(
            context, feed.working_group_id, reason, source=feed.url
        ),
    )
