"""Case reports after submission: who may read them, the review workflow, the author's side.

Only the author of a report and the coordinators of its working group (its own
coordinators and admins) may read it; nobody else, admins of other groups and network
admins included. A refused read is answered exactly like an unknown number, so that
nobody learns which numbers exist, and logged with ids only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace

from bot.context import Context, UserError
from bot.moments import day
from bot.notices import notify_member
from bot.registry import Registry
from bot.types import (
    Choice,
    ChoicePicked,
    Command,
    CommandRef,
    Lines,
    Literal,
    Media,
    Message,
    Platform,
    Reply,
    Role,
    StoredFile,
    Territory,
)
from handlers.cases import options
from handlers.cases.history import actor_names, history_lines
from handlers.cases.intake import tell_coordinators
from storage.case_records import CaseDetail, CaseFilter, CaseStatus, CaseSummary
from storage.records import MemberRecord

log = logging.getLogger(__name__)

WITHDRAW_CHOICE = "casewithdraw"
PAGE_SIZE = 10
ANSWER_MAX = 2000

NEXT_STATUSES: dict[CaseStatus, tuple[CaseStatus, ...]] = {
    CaseStatus.SUBMITTED: (CaseStatus.UNDER_REVIEW, CaseStatus.REJECTED),
    CaseStatus.UNDER_REVIEW: (CaseStatus.NEEDS_INFO, CaseStatus.VERIFIED, CaseStatus.REJECTED),
    CaseStatus.NEEDS_INFO: (CaseStatus.UNDER_REVIEW, CaseStatus.VERIFIED, CaseStatus.REJECTED),
    CaseStatus.VERIFIED: (CaseStatus.PUBLISHED, CaseStatus.ARCHIVED),
    CaseStatus.PUBLISHED: (CaseStatus.ARCHIVED,),
    CaseStatus.ARCHIVED: (CaseStatus.UNDER_REVIEW,),
    CaseStatus.REJECTED: (CaseStatus.UNDER_REVIEW,),
}
"""The review workflow: which status may follow which."""

NEEDS_TEXT = (CaseStatus.NEEDS_INFO, CaseStatus.REJECTED)
"""A question for the author, or the reason for rejecting, goes with these."""

PUBLISHABLE = ("anonymous", "named")
"""The publication choices that allow a report to be published; "internal" and "network"
(and a choice never recorded) do not."""


def declined_contact(detail: CaseDetail) -> bool:
    """Whether the author answered no to being contacted again about the report."""
    return detail.contents.follow_up == "no"


def next_statuses(detail: CaseDetail) -> tuple[CaseStatus, ...]:
    """The statuses the report may take next, given what its author chose: no question to
    an author who declined contact, no publication unless the author allowed it."""
    barred: set[CaseStatus] = set()
    if declined_contact(detail):
        barred.add(CaseStatus.NEEDS_INFO)
    if detail.contents.publication not in PUBLISHABLE:
        barred.add(CaseStatus.PUBLISHED)
    return tuple(s for s in NEXT_STATUSES[detail.summary.status] if s not in barred)


def register(registry: Registry) -> None:
    registry.command(
        "cases", list_cases, help_key="help.cases", role=Role.COORDINATOR, direct_only=True
    )
    registry.command("case", show_case, help_key="help.case", direct_only=True)
    registry.command(
        "casestatus",
        change_status,
        help_key="help.casestatus",
        role=Role.COORDINATOR,
        direct_only=True,
    )
    registry.command("myreports", my_reports, help_key="help.myreports", direct_only=True)
    registry.command("answer", answer_question, help_key="help.answer", direct_only=True)
    registry.command("withdraw", withdraw, help_key="help.withdraw", direct_only=True)
    registry.command("casefiles", send_files, help_key="help.casefiles", direct_only=True)
    registry.choice(WITHDRAW_CHOICE, withdraw_confirmed)


# -- who may read what ----------------------------------------------------------------------


def coordinated_groups(context: Context) -> list[int]:
    """The working groups whose reports the member may read as a coordinator."""
    groups = context.store.groups.all()
    trusted = context.origin.trusted_role
    if context.origin.platform is Platform.CONSOLE and trusted is not None:
        return [group.id for group in groups] if trusted.includes(Role.COORDINATOR) else []
    return [
        group.id
        for group in groups
        if context.roles.by_group.get(group.id, Role.MEMBER).includes(Role.COORDINATOR)
    ]


def _refused(context: Context, what: str, number: int) -> UserError:
    log.info("case_access_refused what=%s case=%d member=%d", what, number, context.member.id)
    return UserError("cases.not_found", number=number)


def readable_case(context: Context, number: int, what: str) -> tuple[CaseDetail, bool]:
    """The report, and whether the reader is one of its coordinators (else its author)."""
    detail = context.store.cases.detail(number)
    if detail is None:
        raise UserError("cases.not_found", number=number)
    coordinator = detail.summary.working_group_id in coordinated_groups(context)
    if not coordinator and detail.summary.author_member_id != context.member.id:
        raise _refused(context, what, number)
    return detail, coordinator


def own_case(context: Context, number: int, what: str) -> CaseSummary:
    """The report, when the member is its author (refused like an unknown number else)."""
    summary = context.store.cases.summary(number)
    if summary is None:
        raise UserError("cases.not_found", number=number)
    if summary.author_member_id != context.member.id:
        raise _refused(context, what, number)
    return summary


def parse_number(text: str, usage: UserError) -> int:
    cleaned = text.strip().lstrip("#")
    if not (cleaned.isascii() and cleaned.isdigit()) or not 1 <= int(cleaned) <= 2**31 - 1:
        raise usage
    return int(cleaned)


# -- listing --------------------------------------------------------------------------------


def _status(status: CaseStatus) -> Message:
    return Message.of(f"cases.status.{status.value}")


def status_now(number: int, status: CaseStatus, *, to_author: bool = False) -> Message:
    """A sentence saying the report now has ``status`` ("Case 2 now needs information"),
    for its coordinators or, with ``to_author``, for its author ("Your case report 2 …")."""
    case = Message.of("cases.your_case_ref" if to_author else "cases.case_ref", number=number)
    return Message.of(f"cases.now.{status.value}", case=case)


def summary_line(summary: CaseSummary, reader: MemberRecord) -> Message:
    """One report in a list, dated in the reader's language and time zone."""
    return Message.of(
        "cases.list_line_urgent" if summary.urgent else "cases.list_line",
        number=summary.id,
        date=Literal(day(summary.submitted_at, reader.language, reader.time_zone)),
        country=Territory(summary.country),
        sector=Message.of(options.option_key("sector", summary.sector)),
        status=_status(summary.status),
        title=Literal(summary.title),
    )


