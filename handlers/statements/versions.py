"""Changing a statement's text and translating it. ``/editstatement N``: the new text (typed
or a file), then whether it is a *correction* (signatures stand) or a *change of substance*
(each signer whose signature stood is asked to confirm on the new text; until then its
signature waits and is not counted). ``/translatestatement N``: a language and its text,
attached to the current version (out of date once the original changes again)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from bot.context import Context, UserError
from bot.conversation import Answers, Conversation, Step
from bot.conversation_steps import keyed_choices
from bot.registry import Registry
from bot.types import Choice, Command, CommandRef, Lines, Literal, Message, Reply, Role
from handlers.statements import common, signing, text_input
from storage.statement_records import Change, StatementRecord
from storage.statements import VersionChanged

log = logging.getLogger(__name__)

STATEMENT = "statement"
"""Not a step: the statement's number, given with the command."""
STARTED_FROM = "started_from"
"""Not a step: the number of the version that was current when the coordinator began."""
LANGUAGES_OFFERED = "languages_offered"
"""Not a step: the languages it may be translated into."""
CHANGED_MEANWHILE = {
    "editstatement": "statements.edit.changed_meanwhile",
    "translatestatement": "statements.translate.changed_meanwhile",
}
"""The refusal, by command, when another version came in after the coordinator began."""
CHANGE_KEYS = {
    Change.CORRECTION: "statements.edit.correction",
    Change.SUBSTANCE: "statements.edit.substance",
}


def register(registry: Registry) -> None:
    registry.conversation(
        EDIT, command="editstatement", help_key="help.editstatement", prepare=prepare_edit
    )
    registry.conversation(
        TRANSLATE,
        command="translatestatement",
        help_key="help.translatestatement",
        prepare=prepare_translation,
    )


def _numbered(context: Context, command: Command, usage: str) -> StatementRecord:
    if len(command.args) != 1:
        raise UserError(usage, command=CommandRef(command.name), list=CommandRef("statements"))
    return common.find_coordinated(context, command.args[0], open_now=True)


def _statement(context: Context, answers: Answers, command: str) -> StatementRecord:
    """The statement again, as it is now: still the member's, still open, and still at the
    version the coordinator began from. A correction or a translation of an older text is
    never filed under a newer one: when another coordinator's version came in meanwhile,
    it is refused, naming the version to start ``command`` again from."""
    record = common.find_coordinated(context, str(answers[STATEMENT]), open_now=True)
    if record.current.number != int(answers[STARTED_FROM]):
        raise _changed_meanwhile(command, record.id, record.current.number)
    return record


def _changed_meanwhile(command: str, statement_id: int, current: int) -> UserError:
    return UserError(
        CHANGED_MEANWHILE[command],
        number=statement_id,
        version=current,
        command=CommandRef(command),
        cancel=CommandRef("cancel"),
    )


# -- /editstatement N -------------------------------------------------------------------------


def prepare_edit(context: Context, command: Command) -> Mapping[str, Any]:
    record = _numbered(context, command, "statements.edit.usage")
    return {STATEMENT: record.id, STARTED_FROM: record.current.number}


