"""Linking rooms to working groups: the rooms whose members the bridge joins as one."""

from __future__ import annotations

from collections.abc import Sequence

from bot.context import Context, UserError
from bot.registry import Registry
from bot.room_checks import BotAccess
from bot.types import Command, CommandRef, Lines, Literal, Message, Platform, Reply, Role
from storage import LinkOutcome, WorkingGroupRecord

_LINKABLE = {platform.value: platform for platform in (Platform.TELEGRAM, Platform.MATRIX)}


def register(registry: Registry) -> None:
    registry.command("link", link, help_key="help.link", role=Role.ADMIN)
    registry.command("unlink", unlink, help_key="help.unlink", role=Role.ADMIN)
    registry.command("links", list_links, help_key="help.links", role=Role.ADMIN, direct_only=True)


def _group(context: Context, slug: str) -> WorkingGroupRecord:
    group = context.store.groups.by_slug(slug.lower())
    if group is None:
        raise UserError("members.no_such_group", slug=Literal(slug), groups=CommandRef("groups"))
    return group


def _require_admin_of(context: Context, group_id: int) -> None:
    if context.role_in(None) is not Role.ADMIN and context.role_in(group_id) is not Role.ADMIN:
        raise UserError("links.not_admin_here")


def _room(context: Context, args: Sequence[str], usage: UserError) -> tuple[Platform, str]:
    """The room named by ``PLATFORM ROOM`` arguments, or the room the command came from."""
    if len(args) == 2:
        platform = _LINKABLE.get(args[0].lower())
        if platform is None or len(args[1]) > 255:
            raise usage
        return platform, args[1]
    if args or context.origin.is_direct or context.origin.platform not in _LINKABLE.values():
        raise usage
    return context.origin.platform, context.origin.room_id


def _is_group_id(chat_id: str) -> bool:
    """Telegram gives groups negative ids and people positive ones."""
    return len(chat_id) > 1 and chat_id[0] == "-" and chat_id[1:].isdigit()


_NOT_READY = {
    BotAccess.NOT_MEMBER: "links.bot_not_member",
    BotAccess.CANNOT_SEND: "links.bot_cannot_send",
    BotAccess.NOT_A_GROUP: "links.not_a_group",
    BotAccess.UNCHECKED: "links.bot_unchecked",
}


def _check_linkable(context: Context, platform: Platform, room_id: str, *, named: bool) -> None:
    """A room joins a group's conversation only if it is a group at all, nobody's private
    chat with the bot, and (named from elsewhere) one the bot is in and may speak in."""
    room = Literal(room_id)
    if platform is Platform.TELEGRAM and not _is_group_id(room_id):
        raise UserError("links.not_a_group", room=room)
    if context.store.members.is_private_room(platform, room_id):
        raise UserError("links.private_room", room=room)
    if not named:
        return  # typed in the room itself: the bot is there
    access = context.room_checks.bot_access(platform, room_id)
    if access is not BotAccess.READY:
        name = Message.of(f"platform.{platform.value}")
        raise UserError(_NOT_READY[access], room=room, platform=name)


def link(context: Context, command: Command) -> Sequence[Reply]:
    """``/link GROUP`` in a room links that room; ``/link GROUP PLATFORM ROOM`` names one."""
    if len(command.args) not in (1, 3):
        raise UserError("links.link_usage", command=CommandRef("link"))
    group = _group(context, command.args[0])
    _require_admin_of(context, group.id)
    platform, room_id = _room(
        context, command.args[1:], UserError("links.link_usage", command=CommandRef("link"))
    )
    _check_linkable(context, platform, room_id, named=len(command.args) == 3)
    current = context.store.groups.for_room(platform, room_id)
    if current is not None and current.id != group.id:
        _require_admin_of(context, current.id)  # moving a room takes it from its group too
    outcome = context.store.rooms.link(platform, room_id, group.id)
    if outcome is LinkOutcome.LINKED_ELSEWHERE:
        assert current is not None
        raise UserError("links.configured_elsewhere", group=Literal(current.name))
    key = {
        LinkOutcome.LINKED: "links.linked",
        LinkOutcome.MOVED: "links.linked",
        LinkOutcome.ALREADY_LINKED: "links.already_linked",
    }[outcome]
    return [Reply(Message.of(key, room=Literal(room_id), group=Literal(group.name)))]


def unlink(context: Context, command: Command) -> Sequence[Reply]:
    """``/unlink`` in a linked room, or ``/unlink PLATFORM ROOM``."""
    platform, room_id = _room(
        context, command.args, UserError("links.unlink_usage", command=CommandRef("unlink"))
    )
    current = context.store.groups.for_room(platform, room_id)
    if current is None:
        raise UserError("links.not_linked", room=Literal(room_id))
    _require_admin_of(context, current.id)
    outcome = context.store.rooms.unlink(platform, room_id)
    if outcome is LinkOutcome.CONFIGURED:
        raise UserError("links.configured", room=Literal(room_id))
    return [Reply(Message.of("links.unlinked", room=Literal(room_id), group=Literal(current.name)))]


def list_links(context: Context, command: Command) -> Sequence[Reply]:
    """``/links [GROUP]``: the rooms of each working group the member administers (all of
    them for a network admin), and where each link comes from."""
    if len(command.args) > 1:
        raise UserError("links.links_usage", command=CommandRef("links"))
    groups = context.groups_where(Role.ADMIN)
    if command.args:
        group = _group(context, command.args[0])
        if group.id not in {administered.id for administered in groups}:
            raise UserError("links.not_admin_of", group=Literal(group.name))
        groups = [group]
    if not groups:
        return [Reply(Message.of("members.no_groups"))]
    lines: list[Message | Literal] = []
    for group in groups:
        links = context.store.rooms.links(group.id)
        lines.append(Message.counted("links.group", len(links), group=Literal(group.name)))
        for found in links:
            lines.append(
                Message.of(
                    "links.room",
                    platform=Message.of(f"platform.{found.platform.value}"),
                    room=Literal(found.room_id),
                    source=Message.of(
                        "links.from_config" if found.from_config else "links.from_command"
                    ),
                )
            )
    return [Reply(Lines(tuple(lines)))]