def _filter_usage() -> UserError:
    return UserError(
        "cases.filter_usage",
        command=CommandRef("cases"),
        statuses=Literal(", ".join(status.value for status in CaseStatus)),
        sectors=Literal(", ".join(options.SECTORS)),
        rights=Literal(", ".join(options.RIGHTS)),
    )


def parse_filters(args: Sequence[str]) -> tuple[CaseFilter, int]:
    """``status=… country=… sector=… right=… urgent page=N`` into filter values and a page."""
    chosen = CaseFilter()
    page = 1
    for arg in args:
        key, _, value = arg.partition("=")
        key = key.lower()
        if key == "urgent" and not value:
            chosen = replace(chosen, urgent=True)
        elif key == "status" and value.lower() in {status.value for status in CaseStatus}:
            chosen = replace(chosen, status=CaseStatus(value.lower()))
        elif key == "sector" and value.lower() in options.SECTORS:
            chosen = replace(chosen, sector=value.lower())
        elif key == "right" and value.lower() in options.RIGHTS:
            chosen = replace(chosen, right=value.lower())
        elif key == "country" and value:
            chosen = replace(chosen, country=options.parse_country_filter(value))
        elif key == "page" and value.isascii() and value.isdigit() and 1 <= int(value) <= 10_000:
            page = int(value)
        else:
            raise _filter_usage()
    return chosen, page


