"""Members and roles: who coordinates which working group, admins giving and taking roles
(``/role``, ``/roles``), and coordinators listing their group's members (``/members``)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.choosing import SHORTEST_PART, folded
from bot.context import Context, UserError
from bot.moments import day
from bot.registry import Registry
from bot.types import (
    Choice,
    ChoicePicked,
    Command,
    CommandRef,
    Lines,
    Literal,
    Message,
    Platform,
    Reply,
    Role,
)
from handlers import joining
from storage import WorkingGroupRecord
from storage.organizations import Standing
from storage.roster import ROLE_REMOVED, ROLE_SET, RosterEntry


def register(registry: Registry) -> None:
    registry.command("groups", list_groups, help_key="help.groups", direct_only=True)
    # Private only: its name search answers with members' names and numbers.
    registry.command("role", set_role, help_key="help.role", role=Role.ADMIN, direct_only=True)
    registry.command("roles", list_roles, help_key="help.roles", role=Role.ADMIN, direct_only=True)
    registry.command(
        "members", list_members, help_key="help.members", role=Role.COORDINATOR, direct_only=True
    )
    registry.choice(ROLE_CHOICE, role_picked, role=Role.ADMIN)


def list_groups(context: Context, command: Command) -> Sequence[Reply]:
    """``/groups``: for every member, the working groups they can join and those they belong
    to (:func:`handlers.joining.groups_overview`); for a coordinator or admin, also the groups
    they coordinate or administer (all of them for a network-wide role), with their rooms,
    members and coordinators counted, and the requests to join them still waiting."""
    overview = Reply(Lines(tuple(joining.groups_overview(context))))
    summaries = [
        summary
        for summary in context.store.groups.summaries()
        if context.role_in(summary.group.id).includes(Role.COORDINATOR)
    ]
    if not context.role.includes(Role.COORDINATOR):
        return [overview]
    if not summaries:
        return [Reply(Message.of("members.no_groups")), overview]
    lines: list[Message | Literal] = [Message.of("members.groups_header", count=len(summaries))]
    for summary in summaries:
        lines.append(
            Message.of(
                "members.group_line",
                name=Literal(summary.group.name),
                slug=Literal(summary.group.slug),
                languages=Literal(", ".join(summary.group.languages)),
                telegram=Message.counted(
                    "members.count_telegram_rooms", summary.rooms.get(Platform.TELEGRAM, 0)
                ),
                matrix=Message.counted(
                    "members.count_matrix_rooms", summary.rooms.get(Platform.MATRIX, 0)
                ),
                members=Message.counted("members.count_members", summary.members),
                coordinators=Message.counted("members.count_coordinators", summary.coordinators),
            )
        )
    return [Reply(Lines(tuple(lines))), overview, *joining.pending_for_coordinator(context)]


# -- /role: giving and taking roles -------------------------------------------------------

ROLE_CHOICE = "role"
"""Choices ``role:MEMBER:ROLE:GROUP`` (group id, ``0`` network-wide): one member picked
among those whose name matched what an admin typed."""
MAX_MEMBER_NUMBER = 2**31 - 1
MAX_NAME_CHOICES = 10
MEMBERS_PAGE_SIZE = 20
MAX_PAGE = 10_000
ROLES = {role.value: role for role in Role}


def _usage() -> UserError:
    return UserError(
        "members.role_usage",
        command=CommandRef("role"),
        whoami=CommandRef("whoami"),
        roles=Literal(", ".join(role.value for role in Role)),
    )


def _is_member_number(text: str) -> bool:
    return text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_MEMBER_NUMBER


def _group_named(context: Context, slug: str) -> WorkingGroupRecord:
    group = context.store.groups.by_slug(slug.lower())
    if group is None:
        raise UserError("members.no_such_group", slug=Literal(slug), groups=CommandRef("groups"))
    return group


def _may_manage_roles(context: Context, group: WorkingGroupRecord | None) -> bool:
    """A network admin manages every group and the network-wide roles; a group's admin
    that group only."""
    if context.role_in(None) is Role.ADMIN:
        return True
    return group is not None and context.role_in(group.id) is Role.ADMIN


def _where(group: WorkingGroupRecord | None) -> Message | Literal:
    return Literal(group.name) if group else Message.of("members.network")


def _name_or_none(name: str | None) -> Message | Literal:
    return Literal(name) if name else Message.of("members.no_name")


def set_role(context: Context, command: Command) -> Sequence[Reply]:
    """``/role MEMBER ROLE [GROUP]``: MEMBER a member number or a part of a name; ROLE
    ``member`` takes a coordinator's or admin's role away; without GROUP, network-wide."""
    args = command.args
    if len(args) >= 2 and args[-1].lower() in ROLES:
        named, role_word, slug = args[:-1], args[-1], None
    elif len(args) >= 3 and args[-2].lower() in ROLES:
        named, role_word, slug = args[:-2], args[-2], args[-1]
    else:
        raise _usage()
    role = ROLES[role_word.lower()]
    group = None if slug is None else _group_named(context, slug)
    if not _may_manage_roles(context, group):
        raise UserError("members.not_admin_here")
    target = " ".join(named)
    if target.isascii() and target.isdigit():
        if not _is_member_number(target):
            raise _usage()
        number = int(target)
        if context.store.members.get(number) is None:
            raise UserError("members.no_such_member", number=number)
        return _apply_role(context, number, role, group)
    if len(folded(target)) < SHORTEST_PART:
        raise _usage()
    found = _members_named(context, target)
    if not found:
        raise UserError("members.no_such_name", name=Literal(target), whoami=CommandRef("whoami"))
    if len(found) == 1:
        return _apply_role(context, found[0][0], role, group)
    if len(found) > MAX_NAME_CHOICES:
        raise UserError("members.too_many_named", name=Literal(target), count=len(found))
    group_part = group.id if group else 0
    choices = tuple(
        Choice(
            f"{ROLE_CHOICE}:{number}:{role.value}:{group_part}",
            Message.of("members.name_choice", number=number, name=Literal(name)),
        )
        for number, name in found
    )
    return [
        Reply(
            Message.of(
                "members.which_member",
                name=Literal(target),
                role=Message.of(f"role.{role.value}"),
                where=_where(group),
            ),
            choices=choices,
        )
    ]


def _members_named(context: Context, part: str) -> list[tuple[int, str]]:
    """Members whose display name contains ``part`` (case and accents set aside)."""
    wanted = folded(part)
    return [
        (number, name) for number, name in context.store.roster.named() if wanted in folded(name)
    ]


def role_picked(context: Context, picked: ChoicePicked, payload: str) -> Sequence[Reply]:
    """One member picked among those a name matched: checked again as if typed."""
    number_text, _, rest = payload.partition(":")
    role_word, _, group_text = rest.partition(":")
    if not (_is_member_number(number_text) and role_word in ROLES and group_text.isdigit()):
        raise _usage()
    group = None
    if group_text != "0":
        group = context.store.groups.get(int(group_text))
        if group is None:
            raise _usage()
    if not _may_manage_roles(context, group):
        raise UserError("members.not_admin_here")
    number = int(number_text)
    if context.store.members.get(number) is None:
        raise UserError("members.no_such_member", number=number)
    return _apply_role(context, number, ROLES[role_word], group)


def _apply_role(
    context: Context, number: int, role: Role, group: WorkingGroupRecord | None
) -> Sequence[Reply]:
    change = context.store.roster.change_role(number, group.id if group else None, role)
    where = _where(group)
    if change.configured:
        held = change.current or Role.MEMBER
        if group is None:
            raise UserError(
                "members.role_from_config_network", number=number, role=_role_name(held)
            )
        raise UserError(
            "members.role_from_config",
            number=number,
            role=_role_name(held),
            where=where,
            setting=Literal("admins" if held is Role.ADMIN else "coordinators"),
            slug=Literal(group.slug),
        )
    if change.previous is change.current:
        if change.current is None:
            raise UserError("members.no_role_to_remove", number=number, where=where)
        return [
            Reply(
                Message.of(
                    "members.role_unchanged", number=number, role=_role_name(role), where=where
                )
            )
        ]
    removed = role is Role.MEMBER and change.previous not in (None, Role.MEMBER)
    previous = None if change.previous is None else change.previous.value
    context.store.audit.record(
        ROLE_REMOVED if removed else ROLE_SET,
        context.member.id,
        member_id=number,
        working_group_id=group.id if group else None,
        detail={"role": role.value, "previous": previous},
    )
    if removed:
        assert change.previous is not None
        key = "members.role_removed" if group else "members.role_removed_network"
        return [
            Reply(Message.of(key, number=number, role=_role_name(change.previous), where=where))
        ]
    return [
        Reply(Message.of("members.role_set", number=number, role=_role_name(role), where=where))
    ]


def _role_name(role: Role) -> Message:
    return Message.of(f"role.{role.value}")


# -- /roles: who holds which role ------------------------------------------------------------


def list_roles(context: Context, command: Command) -> Sequence[Reply]:
    """``/roles [GROUP]``: the coordinators and admins of a group, or without GROUP the
    network-wide roles; roles from the configuration are marked as such."""
    if len(command.args) > 1:
        raise UserError("members.roles_usage", command=CommandRef("roles"))
    group = _group_named(context, command.args[0]) if command.args else None
    if not _may_manage_roles(context, group):
        raise UserError("members.roles_not_yours")
    holders = context.store.roster.holders(group.id if group else None)
    where = _where(group)
    if not holders:
        return [Reply(Message.of("members.no_role_holders", where=where))]
    lines: list[Message | Literal] = [
        Message.counted("members.roles_header", len(holders), where=where)
    ]
    for holder in holders:
        lines.append(
            Message.of(
                "members.holder_line_config" if holder.from_config else "members.holder_line",
                role=_role_name(holder.role),
                number=holder.member_id,
                name=_name_or_none(holder.display_name),
            )
        )
    lines.append(Message.of("members.roles_footer", command=CommandRef("role")))
    return [Reply(Lines(tuple(lines)))]


# -- /members: a group's members, page by page ---------------------------------------------


def _page_number(text: str) -> int | None:
    if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_PAGE:
        return int(text)
    return None


def list_members(context: Context, command: Command) -> Sequence[Reply]:
    """``/members GROUP [PAGE]``: for the group's coordinators and admins (and network-wide
    ones), twenty members a page."""
    args = command.args
    page = 1 if len(args) < 2 else _page_number(args[1])
    if not 1 <= len(args) <= 2 or page is None:
        raise UserError("members.members_usage", command=CommandRef("members"))
    group = _group_named(context, args[0])
    if not context.role_in(group.id).includes(Role.COORDINATOR):
        raise UserError("members.members_not_yours")
    found = context.store.roster.members_of(
        group.id, offset=(page - 1) * MEMBERS_PAGE_SIZE, limit=MEMBERS_PAGE_SIZE
    )
    if found.total == 0:
        return [Reply(Message.of("members.list_empty", group=Literal(group.name)))]
    pages = (found.total + MEMBERS_PAGE_SIZE - 1) // MEMBERS_PAGE_SIZE
    if page > pages:
        raise UserError(
            "members.no_such_page", page=page, pages=Message.counted("members.pages_count", pages)
        )
    lines: list[Message | Literal] = [
        Message.counted(
            "members.list_header", found.total, group=Literal(group.name), page=page, pages=pages
        )
    ]
    zone = context.member.time_zone or context.config.time_zone
    for entry in found.entries:
        lines.append(
            Message.of(
                "members.member_line",
                number=entry.member_id,
                name=_name_or_none(entry.display_name),
                organization=organization_of(context, entry),
                platforms=_platforms(entry.platforms),
                language=Message.of("language.native_name@" + entry.language),
                role=_role_held(entry),
                joined=Literal(day(entry.joined_at, context.member.language, zone)),
            )
        )
    if page < pages:
        lines.append(
            Message.of(
                "members.list_more",
                command=CommandRef("members"),
                group=Literal(group.slug),
                next=page + 1,
            )
        )
    return [Reply(Lines(tuple(lines)))]


def organization_of(context: Context, entry: RosterEntry) -> Message | Literal:
    """The organization a member is listed with: the one a coordinator confirmed, else the
    free text of their profile (their own wording, not vouched for)."""
    affiliation = context.store.organizations.affiliation_of(entry.member_id)
    if affiliation is not None and affiliation.standing is Standing.CONFIRMED:
        return Literal(affiliation.organization.name)
    if entry.organization:
        return Literal(entry.organization)
    return Message.of("members.no_organization")


def _platforms(platforms: Sequence[Platform]) -> Message:
    """The platforms a member has accounts on, named (never the accounts themselves)."""
    if not platforms:
        return Message.of("members.no_platform")
    named = Message.of(f"platform.{platforms[-1].value}")
    for platform in reversed(platforms[:-1]):
        named = Message.of(
            "members.list_pair", first=Message.of(f"platform.{platform.value}"), rest=named
        )
    return named


def _role_held(entry: RosterEntry) -> Message:
    if entry.from_config:
        return Message.of("members.role_configured", role=_role_name(entry.role))
    return _role_name(entry.role)
