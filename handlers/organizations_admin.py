"""The list of member organizations, kept by network admins: ``/orgadd``, ``/orgedit``,
``/orgremove`` (``/orgimport`` is :mod:`handlers.organizations_import`). A group's admin is
not a network admin: the list is the whole network's."""

from __future__ import annotations

from collections.abc import Sequence

from bot.context import Context, UserError
from bot.registry import Registry
from bot.types import Command, CommandRef, Lines, Literal, Message, Reply, Role
from handlers.organizations_fields import (
    KIND_LABELS,
    FieldProblem,
    as_number,
    organization_line,
    parse_country,
    parse_kind,
    parse_name,
    parse_website,
)
from storage.organizations import NameTaken

FIELDS = ("name", "country", "kind", "website")


def register(registry: Registry) -> None:
    registry.command(
        "orgadd", add_organization, help_key="help.orgadd", role=Role.ADMIN, direct_only=True
    )
    registry.command(
        "orgedit", edit_organization, help_key="help.orgedit", role=Role.ADMIN, direct_only=True
    )
    registry.command(
        "orgremove",
        remove_organization,
        help_key="help.orgremove",
        role=Role.ADMIN,
        direct_only=True,
    )


def require_network_admin(context: Context) -> None:
    if context.role_in(None) is not Role.ADMIN:
        raise UserError("orgs.network_admins_only")


def _field_refused(problem: FieldProblem) -> UserError:
    return UserError(problem.key, **problem.params)


def add_organization(context: Context, command: Command) -> Sequence[Reply]:
    """``/orgadd NAME; COUNTRY; KIND[; WEBSITE]``."""
    require_network_admin(context)
    pieces = [piece.strip() for piece in " ".join(command.args).split(";")]
    if not 3 <= len(pieces) <= 4:
        raise _usage_add()
    try:
        name = parse_name(pieces[0])
        country = parse_country(pieces[1], context.languages)
        kind = parse_kind(pieces[2])
        website = parse_website(pieces[3] if len(pieces) == 4 else "")
    except FieldProblem as problem:
        raise _field_refused(problem) from None
    try:
        organization = context.store.organizations.add(name, country, kind, website)
    except NameTaken:
        raise UserError("orgs.name_taken", name=Literal(name)) from None
    context.store.audit.record(
        "organization.added",
        context.member.id,
        organization_id=organization.id,
        detail={"country": country, "kind": kind},
    )
    return [Reply(Lines((Message.of("orgs.added"), organization_line(organization))))]


def _usage_add() -> UserError:
    return UserError(
        "orgs.add_usage",
        command=CommandRef("orgadd"),
        kinds=Literal(", ".join(KIND_LABELS)),
    )


def edit_organization(context: Context, command: Command) -> Sequence[Reply]:
    """``/orgedit N FIELD VALUE`` (``website -`` clears the website)."""
    require_network_admin(context)
    args = command.args
    number = as_number(args[0]) if args else None
    field = args[1].casefold() if len(args) > 1 else ""
    if number is None or field not in FIELDS or len(args) < 3:
        raise UserError(
            "orgs.edit_usage",
            command=CommandRef("orgedit"),
            fields=Literal(", ".join(FIELDS)),
            kinds=Literal(", ".join(KIND_LABELS)),
        )
    store = context.store.organizations
    before = store.get(number)
    if before is None:
        raise UserError("orgs.no_such_org", number=number, orgs=CommandRef("orgs"))
    value = " ".join(args[2:])
    fields = {
        "name": before.name,
        "country": before.country,
        "kind": before.kind,
        "website": before.website,
    }
    try:
        if field == "name":
            fields["name"] = parse_name(value)
        elif field == "country":
            fields["country"] = parse_country(value, context.languages)
        elif field == "kind":
            fields["kind"] = parse_kind(value)
        else:
            fields["website"] = None if value == "-" else parse_website(value)
    except FieldProblem as problem:
        raise _field_refused(problem) from None
    name, country, kind = str(fields["name"]), str(fields["country"]), str(fields["kind"])
    try:
        after = store.update(number, name, country, kind, fields["website"])
    except NameTaken:
        raise UserError("orgs.name_taken", name=Literal(name)) from None
    assert after is not None
    context.store.audit.record(
        "organization.edited", context.member.id, organization_id=number, detail={"field": field}
    )
    return [Reply(Lines((Message.of("orgs.edited"), organization_line(after))))]


def remove_organization(context: Context, command: Command) -> Sequence[Reply]:
    """``/orgremove N``: the organization goes, with its members' links and signatories;
    refused once it has answered a joint statement, whose record its answers are part of
    (a signature on a published statement must not vanish)."""
    require_network_admin(context)
    number = as_number(command.args[0]) if len(command.args) == 1 else None
    if number is None:
        raise UserError("orgs.remove_usage", command=CommandRef("orgremove"))
    answered = context.store.statements.answered_by_organization(number)
    if answered:
        organization = context.store.organizations.get(number)
        raise UserError(
            "orgs.remove_answered_statements",
            number=number,
            name=Literal(organization.name if organization else str(number)),
            statements=Literal(", ".join(f"#{statement}" for statement in answered)),
        )
    removed = context.store.organizations.remove(number)
    if removed is None:
        raise UserError("orgs.no_such_org", number=number, orgs=CommandRef("orgs"))
    context.store.audit.record("organization.removed", context.member.id, organization_id=number)
    return [Reply(Message.of("orgs.removed", number=number, name=Literal(removed.name)))]
