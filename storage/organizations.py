"""The network's member organizations (``store.organizations``): the organizations
themselves, each member's one link to an organization (claimed, then confirmed by a
coordinator), its signatories, and CSV imports waiting between their dry run and being applied.

Names are unique once folded (case, accents and spacing set aside), so "Red Étnica" and
"red etnica" are one organization; members find one by any part of its folded name.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.types import Role
from storage.errors import StorageError
from storage.member_data import Json, MemberSection, add_section, plain, rows_of
from storage.members import existing_member
from storage.models import Membership, Organization, OrganizationImport, OrganizationMember
from storage.models.organizations import KINDS
from storage.units import Area
from storage.validation import check_int, check_optional_text, check_text

NAME_MAX = 200
WEBSITE_MAX = 255
IMPORT_MAX = 200_000
"""The longest CSV text kept for an import, in characters."""


class NameTaken(StorageError):
    """Another organization already has this name (folded)."""


class AlreadyConfirmed(StorageError):
    """The member belongs to an organization already: they must leave it first."""


class Standing(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"


def name_key(name: str) -> str:
    """``name`` for comparing: case, accents, direction marks and repeated spaces set aside."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    kept = "".join(
        c for c in decomposed if not unicodedata.combining(c) and unicodedata.category(c) != "Cf"
    )
    return " ".join(kept.split())


@dataclass(frozen=True, slots=True)
class OrganizationRecord:
    id: int
    name: str
    country: str
    kind: str
    website: str | None


@dataclass(frozen=True, slots=True)
class Affiliation:
    """A member's link to their organization."""

    member_id: int
    organization: OrganizationRecord
    standing: Standing
    signatory: bool


@dataclass(frozen=True, slots=True)
class OrganizationPage:
    organizations: tuple[OrganizationRecord, ...]
    total: int


class OrganizationStore(Area):
    """Organizations, members' links to them and their signatories."""

    # -- the organizations ------------------------------------------------------------------

    def add(
        self, name: str, country: str, kind: str, website: str | None = None
    ) -> OrganizationRecord:
        """A new organization; :class:`NameTaken` when its folded name exists."""
        _check_fields(name, country, kind, website)
        return self._run(_add_in, name, country, kind, website, self._now())

    def update(
        self, organization_id: int, name: str, country: str, kind: str, website: str | None
    ) -> OrganizationRecord | None:
        """Set every field of an organization (``None`` if there is none with that id);
        :class:`NameTaken` when another one has the new name."""
        check_int("organization id", organization_id, minimum=1)
        _check_fields(name, country, kind, website)
        return self._run(_update_in, organization_id, name, country, kind, website)

    def remove(self, organization_id: int) -> OrganizationRecord | None:
        """Delete an organization, with every member's link to it; what it was, or ``None``."""
        check_int("organization id", organization_id, minimum=1)
        return self._run(_remove_in, organization_id)

    def get(self, organization_id: int) -> OrganizationRecord | None:
        check_int("organization id", organization_id, minimum=1)
        return self._run(_get_in, organization_id)

    def by_name(self, name: str) -> OrganizationRecord | None:
        """The organization whose name is ``name`` once both are folded."""
        return self._run(_by_key_in, name_key(name))

    def find(self, text: str, limit: int = 20) -> list[OrganizationRecord]:
        """Organizations whose folded name contains ``text`` folded, by name; one whose
        name is exactly ``text`` comes alone."""
        key = name_key(text)
        if not key:
            return []
        return self._run(_find_in, key, limit)

    def page(self, offset: int = 0, limit: int = 10) -> OrganizationPage:
        check_int("offset", offset, minimum=0)
        check_int("limit", limit, minimum=1, maximum=500)
        return self._run(_page_in, offset, limit)

    def all(self) -> list[OrganizationRecord]:
        return self._run(_all_in)

    # -- members' links -------------------------------------------------------------------

    def affiliation_of(self, member_id: int) -> Affiliation | None:
        return self._run(_affiliation_in, member_id)

    def claim(self, member_id: int, organization_id: int) -> int | None:
        """Record the member's claim to belong to the organization, replacing a pending one
        (whose organization id is returned); :class:`AlreadyConfirmed` when they belong to one."""
        return self._run(_claim_in, member_id, organization_id, self._now())

    def decide(self, member_id: int, organization_id: int, *, confirm: bool) -> bool:
        """Confirm or decline (delete) a pending claim; ``False`` when there is no such claim."""
        return self._run(_decide_in, member_id, organization_id, confirm, self._now())

    def leave(self, member_id: int) -> Affiliation | None:
        """End the member's link (pending or confirmed, signatory or not); what it was."""
        return self._run(_leave_in, member_id)

    def set_signatory(self, member_id: int, organization_id: int, signatory: bool) -> bool | None:
        """Make a confirmed member of the organization one of its signatories, or not:
        ``True`` when it changed, ``False`` when it already was so, ``None`` when they are
        not a confirmed member of it."""
        return self._run(_set_signatory_in, member_id, organization_id, signatory)

    def signatories(self, organization_id: int) -> list[int]:
        return self._run(_signatories_in, organization_id)

    def signatories_by_organization(self) -> dict[int, list[int]]:
        """Every organization that has signatories, with them (by member id): one query for
        what :meth:`signatories` tells of one organization."""
        return self._read(_signatories_by_organization_in)

    def confirmed_members(self) -> set[int]:
        """Every member whose link to an organization is confirmed."""
        return self._read(_confirmed_members_in)

    def pending_claims(self) -> list[Affiliation]:
        """Every claim waiting for a coordinator, oldest first."""
        return self._run(_pending_in)

    def network_admins(self) -> list[int]:
        """Members who are admins network-wide (who decide claims nobody else can)."""
        return self._run(_network_admins_in)

    # -- imports --------------------------------------------------------------------------

    def keep_import(self, member_id: int, csv_text: str) -> int:
        """Keep a CSV between its dry run and its being applied; its id."""
        check_text("csv", csv_text, IMPORT_MAX)
        return self._run(_keep_import_in, member_id, csv_text, self._now())

    def take_import(self, import_id: int, member_id: int) -> str | None:
        """The CSV kept as ``import_id`` by ``member_id``, deleted as it is taken."""
        check_int("import id", import_id, minimum=1)
        return self._run(_take_import_in, import_id, member_id)


