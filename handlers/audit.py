"""The audit log as admins read it (``/audit``): newest first, ten changes a page, in a
private chat only. A network admin reads every entry; a group's admin the entries about
the groups they administer.

Each entry is one localized sentence: known actions (:data:`SENTENCES`) have their own;
an action this version does not know (another capability's) is shown by its name and
details, so that nothing recorded is hidden.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.context import Context, UserError
from bot.moments import moment
from bot.registry import Registry
from bot.types import Command, CommandRef, Lines, Literal, Message, Reply, Role
from storage import WorkingGroupRecord
from storage.audit import AuditRecord
from storage.roster import ROLE_REMOVED, ROLE_SET

PAGE_SIZE = 10
MAX_PAGE = 10_000

SENTENCES = {ROLE_SET: "audit.role_set", ROLE_REMOVED: "audit.role_removed"}
"""Actions with a sentence of their own."""
ROLE_DETAIL = {ROLE_SET: "role", ROLE_REMOVED: "previous"}
"""The detail naming the role each of them shows."""
ROLES = {role.value: role for role in Role}


def register(registry: Registry) -> None:
    registry.command("audit", show_audit, help_key="help.audit", role=Role.ADMIN, direct_only=True)


def _usage() -> UserError:
    return UserError("audit.usage", command=CommandRef("audit"))


def _parse(context: Context, args: Sequence[str]) -> tuple[WorkingGroupRecord | None, int]:
    """``[GROUP] [PAGE]``, in either order."""
    group: WorkingGroupRecord | None = None
    page: int | None = None
    if len(args) > 2:
        raise _usage()
    for arg in args:
        if arg.isascii() and arg.isdigit():
            if page is not None or not 1 <= int(arg) <= MAX_PAGE:
                raise _usage()
            page = int(arg)
        elif group is None:
            group = context.store.groups.by_slug(arg.lower())
            if group is None:
                raise UserError(
                    "members.no_such_group", slug=Literal(arg), groups=CommandRef("groups")
                )
        else:
            raise _usage()
    return group, page or 1


def show_audit(context: Context, command: Command) -> Sequence[Reply]:
    """``/audit [GROUP] [PAGE]``."""
    group, page = _parse(context, command.args)
    network_admin = context.role_in(None) is Role.ADMIN
    groups = {g.id: g for g in context.store.groups.all()}
    if group is not None:
        if context.role_in(group.id) is not Role.ADMIN:
            raise UserError("audit.not_yours")
        readable: list[int] | None = [group.id]
        where: Message | Literal = Literal(group.name)
    elif network_admin:
        readable, where = None, Message.of("audit.everything")
    else:
        own = [g for g in groups.values() if context.role_in(g.id) is Role.ADMIN]
        if not own:
            raise UserError("audit.not_yours")
        readable = [g.id for g in own]
        where = Literal(", ".join(g.name for g in own))
    found = context.store.audit.page(
        group_ids=readable, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    if found.total == 0:
        return [Reply(Message.of("audit.empty", where=where))]
    pages = (found.total + PAGE_SIZE - 1) // PAGE_SIZE
    if page > pages:
        raise UserError(
            "audit.no_such_page", page=page, pages=Message.counted("members.pages_count", pages)
        )
    names = context.store.roster.names(
        [
            number
            for entry in found.entries
            for number in (entry.actor_member_id, entry.member_id)
            if number is not None
        ]
    )
    zone = context.member.time_zone or context.config.time_zone
    lines: list[Message | Literal] = [
        Message.counted("audit.header", found.total, where=where, page=page, pages=pages)
    ]
    for entry in found.entries:
        lines.append(
            Message.of(
                "audit.line",
                when=Literal(moment(entry.created_at, context.member.language, zone)),
                what=describe(entry, names, groups),
            )
        )
    if page < pages:
        following = f"{group.slug} {page + 1}" if group else str(page + 1)
        lines.append(Message.of("audit.more", command=CommandRef("audit"), next=Literal(following)))
    return [Reply(Lines(tuple(lines)))]


def describe(
    entry: AuditRecord,
    names: Mapping[int, str | None],
    groups: Mapping[int, WorkingGroupRecord],
) -> Message:
    """One entry as a sentence: who did what, to whom, where."""
    actor = _who(entry.actor_member_id, names, "audit.actor_none")
    member = _who(entry.member_id, names, "audit.member_gone")
    group = groups.get(entry.working_group_id) if entry.working_group_id else None
    where: Message | Literal = Literal(group.name) if group else Message.of("members.network")
    key = SENTENCES.get(entry.action)
    role = ROLES.get(str(entry.detail.get(ROLE_DETAIL.get(entry.action, ""))))
    if key is not None and role is not None:
        return Message.of(
            key, actor=actor, member=member, role=Message.of(f"role.{role.value}"), where=where
        )
    details = [f"{name}={value}" for name, value in sorted(entry.detail.items())]
    if group is not None:
        details.insert(0, f"group={group.slug}")
    if entry.organization_id is not None:
        details.insert(0, f"organization={entry.organization_id}")
    shown = Literal(", ".join(details) or "-")
    if entry.member_id is None:
        return Message.of("audit.other", actor=actor, action=Literal(entry.action), details=shown)
    return Message.of(
        "audit.other_about",
        actor=actor,
        action=Literal(entry.action),
        member=member,
        details=shown,
    )


def _who(number: int | None, names: Mapping[int, str | None], unknown: str) -> Message:
    """A member by number and name (readers of the log are admins); ``unknown`` when the
    entry names nobody (the configuration, or a member since erased)."""
    if number is None or number not in names:
        return Message.of(unknown)
    name = names[number]
    if name:
        return Message.of("audit.member_named", number=number, name=Literal(name))
    return Message.of("audit.member_number", number=number)
