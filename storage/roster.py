"""Who is in a working group and who holds which role there (``store.roster``): the
lists coordinators and admins read (``/members``, ``/roles``), a role changed or taken
away by command, and members' numbers and names for such lists.

Roles themselves live in ``memberships`` (:mod:`storage.groups`): a row per member and
group (``NULL``: network-wide), from the configuration or from a command. A role from the
configuration is never changed here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.types import Platform, Role
from storage.errors import NotFoundError
from storage.groups import COMMAND, CONFIG
from storage.members import existing_member
from storage.models import Identity, Member, Membership, WorkingGroup
from storage.units import Area
from storage.validation import check_int

ROLE_SET = "role.set"
"""The audit log's action for a role given or changed by command (detail: ``role``, the
role given; ``previous``, the one held before or ``None``)."""
ROLE_REMOVED = "role.removed"
"""The audit log's action for a coordinator's or admin's role taken away (same detail)."""


@dataclass(frozen=True, slots=True)
class RoleChange:
    """What ``/role`` did: the role held before and after (``None``: none there; a
    network-wide ``member`` is no network role at all). ``configured``: the configuration
    gives that role, so nothing changed."""

    previous: Role | None
    current: Role | None
    configured: bool = False


@dataclass(frozen=True, slots=True)
class RoleHolder:
    """A coordinator or admin of a group (or network-wide), and where the role comes from."""

    member_id: int
    display_name: str | None
    role: Role
    from_config: bool
    since: datetime


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One member of a working group as its coordinators see them; never an account id.

    ``organization`` is the free text of the member's profile (organizations confirmed by
    a coordinator come later and are read by the handler, not here)."""

    member_id: int
    display_name: str | None
    organization: str | None
    language: str
    role: Role
    from_config: bool
    joined_at: datetime
    platforms: tuple[Platform, ...]


@dataclass(frozen=True, slots=True)
class RosterPage:
    entries: tuple[RosterEntry, ...]
    total: int


class RosterStore(Area):
    """Group members and role holders, and roles changed by command (``store.roster``)."""

    def change_role(self, member_id: int, working_group_id: int | None, role: Role) -> RoleChange:
        """Give ``role`` in a group (``None``: network-wide), by command.

        ``Role.MEMBER`` takes a coordinator's or admin's role away: in a group the member
        stays one of its members; network-wide the role row goes. A role the configuration
        gives there is left as it is (``configured``). Raises :class:`NotFoundError` for an
        unknown member or group.
        """
        check_int("member id", member_id, minimum=1)
        if working_group_id is not None:
            check_int("working group id", working_group_id, minimum=1)
        return self._run(_change_role, member_id, working_group_id, Role(role), self._now())

    def holders(self, working_group_id: int | None) -> list[RoleHolder]:
        """The coordinators and admins of a group (``None``: the network-wide roles), admins
        first, then by member number."""
        if working_group_id is not None:
            check_int("working group id", working_group_id, minimum=1)
        return self._read(_holders_in, working_group_id)

    def members_of(self, working_group_id: int, *, offset: int = 0, limit: int = 20) -> RosterPage:
        """A page of a group's members (everyone with a role there), by member number."""
        check_int("working group id", working_group_id, minimum=1)
        check_int("offset", offset, minimum=0)
        check_int("limit", limit, minimum=1, maximum=500)
        return self._read(_members_of_in, working_group_id, offset, limit)

    def names(self, member_ids: Collection[int]) -> dict[int, str | None]:
        """The display names of the members that still exist among ``member_ids``."""
        wanted = sorted(set(member_ids))
        for member_id in wanted:
            check_int("member id", member_id, minimum=1)
        return self._read(_names_in, wanted) if wanted else {}

    def named(self) -> list[tuple[int, str]]:
        """Every member who gave a display name, as (number, name), by number: for finding
        one by a part of their name (the caller compares, folding case and accents)."""
        return self._read(_named_in)


def _membership_in(
    session: Session, member_id: int, working_group_id: int | None
) -> Membership | None:
    where_group = (
        Membership.working_group_id.is_(None)
        if working_group_id is None
        else Membership.working_group_id == working_group_id
    )
    return session.scalars(
        select(Membership).where(Membership.member_id == member_id, where_group)
    ).one_or_none()


def _change_role(
    session: Session, member_id: int, working_group_id: int | None, role: Role, now: datetime
) -> RoleChange:
    existing_member(session, member_id)
    if working_group_id is not None and session.get(WorkingGroup, working_group_id) is None:
        raise NotFoundError(f"no working group with id {working_group_id}")
    row = _membership_in(session, member_id, working_group_id)
    previous = None if row is None else Role(row.role)
    if row is not None and row.source == CONFIG:
        return RoleChange(previous, previous, configured=True)
    if working_group_id is None and role is Role.MEMBER:
        if row is not None:
            session.delete(row)
            session.flush()
        return RoleChange(previous, None)
    if row is None:
        session.add(
            Membership(
                member_id=member_id,
                working_group_id=working_group_id,
                role=role.value,
                source=COMMAND,
                created_at=now,
            )
        )
    else:
        row.role = role.value
    session.flush()
    return RoleChange(previous, role)


def _holders_in(session: Session, working_group_id: int | None) -> list[RoleHolder]:
    where_group = (
        Membership.working_group_id.is_(None)
        if working_group_id is None
        else Membership.working_group_id == working_group_id
    )
    rows = session.execute(
        select(Membership, Member.display_name)
        .join(Member, Member.id == Membership.member_id)
        .where(where_group, Membership.role != Role.MEMBER.value)
        .order_by(Membership.member_id)
    )
    holders = [
        RoleHolder(
            member_id=row.member_id,
            display_name=name,
            role=Role(row.role),
            from_config=row.source == CONFIG,
            since=row.created_at,
        )
        for row, name in rows
    ]
    return sorted(holders, key=lambda holder: holder.role is not Role.ADMIN)


def _members_of_in(session: Session, working_group_id: int, offset: int, limit: int) -> RosterPage:
    in_group = Membership.working_group_id == working_group_id
    total = session.scalar(select(func.count()).select_from(Membership).where(in_group)) or 0
    rows = session.execute(
        select(Membership, Member)
        .join(Member, Member.id == Membership.member_id)
        .where(in_group)
        .order_by(Membership.member_id)
        .offset(offset)
        .limit(limit)
    ).all()
    ids = [member.id for _, member in rows]
    platforms: dict[int, set[str]] = {}
    for member_id, platform in session.execute(
        select(Identity.member_id, Identity.platform).where(Identity.member_id.in_(ids))
    ):
        platforms.setdefault(member_id, set()).add(platform)
    entries = tuple(
        RosterEntry(
            member_id=member.id,
            display_name=member.display_name,
            organization=member.organization,
            language=member.language,
            role=Role(row.role),
            from_config=row.source == CONFIG,
            joined_at=row.created_at,
            platforms=tuple(
                platform for platform in Platform if platform.value in platforms.get(member.id, ())
            ),
        )
        for row, member in rows
    )
    return RosterPage(entries, total)


def _names_in(session: Session, member_ids: list[int]) -> dict[int, str | None]:
    rows = session.execute(select(Member.id, Member.display_name).where(Member.id.in_(member_ids)))
    return {member_id: name for member_id, name in rows}


def _named_in(session: Session) -> list[tuple[int, str]]:
    rows = session.execute(
        select(Member.id, Member.display_name)
        .where(Member.display_name.is_not(None))
        .order_by(Member.id)
    )
    return [(member_id, name) for member_id, name in rows if name]
