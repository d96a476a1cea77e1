"""``/newconsultation``: a coordinator describes a consultation step by step, reviews and
changes any answer, and publishes it (or keeps it as a draft); ``/newconsultation N``
completes draft N (one an importer made). Publishing alerts subscribers at once, in the
unit of work of the last answer (:func:`handlers.consultations.publish`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from bot.context import Context, UserError
from bot.conversation import Answers, Conversation, InvalidAnswer, Json, Step
from bot.territories import Region, find_territories
from bot.types import (
    Choice,
    Command,
    CommandRef,
    Lines,
    Literal,
    Message,
    Reply,
    Role,
    Territory,
    Text,
)
from handlers.cases import options
from handlers.cases.options import one_line, parse_title, text_up_to
from handlers.consultations_alerts import publish
from handlers.consultations_rules import (
    consultation_numbered,
    deadline_at,
    may_manage,
    read_deadline,
    zone_named,
)
from locales import SUPPORTED_LANGUAGES
from storage.consultations import (
    DEFAULT_REMINDER_DAYS,
    ConsultationFields,
    ConsultationKind,
    ConsultationRecord,
    ConsultationState,
)

NEW_CONSULTATION = "consultation"
GROUPS_OFFERED = "groups_offered"
"""Not a step: the working groups the coordinator may choose, known when it starts."""
EDITING = "editing"
"""Not a step: the draft being completed, by id."""
ZONE = "zone"
"""Not a step: the coordinator's time zone, for a deadline typed without one."""
PUBLISH = "publish"
KEEP_DRAFT = "draft"

TOPICS = tuple(f"sector:{value}" for value in options.SECTORS if value != "other") + tuple(
    f"right:{value}" for value in options.RIGHTS if value != "other"
)
"""A consultation's topics: the case reports' sectors and rights."""
REGIONS = tuple(region.value for region in Region if region is not Region.OTHER)
SUMMARY_MAX = 4000
LONGEST_OFFSET = 90


def topic_label(topic: str) -> Message:
    kind, _, value = topic.partition(":")
    return Message.of(options.option_key(kind, value))


def region_label(region: str) -> Message:
    return Message.of(f"cases.region.{region}")


KIND_KEYS = {
    ConsultationKind.CALL_FOR_INPUT.value: "consult.kind.call_for_input",
    ConsultationKind.NOMINATION.value: "consult.kind.nomination",
    ConsultationKind.SESSION.value: "consult.kind.session",
    ConsultationKind.REGISTRATION.value: "consult.kind.registration",
    ConsultationKind.OTHER.value: "consult.kind.other",
}


def kind_label(kind: str) -> Message:
    return Message.of(KIND_KEYS[kind])


# -- parsers -------------------------------------------------------------------------------


def show_deadline(value: Json) -> Text:
    zone = value.get("zone") if isinstance(value, dict) else None
    local = str(value.get("local", "")) if isinstance(value, dict) else str(value)
    return Literal(local.replace("T", " ") + (f" ({zone})" if zone else ""))


def read_sessions(text: str) -> list[str]:
    """One day (``2027-03-10``) or the first and last (``2027-03-10 2027-03-14``)."""
    days = re.split(r"[\s,]+|\s*(?:–|—|/)\s*", text.strip())
    days = [piece for piece in days if piece and piece not in ("-", "to", "a", "au", "à")]
    if not 1 <= len(days) <= 2:
        raise InvalidAnswer("consult.bad_sessions")
    try:
        parsed = [datetime.fromisoformat(day).date() for day in days]
    except ValueError as error:
        raise InvalidAnswer("consult.bad_sessions") from error
    if parsed[-1] < parsed[0]:
        raise InvalidAnswer("consult.bad_sessions")
    return [day.isoformat() for day in parsed]


def show_sessions(value: Json) -> Text:
    return Literal(" – ".join(str(day) for day in value))


def read_countries(text: str) -> list[str]:
    """Countries named in any language, separated by commas; each must name one."""
    codes: list[str] = []
    for name in (piece.strip() for piece in text.split(",")):
        if not name:
            continue
        found = find_territories(name, SUPPORTED_LANGUAGES, limit=8)
        if len(found) != 1:
            raise InvalidAnswer("consult.unknown_country", typed=Literal(name[:60]))
        if found[0] not in codes:
            codes.append(found[0])
    if not codes:
        raise InvalidAnswer("consult.unknown_country", typed=Literal(text[:60]))
    return codes


def _territories(codes: Sequence[str]) -> Text:
    return Lines(
        tuple(Message.of("conversation.bullet", item=Territory(str(code))) for code in codes)
    )


