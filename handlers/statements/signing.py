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
from collections.abc import Collection, Sequence
from dataclasses import replace

from bot.context import Context, UserError
from bot.moments import moment
from bot.notices import PRIVATE_PLATFORMS, notify_member
from bot.registry import NoLongerUseful, Registry
from bot.types import (
    Choice,
    ChoicePicked,
    Command,
    CommandRef,
    Lines,
    Literal,
    Media,
    Message,
    Reply,
    Text,
)
from handlers.statements import common
from handlers.statements.common import (
    NotSigner,
    Signing,
    Telling,
    count_key,
    eligible_signers,
    group_language,
    hash_tag,
    reading,
    statement_rooms,
)
from storage.scheduled import ScheduledRecord
from storage.statement_records import Answer, AnswerOutcome, StatementRecord, StatementState

log = logging.getLogger(__name__)

SIGN = "sign"
DECLINE = "decline"
CONFIRM = "confirm"
WITHDRAW = "withdraw"
ASK = "ask"
FORWARD = "forward"


def register(registry: Registry) -> None:
    registry.choice(common.CHOICE, picked)
    registry.command("sign", sign_command, help_key="help.sign")
    registry.command("decline", decline_command, help_key="help.decline")
    registry.command("withdrawsignature", withdraw_command, help_key="help.withdrawsignature")
    registry.scheduled(common.REMINDER, remind_due, lateness=common.REMINDER_LATENESS)


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


# -- answering --------------------------------------------------------------------------------


def privately(context: Context, text: Text, choices: tuple[Choice, ...] = ()) -> list[Reply]:
    """``text`` for the member's eyes only: here when this is a private chat, else as a
    notice to their private chats (a press or a command in a group room)."""
    if context.origin.is_direct:
        return [Reply(text, choices=choices, confidential=True)]
    notices = notify_member(
        context.store, context.member.id, text, enabled=context.config.enabled_platforms
    )
    return [replace(notice, choices=choices) for notice in notices]


REFUSALS = {
    NotSigner.NOT_MEMBER: "statements.sign.not_member",
    NotSigner.NOT_SIGNATORY: "statements.sign.not_signatory",
    NotSigner.NO_ORGANIZATION: "statements.sign.no_organization",
}


def refused(context: Context, record: StatementRecord, signing: Signing) -> list[Reply]:
    """Why the member may not answer; a member of an organization who is not its signatory
    is offered to forward the request to its signatories."""
    reason = signing.refused or NotSigner.NOT_MEMBER
    log.info(
        "statement_answer_refused statement=%d member=%d reason=%s",
        record.id,
        context.member.id,
        reason,
    )
    text = Message.of(REFUSALS[reason], number=record.id)
    if reason is NotSigner.NOT_SIGNATORY:
        forward = Choice(
            button_value(FORWARD, record, tagged=False), Message.of("statements.forward.button")
        )
        return privately(context, text, (forward,))
    return privately(context, text)


def version_of_tag(context: Context, record: StatementRecord, tag: str | None) -> str | None:
    """The full hash of the version whose tag a button or command carries, if any."""
    if tag is None:
        return None
    for version in context.store.statements.versions(record.id):
        if hash_tag(version.text_hash) == tag.lower():
            return version.text_hash
    return None


def offer_current(context: Context, record: StatementRecord, headline: Message) -> list[Reply]:
    """The current text, privately, with the buttons that answer it."""
    text, media = text_for(context, record, context.member.language, headline)
    return [
        replace(reply, media=media) for reply in privately(context, text, answer_buttons(record))
    ]


