"""Scheduled work, done once: ``store.scheduled``.

Each row is one piece of work due at a time (UTC), named by a unique key such as
``consultation:7:reminder:P3D``. Scheduling the same key again moves a pending row (its
time, its target) and leaves one already done alone; cancelling removes pending rows by key
or key prefix. :meth:`ScheduledStore.claim_due` takes the next due row for this process in
the open unit of work with a conditional update only one process can win (and ``FOR UPDATE
SKIP LOCKED`` on PostgreSQL, so that another process passes over it instead of waiting); the
caller does the work and marks the row done in that same unit. Rows the bot finds in
``sending`` when it starts were interrupted: they become ``unknown`` and are not repeated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from storage.jsontext import decode_json_object, encode_json_object
from storage.models import ScheduledWork
from storage.units import Area
from storage.upserts import insert_unless_present
from storage.validation import (
    check_aware,
    check_int,
    check_optional_text,
    check_text,
    truncated_text,
)

KEY_LIMIT = 200
KIND_LIMIT = 64
ERROR_LIMIT = 200
CLAIM_CANDIDATES = 20
"""Due rows looked at per claim: others' rows that were taken meanwhile are passed over."""


class ScheduledState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    """Claimed, its work under way; found so at start, it was interrupted."""
    DONE = "done"
    SKIPPED = "skipped"
    """Too late to be useful, or no longer useful (its handler said so); logged."""
    FAILED = "failed"
    """Its handler failed every retry; ``last_error`` names the error class."""
    UNKNOWN = "unknown"
    """Interrupted while sending: whether it was done is unknown, and it is not repeated."""


@dataclass(frozen=True, slots=True)
class ScheduledRecord:
    """A row of scheduled work as stored."""

    id: int
    key: str
    kind: str
    due_at: datetime
    target: Mapping[str, Any]
    state: ScheduledState
    attempts: int
    rule: str | None
    time_zone: str | None
    last_error: str | None
    updated_at: datetime


