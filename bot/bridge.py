"""The bridge: what a member posts in one of a working group's rooms reaches all the others.

It runs inside the router's transaction, like a handler: the relayed copies are put in the
outbox together with the record that the member's event was handled, so a crash neither
loses nor repeats a relay. Each copy remembers its original (``bridged_messages``), which
is how a later reply, edit or deletion finds its counterpart in every room, also after a
restart. What cannot be carried (a file too large, a location, an undecryptable event) is
never dropped silently: the other rooms are told in a short note.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot import bridge_format as fmt
from bot.i18n import Catalogs
from bot.media import MATRIX_UPLOAD_LIMIT, TELEGRAM_DOWNLOAD_LIMIT, TELEGRAM_UPLOAD_LIMIT
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

TELEGRAM_DELETE_WINDOW = timedelta(hours=48)
"""Telegram lets a bot delete a message in a group only while it is under 48 hours old."""
DELETE_MARGIN = timedelta(minutes=10)
NAME_LIMIT = 64
"""Longer display names are cut: a name is a header, not a message (and MSC4144 caps it)."""

Relayable = TextMessage | MediaReceived | MessageEdited | MessageDeleted | Unrelayable
_Item = tuple[Platform, str, dict[str, Any], int | None]


def _size_text(size: int | None) -> str:
    if size is None:
        return "?"
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(1, size // 1024)} KB"


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
        self._platforms = frozenset(platforms)
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
            group, event.origin, event.message_id, fmt.digest(event.rich)
        )
        if not fresh:
            return
        replied = self._replied(event.origin, event.reply_to)
        items: list[_Item] = []
        for target in targets:
            sender = self._sender(group, event.origin)
            reply = self._counterpart(replied, target)
            if target.platform is Platform.TELEGRAM:
                payloads = fmt.telegram_texts(
                    sender, _for_telegram(event.origin, event.rich), reply
                )
            else:
                payloads = [fmt.matrix_text(sender, event.origin.platform, event.rich, reply)]
            items.extend(
                (target.platform, target.room_id, payload, part)
                for part, payload in enumerate(payloads)
            )
        self._store.bridge.enqueue_copies(original, items)
        log.info("relayed kind=text group=%s rooms=%d", group.slug, len(targets))

    def _media(
        self, group: WorkingGroupRecord, event: MediaReceived, targets: list[RoomLink]
    ) -> None:
        fresh, original = self._remember(
            group, event.origin, event.message_id, fmt.digest(event.rich_caption), event.kind
        )
        if not fresh:
            return
        replied = self._replied(event.origin, event.reply_to)
        source = {
            "platform": event.origin.platform.value,
            "ref": event.file_ref,
            "filename": event.filename,
            "content_type": event.content_type,
            "size": event.size,
        }
        items: list[_Item] = []
        for target in targets:
            sender = self._sender(group, event.origin)
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
            too_large = event.size is not None and event.size > self._limit(
                event.origin.platform, target.platform
            )
            payloads: list[dict[str, Any]]
            if too_large and target.platform is Platform.TELEGRAM:
                payloads = [fmt.telegram_note(sender, notice, reply)]
            elif too_large:
                payloads = [fmt.matrix_note(sender, event.origin.platform, notice, reply)]
            elif target.platform is Platform.TELEGRAM:
                caption = _for_telegram(event.origin, event.rich_caption)
                payloads = fmt.telegram_media(sender, event.kind, source, caption, reply, notice)
            else:
                payloads = [
                    fmt.matrix_media(
                        sender,
                        event.origin.platform,
                        event.kind,
                        source,
                        event.rich_caption,
                        reply,
                        notice,
                    )
                ]
            items.extend(
                (target.platform, target.room_id, payload, part)
                for part, payload in enumerate(payloads)
            )
        self._store.bridge.enqueue_copies(original, items)
        log.info("relayed kind=%s group=%s rooms=%d", event.kind, group.slug, len(targets))

    @staticmethod
    def _limit(source: Platform, target: Platform) -> int:
        limit = TELEGRAM_UPLOAD_LIMIT if target is Platform.TELEGRAM else MATRIX_UPLOAD_LIMIT
        if source is Platform.TELEGRAM:
            limit = min(limit, TELEGRAM_DOWNLOAD_LIMIT)
        return limit

    def _unrelayable(
        self, group: WorkingGroupRecord, event: Unrelayable, targets: list[RoomLink]
    ) -> None:
        items: list[_Item] = []
        for target in targets:
            header = self._sender(group, event.origin).header
            text = self._say(
                group,
                target.platform,
                Message.of(f"bridge.unrelayable.{event.kind.value}", sender=Literal(header)),
            )
            items.append((target.platform, target.room_id, {"text": text, "choices": []}, None))
        self._store.bridge.enqueue_copies(None, items)
        log.info("not_relayable kind=%s group=%s rooms=%d", event.kind, group.slug, len(targets))

    # -- changes to relayed messages ----------------------------------------------------------

    def _edit(self, group: WorkingGroupRecord, event: MessageEdited) -> None:
        origin = event.origin
        found = self._store.bridge.message(origin.platform, origin.room_id, event.message_id)
        if found is None or not found.is_original:
            return
        new_digest = fmt.digest(event.rich)
        if new_digest == found.digest:
            log.info("edit_unchanged group=%s", group.slug)
            return
        self._store.bridge.set_digest(found.id, new_digest)
        sender = self._sender(group, origin)
        items: list[_Item] = []
        for (platform, room_id), parts in self._copies_by_room(group, found).items():
            target: dict[str, Any] = {"outbox": parts[0].outbox_id}
            edited = self._say(
                group, platform, Message.of("bridge.edited", sender=Literal(sender.header))
            )
            # Where an edit cannot replace the copy, the new text follows as an answer to it.
            marked = fmt.Sender(header=edited, key=sender.key)
            payloads: list[dict[str, Any]]
            if platform is Platform.TELEGRAM:
                rich = _for_telegram(origin, event.rich)
                caption = found.kind != "text"
                if len(parts) == 1 and fmt.telegram_fits_one_message(sender, rich, caption=caption):
                    payloads = [fmt.telegram_edit(sender, rich, target, edited)]
                else:
                    payloads = fmt.telegram_texts(marked, rich, target)
            elif found.kind != "text":
                # A caption: replacing a file's event with text would hide the file.
                payloads = [fmt.matrix_text(marked, origin.platform, event.rich, target)]
            else:
                payloads = [fmt.matrix_edit(sender, origin.platform, event.rich, target)]
            items.extend((platform, room_id, payload, None) for payload in payloads)
        self._store.bridge.enqueue_copies(None, items)
        log.info("relayed kind=edit group=%s rooms=%d", group.slug, len(items))

    def _delete(self, group: WorkingGroupRecord, event: MessageDeleted) -> None:
        origin = event.origin
        found = self._store.bridge.message(origin.platform, origin.room_id, event.message_id)
        if found is None or not found.is_original:
            return
        now = self._store.now()
        header = self._sender(group, origin).header
        items: list[_Item] = []
        kept_on_telegram = False
        for (platform, room_id), copies in self._copies_by_room(group, found).items():
            for copy in copies:
                target = {"outbox": copy.outbox_id}
                if platform is Platform.MATRIX:
                    items.append((platform, room_id, fmt.matrix_delete(target), None))
                    continue
                if _too_old(copy.delivered_at, now):
                    kept_on_telegram = True
                    if copy.part == 0:
                        notice = self._say(
                            group,
                            platform,
                            Message.of("bridge.delete_too_old", sender=Literal(header)),
                        )
                        items.append((platform, room_id, {"text": notice, "choices": []}, None))
                    continue
                failed = self._say(
                    group, platform, Message.of("bridge.delete_failed", sender=Literal(header))
                )
                items.append((platform, room_id, fmt.telegram_delete(target, failed), None))
        if kept_on_telegram:
            # Whoever deleted it should know a copy stays where the bot cannot reach it.
            kept = self._say(group, origin.platform, Message.of("bridge.copy_kept_on_telegram"))
            items.append((origin.platform, origin.room_id, {"text": kept, "choices": []}, None))
        self._store.bridge.enqueue_copies(None, items)
        log.info("relayed kind=delete group=%s copies=%d", group.slug, len(items))

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

    def _replied(self, origin: Origin, reply_to: str | None) -> BridgedRef | None:
        if reply_to is None:
            return None
        return self._store.bridge.message(origin.platform, origin.room_id, reply_to)

    def _counterpart(self, replied: BridgedRef | None, target: RoomLink) -> dict[str, Any] | None:
        """Where, in ``target``, the replied-to message is: the original, or its first copy."""
        if replied is None:
            return None
        if (replied.platform, replied.room_id) == (target.platform, target.room_id):
            return {"message": replied.message_id}
        for copy in self._store.bridge.copies_of(replied.id):
            here = (copy.platform, copy.room_id) == (target.platform, target.room_id)
            if here and copy.part == 0 and copy.status is not DeliveryStatus.FAILED:
                return {"outbox": copy.outbox_id}
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

    def _sender(self, group: WorkingGroupRecord, origin: Origin) -> fmt.Sender:
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
        key = fmt.sender_key(origin.platform, origin.user_id, self._secret)
        return fmt.Sender(header=header, key=key)


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


def _for_telegram(origin: Origin, rich: RichText) -> RichText:
    """Text from Matrix as Telegram must show it: no Matrix id taken for a username."""
    return fmt.defuse_matrix_ids(rich) if origin.platform is Platform.MATRIX else rich


def _too_old(delivered_at: datetime | None, now: datetime) -> bool:
    return delivered_at is not None and now - delivered_at > TELEGRAM_DELETE_WINDOW - DELETE_MARGIN