def answer(
    context: Context, record: StatementRecord, given: Answer, tag: str | None
) -> list[Reply]:
    """Record the member's answer for whomever they may answer for now (checked against the
    store, never taken from the button), and edit the rooms' count when it changed."""
    now = context.store.now()
    if not common.is_open(record, now):
        return privately(context, Message.of("statements.sign.closed", number=record.id))
    signing = common.signing_of(context.store, record, context.member.id)
    if signing.signer is None:
        return refused(context, record, signing)
    text_hash = version_of_tag(context, record, tag)
    if given is Answer.SIGNED and text_hash is None:
        return stale(context, record)
    before = standing_counts(context, record)
    outcome = context.store.statements.answer(
        record.id,
        signer=signing.signer,
        member_id=context.member.id,
        answer=given,
        text_hash=text_hash or record.current.text_hash,
        now=now,
    )
    log.info(
        "statement_answer statement=%d member=%d outcome=%s",
        record.id,
        context.member.id,
        outcome,
    )
    if outcome is AnswerOutcome.STALE:
        return stale(context, record)
    if outcome is AnswerOutcome.CLOSED:
        return privately(context, Message.of("statements.sign.closed", number=record.id))
    replies = privately(context, said(context, record, signing, outcome))
    if standing_counts(context, record) != before:
        replies.extend(count_edits(context, record))
    return replies


def said(
    context: Context, record: StatementRecord, signing: Signing, outcome: AnswerOutcome
) -> Message:
    """What the member is told their answer did, naming the organization they answered for."""
    organization = (
        context.store.organizations.get(signing.organization_id)
        if signing.organization_id is not None
        else None
    )
    who: Message | Literal = (
        Literal(organization.name)
        if organization is not None
        else Message.of("statements.sign.yourself")
    )
    number = record.id
    version = record.current.number
    if outcome is AnswerOutcome.SIGNED:
        return Message.of("statements.sign.signed", number=number, who=who, version=version)
    if outcome is AnswerOutcome.CONFIRMED:
        return Message.of("statements.sign.confirmed", number=number, who=who, version=version)
    if outcome is AnswerOutcome.ALREADY:
        return Message.of("statements.sign.already", number=number, who=who)
    if outcome is AnswerOutcome.DECLINED:
        return Message.of("statements.sign.declined", number=number, who=who)
    if outcome is AnswerOutcome.ALREADY_DECLINED:
        return Message.of("statements.sign.already_declined", number=number, who=who)
    if outcome is AnswerOutcome.WITHDRAWN:
        return Message.of("statements.sign.withdrawn", number=number, who=who)
    return Message.of("statements.sign.not_signed", number=number, who=who)


def stale(context: Context, record: StatementRecord) -> list[Reply]:
    """A signature for a text that is no longer the current one: refused, the current text
    offered again (with buttons carrying its tag)."""
    log.info("statement_answer_stale statement=%d member=%d", record.id, context.member.id)
    headline = Message.of("statements.sign.stale", number=record.id, version=record.current.number)
    return offer_current(context, record, headline)


def parse_value(payload: str) -> tuple[str, int, str | None] | None:
    """``<action>:<id>[:<hash tag>]`` (what follows ``statement:``)."""
    parts = payload.split(":")
    if len(parts) not in (2, 3) or not parts[1].isascii() or not parts[1].isdigit():
        return None
    if len(parts[1]) > 9 or int(parts[1]) == 0:
        return None
    return parts[0], int(parts[1]), parts[2] if len(parts) == 3 else None


def picked(context: Context, choice: ChoicePicked, payload: str) -> Sequence[Reply]:
    """A statement's button: sign, confirm, decline, withdraw, ask or forward."""
    parsed = parse_value(payload)
    record = context.store.statements.get(parsed[1]) if parsed is not None else None
    if parsed is None or record is None:
        raise UserError("router.choice_expired", help=CommandRef("help"))
    action, _, tag = parsed
    if action in (SIGN, CONFIRM):
        return answer(context, record, Answer.SIGNED, tag)
    if action == DECLINE:
        return answer(context, record, Answer.DECLINED, tag)
    if action == WITHDRAW:
        return answer(context, record, Answer.WITHDRAWN, tag)
    if action == FORWARD:
        return forward(context, record)
    if action == ASK:
        return privately(
            context,
            Message.of(
                "statements.sign.ask_how", number=record.id, command=CommandRef("askstatement")
            ),
        )
    raise UserError("router.choice_expired", help=CommandRef("help"))


def command_statement(context: Context, command: Command, usage: str) -> StatementRecord:
    if not command.args:
        raise UserError(usage, command=CommandRef(command.name))
    return common.find(context, command.args[0])


