"""Members and roles: who coordinates which working group, and admins granting roles."""

from __future__ import annotations

from collections.abc import Sequence

from bot.context import Context, UserError
from bot.registry import Registry
from bot.types import Command, CommandRef, Lines, Literal, Message, Platform, Reply, Role
from handlers import joining


def register(registry: Registry) -> None:
    registry.command("groups", list_groups, help_key="help.groups", direct_only=True)
    registry.command("role", set_role, help_key="help.role", role=Role.ADMIN)


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


def _usage() -> UserError:
    return UserError(
        "members.role_usage",
        command=CommandRef("role"),
        whoami=CommandRef("whoami"),
        roles=Literal(", ".join(role.value for role in Role)),
    )


MAX_MEMBER_NUMBER = 2**31 - 1


def _is_member_number(text: str) -> bool:
    return text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_MEMBER_NUMBER


def set_role(context: Context, command: Command) -> Sequence[Reply]:
    """``/role NUMBER ROLE [GROUP]``: without a group, a network-wide role."""
    if not 2 <= len(command.args) <= 3 or not _is_member_number(command.args[0]):
        raise _usage()
    number = int(command.args[0])
    roles = {role.value: role for role in Role}
    role = roles.get(command.args[1].lower())
    if role is None:
        raise _usage()
    group = None
    if len(command.args) == 3:
        group = context.store.groups.by_slug(command.args[2].lower())
        if group is None:
            raise UserError(
                "members.no_such_group", slug=Literal(command.args[2]), groups=CommandRef("groups")
            )
    may_grant = context.role_in(None) is Role.ADMIN or (
        group is not None and context.role_in(group.id) is Role.ADMIN
    )
    if not may_grant:
        raise UserError("members.not_admin_here")
    if context.store.members.get(number) is None:
        raise UserError("members.no_such_member", number=number)
    effective = context.store.groups.set_role(number, group.id if group else None, role)
    if effective is role:
        context.store.audit.record(
            "role.set",
            context.member.id,
            member_id=number,
            working_group_id=group.id if group else None,
            detail={"role": role.value},
        )
    where = Literal(group.name) if group else Message.of("members.network")
    if effective is not role:
        return [
            Reply(
                Message.of(
                    "members.role_from_config",
                    number=number,
                    role=Message.of(f"role.{effective.value}"),
                    where=where,
                )
            )
        ]
    return [
        Reply(
            Message.of(
                "members.role_set",
                number=number,
                role=Message.of(f"role.{role.value}"),
                where=where,
            )
        )
    ]
