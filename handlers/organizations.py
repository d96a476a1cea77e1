"""The network's member organizations: a member claims theirs (``/org NAME``) and a
coordinator confirms or declines the claim with a button; coordinators, and an
organization's own signatories, say who signs for it (``/signatory``). Network admins keep
the list (:mod:`handlers.organizations_admin`, :mod:`handlers.organizations_import`).

Who decides a claim: a coordinator or admin of any working group the claimant belongs to,
and a network admin always (the only one who can when the claimant is in no group).
Every change is recorded in the audit log in the unit of work that makes it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from bot.context import Context, UserError
from bot.notices import notify_member
from bot.registry import Registry
from bot.types import (
    Choice,
    ChoicePicked,
    Command,
    CommandRef,
    Lines,
    Literal,
    Message,
    Reply,
    Role,
)
from handlers import organizations_admin, organizations_import
from handlers.organizations_fields import as_number, organization_line
from storage.organizations import Affiliation, AlreadyConfirmed, OrganizationRecord, Standing

log = logging.getLogger(__name__)

CLAIM_CHOICE = "orgclaim"
PICK_CHOICE = "orgpick"
PAGE_SIZE = 10
MOST_MATCHES = 10


def register(registry: Registry) -> None:
    registry.command("orgs", list_organizations, help_key="help.orgs", direct_only=True)
    registry.command("org", my_organization, help_key="help.org", direct_only=True)
    registry.command("signatory", change_signatory, help_key="help.signatory", direct_only=True)
    registry.command(
        "orgclaims",
        waiting_claims,
        help_key="help.orgclaims",
        role=Role.COORDINATOR,
        direct_only=True,
    )
    organizations_admin.register(registry)
    registry.choice(PICK_CHOICE, organization_picked)
    registry.choice(CLAIM_CHOICE, claim_decided, role=Role.COORDINATOR)
    organizations_import.register(registry)


# -- reading ----------------------------------------------------------------------------


def list_organizations(context: Context, command: Command) -> Sequence[Reply]:
    """``/orgs [page]``: the member organizations by name, ten a page."""
    page = as_number(command.args[0]) if command.args else 1
    if page is None or len(command.args) > 1:
        raise UserError("orgs.list_usage", command=CommandRef("orgs"))
    found = context.store.organizations.page((page - 1) * PAGE_SIZE, PAGE_SIZE)
    if found.total == 0:
        return [Reply(Message.of("orgs.none_yet"))]
    pages = max(1, -(-found.total // PAGE_SIZE))
    if not found.organizations:
        raise UserError("orgs.no_such_page", page=page, pages=Message.counted("orgs.pages", pages))
    lines: list[Message | Literal] = [
        Message.of(
            "orgs.list_header",
            count=Message.counted("orgs.count", found.total),
            page=page,
            pages=Message.counted("orgs.pages", pages),
        )
    ]
    lines.extend(organization_line(organization) for organization in found.organizations)
    if page < pages:
        lines.append(Message.of("orgs.list_more", command=CommandRef("orgs"), next=page + 1))
    return [Reply(Lines(tuple(lines)))]


def _standing_text(affiliation: Affiliation) -> Message:
    if affiliation.standing is Standing.PENDING:
        return Message.of("orgs.mine_pending", name=Literal(affiliation.organization.name))
    key = "orgs.mine_signatory" if affiliation.signatory else "orgs.mine_confirmed"
    return Message.of(key, name=Literal(affiliation.organization.name))


def my_organization(context: Context, command: Command) -> Sequence[Reply]:
    """``/org``: the member's organization; ``/org NAME``: claim one; ``/org leave``."""
    store = context.store.organizations
    affiliation = store.affiliation_of(context.member.id)
    if not command.args:
        if affiliation is None:
            return [
                Reply(Message.of("orgs.mine_none", org=CommandRef("org"), orgs=CommandRef("orgs")))
            ]
        return [
            Reply(
                Lines(
                    (
                        _standing_text(affiliation),
                        organization_line(affiliation.organization),
                        Message.of("orgs.leave_hint", command=CommandRef("org")),
                    )
                )
            )
        ]
    if len(command.args) == 1 and command.args[0].casefold() == "leave":
        return _leave(context, affiliation)
    wanted = " ".join(command.args)
    matches = store.find(wanted, MOST_MATCHES + 1)
    if not matches:
        raise UserError("orgs.no_match", text=Literal(wanted), orgs=CommandRef("orgs"))
    if len(matches) > MOST_MATCHES:
        raise UserError("orgs.too_many_matches", text=Literal(wanted))
    if len(matches) > 1:
        choices = tuple(
            Choice(f"{PICK_CHOICE}:{organization.id}", Literal(organization.name))
            for organization in matches
        )
        return [
            Reply(Message.counted("orgs.several_match", len(matches)), choices=choices),
        ]
    return _claim(context, matches[0])