def read_reminders(text: str) -> list[int]:
    """Days before the deadline, such as ``14, 3, 1``."""
    pieces = [piece for piece in re.split(r"[\s,;]+", text.strip()) if piece]
    if not pieces or not all(piece.isdigit() for piece in pieces):
        raise InvalidAnswer("consult.bad_reminders", most=LONGEST_OFFSET)
    days = sorted({int(piece) for piece in pieces}, reverse=True)
    if any(not 1 <= day <= LONGEST_OFFSET for day in days) or len(days) > 5:
        raise InvalidAnswer("consult.bad_reminders", most=LONGEST_OFFSET)
    return days


def parse_link(text: str) -> Json:
    link = options.parse_link(text)
    return link["link"]


def line_up_to(limit: int) -> Any:
    def parse(text: str) -> Json:
        return one_line(text, limit)

    return parse


def offered_groups(answers: Answers) -> tuple[Choice, ...]:
    return tuple(Choice(str(gid), Literal(name)) for gid, name in answers.get(GROUPS_OFFERED, []))


# -- the conversation ----------------------------------------------------------------------


def _steps() -> tuple[Step, ...]:
    return (
        Step(
            "groups",
            "consult.ask_groups",
            "consult.field_groups",
            choices=offered_groups,
            multiple=True,
        ),
        Step("title", "consult.ask_title", "consult.field_title", parse=parse_title),
        Step(
            "issuer",
            "consult.ask_issuer",
            "consult.field_issuer",
            parse=line_up_to(200),
            optional=True,
        ),
        Step(
            "kind",
            "consult.ask_kind",
            "consult.field_kind",
            choices=tuple(Choice(kind.value, kind_label(kind.value)) for kind in ConsultationKind),
        ),
        Step(
            "summary",
            "consult.ask_summary",
            "consult.field_summary",
            parse=text_up_to(SUMMARY_MAX),
            optional=True,
        ),
        Step("link", "consult.ask_link", "consult.field_link", parse=parse_link, optional=True),
        Step(
            "submit_how",
            "consult.ask_submit_how",
            "consult.field_submit_how",
            parse=line_up_to(500),
            optional=True,
        ),
        Step(
            "languages",
            "consult.ask_languages",
            "consult.field_languages",
            parse=line_up_to(200),
            optional=True,
        ),
        Step(
            "length_limit",
            "consult.ask_length_limit",
            "consult.field_length_limit",
            parse=line_up_to(200),
            optional=True,
        ),
        Step(
            "deadline",
            "consult.ask_deadline",
            "consult.field_deadline",
            parse=read_deadline,
            show=show_deadline,
            optional=True,
        ),
        Step(
            "sessions",
            "consult.ask_sessions",
            "consult.field_sessions",
            parse=read_sessions,
            show=show_sessions,
            optional=True,
        ),
        Step(
            "topics",
            "consult.ask_topics",
            "consult.field_topics",
            choices=tuple(Choice(topic, topic_label(topic)) for topic in TOPICS),
            multiple=True,
            optional=True,
        ),
        Step(
            "regions",
            "consult.ask_regions",
            "consult.field_regions",
            choices=tuple(Choice(region, region_label(region)) for region in REGIONS),
            multiple=True,
            optional=True,
        ),
        Step(
            "countries",
            "consult.ask_countries",
            "consult.field_countries",
            parse=read_countries,
            show=_territories,
            optional=True,
        ),
        Step(
            "reminders",
            "consult.ask_reminders",
            "consult.field_reminders",
            parse=read_reminders,
            show=lambda days: Literal(", ".join(str(d) for d in days)),
            optional=True,
        ),
        Step(
            "publish",
            "consult.ask_publish",
            "consult.field_publish",
            choices=(
                Choice(PUBLISH, Message.of("consult.publish_now")),
                Choice(KEEP_DRAFT, Message.of("consult.keep_draft")),
            ),
        ),
    )


def submit(context: Context, answers: Answers) -> Sequence[Reply]:
    groups = tuple(int(gid) for gid in answers.get("groups") or ())
    allowed = {group.id for group in context.groups_where(Role.COORDINATOR)}
    if not groups or not set(groups) <= allowed:
        raise UserError("consult.choose_your_groups")
    fields = fields_of(context, answers, groups)
    editing = answers.get(EDITING)
    if editing is not None:
        record = context.store.consultations.get(int(editing))
        if record is None or record.state is not ConsultationState.DRAFT:
            raise UserError("consult.not_a_draft", number=int(editing))
        if not may_manage(context, record):
            raise UserError("consult.not_yours", number=record.id)
        record = context.store.consultations.update(record.id, fields)
    else:
        record = context.store.consultations.create(fields, context.member.id)
    if answers.get("publish") == PUBLISH:
        return publish(context, record)
    return [
        Reply(
            Message.of(
                "consult.kept_draft",
                number=record.id,
                edit=CommandRef("newconsultation"),
            )
        )
    ]


