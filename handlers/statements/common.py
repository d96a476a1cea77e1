"""What every part of joint statements shares: numbers and keys, who may sign for whom, the
text a member reads in their language, the rooms, and the work scheduled for a statement."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.config import AppConfig
from bot.context import Context, HandlerStore, UserError, room_language
from bot.types import Literal, Media, Message, Origin, Platform, Role
from storage.organizations import Standing
from storage.statement_records import (
    StatementFile,
    StatementRecord,
    StatementState,
    WhoSigns,
    member_signer,
    organization_signer,
)

log = logging.getLogger(__name__)

CHOICE = "statement"
"""The prefix of every statement button: ``statement:<action>:<id>[:<hash tag>]``."""
CLOSE = "statement.close"
"""The kind of scheduled work that closes a statement at its deadline."""
CLOSE_LATENESS = timedelta(days=3650)
"""A deadline passed while the bot was down still closes the statement, once, at start."""
REMINDER = "statement.reminder"
"""The kind of scheduled work that reminds organizations that have not answered."""
REMINDER_LATENESS = timedelta(hours=3)
"""A reminder due while the bot was down still goes this late (and only before the deadline)."""
HASH_TAG = 12
"""How many hex digits of a version's hash a button or a list shows."""
TEXT_IN_MESSAGE = 3000
"""A text longer than this goes as a file beside a short message (Telegram's limit is 4,096
units after formatting; Matrix clients fold long messages badly)."""


def close_key(statement_id: int) -> str:
    return f"statement:{statement_id}:close"


def reminder_key(statement_id: int, hours: int) -> str:
    return f"statement:{statement_id}:remind:{hours}"


def count_key(statement_id: int) -> str:
    """The room message that shows the signatures so far, edited as they change."""
    return f"statement:{statement_id}:count"


def hash_tag(text_hash: str) -> str:
    return text_hash[:HASH_TAG]


def statement_number(text: str) -> int | None:
    """``"12"`` or ``"#12"`` as a statement's number."""
    digits = text.strip().removeprefix("#")
    return int(digits) if digits.isascii() and digits.isdigit() and 0 < len(digits) < 10 else None


def find(context: Context, text: str) -> StatementRecord:
    """The statement ``text`` names, or a refusal naming the number."""
    number = statement_number(text)
    if number is None or number == 0:
        raise UserError("statements.no_such_statement", number=text[:12])
    record = context.store.statements.get(number)
    if record is None:
        raise UserError("statements.no_such_statement", number=number)
    return record


def coordinates(context: Context, record: StatementRecord) -> bool:
    """Whether the member coordinates the statement's working group (or the network)."""
    return context.role_in(record.fields.working_group_id).includes(Role.COORDINATOR)


def is_open(record: StatementRecord, now: datetime) -> bool:
    return record.state is StatementState.OPEN and now <= record.fields.deadline


def statement_rooms(record: StatementRecord) -> list[Origin]:
    """Where the statement is announced, as addresses for replies."""
    return [
        Origin(platform=Platform(platform), room_id=room_id, user_id="", is_direct=False)
        for platform, room_id in record.fields.rooms
    ]


class Telling(Protocol):
    """What statements' handlers need of a request's or the scheduler's context."""

    @property
    def store(self) -> HandlerStore: ...

    @property
    def config(self) -> AppConfig: ...


def group_language(context: Telling, record: StatementRecord) -> str:
    """The language the statement's rooms read: its group's first, else the configuration's."""
    return room_language(context.store.groups.get(record.fields.working_group_id), context.config)


# -- who signs for whom -----------------------------------------------------------------------


class NotSigner(StrEnum):
    """Why a member may not answer a statement (each has ``statements.sign.<value>``)."""

    NOT_MEMBER = "not_member"  # not a member of the group (or of the network)
    NOT_SIGNATORY = "not_signatory"  # their organization signs through its signatories
    NO_ORGANIZATION = "no_organization"  # individuals may not sign this one


@dataclass(frozen=True, slots=True)
class Signing:
    """What a member may do on a statement: answer for ``signer``, or not, and why."""

    signer: str | None
    organization_id: int | None = None
    refused: NotSigner | None = None


def _in_scope(store: HandlerStore, record: StatementRecord, member_id: int) -> bool:
    roles = store.groups.roles_of(member_id)
    if record.fields.who_signs is WhoSigns.GROUP:
        return record.fields.working_group_id in roles.by_group
    return bool(roles.by_group) or roles.network is not None


def signing_of(store: HandlerStore, record: StatementRecord, member_id: int) -> Signing:
    """For whom ``member_id`` answers ``record``: their organization when they are one of
    its signatories, themselves when the statement admits individuals and they belong to no
    organization; never for an organization whose signatory they are not."""
    if not _in_scope(store, record, member_id):
        return Signing(None, refused=NotSigner.NOT_MEMBER)
    affiliation = store.organizations.affiliation_of(member_id)
    if affiliation is not None and affiliation.standing is Standing.CONFIRMED:
        organization_id = affiliation.organization.id
        if affiliation.signatory:
            return Signing(organization_signer(organization_id), organization_id)
        return Signing(None, organization_id, NotSigner.NOT_SIGNATORY)
    if record.fields.individuals:
        return Signing(member_signer(member_id))
    return Signing(None, refused=NotSigner.NO_ORGANIZATION)


