"""Inbound platform events, kept before the platform is told they arrived: ``store.inbox``.

An event is recorded (once: its platform key keeps duplicates out), claimed by the one
process that handles it, marked handled in the same unit of work as its effects, and
pruned later; the highest sequence stays, as the cursor a restarted transport resumes from.
An event may be recorded as waiting (a Matrix event whose room key has not come): it is
kept, but not among the pending events the inbox hands over, until it is made ready.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from bot.types import Platform
from storage.errors import NotFoundError
from storage.jsontext import decode_json_object, encode_json_object
from storage.models import InboundEvent
from storage.records import InboundRecord
from storage.units import Area
from storage.upserts import insert_many_unless_present, insert_unless_present
from storage.validation import check_aware, check_int, check_text

# What a handled event's payload becomes: the event stays (its key and sequence keep
# duplicates out and the cursor in place), its content goes.
EMPTY_PAYLOAD = "{}"


class InboxStore(Area):
    """Raw events of each platform, from arrival until handled (``store.inbox``)."""

    def record(
        self,
        platform: Platform,
        key: str,
        sequence: int | None,
        payload: Mapping[str, Any],
        *,
        waiting: bool = False,
        direct: bool = False,
    ) -> bool:
        """Keep a raw event before the platform is told it arrived; False if already kept.

        ``key`` identifies the event on its platform; ``sequence`` is the platform's own
        counter, if any (Telegram's ``update_id``). A duplicate changes nothing. A
        ``waiting`` event is kept but not pending until :meth:`make_ready`. A ``direct``
        event (from a private chat) is handed over before group traffic.
        """
        platform = Platform(platform)
        check_text("event key", key, 255)
        if sequence is not None:
            check_int("event sequence", sequence, minimum=-(2**63))
        text = encode_json_object("event payload", payload)
        return self._run(_record, platform, key, sequence, text, waiting, direct, self._now())

    def record_many(
        self,
        platform: Platform,
        events: Sequence[tuple[str, int | None, Mapping[str, Any], bool]],
    ) -> int:
        """:meth:`record` for several ready events of one platform (``key``, ``sequence``,
        ``payload``, ``direct`` each), in one transaction: all kept, or none. How many were
        new."""
        platform = Platform(platform)
        rows: list[tuple[str, int | None, str, bool]] = []
        for key, sequence, payload, direct in events:
            check_text("event key", key, 255)
            if sequence is not None:
                check_int("event sequence", sequence, minimum=-(2**63))
            rows.append((key, sequence, encode_json_object("event payload", payload), direct))
        return self._run(_record_many, platform, rows, self._now())

    def pending(self, platform: Platform, limit: int = 100) -> list[InboundRecord]:
        """Events of the platform ready and not handled yet: those from private chats
        first, then the others, each oldest first (in order of arrival); waiting events are
        not among them."""
        platform = Platform(platform)
        check_int("limit", limit, minimum=1)
        return self._run(_pending, platform, limit, False)

    def pending_of(
        self, platforms: Sequence[Platform], limit: int = 100
    ) -> dict[Platform, list[InboundRecord]]:
        """:meth:`pending` for several platforms at once, each in its own order, read in one
        unit of work (the inbox asks this on every pass)."""
        chosen = tuple(Platform(platform) for platform in platforms)
        check_int("limit", limit, minimum=1)
        return self._run(_pending_of, chosen, limit)

    def waiting(self, platform: Platform, limit: int = 100) -> list[InboundRecord]:
        """Events of the platform kept as waiting, oldest first."""
        platform = Platform(platform)
        check_int("limit", limit, minimum=1)
        return self._run(_pending, platform, limit, True)

    def make_ready(self, platform: Platform, key: str, payload: Mapping[str, Any]) -> bool:
        """Turn a waiting event into a pending one whose payload is ``payload`` (it keeps its
        place in the order of arrival); False when the event is not waiting (unknown, ready
        already, or handled)."""
        platform = Platform(platform)
        check_text("event key", key, 255)
        text = encode_json_object("event payload", payload)
        return self._run(_make_ready, platform, key, text)

    def settle_waiting(self, platform: Platform, key: str) -> bool:
        """A waiting event that needs nothing after all: record it as handled (its payload
        wiped); False when the event is not waiting (unknown, ready, or handled), since a
        ready event is the dispatcher's to mark."""
        platform = Platform(platform)
        check_text("event key", key, 255)
        return self._run(_settle_waiting, platform, key, self._now())

    def claim(self, platform: Platform, key: str) -> bool:
        """Take an inbound event for handling in the current unit of work.

        The row stays locked until the unit ends, so a second process handling the same
        event waits, then finds it handled and gets ``False``.
        """
        return self._run(_claim, platform, key)

    def mark_handled(self, platform: Platform, key: str) -> None:
        """Record that the event was handled, and forget its payload (it becomes ``{}``).

        Marking it again changes nothing. Raises :class:`NotFoundError` for an unknown key.
        """
        platform = Platform(platform)
        check_text("event key", key, 255)
        self._run(_mark_handled, platform, key, self._now())

    def last_sequence(self, platform: Platform) -> int | None:
        """The highest sequence ever recorded for the platform, handled or not."""
        platform = Platform(platform)
        return self._run(_last_sequence, platform)

    def prune(self, platform: Platform, handled_before: datetime) -> int:
        """Delete events handled before ``handled_before``; returns how many went.

        The event with the highest sequence always stays, so that :meth:`last_sequence`
        survives. Unhandled events are never deleted.
        """
        platform = Platform(platform)
        check_aware("handled_before", handled_before)
        return self._run(_prune, platform, handled_before)


def _inbound_record(row: InboundEvent) -> InboundRecord:
    return InboundRecord(
        id=row.id,
        platform=Platform(row.platform),
        key=row.key,
        sequence=row.sequence,
        payload=decode_json_object(f"payload of inbound event {row.id}", row.payload),
        received_at=row.received_at,
        handled_at=row.handled_at,
        waiting=row.waiting,
        direct=row.direct,
    )


def _record(
    session: Session,
    platform: Platform,
    key: str,
    sequence: int | None,
    payload: str,
    waiting: bool,
    direct: bool,
    now: datetime,
) -> bool:
    return insert_unless_present(
        session,
        InboundEvent,
        _event_row(platform, key, sequence, payload, waiting=waiting, direct=direct, now=now),
        ("platform", "key"),
    )


def _event_row(
    platform: Platform,
    key: str,
    sequence: int | None,
    payload: str,
    *,
    waiting: bool,
    direct: bool,
    now: datetime,
) -> dict[str, Any]:
    return {
        "platform": platform.value,
        "key": key,
        "sequence": sequence,
        "payload": payload,
        "received_at": now,
        "handled_at": None,
        "waiting": waiting,
        "direct": direct,
    }


def _record_many(
    session: Session,
    platform: Platform,
    rows: list[tuple[str, int | None, str, bool]],
    now: datetime,
) -> int:
    # One statement for a whole getUpdates answer: storing it is what a flood waits on.
    return insert_many_unless_present(
        session,
        InboundEvent,
        [
            _event_row(platform, key, sequence, payload, waiting=False, direct=direct, now=now)
            for key, sequence, payload, direct in rows
        ],
        ("platform", "key"),
    )


def _pending(
    session: Session, platform: Platform, limit: int, waiting: bool
) -> list[InboundRecord]:
    if waiting:
        return _unhandled(session, platform, limit, waiting=True)
    # Private chats first, so that a member's command never waits behind a flood of group
    # traffic; a room is one or the other, so each room's own order is kept.
    first = _unhandled(session, platform, limit, waiting=False, direct=True)
    if len(first) == limit:
        return first
    return first + _unhandled(session, platform, limit - len(first), waiting=False, direct=False)


def _unhandled(
    session: Session,
    platform: Platform,
    limit: int,
    *,
    waiting: bool,
    direct: bool | None = None,
) -> list[InboundRecord]:
    query = select(InboundEvent).where(
        InboundEvent.platform == platform.value,
        InboundEvent.handled_at.is_(None),
        InboundEvent.waiting.is_(waiting),
    )
    if direct is not None:
        query = query.where(InboundEvent.direct.is_(direct))
    rows = session.scalars(
        # By the platform's own order (webhook calls may arrive out of it), then arrival.
        query.order_by(InboundEvent.sequence.asc().nulls_last(), InboundEvent.id).limit(limit)
    )
    return [_inbound_record(row) for row in rows]


def _pending_of(
    session: Session, platforms: tuple[Platform, ...], limit: int
) -> dict[Platform, list[InboundRecord]]:
    return {platform: _pending(session, platform, limit, False) for platform in platforms}


def _waiting_row(session: Session, platform: Platform, key: str) -> InboundEvent | None:
    """The event's row, locked, if it is waiting."""
    row = session.scalars(
        select(InboundEvent)
        .where(InboundEvent.platform == platform.value, InboundEvent.key == key)
        .with_for_update()
    ).one_or_none()
    if row is None or row.handled_at is not None or not row.waiting:
        return None
    return row


def _make_ready(session: Session, platform: Platform, key: str, payload: str) -> bool:
    row = _waiting_row(session, platform, key)
    if row is None:
        return False
    row.waiting = False
    row.payload = payload
    session.flush()
    return True


def _settle_waiting(session: Session, platform: Platform, key: str, now: datetime) -> bool:
    row = _waiting_row(session, platform, key)
    if row is None:
        return False
    row.waiting = False
    row.handled_at = now
    row.payload = EMPTY_PAYLOAD
    session.flush()
    return True


def _claim(session: Session, platform: Platform, key: str) -> bool:
    """Lock the event's row for this transaction; False when it is already handled."""
    row = session.scalars(
        select(InboundEvent)
        .where(InboundEvent.platform == platform.value, InboundEvent.key == key)
        .with_for_update()
    ).one_or_none()
    return row is not None and row.handled_at is None


def _mark_handled(session: Session, platform: Platform, key: str, now: datetime) -> None:
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


def _last_sequence(session: Session, platform: Platform) -> int | None:
    return session.scalar(
        select(func.max(InboundEvent.sequence)).where(InboundEvent.platform == platform.value)
    )


def _prune(session: Session, platform: Platform, handled_before: datetime) -> int:
    last = _last_sequence(session, platform)
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
