"""The audit log as admins read it (``/audit``): newest first, ten changes a page, in a
private chat only. A network admin reads every entry; a group's admin the entries about
the groups they administer (roles, join requests, joins and leaves there). Entries about no
group (network-wide roles, organizations, signatories, connected accounts, erasures) are
the network admins' alone: organizations are the network's, and a member's accounts are
no single group's business.

Each entry is one localized sentence: known actions (:data:`SENTENCES`) have their own;
an action this version does not know (another capability's) is shown by its name and
details, so that nothing recorded is hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.context import Context, UserError
from bot.moments import moment
from bot.registry import Registry
from bot.types import Command, CommandRef, Lines, Literal, Message, Reply, Role, Territory
from handlers.organizations_fields import KIND_LABELS, kind_label
from storage import WorkingGroupRecord
from storage.audit import AuditRecord, AuditValue
from storage.organizations import OrganizationRecord
from storage.roster import ROLE_REMOVED, ROLE_SET

PAGE_SIZE = 10
MAX_PAGE = 10_000

ROLES = {role.value: role for role in Role}


@dataclass(frozen=True, slots=True)
class Parts:
    """What a sentence may name: who made the change, the member it is about, the working
    group (or the network), the organization, and the entry's details."""

    actor: Message
    member: Message
    where: Message | Literal
    organization: Message | None
    detail: Mapping[str, AuditValue]
    organizations: Mapping[int, OrganizationRecord]

    def number(self, name: str) -> int | None:
        value = self.detail.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def counted(self, key: str, name: str) -> Message | None:
        count = self.number(name)
        return None if count is None else Message.counted(key, count)


Sentence = Callable[[Parts], Message | None]
"""An entry's sentence from its parts; ``None`` when its details are not as expected (the
entry is then shown by its action's name and details)."""


def _role(key: str, detail: str) -> Sentence:
    def sentence(parts: Parts) -> Message | None:
        role = ROLES.get(str(parts.detail.get(detail)))
        if role is None:
            return None
        return Message.of(
            key,
            actor=parts.actor,
            member=parts.member,
            role=Message.of(f"role.{role.value}"),
            where=parts.where,
        )

    return sentence


def _connected(parts: Parts) -> Message | None:
    merged = parts.number("merged_member")
    accounts = parts.counted("audit.accounts_moved", "accounts_moved")
    records = parts.counted("audit.records_moved", "rows_moved")
    combined = parts.counted("audit.records_combined", "rows_combined")
    if merged is None or accounts is None or records is None or combined is None:
        return None
    return Message.of(
        "audit.account_connected",
        member=parts.member,
        merged=merged,
        accounts=accounts,
        records=records,
        combined=combined,
    )


def _disconnected(parts: Parts) -> Message | None:
    new = parts.number("new_member")
    left = parts.counted("audit.accounts_left", "accounts_left")
    if new is None or left is None:
        return None
    return Message.of("audit.account_disconnected", member=parts.member, new=new, left=left)


def _membership(key: str, *, request: bool = True) -> Sentence:
    def sentence(parts: Parts) -> Message | None:
        number = parts.number("request")
        if not request:
            return Message.of(key, actor=parts.actor, member=parts.member, where=parts.where)
        if number is None:
            return None
        return Message.of(
            key, actor=parts.actor, member=parts.member, where=parts.where, request=number
        )

    return sentence


def _joined(parts: Parts) -> Message | None:
    if parts.detail.get("how") != "open":
        return None
    return Message.of("audit.membership_joined", member=parts.member, where=parts.where)


def _imported(key: str) -> Sentence:
    def sentence(parts: Parts) -> Message | None:
        batch, line = parts.number("import"), parts.number("line")
        if parts.organization is None or batch is None or line is None:
            return None
        return Message.of(
            key, actor=parts.actor, organization=parts.organization, batch=batch, line=line
        )

    return sentence