def list_cases(context: Context, command: Command) -> Sequence[Reply]:
    """``/cases [status=…] [country=…] [sector=…] [right=…] [urgent] [page=N]``."""
    groups = coordinated_groups(context)
    if not groups:
        raise UserError("cases.no_groups_coordinated")
    chosen, page = parse_filters(command.args)
    found, total = context.store.cases.listed(
        groups,
        chosen,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    if total == 0:
        return [Reply(Message.of("cases.none_found"))]
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    if page > pages:
        raise UserError(
            "cases.no_such_page", page=page, pages=Message.counted("cases.pages_count", pages)
        )
    lines: list[Message | Literal] = [
        Message.counted("cases.list_header", total, page=page, pages=pages)
    ]
    lines.extend(summary_line(summary, context.reader) for summary in found)
    if page < pages:
        lines.append(Message.of("cases.list_more", command=CommandRef("cases"), next=page + 1))
    lines.append(Message.of("cases.list_footer", case=CommandRef("case")))
    return [Reply(Lines(tuple(lines)), cases=tuple(summary.id for summary in found))]


def my_reports(context: Context, command: Command) -> Sequence[Reply]:
    found = context.store.cases.of_author(context.member.id)
    if not found:
        return [Reply(Message.of("cases.mine_none", report=CommandRef("report")))]
    lines: list[Message | Literal] = [Message.counted("cases.mine_header", len(found))]
    lines.extend(summary_line(summary, context.reader) for summary in found)
    lines.append(
        Message.of("cases.mine_footer", case=CommandRef("case"), withdraw=CommandRef("withdraw"))
    )
    return [Reply(Lines(tuple(lines)), cases=tuple(summary.id for summary in found))]


# -- one report -----------------------------------------------------------------------------


def _detail_lines(
    detail: CaseDetail, coordinator: bool, names: Mapping[int, str | None], reader: MemberRecord
) -> list[Message | Literal]:
    summary, contents = detail.summary, detail.contents
    lines: list[Message | Literal] = [
        Message.of(
            "cases.detail_header_urgent" if summary.urgent else "cases.detail_header",
            number=summary.id,
            title=Literal(summary.title),
            status=_status(summary.status),
        ),
        Message.of(
            "cases.detail_submitted",
            date=Literal(day(summary.submitted_at, reader.language, reader.time_zone)),
        ),
    ]

    def field(label: str, value: Message | Literal | Lines) -> None:
        lines.append(Message.of("conversation.review_line", label=Message.of(label), answer=value))

    def option(label: str, kind: str, value: str | list[str] | None) -> None:
        if value:
            field(label, options.shown_option(kind)(value))

    def text(label: str, value: str | None) -> None:
        if value:
            field(label, Literal(value))

    option("cases.label_reporter", "reporter", contents.reporter)
    text("cases.label_organization", contents.organization)
    option("cases.label_naming", "naming", contents.naming)
    field("cases.label_country", options.show_country(summary.country))
    text("cases.label_locality", contents.locality)
    if contents.companies:
        field("cases.label_companies", options.companies_shown(contents.companies))
    option("cases.label_sector", "sector", summary.sector)
    option("cases.label_rights", "right", list(summary.rights))
    text("cases.label_affected", contents.affected)
    if contents.affected_count:
        field("cases.label_affected_count", options.show_people(contents.affected_count))
    option("cases.label_affected_groups", "affected_group", list(contents.affected_groups))
    text("cases.label_started", summary.started)
    option("cases.label_ongoing", "yes_no", "yes" if summary.ongoing else "no")
    text("cases.label_narrative", contents.narrative)
    option("cases.label_state_role", "state_role", list(contents.state_role))
    option("cases.label_steps_taken", "step_taken", list(contents.steps_taken))
    text("cases.label_steps_outcome", contents.steps_outcome)
    text("cases.label_remedy", contents.remedy)
    for link in contents.links:
        field("cases.label_evidence", Literal(link))
    for attachment in detail.attachments:
        lines.append(
            Message.of(
                f"cases.attachment_{attachment.status.value}",
                name=Literal(attachment.filename or attachment.content_type or "file"),
            )
        )
    option("cases.label_safety", "yes_no", "yes" if summary.urgent else "no")
    option("cases.label_publication", "publication", contents.publication)
    option("cases.label_follow_up", "yes_no", contents.follow_up)
    option("cases.label_channel", "channel", contents.channel)
    lines.extend(history_lines(detail, coordinator, names, reader))
    if coordinator:
        following = next_statuses(detail)
        lines.append(
            Message.of(
                "cases.detail_actions",
                command=CommandRef("casestatus"),
                number=summary.id,
                statuses=Literal(", ".join(status.value for status in following)),
                files=CommandRef("casefiles"),
            )
        )
    elif summary.status is CaseStatus.NEEDS_INFO:
        lines.append(Message.of("cases.detail_answer_hint", command=CommandRef("answer")))
    return lines


def _case_usage(name: str) -> UserError:
    return UserError("cases.number_usage", command=CommandRef(name))


def show_case(context: Context, command: Command) -> Sequence[Reply]:
    """``/case N``: the whole report, for its author and its group's coordinators."""
    if len(command.args) != 1:
        raise _case_usage("case")
    number = parse_number(command.args[0], _case_usage("case"))
    detail, coordinator = readable_case(context, number, "case")
    log.info("case_read case=%d member=%d", number, context.member.id)
    names = actor_names(context.store, detail) if coordinator else {}
    return [
        Reply(
            Lines(tuple(_detail_lines(detail, coordinator, names, context.reader))), cases=(number,)
        )
    ]


def send_files(context: Context, command: Command) -> Sequence[Reply]:
    """``/casefiles N``: the report's evidence files, in this private chat."""
    if len(command.args) != 1:
        raise _case_usage("casefiles")
    number = parse_number(command.args[0], _case_usage("casefiles"))
    readable_case(context, number, "casefiles")
    files = context.store.cases.stored_files(number)
    if not files:
        return [Reply(Message.of("cases.no_files", number=number))]
    origin = context.origin
    waiting = context.store.cases.files_waiting(
        origin.platform, origin.room_id, [info.id for info in files]
    )
    files = [info for info in files if info.id not in waiting]
    if not files:
        return [Reply(Message.of("cases.files_already_queued", number=number))]
    log.info("case_files_sent case=%d member=%d files=%d", number, context.member.id, len(files))
    # References, not bytes: the outbox reads each file, and checks the reader may still
    # have it, when it sends it.
    return [
        Reply(
            Message.counted("cases.files_header", len(files), number=number),
            media=tuple(
                Media(
                    info.filename or f"evidence-{number}-{info.id}",
                    info.content_type or "application/octet-stream",
                    b"",
                    StoredFile(number, info.id, context.member.id),
                )
                for info in files
            ),
            cases=(number,),
        )
    ]


# -- the workflow ---------------------------------------------------------------------------


def change_status(context: Context, command: Command) -> Sequence[Reply]:
    """``/casestatus N STATUS [question or reason]``."""
    usage = UserError(
        "cases.status_usage",
        command=CommandRef("casestatus"),
        statuses=Literal(", ".join(status.value for status in CaseStatus)),
    )
    if len(command.args) < 2:
        raise usage
    number = parse_number(command.args[0], usage)
    wanted = command.args[1].lower()
    if wanted not in {status.value for status in CaseStatus}:
        raise usage
    status = CaseStatus(wanted)
    text = " ".join(command.args[2:]).strip()
    detail, coordinator = readable_case(context, number, "casestatus")
    if not coordinator:  # its author, who may read it but not review it
        raise _refused(context, "casestatus", number)
    current = detail.summary.status
    allowed = next_statuses(detail)
    if status not in allowed and status in NEXT_STATUSES[current]:
        # The workflow allows it, the author's choice does not: say which choice.
        if status is CaseStatus.NEEDS_INFO:
            raise UserError("cases.needs_info_declined_contact", number=number)
        chosen = detail.contents.publication
        if chosen not in options.PUBLICATION:
            raise UserError("cases.publish_not_recorded", number=number)
        raise UserError(
            "cases.publish_not_chosen",
            number=number,
            choice=Message.of(options.option_key("publication", chosen)),
        )
    if status not in allowed:
        raise UserError(
            "cases.status_not_allowed",
            current=_status(current),
            wanted=_status(status),
            allowed=Literal(", ".join(s.value for s in allowed)),
        )
    if status in NEEDS_TEXT and not text:
        raise UserError(f"cases.status_needs_text_{status.value}", command=CommandRef("casestatus"))
    if len(text) > ANSWER_MAX:
        raise UserError("cases.too_long", limit=ANSWER_MAX, length=options.characters(text))
    context.store.cases.set_status(number, status, context.member.id, text or None)
    log.info(
        "case_status case=%d member=%d from=%s to=%s",
        number,
        context.member.id,
        current.value,
        status.value,
    )
    if declined_contact(detail):
        return [
            Reply(Message.of("cases.status_changed_not_contacted", now=status_now(number, status)))
        ]
    if status is CaseStatus.NEEDS_INFO:
        notice = Message.of(
            "cases.author_question",
            number=number,
            question=Literal(text),
            command=CommandRef("answer"),
        )
    elif status is CaseStatus.REJECTED:
        notice = Message.of("cases.author_rejected", number=number, reason=Literal(text))
    else:
        notice = status_now(number, status, to_author=True)
    told = notify_member(
        context.store,
        detail.summary.author_member_id,
        notice,
        enabled=context.config.enabled_platforms,
    )
    key = "cases.status_changed" if told else "cases.status_changed_untold"
    return [Reply(Message.of(key, now=status_now(number, status))), *told]


def answer_question(context: Context, command: Command) -> Sequence[Reply]:
    """``/answer N text``: the author answers a coordinator's question about report N."""
    usage = UserError("cases.answer_usage", command=CommandRef("answer"))
    if len(command.args) < 2:
        raise usage
    number = parse_number(command.args[0], usage)
    summary = own_case(context, number, "answer")
    if summary.status is not CaseStatus.NEEDS_INFO:
        raise UserError("cases.no_question", number=number)
    text = " ".join(command.args[1:]).strip()
    if len(text) > ANSWER_MAX:
        raise UserError("cases.too_long", limit=ANSWER_MAX, length=options.characters(text))
    context.store.cases.add_answer(number, context.member.id, text)
    log.info("case_answered case=%d member=%d", number, context.member.id)
    return [
        Reply(Message.of("cases.answer_kept", number=number)),
        *tell_coordinators(context, summary.working_group_id, number, key="cases.answer_notice"),
    ]


def withdraw(context: Context, command: Command) -> Sequence[Reply]:
    """``/withdraw N``: the author erases their report, after confirming."""
    if len(command.args) != 1:
        raise _case_usage("withdraw")
    number = parse_number(command.args[0], _case_usage("withdraw"))
    summary = own_case(context, number, "withdraw")
    return [
        Reply(
            Message.of("cases.withdraw_confirm", number=number, title=Literal(summary.title)),
            choices=(
                Choice(f"{WITHDRAW_CHOICE}:{number}", Message.of("cases.withdraw_yes")),
                Choice(f"{WITHDRAW_CHOICE}:keep", Message.of("cases.withdraw_no")),
            ),
            cases=(number,),
        )
    ]


def withdraw_confirmed(context: Context, picked: ChoicePicked, payload: str) -> Sequence[Reply]:
    if payload == "keep":
        return [Reply(Message.of("cases.withdraw_kept"))]
    number = parse_number(payload, _case_usage("withdraw"))
    summary = own_case(context, number, "withdraw")
    context.store.cases.withdraw(number)
    log.info("case_withdrawn case=%d member=%d", number, context.member.id)
    # The coordinators were told of the report when it came: they learn it is gone (its
    # number only), so that nobody looks for it or acts on it.
    notices = tell_coordinators(
        context, summary.working_group_id, number, key="cases.withdrawn_notice"
    )
    return [Reply(Message.of("cases.withdrawn", number=number)), *notices]
