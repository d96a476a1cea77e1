"""Case reports: the guided, resumable, confidential intake of an alleged abuse.

``/report`` (direct chats only) walks a member through consent, who is reporting, where,
which companies, what happened, evidence, safety and publication. Every answer is kept as
it is given (the draft is sealed at rest with the rest of the conversation); submitting
files the report with its working group, whose coordinators are told at once, urgently
when someone is at risk. The review side (``/cases`` and the rest) is in
:mod:`handlers.cases.review`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from bot.config import MB
from bot.context import Context, UserError
from bot.conversation import (
    CANCEL,
    Answers,
    Conversation,
    ConversationState,
    Json,
    MediaAnswer,
    Step,
)
from bot.notices import notice_address, notify_coordinators
from bot.registry import Elsewhere, Registry
from bot.territories import region_of
from bot.types import (
    Choice,
    Command,
    CommandRef,
    Literal,
    Message,
    Origin,
    ParamValue,
    Platform,
    Reply,
)
from handlers.cases import options
from handlers.cases.options import choices, shown_option
from storage.case_contents import CaseContents
from storage.case_records import NewCase

log = logging.getLogger(__name__)

GROUPS_OFFERED = "groups_offered"
"""Not a step: the working groups the member may report to, known when /report starts."""

TYPED_IN = "typed_in"
"""Not a step: where the member was talking when /report started (an option of
:data:`handlers.cases.options.CHANNELS`), known from the platform and the room's state."""
CHANNEL = "channel"
"""The step, asked only when /report starts in a Matrix room that is not end-to-end
encrypted, where the member chooses where to go on: it says where the report is typed."""


def register(registry: Registry) -> None:
    registry.conversation(
        REPORT,
        command="report",
        help_key="help.report",
        prepare=prepare_report,
        group_hint="cases.report_in_private",
        guard=keep_to_a_safe_room,
    )


def prepare_report(context: Context, command: Command) -> Mapping[str, Any]:
    """The working groups to report to (with one, it is chosen without asking), and where
    the member is talking, unless that is a room in the clear: then it is asked."""
    groups = context.store.groups.all()
    if not groups:
        raise UserError("cases.no_groups")
    offered = [[str(group.id), group.name] for group in groups]
    known: dict[str, Any] = {GROUPS_OFFERED: offered}
    if len(groups) == 1:
        known["group"] = str(groups[0].id)
    known[TYPED_IN] = channel_of(context.origin)
    return known


def channel_of(origin: Origin) -> str:
    """Where a member is talking to the bot, by what the platform holds of it."""
    if origin.platform is Platform.MATRIX:
        if origin.encrypted is True:
            return options.MATRIX_ENCRYPTED
        return options.MATRIX_UNENCRYPTED
    return origin.platform.value


def keep_to_a_safe_room(context: Context, state: ConversationState) -> Elsewhere | None:
    """In a Matrix room in the clear, a report is taken only once the member has chosen to
    go on there; before that it asks only which group (when there are several) and where
    to go on. Otherwise its questions go to an end-to-end encrypted room the bot makes
    with the member."""
    origin = context.origin
    if channel_of(origin) != options.MATRIX_UNENCRYPTED:
        return None
    if state.step == CHANNEL or state.answers.get(CHANNEL) == options.MATRIX_UNENCRYPTED:
        return None
    if state.step == "group" and state.answers.get(TYPED_IN) == options.MATRIX_UNENCRYPTED:
        return None  # which group to report to comes before the question where to go on
    safe = Origin(
        platform=Platform.MATRIX,
        room_id=notice_address(origin.user_id, encrypted=True),
        user_id=origin.user_id,
        is_direct=True,
        encrypted=True,
    )
    return Elsewhere(
        note=Message.of(
            "cases.continue_encrypted", report=CommandRef("report"), cancel=CommandRef("cancel")
        ),
        to=safe,
        greeting=Message.of("cases.continued_encrypted"),
    )


def after_group(answers: Answers) -> str:
    """Where to go on is asked only where /report started in a Matrix room in the clear."""
    return CHANNEL if answers.get(TYPED_IN) == options.MATRIX_UNENCRYPTED else "consent"


def typed_in(answers: Answers) -> str | None:
    """Where the report is typed: as the member chose, or else where it started."""
    chosen = answers.get(CHANNEL) or answers.get(TYPED_IN)
    return str(chosen) if chosen in options.CHANNELS else None


def channel_prompt(answers: Answers) -> Mapping[str, ParamValue]:
    moved = answers.get(CHANNEL) == options.MATRIX_ENCRYPTED
    return {"situation": Message.of("cases.channel_moved" if moved else "cases.channel_clear")}