def submit_edit(context: Context, answers: Answers) -> Sequence[Reply]:
    """A new version; after a change of substance, the signers whose signature stood, or
    still waits from an earlier change, are asked to confirm on the new text, and the rooms'
    count drops to the signatures that still stand."""
    record = _statement(context, answers, "editstatement")
    text, file = text_input.text_of(context, answers)
    current = record.current
    same_file = (file.data if file else None) == (current.file.data if current.file else None)
    if text == current.text and same_file:
        raise UserError("statements.edit.unchanged", number=record.id)
    change = Change(str(answers["change"]))
    signed = [
        signature.signer
        for signature in context.store.statements.signatures(record.id)
        if signature.stands or signature.waiting
    ]
    try:
        revised = context.store.statements.revise(
            record.id, text, file, change, context.member.id, expected_version=current.number
        )
    except VersionChanged as changed:
        raise _changed_meanwhile("editstatement", record.id, changed.current) from None
    if revised is None:
        raise UserError("statements.closed", number=record.id)
    version = revised.current.number
    context.store.audit.record(
        "statement.revised",
        context.member.id,
        working_group_id=revised.fields.working_group_id,
        detail={"statement": revised.id, "version": version, "change": change.value},
    )
    log.info(
        "statement_revised statement=%d version=%d change=%s member=%d",
        revised.id,
        version,
        change.value,
        context.member.id,
    )
    lines: list[Message | Literal] = [
        Message.of(
            "statements.edit.done",
            number=revised.id,
            version=version,
            change=Message.of(CHANGE_KEYS[change]),
        )
    ]
    out_of_date = [
        translation.language
        for translation in context.store.statements.translations(revised.id)
        if not translation.current
    ]
    if out_of_date:
        lines.append(
            Message.of(
                "statements.edit.translations_out_of_date",
                translate=CommandRef("translatestatement"),
                number=revised.id,
            )
        )
        lines.extend(Message.of("language.native_name@" + code) for code in out_of_date)
    if change is not Change.SUBSTANCE:
        return [Reply(Lines(tuple(lines)))]
    lines.append(Message.counted("statements.edit.asked", len(signed)))
    return [
        Reply(Lines(tuple(lines))),
        *signing.ask_to_confirm(context, revised, signed),
        *signing.count_edits(context, revised),
    ]


EDIT = Conversation(
    name="editstatement",
    title="statements.edit.title",
    steps=(
        *text_input.text_steps("statements.edit.ask_text", "statements.edit.field_text", "change"),
        Step(
            "change",
            "statements.edit.ask_change",
            "statements.edit.field_change",
            choices=keyed_choices(CHANGE_KEYS),
            hint="statements.edit.change_hint",
        ),
    ),
    submit=submit_edit,
    role=Role.COORDINATOR,
)


# -- /translatestatement N --------------------------------------------------------------------


def prepare_translation(context: Context, command: Command) -> Mapping[str, Any]:
    record = _numbered(context, command, "statements.translate.usage")
    others = [code for code in context.languages if code != record.fields.language]
    if not others:
        raise UserError("statements.translate.no_languages")
    return {STATEMENT: record.id, STARTED_FROM: record.current.number, LANGUAGES_OFFERED: others}


def _offered_languages(answers: Answers) -> tuple[Choice, ...]:
    return tuple(
        Choice(code, Message.of("language.native_name@" + code))
        for code in answers.get(LANGUAGES_OFFERED, [])
    )


def submit_translation(context: Context, answers: Answers) -> Sequence[Reply]:
    record = _statement(context, answers, "translatestatement")
    language = str(answers["language"])
    if language == record.fields.language or language not in context.languages:
        raise UserError("statements.translate.same_language", number=record.id)
    text, file = text_input.text_of(context, answers)
    try:
        translation = context.store.statements.translate(
            record.id,
            language,
            text,
            file,
            context.member.id,
            expected_version=record.current.number,
        )
    except VersionChanged as changed:
        raise _changed_meanwhile("translatestatement", record.id, changed.current) from None
    if translation is None:
        raise UserError("statements.closed", number=record.id)
    context.store.audit.record(
        "statement.translated",
        context.member.id,
        working_group_id=record.fields.working_group_id,
        detail={
            "statement": record.id,
            "language": language,
            "version": translation.version_number,
        },
    )
    log.info(
        "statement_translated statement=%d language=%s version=%d member=%d",
        record.id,
        language,
        translation.version_number,
        context.member.id,
    )
    return [
        Reply(
            Message.of(
                "statements.translate.done",
                number=record.id,
                language=Message.of("language.native_name@" + language),
                version=translation.version_number,
                show=CommandRef("statement"),
            )
        )
    ]


TRANSLATE = Conversation(
    name="translatestatement",
    title="statements.translate.title",
    steps=(
        Step(
            "language",
            "statements.translate.ask_language",
            "statements.translate.field_language",
            choices=_offered_languages,
        ),
        *text_input.text_steps(
            "statements.translate.ask_text", "statements.translate.field_text", None
        ),
    ),
    submit=submit_translation,
    role=Role.COORDINATOR,
)
