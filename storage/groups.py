"""Working groups, rooms and roles: the part of the store driven by the configuration file.

These functions run inside a transaction the :class:`storage.Store` opened.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from types import MappingProxyType

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.types import Platform, Role
from storage.errors import NotFoundError
from storage.members import existing_member, member_for_identity_in
from storage.models import Membership, Room, WorkingGroup
from storage.records import GroupSummary, MemberRoles, WorkingGroupRecord, WorkingGroupSpec
from storage.validation import check_text

CONFIG = "config"
COMMAND = "command"

_Key = tuple[str, str]  # (platform value, platform id)
_PLATFORM_VALUES = frozenset(platform.value for platform in Platform)


def group_record(group: WorkingGroup) -> WorkingGroupRecord:
    languages = tuple(code for code in group.languages.split(",") if code)
    return WorkingGroupRecord(group.id, group.slug, group.name, languages)


def check_specs(
    groups: Sequence[WorkingGroupSpec], network_admins: Sequence[tuple[Platform, str]]
) -> None:
    """Refuse configurations the schema cannot hold, before touching the database."""
    slugs: set[str] = set()
    room_owner: dict[_Key, str] = {}
    for spec in groups:
        check_text("working group slug", spec.slug, 64)
        check_text("working group name", spec.name, 255)
        if spec.slug in slugs:
            raise ValueError(f"working group {spec.slug!r} is configured twice")
        slugs.add(spec.slug)
        for code in spec.languages:
            check_text("language", code, 8)
            if "," in code:
                raise ValueError(f"language code {code!r} contains a comma")
        if len(",".join(spec.languages)) > 255:
            raise ValueError(f"working group {spec.slug!r} lists too many languages")
        for key in _keys(spec.rooms):
            owner = room_owner.setdefault(key, spec.slug)
            if owner != spec.slug:
                raise ValueError(f"room {key[1]!r} is configured for {owner!r} and {spec.slug!r}")
        _keys(spec.coordinators)
        _keys(spec.admins)
    _keys(network_admins)


def _keys(pairs: Iterable[tuple[Platform, str]]) -> list[_Key]:
    keys = []
    for platform, platform_id in pairs:
        check_text("platform id", platform_id, 255)
        keys.append((Platform(platform).value, platform_id))
    return keys


def sync_configured_groups_in(
    session: Session,
    groups: Sequence[WorkingGroupSpec],
    network_admins: Sequence[tuple[Platform, str]],
    *,
    default_language: str,
    now: datetime,
) -> None:
    group_ids = _upsert_groups(session, groups, now)
    wanted_rooms = {key: group_ids[spec.slug] for spec in groups for key in _keys(spec.rooms)}
    _sync_rooms(session, wanted_rooms, now)

    wanted_roles: dict[tuple[int, int | None], Role] = {}

    def want(pairs: Iterable[tuple[Platform, str]], group_id: int | None, role: Role) -> None:
        for platform, user_id in pairs:
            member = member_for_identity_in(
                session,
                Platform(platform),
                user_id,
                language=default_language,
                now=now,
                touch=False,
            )
            key = (member.id, group_id)
            wanted_roles[key] = Role.highest([role, wanted_roles.get(key, role)])

    for spec in groups:
        want(spec.coordinators, group_ids[spec.slug], Role.COORDINATOR)
        want(spec.admins, group_ids[spec.slug], Role.ADMIN)
    want(network_admins, None, Role.ADMIN)
    _sync_memberships(session, wanted_roles, now)


def _upsert_groups(
    session: Session, groups: Sequence[WorkingGroupSpec], now: datetime
) -> dict[str, int]:
    existing = {group.slug: group for group in session.scalars(select(WorkingGroup))}
    for spec in groups:
        languages = ",".join(spec.languages)
        group = existing.get(spec.slug)
        if group is None:
            group = WorkingGroup(
                slug=spec.slug, name=spec.name, languages=languages, created_at=now
            )
            session.add(group)
            existing[spec.slug] = group
        else:
            group.name = spec.name
            group.languages = languages
    session.flush()
    return {spec.slug: existing[spec.slug].id for spec in groups}


def _sync_rooms(session: Session, wanted: dict[_Key, int], now: datetime) -> None:
    """Config rooms become exactly ``wanted``; command rooms stay unless config claims them."""
    rooms = {(room.platform, room.room_id): room for room in session.scalars(select(Room))}
    for key, stale in rooms.items():
        if stale.source == CONFIG and key not in wanted:
            session.delete(stale)
    for (platform, room_id), group_id in wanted.items():
        room = rooms.get((platform, room_id))
        if room is None:
            session.add(
                Room(
                    platform=platform,
                    room_id=room_id,
                    working_group_id=group_id,
                    source=CONFIG,
                    created_at=now,
                )
            )
        else:
            room.working_group_id = group_id
            room.source = CONFIG
    session.flush()


def _sync_memberships(
    session: Session, wanted: dict[tuple[int, int | None], Role], now: datetime
) -> None:
    """Config roles become exactly ``wanted``; a config role replaces a command-made one."""
    rows = {
        (row.member_id, row.working_group_id): row for row in session.scalars(select(Membership))
    }
    for key, stale in rows.items():
        if stale.source == CONFIG and key not in wanted:
            session.delete(stale)
    for (member_id, group_id), role in wanted.items():
        row = rows.get((member_id, group_id))
        if row is None:
            session.add(
                Membership(
                    member_id=member_id,
                    working_group_id=group_id,
                    role=role.value,
                    source=CONFIG,
                    created_at=now,
                )
            )
        else:
            row.role = role.value
            row.source = CONFIG
    session.flush()


def working_group_for_room_in(
    session: Session, platform: Platform, room_id: str
) -> WorkingGroupRecord | None:
    group = session.scalars(
        select(WorkingGroup)
        .join(Room, Room.working_group_id == WorkingGroup.id)
        .where(Room.platform == Platform(platform).value, Room.room_id == room_id)
    ).one_or_none()
    return None if group is None else group_record(group)


def working_group_by_slug_in(session: Session, slug: str) -> WorkingGroupRecord | None:
    group = session.scalars(select(WorkingGroup).where(WorkingGroup.slug == slug)).one_or_none()
    return None if group is None else group_record(group)


def list_working_groups_in(session: Session) -> list[WorkingGroupRecord]:
    groups = session.scalars(select(WorkingGroup).order_by(WorkingGroup.slug))
    return [group_record(group) for group in groups]


def roles_of_in(session: Session, member_id: int) -> MemberRoles:
    network: Role | None = None
    by_group: dict[int, Role] = {}
    for row in session.scalars(select(Membership).where(Membership.member_id == member_id)):
        role = Role(row.role)
        if row.working_group_id is None:
            network = role
        else:
            by_group[row.working_group_id] = role
    return MemberRoles(network, MappingProxyType(by_group))


def group_summaries_in(session: Session) -> list[GroupSummary]:
    rooms: dict[int, dict[Platform, int]] = {}
    room_counts = session.execute(
        select(Room.working_group_id, Room.platform, func.count()).group_by(
            Room.working_group_id, Room.platform
        )
    )
    for group_id, platform, count in room_counts:
        if platform in _PLATFORM_VALUES:  # rooms of a transport no longer built are left out
            rooms.setdefault(group_id, {})[Platform(platform)] = count
    members: dict[int, int] = {}
    coordinators: dict[int, int] = {}
    roles = session.execute(
        select(Membership.working_group_id, Membership.role).where(
            Membership.working_group_id.is_not(None)
        )
    )
    for role_group_id, role in roles:
        if role_group_id is None:
            continue
        members[role_group_id] = members.get(role_group_id, 0) + 1
        if Role(role).includes(Role.COORDINATOR):
            coordinators[role_group_id] = coordinators.get(role_group_id, 0) + 1
    groups = session.scalars(select(WorkingGroup).order_by(WorkingGroup.slug))
    return [
        GroupSummary(
            group=group_record(group),
            rooms=MappingProxyType(rooms.get(group.id, {})),
            members=members.get(group.id, 0),
            coordinators=coordinators.get(group.id, 0),
        )
        for group in groups
    ]


def set_role_in(
    session: Session, member_id: int, working_group_id: int | None, role: Role, now: datetime
) -> Role:
    """Record a role granted by command; a role from the configuration wins and is returned."""
    existing_member(session, member_id)
    if working_group_id is not None and session.get(WorkingGroup, working_group_id) is None:
        raise NotFoundError(f"no working group with id {working_group_id}")
    where_group = (
        Membership.working_group_id.is_(None)
        if working_group_id is None
        else Membership.working_group_id == working_group_id
    )
    row = session.scalars(
        select(Membership).where(Membership.member_id == member_id, where_group)
    ).one_or_none()
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
    elif row.source == CONFIG:
        return Role(row.role)
    else:
        row.role = role.value
    session.flush()
    return role