def _check_fields(name: str, country: str, kind: str, website: str | None) -> None:
    check_text("organization name", name, NAME_MAX)
    check_text("country", country, 2)
    if kind not in KINDS:
        raise ValueError(f"unknown organization kind {kind!r}")
    check_optional_text("website", website, WEBSITE_MAX)


def _record(row: Organization) -> OrganizationRecord:
    return OrganizationRecord(row.id, row.name, row.country, row.kind, row.website)


def _taken(session: Session, key: str, other_than: int | None = None) -> bool:
    query = select(Organization.id).where(Organization.name_key == key)
    if other_than is not None:
        query = query.where(Organization.id != other_than)
    return session.scalar(query) is not None


def _add_in(
    session: Session, name: str, country: str, kind: str, website: str | None, now: datetime
) -> OrganizationRecord:
    key = name_key(name)
    if _taken(session, key):
        raise NameTaken(name)
    row = Organization(
        name=name, name_key=key, country=country, kind=kind, website=website, created_at=now
    )
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as error:  # made at the same moment by another process
        raise NameTaken(name) from error
    return _record(row)


def _update_in(
    session: Session,
    organization_id: int,
    name: str,
    country: str,
    kind: str,
    website: str | None,
) -> OrganizationRecord | None:
    row = session.get(Organization, organization_id)
    if row is None:
        return None
    key = name_key(name)
    if _taken(session, key, other_than=organization_id):
        raise NameTaken(name)
    row.name, row.name_key, row.country, row.kind, row.website = name, key, country, kind, website
    session.flush()
    return _record(row)


def _remove_in(session: Session, organization_id: int) -> OrganizationRecord | None:
    row = session.get(Organization, organization_id)
    if row is None:
        return None
    record = _record(row)
    session.execute(
        delete(OrganizationMember).where(OrganizationMember.organization_id == organization_id)
    )
    session.delete(row)
    session.flush()
    return record


def _get_in(session: Session, organization_id: int) -> OrganizationRecord | None:
    row = session.get(Organization, organization_id)
    return None if row is None else _record(row)


def _by_key_in(session: Session, key: str) -> OrganizationRecord | None:
    row = session.scalars(select(Organization).where(Organization.name_key == key)).one_or_none()
    return None if row is None else _record(row)


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _find_in(session: Session, key: str, limit: int) -> list[OrganizationRecord]:
    exact = _by_key_in(session, key)
    if exact is not None:
        return [exact]
    rows = session.scalars(
        select(Organization)
        .where(Organization.name_key.like(f"%{_like_escaped(key)}%", escape="\\"))
        .order_by(Organization.name_key)
        .limit(limit)
    )
    return [_record(row) for row in rows]


def _page_in(session: Session, offset: int, limit: int) -> OrganizationPage:
    rows = session.scalars(
        select(Organization).order_by(Organization.name_key).offset(offset).limit(limit)
    )
    total = session.scalar(select(func.count()).select_from(Organization)) or 0
    return OrganizationPage(tuple(_record(row) for row in rows), total)


def _all_in(session: Session) -> list[OrganizationRecord]:
    return [_record(row) for row in session.scalars(select(Organization).order_by(Organization.id))]


def _affiliation(session: Session, link: OrganizationMember) -> Affiliation:
    organization = session.get(Organization, link.organization_id)
    assert organization is not None  # a foreign key
    return Affiliation(
        link.member_id, _record(organization), Standing(link.status), bool(link.signatory)
    )


def _affiliation_in(session: Session, member_id: int) -> Affiliation | None:
    link = session.get(OrganizationMember, member_id)
    return None if link is None else _affiliation(session, link)