def eligible_signers(store: HandlerStore, record: StatementRecord) -> dict[str, list[int]]:
    """Every signer that may answer ``record`` now, with the members who answer for it:
    each organization with a signatory in scope, and (when admitted) each member in scope
    who belongs to no organization. Whom a statement is announced and reminded to.

    A few queries whatever the network's size (``bench/statements.py``): the rosters, the
    signatories and the confirmed members, each read once; only a network-wide statement's
    signatory who is in no group is asked about their roles."""
    members = set(_members_in_scope(store, record))
    network_wide = record.fields.who_signs is WhoSigns.NETWORK

    def answers(member_id: int) -> bool:
        return member_id in members or (network_wide and _in_scope(store, record, member_id))

    signers: dict[str, list[int]] = {}
    for organization_id, signatories in store.organizations.signatories_by_organization().items():
        answering = [m for m in signatories if answers(m)]
        if answering:
            signers[organization_signer(organization_id)] = answering
    if record.fields.individuals:
        affiliated = store.organizations.confirmed_members()
        for member_id in sorted(members - affiliated):
            signers[member_signer(member_id)] = [member_id]
    return signers


def _members_in_scope(store: HandlerStore, record: StatementRecord) -> list[int]:
    page_size = 500
    group_ids = (
        [record.fields.working_group_id]
        if record.fields.who_signs is WhoSigns.GROUP
        else [group.id for group in store.groups.all()]
    )
    found: set[int] = set()
    for group_id in group_ids:
        offset = 0
        while True:
            page = store.roster.members_of(group_id, offset=offset, limit=page_size)
            found.update(entry.member_id for entry in page.entries)
            offset += page_size
            if offset >= page.total or not page.entries:
                break
    return sorted(found)


# -- the text a member reads ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reading:
    """The text a member is given: a current translation into their language, else the
    original (and then ``original_instead`` says so when they read another language)."""

    text: str
    file: StatementFile | None
    language: str
    original_instead: bool
    """They read the original because no current translation into their language exists."""
    out_of_date: bool
    """A translation into their language exists but translates an earlier version."""


def reading(store: HandlerStore, record: StatementRecord, language: str) -> Reading:
    original = record.current
    if language == record.fields.language:
        return Reading(original.text, original.file, language, False, False)
    for translation in store.statements.translations(record.id):
        if translation.language != language:
            continue
        if translation.current:
            return Reading(translation.text, translation.file, language, False, False)
        return Reading(original.text, original.file, record.fields.language, True, True)
    return Reading(original.text, original.file, record.fields.language, True, False)


def as_media(file: StatementFile) -> Media:
    return Media(filename=file.filename, content_type=file.content_type, data=file.data)


def text_as_file(record: StatementRecord, text: str, language: str) -> Media:
    """A text too long for a message, as a Markdown file named for the statement."""
    name = f"statement-{record.id}-v{record.current.number}-{language}.md"
    return Media(filename=name, content_type="text/markdown", data=text.encode("utf-8"))


# -- scheduled work ---------------------------------------------------------------------------


def schedule_work(store: HandlerStore, record: StatementRecord) -> None:
    """The statement's closing at its deadline and its reminders before it (those still
    ahead); scheduling again (a moved deadline) replaces them."""
    now = store.now()
    deadline = record.fields.deadline
    target = {"statement": record.id}
    store.scheduled.cancel_prefix(f"statement:{record.id}:remind:")
    store.scheduled.schedule(close_key(record.id), CLOSE, deadline, target)
    for hours in record.fields.remind_hours_before:
        due = deadline - timedelta(hours=hours)
        if due > now:
            store.scheduled.schedule(
                reminder_key(record.id, hours), REMINDER, due, {**target, "hours": hours}
            )


# -- who reads a statement --------------------------------------------------------------------


def may_read(context: Context, record: StatementRecord) -> bool:
    """Members of its group, holders of a network role, and for a statement the whole
    network signs, every member of any group: whoever may be asked to sign it reads it."""
    if context.role_in(None) is not Role.MEMBER or coordinates(context, record):
        return True
    if not context.origin.is_direct:
        group = context.working_group
        return group is not None and group.id == record.fields.working_group_id
    return _in_scope(context.store, record, context.member.id)


def find_readable(context: Context, text: str) -> StatementRecord:
    """The statement ``text`` names if the member may read it; the same refusal as an
    unknown number otherwise (a number tells nothing of another group's statements)."""
    record = find(context, text)
    if not may_read(context, record):
        raise UserError("statements.no_such_statement", number=record.id)
    return record


def find_coordinated(context: Context, text: str, *, open_now: bool) -> StatementRecord:
    """The statement ``text`` names, if the member coordinates its group (and, with
    ``open_now``, it still takes signatures)."""
    record = find_readable(context, text)
    if not coordinates(context, record):
        raise UserError("statements.not_yours", number=record.id)
    if open_now and not is_open(record, context.store.now()):
        raise UserError("statements.closed", number=record.id)
    return record


def text_body(
    record: StatementRecord,
    text: str,
    file: StatementFile | None,
    language: str,
    attached: Message,
) -> tuple[Message | Literal, tuple[Media, ...]]:
    """A statement's text as one line of a message and what goes beside it: a version's
    own document under its typed summary; a text too long for a message as a file, with
    ``attached`` saying so; else the text itself. One rule for every place that shows it."""
    if file is not None:
        return Literal(text), (as_media(file),)
    if len(text) > TEXT_IN_MESSAGE:
        return attached, (text_as_file(record, text, language),)
    return Literal(text), ()
