"""Everything stored about one member, section by section: what ``/mydata`` exports and what
``/forgetme`` erases (:mod:`storage.erasure`) go by the same list.

Every column that refers to ``members.id`` (a foreign key, found in the models' metadata)
belongs to a :class:`MemberSection`, which says what of it goes into the member's export
and, unless the foreign key's own ``ON DELETE`` does it, how it is erased; or it is
exempted here with the reason. A capability that adds such a table registers its section
from its own storage module with :func:`add_section` (:func:`rows_of` exports its rows as
they are); a test fails while some reference is neither.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeAlias

from sqlalchemy import MetaData, Table, delete, or_, select, update
from sqlalchemy.orm import Session

from storage.models import (
    AuditEntry,
    Base,
    CaseAttachment,
    CaseContent,
    CaseEvent,
    CaseReport,
    CaseRight,
    Conversation,
    Identity,
    Member,
    Membership,
    WaitingUrgentAlert,
    WorkingGroup,
)
from storage.outbox import drop_pending_for_case_in

Json: TypeAlias = Any
"""A value of the export: str, int, float, bool, None, or lists and dicts of those."""

Reference: TypeAlias = str
"""A column that refers to a member, as ``"table.column"``."""

Exporter: TypeAlias = Callable[[Session, int], Json]
"""What a section holds about member ``member_id``, as plain JSON values."""


@dataclass(frozen=True)
class Forgetting:
    """A member being erased, and what the erasure needs to find their traces."""

    member_id: int
    keep_reports: bool
    """Their case reports stay with their working group, unlinked from them (else withdrawn)."""
    accounts: tuple[tuple[str, str], ...]
    """``(platform, user_id)`` of each of their accounts."""
    rooms: tuple[tuple[str, str], ...]
    """``(platform, room_id)`` of their private chats with the bot (notices' rooms too),
    those that are theirs alone (the console's one room is everyone's)."""
    names: tuple[str, ...]
    """What they are called: their profile's name, and names their platforms gave."""
    now: datetime

    def needles(self) -> tuple[str, ...]:
        """The strings that must be found nowhere once they are erased."""
        found = {user_id for _, user_id in self.accounts}
        found.update(name for name in self.names if len(name.strip()) >= SHORTEST_NEEDLE)
        return tuple(sorted(found))


SHORTEST_NEEDLE = 3
"""A name shorter than this is searched for nowhere: it would match everything."""

Eraser: TypeAlias = Callable[[Session, Forgetting], None]
"""Erases or unlinks a section's rows of the member, before the member row is deleted."""


@dataclass(frozen=True)
class MemberSection:
    """One part of a member's data: its name in the export, the member references it
    accounts for, how it is exported, and how it is erased (``None``: the reference's
    foreign key deletes the rows or sets it NULL when the member row goes)."""

    name: str
    references: tuple[Reference, ...]
    export: Exporter
    erase: Eraser | None = None


_SECTIONS: dict[str, MemberSection] = {}
_EXEMPT: dict[Reference, str] = {}


def add_section(section: MemberSection) -> None:
    """Register a section (from the storage module that owns its table)."""
    if section.name in _SECTIONS:
        raise ValueError(f"member data section {section.name!r} registered twice")
    taken = {ref for known in _SECTIONS.values() for ref in known.references} | set(_EXEMPT)
    if taken & set(section.references):
        raise ValueError(f"references {sorted(taken & set(section.references))} taken")
    _SECTIONS[section.name] = section


def exempt(reference: Reference, reason: str) -> None:
    """Declare a member reference that is neither exported nor erased, and why."""
    if not reason.strip():
        raise ValueError("an exemption needs its reason")
    _EXEMPT[reference] = reason


def sections() -> tuple[MemberSection, ...]:
    return tuple(_SECTIONS.values())


def member_references(metadata: MetaData = Base.metadata) -> dict[Reference, str | None]:
    """Every column with a foreign key to ``members.id``, with its ``ON DELETE`` rule."""
    found: dict[Reference, str | None] = {}
    for table in metadata.tables.values():
        for key in table.foreign_keys:
            if key.column.table.name == Member.__tablename__ and key.column.name == "id":
                rule = key.ondelete.upper() if key.ondelete else None
                found[f"{table.name}.{key.parent.name}"] = rule
    return found


def unaccounted_references(metadata: MetaData = Base.metadata) -> list[Reference]:
    """Member references that no section accounts for and none exempts: a new table whose
    member data would be left out of ``/mydata`` and left behind by ``/forgetme``."""
    covered = {ref for section in _SECTIONS.values() for ref in section.references}
    return sorted(set(member_references(metadata)) - covered - set(_EXEMPT))


def unerased_references(metadata: MetaData = Base.metadata) -> list[Reference]:
    """References whose section does not erase them and whose foreign key does not either:
    deleting the member would fail, or leave a row pointing at no one."""
    rules = member_references(metadata)
    return sorted(
        ref
        for section in _SECTIONS.values()
        if section.erase is None
        for ref in section.references
        if rules.get(ref) not in ("CASCADE", "SET NULL")
    )


def export_in(session: Session, member_id: int) -> dict[str, Json]:
    """Every section's data about the member, by section name."""
    return {section.name: section.export(session, member_id) for section in sections()}


# -- plain values ------------------------------------------------------------------------


def plain(value: object) -> Json:
    """A stored value as JSON: times in ISO 8601 UTC, unsealed bytes as their JSON or text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(value).decode("ascii")}
        try:
            return json.loads(text)
        except ValueError:
            return text
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def rows_of(table: str, *columns: str) -> Exporter:
    """An exporter of every row of ``table`` whose ``columns`` (any of them) name the
    member, each column as stored (sealed columns unsealed): for a new capability's
    table whose rows are the member's own."""

    def export(session: Session, member_id: int) -> Json:
        found: Table = Base.metadata.tables[table]
        query = select(found).where(or_(*(found.c[name] == member_id for name in columns)))
        return [_row(mapping) for mapping in session.execute(query).mappings()]

    return export


def _row(mapping: Mapping[Any, object]) -> dict[str, Json]:
    return {str(key): plain(value) for key, value in mapping.items()}


# -- the sections of the core ----------------------------------------------------------------


def _profile(session: Session, member_id: int) -> Json:
    member = session.get(Member, member_id)
    if member is None:
        return None
    return {
        "number": member.id,
        "name": member.display_name,
        "organization": member.organization,
        "language": member.language,
        "time_zone": member.time_zone,
        "member_since": plain(member.created_at),
        "last_seen": plain(member.last_seen_at),
    }


def _accounts(session: Session, member_id: int) -> Json:
    rows = session.scalars(
        select(Identity).where(Identity.member_id == member_id).order_by(Identity.id)
    )
    return [
        {
            "platform": row.platform,
            "user_id": row.user_id,
            "since": plain(row.created_at),
            "private_chat": row.direct_room_id,
            "notice_room": row.notice_room_id,
        }
        for row in rows
    ]


def _memberships(session: Session, member_id: int) -> Json:
    rows = session.execute(
        select(Membership, WorkingGroup)
        .outerjoin(WorkingGroup, Membership.working_group_id == WorkingGroup.id)
        .where(Membership.member_id == member_id)
        .order_by(Membership.id)
    )
    return [
        {
            "working_group": None if group is None else group.slug,
            "working_group_name": None if group is None else group.name,
            "network_wide": group is None,
            "role": membership.role,
            "set_by": membership.source,
            "since": plain(membership.created_at),
        }
        for membership, group in rows
    ]


def _case_reports(session: Session, member_id: int) -> Json:
    reports = list(
        session.scalars(
            select(CaseReport)
            .where(CaseReport.author_member_id == member_id)
            .order_by(CaseReport.id)
        )
    )
    return [_case_report(session, report, member_id) for report in reports]


def _case_report(session: Session, report: CaseReport, member_id: int) -> Json:
    group = session.get(WorkingGroup, report.working_group_id)
    content = session.get(CaseContent, report.id)
    rights = session.scalars(select(CaseRight.right).where(CaseRight.case_id == report.id))
    events = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == report.id).order_by(CaseEvent.id)
    )
    attachments = session.scalars(select(CaseAttachment).where(CaseAttachment.case_id == report.id))
    return {
        "number": report.id,
        "working_group": None if group is None else group.slug,
        "status": report.status,
        "urgent": report.urgent,
        "country": report.country,
        "region": report.region,
        "sector": report.sector,
        "rights": sorted(rights),
        "started": report.started,
        "ongoing": report.ongoing,
        "submitted_at": plain(report.submitted_at),
        "updated_at": plain(report.updated_at),
        "contents": None if content is None else plain(content.contents),
        "history": [
            {
                "kind": event.kind,
                "status": event.status,
                "by": "you" if event.actor_member_id == member_id else "coordinators",
                "text": plain(event.text),
                "at": plain(event.created_at),
            }
            for event in events
        ],
        "evidence_files": [
            {
                "file": plain(attachment.source),
                "status": attachment.status,
                "size": attachment.size,
                "at": plain(attachment.created_at),
            }
            for attachment in attachments
        ],
    }


