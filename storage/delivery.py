"""Inbound events and the outbox. These functions run inside a store transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from bot.types import Platform
from storage.errors import NotFoundError
from storage.jsontext import decode_json_object
from storage.models import InboundEvent, OutboxMessage
from storage.records import DeliveryStatus, InboundRecord, OutboxRecord, OutboxStatus
from storage.upserts import insert_unless_present

PENDING = DeliveryStatus.PENDING.value
DELIVERED = DeliveryStatus.DELIVERED.value
FAILED = DeliveryStatus.FAILED.value

# What a handled event's payload becomes: the event stays (its key and sequence keep
# duplicates out and the cursor in place), its content goes.
EMPTY_PAYLOAD = "{}"


# -- inbound events ---------------------------------------------------------------------


def inbound_record(row: InboundEvent) -> InboundRecord:
    return InboundRecord(
        id=row.id,
        platform=Platform(row.platform),
        key=row.key,
        sequence=row.sequence,
        payload=decode_json_object(f"payload of inbound event {row.id}", row.payload),
        received_at=row.received_at,
        handled_at=row.handled_at,
    )


def record_inbound_in(
    session: Session,
    platform: Platform,
    key: str,
    sequence: int | None,
    payload: str,
    now: datetime,
) -> bool:
    return insert_unless_present(
        session,
        InboundEvent,
        {
            "platform": platform.value,
            "key": key,
            "sequence": sequence,
            "payload": payload,
            "received_at": now,
            "handled_at": None,
        },
        ("platform", "key"),
    )


def pending_inbound_in(session: Session, platform: Platform, limit: int) -> list[InboundRecord]:
    rows = session.scalars(
        select(InboundEvent)
        .where(InboundEvent.platform == platform.value, InboundEvent.handled_at.is_(None))
        # By the platform's own order (webhook calls may arrive out of it), then arrival.
        .order_by(InboundEvent.sequence.asc().nulls_last(), InboundEvent.id)
        .limit(limit)
    )
    return [inbound_record(row) for row in rows]


def claim_inbound_in(session: Session, platform: Platform, key: str) -> bool:
    """Lock the event's row for this transaction; False when it is already handled."""
    row = session.scalars(
        select(InboundEvent)
        .where(InboundEvent.platform == platform.value, InboundEvent.key == key)
        .with_for_update()
    ).one_or_none()
    return row is not None and row.handled_at is None


def mark_inbound_handled_in(session: Session, platform: Platform, key: str, now: datetime) -> None:
    row = session.scalars(
        select(InboundEvent)
        .where(InboundEvent.platform == platform.value, InboundEvent.key == key)
        .with_for_update()
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no inbound {platform.value} event with key {key!r}")
    if row.handled_at is None:
        row.handled_at = now
    row.payload = EMPTY_PAYLOAD
    session.flush()


def last_inbound_sequence_in(session: Session, platform: Platform) -> int | None:
    return session.scalar(
        select(func.max(InboundEvent.sequence)).where(InboundEvent.platform == platform.value)
    )


def prune_inbound_in(session: Session, platform: Platform, handled_before: datetime) -> int:
    last = last_inbound_sequence_in(session, platform)
    statement = delete(InboundEvent).where(
        InboundEvent.platform == platform.value,
        InboundEvent.handled_at.is_not(None),
        InboundEvent.handled_at < handled_before,
    )
    if last is not None:
        # The newest sequence is the cursor a restarted transport resumes from.
        statement = statement.where(
            or_(InboundEvent.sequence.is_(None), InboundEvent.sequence < last)
        )
    return len(session.scalars(statement.returning(InboundEvent.id)).all())


# -- outbox -----------------------------------------------------------------------------


def outbox_record(row: OutboxMessage) -> OutboxRecord:
    return OutboxRecord(
        id=row.id,
        platform=Platform(row.platform),
        room_id=row.room_id,
        payload=decode_json_object(f"payload of outbox message {row.id}", row.payload),
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        platform_message_id=row.platform_message_id,
        failure_reason=row.failure_reason,
    )


def enqueue_outgoing_in(
    session: Session,
    items: Sequence[tuple[Platform, str, str]],
    now: datetime,
    *,
    bridged_id: int | None = None,
    parts: Sequence[int | None] | None = None,
) -> list[int]:
    """Owed messages, in order; with ``parts``, those with a part number are copies of the
    relayed message ``bridged_id``."""
    numbered = parts if parts is not None else [None] * len(items)
    rows = [
        OutboxMessage(
            platform=platform.value,
            room_id=room_id,
            payload=payload,
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            bridged_message_id=bridged_id if part is not None else None,
            bridge_part=part,
        )
        for (platform, room_id, payload), part in zip(items, numbered, strict=True)
    ]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def pending_outgoing_in(
    session: Session, platform: Platform, limit: int, after_id: int
) -> list[OutboxRecord]:
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.platform == platform.value,
            OutboxMessage.status == PENDING,
            OutboxMessage.id > after_id,
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    return [outbox_record(row) for row in rows]


def _locked_message(session: Session, outbox_id: int) -> OutboxMessage:
    row = session.get(OutboxMessage, outbox_id, with_for_update=True)
    if row is None:
        raise NotFoundError(f"no outbox message with id {outbox_id}")
    return row


def mark_delivered_in(
    session: Session, outbox_id: int, platform_message_id: str | None, now: datetime
) -> None:
    row = _locked_message(session, outbox_id)
    if row.status == DELIVERED:
        return
    # Also from failed: a message given up on while it was being sent did arrive.
    row.status = DELIVERED
    row.delivered_at = now
    row.platform_message_id = platform_message_id
    row.payload = EMPTY_PAYLOAD  # what was said is the room's now, not the bot's to keep
    session.flush()


def record_delivery_attempt_in(
    session: Session, outbox_id: int, reason: str, next_attempt_at: datetime
) -> int:
    row = _locked_message(session, outbox_id)
    if row.status == PENDING:
        row.attempts += 1
        row.failure_reason = reason
        row.next_attempt_at = next_attempt_at
        session.flush()
    return row.attempts


def mark_failed_in(session: Session, outbox_id: int, reason: str) -> None:
    row = _locked_message(session, outbox_id)
    if row.status == PENDING:
        row.status = FAILED
        row.failure_reason = reason
        row.payload = EMPTY_PAYLOAD
        session.flush()


def outbox_status_in(session: Session, platform: Platform | None, since: datetime) -> OutboxStatus:
    where = [] if platform is None else [OutboxMessage.platform == platform.value]
    pending, oldest = session.execute(
        select(func.count(), func.min(OutboxMessage.created_at)).where(
            *where, OutboxMessage.status == PENDING
        )
    ).one()
    failed = session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(*where, OutboxMessage.status == FAILED)
    )
    delivered = session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(*where, OutboxMessage.status == DELIVERED, OutboxMessage.delivered_at >= since)
    )
    return OutboxStatus(
        pending=pending, failed=failed or 0, delivered=delivered or 0, oldest_pending_at=oldest
    )


def drop_pending_for_room_in(
    session: Session, platform: Platform, room_id: str, reason: str
) -> int:
    statement = (
        update(OutboxMessage)
        .where(
            OutboxMessage.platform == platform.value,
            OutboxMessage.room_id == room_id,
            OutboxMessage.status == PENDING,
        )
        .values(status=FAILED, failure_reason=reason, payload=EMPTY_PAYLOAD)
        .returning(OutboxMessage.id)
    )
    return len(session.scalars(statement).all())
