"""The members' messages the bridge relayed, and their copies: ``store.bridge``.

Only ids are kept (and a digest of the last relayed text): enough for replies, edits and
deletions to find their counterparts in the other rooms. A copy is an outbox row that
names its original.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.types import Platform
from storage.errors import NotFoundError
from storage.models import BridgedMessage, OutboxMessage
from storage.outbox import checked_items, enqueue_outgoing_in
from storage.records import BridgedCopy, BridgedRef, DeliveryStatus
from storage.units import Area
from storage.validation import check_text


class BridgeStore(Area):
    """Relayed messages and where their copies went (``store.bridge``)."""

    def record_message(
        self,
        working_group_id: int,
        platform: Platform,
        room_id: str,
        message_id: str,
        digest: str,
        *,
        kind: str = "text",
    ) -> int | None:
        """Remember a member's message the bridge relays; ``None`` if it already was.

        ``kind`` is "text" or the kind of file it was."""
        platform = Platform(platform)
        check_text("room id", room_id, 255)
        check_text("message id", message_id, 255)
        check_text("kind", kind, 16)
        check_text("digest", digest, 64)
        return self._run(
            _record_message,
            working_group_id,
            platform,
            room_id,
            message_id,
            kind,
            digest,
            self._now(),
        )

    def message(self, platform: Platform, room_id: str, message_id: str) -> BridgedRef | None:
        """The relayed message a platform message is (the original) or carries (a copy)."""
        platform = Platform(platform)
        return self._run(_message, platform, room_id, message_id)

    def set_digest(self, bridged_id: int, digest: str) -> None:
        """The digest of a relayed message's text after an edit."""
        check_text("digest", digest, 64)
        self._run(_set_digest, bridged_id, digest)

    def copies_of(self, bridged_id: int) -> list[BridgedCopy]:
        """The outbox rows that carried a relayed message into other rooms, in order."""
        return self._run(_copies_of, bridged_id)

    def enqueue_copies(
        self,
        bridged_id: int | None,
        items: Sequence[tuple[Platform, str, Mapping[str, Any], int | None]],
    ) -> list[int]:
        """Owe messages like ``store.outbox.enqueue``; those with a part number are copies of
        ``bridged_id`` (part 0 first), the others (edits, deletions, notices) are not."""
        checked = checked_items([(platform, room, payload) for platform, room, payload, _ in items])
        if not checked:
            return []
        parts = [part for *_, part in items]
        return self._run(
            enqueue_outgoing_in, checked, self._now(), bridged_id=bridged_id, parts=parts
        )


def _ref(row: BridgedMessage, *, is_original: bool) -> BridgedRef:
    return BridgedRef(
        id=row.id,
        working_group_id=row.working_group_id,
        platform=Platform(row.platform),
        room_id=row.room_id,
        message_id=row.message_id,
        kind=row.kind,
        digest=row.digest,
        is_original=is_original,
    )


def _record_message(
    session: Session,
    working_group_id: int,
    platform: Platform,
    room_id: str,
    message_id: str,
    kind: str,
    digest: str,
    now: datetime,
) -> int | None:
    if _message(session, platform, room_id, message_id) is not None:
        return None
    row = BridgedMessage(
        working_group_id=working_group_id,
        platform=platform.value,
        room_id=room_id,
        message_id=message_id,
        kind=kind,
        digest=digest,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row.id


def _message(
    session: Session, platform: Platform, room_id: str, message_id: str
) -> BridgedRef | None:
    original = session.scalars(
        select(BridgedMessage).where(
            BridgedMessage.platform == platform.value,
            BridgedMessage.room_id == room_id,
            BridgedMessage.message_id == message_id,
        )
    ).one_or_none()
    if original is not None:
        return _ref(original, is_original=True)
    copy = session.scalars(
        select(BridgedMessage)
        .join(OutboxMessage, OutboxMessage.bridged_message_id == BridgedMessage.id)
        .where(
            OutboxMessage.platform == platform.value,
            OutboxMessage.room_id == room_id,
            OutboxMessage.platform_message_id == message_id,
        )
        .order_by(OutboxMessage.id)
        .limit(1)
    ).first()
    return None if copy is None else _ref(copy, is_original=False)


def _set_digest(session: Session, bridged_id: int, digest: str) -> None:
    row = session.get(BridgedMessage, bridged_id)
    if row is None:
        raise NotFoundError(f"no bridged message with id {bridged_id}")
    row.digest = digest
    session.flush()


def _copies_of(session: Session, bridged_id: int) -> list[BridgedCopy]:
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.bridged_message_id == bridged_id)
        .order_by(OutboxMessage.id)
    )
    return [
        BridgedCopy(
            outbox_id=row.id,
            platform=Platform(row.platform),
            room_id=row.room_id,
            part=row.bridge_part or 0,
            status=DeliveryStatus(row.status),
            platform_message_id=row.platform_message_id,
            delivered_at=row.delivered_at,
        )
        for row in rows
    ]
