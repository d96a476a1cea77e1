"""Room links and relayed messages. These functions run inside a store transaction."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.types import Platform
from storage.errors import NotFoundError
from storage.groups import COMMAND, CONFIG
from storage.models import BridgedMessage, OutboxMessage, Room, WorkingGroup
from storage.records import (
    BridgedCopy,
    BridgedRef,
    DeliveryStatus,
    LinkOutcome,
    OutboxTarget,
    RoomLink,
)

PENDING = DeliveryStatus.PENDING.value

# -- links ------------------------------------------------------------------------------


def _link(room: Room) -> RoomLink:
    return RoomLink(
        Platform(room.platform), room.room_id, room.working_group_id, room.source == CONFIG
    )


def _room(session: Session, platform: Platform, room_id: str) -> Room | None:
    return session.scalars(
        select(Room).where(Room.platform == platform.value, Room.room_id == room_id)
    ).one_or_none()


def link_room_in(
    session: Session, platform: Platform, room_id: str, working_group_id: int, now: datetime
) -> LinkOutcome:
    if session.get(WorkingGroup, working_group_id) is None:
        raise NotFoundError(f"no working group with id {working_group_id}")
    room = _room(session, platform, room_id)
    if room is None:
        session.add(
            Room(
                platform=platform.value,
                room_id=room_id,
                working_group_id=working_group_id,
                source=COMMAND,
                created_at=now,
            )
        )
        session.flush()
        return LinkOutcome.LINKED
    if room.working_group_id == working_group_id:
        return LinkOutcome.ALREADY_LINKED
    if room.source == CONFIG:
        return LinkOutcome.LINKED_ELSEWHERE
    room.working_group_id = working_group_id
    session.flush()
    return LinkOutcome.MOVED


def unlink_room_in(session: Session, platform: Platform, room_id: str) -> LinkOutcome:
    room = _room(session, platform, room_id)
    if room is None:
        return LinkOutcome.NOT_LINKED
    if room.source == CONFIG:
        return LinkOutcome.CONFIGURED
    session.delete(room)
    session.flush()
    return LinkOutcome.UNLINKED


def rooms_of_group_in(session: Session, working_group_id: int | None) -> list[RoomLink]:
    statement = select(Room).order_by(Room.working_group_id, Room.platform, Room.room_id)
    if working_group_id is not None:
        statement = statement.where(Room.working_group_id == working_group_id)
    return [_link(room) for room in session.scalars(statement)]


# -- relayed messages -------------------------------------------------------------------


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


def record_bridged_message_in(
    session: Session,
    working_group_id: int,
    platform: Platform,
    room_id: str,
    message_id: str,
    kind: str,
    digest: str,
    now: datetime,
) -> int | None:
    if bridged_message_in(session, platform, room_id, message_id) is not None:
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


def bridged_message_in(
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


def set_bridged_digest_in(session: Session, bridged_id: int, digest: str) -> None:
    row = session.get(BridgedMessage, bridged_id)
    if row is None:
        raise NotFoundError(f"no bridged message with id {bridged_id}")
    row.digest = digest
    session.flush()


def bridged_copies_in(session: Session, bridged_id: int) -> list[BridgedCopy]:
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


def outbox_targets_in(session: Session, outbox_ids: Collection[int]) -> dict[int, OutboxTarget]:
    found = {
        row.id: (row.platform, row.room_id, row.status, row.platform_message_id)
        for row in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(outbox_ids)))
    }
    targets: dict[int, OutboxTarget] = {}
    for outbox_id, (platform, room_id, status, message_id) in found.items():
        shared = False
        if message_id is not None:
            shared = (
                session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(
                        OutboxMessage.platform == platform,
                        OutboxMessage.room_id == room_id,
                        OutboxMessage.platform_message_id == message_id,
                        OutboxMessage.bridge_part.is_not(None),
                    )
                )
                or 0
            ) > 1
        targets[outbox_id] = OutboxTarget(DeliveryStatus(status), message_id, shared)
    return targets