def organization_picked(context: Context, picked: ChoicePicked, payload: str) -> Sequence[Reply]:
    number = as_number(payload)
    organization = context.store.organizations.get(number) if number is not None else None
    if organization is None:
        raise UserError("orgs.gone")
    return _claim(context, organization)


def _leave(context: Context, affiliation: Affiliation | None) -> Sequence[Reply]:
    if affiliation is None:
        raise UserError("orgs.leave_none")
    context.store.organizations.leave(context.member.id)
    context.store.audit.record(
        "organization.left",
        context.member.id,
        member_id=context.member.id,
        organization_id=affiliation.organization.id,
        detail={"was": affiliation.standing.value, "signatory": affiliation.signatory},
    )
    return [Reply(Message.of("orgs.left", name=Literal(affiliation.organization.name)))]


def _claim(context: Context, organization: OrganizationRecord) -> Sequence[Reply]:
    store = context.store.organizations
    current = store.affiliation_of(context.member.id)
    if current is not None and current.organization.id == organization.id:
        return [Reply(_standing_text(current))]
    try:
        replaced = store.claim(context.member.id, organization.id)
    except AlreadyConfirmed:
        assert current is not None
        raise UserError(
            "orgs.leave_first", name=Literal(current.organization.name), command=CommandRef("org")
        ) from None
    context.store.audit.record(
        "organization.claimed",
        context.member.id,
        member_id=context.member.id,
        organization_id=organization.id,
        detail={"replaced": replaced},
    )
    notices = _tell_deciders(context, organization)
    key = "orgs.claimed" if notices else "orgs.claimed_unheard"
    return [Reply(Message.of(key, name=Literal(organization.name))), *notices]


def _group_deciders(context: Context, member_id: int) -> list[int]:
    """The coordinators and admins of every working group the member belongs to."""
    roles = context.store.groups.roles_of(member_id)
    deciders: list[int] = []
    for group_id in sorted(roles.by_group):
        for coordinator in context.store.groups.coordinators_of(group_id):
            if coordinator not in deciders and coordinator != member_id:
                deciders.append(coordinator)
    return deciders


def _claim_choices(member_id: int, organization_id: int) -> tuple[Choice, Choice]:
    return (
        Choice(f"{CLAIM_CHOICE}:y:{member_id}:{organization_id}", Message.of("orgs.confirm")),
        Choice(f"{CLAIM_CHOICE}:n:{member_id}:{organization_id}", Message.of("orgs.decline")),
    )


def _claimant(context: Context, member_id: int) -> Literal:
    member = context.store.members.get(member_id)
    name = member.display_name if member is not None and member.display_name else ""
    return Literal(name or "—")


def _tell_deciders(context: Context, organization: OrganizationRecord) -> list[Reply]:
    # The name the network knows them by, else the one their account shows.
    shown = context.member.display_name or context.origin.display_name or "—"
    text = Message.of(
        "orgs.claim_notice",
        number=context.member.id,
        member=Literal(shown),
        name=Literal(organization.name),
    )
    choices = _claim_choices(context.member.id, organization.id)
    claimant = context.member.id
    network_admins = [m for m in context.store.organizations.network_admins() if m != claimant]
    notices: list[Reply] = []
    # The group's coordinators first; when none of them can be reached, the network admins.
    for deciders in (_group_deciders(context, claimant), network_admins):
        for decider in deciders:
            for notice in notify_member(
                context.store, decider, text, enabled=context.config.enabled_platforms
            ):
                notices.append(replace(notice, choices=choices))
        if notices:
            break
    return notices


def may_decide_for(context: Context, member_id: int) -> bool:
    """Whether the asking member coordinates a group ``member_id`` belongs to, or is a
    network admin."""
    if context.role_in(None) is Role.ADMIN:
        return True
    groups = context.store.groups.roles_of(member_id).by_group
    return any(context.role_in(group_id).includes(Role.COORDINATOR) for group_id in groups)