def sign_command(context: Context, command: Command) -> Sequence[Reply]:
    """``/sign N TAG``: sign the version whose tag the member was shown; ``/sign N``: the
    current text, privately, with its buttons (a signature binds a text the member read)."""
    record = command_statement(context, command, "statements.sign.usage")
    if len(command.args) < 2:
        if not common.is_open(record, context.store.now()):
            return privately(context, Message.of("statements.sign.closed", number=record.id))
        signing = common.signing_of(context.store, record, context.member.id)
        if signing.signer is None:
            return refused(context, record, signing)
        headline = Message.of(
            "statements.sign.offered",
            number=record.id,
            command=CommandRef("sign"),
            tag=hash_tag(record.current.text_hash),
        )
        return offer_current(context, record, headline)
    return answer(context, record, Answer.SIGNED, command.args[1])


def decline_command(context: Context, command: Command) -> Sequence[Reply]:
    record = command_statement(context, command, "statements.sign.decline_usage")
    return answer(context, record, Answer.DECLINED, None)


def withdraw_command(context: Context, command: Command) -> Sequence[Reply]:
    """``/withdrawsignature N``: any of the organization's signatories may withdraw it."""
    record = command_statement(context, command, "statements.sign.withdraw_usage")
    return answer(context, record, Answer.WITHDRAWN, None)


# -- forwarding -------------------------------------------------------------------------------


def forward(context: Context, record: StatementRecord) -> list[Reply]:
    """A member of an organization who is not its signatory asks its signatories to answer:
    once per member and statement, each signatory told privately, with the text and buttons."""
    if not common.is_open(record, context.store.now()):
        return privately(context, Message.of("statements.sign.closed", number=record.id))
    signing = common.signing_of(context.store, record, context.member.id)
    if signing.refused is not NotSigner.NOT_SIGNATORY or signing.organization_id is None:
        return privately(context, Message.of("statements.forward.not_needed", number=record.id))
    if not context.store.statements.note_once(record.id, context.member.id, "forward"):
        return privately(context, Message.of("statements.forward.already", number=record.id))
    member = context.member
    who: Message | Literal = (
        Literal(member.display_name)
        if member.display_name
        else Message.of("statements.forward.member_number", number=member.id)
    )
    headline = Message.of("statements.forward.asked", number=record.id, who=who)
    signatories = context.store.organizations.signatories(signing.organization_id)
    notices: list[Reply] = []
    for member_id in signatories:
        notices.extend(private_text(context, record, member_id, headline, answer_buttons(record)))
    log.info(
        "statement_forwarded statement=%d member=%d signatories=%d",
        record.id,
        member.id,
        len(signatories),
    )
    told = Message.counted("statements.forward.sent", len(signatories), number=record.id)
    return [*privately(context, told), *notices]


# -- reminding --------------------------------------------------------------------------------


def remind_due(context: Telling, row: ScheduledRecord) -> Sequence[Reply]:
    """A ``statement.reminder`` row: each eligible signer that has not answered (a waiting
    signature has not) is reminded privately through its members, once per row."""
    statement_id = row.target.get("statement")
    hours = row.target.get("hours")
    if not isinstance(statement_id, int) or not isinstance(hours, int):
        raise NoLongerUseful("a reminder row without its statement")
    record = context.store.statements.get(statement_id)
    if record is None or not common.is_open(record, context.store.now()):
        raise NoLongerUseful("the statement is closed or past its deadline")
    answered = {
        signature.signer
        for signature in context.store.statements.signatures(record.id)
        if signature.stands or signature.answer is Answer.DECLINED
    }
    replies: list[Reply] = []
    reminded = 0
    for signer, members in eligible_signers(context.store, record).items():
        if signer in answered:
            continue
        reminded += 1
        for member_id in members:
            if not context.store.statements.note_once(record.id, member_id, f"remind:{hours}"):
                continue
            member = context.store.members.get(member_id)
            if member is None:
                continue
            headline = Message.of(
                "statements.remind.headline",
                number=record.id,
                when=deadline_shown(context, record, member.language),
            )
            replies.extend(
                private_text(context, record, member_id, headline, answer_buttons(record))
            )
    log.info("statement_reminded statement=%d signers=%d", record.id, reminded)
    return replies
