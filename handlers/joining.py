"""Joining working groups: ``/join`` asks a group's coordinators, who approve or decline
with a button (the first decision wins); an open group takes a member at once. On approval
the member is welcomed with the ways into the group's rooms. ``/leave``, ``/joinlink`` (the
Telegram link a coordinator shares: ``t.me/<bot>?start=join-<slug>``), and the joinable
groups that ``/groups`` lists."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot.config import WorkingGroupConfig
from bot.context import Context, UserError
from bot.notices import notify_coordinators, notify_member
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
from storage import WorkingGroupRecord
from storage.joining import JoinRequestRecord, JoinState, Leaving

JOIN_CHOICE = "join"
JOIN_PAYLOAD = "join"
"""``/start join-<slug>``: what a ``t.me/<bot>?start=join-<slug>`` link opens."""
APPROVE = "approve"
DECLINE = "decline"
_DECISIONS = {APPROVE: JoinState.APPROVED, DECLINE: JoinState.DECLINED}
_DECIDED = {
    JoinState.APPROVED: "join.decided_approved",
    JoinState.DECLINED: "join.decided_declined",
    JoinState.CANCELLED: "join.decided_cancelled",
}
"""What coordinators are told of a request someone decided (or its member withdrew)."""
_YOU_DECIDED = {JoinState.APPROVED: "join.you_approved", JoinState.DECLINED: "join.you_declined"}


def register(registry: Registry) -> None:
    registry.command("join", join, help_key="help.join", direct_only=True)
    registry.command("leave", leave, help_key="help.leave", direct_only=True)
    registry.command("joinlink", join_link, help_key="help.joinlink", role=Role.COORDINATOR)
    registry.choice(JOIN_CHOICE, decision_picked)
    registry.start_payload(JOIN_PAYLOAD, join_from_link)


# -- what /groups shows a member ------------------------------------------------------------


def _configured(context: Context, slug: str) -> WorkingGroupConfig | None:
    return next((group for group in context.config.working_groups if group.slug == slug), None)


def description_of(group: WorkingGroupConfig, language: str) -> str | None:
    """The group's description in ``language``, else in the group's first language."""
    return group.description.get(language) or group.description.get(group.languages[0])


def groups_overview(context: Context) -> list[Message | Literal]:
    """The lines of ``/groups`` for every member: the groups they can join (with their
    description in the member's language), and those they belong to or asked to join."""
    roles = context.roles.by_group
    joinable: list[Message | Literal] = []
    theirs: list[Message | Literal] = []
    for group in context.store.groups.all():
        configured = _configured(context, group.slug)
        if configured is None:
            continue  # no longer in the configuration: nobody joins it
        role = roles.get(group.id)
        if role is not None:
            theirs.append(
                Message.of(
                    "join.your_group_line",
                    name=Literal(group.name),
                    slug=Literal(group.slug),
                    role=Message.of(f"role.{role.value}"),
                )
            )
            continue
        if context.store.joining.pending(context.member.id, group.id) is not None:
            theirs.append(
                Message.of("join.pending_line", name=Literal(group.name), slug=Literal(group.slug))
            )
            continue
        key = "join.open_group_line" if configured.join == "open" else "join.group_line"
        joinable.append(Message.of(key, name=Literal(group.name), slug=Literal(group.slug)))
        description = description_of(configured, context.member.language)
        if description:
            joinable.append(Literal(description))
    lines: list[Message | Literal] = []
    if joinable:
        lines.append(Message.of("join.joinable_header", join=CommandRef("join")))
        lines.extend(joinable)
    else:
        lines.append(Message.of("join.nothing_to_join"))
    if theirs:
        lines.append(Message.of("join.yours_header", leave=CommandRef("leave")))
        lines.extend(theirs)
    return lines


def pending_for_coordinator(context: Context) -> list[Reply]:
    """The requests waiting in the groups the member coordinates, each with its buttons
    (shown by ``/groups``, for coordinators the bot could not reach with the notice)."""
    groups = {group.id: group for group in context.groups_where(Role.COORDINATOR)}
    requests = context.store.joining.pending_in(tuple(groups))
    return [
        Reply(_request_text(context, request, groups[request.working_group_id]), _buttons(request))
        for request in requests
    ]


# -- /join ----------------------------------------------------------------------------------


def join(context: Context, command: Command) -> Sequence[Reply]:
    """``/join SLUG``: a request to the group's coordinators, or at once for an open group."""
    if len(command.args) != 1:
        raise UserError("join.usage", join=CommandRef("join"), groups=CommandRef("groups"))
    return _join(context, command.args[0])


def join_from_link(context: Context, command: Command, slug: str) -> Sequence[Reply]:
    """``/start join-SLUG``, from a deep link: as ``/join SLUG``."""
    if not context.origin.is_direct:
        return [Reply(Message.of("router.direct_only", command=CommandRef("join")))]
    return _join(context, slug)


def _group(context: Context, slug: str) -> tuple[WorkingGroupRecord, WorkingGroupConfig]:
    wanted = slug.lower()
    group = context.store.groups.by_slug(wanted)
    configured = _configured(context, wanted)
    if group is None or configured is None:
        raise UserError("join.no_such_group", slug=Literal(slug), groups=CommandRef("groups"))
    return group, configured


def _join(context: Context, slug: str) -> Sequence[Reply]:
    group, configured = _group(context, slug)
    member_id = context.member.id
    if group.id in context.roles.by_group:
        raise UserError("join.already_member", group=Literal(group.name))
    if configured.join == "open":
        context.store.joining.add_member(member_id, group.id)
        context.store.audit.record(
            "membership.joined",
            member_id,
            member_id=member_id,
            working_group_id=group.id,
            detail={"slug": group.slug, "how": "open"},
        )
        return [Reply(welcome(context, group, member_id))]
    request, made = context.store.joining.request(member_id, group.id)
    if not made:
        raise UserError("join.already_pending", group=Literal(group.name))
    context.store.audit.record(
        "membership.requested",
        member_id,
        member_id=member_id,
        working_group_id=group.id,
        detail={"slug": group.slug, "request": request.id},
    )
    notices = [
        replace(notice, choices=_buttons(request))
        for notice in notify_coordinators(
            context.store,
            group.id,
            _request_text(context, request, group),
            enabled=context.config.enabled_platforms,
        )
    ]
    key = "join.requested" if notices else "join.requested_nobody_reached"
    return [
        Reply(Message.of(key, group=Literal(group.name), groups=CommandRef("groups"))),
        *notices,
    ]


def _request_text(
    context: Context, request: JoinRequestRecord, group: WorkingGroupRecord
) -> Message:
    return Message.of(
        "join.request_notice",
        member=_named(context, request.member_id),
        group=Literal(group.name),
    )


def _buttons(request: JoinRequestRecord) -> tuple[Choice, ...]:
    return (
        Choice(f"{JOIN_CHOICE}:{APPROVE}:{request.id}", Message.of("join.approve")),
        Choice(f"{JOIN_CHOICE}:{DECLINE}:{request.id}", Message.of("join.decline")),
    )


def _named(context: Context, member_id: int) -> Message:
    """A member as coordinators and members see them: their name (if they gave one) and
    number."""
    member = context.store.members.get(member_id)
    if member is not None and member.display_name:
        return Message.of("join.member_named", name=Literal(member.display_name), number=member_id)
    return Message.of("join.member_numbered", number=member_id)


# -- a coordinator's decision ---------------------------------------------------------------


def decision_picked(context: Context, picked: ChoicePicked, payload: str) -> Sequence[Reply]:
    """``join:approve:ID`` or ``join:decline:ID``, from the buttons of a request's notice."""
    verb, _, number = payload.partition(":")
    state = _DECISIONS.get(verb)
    if state is None or not (number.isascii() and number.isdigit()) or int(number) < 1:
        raise UserError("join.no_such_request")
    request = context.store.joining.get(int(number))
    group = None if request is None else _group_by_id(context, request.working_group_id)
    if request is None or group is None:
        raise UserError("join.no_such_request")
    if not context.role_in(group.id).includes(Role.COORDINATOR):
        raise UserError("join.not_coordinator_here", group=Literal(group.name))
    decision = context.store.joining.decide(request.id, state, context.member.id)
    if not decision.won:
        return [Reply(_already_decided(context, decision.request, group))]
    member_id = request.member_id
    context.store.audit.record(
        f"membership.{state.value}",
        context.member.id,
        member_id=member_id,
        working_group_id=group.id,
        detail={"slug": group.slug, "request": request.id, "decision": state.value},
    )
    enabled = context.config.enabled_platforms
    if state is JoinState.APPROVED:
        context.store.joining.add_member(member_id, group.id)
        to_member = notify_member(
            context.store, member_id, welcome(context, group, member_id), enabled=enabled
        )
    else:
        declined = Message.of("join.declined_notice", group=Literal(group.name))
        to_member = notify_member(context.store, member_id, declined, enabled=enabled)
    told = Message.of(
        _DECIDED[state],
        member=_named(context, member_id),
        group=Literal(group.name),
        by=_named(context, context.member.id),
    )
    others = [
        notice
        for coordinator in context.store.groups.coordinators_of(group.id)
        if coordinator != context.member.id
        for notice in notify_member(context.store, coordinator, told, enabled=enabled)
    ]
    answer = Message.of(
        _YOU_DECIDED[state], member=_named(context, member_id), group=Literal(group.name)
    )
    return [Reply(answer), *to_member, *others]


def _group_by_id(context: Context, working_group_id: int) -> WorkingGroupRecord | None:
    return context.store.groups.get(working_group_id)


def _already_decided(
    context: Context, request: JoinRequestRecord, group: WorkingGroupRecord
) -> Message:
    by = (
        _named(context, request.decided_by)
        if request.decided_by is not None
        else Message.of("join.someone")
    )
    return Message.of(
        _DECIDED.get(request.state, "join.decided_cancelled"),
        member=_named(context, request.member_id),
        group=Literal(group.name),
        by=by,
    )


# -- the welcome ----------------------------------------------------------------------------


def welcome(context: Context, group: WorkingGroupRecord, member_id: int) -> Lines:
    """The welcome to a new member of ``group``: how to reach its rooms, an invite link
    made for them on Telegram and an invitation of their account on Matrix, where the bot
    may; whom to ask where it may not."""
    lines: list[Message | Literal] = [Message.of("join.welcome", group=Literal(group.name))]
    accounts = context.store.members.identities_of(member_id)
    for room in context.store.rooms.links(group.id):
        for account in accounts:
            if account.platform is not room.platform:
                continue
            invitation = context.room_checks.invite(room.platform, room.room_id, account.user_id)
            if invitation is None:
                continue
            if invitation.link is not None:
                lines.append(Message.of("join.telegram_link", link=Literal(invitation.link)))
            elif invitation.invited:
                lines.append(Message.of("join.matrix_invited", room=Literal(room.room_id)))
    if len(lines) == 1:
        coordinators = [
            _named(context, number) for number in context.store.groups.coordinators_of(group.id)
        ]
        whom: Message | Lines = (
            Lines(tuple(coordinators)) if coordinators else Message.of("join.a_network_admin")
        )
        lines.append(Message.of("join.ask_for_rooms", whom=whom))
    return Lines(tuple(lines))


# -- /leave and /joinlink -------------------------------------------------------------------


def leave(context: Context, command: Command) -> Sequence[Reply]:
    """``/leave SLUG``: out of the group, or a pending request to join it withdrawn; a role
    the configuration gives is not the member's to leave by command."""
    if len(command.args) != 1:
        raise UserError("join.leave_usage", leave=CommandRef("leave"), groups=CommandRef("groups"))
    group, _ = _group(context, command.args[0])
    member_id = context.member.id
    pending = context.store.joining.pending(member_id, group.id)
    if pending is not None:
        context.store.joining.decide(pending.id, JoinState.CANCELLED, member_id)
        context.store.audit.record(
            "membership.cancelled",
            member_id,
            member_id=member_id,
            working_group_id=group.id,
            detail={"slug": group.slug, "request": pending.id, "decision": "cancelled"},
        )
        return [Reply(Message.of("join.request_withdrawn", group=Literal(group.name)))]
    left = context.store.joining.leave(member_id, group.id)
    if left is Leaving.CONFIGURED:
        raise UserError("join.configured_role", group=Literal(group.name))
    if left is Leaving.NOT_MEMBER:
        raise UserError("join.not_a_member", group=Literal(group.name), join=CommandRef("join"))
    context.store.audit.record(
        "membership.left",
        member_id,
        member_id=member_id,
        working_group_id=group.id,
        detail={"slug": group.slug},
    )
    return [Reply(Message.of("join.left", group=Literal(group.name)))]


def join_link(context: Context, command: Command) -> Sequence[Reply]:
    """``/joinlink SLUG``: for a coordinator of the group, the link to share."""
    if len(command.args) != 1:
        raise UserError("join.link_usage", joinlink=CommandRef("joinlink"))
    group, _ = _group(context, command.args[0])
    if not context.role_in(group.id).includes(Role.COORDINATOR):
        raise UserError("join.not_coordinator_here", group=Literal(group.name))
    link = context.room_checks.bot_link(Platform.TELEGRAM, f"{JOIN_PAYLOAD}-{group.slug}")
    typed = Message.of("join.link_command", join=CommandRef("join"), slug=Literal(group.slug))
    if link is None:
        return [Reply(Lines((Message.of("join.link_unavailable"), typed)))]
    shared = Message.of("join.link", group=Literal(group.name), link=Literal(link))
    return [Reply(Lines((shared, typed)))]
