"""The bridge: what a member posts in one of a working group's rooms reaches all the others.

It runs inside the router's transaction, like a handler: the relayed copies are put in the
outbox together with the record that the member's event was handled, so a crash neither
loses nor repeats a relay. Each copy remembers its original (``bridged_messages``), which
is how a later reply, edit or deletion finds its counterpart in every room, also after a
restart. What cannot be carried (a file too large, a location, an undecryptable event) is
never dropped silently: the other rooms are told in a short note.

What it queues are outgoing items (:mod:`bot.outgoing`), the same for every platform; each
target platform's planning (:mod:`bot.transports.planning`) cuts them into that platform's
messages, and its render module makes them payloads only when they are sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.i18n import Catalogs
from bot.media import relay_limit
from bot.outgoing import (
    Author,
    BotMessage,
    FileSource,
    MessageRef,
    OutboxRef,
    OutgoingItem,
    Ref,
    RelayedDeletion,
    RelayedEdit,
    RelayedMedia,
    RelayedNote,
    RelayedText,
)
from bot.outgoing_json import to_json
from bot.richtext import normalize
from bot.transports.planning import PLANNING
from bot.types import (
    Literal,
    MediaReceived,
    Message,
    MessageDeleted,
    MessageEdited,
    Origin,
    Platform,
    RichText,
    TextMessage,
    Unrelayable,
)
from storage import (
    BridgedCopy,
    BridgedRef,
    DeliveryStatus,
    RoomLink,
    Store,
    WorkingGroupRecord,
)

log = logging.getLogger(__name__)

DELETE_MARGIN = timedelta(minutes=10)
"""A copy this close to the end of its platform's delete window is treated as past it."""
NAME_LIMIT = 64
"""Longer display names are cut: a name is a header, not a message (and MSC4144 caps it)."""

Relayable = TextMessage | MediaReceived | MessageEdited | MessageDeleted | Unrelayable
_Row = tuple[Platform, str, dict[str, Any], int | None]
"""An outbox row to be: platform, room, stored item, part number (``None``: not a copy)."""


