"""Reading an organization's fields as an admin types them (a command, a CSV line): its
name, country (an ISO code or a name that means one country), kind and website."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.choosing import folded
from bot.territories import find_territories, is_country
from bot.types import Literal, Message, ParamValue, Territory
from storage.organizations import NAME_MAX, WEBSITE_MAX, OrganizationRecord

KIND_LABELS: Mapping[str, str] = {
    "ngo": "orgs.kind_ngo",
    "movement": "orgs.kind_movement",
    "indigenous": "orgs.kind_indigenous",
    "union": "orgs.kind_union",
    "community": "orgs.kind_community",
    "academic": "orgs.kind_academic",
    "individual": "orgs.kind_individual",
}
"""Each kind as typed (and stored), and the catalog key of its name."""


class FieldProblem(Exception):
    """A field an admin typed that cannot be taken: a catalog key and its parameters."""

    def __init__(self, key: str, **params: ParamValue) -> None:
        super().__init__(key)
        self.key = key
        self.params = params

    @property
    def message(self) -> Message:
        return Message.of(self.key, **self.params)


def kind_label(kind: str) -> Message:
    return Message.of(KIND_LABELS[kind])


def parse_name(text: str) -> str:
    name = " ".join(text.split())
    if not name:
        raise FieldProblem("orgs.field_name_missing")
    if len(name) > NAME_MAX:
        raise FieldProblem("orgs.field_name_long", limit=NAME_MAX)
    return name


def parse_country(text: str, languages: Sequence[str]) -> str:
    wanted = text.strip()
    if len(wanted) == 2 and wanted.isascii() and is_country(wanted):
        return wanted.upper()
    found = find_territories(wanted, languages, limit=2) if wanted else ()
    if len(found) != 1:
        raise FieldProblem("orgs.field_country", country=Literal(wanted or "—"))
    return found[0]


def parse_kind(text: str) -> str:
    kind = folded(text).replace(" ", "")
    if kind not in KIND_LABELS:
        raise FieldProblem(
            "orgs.field_kind",
            kind=Literal(text.strip() or "—"),
            kinds=Literal(", ".join(KIND_LABELS)),
        )
    return kind


def parse_website(text: str) -> str | None:
    """An empty field is no website; one without a scheme is taken as ``https://``."""
    address = text.strip()
    if not address:
        return None
    if "://" not in address:
        address = "https://" + address
    scheme, _, rest = address.partition("://")
    host = rest.split("/", 1)[0]
    if (
        scheme.casefold() not in ("http", "https")
        or "." not in host
        or any(c.isspace() for c in address)
        or len(address) > WEBSITE_MAX
    ):
        raise FieldProblem("orgs.field_website", website=Literal(text.strip()))
    return address


MAX_NUMBER = 2**31 - 1


def as_number(text: str) -> int | None:
    """An organization's or a member's number as typed in a command (ASCII digits)."""
    return int(text) if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_NUMBER else None


def organization_line(organization: OrganizationRecord) -> Message:
    return Message.of(
        "orgs.line",
        number=organization.id,
        name=Literal(organization.name),
        country=Territory(organization.country),
        kind=kind_label(organization.kind),
        website=Literal(organization.website or "—"),
    )