def waiting_claims(context: Context, command: Command) -> Sequence[Reply]:
    """``/orgclaims``: the claims this coordinator may decide, each with its buttons."""
    replies: list[Reply] = []
    for claim in context.store.organizations.pending_claims():
        if claim.member_id == context.member.id or not may_decide_for(context, claim.member_id):
            continue
        text = Message.of(
            "orgs.claim_notice",
            number=claim.member_id,
            member=_claimant(context, claim.member_id),
            name=Literal(claim.organization.name),
        )
        replies.append(Reply(text, choices=_claim_choices(claim.member_id, claim.organization.id)))
    if not replies:
        return [Reply(Message.of("orgs.no_claims"))]
    return replies


def claim_decided(context: Context, picked: ChoicePicked, payload: str) -> Sequence[Reply]:
    """A coordinator's tap on Confirm or Decline under a claim."""
    parts = payload.split(":")
    numbers = [as_number(part) for part in parts[1:]]
    if len(parts) != 3 or parts[0] not in ("y", "n") or None in numbers:
        raise UserError("orgs.claim_gone")
    member_id, organization_id = (number for number in numbers if number is not None)
    confirm = parts[0] == "y"
    if member_id == context.member.id or not may_decide_for(context, member_id):
        log.info("org_decision_refused member=%d claimant=%d", context.member.id, member_id)
        raise UserError("orgs.not_your_claim")
    organization = context.store.organizations.get(organization_id)
    if organization is None or not context.store.organizations.decide(
        member_id, organization_id, confirm=confirm
    ):
        raise UserError("orgs.claim_gone")
    context.store.audit.record(
        "organization.confirmed" if confirm else "organization.declined",
        context.member.id,
        member_id=member_id,
        organization_id=organization_id,
    )
    name = Literal(organization.name)
    told = notify_member(
        context.store,
        member_id,
        Message.of(
            "orgs.you_confirmed" if confirm else "orgs.you_declined",
            name=name,
            command=CommandRef("org"),
        ),
        enabled=context.config.enabled_platforms,
    )
    key = "orgs.decided_confirmed" if confirm else "orgs.decided_declined"
    return [Reply(Message.of(key, number=member_id, name=name)), *told]


# -- signatories ------------------------------------------------------------------------


def change_signatory(context: Context, command: Command) -> Sequence[Reply]:
    """``/signatory add|remove ORG MEMBER``, by a coordinator of the member's group, a
    network admin, or a signatory of that organization."""
    args = command.args
    action = args[0].casefold() if args else ""
    numbers = [as_number(arg) for arg in args[1:]]
    if len(args) != 3 or action not in ("add", "remove") or None in numbers:
        raise UserError("orgs.signatory_usage", command=CommandRef("signatory"))
    organization_id, member_id = (number for number in numbers if number is not None)
    store = context.store.organizations
    organization = store.get(organization_id)
    if organization is None:
        raise UserError("orgs.no_such_org", number=organization_id, orgs=CommandRef("orgs"))
    mine = store.affiliation_of(context.member.id)
    own_signatory = (
        mine is not None
        and mine.organization.id == organization_id
        and mine.standing is Standing.CONFIRMED
        and mine.signatory
    )
    if not (own_signatory or may_decide_for(context, member_id)):
        log.info("org_signatory_refused member=%d org=%d", context.member.id, organization_id)
        raise UserError("orgs.not_signatory_here", name=Literal(organization.name))
    adding = action == "add"
    if (
        adding
        and member_id == context.member.id
        and not own_signatory
        and context.role_in(None) is not Role.ADMIN
    ):
        # Who signs for an organization is decided by someone else: a coordinator does
        # not make themselves its signatory.
        log.info("org_signatory_self_refused member=%d org=%d", member_id, organization_id)
        raise UserError("orgs.no_self_signatory", name=Literal(organization.name))
    changed = store.set_signatory(member_id, organization_id, adding)
    name = Literal(organization.name)
    if changed is None:
        raise UserError(
            "orgs.not_a_member_of", number=member_id, name=name, command=CommandRef("org")
        )
    if not changed:
        key = "orgs.already_signatory" if adding else "orgs.already_not_signatory"
        return [Reply(Message.of(key, number=member_id, name=name))]
    context.store.audit.record(
        "signatory.added" if adding else "signatory.removed",
        context.member.id,
        member_id=member_id,
        organization_id=organization_id,
    )
    replies = [
        Reply(
            Message.of(
                "orgs.signatory_added" if adding else "orgs.signatory_removed",
                number=member_id,
                name=name,
            )
        )
    ]
    if member_id != context.member.id:
        replies.extend(
            notify_member(
                context.store,
                member_id,
                Message.of("orgs.you_signatory" if adding else "orgs.you_not_signatory", name=name),
                enabled=context.config.enabled_platforms,
            )
        )
    return replies