def consent_prompt(answers: Answers) -> Mapping[str, ParamValue]:
    """The consent names the working group and says what the chat platform holds."""
    chosen = str(answers.get("group", ""))
    name = next(
        (str(n) for group_id, n in answers.get(GROUPS_OFFERED) or [] if str(group_id) == chosen),
        "",
    )
    # "unknown": a draft begun before the bot told platforms apart.
    channel = typed_in(answers) or "unknown"
    return {
        "group": Literal(name),
        "platform": Message.of(options.option_key("consent_platform", channel)),
    }


def group_choices(answers: Answers) -> tuple[Choice, ...]:
    offered = answers.get(GROUPS_OFFERED) or []
    return tuple(Choice(str(group_id), Literal(str(name))) for group_id, name in offered)


def _company_fields() -> tuple[Step, ...]:
    return (
        Step(
            "name",
            prompt="cases.ask_company_name",
            label="cases.label_company_name",
            parse=options.parse_line,
        ),
        Step(
            "role",
            prompt="cases.ask_company_role",
            label="cases.label_company_role",
            choices=choices("company_role", options.COMPANY_ROLES),
        ),
        Step(
            "country",
            prompt="cases.ask_company_country",
            label="cases.label_company_country",
            parse=options.parse_country,
            show=options.show_country,
            optional=True,
        ),
    )


def _text_step(name: str, parse: Callable[[str], Json], **extra: Any) -> Step:
    return Step(name, prompt=f"cases.ask_{name}", label=f"cases.label_{name}", parse=parse, **extra)


def _choice_step(name: str, kind: str, values: Sequence[str], **extra: Any) -> Step:
    return Step(
        name,
        prompt=f"cases.ask_{name}",
        label=f"cases.label_{name}",
        choices=choices(kind, values),
        show=shown_option(kind),
        **extra,
    )


def _evidence(answers: Answers) -> tuple[list[str], list[tuple[str, dict[str, Json]]]]:
    links: list[str] = []
    files: list[tuple[str, dict[str, Json]]] = []
    for piece in answers.get("evidence") or []:
        if isinstance(piece, dict) and "link" in piece:
            links.append(str(piece["link"]))
        elif isinstance(piece, dict) and isinstance(piece.get("file"), dict):
            source = dict(piece["file"])
            files.append((str(source.get("platform", "")), source))
    return links, files


def submit_report(context: Context, answers: Answers) -> Sequence[Reply]:
    group_id = int(answers["group"])
    country = str(answers["country"])
    links, files = _evidence(answers)
    # The confidential answers, sealed, each under its own name; links and language besides.
    contents = replace(
        CaseContents.from_data(answers),
        links=tuple(links),
        language=context.member.language,
        channel=typed_in(answers) or channel_of(context.origin),
    )
    urgent = answers.get("safety") == "yes"
    number = context.store.cases.submit(
        NewCase(
            working_group_id=group_id,
            author_member_id=context.member.id,
            urgent=urgent,
            country=country,
            region=region_of(country).value,
            sector=str(answers["sector"]),
            started=str(answers["started"]),
            ongoing=answers.get("ongoing") == "yes",
            rights=tuple(str(right) for right in answers.get("rights") or ()),
            contents=contents,
            attachments=tuple(files),
        )
    )
    log.info(
        "case_submitted case=%d group=%d member=%d urgent=%s files=%d",
        number,
        group_id,
        context.member.id,
        urgent,
        len(files),
    )
    replies = [
        Reply(
            Message.of(
                "cases.submitted",
                number=number,
                mine=CommandRef("myreports"),
                withdraw=CommandRef("withdraw"),
            )
        )
    ]
    notices = tell_coordinators(context, group_id, number, urgent=urgent)
    if urgent:
        # Never say the coordinators were alerted when none could be reached.
        told = "cases.urgent_noted" if notices else "cases.urgent_unreached"
        replies.append(Reply(Message.of(told)))
    replies.extend(notices)
    return replies


def tell_coordinators(
    context: Context, group_id: int, number: int, *, urgent: bool = False, key: str = ""
) -> list[Reply]:
    """A notice to each coordinator of the report's group, where they talk to the bot privately.

    It carries the report's number only, never its contents."""
    chosen = key or ("cases.urgent_alert" if urgent else "cases.new_report_notice")
    group = context.store.groups.get(group_id)
    name = Literal(group.name if group is not None else "")
    notices = notify_coordinators(
        context.store,
        group_id,
        Message.of(chosen, number=number, group=name, case=CommandRef("case")),
        enabled=context.config.enabled_platforms,
    )
    if urgent and not notices:
        # Kept, in the unit of work that files the report, for the first coordinator (or,
        # failing them, network admin) who writes to the bot: see handlers.cases.urgent.
        context.store.urgent_alerts.keep(number)
        log.warning("case_alert_undelivered case=%d group=%d kept=yes", number, group_id)
    return notices


