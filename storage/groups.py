"""Working groups and the roles members hold in them: ``store.groups``.

Groups, their rooms and roles are what the configuration file declares (synced at start);
commands add rooms (``store.rooms``) and roles on top.
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
from storage.units import Area
from storage.validation import MAX_ID, check_text

CONFIG = "config"
COMMAND = "command"

_Key = tuple[str, str]  # (platform value, platform id)
_PLATFORM_VALUES = frozenset(platform.value for platform in Platform)


class GroupStore(Area):
    """Working groups and roles (``store.groups``)."""

    def sync_configured(
        self,
        groups: Sequence[WorkingGroupSpec],
        network_admins: Sequence[tuple[Platform, str]],
        *,
        default_language: str,
    ) -> None:
        """Make the configured groups, rooms and roles those of the configuration file.

        One transaction. Groups are upserted by slug and never deleted. Rooms and roles
        with source "config" become exactly those configured; ones made by commands stay,
        unless the configuration names the same room, or the same member in the same group,
        in which case the configured one replaces it. Identities not seen before get a new
        member speaking ``default_language``. Raises ``ValueError`` for a configuration
        that names a slug twice or a room for two groups.
        """
        check_text("language", default_language, 8)
        _check_specs(groups, network_admins)
        now = self._now()
        self._run(
            _sync_configured, groups, network_admins, default_language=default_language, now=now
        )

    def for_room(self, platform: Platform, room_id: str) -> WorkingGroupRecord | None:
        """The working group a room is linked to, if any."""
        return self._run(_for_room, platform, room_id)

    def by_slug(self, slug: str) -> WorkingGroupRecord | None:
        return self._run(_by_slug, slug)

    def get(self, working_group_id: int) -> WorkingGroupRecord | None:
        """The working group with this id, if any."""
        if not 0 < working_group_id <= MAX_ID:
            return None  # typed by someone: no such group, not an error of the database

        def get_in(session: Session) -> WorkingGroupRecord | None:
            group = session.get(WorkingGroup, working_group_id)
            return None if group is None else _group_record(group)

        return self._run(get_in)

    def all(self) -> list[WorkingGroupRecord]:
        """All working groups, by slug (including ones no longer configured)."""
        return self._run(_all_groups)

    def summaries(self) -> list[GroupSummary]:
        """Every working group (by slug) with its room and role counts."""
        return self._run(_summaries)

    def roles_of(self, member_id: int) -> MemberRoles:
        return self._run(_roles_of, member_id)

    def set_role(self, member_id: int, working_group_id: int | None, role: Role) -> Role:
        """Give a member a role in a group, or network-wide for ``None`` (a command's doing).

        A role the configuration gives the member there is not overridden: the method
        then changes nothing and returns that role; otherwise it returns ``role``.
        Raises :class:`NotFoundError` for an unknown member or group.
        """
        now = self._now()
        return self._run(_set_role, member_id, working_group_id, Role(role), now)

    def coordinators_of(self, working_group_id: int) -> list[int]:
        """Members who coordinate the group (coordinators and the group's own admins)."""
        return self._run(_coordinators_of, working_group_id)


def _group_record(group: WorkingGroup) -> WorkingGroupRecord:
    languages = tuple(code for code in group.languages.split(",") if code)
    return WorkingGroupRecord(group.id, group.slug, group.name, languages)


def _check_specs(
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


def _sync_configured(
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


def _for_room(session: Session, platform: Platform, room_id: str) -> WorkingGroupRecord | None:
    group = session.scalars(
        select(WorkingGroup)
        .join(Room, Room.working_group_id == WorkingGroup.id)
        .where(Room.platform == Platform(platform).value, Room.room_id == room_id)
    ).one_or_none()
    return None if group is None else _group_record(group)


def _by_slug(session: Session, slug: str) -> WorkingGroupRecord | None:
    group = session.scalars(select(WorkingGroup).where(WorkingGroup.slug == slug)).one_or_none()
    return None if group is None else _group_record(group)


def _all_groups(session: Session) -> list[WorkingGroupRecord]:
    groups = session.scalars(select(WorkingGroup).order_by(WorkingGroup.slug))
    return [_group_record(group) for group in groups]


def _roles_of(session: Session, member_id: int) -> MemberRoles:
    network: Role | None = None
    by_group: dict[int, Role] = {}
    for row in session.scalars(select(Membership).where(Membership.member_id == member_id)):
        role = Role(row.role)
        if row.working_group_id is None:
            network = role
        else:
            by_group[row.working_group_id] = role
    return MemberRoles(network, MappingProxyType(by_group))


def _summaries(session: Session) -> list[GroupSummary]:
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
            group=_group_record(group),
            rooms=MappingProxyType(rooms.get(group.id, {})),
            members=members.get(group.id, 0),
            coordinators=coordinators.get(group.id, 0),
        )
        for group in groups
    ]


def _set_role(
    session: Session, member_id: int, working_group_id: int | None, role: Role, now: datetime
) -> Role:
    """A role granted by command; a role from the configuration wins and is returned."""
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


def _coordinators_of(session: Session, working_group_id: int) -> list[int]:
    rows = session.scalars(
        select(Membership.member_id)
        .where(
            Membership.working_group_id == working_group_id,
            Membership.role.in_(("coordinator", "admin")),
        )
        .order_by(Membership.member_id)
    )
    return list(rows)
