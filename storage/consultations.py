"""Consultations, members' subscriptions to their alerts, and who plans to contribute to a
joint submission (``store.consultations``).

A consultation is a draft until a coordinator publishes it; an importer makes drafts with
:meth:`ConsultationStore.create_draft`, deduplicated by their ``source_uid``. Who is alerted
is decided here (:meth:`ConsultationStore.subscribers_of`): a member who subscribed to one
of its topics, regions, countries or working groups, or to all; and the members of the
groups it concerns, unless they opted out of that group's alerts.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from storage.errors import NotFoundError
from storage.member_data import MemberSection, add_section, rows_of
from storage.merging import COLLISION_RULES, Keep, Row
from storage.models import (
    Consultation,
    ConsultationContribution,
    ConsultationSubscription,
    Membership,
)
from storage.units import Area
from storage.upserts import insert_unless_present
from storage.validation import check_int

DEFAULT_REMINDER_DAYS = (14, 3, 1)
"""Days before the deadline when subscribers are reminded, unless set per consultation."""


class ConsultationState(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


class ConsultationKind(StrEnum):
    CALL_FOR_INPUT = "call_for_input"
    NOMINATION = "nomination"
    SESSION = "session"
    REGISTRATION = "registration"
    OTHER = "other"


class SubscriptionKind(StrEnum):
    TOPIC = "topic"
    REGION = "region"
    COUNTRY = "country"
    GROUP = "group"
    ALL = "all"


class Intent(StrEnum):
    CONTRIBUTE = "contribute"
    INTERESTED = "interested"


@dataclass(frozen=True, slots=True)
class ConsultationDraft:
    """What an importer (or any other module) knows of a consultation: enough for a draft
    that a coordinator completes. ``source_uid`` (a feed item's UID, GUID or link) makes
    creating it again a no-op."""

    title: str
    link: str | None = None
    summary: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    deadline: datetime | None = None
    source_uid: str | None = None


@dataclass(frozen=True, slots=True)
class ConsultationFields:
    """Everything a coordinator sets on a consultation."""

    title: str
    kind: ConsultationKind = ConsultationKind.CALL_FOR_INPUT
    issuer: str | None = None
    summary: str | None = None
    link: str | None = None
    submit_how: str | None = None
    languages: str | None = None
    length_limit: str | None = None
    deadline: datetime | None = None
    time_zone: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    topics: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    working_groups: tuple[int, ...] = ()
    reminder_days: tuple[int, ...] = DEFAULT_REMINDER_DAYS


@dataclass(frozen=True, slots=True)
class ConsultationRecord:
    id: int
    fields: ConsultationFields
    state: ConsultationState
    source_uid: str | None
    created_by: int | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None

    @property
    def title(self) -> str:
        return self.fields.title

    @property
    def deadline(self) -> datetime | None:
        return self.fields.deadline


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    kind: SubscriptionKind
    value: str
    opted_out: bool


@dataclass(frozen=True, slots=True)
class Contributions:
    """Who answered an alert, by member id."""

    contribute: tuple[int, ...] = ()
    interested: tuple[int, ...] = ()


class ConsultationStore(Area):
    """Consultations, subscriptions and contributions (``store.consultations``)."""

    def create_draft(self, draft: ConsultationDraft) -> tuple[ConsultationRecord, bool]:
        """A draft from what another module knows; when one with the same ``source_uid``
        exists already, that one and ``False``."""
        if not draft.title.strip():
            raise ValueError("a consultation needs a title")
        return self._run(_create_draft_in, draft, self._now())

    def create(self, fields: ConsultationFields, created_by: int | None) -> ConsultationRecord:
        """A new draft with every field a coordinator gave."""
        return self._run(_create_in, fields, created_by, self._now())

    def update(self, consultation_id: int, fields: ConsultationFields) -> ConsultationRecord:
        check_int("consultation id", consultation_id, minimum=1)
        return self._run(_update_in, consultation_id, fields, self._now())

    def get(self, consultation_id: int) -> ConsultationRecord | None:
        check_int("consultation id", consultation_id, minimum=1)
        return self._read(_get_in, consultation_id)

    def set_state(self, consultation_id: int, state: ConsultationState) -> ConsultationRecord:
        """Publish, withdraw or close; publishing stamps ``published_at``."""
        check_int("consultation id", consultation_id, minimum=1)
        return self._run(_set_state_in, consultation_id, ConsultationState(state), self._now())

    def set_deadline(
        self, consultation_id: int, deadline: datetime, time_zone: str | None
    ) -> ConsultationRecord:
        check_int("consultation id", consultation_id, minimum=1)
        return self._run(_set_deadline_in, consultation_id, deadline, time_zone, self._now())

    def published(self) -> list[ConsultationRecord]:
        """The published consultations, soonest deadline first (none last)."""
        records = self._read(_in_state, ConsultationState.PUBLISHED.value)
        return sorted(records, key=_by_deadline)

    def drafts(self) -> list[ConsultationRecord]:
        return self._read(_in_state, ConsultationState.DRAFT.value)

    # -- subscriptions --------------------------------------------------------------------

    def subscribe(self, member_id: int, kind: SubscriptionKind, value: str) -> bool:
        """Subscribe (or end a group's opt-out); False when it changed nothing."""
        check_int("member id", member_id, minimum=1)
        return self._run(_subscribe_in, member_id, SubscriptionKind(kind), value, self._now())

    def unsubscribe(
        self, member_id: int, kind: SubscriptionKind, value: str, *, opt_out: bool
    ) -> bool:
        """Drop the subscription; ``opt_out``: keep a row saying the member wants none of
        this group's alerts (they are its member). False when it changed nothing."""
        check_int("member id", member_id, minimum=1)
        return self._run(
            _unsubscribe_in, member_id, SubscriptionKind(kind), value, opt_out, self._now()
        )

    def subscriptions_of(self, member_id: int) -> list[SubscriptionRecord]:
        check_int("member id", member_id, minimum=1)
        return self._read(_subscriptions_in, member_id)

    def subscribers_of(
        self, consultation: ConsultationRecord, *, country_regions: Collection[str] = ()
    ) -> list[int]:
        """The members to alert of ``consultation``, by id, ascending. ``country_regions``:
        the regions of its countries (a region's subscribers hear of a country in it)."""
        return self._read(_subscribers_in, consultation.fields, frozenset(country_regions))

    # -- contributions --------------------------------------------------------------------

    def answer(self, consultation_id: int, member_id: int, intent: Intent) -> bool:
        """Record (or change) a member's answer to an alert; False when it was already so."""
        check_int("consultation id", consultation_id, minimum=1)
        check_int("member id", member_id, minimum=1)
        return self._run(_answer_in, consultation_id, member_id, Intent(intent), self._now())

    def contributions(self, consultation_id: int) -> Contributions:
        check_int("consultation id", consultation_id, minimum=1)
        return self._read(_contributions_in, consultation_id)


def _by_deadline(record: ConsultationRecord) -> tuple[int, datetime, int]:
    deadline = record.fields.deadline
    return (0, deadline, record.id) if deadline is not None else (1, record.created_at, record.id)


def _list(text: str) -> list[Any]:
    value = json.loads(text or "[]")
    return value if isinstance(value, list) else []


def _fields(row: Consultation) -> ConsultationFields:
    return ConsultationFields(
        title=row.title,
        kind=ConsultationKind(row.kind),
        issuer=row.issuer,
        summary=row.summary,
        link=row.link,
        submit_how=row.submit_how,
        languages=row.languages,
        length_limit=row.length_limit,
        deadline=row.deadline,
        time_zone=row.time_zone,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        topics=tuple(str(item) for item in _list(row.topics)),
        regions=tuple(str(item) for item in _list(row.regions)),
        countries=tuple(str(item) for item in _list(row.countries)),
        working_groups=tuple(int(item) for item in _list(row.working_groups)),
        reminder_days=tuple(int(item) for item in _list(row.reminder_days)),
    )


def _record(row: Consultation) -> ConsultationRecord:
    return ConsultationRecord(
        id=row.id,
        fields=_fields(row),
        state=ConsultationState(row.state),
        source_uid=row.source_uid,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        published_at=row.published_at,
    )


def _write(row: Consultation, fields: ConsultationFields) -> None:
    row.title = fields.title[:200]
    row.kind = ConsultationKind(fields.kind).value
    row.issuer = fields.issuer
    row.summary = fields.summary
    row.link = fields.link
    row.submit_how = fields.submit_how
    row.languages = fields.languages
    row.length_limit = fields.length_limit
    row.deadline = fields.deadline
    row.time_zone = fields.time_zone
    row.starts_at = fields.starts_at
    row.ends_at = fields.ends_at
    row.topics = json.dumps(list(fields.topics))
    row.regions = json.dumps(list(fields.regions))
    row.countries = json.dumps(list(fields.countries))
    row.working_groups = json.dumps(list(fields.working_groups))
    row.reminder_days = json.dumps(sorted(set(fields.reminder_days), reverse=True))


def _existing(session: Session, consultation_id: int) -> Consultation:
    row = session.get(Consultation, consultation_id)
    if row is None:
        raise NotFoundError(f"no consultation with id {consultation_id}")
    return row


def _create_draft_in(
    session: Session, draft: ConsultationDraft, now: datetime
) -> tuple[ConsultationRecord, bool]:
    if draft.source_uid is not None:
        found = session.scalars(
            select(Consultation).where(Consultation.source_uid == draft.source_uid)
        ).one_or_none()
        if found is not None:
            return _record(found), False
    fields = ConsultationFields(
        title=" ".join(draft.title.split()),
        summary=draft.summary,
        link=draft.link,
        deadline=draft.deadline,
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        kind=ConsultationKind.SESSION if draft.starts_at else ConsultationKind.CALL_FOR_INPUT,
    )
    row = Consultation(
        state=ConsultationState.DRAFT.value,
        source_uid=draft.source_uid,
        created_by=None,
        created_at=now,
        updated_at=now,
    )
    _write(row, fields)
    session.add(row)
    session.flush()
    return _record(row), True


def _create_in(
    session: Session, fields: ConsultationFields, created_by: int | None, now: datetime
) -> ConsultationRecord:
    row = Consultation(
        state=ConsultationState.DRAFT.value, created_by=created_by, created_at=now, updated_at=now
    )
    _write(row, fields)
    session.add(row)
    session.flush()
    return _record(row)


def _update_in(
    session: Session, consultation_id: int, fields: ConsultationFields, now: datetime
) -> ConsultationRecord:
    row = _existing(session, consultation_id)
    _write(row, fields)
    row.updated_at = now
    session.flush()
    return _record(row)


def _get_in(session: Session, consultation_id: int) -> ConsultationRecord | None:
    row = session.get(Consultation, consultation_id)
    return None if row is None else _record(row)


def _set_state_in(
    session: Session, consultation_id: int, state: ConsultationState, now: datetime
) -> ConsultationRecord:
    row = _existing(session, consultation_id)
    row.state = state.value
    row.updated_at = now
    if state is ConsultationState.PUBLISHED and row.published_at is None:
        row.published_at = now
    session.flush()
    return _record(row)


def _set_deadline_in(
    session: Session,
    consultation_id: int,
    deadline: datetime,
    time_zone: str | None,
    now: datetime,
) -> ConsultationRecord:
    row = _existing(session, consultation_id)
    row.deadline = deadline
    row.time_zone = time_zone
    row.updated_at = now
    session.flush()
    return _record(row)


def _in_state(session: Session, state: str) -> list[ConsultationRecord]:
    rows = session.scalars(
        select(Consultation).where(Consultation.state == state).order_by(Consultation.id)
    )
    return [_record(row) for row in rows]


def _subscription_row(
    session: Session, member_id: int, kind: SubscriptionKind, value: str
) -> ConsultationSubscription | None:
    return session.scalars(
        select(ConsultationSubscription).where(
            ConsultationSubscription.member_id == member_id,
            ConsultationSubscription.kind == kind.value,
            ConsultationSubscription.value == value,
        )
    ).one_or_none()


def _subscribe_in(
    session: Session, member_id: int, kind: SubscriptionKind, value: str, now: datetime
) -> bool:
    row = _subscription_row(session, member_id, kind, value)
    if row is not None:
        if not row.opted_out:
            return False
        session.delete(row)  # the opt-out ends: a member of the group hears of it again
        session.flush()
        return True
    values = {
        "member_id": member_id,
        "kind": kind.value,
        "value": value,
        "opted_out": False,
        "created_at": now,
    }
    return insert_unless_present(
        session, ConsultationSubscription, values, ["member_id", "kind", "value"]
    )


def _unsubscribe_in(
    session: Session,
    member_id: int,
    kind: SubscriptionKind,
    value: str,
    opt_out: bool,
    now: datetime,
) -> bool:
    row = _subscription_row(session, member_id, kind, value)
    if opt_out:
        if row is not None and row.opted_out:
            return False
        if row is None:
            row = ConsultationSubscription(
                member_id=member_id, kind=kind.value, value=value, created_at=now
            )
            session.add(row)
        row.opted_out = True
        session.flush()
        return True
    if row is None or row.opted_out:
        return False
    session.delete(row)
    session.flush()
    return True


def _subscriptions_in(session: Session, member_id: int) -> list[SubscriptionRecord]:
    rows = session.scalars(
        select(ConsultationSubscription)
        .where(ConsultationSubscription.member_id == member_id)
        .order_by(ConsultationSubscription.kind, ConsultationSubscription.value)
    )
    return [
        SubscriptionRecord(SubscriptionKind(row.kind), row.value, row.opted_out) for row in rows
    ]


def _matches(fields: ConsultationFields, country_regions: frozenset[str]) -> set[tuple[str, str]]:
    regions = set(fields.regions) | country_regions
    found = {(SubscriptionKind.ALL.value, "")}
    found |= {(SubscriptionKind.TOPIC.value, topic) for topic in fields.topics}
    found |= {(SubscriptionKind.REGION.value, region) for region in regions}
    found |= {(SubscriptionKind.COUNTRY.value, country) for country in fields.countries}
    found |= {(SubscriptionKind.GROUP.value, str(group)) for group in fields.working_groups}
    return found


def _subscribers_in(
    session: Session, fields: ConsultationFields, country_regions: frozenset[str]
) -> list[int]:
    wanted = _matches(fields, country_regions)
    chosen: set[int] = set()
    opted_out: set[int] = set()
    matching = or_(
        *(
            and_(ConsultationSubscription.kind == kind, ConsultationSubscription.value == value)
            for kind, value in sorted(wanted)
        )
    )
    for row in session.scalars(select(ConsultationSubscription).where(matching)):
        (opted_out if row.opted_out else chosen).add(row.member_id)
    if fields.working_groups:
        members = session.scalars(
            select(Membership.member_id).where(
                Membership.working_group_id.in_(fields.working_groups)
            )
        )
        by_group = set(members)
        # A member of the group hears of it unless they opted out of every group it concerns.
        for member_id in by_group:
            if member_id not in opted_out or _not_out_of_all(session, member_id, fields):
                chosen.add(member_id)
    return sorted(chosen)


def _not_out_of_all(session: Session, member_id: int, fields: ConsultationFields) -> bool:
    out = set(
        session.scalars(
            select(ConsultationSubscription.value).where(
                ConsultationSubscription.member_id == member_id,
                ConsultationSubscription.kind == SubscriptionKind.GROUP.value,
                ConsultationSubscription.opted_out.is_(True),
            )
        )
    )
    groups = set(
        session.scalars(
            select(Membership.working_group_id).where(
                Membership.member_id == member_id,
                Membership.working_group_id.in_(fields.working_groups),
            )
        )
    )
    return any(str(group) not in out for group in groups)


def _answer_in(
    session: Session, consultation_id: int, member_id: int, intent: Intent, now: datetime
) -> bool:
    _existing(session, consultation_id)
    row = session.get(ConsultationContribution, (consultation_id, member_id))
    if row is None:
        session.add(
            ConsultationContribution(
                consultation_id=consultation_id,
                member_id=member_id,
                intent=intent.value,
                created_at=now,
            )
        )
        session.flush()
        return True
    if row.intent == intent.value:
        return False
    row.intent = intent.value
    session.flush()
    return True


def _contributions_in(session: Session, consultation_id: int) -> Contributions:
    rows = session.scalars(
        select(ConsultationContribution)
        .where(ConsultationContribution.consultation_id == consultation_id)
        .order_by(ConsultationContribution.member_id)
    )
    answers = {row.member_id: Intent(row.intent) for row in rows}
    return Contributions(
        contribute=tuple(m for m, i in answers.items() if i is Intent.CONTRIBUTE),
        interested=tuple(m for m, i in answers.items() if i is Intent.INTERESTED),
    )


def reminder_offsets(days: Sequence[int]) -> tuple[str, ...]:
    """ISO 8601 durations of reminder offsets (``P3D``), largest first."""
    return tuple(f"P{day}D" for day in sorted(set(days), reverse=True))


add_section(
    MemberSection(
        "consultation_subscriptions",
        ("consultation_subscriptions.member_id",),
        rows_of("consultation_subscriptions", "member_id"),
    )
)
add_section(
    MemberSection(
        "consultation_contributions",
        ("consultation_contributions.member_id",),
        rows_of("consultation_contributions", "member_id"),
    )
)
add_section(
    MemberSection(
        "consultations_created",
        ("consultations.created_by",),
        rows_of("consultations", "created_by"),
    )
)


def _latest_wish(kept: Row, other: Row) -> Keep:
    """One subscription (or opt-out) per member and subject: the one made last."""
    return Keep.OTHER if other["created_at"] > kept["created_at"] else Keep.KEPT


def _stronger_intent(kept: Row, other: Row) -> Keep:
    """One answer per member and consultation: planning to contribute over interest."""
    if kept["intent"] != other["intent"]:
        return Keep.KEPT if kept["intent"] == Intent.CONTRIBUTE.value else Keep.OTHER
    return Keep.KEPT


COLLISION_RULES["consultation_subscriptions"] = _latest_wish
COLLISION_RULES["consultation_contributions"] = _stronger_intent
