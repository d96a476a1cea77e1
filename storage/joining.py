"""Joining working groups: members' requests, their coordinators' decisions, and the
memberships a join or a leave makes (``store.joining``).

A request is pending until one coordinator decides it: :meth:`JoiningStore.decide` takes the
row only while it is pending, so that of two coordinators deciding at once the first wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.types import Role
from storage.errors import NotFoundError
from storage.member_data import Json, MemberSection, add_section, plain
from storage.members import existing_member
from storage.models import JoinRequest, Membership, WorkingGroup
from storage.units import Area
from storage.validation import check_int

COMMAND = "command"
CONFIG = "config"


class JoinState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    CANCELLED = "cancelled"


class Leaving(StrEnum):
    """What ``leave`` found."""

    LEFT = "left"
    CONFIGURED = "configured"
    """The role comes from the configuration file: not the member's to leave by command."""
    NOT_MEMBER = "not_member"


@dataclass(frozen=True, slots=True)
class JoinRequestRecord:
    id: int
    member_id: int
    working_group_id: int
    state: JoinState
    decided_by: int | None
    created_at: datetime
    decided_at: datetime | None


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of deciding a request: ``won`` when this decision is the one kept; else
    ``request`` says how it had been decided already."""

    won: bool
    request: JoinRequestRecord


class JoiningStore(Area):
    """Join requests and the memberships they make (``store.joining``)."""

    def request(self, member_id: int, working_group_id: int) -> tuple[JoinRequestRecord, bool]:
        """The member's pending request to join the group, made now unless one is already
        pending (then that one, and ``False``). Raises :class:`NotFoundError` for an
        unknown member or group."""
        check_int("member id", member_id, minimum=1)
        check_int("working group id", working_group_id, minimum=1)
        now = self._now()
        return self._run(_request_in, member_id, working_group_id, now)

    def get(self, request_id: int) -> JoinRequestRecord | None:
        check_int("request id", request_id, minimum=1)
        return self._run(_get_in, request_id)

    def pending(self, member_id: int, working_group_id: int) -> JoinRequestRecord | None:
        """The member's pending request to join the group, if any."""
        return self._run(_pending_in, member_id, working_group_id)

    def pending_in(self, group_ids: tuple[int, ...]) -> list[JoinRequestRecord]:
        """The pending requests to join any of ``group_ids``, oldest first."""
        if not group_ids:
            return []
        return self._run(_pending_in_groups, group_ids)

    def decide(self, request_id: int, state: JoinState, decided_by: int | None) -> Decision:
        """Approve, decline or cancel a pending request. Only a pending request is taken:
        when it was decided before, nothing changes and ``won`` is False. Raises
        :class:`NotFoundError` for an unknown request."""
        check_int("request id", request_id, minimum=1)
        if state is JoinState.PENDING:
            raise ValueError("a decision is approved, declined or cancelled")
        now = self._now()
        return self._run(_decide_in, request_id, JoinState(state), decided_by, now)

    def add_member(self, member_id: int, working_group_id: int) -> bool:
        """Make the member a member of the group (a command's doing); False when they hold
        a role there already, which is kept."""
        check_int("member id", member_id, minimum=1)
        check_int("working group id", working_group_id, minimum=1)
        now = self._now()
        return self._run(_add_member_in, member_id, working_group_id, now)

    def leave(self, member_id: int, working_group_id: int) -> Leaving:
        """Take the member out of the group, unless their role there is configured."""
        check_int("member id", member_id, minimum=1)
        check_int("working group id", working_group_id, minimum=1)
        return self._run(_leave_in, member_id, working_group_id)


def _record(row: JoinRequest) -> JoinRequestRecord:
    return JoinRequestRecord(
        id=row.id,
        member_id=row.member_id,
        working_group_id=row.working_group_id,
        state=JoinState(row.state),
        decided_by=row.decided_by,
        created_at=row.created_at,
        decided_at=row.decided_at,
    )


def _pending_row(session: Session, member_id: int, working_group_id: int) -> JoinRequest | None:
    return session.scalars(
        select(JoinRequest).where(
            JoinRequest.member_id == member_id,
            JoinRequest.working_group_id == working_group_id,
            JoinRequest.state == JoinState.PENDING.value,
        )
    ).one_or_none()