def _case_actions(session: Session, member_id: int) -> Json:
    """What they did on others' reports (as a coordinator): when and which step, not the
    report's text, which is its working group's."""
    rows = session.execute(
        select(CaseEvent, CaseReport.author_member_id)
        .join(CaseReport, CaseReport.id == CaseEvent.case_id)
        .where(CaseEvent.actor_member_id == member_id)
        .order_by(CaseEvent.id)
    )
    return [
        {"case": event.case_id, "kind": event.kind, "status": event.status, "at": plain(at)}
        for event, author in rows
        if author != member_id
        for at in (event.created_at,)
    ]


def _conversations(session: Session, member_id: int) -> Json:
    row = session.get(Conversation, member_id)
    if row is None:
        return []
    return [
        {
            "name": row.name,
            "step": row.step,
            "answers_so_far": plain(json.loads(row.data)),
            "started_at": plain(row.started_at),
            "updated_at": plain(row.updated_at),
        }
    ]


def _audit(session: Session, member_id: int) -> Json:
    rows = session.scalars(
        select(AuditEntry)
        .where(or_(AuditEntry.member_id == member_id, AuditEntry.actor_member_id == member_id))
        .order_by(AuditEntry.id)
    )
    return [
        {
            "action": row.action,
            "at": plain(row.created_at),
            "by_you": row.actor_member_id == member_id,
            "about_you": row.member_id == member_id,
            "working_group": row.working_group_id,
            "organization": row.organization_id,
            "detail": json.loads(row.detail),
        }
        for row in rows
    ]


