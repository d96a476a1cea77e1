"""``/statement``: a coordinator drafts a joint statement step by step (the working group,
the title, the text typed or sent as a file, its language, the sign-on deadline, who signs,
whether individuals may, how the list is sorted), reviews and changes any answer, and
opens it. Opening stores it with its first version, schedules its closing and reminders,
records it in the audit log and announces it (:func:`handlers.statements.signing.announce`).
``/statement N`` shows one instead (:mod:`handlers.statements.views`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from bot.context import Context, UserError
from bot.conversation import Answers, Conversation, Json, Step
from bot.conversation_steps import keyed_choices
from bot.moments import moment
from bot.registry import Registry
from bot.types import Choice, Command, CommandRef, Lines, Literal, Message, Reply, Role
from handlers.cases.options import one_line
from handlers.polls.answers import LONGEST, READ_DEADLINE, deadline_of, show_poll_deadline
from handlers.statements import common, signing, text_input, views
from storage import WorkingGroupRecord
from storage.statement_records import TITLE_MAX, ListOrder, StatementFields, WhoSigns

log = logging.getLogger(__name__)

NEW_STATEMENT = "statement"
GROUPS_OFFERED = "groups_offered"
"""Not a step: the working groups the coordinator may choose, known when it starts."""
LANGUAGES_OFFERED = "languages_offered"
"""Not a step: the configuration's languages."""
ZONE = "zone"
"""Not a step: the time zone a deadline typed without one is read in."""
SHORTEST = timedelta(hours=1)
"""The nearest a sign-on deadline may be."""

WHO_SIGNS_KEYS = {
    WhoSigns.GROUP: "statements.create.who_group",
    WhoSigns.NETWORK: "statements.create.who_network",
}
LIST_ORDER_KEYS = {
    ListOrder.ALPHABETICAL: "statements.create.order_alphabetical",
    ListOrder.COUNTRY: "statements.create.order_country",
}
YES, NO = "yes", "no"


def _offered_groups(answers: Answers) -> tuple[Choice, ...]:
    return tuple(Choice(str(gid), Literal(name)) for gid, name in answers.get(GROUPS_OFFERED, []))


def language_label(code: str) -> Message:
    return Message.of("language.native_name@" + code)


def _offered_languages(answers: Answers) -> tuple[Choice, ...]:
    return tuple(Choice(code, language_label(code)) for code in answers.get(LANGUAGES_OFFERED, []))


def _read_title(text: str) -> Json:
    return one_line(text, TITLE_MAX)


def _steps() -> tuple[Step, ...]:
    return (
        Step(
            "group",
            "statements.create.ask_group",
            "statements.create.field_group",
            choices=_offered_groups,
        ),
        Step(
            "title",
            "statements.create.ask_title",
            "statements.create.field_title",
            parse=_read_title,
        ),
        *text_input.text_steps(
            "statements.create.ask_text", "statements.create.field_text", after="language"
        ),
        Step(
            "language",
            "statements.create.ask_language",
            "statements.create.field_language",
            choices=_offered_languages,
        ),
        Step(
            "deadline",
            "statements.create.ask_deadline",
            "statements.create.field_deadline",
            parse=READ_DEADLINE,
            show=show_poll_deadline,
            prompt_params=lambda answers: {"zone": Literal(str(answers.get(ZONE) or "UTC"))},
        ),
        Step(
            "who",
            "statements.create.ask_who",
            "statements.create.field_who",
            choices=keyed_choices(WHO_SIGNS_KEYS),
        ),
        Step(
            "individuals",
            "statements.create.ask_individuals",
            "statements.create.field_individuals",
            choices=(
                Choice(YES, Message.of("statements.create.individuals_yes")),
                Choice(NO, Message.of("statements.create.individuals_no")),
            ),
        ),
        Step(
            "order",
            "statements.create.ask_order",
            "statements.create.field_order",
            choices=keyed_choices(LIST_ORDER_KEYS),
        ),
    )


