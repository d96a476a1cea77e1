"""Questions about a joint statement: a member asks (``/askstatement N text``, the way the
ask button shows), the coordinators of its group are told privately with the question's
number, and one answers (``/answerquestion Q text``); the answer goes privately to the
asker, in their language. Open questions are listed to coordinators by ``/signatories N``."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.context import Context, UserError
from bot.notices import notify_coordinators, notify_member
from bot.registry import Registry
from bot.types import Command, CommandRef, Lines, Literal, Message, Reply
from handlers.statements import common
from handlers.statements.common import NotSigner
from storage.statement_records import QUESTION_MAX

log = logging.getLogger(__name__)


def register(registry: Registry) -> None:
    registry.command("askstatement", ask_command, help_key="help.askstatement")
    registry.command("answerquestion", answer_command, help_key="help.answerquestion")


def question_text(command: Command, usage: str) -> str:
    """The text after the number, kept as typed; refused when empty or too long."""
    text = command.argument_text.strip().partition(" ")[2].strip()
    if not text:
        raise UserError(usage, command=CommandRef(command.name))
    if len(text) > QUESTION_MAX:
        raise UserError("statements.question.too_long", limit=QUESTION_MAX)
    return text


def ask_command(context: Context, command: Command) -> Sequence[Reply]:
    """``/askstatement N text``: by a member who may answer the statement or is of an
    organization that may (or a coordinator of its group), while it is open."""
    if not command.args:
        raise UserError("statements.question.usage", command=CommandRef("askstatement"))
    record = common.find(context, command.args[0])
    text = question_text(command, "statements.question.usage")
    if not common.is_open(record, context.store.now()):
        raise UserError("statements.closed", number=record.id)
    signing = common.signing_of(context.store, record, context.member.id)
    if signing.refused is NotSigner.NOT_MEMBER and not common.coordinates(context, record):
        raise UserError("statements.sign.not_member", number=record.id)
    question = context.store.statements.ask(record.id, context.member.id, text)
    member = context.member
    who: Message | Literal = (
        Literal(member.display_name)
        if member.display_name
        else Message.of("statements.question.member_number", number=member.id)
    )
    notice = Message.of(
        "statements.question.asked",
        question=question.id,
        number=record.id,
        who=who,
        command=CommandRef("answerquestion"),
    )
    notices = notify_coordinators(
        context.store,
        record.fields.working_group_id,
        Lines((notice, Literal(text))),
        enabled=context.config.enabled_platforms,
    )
    log.info(
        "statement_question_asked statement=%d question=%d member=%d",
        record.id,
        question.id,
        member.id,
    )
    said = Message.of("statements.question.sent", question=question.id, number=record.id)
    return [Reply(said, confidential=context.origin.is_direct), *notices]


def answer_command(context: Context, command: Command) -> Sequence[Reply]:
    """``/answerquestion Q text``: by a coordinator of the statement's group, once."""
    number = common.statement_number(command.args[0]) if command.args else None
    if number is None:
        raise UserError("statements.question.answer_usage", command=CommandRef("answerquestion"))
    question = context.store.statements.question(number)
    record = context.store.statements.get(question.statement_id) if question else None
    if question is None or record is None:
        raise UserError("statements.question.no_such_question", question=number)
    if not common.coordinates(context, record):
        raise UserError("statements.not_yours", number=record.id)
    text = question_text(command, "statements.question.answer_usage")
    answered = context.store.statements.reply_to_question(question.id, context.member.id, text)
    if answered is None:
        raise UserError("statements.question.already_answered", question=question.id)
    log.info(
        "statement_question_answered statement=%d question=%d member=%d",
        record.id,
        question.id,
        context.member.id,
    )
    replies: list[Reply] = []
    if question.member_id is not None:
        notice = Lines(
            (
                Message.of("statements.question.answered", question=question.id, number=record.id),
                Message.of("statements.question.your_question", text=Literal(question.text)),
                Literal(text),
            )
        )
        replies.extend(
            notify_member(
                context.store, question.member_id, notice, enabled=context.config.enabled_platforms
            )
        )
    key = "statements.question.answer_sent" if replies else "statements.question.answer_unsent"
    said = Message.of(key, question=question.id)
    return [Reply(said, confidential=context.origin.is_direct), *replies]