def _urgent_alerts(session: Session, member_id: int) -> Json:
    rows = session.scalars(
        select(WaitingUrgentAlert)
        .where(WaitingUrgentAlert.delivered_to_member_id == member_id)
        .order_by(WaitingUrgentAlert.case_id)
    )
    return [{"case": row.case_id, "delivered_at": plain(row.delivered_at)} for row in rows]


# -- their case reports, when they are erased --------------------------------------------------

UNLINKED = {"organization": None, "naming": "never", "follow_up": "no"}
"""What a report kept without its author says of them: no organization, never to be named,
never to be contacted (there is no one to contact)."""


def _erase_case_reports(session: Session, forgetting: Forgetting) -> None:
    """Withdraw the member's reports, or keep them with their working group, each authored
    by a stand-in member of its own with no account (so that nothing leads back to them,
    nor from one report to another), their organization, naming and contact answers taken
    out of the sealed contents, a publication with their name made anonymous."""
    member_id = forgetting.member_id
    ids = list(
        session.scalars(select(CaseReport.id).where(CaseReport.author_member_id == member_id))
    )
    if not ids:
        return
    if not forgetting.keep_reports:
        for case_id in ids:
            drop_pending_for_case_in(session, case_id, "the author asked to be forgotten")
            for table in (CaseRight, CaseContent, CaseAttachment, CaseEvent, WaitingUrgentAlert):
                session.execute(delete(table).where(table.case_id == case_id))
            session.execute(delete(CaseReport).where(CaseReport.id == case_id))
        return
    for content in session.scalars(select(CaseContent).where(CaseContent.case_id.in_(ids))):
        data = json.loads(content.contents.decode("utf-8"))
        data.update(UNLINKED)
        if data.get("publication") == "named":
            data["publication"] = "anonymous"  # there is no name left to publish
        content.contents = json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")
    # One stand-in a report, made as of that report's submission: a shared one would tie the
    # reports together, and one made now would date the erasure.
    for case_id, submitted_at in session.execute(
        select(CaseReport.id, CaseReport.submitted_at).where(CaseReport.id.in_(ids))
    ).all():
        stand_in = Member(
            language=STAND_IN_LANGUAGE,
            time_zone=None,
            display_name=None,
            organization=None,
            created_at=submitted_at,
            last_seen_at=submitted_at,
        )
        session.add(stand_in)
        session.flush()
        session.execute(
            update(CaseReport).where(CaseReport.id == case_id).values(author_member_id=stand_in.id)
        )
        session.execute(
            update(CaseEvent)
            .where(CaseEvent.case_id == case_id, CaseEvent.actor_member_id == member_id)
            .values(actor_member_id=stand_in.id)
        )
    session.flush()


STAND_IN_LANGUAGE = "en"
"""The language of a stand-in author; nothing is ever sent to one (it has no account)."""


def _register_core(entries: Iterable[MemberSection]) -> None:
    for entry in entries:
        add_section(entry)


_register_core(
    (
        MemberSection("profile", (), _profile),
        MemberSection("accounts", ("identities.member_id",), _accounts),
        MemberSection("memberships", ("memberships.member_id",), _memberships),
        MemberSection(
            "case_reports",
            ("case_reports.author_member_id",),
            _case_reports,
            erase=_erase_case_reports,
        ),
        MemberSection("case_actions", ("case_events.actor_member_id",), _case_actions),
        MemberSection("conversations", ("conversations.member_id",), _conversations),
        MemberSection("audit", ("audit_log.actor_member_id", "audit_log.member_id"), _audit),
        MemberSection(
            "urgent_alerts_received",
            ("waiting_urgent_alerts.delivered_to_member_id",),
            _urgent_alerts,
        ),
    )
)
