"""Signing joint statements: what every part of it shares. The announcement in the group's
rooms and privately to each eligible signer's members, the count of signatures (a room post
edited as it changes), asking organizations to confirm after a change of substance, the
buttons a member answers with, the statement's text as a member is given it, and who cannot
be told privately. Answering (:mod:`handlers.statements.answering`), forwarding
(:mod:`handlers.statements.forwarding`) and reminding (:mod:`handlers.statements.reminders`)
build on it.

A button carries the version's hash tag, so a signature binds the text the member read.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import replace

from bot.moments import moment
from bot.notices import PRIVATE_PLATFORMS, notify_member
from bot.types import Choice, Lines, Literal, Media, Message, ParamValue, Reply, Text
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
from storage.records import MemberRecord
from storage.statement_records import StatementRecord, StatementState, organization_of_signer

log = logging.getLogger(__name__)

SIGN = "sign"
DECLINE = "decline"
CONFIRM = "confirm"
WITHDRAW = "withdraw"
ASK_CHOICE = "statementask"
"""The ask button, ``statementask:N``: begins ``/askstatement`` for statement N."""
FORWARD = "forward"


# -- buttons ----------------------------------------------------------------------------------


def button_value(action: str, record: StatementRecord, *, tagged: bool = True) -> str:
    """``statement:<action>:<id>[:<hash tag>]``: the tag of the version the member is shown."""
    value = f"{common.CHOICE}:{action}:{record.id}"
    return f"{value}:{hash_tag(record.current.text_hash)}" if tagged else value


def answer_buttons(record: StatementRecord) -> tuple[Choice, ...]:
    return (
        Choice(button_value(SIGN, record), Message.of("statements.sign.button_sign")),
        Choice(button_value(DECLINE, record), Message.of("statements.sign.button_decline")),
        Choice(f"{ASK_CHOICE}:{record.id}", Message.of("statements.sign.button_ask")),
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
    attached = Message.of("statements.sign.text_attached")
    body, media = common.text_body(record, read.text, read.file, read.language, attached)
    lines.append(body)
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


def private_request(
    context: Telling,
    record: StatementRecord,
    member_id: int,
    key: str,
    choices: tuple[Choice, ...],
    **params: ParamValue,
) -> list[Reply]:
    """The statement privately to one member under the headline ``key`` (its number, the
    deadline as they read it as ``when``, and ``params``), with ``choices``."""
    member = context.store.members.get(member_id)
    if member is None:
        return []
    when = deadline_shown(record, member)
    headline = Message.of(key, number=record.id, when=when, **params)
    return private_text(context, record, member_id, headline, choices)


def deadline_shown(record: StatementRecord, member: MemberRecord) -> Literal:
    """The deadline as one member reads it: in their language and their own time zone
    (else the statement's)."""
    zone = member.time_zone or record.fields.time_zone
    return Literal(moment(record.fields.deadline, member.language, zone))


def unreachable(context: Telling, record: StatementRecord) -> list[int]:
    """The members who answer for an eligible signer but cannot be told privately: none of
    their accounts on an enabled platform has written to the bot in a private chat, so
    :func:`announce` reaches them only through the rooms."""
    enabled = context.config.enabled_platforms
    members = sorted({m for ms in eligible_signers(context.store, record).values() for m in ms})
    return [
        member_id
        for member_id in members
        if not any(
            contact.platform in PRIVATE_PLATFORMS and contact.platform in enabled
            for contact in context.store.members.direct_contacts_of(member_id)
        )
    ]


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
        when=Literal(moment(record.fields.deadline, language, record.fields.time_zone)),
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
        key = "statements.announce.private"
        replies.extend(private_request(context, record, member_id, key, buttons))
    log.info("statement_announced statement=%d members=%d", record.id, len(members))
    return replies


def ask_to_confirm(
    context: Telling, record: StatementRecord, signers: Collection[str]
) -> list[Reply]:
    """After a change of substance: each of ``signers`` (whose signature was standing and
    now waits) asked privately, through the members who answer for it, to confirm on the
    new text or withdraw. A member's own signature is asked of that member even when they
    have joined an organization since (they confirm it as they would withdraw it), and is
    not called their organization's."""
    answering = eligible_signers(context.store, record)
    buttons = confirm_buttons(record)
    replies: list[Reply] = []
    for signer in signers:
        organization = organization_of_signer(signer)
        key = (
            "statements.confirm.asked"
            if organization is not None
            else "statements.confirm.asked_own"
        )
        for member_id in answering.get(signer) or own_member(context, record, signer):
            replies.extend(
                private_request(
                    context, record, member_id, key, buttons, version=record.current.number
                )
            )
    log.info("statement_confirm_asked statement=%d signers=%d", record.id, len(signers))
    return replies


def own_member(context: Telling, record: StatementRecord, signer: str) -> list[int]:
    """The member whose own signature ``signer`` is, while they are in the statement's
    scope (they may confirm it even after joining an organization)."""
    kind, _, number = signer.partition(":")
    if kind != "member" or not number.isdigit():
        return []
    member_id = int(number)
    signing = common.signing_of(context.store, record, member_id)
    return [] if signing.refused is common.NotSigner.NOT_MEMBER else [member_id]
