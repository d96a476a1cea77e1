"""What the store hands out and takes in for joint statements (:mod:`storage.statements`):
frozen values and enums, no SQLAlchemy.

A statement's text changes by versions. Each version has a number (1, 2, ...), a hash of
its text and document (``text_hash``, :func:`version_hash`) and an *edition*: the number of
the latest version that changed the text in substance. A correction keeps the edition; a
change of substance starts a new one. A signature is given for one version (its number and
hash) and *stands* while that version's edition is the statement's current edition: a
correction leaves signatures standing, a change of substance leaves them waiting until
their organization signs again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

TITLE_MAX = 200
TEXT_MAX = 100_000
"""A statement's (or a translation's) text, in characters: a long joint letter is 20,000."""
FILE_MAX = 10 * 1024 * 1024
"""A document kept with a version (PDF, Word, OpenDocument), in bytes."""
FILENAME_MAX = 255
CONTENT_TYPE_MAX = 127
LANGUAGE_MAX = 16
TIME_ZONE_MAX = 64
URL_MAX = 2000
QUESTION_MAX = 2000
REMINDERS_MAX = 5


class StatementState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class WhoSigns(StrEnum):
    """Whose organizations may sign: those of the statement's working group, or any
    member organization of the network."""

    GROUP = "group"
    NETWORK = "network"


class ListOrder(StrEnum):
    """How the signatory list is sorted for publication."""

    ALPHABETICAL = "alphabetical"
    COUNTRY = "country"


class Change(StrEnum):
    """What a version did to the text."""

    ORIGINAL = "original"
    CORRECTION = "correction"
    SUBSTANCE = "substance"


class Answer(StrEnum):
    """A signer's current answer to a statement."""

    SIGNED = "signed"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class AnswerOutcome(StrEnum):
    """What :meth:`storage.statements.StatementStore.answer` did."""

    SIGNED = "signed"  # a first signature, or signing again after a decline or withdrawal
    CONFIRMED = "confirmed"  # signed again on the current edition after a change of substance
    ALREADY = "already"  # the signature stands already: nothing changed
    DECLINED = "declined"  # declined, where nothing was signed
    ALREADY_DECLINED = "already_declined"
    ALREADY_SIGNED = "already_signed"  # a decline over a signature: nothing changed
    WITHDRAWN = "withdrawn"  # a signature (standing or waiting) was withdrawn
    NOT_SIGNED = "not_signed"  # nothing to withdraw
    STALE = "stale"  # given for a text that is no longer the current version's
    CLOSED = "closed"  # the statement is closed, or the answer came after its deadline


def version_hash(text: str, data: bytes | None) -> str:
    """What a signature is given for, in hex: the SHA-256 of the text (UTF-8) alone, or with
    a document, of the text, a NUL byte and the hex SHA-256 of the document's bytes (so that
    a new document under the same summary is a new text to sign, and the value can be
    checked with ``sha256sum``)."""
    hashed = text.encode("utf-8")
    if data is not None:
        hashed += b"\0" + hashlib.sha256(data).hexdigest().encode("ascii")
    return hashlib.sha256(hashed).hexdigest()


def organization_signer(organization_id: int) -> str:
    return f"organization:{organization_id}"


def member_signer(member_id: int) -> str:
    """An individual advocate's own signature (when the statement admits them)."""
    return f"member:{member_id}"


def organization_of_signer(signer: str) -> int | None:
    kind, _, number = signer.partition(":")
    return int(number) if kind == "organization" and number.isdigit() else None


@dataclass(frozen=True, slots=True)
class StatementFile:
    """A document kept with a version or a translation (the text is then its summary or
    its plain text, as the coordinator gave it)."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class StatementFields:
    """What a coordinator sets on a statement."""

    working_group_id: int
    title: str
    language: str
    """The language of the original text (a code of the configuration's languages)."""
    deadline: datetime
    """Aware; stored and handed out in UTC."""
    who_signs: WhoSigns
    individuals: bool
    """Whether individual advocates may sign in their own name."""
    list_order: ListOrder
    rooms: tuple[tuple[str, str], ...]
    """``(platform, room_id)`` where it is announced: the group's linked rooms."""
    time_zone: str
    """The zone its deadline is shown in."""
    remind_hours_before: tuple[int, ...] = (72, 24)
    """When organizations that have not answered are reminded, in hours before the deadline."""


@dataclass(frozen=True, slots=True)
class StatementVersion:
    statement_id: int
    number: int
    text: str
    text_hash: str
    change: Change
    edition: int
    """The number of the latest version (this one or an earlier) that changed the
    substance: signatures given for a version of this edition stand."""
    file: StatementFile | None
    created_at: datetime
    created_by: int | None


@dataclass(frozen=True, slots=True)
class StatementRecord:
    id: int
    fields: StatementFields
    state: StatementState
    current: StatementVersion
    created_by: int | None
    created_at: datetime
    closed_at: datetime | None
    published_url: str | None


@dataclass(frozen=True, slots=True)
class TranslationRecord:
    """A language's latest translation, attached to the version it translates."""

    statement_id: int
    language: str
    text: str
    file: StatementFile | None
    version_number: int
    """The version it translates."""
    current: bool
    """It translates the statement's current version; otherwise it is out of date."""
    created_at: datetime
    created_by: int | None


@dataclass(frozen=True, slots=True)
class SignatureRecord:
    """A signer's current answer. ``member_id`` is who gave it (``None`` once that member
    erased their data: an organization's signature still stands, as the organization's)."""

    statement_id: int
    signer: str
    organization_id: int | None
    member_id: int | None
    answer: Answer
    version_number: int
    text_hash: str
    answered_at: datetime
    stands: bool
    """Signed, for a version of the current edition: counted and published."""
    withdrawn_by: int | None = None
    withdrawn_at: datetime | None = None

    @property
    def waiting(self) -> bool:
        """Signed for an earlier edition: shown apart, not counted until confirmed."""
        return self.answer is Answer.SIGNED and not self.stands


@dataclass(frozen=True, slots=True)
class SignatureEvent:
    """One answer as it was given, in order: the history of who signed, declined,
    confirmed and withdrew, and when."""

    statement_id: int
    signer: str
    member_id: int | None
    answer: Answer
    version_number: int
    at: datetime


@dataclass(frozen=True, slots=True)
class QuestionRecord:
    id: int
    statement_id: int
    member_id: int | None
    text: str
    asked_at: datetime
    answer: str | None = None
    answered_by: int | None = None
    answered_at: datetime | None = None
