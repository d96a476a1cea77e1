"""Questions about a joint statement: a member asks (the ask button, or
``/askstatement``: a short conversation taking the statement's number when not given, then
the question; ``/askstatement N text`` asks at once), the coordinators of its group are told
privately with the question's number, and one answers (``/answerquestion Q text``); the
answer goes privately to the asker, in their language. Open questions are listed to
coordinators by ``/signatories N``."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from bot.context import Context, UserError
from bot.conversation_steps import Answers, Conversation, InvalidAnswer, Step
from bot.notices import notify_coordinators, notify_member
from bot.registry import Registry
from bot.types import Command, CommandRef, Lines, Literal, Message, ParamValue, Reply
from handlers.statements import common
from handlers.statements.common import NotSigner
from handlers.statements.signing import ASK_CHOICE
from handlers.statements.telling import ask_for_private_chat, privately, reaches
from storage.statement_records import QUESTION_MAX, StatementRecord

log = logging.getLogger(__name__)

STATEMENT = "statement"
QUESTION = "question"


def register(registry: Registry) -> None:
    registry.conversation(
        ASK,
        command="askstatement",
        help_key="help.askstatement",
        prepare=prepare_ask,
        with_arguments=ask_command,
    )
    registry.choice_starts(ASK_CHOICE, "askstatement")
    registry.command("answerquestion", answer_command, help_key="help.answerquestion")


def question_text(command: Command, usage: str) -> str:
    """The text after the number, kept as typed; refused when empty or too long."""
    text = command.argument_text.strip().partition(" ")[2].strip()
    if not text:
        raise UserError(usage, command=CommandRef(command.name))
    if len(text) > QUESTION_MAX:
        raise UserError("statements.question.too_long", limit=QUESTION_MAX)
    return text


def askable(context: Context, text: str) -> StatementRecord:
    """The statement ``text`` names, if the member may ask about it now: they may answer it
    or are of an organization that may (or coordinate its group), and it is open."""
    record = common.find(context, text)
    if not common.is_open(record, context.store.now()):
        raise UserError("statements.closed", number=record.id)
    signing = common.signing_of(context.store, record, context.member.id)
    if signing.refused is NotSigner.NOT_MEMBER and not common.coordinates(context, record):
        raise UserError("statements.sign.not_member", number=record.id)
    return record


def asked(context: Context, record: StatementRecord, text: str) -> list[Reply]:
    """The question recorded, the coordinators told privately, the member told privately
    (never in a group room)."""
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
    return [*privately(context, said), *notices]


def ask_command(context: Context, command: Command) -> Sequence[Reply]:
    """``/askstatement N text``, in any room: asked at once. ``/askstatement N`` alone is
    told to put the question after the number (or to press the statement's ask button)."""
    record = askable(context, command.args[0])
    text = command.argument_text.strip().partition(" ")[2].strip()
    if not text:
        raise UserError(
            "statements.question.number_only", command=CommandRef("askstatement"), number=record.id
        )
    if len(text) > QUESTION_MAX:
        raise UserError("statements.question.too_long", limit=QUESTION_MAX)
    if not reaches(context):
        # Asked in a group room by someone the bot cannot tell privately: nothing recorded
        # unseen (asking again from a private chat would record it twice).
        return ask_for_private_chat(context)
    return asked(context, record, text)


# -- the conversation: the ask button, or /askstatement alone -----------------------------------


def prepare_ask(context: Context, command: Command) -> Mapping[str, Any]:
    """``statementask:N`` pressed (begun as ``/askstatement N``): the statement is known."""
    if not command.args:
        return {}
    return {STATEMENT: askable(context, command.args[0]).id}


def _number(text: str) -> int:
    number = common.statement_number(text)
    if number is None:
        raise InvalidAnswer("statements.question.not_a_number")
    return number


def _question(text: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise InvalidAnswer("statements.question.empty")
    if len(cleaned) > QUESTION_MAX:
        raise InvalidAnswer("statements.question.too_long", limit=QUESTION_MAX)
    return cleaned


def _statement_of(answers: Answers) -> Mapping[str, ParamValue]:
    return {"number": int(answers.get(STATEMENT) or 0)}


def submit_question(context: Context, answers: Answers) -> Sequence[Reply]:
    record = askable(context, str(answers.get(STATEMENT) or ""))
    return asked(context, record, str(answers.get(QUESTION) or ""))


ASK = Conversation(
    name="statementquestion",
    title="statements.question.title",
    steps=(
        Step(
            STATEMENT,
            prompt="statements.question.which",
            label="statements.question.statement_label",
            parse=_number,
        ),
        Step(
            QUESTION,
            prompt="statements.question.ask",
            label="statements.question.question_label",
            parse=_question,
            prompt_params=_statement_of,
        ),
    ),
    submit=submit_question,
    review=False,
)


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
    if not context.origin.is_direct:
        # The question was asked privately: its answer is not said where a room reads it.
        raise UserError(
            "statements.question.answer_private_only",
            question=question.id,
            command=CommandRef("answerquestion"),
        )
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
    return [*privately(context, said), *replies]