def prepare(context: Context, command: Command) -> Mapping[str, Any]:
    """The groups the coordinator may choose, the languages and the time zone."""
    groups = context.groups_where(Role.COORDINATOR)
    if not groups:
        raise UserError("statements.create.no_groups")
    known: dict[str, Any] = {
        GROUPS_OFFERED: [[str(group.id), group.name] for group in groups],
        LANGUAGES_OFFERED: list(context.languages),
        ZONE: context.config.time_zone,
    }
    if len(groups) == 1:
        known["group"] = str(groups[0].id)
    return known


def _group(context: Context, answers: Answers) -> WorkingGroupRecord:
    group = context.coordinated_group(int(answers["group"]))
    if group is None:
        raise UserError("statements.create.not_coordinator")
    return group


def fields_of(context: Context, answers: Answers) -> StatementFields:
    """The statement the answers describe, opened now; refused when an answer no longer
    fits (a deadline come too near while reviewing, a group with no room linked)."""
    group = _group(context, answers)
    now = context.store.now()
    deadline, zone = deadline_of(
        dict(answers["deadline"]), now=now, zone=str(answers.get(ZONE) or context.config.time_zone)
    )
    review = CommandRef(NEW_STATEMENT)
    if deadline < now + SHORTEST:
        raise UserError("statements.create.deadline_too_near", review=review)
    if deadline > now + LONGEST:
        raise UserError("statements.create.deadline_too_far", days=LONGEST.days, review=review)
    rooms = tuple(
        (link.platform.value, link.room_id) for link in context.store.rooms.links(group.id)
    )
    if not rooms:
        raise UserError(
            "statements.create.no_rooms", group=Literal(group.name), link=CommandRef("link")
        )
    language = str(answers["language"])
    if language not in context.languages:
        raise UserError("statements.create.bad_language", review=review)
    return StatementFields(
        working_group_id=group.id,
        title=str(answers["title"]),
        language=language,
        deadline=deadline,
        who_signs=WhoSigns(str(answers["who"])),
        individuals=answers.get("individuals") == YES,
        list_order=ListOrder(str(answers["order"])),
        rooms=rooms,
        time_zone=zone,
        remind_hours_before=tuple(context.config.statements.remind_hours_before),
    )


def submit(context: Context, answers: Answers) -> Sequence[Reply]:
    """Open the statement: stored with its first version, its closing and reminders
    scheduled, audited, then announced in its rooms and to those who sign."""
    fields = fields_of(context, answers)
    text, file = text_input.text_of(context, answers)
    record = context.store.statements.open(fields, text, file, context.member.id)
    common.schedule_work(context.store, record)
    context.store.audit.record(
        "statement.opened",
        context.member.id,
        working_group_id=fields.working_group_id,
        detail={"statement": record.id, "rooms": len(fields.rooms), "file": file is not None},
    )
    reader = context.reader
    missed = signing.unreachable(context, record)
    log.info(
        "statement_opened statement=%d group=%d member=%d rooms=%d unreachable=%d",
        record.id,
        fields.working_group_id,
        context.member.id,
        len(fields.rooms),
        len(missed),
    )
    said = Reply(
        Lines(
            (
                Message.of(
                    "statements.create.opened",
                    number=record.id,
                    rooms=Message.counted("statements.create.rooms", len(fields.rooms)),
                    when=Literal(moment(fields.deadline, reader.language, reader.time_zone)),
                ),
                Message.of(
                    "statements.create.what_next",
                    number=record.id,
                    show=CommandRef("statement"),
                    edit=CommandRef("editstatement"),
                    translate=CommandRef("translatestatement"),
                    signatories=CommandRef("signatories"),
                    close=CommandRef("closestatement"),
                ),
                *(
                    (Message.counted("statements.create.unreachable", len(missed)),)
                    if missed
                    else ()
                ),
            )
        )
    )
    return [said, *signing.announce(context, record)]


CONVERSATION = Conversation(
    name=NEW_STATEMENT,
    title="statements.create.title",
    steps=_steps(),
    submit=submit,
    role=Role.COORDINATOR,
)


def register(registry: Registry) -> None:
    registry.conversation(
        CONVERSATION,
        command="statement",
        help_key="help.statement",
        prepare=prepare,
        with_arguments=views.show_statement,
    )
