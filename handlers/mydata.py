"""A member's own data: ``/mydata`` sends all of it as a file, ``/forgetme`` erases it after
a confirmation that says exactly what will happen. Both in private chats only."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.context import Context, UserError
from bot.conversation import CANCEL, Answers, Conversation, Step
from bot.registry import Registry
from bot.types import Choice, Command, CommandRef, Media, Message, ParamValue, Reply

EXPORT_FORMAT = "caucus-member-data/1"
WITHDRAW, KEEP, NO_REPORTS = "withdraw", "keep", "none"
ERASE = "erase"


def register(registry: Registry) -> None:
    registry.command("mydata", send_my_data, help_key="help.mydata", direct_only=True)
    registry.conversation(
        FORGET, command="forgetme", help_key="help.forgetme", prepare=count_reports
    )


def send_my_data(context: Context, command: Command) -> Sequence[Reply]:
    member = context.member
    sections = context.store.member_data.export(member.id)
    document = {
        "format": EXPORT_FORMAT,
        "exported_at": context.store.now().isoformat(),
        **sections,
    }
    data = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=False).encode("utf-8")
    reports = tuple(report["number"] for report in sections.get("case_reports", ()))
    return [
        Reply(
            Message.of("mydata.sent"),
            media=(Media(f"caucus-member-{member.id}.json", "application/json", data),),
            # Their reports' contents are in it: a report withdrawn before it is sent
            # takes the file back with it.
            cases=reports,
        )
    ]


# -- /forgetme --------------------------------------------------------------------------


def count_reports(context: Context, command: Command) -> Mapping[str, Any]:
    """The number of reports the member filed; with none, what to do with them is not asked."""
    if context.store.member_data.named_in_configuration(context.member.id):
        # The next start would make the member again from the configuration's account.
        raise UserError("forget.configured", command=CommandRef("forgetme"))
    count = len(context.store.cases.of_author(context.member.id))
    known: dict[str, Any] = {"report_count": count}
    if count == 0:
        known["reports"] = NO_REPORTS
    return known


def _reports_params(answers: Answers) -> Mapping[str, ParamValue]:
    return {"reports": Message.counted("forget.reports", int(answers.get("report_count", 0)))}


def _what_happens(answers: Answers) -> Mapping[str, ParamValue]:
    choice = answers.get("reports")
    count = int(answers.get("report_count", 0))
    if choice == KEEP:
        reports = Message.counted("forget.will_keep_reports", count)
    elif choice == WITHDRAW:
        reports = Message.counted("forget.will_withdraw_reports", count)
    else:
        reports = Message.of("forget.no_reports")
    return {"reports": reports}


def forget_me(context: Context, answers: Answers) -> Sequence[Reply]:
    member_id = context.member.id
    # Reports filed after the question was asked (or never asked) are withdrawn: keeping
    # a report for the network is the member's choice alone.
    erased = context.store.member_data.erase(member_id, keep_reports=answers["reports"] == KEEP)
    context.store.audit.record(
        "member.erased",
        None,
        detail={
            "accounts": erased.accounts,
            "memberships": erased.memberships,
            "reports_withdrawn": erased.reports_withdrawn,
            "reports_kept": erased.reports_kept,
        },
    )
    return [Reply(Message.of("forget.done"))]


FORGET = Conversation(
    name="forgetme",
    title="forget.title",
    steps=(
        Step(
            "reports",
            prompt="forget.ask_reports",
            label="forget.label_reports",
            prompt_params=_reports_params,
            choices=(
                Choice(WITHDRAW, Message.of("forget.choice_withdraw")),
                Choice(KEEP, Message.of("forget.choice_keep")),
            ),
        ),
        Step(
            "confirm",
            prompt="forget.confirm",
            label="forget.label_confirm",
            prompt_params=_what_happens,
            choices=(
                Choice(ERASE, Message.of("forget.choice_erase")),
                Choice(CANCEL, Message.of("forget.choice_keep_everything")),
            ),
            changeable=False,
        ),
    ),
    submit=forget_me,
    review=False,
)
