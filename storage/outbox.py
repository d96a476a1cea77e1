"""The messages the bot owes rooms: ``store.outbox``.

Every outgoing message is a row here before it is sent; the outbox worker asks which rooms
are owed messages, reads the head of each room's queue by id (the order of sending) and
records each delivery, retry or failure. Both reads follow one index
(``ix_outbox_platform_status_room_id_id``), so their cost does not grow with the backlog,
and they take no write lock.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from bot.types import Platform
from storage.errors import NotFoundError
from storage.jsontext import decode_json_object, encode_json_object
from storage.models import BotPost, Identity, OutboxCaseContent, OutboxMessage
from storage.records import DeliveryStatus, OutboxRecord, OutboxStatus, OutboxTarget
from storage.units import Area
from storage.validation import (
    MAX_ID,
    REASON_LENGTH,
    check_aware,
    check_int,
    check_optional_text,
    check_text,
    truncated_text,
)

PENDING = DeliveryStatus.PENDING.value
DELIVERED = DeliveryStatus.DELIVERED.value
FAILED = DeliveryStatus.FAILED.value

# What a delivered or failed message's payload becomes: what was said is the room's now,
# not the bot's to keep.
EMPTY_PAYLOAD = "{}"

OutgoingItem = tuple[Platform, str, Mapping[str, Any]]
"""A message to owe: platform, room id, JSON payload."""


class OutboxStore(Area):
    """Owed messages and their delivery (``store.outbox``)."""

    def enqueue(self, items: Sequence[OutgoingItem]) -> list[int]:
        """Owe messages: ``(platform, room id, JSON payload)`` each; their ids, in order.

        They are pending, to be sent now. Ids grow in the order of enqueueing and are never
        reused; they are the order in which a room's messages must be sent.
        """
        checked = checked_items(items)
        if not checked:
            return []
        contents = [case_contents_of(payload) for _, _, payload in items]
        return self._run(enqueue_outgoing_in, checked, self._now(), contents=contents)

    def pending(
        self, platform: Platform, *, limit: int = 500, after_id: int = 0
    ) -> list[OutboxRecord]:
        """Pending messages of the platform with an id above ``after_id``, by id.

        ``after_id`` pages through one pass; start each pass from 0: on PostgreSQL a
        message can commit after one with a higher id. ``next_attempt_at`` is not
        filtered on: a message waiting to be retried holds back its room's later ones.
        """
        platform = Platform(platform)
        check_int("limit", limit, minimum=1)
        check_int("after_id", after_id, minimum=0)
        return self._read(_pending, platform, limit, after_id)

    def rooms_with_pending(self, platform: Platform) -> list[str]:
        """The rooms of the platform that are owed messages, by room id.

        One index lookup per room (a skip scan), whatever the number of messages waiting.
        """
        platform = Platform(platform)
        return self._read(_rooms_with_pending, platform)

    def room_head(self, platform: Platform, room_id: str, *, limit: int = 50) -> list[OutboxRecord]:
        """The first ``limit`` pending messages to one room, by id (the order of sending).

        Read from the start of the room's queue every time: on PostgreSQL a message can
        commit after one with a higher id. ``next_attempt_at`` is not filtered on: a
        message waiting to be retried holds back its room's later ones.
        """
        platform = Platform(platform)
        check_text("room id", room_id, 255)
        check_int("limit", limit, minimum=1)
        return self._read(_room_head, platform, room_id, limit)

    def mark_delivered(self, outbox_id: int, platform_message_id: str | None) -> None:
        """The message arrived (also after it was marked failed); again changes nothing.

        Raises :class:`NotFoundError` for an unknown id.
        """
        check_int("outbox id", outbox_id, minimum=1, maximum=MAX_ID)
        check_optional_text("platform message id", platform_message_id, 255)
        self._run(_mark_delivered, [outbox_id], platform_message_id, self._now())

    def mark_delivered_in_batch(
        self,
        deliveries: Sequence[tuple[Sequence[int], str | None]],
        native_ids: Mapping[int, str] | None = None,
    ) -> None:
        """Several deliveries that finished together, recorded in one transaction: each
        the ids one platform message carried (several for a merged burst) and its id.
        ``native_ids``: by outbox id, the platform's id of what a message carried (a
        Telegram poll's), kept with the message's post (:mod:`storage.posts`)."""
        for outbox_ids, platform_message_id in deliveries:
            for outbox_id in outbox_ids:
                check_int("outbox id", outbox_id, minimum=1, maximum=MAX_ID)
            check_optional_text("platform message id", platform_message_id, 255)
        for native_id in (native_ids or {}).values():
            check_text("native id", native_id, 255)
        if deliveries:
            self._run(_mark_delivered_batch, deliveries, self._now(), dict(native_ids or {}))

    def mark_delivered_together(self, outbox_ids: Sequence[int], platform_message_id: str) -> None:
        """Several messages arrived as one platform message (a merged burst)."""
        for outbox_id in outbox_ids:
            check_int("outbox id", outbox_id, minimum=1, maximum=MAX_ID)
        check_text("platform message id", platform_message_id, 255)
        self._run(_mark_delivered, outbox_ids, platform_message_id, self._now())

    def record_failed_attempt(self, outbox_id: int, reason: str, next_attempt_at: datetime) -> int:
        """A try failed for ``reason`` (cut to 255 characters); retry at ``next_attempt_at``.

        Returns the number of failed tries so far. A message no longer pending is left as
        it is (its count returned). Raises :class:`NotFoundError` for an unknown id.
        """
        check_int("outbox id", outbox_id, minimum=1, maximum=MAX_ID)
        reason = truncated_text("reason", reason, REASON_LENGTH)
        check_aware("next_attempt_at", next_attempt_at)
        return self._run(_record_failed_attempt, outbox_id, reason, next_attempt_at)

    def mark_failed(self, outbox_id: int, reason: str) -> None:
        """Give up on a pending message, for ``reason`` (cut to 255 characters).

        A delivered or already failed message is left as it is. Raises
        :class:`NotFoundError` for an unknown id.
        """
        check_int("outbox id", outbox_id, minimum=1, maximum=MAX_ID)
        reason = truncated_text("reason", reason, REASON_LENGTH)
        self._run(_mark_failed, outbox_id, reason)

    def status(
        self,
        platform: Platform | None = None,
        *,
        since: datetime,
        rooms: Collection[str] | None = None,
    ) -> OutboxStatus:
        """Counts of pending and failed messages, and of those delivered since ``since``.

        Of one platform, or of all with ``None``; of the messages to ``rooms`` only, when
        given (a working group's admin sees their groups' rooms, not the whole outbox).
        """
        chosen = None if platform is None else Platform(platform)
        check_aware("since", since)
        wanted = None if rooms is None else sorted(set(rooms))
        for room_id in wanted or ():
            check_text("room id", room_id, 255)
        return self._run(_status, chosen, since, wanted)

    def drop_pending_for_room(self, platform: Platform, room_id: str, reason: str) -> int:
        """Give up on every pending message to a room (the member blocked the bot).

        Returns how many there were; ``reason`` is cut to 255 characters.
        """
        platform = Platform(platform)
        check_text("room id", room_id, 255)
        reason = truncated_text("reason", reason, REASON_LENGTH)
        return self._run(_drop_pending_for_room, platform, room_id, reason)

    def targets(self, outbox_ids: Sequence[int]) -> dict[int, OutboxTarget]:
        """Status and platform id of earlier outbox messages, for the ones that refer to them."""
        for outbox_id in outbox_ids:
            check_int("outbox id", outbox_id, minimum=1, maximum=MAX_ID)
        if not outbox_ids:
            return {}
        return self._run(_targets, outbox_ids)


def checked_items(items: Sequence[OutgoingItem]) -> list[tuple[Platform, str, str]]:
    """Messages to owe, checked, their payloads as JSON text."""
    checked: list[tuple[Platform, str, str]] = []
    for platform, room_id, payload in items:
        check_text("room id", room_id, 255)
        checked.append((Platform(platform), room_id, encode_json_object("payload", payload)))
    return checked


def enqueue_outgoing_in(
    session: Session,
    items: Sequence[tuple[Platform, str, str]],
    now: datetime,
    *,
    bridged_id: int | None = None,
    parts: Sequence[int | None] | None = None,
    contents: Sequence[CarriedCases] | None = None,
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
    if contents is not None:
        index_case_contents_in(session, [row.id for row in rows], contents)
    return [row.id for row in rows]


def _outbox_record(row: OutboxMessage) -> OutboxRecord:
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
        relayed=row.bridge_part is not None,
    )


def _pending(session: Session, platform: Platform, limit: int, after_id: int) -> list[OutboxRecord]:
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
    return [_outbox_record(row) for row in rows]


# The next room owed a message after the one before, each step one lookup in the index
# (platform, status, room_id, id): a loose index scan, written as a recursive query since
# neither database skips through an index on its own for DISTINCT.
_ROOMS_WITH_PENDING = text(
    """
    WITH RECURSIVE rooms(room_id) AS (
        SELECT (
            SELECT room_id FROM outbox WHERE platform = :platform AND status = :pending
            ORDER BY room_id LIMIT 1
        )
        UNION ALL
        SELECT (
            SELECT o.room_id FROM outbox AS o
            WHERE o.platform = :platform AND o.status = :pending AND o.room_id > rooms.room_id
            ORDER BY o.room_id LIMIT 1
        )
        FROM rooms WHERE rooms.room_id IS NOT NULL
    )
    SELECT room_id FROM rooms WHERE room_id IS NOT NULL
    """
)


def _rooms_with_pending(session: Session, platform: Platform) -> list[str]:
    found = session.execute(_ROOMS_WITH_PENDING, {"platform": platform.value, "pending": PENDING})
    return [room_id for (room_id,) in found]


def _room_head(
    session: Session, platform: Platform, room_id: str, limit: int
) -> list[OutboxRecord]:
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.platform == platform.value,
            OutboxMessage.status == PENDING,
            OutboxMessage.room_id == room_id,
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    return [_outbox_record(row) for row in rows]


def _mark_delivered_batch(
    session: Session,
    deliveries: Sequence[tuple[Sequence[int], str | None]],
    now: datetime,
    native_ids: Mapping[int, str],
) -> None:
    for outbox_ids, platform_message_id in deliveries:
        native = next((native_ids[i] for i in outbox_ids if i in native_ids), None)
        _mark_delivered(session, outbox_ids, platform_message_id, now, native)


def _locked_message(session: Session, outbox_id: int) -> OutboxMessage:
    row = session.get(OutboxMessage, outbox_id, with_for_update=True)
    if row is None:
        raise NotFoundError(f"no outbox message with id {outbox_id}")
    return row


def _mark_delivered(
    session: Session,
    outbox_ids: Sequence[int],
    platform_message_id: str | None,
    now: datetime,
    native_id: str | None = None,
) -> None:
    for outbox_id in outbox_ids:
        row = _locked_message(session, outbox_id)
        if row.status == DELIVERED:
            continue
        # Also from failed: a message given up on while it was being sent did arrive.
        row.status = DELIVERED
        row.delivered_at = now
        row.platform_message_id = platform_message_id
        if _to_an_erased_account(session, row):
            row.room_id = ERASED_ROOM
        row.payload = EMPTY_PAYLOAD
        session.flush()
    record_delivery_in(session, list(outbox_ids), platform_message_id, native_id)


ERASED_ROOM = "erased"
"""The room of a delivered message whose reader was erased meanwhile (/forgetme's farewell)."""


def _to_an_erased_account(session: Session, row: OutboxMessage) -> bool:
    """A Telegram private chat's id is its account's (a group's is negative): once the
    account is erased, no delivered message may keep it."""
    if row.platform != Platform.TELEGRAM.value or not row.room_id.isdigit():
        return False
    account = select(Identity.id).where(
        Identity.platform == row.platform, Identity.user_id == row.room_id
    )
    return session.scalar(account.limit(1)) is None


def _record_failed_attempt(
    session: Session, outbox_id: int, reason: str, next_attempt_at: datetime
) -> int:
    row = _locked_message(session, outbox_id)
    if row.status == PENDING:
        row.attempts += 1
        row.failure_reason = reason
        row.next_attempt_at = next_attempt_at
        session.flush()
    return row.attempts


def _mark_failed(session: Session, outbox_id: int, reason: str) -> None:
    row = _locked_message(session, outbox_id)
    if row.status == PENDING:
        row.status = FAILED
        row.failure_reason = reason
        row.payload = EMPTY_PAYLOAD
        session.flush()


def _status(
    session: Session, platform: Platform | None, since: datetime, rooms: list[str] | None
) -> OutboxStatus:
    where = [] if platform is None else [OutboxMessage.platform == platform.value]
    if rooms is not None:
        where.append(OutboxMessage.room_id.in_(rooms))
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


def _drop_pending_for_room(session: Session, platform: Platform, room_id: str, reason: str) -> int:
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


def _targets(session: Session, outbox_ids: Collection[int]) -> dict[int, OutboxTarget]:
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


# -- what of a case report a message carries (for /withdraw and /casefiles) ------------------

CarriedCases = tuple[tuple[int, int | None], ...]
"""The case reports a message carries something of: ``(case id, evidence file id or None)``."""


def case_contents_of(payload: Mapping[str, Any]) -> CarriedCases:
    """What of case reports a stored item carries, read from its JSON (``bot.outgoing_json``
    writes a bot message's ``cases`` and each file sent by reference as ``stored``)."""
    cases = payload.get("cases")
    if not isinstance(cases, list) or not cases:
        return ()
    files: dict[int, int] = {}
    media = payload.get("media")
    for entry in media if isinstance(media, list) else ():
        stored = entry.get("stored") if isinstance(entry, Mapping) else None
        if isinstance(stored, Mapping):
            case_id, attachment_id = stored.get("case"), stored.get("attachment")
            if type(case_id) is int and type(attachment_id) is int:
                files[case_id] = attachment_id
    return tuple(
        (case_id, files.get(case_id)) for case_id in dict.fromkeys(cases) if type(case_id) is int
    )


def index_case_contents_in(
    session: Session, outbox_ids: Sequence[int], contents: Sequence[CarriedCases]
) -> None:
    session.add_all(
        OutboxCaseContent(outbox_id=outbox_id, case_id=case_id, attachment_id=attachment_id)
        for outbox_id, carried in zip(outbox_ids, contents, strict=True)
        for case_id, attachment_id in carried
    )
    session.flush()


def drop_pending_for_case_in(session: Session, case_id: int, reason: str) -> int:
    """Give up on every pending message carrying anything of the report (its payload wiped)
    and forget which messages carried it; how many were pending."""
    carrying = select(OutboxCaseContent.outbox_id).where(OutboxCaseContent.case_id == case_id)
    dropped = session.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(carrying), OutboxMessage.status == PENDING)
        .values(status=FAILED, failure_reason=reason, payload=EMPTY_PAYLOAD)
        .returning(OutboxMessage.id)
    ).all()
    session.execute(delete(OutboxCaseContent).where(OutboxCaseContent.case_id == case_id))
    return len(dropped)