def _org_added(parts: Parts) -> Message | None:
    if "import" in parts.detail:
        return _imported("audit.org_imported")(parts)
    country, kind = parts.detail.get("country"), parts.detail.get("kind")
    if parts.organization is None or not isinstance(country, str) or kind not in KIND_LABELS:
        return None
    return Message.of(
        "audit.org_added",
        actor=parts.actor,
        organization=parts.organization,
        country=Territory(country),
        kind=kind_label(str(kind)),
    )


FIELD_KEYS = {
    "name": "audit.field_name",
    "country": "audit.field_country",
    "kind": "audit.field_kind",
    "website": "audit.field_website",
}
"""Each field ``/orgedit`` changes, and the catalog key of its name in a sentence."""


def _org_edited(parts: Parts) -> Message | None:
    if "import" in parts.detail:
        return _imported("audit.org_import_updated")(parts)
    field = FIELD_KEYS.get(str(parts.detail.get("field")))
    if parts.organization is None or field is None:
        return None
    return Message.of(
        "audit.org_edited",
        actor=parts.actor,
        organization=parts.organization,
        field=Message.of(field),
    )


def _about_org(key: str) -> Sentence:
    def sentence(parts: Parts) -> Message | None:
        if parts.organization is None:
            return None
        return Message.of(
            key, actor=parts.actor, member=parts.member, organization=parts.organization
        )

    return sentence


def _claimed(parts: Parts) -> Message | None:
    """``replaced``: the organization of the pending claim this one took the place of."""
    if parts.organization is None or "replaced" not in parts.detail:
        return None
    if parts.detail["replaced"] is None:
        return Message.of("audit.org_claimed", member=parts.member, organization=parts.organization)
    earlier = parts.number("replaced")
    if earlier is None:
        return None
    return Message.of(
        "audit.org_claimed_replacing",
        member=parts.member,
        organization=parts.organization,
        earlier=_organization(earlier, parts.organizations),
    )


def _org_left(parts: Parts) -> Message | None:
    was, signatory = parts.detail.get("was"), parts.detail.get("signatory")
    if was == "pending":
        key = "audit.org_claim_withdrawn"
    elif was == "confirmed":
        key = "audit.org_left_signatory" if signatory is True else "audit.org_left"
    else:
        return None
    return _about_org(key)(parts)


def _erased(parts: Parts) -> Message | None:
    counts = {
        placeholder: parts.counted(key, name)
        for placeholder, key, name in (
            ("accounts", "audit.erased_accounts", "accounts"),
            ("memberships", "audit.erased_memberships", "memberships"),
            ("withdrawn", "audit.reports_withdrawn", "reports_withdrawn"),
            ("kept", "audit.reports_kept", "reports_kept"),
        )
    }
    shown = {placeholder: count for placeholder, count in counts.items() if count is not None}
    if len(shown) < len(counts):
        return None
    return Message.of("audit.member_erased", **shown)


def _numbered(what: str, key: str) -> Sentence:
    """A sentence about the ``what`` (a poll, a statement) whose number the details give."""

    def sentence(parts: Parts) -> Message | None:
        number = parts.number(what)
        if number is None:
            return None
        return Message.of(key, actor=parts.actor, number=number, where=parts.where)

    return sentence