class ScheduledStore(Area):
    """Work due at a time, claimed once (``store.scheduled``)."""

    def schedule(
        self,
        key: str,
        kind: str,
        due_at: datetime,
        target: Mapping[str, Any],
        *,
        rule: str | None = None,
        time_zone: str | None = None,
    ) -> ScheduledRecord:
        """Schedule ``kind`` at ``due_at`` under ``key``: a new pending row, or the pending
        row of that key moved to the new time and target. A row of that key no longer
        pending (done, skipped, ...) stays as it is and is returned unchanged."""
        check_text("scheduled key", key, KEY_LIMIT)
        check_text("scheduled kind", kind, KIND_LIMIT)
        check_aware("due_at", due_at)
        check_optional_text("repeat rule", rule, 100)
        check_optional_text("time zone", time_zone, 64)
        text = encode_json_object("scheduled target", target)
        now = self._now()
        values = {
            "dedup_key": key,
            "kind": kind,
            "due_at": due_at,
            "target": text,
            "rule": rule,
            "time_zone": time_zone,
        }

        def schedule_in(session: Session) -> ScheduledRecord:
            inserted = insert_unless_present(
                session,
                ScheduledWork,
                {**values, "state": ScheduledState.PENDING, "attempts": 0}
                | {"created_at": now, "updated_at": now},
                ["dedup_key"],
            )
            if not inserted:
                session.execute(
                    update(ScheduledWork)
                    .where(
                        ScheduledWork.dedup_key == key,
                        ScheduledWork.state == ScheduledState.PENDING,
                    )
                    .values(**values, attempts=0, last_error=None, updated_at=now)
                )
            row = session.scalars(
                select(ScheduledWork)
                .where(ScheduledWork.dedup_key == key)
                .execution_options(populate_existing=True)
            ).one()
            return _record(row)

        return self._run(schedule_in)

    def cancel(self, key: str) -> bool:
        """Remove the pending row of ``key``; False when there is none (done, or unknown)."""
        check_text("scheduled key", key, KEY_LIMIT)
        return self._run(_cancel_in, ScheduledWork.dedup_key == key) > 0

    def cancel_prefix(self, prefix: str) -> int:
        """Remove every pending row whose key starts with ``prefix`` (``consultation:7:``);
        how many."""
        check_text("scheduled key prefix", prefix, KEY_LIMIT)
        return self._run(_cancel_in, ScheduledWork.dedup_key.startswith(prefix, autoescape=True))

    def get(self, key: str) -> ScheduledRecord | None:
        def get_in(session: Session) -> ScheduledRecord | None:
            row = session.scalars(
                select(ScheduledWork).where(ScheduledWork.dedup_key == key)
            ).one_or_none()
            return None if row is None else _record(row)

        return self._read(get_in)

    def with_prefix(self, prefix: str) -> list[ScheduledRecord]:
        """Every row whose key starts with ``prefix``, in any state, soonest first."""

        def with_prefix_in(session: Session) -> list[ScheduledRecord]:
            rows = session.scalars(
                select(ScheduledWork)
                .where(ScheduledWork.dedup_key.startswith(prefix, autoescape=True))
                .order_by(ScheduledWork.due_at, ScheduledWork.id)
            )
            return [_record(row) for row in rows]

        return self._read(with_prefix_in)

    def claim_due(self) -> ScheduledRecord | None:
        """Take the earliest pending row due by now for this process, setting it
        ``sending``; ``None`` when none is due. Meant for an open unit of work in which the
        row's work is done and the row marked: another process never gets the same row."""
        now = self._now()

        def claim_in(session: Session) -> ScheduledRecord | None:
            query = (
                select(ScheduledWork.id)
                .where(ScheduledWork.state == ScheduledState.PENDING, ScheduledWork.due_at <= now)
                .order_by(ScheduledWork.due_at, ScheduledWork.id)
                .limit(CLAIM_CANDIDATES)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            for row_id in session.scalars(query).all():
                taken = session.execute(
                    update(ScheduledWork)
                    .where(
                        ScheduledWork.id == row_id, ScheduledWork.state == ScheduledState.PENDING
                    )
                    .values(state=ScheduledState.SENDING, updated_at=now)
                )
                if getattr(taken, "rowcount", 0) == 1:
                    row = session.get(ScheduledWork, row_id, populate_existing=True)
                    assert row is not None
                    return _record(row)
            return None

        return self._run(claim_in)

    def finish(self, row_id: int, state: ScheduledState, reason: str | None = None) -> None:
        """Mark a claimed row ``done``, ``skipped`` or ``failed`` (``reason``: an error class
        or why it was skipped, never personal data)."""
        check_int("scheduled id", row_id, minimum=1)
        if state not in (ScheduledState.DONE, ScheduledState.SKIPPED, ScheduledState.FAILED):
            raise ValueError(f"a claimed row cannot end as {state}")
        error = None if reason is None else truncated_text("reason", reason, ERROR_LIMIT)
        now = self._now()

        def finish_in(session: Session) -> None:
            session.execute(
                update(ScheduledWork)
                .where(ScheduledWork.id == row_id, ScheduledWork.state == ScheduledState.SENDING)
                .values(state=state, last_error=error, updated_at=now)
            )

        self._run(finish_in)

    def retry_at(self, row_id: int, due_at: datetime, error: str) -> None:
        """A claimed row's work failed: pending again at ``due_at``, one attempt more."""
        check_int("scheduled id", row_id, minimum=1)
        check_aware("due_at", due_at)
        error = truncated_text("error", error, ERROR_LIMIT)
        now = self._now()

        def retry_in(session: Session) -> None:
            session.execute(
                update(ScheduledWork)
                .where(ScheduledWork.id == row_id, ScheduledWork.state == ScheduledState.SENDING)
                .values(
                    state=ScheduledState.PENDING,
                    due_at=due_at,
                    attempts=ScheduledWork.attempts + 1,
                    last_error=error,
                    updated_at=now,
                )
            )

        self._run(retry_in)

    def interrupted(self) -> list[ScheduledRecord]:
        """At start: the rows left ``sending`` by a process that stopped mid-work, now
        marked ``unknown`` (never repeated: their messages may have gone)."""
        now = self._now()

        def interrupted_in(session: Session) -> list[ScheduledRecord]:
            rows = session.scalars(
                select(ScheduledWork)
                .where(ScheduledWork.state == ScheduledState.SENDING)
                .order_by(ScheduledWork.id)
            ).all()
            found = [_record(row) for row in rows]
            if found:
                session.execute(
                    update(ScheduledWork)
                    .where(ScheduledWork.id.in_([record.id for record in found]))
                    .where(ScheduledWork.state == ScheduledState.SENDING)
                    .values(state=ScheduledState.UNKNOWN, updated_at=now)
                )
            return found

        return self._run(interrupted_in)

    def next_due_at(self) -> datetime | None:
        """When the earliest pending row falls due (maybe already past); ``None``: none."""

        def next_in(session: Session) -> datetime | None:
            return session.scalar(
                select(func.min(ScheduledWork.due_at)).where(
                    ScheduledWork.state == ScheduledState.PENDING
                )
            )

        due = self._read(next_in)
        return None if due is None else check_aware("due_at", due)

    def counts(self) -> dict[ScheduledState, int]:
        """How many rows are in each state (for admins: ``/health``)."""

        def counts_in(session: Session) -> dict[ScheduledState, int]:
            rows = session.execute(
                select(ScheduledWork.state, func.count()).group_by(ScheduledWork.state)
            )
            return {ScheduledState(state): count for state, count in rows}

        return self._read(counts_in)


def _cancel_in(session: Session, condition: Any) -> int:
    removed = session.execute(
        delete(ScheduledWork).where(condition, ScheduledWork.state == ScheduledState.PENDING)
    )
    return int(getattr(removed, "rowcount", 0))


def _record(row: ScheduledWork) -> ScheduledRecord:
    return ScheduledRecord(
        id=row.id,
        key=row.dedup_key,
        kind=row.kind,
        due_at=row.due_at,
        target=decode_json_object("scheduled target", row.target),
        state=ScheduledState(row.state),
        attempts=row.attempts,
        rule=row.rule,
        time_zone=row.time_zone,
        last_error=row.last_error,
        updated_at=row.updated_at,
    )