def _size_text(size: int | None) -> str:
    if size is None:
        return "?"
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(1, size // 1024)} KB"


def sender_key(platform: Platform, user_id: str, secret: bytes) -> str:
    """Tells senders apart on the other side without revealing their account: a keyed
    digest (a plain hash of a Telegram user id could be reversed by trying them all)."""
    data = f"{platform}:{user_id}".encode()
    return hmac.new(secret, data, hashlib.sha256).hexdigest()[:16]


def digest(rich: RichText, secret: bytes) -> str:
    """Tells whether an edit changed the text or its formatting; keyed, so that whoever reads
    the database cannot confirm a guessed text against it."""
    shown = normalize(rich)
    data = [shown.text, [[s.start, s.end, s.kind.value, s.value] for s in shown.spans]]
    encoded = json.dumps(data, ensure_ascii=False).encode()
    return hmac.new(secret, encoded, hashlib.sha256).hexdigest()


class Bridge:
    """Relays members' messages between the rooms of their working group."""

    def __init__(
        self,
        store: Store,
        catalogs: Catalogs,
        platforms: Sequence[Platform],
        default_language: str,
        secret: bytes,
    ) -> None:
        self._store = store
        self._secret = secret
        self._catalogs = catalogs
        self._platforms = frozenset(platforms) & frozenset(PLANNING)
        self._default_language = default_language

    def relay(self, group: WorkingGroupRecord, event: Relayable) -> None:
        origin = event.origin
        targets = [
            link
            for link in self._store.rooms.links(group.id)
            if link.platform in self._platforms
            and (link.platform, link.room_id) != (origin.platform, origin.room_id)
        ]
        if isinstance(event, TextMessage):
            self._text(group, event, targets)
        elif isinstance(event, MediaReceived):
            self._media(group, event, targets)
        elif isinstance(event, MessageEdited):
            self._edit(group, event)
        elif isinstance(event, MessageDeleted):
            self._delete(group, event)
        else:
            self._unrelayable(group, event, targets)

    # -- new messages -----------------------------------------------------------------------

    def _text(self, group: WorkingGroupRecord, event: TextMessage, targets: list[RoomLink]) -> None:
        fresh, original = self._remember(
            group, event.origin, event.message_id, self._digest(event.rich)
        )
        if not fresh:
            return
        replied = self._replied(event.origin, event.reply_to)
        author = self._author(group, event.origin)
        rows: list[_Row] = []
        for target in targets:
            reply = self._counterpart(replied, target)
            text = RelayedText(author, event.origin.platform, event.rich, reply)
            rows.extend(self._planned(target.platform, target.room_id, text, copies=True))
        self._store.bridge.enqueue_copies(original, rows)
        log.info("relayed kind=text group=%s rooms=%d", group.slug, len(targets))

    def _media(
        self, group: WorkingGroupRecord, event: MediaReceived, targets: list[RoomLink]
    ) -> None:
        fresh, original = self._remember(
            group, event.origin, event.message_id, self._digest(event.rich_caption), event.kind
        )
        if not fresh:
            return
        replied = self._replied(event.origin, event.reply_to)
        source = FileSource(
            platform=event.origin.platform,
            ref=event.file_ref,
            filename=event.filename,
            content_type=event.content_type,
            size=event.size,
        )
        author = self._author(group, event.origin)
        rows: list[_Row] = []
        for target in targets:
            notice = self._say(
                group,
                target.platform,
                Message.of(
                    "bridge.file_too_large",
                    name=Literal(event.filename or event.kind.value),
                    size=Literal(_size_text(event.size)),
                ),
            )
            reply = self._counterpart(replied, target)
            item: OutgoingItem
            if event.size is not None and event.size > relay_limit(
                event.origin.platform, target.platform
            ):
                item = RelayedNote(author, event.origin.platform, notice, reply)
            else:
                item = RelayedMedia(
                    author=author,
                    origin=event.origin.platform,
                    kind=event.kind,
                    source=source,
                    caption=event.rich_caption,
                    unavailable_note=notice,
                    reply_to=reply,
                )
            rows.extend(self._planned(target.platform, target.room_id, item, copies=True))
        self._store.bridge.enqueue_copies(original, rows)
        log.info("relayed kind=%s group=%s rooms=%d", event.kind, group.slug, len(targets))

    def _unrelayable(
        self, group: WorkingGroupRecord, event: Unrelayable, targets: list[RoomLink]
    ) -> None:
        rows: list[_Row] = []
        header = self._author(group, event.origin).header
        for target in targets:
            text = self._say(
                group,
                target.platform,
                Message.of(f"bridge.unrelayable.{event.kind.value}", sender=Literal(header)),
            )
            rows.extend(self._planned(target.platform, target.room_id, BotMessage(text)))
        self._store.bridge.enqueue_copies(None, rows)
        log.info("not_relayable kind=%s group=%s rooms=%d", event.kind, group.slug, len(targets))

    # -- changes to relayed messages ----------------------------------------------------------

    def _edit(self, group: WorkingGroupRecord, event: MessageEdited) -> None:
        origin = event.origin
        found = self._store.bridge.message(origin.platform, origin.room_id, event.message_id)
        if found is None or not found.is_original:
            return
        new_digest = self._digest(event.rich)
        if new_digest == found.digest:
            log.info("edit_unchanged group=%s", group.slug)
            return
        self._store.bridge.set_digest(found.id, new_digest)
        author = self._author(group, origin)
        rows: list[_Row] = []
        for (platform, room_id), parts in self._copies_by_room(group, found).items():
            edited = self._say(
                group, platform, Message.of("bridge.edited", sender=Literal(author.header))
            )
            edit = RelayedEdit(
                author=author,
                edited_header=edited,
                origin=origin.platform,
                rich=event.rich,
                target=OutboxRef(parts[0].outbox_id),
                of_caption=found.kind != "text",
                copy_parts=len(parts),
            )
            rows.extend(self._planned(platform, room_id, edit))
        self._store.bridge.enqueue_copies(None, rows)
        log.info("relayed kind=edit group=%s rooms=%d", group.slug, len(rows))

    def _delete(self, group: WorkingGroupRecord, event: MessageDeleted) -> None:
        origin = event.origin
        found = self._store.bridge.message(origin.platform, origin.room_id, event.message_id)
        if found is None or not found.is_original:
            return
        now = self._store.now()
        header = self._author(group, origin).header
        rows: list[_Row] = []
        kept_somewhere = False
        for (platform, room_id), copies in self._copies_by_room(group, found).items():
            planning = PLANNING.get(platform)
            window = None if planning is None else planning.delete_window
            for copy in copies:
                if window is not None and _too_old(copy.delivered_at, now, window):
                    kept_somewhere = True
                    if copy.part == 0:
                        notice = self._say(
                            group,
                            platform,
                            Message.of("bridge.delete_too_old", sender=Literal(header)),
                        )
                        rows.extend(self._planned(platform, room_id, BotMessage(notice)))
                    continue
                failed = self._say(
                    group, platform, Message.of("bridge.delete_failed", sender=Literal(header))
                )
                deletion = RelayedDeletion(OutboxRef(copy.outbox_id), failed)
                rows.extend(self._planned(platform, room_id, deletion))
        if kept_somewhere:
            # Whoever deleted it should know a copy stays where the bot cannot reach it (only
            # Telegram limits how long a bot may delete, hence the message's words).
            kept = self._say(group, origin.platform, Message.of("bridge.copy_kept_on_telegram"))
            rows.extend(self._planned(origin.platform, origin.room_id, BotMessage(kept)))
        self._store.bridge.enqueue_copies(None, rows)
        log.info("relayed kind=delete group=%s copies=%d", group.slug, len(rows))

    def _planned(
        self, platform: Platform, room_id: str, item: OutgoingItem, *, copies: bool = False
    ) -> list[_Row]:
        """The item as its platform's outbox rows; ``copies`` numbers them as the parts of the
        relayed message (a later reply, edit or deletion finds them by number)."""
        planning = PLANNING.get(platform)
        if planning is None:
            log.warning("no_outbox platform=%s", platform)
            return []
        return [
            (platform, room_id, to_json(part), index if copies else None)
            for index, part in enumerate(
                planning.parts(item, self._store.transports.callback_token)
            )
        ]

    # -- helpers ------------------------------------------------------------------------------

    def _remember(
        self,
        group: WorkingGroupRecord,
        origin: Origin,
        message_id: str | None,
        digest: str,
        kind: str = "text",
    ) -> tuple[bool, int | None]:
        """Whether the message is new to the bridge, and the id it is remembered by (none
        for a message without a platform id)."""
        if message_id is None:
            return True, None
        recorded = self._store.bridge.record_message(
            group.id, origin.platform, origin.room_id, message_id, digest, kind=kind
        )
        return recorded is not None, recorded

    def _digest(self, rich: RichText) -> str:
        return digest(rich, self._secret)

    def _replied(self, origin: Origin, reply_to: str | None) -> BridgedRef | None:
        if reply_to is None:
            return None
        return self._store.bridge.message(origin.platform, origin.room_id, reply_to)

    def _counterpart(self, replied: BridgedRef | None, target: RoomLink) -> Ref | None:
        """Where, in ``target``, the replied-to message is: the original, or its first copy."""
        if replied is None:
            return None
        if (replied.platform, replied.room_id) == (target.platform, target.room_id):
            return MessageRef(replied.message_id)
        for copy in self._store.bridge.copies_of(replied.id):
            here = (copy.platform, copy.room_id) == (target.platform, target.room_id)
            if here and copy.part == 0 and copy.status is not DeliveryStatus.FAILED:
                return OutboxRef(copy.outbox_id)
        return None

    def _copies_by_room(
        self, group: WorkingGroupRecord, found: BridgedRef
    ) -> dict[tuple[Platform, str], list[BridgedCopy]]:
        """The delivered or pending copies of a relayed message, part by part, per room
        still linked to its group (a room unlinked since hears no more of it)."""
        linked = {(link.platform, link.room_id) for link in self._store.rooms.links(group.id)}
        copies: dict[tuple[Platform, str], list[BridgedCopy]] = {}
        for copy in self._store.bridge.copies_of(found.id):
            room = (copy.platform, copy.room_id)
            if copy.status is not DeliveryStatus.FAILED and room in linked:
                copies.setdefault(room, []).append(copy)
        return copies

    def _language(self, group: WorkingGroupRecord) -> str:
        for language in group.languages:
            if language in self._catalogs.languages:
                return language
        return self._default_language

    def _say(self, group: WorkingGroupRecord, platform: Platform, message: Message) -> str:
        return self._catalogs.renderer(self._language(group), platform).text(message)

    def _author(self, group: WorkingGroupRecord, origin: Origin) -> Author:
        name = (origin.display_name or "").strip() or origin.user_id
        if len(name) > NAME_LIMIT:
            name = name[: NAME_LIMIT - 1] + "…"
        header = self._say(
            group,
            origin.platform,
            Message.of(
                "bridge.sender",
                name=Literal(_defused(name)),
                platform=Message.of(f"platform.{origin.platform.value}"),
            ),
        )
        key = sender_key(origin.platform, origin.user_id, self._secret)
        return Author(header=header, key=key)


SECRET_FILE = "sender-names.secret"  # noqa: S105  (a file name)


def installation_secret(data_dir: Path) -> bytes:
    """This installation's own random key (made at first use, readable by its user only)."""
    path = data_dir / SECRET_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    secret = secrets.token_bytes(32)
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it meanwhile
        return path.read_bytes()
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(secret)
        handle.flush()
        os.fsync(handle.fileno())
    return secret


def _defused(name: str) -> str:
    """A display name that cannot ping anyone: a word joiner after a leading "@"."""
    return name.replace("@", "@\u2060")


def _too_old(delivered_at: datetime | None, now: datetime, window: timedelta) -> bool:
    return delivered_at is not None and now - delivered_at > window - DELETE_MARGIN