def _claim_in(session: Session, member_id: int, organization_id: int, now: datetime) -> int | None:
    existing_member(session, member_id)
    if session.get(Organization, organization_id) is None:
        raise StorageError(f"no organization with id {organization_id}")
    link = session.get(OrganizationMember, member_id)
    if link is not None and link.status == Standing.CONFIRMED:
        raise AlreadyConfirmed(str(member_id))
    replaced = None
    if link is None:
        session.add(
            OrganizationMember(
                member_id=member_id,
                organization_id=organization_id,
                status=Standing.PENDING.value,
                signatory=False,
                claimed_at=now,
            )
        )
    else:
        replaced = link.organization_id
        link.organization_id = organization_id
        link.claimed_at = now
    session.flush()
    return replaced


def _decide_in(
    session: Session, member_id: int, organization_id: int, confirm: bool, now: datetime
) -> bool:
    link = session.get(OrganizationMember, member_id)
    if (
        link is None
        or link.organization_id != organization_id
        or link.status != Standing.PENDING.value
    ):
        return False
    if confirm:
        link.status = Standing.CONFIRMED.value
        link.decided_at = now
    else:
        session.delete(link)
    session.flush()
    return True


def _leave_in(session: Session, member_id: int) -> Affiliation | None:
    link = session.get(OrganizationMember, member_id)
    if link is None:
        return None
    was = _affiliation(session, link)
    session.delete(link)
    session.flush()
    return was


def _set_signatory_in(
    session: Session, member_id: int, organization_id: int, signatory: bool
) -> bool | None:
    link = session.get(OrganizationMember, member_id)
    if (
        link is None
        or link.organization_id != organization_id
        or link.status != Standing.CONFIRMED.value
    ):
        return None
    if bool(link.signatory) == signatory:
        return False
    link.signatory = signatory
    session.flush()
    return True


def _signatories_in(session: Session, organization_id: int) -> list[int]:
    rows = session.scalars(
        select(OrganizationMember.member_id)
        .where(
            OrganizationMember.organization_id == organization_id,
            OrganizationMember.signatory.is_(True),
        )
        .order_by(OrganizationMember.member_id)
    )
    return list(rows)


def _signatories_by_organization_in(session: Session) -> dict[int, list[int]]:
    rows = session.execute(
        select(OrganizationMember.organization_id, OrganizationMember.member_id)
        .where(OrganizationMember.signatory.is_(True))
        .order_by(OrganizationMember.organization_id, OrganizationMember.member_id)
    )
    found: dict[int, list[int]] = {}
    for organization_id, member_id in rows:
        found.setdefault(organization_id, []).append(member_id)
    return found


def _confirmed_members_in(session: Session) -> set[int]:
    rows = session.scalars(
        select(OrganizationMember.member_id).where(
            OrganizationMember.status == Standing.CONFIRMED.value
        )
    )
    return set(rows)


def _pending_in(session: Session) -> list[Affiliation]:
    links = session.scalars(
        select(OrganizationMember)
        .where(OrganizationMember.status == Standing.PENDING.value)
        .order_by(OrganizationMember.claimed_at, OrganizationMember.member_id)
    )
    return [_affiliation(session, link) for link in links]


def _network_admins_in(session: Session) -> list[int]:
    rows = session.scalars(
        select(Membership.member_id)
        .where(Membership.working_group_id.is_(None), Membership.role == Role.ADMIN.value)
        .order_by(Membership.member_id)
    )
    return list(rows)


def _keep_import_in(session: Session, member_id: int, csv_text: str, now: datetime) -> int:
    row = OrganizationImport(member_id=member_id, csv_text=csv_text, created_at=now)
    session.add(row)
    session.flush()
    return row.id


def _take_import_in(session: Session, import_id: int, member_id: int) -> str | None:
    row = session.get(OrganizationImport, import_id)
    if row is None or row.member_id != member_id:
        return None
    text = row.csv_text
    session.delete(row)
    session.flush()
    return text


# -- the member's own data (/mydata, /forgetme) ---------------------------------------------


def _organization_of(session: Session, member_id: int) -> Json:
    """The organization the member claimed or belongs to, and whether they sign for it."""
    row = session.execute(
        select(OrganizationMember, Organization)
        .join(Organization, Organization.id == OrganizationMember.organization_id)
        .where(OrganizationMember.member_id == member_id)
    ).first()
    if row is None:
        return None
    link, organization = row
    return {
        "organization": organization.id,
        "name": organization.name,
        "status": link.status,
        "signatory": link.signatory,
        "claimed_at": plain(link.claimed_at),
        "decided_at": plain(link.decided_at),
    }


add_section(MemberSection("organization", ("organization_members.member_id",), _organization_of))
add_section(
    MemberSection(
        "organization_imports",
        ("organization_imports.member_id",),
        rows_of("organization_imports", "member_id"),
    )
)