def fields_of(context: Context, answers: Answers, groups: tuple[int, ...]) -> ConsultationFields:
    deadline: datetime | None = None
    zone: str | None = None
    if answers.get("deadline"):
        deadline, zone = deadline_at(answers["deadline"], str(answers.get(ZONE) or "UTC"))
    sessions = answers.get("sessions") or []
    starts = ends = None
    if sessions:
        zone_info = zone_named(zone or str(answers.get(ZONE) or "UTC")) or ZoneInfo("UTC")
        starts = datetime.combine(
            datetime.fromisoformat(sessions[0]).date(), time(0, 0), tzinfo=zone_info
        )
        ends = datetime.combine(
            datetime.fromisoformat(sessions[-1]).date(), time(23, 59), tzinfo=zone_info
        )
    return ConsultationFields(
        title=str(answers["title"]),
        kind=ConsultationKind(str(answers.get("kind") or ConsultationKind.OTHER.value)),
        issuer=answers.get("issuer"),
        summary=answers.get("summary"),
        link=answers.get("link"),
        submit_how=answers.get("submit_how"),
        languages=answers.get("languages"),
        length_limit=answers.get("length_limit"),
        deadline=deadline,
        time_zone=zone,
        starts_at=starts,
        ends_at=ends,
        topics=tuple(answers.get("topics") or ()),
        regions=tuple(answers.get("regions") or ()),
        countries=tuple(answers.get("countries") or ()),
        working_groups=groups,
        reminder_days=tuple(answers.get("reminders") or DEFAULT_REMINDER_DAYS),
    )


def answers_of(record: ConsultationRecord) -> dict[str, Json]:
    """A draft's fields as the conversation's answers (those it has)."""
    fields = record.fields
    known: dict[str, Json] = {"title": fields.title, "kind": fields.kind.value}
    for name in ("issuer", "summary", "link", "submit_how", "languages", "length_limit"):
        value = getattr(fields, name)
        if value:
            known[name] = value
    if fields.deadline is not None:
        zone = zone_named(fields.time_zone or "UTC") or ZoneInfo("UTC")
        local = fields.deadline.astimezone(zone).replace(tzinfo=None)
        known["deadline"] = {
            "local": local.isoformat(timespec="minutes"),
            "zone": fields.time_zone,
        }
    if fields.starts_at is not None:
        end = fields.ends_at or fields.starts_at
        known["sessions"] = sorted({fields.starts_at.date().isoformat(), end.date().isoformat()})
    if fields.working_groups:
        known["groups"] = [str(gid) for gid in fields.working_groups]
    for name in ("topics", "regions", "countries"):
        if getattr(fields, name):
            known[name] = list(getattr(fields, name))
    known["reminders"] = list(fields.reminder_days)
    return known


def prepare(context: Context, command: Command) -> Mapping[str, Any]:
    """The groups the coordinator may choose, their time zone, and a draft's answers when
    they complete one (``/newconsultation N``)."""
    groups = context.groups_where(Role.COORDINATOR)
    if not groups:
        raise UserError("consult.no_groups")
    known: dict[str, Any] = {
        GROUPS_OFFERED: [[str(group.id), group.name] for group in groups],
        ZONE: context.reader.time_zone or "UTC",
    }
    if len(groups) == 1:
        known["groups"] = [str(groups[0].id)]
    if command.args:
        record = consultation_numbered(context, command.args[0])
        if record.state is not ConsultationState.DRAFT:
            raise UserError("consult.not_a_draft", number=record.id)
        if not may_manage(context, record):
            raise UserError("consult.not_yours", number=record.id)
        draft = answers_of(record)
        if "groups" in known and "groups" not in draft:
            draft["groups"] = known["groups"]
        known.update(draft)
        for step in CONVERSATION.steps:
            if step.optional and step.name not in known:
                known[step.name] = None  # left empty: changed from the review
        known[EDITING] = record.id
    return known


CONVERSATION = Conversation(
    name=NEW_CONSULTATION,
    title="consult.title",
    steps=_steps(),
    submit=submit,
    role=Role.COORDINATOR,
)