def files_waiting_in(
    session: Session, platform: Platform, room_id: str, attachment_ids: Collection[int]
) -> set[int]:
    """Which of the evidence files have a copy still pending to the room."""
    if not attachment_ids:
        return set()
    rows = session.scalars(
        select(OutboxCaseContent.attachment_id)
        .join(OutboxMessage, OutboxMessage.id == OutboxCaseContent.outbox_id)
        .where(
            OutboxCaseContent.attachment_id.in_(list(attachment_ids)),
            OutboxMessage.platform == Platform(platform).value,
            OutboxMessage.room_id == room_id,
            OutboxMessage.status == PENDING,
        )
    )
    return {attachment_id for attachment_id in rows if attachment_id is not None}


def supersede_pending_in(session: Session, outbox_id: int, now: datetime) -> None:
    """An edit still waiting whose words a newer edit of the same message says: counted as
    delivered, with no message of its own, and not sent. One the outbox already took goes
    (or went), and the newer edit follows it."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id, OutboxMessage.status == PENDING)
        .values(status=DELIVERED, delivered_at=now, platform_message_id=None, payload=EMPTY_PAYLOAD)
    )


def record_delivery_in(
    session: Session, outbox_ids: list[int], message_id: str | None, native_id: str | None
) -> None:
    """The posts among delivered outbox rows learn the platform's ids (in the unit of work
    that marks them delivered)."""
    values: dict[str, str | None] = {"message_id": message_id}
    if native_id is not None:
        values["native_id"] = native_id
    session.execute(update(BotPost).where(BotPost.outbox_id.in_(outbox_ids)).values(**values))