def _draft_file_bytes(state: ConversationState) -> int:
    """The declared bytes of the files the draft holds (kept answers and gathered pieces)."""
    pieces: list[Json] = []
    for value in (state.answers.get("evidence"), state.pending):
        if isinstance(value, list):
            pieces.extend(value)
    total = 0
    for piece in pieces:
        file = piece.get("file") if isinstance(piece, dict) else None
        size = file.get("size") if isinstance(file, dict) else None
        total += size if type(size) is int and size > 0 else 0
    return total


def check_evidence_file(
    context: Context, state: ConversationState, media: MediaAnswer
) -> Message | None:
    """A file past the report's or the member's daily evidence quota is refused (its size
    as the platform declares it; the fetcher checks the bytes it gets again)."""
    if state.step != "evidence" or not media.size:
        return None
    limits = context.config.limits
    draft = _draft_file_bytes(state)
    if draft + media.size > limits.evidence_bytes_per_report:
        log.info("evidence_quota what=report member=%d", context.member.id)
        return Message.of(
            "cases.evidence_report_full", limit=limits.evidence_bytes_per_report // MB
        )
    since = context.store.now() - timedelta(days=1)
    earlier = context.store.cases.evidence_bytes_of_author(context.member.id, since)
    if earlier + draft + media.size > limits.evidence_bytes_per_member_per_day:
        log.info("evidence_quota what=member_day member=%d", context.member.id)
        return Message.of(
            "cases.evidence_member_full", limit=limits.evidence_bytes_per_member_per_day // MB
        )
    return None


REPORT = Conversation(
    name="report",
    title="cases.title",
    steps=(
        Step(
            "group",
            prompt="cases.ask_group",
            label="cases.label_group",
            choices=group_choices,
            next=after_group,
        ),
        Step(
            CHANNEL,
            prompt="cases.ask_channel",
            label="cases.label_channel",
            prompt_params=channel_prompt,
            choices=(
                Choice(options.MATRIX_ENCRYPTED, Message.of("cases.channel_move")),
                Choice(options.MATRIX_UNENCRYPTED, Message.of("cases.channel_stay")),
            ),
            show=shown_option("channel"),
            changeable=False,
        ),
        Step(
            "consent",
            prompt="cases.ask_consent",
            label="cases.label_consent",
            prompt_params=consent_prompt,
            choices=(
                Choice("yes", Message.of("cases.consent_agree")),
                Choice(CANCEL, Message.of("cases.consent_decline")),
            ),
            changeable=False,
        ),
        _choice_step("reporter", "reporter", options.REPORTERS),
        _text_step("organization", options.parse_line, optional=True),
        _choice_step("naming", "naming", options.NAMING),
        _text_step("title", options.parse_title),
        _text_step(
            "country",
            options.parse_country,
            show=options.show_country,
            hint="cases.country_hint",
        ),
        _text_step("locality", options.parse_line, optional=True),
        Step(
            "companies",
            prompt="cases.ask_companies",
            label="cases.label_companies",
            fields=_company_fields(),
            item_label="cases.company_item",
            show=options.show_companies,
            max_items=10,
        ),
        _choice_step("sector", "sector", options.SECTORS),
        _choice_step("rights", "right", options.RIGHTS, multiple=True),
        _text_step("affected", options.text_up_to(options.SHORT_TEXT_MAX)),
        _text_step("affected_count", options.parse_count, optional=True, show=options.show_people),
        _choice_step(
            "affected_groups",
            "affected_group",
            options.AFFECTED_GROUPS,
            multiple=True,
            optional=True,
        ),
        _text_step("started", options.parse_started),
        _choice_step("ongoing", "yes_no", options.YES_NO),
        _text_step(
            "narrative",
            options.text_up_to(options.LONG_TEXT_MAX),
            gather=True,
            finish=options.join_narrative,
            show=options.show_narrative,
            max_items=30,
        ),
        _choice_step("state_role", "state_role", options.STATE_ROLES, multiple=True),
        _choice_step("steps_taken", "step_taken", options.STEPS_TAKEN, multiple=True),
        _text_step("steps_outcome", options.text_up_to(options.SHORT_TEXT_MAX), optional=True),
        _text_step("remedy", options.text_up_to(options.SHORT_TEXT_MAX)),
        _text_step(
            "evidence",
            options.parse_link,
            gather=True,
            accepts_media=True,
            optional=True,
            show=options.show_evidence,
            max_items=20,
        ),
        _choice_step("safety", "yes_no", options.YES_NO, hint="cases.safety_hint"),
        _choice_step("publication", "publication", options.PUBLICATION),
        _choice_step("follow_up", "yes_no", options.YES_NO),
    ),
    submit=submit_report,
    check_file=check_evidence_file,
)
