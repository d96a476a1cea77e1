"""Signing joint statements: the announcement in the group's rooms and privately to each
eligible signer's members, the count of signatures (a room post edited as it changes),
asking organizations to confirm after a change of substance, the sign / decline / withdraw
buttons and commands, a non-signatory forwarding the request to their organization's
signatories, and the reminders before the deadline.

Every press and command is checked against the store when it arrives
(:func:`handlers.statements.common.signing_of`): a button's value says which statement and
which version the member was shown, never for whom they may answer. A button carries the
version's hash tag, so a signature binds the text the member read; a stale one is refused
and the current text offered again.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import replace

from bot.moments import moment
from bot.notices import notify_member
from bot.registry import Registry
from bot.types import Choice, Lines, Literal, Media, Message, Reply, Text
from handlers.statements import common
from handlers.statements.common import (
    Telling,
    count_key,
    eligible_signers,
    group_language,
    hash_tag,
    reading,
    statement_rooms,
)
from storage.statement_records import StatementRecord, StatementState

log = logging.getLogger(__name__)

SIGN = "sign"
DECLINE = "decline"
CONFIRM = "confirm"
WITHDRAW = "withdraw"
ASK = "ask"
FORWARD = "forward"


def register(registry: Registry) -> None:
    del registry


# -- buttons ----------------------------------------------------------------------------------


def button_value(action: str, record: StatementRecord, *, tagged: bool = True) -> str:
    """``statement:<action>:<id>[:<hash tag>]``: the tag of the version the member is shown."""
    value = f"{common.CHOICE}:{action}:{record.id}"
    return f"{value}:{hash_tag(record.current.text_hash)}" if tagged else value


def answer_buttons(record: StatementRecord) -> tuple[Choice, ...]:
    return (
        Choice(button_value(SIGN, record), Message.of("statements.sign.button_sign")),
        Choice(button_value(DECLINE, record), Message.of("statements.sign.button_decline")),
        Choice(button_value(ASK, record, tagged=False), Message.of("statements.sign.button_ask")),
    )


def confirm_buttons(record: StatementRecord) -> tuple[Choice, ...]:
    return (
        Choice(button_value(CONFIRM, record), Message.of("statements.confirm.button_confirm")),
        Choice(
            button_value(WITHDRAW, record, tagged=False),
            Message.of("statements.confirm.button_withdraw"),
        ),
    )


# -- the count --------------------------------------------------------------------------------


def standing_counts(context: Telling, record: StatementRecord) -> tuple[int, int]:
    """Organizations and individuals whose signature stands (waiting ones are not counted)."""
    organizations = individuals = 0
    for signature in context.store.statements.signatures(record.id):
        if not signature.stands:
            continue
        if signature.organization_id is not None:
            organizations += 1
        else:
            individuals += 1
    return organizations, individuals


def count_text(context: Telling, record: StatementRecord) -> Text:
    """The room's count post: signatures standing so far (or the final figure once closed)."""
    organizations, individuals = standing_counts(context, record)
    key = (
        "statements.announce.count_final"
        if record.state is StatementState.CLOSED
        else "statements.announce.count"
    )
    lines: list[Message | Literal] = [Message.counted(key, organizations, number=record.id)]
    if individuals:
        lines.append(Message.counted("statements.announce.count_individuals", individuals))
    return Lines(tuple(lines))


def count_edits(context: Telling, record: StatementRecord) -> list[Reply]:
    """The count post in each of the statement's rooms, edited to the current figure."""
    language = group_language(context, record)
    text = count_text(context, record)
    key = count_key(record.id)
    return [
        Reply(text, to=room, language=language, edits=key, keeps_choices=True)
        for room in statement_rooms(record)
    ]


# -- the text a member is given ---------------------------------------------------------------


def text_for(
    context: Telling, record: StatementRecord, language: str, headline: Message
) -> tuple[Text, tuple[Media, ...]]:
    """``headline``, then the statement's text in ``language`` (or the original, saying so):
    in the message when it is short, else as a file (or the version's own document)."""
    read = reading(context.store, record, language)
    lines: list[Message | Literal] = [headline, Literal(record.fields.title)]
    if read.original_instead:
        key = (
            "statements.sign.original_instead_out_of_date"
            if read.out_of_date
            else "statements.sign.original_instead"
        )
        lines.append(Message.of(key))
    media: tuple[Media, ...] = ()
    if read.file is not None:
        media = (common.as_media(read.file),)
        lines.append(Literal(read.text))
    elif len(read.text) > common.TEXT_IN_MESSAGE:
        media = (common.text_as_file(record, read.text, read.language),)
        lines.append(Message.of("statements.sign.text_attached"))
    else:
        lines.append(Literal(read.text))
    return Lines(tuple(lines)), media


def private_text(
    context: Telling,
    record: StatementRecord,
    member_id: int,
    headline: Message,
    choices: tuple[Choice, ...],
) -> list[Reply]:
    """The statement's text privately to one member, in their language, with ``choices``."""
    member = context.store.members.get(member_id)
    if member is None:
        return []
    text, media = text_for(context, record, member.language, headline)
    notices = notify_member(
        context.store, member_id, text, enabled=context.config.enabled_platforms
    )
    return [replace(notice, choices=choices, media=media) for notice in notices]


def deadline_shown(context: Telling, record: StatementRecord, language: str) -> Literal:
    return Literal(moment(record.fields.deadline, language, record.fields.time_zone))


# -- opening ----------------------------------------------------------------------------------


def announce(context: Telling, record: StatementRecord) -> list[Reply]:
    """A newly opened statement: in each room its announcement and the count post; privately
    to each member who answers for an eligible signer, the text with sign / decline / ask.
    Members of an organization who are not its signatories are not messaged."""
    language = group_language(context, record)
    announcement = Message.of(
        "statements.announce.room",
        number=record.id,
        title=Literal(record.fields.title),
        when=deadline_shown(context, record, language),
    )
    replies: list[Reply] = []
    for room in statement_rooms(record):
        replies.append(Reply(announcement, to=room, language=language))
        replies.append(
            Reply(
                count_text(context, record), to=room, language=language, post=count_key(record.id)
            )
        )
    buttons = answer_buttons(record)
    members = sorted({m for ms in eligible_signers(context.store, record).values() for m in ms})
    for member_id in members:
        member = context.store.members.get(member_id)
        if member is None:
            continue
        headline = Message.of(
            "statements.announce.private",
            number=record.id,
            when=deadline_shown(context, record, member.language),
        )
        replies.extend(private_text(context, record, member_id, headline, buttons))
    log.info("statement_announced statement=%d members=%d", record.id, len(members))
    return replies


def ask_to_confirm(
    context: Telling, record: StatementRecord, signers: Collection[str]
) -> list[Reply]:
    """After a change of substance: each of ``signers`` (whose signature was standing and
    now waits) asked privately, through the members who answer for it, to confirm on the
    new text or withdraw."""
    answering = eligible_signers(context.store, record)
    buttons = confirm_buttons(record)
    replies: list[Reply] = []
    for signer in signers:
        for member_id in answering.get(signer, []):
            member = context.store.members.get(member_id)
            if member is None:
                continue
            headline = Message.of(
                "statements.confirm.asked",
                number=record.id,
                version=record.current.number,
                when=deadline_shown(context, record, member.language),
            )
            replies.extend(private_text(context, record, member_id, headline, buttons))
    log.info("statement_confirm_asked statement=%d signers=%d", record.id, len(signers))
    return replies
