"""The audit log (``store.audit``): every change to roles, memberships, organizations and
signatories, recorded in the unit of work that makes the change, read back page by page.

An entry names members by number, groups and organizations by id, and holds its details
as plain values (a role, a slug, a decision): never a name or a platform account, so that
erasing a member (their rows go, the log's references to them become NULL) leaves nothing
of them in the log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from storage.models import AuditEntry
from storage.units import Area
from storage.validation import check_int

AuditValue = str | int | bool | None
ACTION_MAX = 64


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One change as read back."""

    id: int
    created_at: datetime
    action: str
    actor_member_id: int | None
    member_id: int | None
    working_group_id: int | None
    organization_id: int | None
    detail: Mapping[str, AuditValue]


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: tuple[AuditRecord, ...]
    total: int


class AuditStore(Area):
    """Records changes and reads them back, newest first."""

    def record(
        self,
        action: str,
        actor_member_id: int | None,
        *,
        member_id: int | None = None,
        working_group_id: int | None = None,
        organization_id: int | None = None,
        detail: Mapping[str, AuditValue] | None = None,
    ) -> int:
        """Record ``action`` (a dotted name: ``role.granted``, ``org.claimed``) made by
        ``actor_member_id`` (``None``: the configuration); returns the entry's id. Call it
        inside the unit of work that makes the change, so that both or neither are kept."""
        if not action or len(action) > ACTION_MAX or not action.isascii():
            raise ValueError(f"an audit action is a short ASCII name, not {action!r}")
        for name, number in (
            ("actor", actor_member_id),
            ("member", member_id),
            ("group", working_group_id),
            ("organization", organization_id),
        ):
            if number is not None:
                check_int(f"{name} id", number, minimum=1)
        values = dict(detail or {})
        for key, value in values.items():
            if not isinstance(value, str | int | bool | type(None)):
                raise ValueError(f"audit detail {key!r} is not a plain value")
        entry = AuditEntry(
            created_at=self._now(),
            action=action,
            actor_member_id=actor_member_id,
            member_id=member_id,
            working_group_id=working_group_id,
            organization_id=organization_id,
            detail=json.dumps(values, ensure_ascii=False, sort_keys=True),
        )

        def record_in(session: Session) -> int:
            session.add(entry)
            session.flush()
            return entry.id

        return self._run(record_in)

    def page(
        self,
        *,
        group_ids: Sequence[int] | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> AuditPage:
        """Entries newest first: every one (``group_ids=None``, for network admins), or
        those about the given groups. ``offset``/``limit`` page through them."""
        check_int("offset", offset, minimum=0)
        check_int("limit", limit, minimum=1, maximum=500)
        groups = None if group_ids is None else tuple(group_ids)
        return self._read(_page_in, groups, offset, limit)

    def about_member(self, member_id: int) -> list[AuditRecord]:
        """Every entry made by or about member ``member_id``, oldest first (their data)."""
        check_int("member id", member_id, minimum=1)
        return self._read(_about_member_in, member_id)


def _record(entry: AuditEntry) -> AuditRecord:
    detail = json.loads(entry.detail)
    return AuditRecord(
        id=entry.id,
        created_at=entry.created_at,
        action=entry.action,
        actor_member_id=entry.actor_member_id,
        member_id=entry.member_id,
        working_group_id=entry.working_group_id,
        organization_id=entry.organization_id,
        detail=detail if isinstance(detail, dict) else {},
    )


def _page_in(
    session: Session, groups: tuple[int, ...] | None, offset: int, limit: int
) -> AuditPage:
    query = select(AuditEntry)
    counted = select(func.count()).select_from(AuditEntry)
    if groups is not None:
        query = query.where(AuditEntry.working_group_id.in_(groups))
        counted = counted.where(AuditEntry.working_group_id.in_(groups))
    rows = session.scalars(query.order_by(AuditEntry.id.desc()).offset(offset).limit(limit))
    return AuditPage(tuple(_record(row) for row in rows), session.scalar(counted) or 0)


def _about_member_in(session: Session, member_id: int) -> list[AuditRecord]:
    query = (
        select(AuditEntry)
        .where(or_(AuditEntry.member_id == member_id, AuditEntry.actor_member_id == member_id))
        .order_by(AuditEntry.id)
    )
    return [_record(row) for row in session.scalars(query)]