def _request_in(
    session: Session, member_id: int, working_group_id: int, now: datetime
) -> tuple[JoinRequestRecord, bool]:
    existing_member(session, member_id)
    if session.get(WorkingGroup, working_group_id) is None:
        raise NotFoundError(f"no working group with id {working_group_id}")
    found = _pending_row(session, member_id, working_group_id)
    if found is not None:
        return _record(found), False
    row = JoinRequest(
        member_id=member_id,
        working_group_id=working_group_id,
        state=JoinState.PENDING.value,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return _record(row), True


def _get_in(session: Session, request_id: int) -> JoinRequestRecord | None:
    row = session.get(JoinRequest, request_id)
    return None if row is None else _record(row)


def _pending_in(
    session: Session, member_id: int, working_group_id: int
) -> JoinRequestRecord | None:
    row = _pending_row(session, member_id, working_group_id)
    return None if row is None else _record(row)


def _pending_in_groups(session: Session, group_ids: tuple[int, ...]) -> list[JoinRequestRecord]:
    rows = session.scalars(
        select(JoinRequest)
        .where(
            JoinRequest.working_group_id.in_(group_ids),
            JoinRequest.state == JoinState.PENDING.value,
        )
        .order_by(JoinRequest.id)
    )
    return [_record(row) for row in rows]


def _decide_in(
    session: Session, request_id: int, state: JoinState, decided_by: int | None, now: datetime
) -> Decision:
    result = session.execute(
        update(JoinRequest)
        .where(JoinRequest.id == request_id, JoinRequest.state == JoinState.PENDING.value)
        .values(state=state.value, decided_by=decided_by, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    taken = getattr(result, "rowcount", 0)
    row = session.get(JoinRequest, request_id, populate_existing=True)
    if row is None:
        raise NotFoundError(f"no join request with id {request_id}")
    return Decision(won=taken == 1, request=_record(row))


def _membership(session: Session, member_id: int, working_group_id: int) -> Membership | None:
    return session.scalars(
        select(Membership).where(
            Membership.member_id == member_id, Membership.working_group_id == working_group_id
        )
    ).one_or_none()


def _add_member_in(session: Session, member_id: int, working_group_id: int, now: datetime) -> bool:
    existing_member(session, member_id)
    if _membership(session, member_id, working_group_id) is not None:
        return False
    session.add(
        Membership(
            member_id=member_id,
            working_group_id=working_group_id,
            role=Role.MEMBER.value,
            source=COMMAND,
            created_at=now,
        )
    )
    session.flush()
    return True


def _leave_in(session: Session, member_id: int, working_group_id: int) -> Leaving:
    row = _membership(session, member_id, working_group_id)
    if row is None:
        return Leaving.NOT_MEMBER
    if row.source == CONFIG:
        return Leaving.CONFIGURED
    session.delete(row)
    session.flush()
    return Leaving.LEFT


# -- the member's own data (/mydata, /forgetme) ---------------------------------------------


def _requests_of(session: Session, member_id: int) -> Json:
    """The member's own requests to join, and the decisions they took on others' (by the
    group and the outcome: who asked is the asker's data, not theirs)."""
    own = session.execute(
        select(JoinRequest, WorkingGroup.slug)
        .join(WorkingGroup, WorkingGroup.id == JoinRequest.working_group_id)
        .where(JoinRequest.member_id == member_id)
        .order_by(JoinRequest.id)
    )
    decided = session.execute(
        select(JoinRequest, WorkingGroup.slug)
        .join(WorkingGroup, WorkingGroup.id == JoinRequest.working_group_id)
        .where(JoinRequest.decided_by == member_id)
        .order_by(JoinRequest.id)
    )
    return {
        "asked": [
            {
                "group": slug,
                "state": request.state,
                "asked_at": plain(request.created_at),
                "decided_at": plain(request.decided_at),
            }
            for request, slug in own
        ],
        "decided": [
            {"group": slug, "state": request.state, "decided_at": plain(request.decided_at)}
            for request, slug in decided
        ],
    }


# Erased by their foreign keys: a member's requests go with them; a decision they took stays,
# without them.
add_section(
    MemberSection(
        "join_requests", ("join_requests.member_id", "join_requests.decided_by"), _requests_of
    )
)