SENTENCES: Mapping[str, Sentence] = {
    ROLE_SET: _role("audit.role_set", "role"),
    ROLE_REMOVED: _role("audit.role_removed", "previous"),
    "account.connected": _connected,
    "account.disconnected": _disconnected,
    "membership.requested": _membership("audit.membership_requested"),
    "membership.joined": _joined,
    "membership.approved": _membership("audit.membership_approved"),
    "membership.declined": _membership("audit.membership_declined"),
    "membership.cancelled": _membership("audit.membership_cancelled"),
    "membership.left": _membership("audit.membership_left", request=False),
    "organization.added": _org_added,
    "organization.edited": _org_edited,
    "organization.removed": _about_org("audit.org_removed"),
    "organization.claimed": _claimed,
    "organization.confirmed": _about_org("audit.org_confirmed"),
    "organization.declined": _about_org("audit.org_declined"),
    "organization.left": _org_left,
    "signatory.added": _about_org("audit.signatory_added"),
    "signatory.removed": _about_org("audit.signatory_removed"),
    "member.erased": _erased,
    "poll.created": _numbered("poll", "audit.poll_created"),
    "poll.outcome": _numbered("poll", "audit.poll_outcome"),
    "poll.closed": _numbered("poll", "audit.poll_closed"),
    "statement.opened": _numbered("statement", "audit.statement_opened"),
    "statement.revised": _numbered("statement", "audit.statement_revised"),
    "statement.translated": _numbered("statement", "audit.statement_translated"),
    "statement.closed": _numbered("statement", "audit.statement_closed"),
    "statement.published": _numbered("statement", "audit.statement_published"),
}
"""The actions this version has a sentence for; any other (a later version's) is shown by
its name and details."""


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
    organizations = {
        number: organization
        for number in _organization_ids(found.entries)
        if (organization := context.store.organizations.get(number)) is not None
    }
    zone = context.member.time_zone or context.config.time_zone
    lines: list[Message | Literal] = [
        Message.counted("audit.header", found.total, where=where, page=page, pages=pages)
    ]
    for entry in found.entries:
        lines.append(
            Message.of(
                "audit.line",
                when=Literal(moment(entry.created_at, context.member.language, zone)),
                what=describe(entry, names, groups, organizations),
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
    organizations: Mapping[int, OrganizationRecord],
) -> Message:
    """One entry as a sentence: who did what, to whom, where."""
    group = groups.get(entry.working_group_id) if entry.working_group_id else None
    parts = Parts(
        actor=_who(entry.actor_member_id, names, "audit.actor_none"),
        member=_who(entry.member_id, names, "audit.member_gone"),
        where=Literal(group.name) if group else Message.of("members.network"),
        organization=(
            None
            if entry.organization_id is None
            else _organization(entry.organization_id, organizations)
        ),
        detail=entry.detail,
        organizations=organizations,
    )
    words = SENTENCES.get(entry.action)
    sentence = words(parts) if words is not None else None
    if sentence is not None:
        return sentence
    details = [f"{name}={value}" for name, value in sorted(entry.detail.items())]
    if group is not None:
        details.insert(0, f"group={group.slug}")
    if entry.organization_id is not None:
        details.insert(0, f"organization={entry.organization_id}")
    shown = Literal(", ".join(details) or "-")
    if entry.member_id is None:
        return Message.of(
            "audit.other", actor=parts.actor, action=Literal(entry.action), details=shown
        )
    return Message.of(
        "audit.other_about",
        actor=parts.actor,
        action=Literal(entry.action),
        member=parts.member,
        details=shown,
    )


def _organization_ids(entries: Sequence[AuditRecord]) -> set[int]:
    """The organizations the entries name: each entry's own, and a claim's earlier one."""
    found = {entry.organization_id for entry in entries if entry.organization_id}
    for entry in entries:
        earlier = entry.detail.get("replaced")
        if entry.action == "organization.claimed" and isinstance(earlier, int):
            found.add(earlier)
    return found


def _organization(number: int, organizations: Mapping[int, OrganizationRecord]) -> Message:
    """An organization by name and number while it exists, by number once removed."""
    organization = organizations.get(number)
    if organization is None:
        return Message.of("audit.organization_gone", number=number)
    return Message.of("audit.organization_named", number=number, name=Literal(organization.name))


def _who(number: int | None, names: Mapping[int, str | None], unknown: str) -> Message:
    """A member by number and name (readers of the log are admins); ``unknown`` when the
    entry names nobody (the configuration, or a member since erased)."""
    if number is None or number not in names:
        return Message.of(unknown)
    name = names[number]
    if name:
        return Message.of("audit.member_named", number=number, name=Literal(name))
    return Message.of("audit.member_number", number=number)
