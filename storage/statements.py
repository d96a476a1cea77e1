"""Joint statements, their versions and translations, signatures and questions
(``store.statements``). The values it hands out are :mod:`storage.statement_records`'.

A statement's text is its latest version. A signer's current answer is one row
(``statement_signatures``), unique per organization and per member signing in their own
name, so two signatories of one organization signing at once leave one signature: an
answer locks its statement's row first (PostgreSQL), or takes SQLite's one write lock, and
the second finds the first's signature; should two still insert at once, the unique key
trips and the unit of work runs again. Every answer that changes something is also kept
as an event (``statement_signature_events``), in order.

Signer keys (``organization:3``, ``member:12``) are not stored: they are made from the
row's organization or member, so that merging two members leaves one signer. An
organization that answered a statement is not removed (``/orgremove`` asks
:meth:`StatementStore.answered_by_organization` first), so the schema's cascade only ever
takes an organization that answered nothing; an erased member's own signature, answers and
questions go, while an organization's signature they gave stays, linked to no one
(:mod:`storage.statement_member_data`, with the rule for merging two members).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

import storage.statement_member_data  # noqa: F401  (registers its data sections and merge rule)
from storage.errors import NotFoundError, StorageError
from storage.models import (
    Statement,
    StatementNotice,
    StatementQuestion,
    StatementSignature,
    StatementSignatureEvent,
    StatementTextVersion,
    StatementTranslation,
)
from storage.statement_records import (
    CONTENT_TYPE_MAX,
    FILE_MAX,
    FILENAME_MAX,
    LANGUAGE_MAX,
    QUESTION_MAX,
    REMINDERS_MAX,
    TEXT_MAX,
    TIME_ZONE_MAX,
    TITLE_MAX,
    URL_MAX,
    Answer,
    AnswerOutcome,
    Change,
    ListOrder,
    QuestionRecord,
    SignatureEvent,
    SignatureRecord,
    StatementFields,
    StatementFile,
    StatementRecord,
    StatementState,
    StatementVersion,
    TranslationRecord,
    WhoSigns,
    member_signer,
    organization_signer,
    version_hash,
)
from storage.units import Area
from storage.upserts import insert_unless_present, upsert
from storage.validation import MAX_ID, check_aware, check_int, check_text

NOTE_MAX = 32
ROOM_MAX = 255


class VersionChanged(StorageError):
    """The statement's current version is no longer the one a revision or a translation
    was made from: another coordinator's version came in between."""

    def __init__(self, statement_id: int, current: int) -> None:
        super().__init__(f"statement {statement_id} is at version {current} now")
        self.current = current


class StatementStore(Area):
    """Joint statements (``store.statements``)."""

    def open(
        self,
        fields: StatementFields,
        text: str,
        file: StatementFile | None,
        created_by: int | None,
    ) -> StatementRecord:
        """A new open statement with its first version (:attr:`Change.ORIGINAL`)."""
        _check_fields(fields)
        _check_statement_text(text, file)
        _check_member("created by", created_by)
        return self._run(_open_in, fields, text, file, created_by, self._now())

    def get(self, statement_id: int) -> StatementRecord | None:
        check_int("statement id", statement_id, minimum=1)
        return self._read(_get_in, statement_id)

    def of_groups(
        self, group_ids: Collection[int] | None, *, closed_since: datetime
    ) -> list[StatementRecord]:
        """The open statements of these groups (``None``: of every group) and those closed
        since ``closed_since``, newest first."""
        check_aware("closed since", closed_since)
        groups = None if group_ids is None else sorted(set(group_ids))
        return self._read(_of_groups_in, groups, closed_since)

    def revise(
        self,
        statement_id: int,
        text: str,
        file: StatementFile | None,
        change: Change,
        by: int | None,
        *,
        expected_version: int,
    ) -> StatementRecord | None:
        """A new version after ``expected_version``, the one the coordinator started from;
        ``None`` when the statement is closed. :class:`VersionChanged` when the current
        version is another by then, so that a correction of an older text never replaces a
        newer one. A text and document both equal to the current ones raise
        :class:`ValueError` (the caller checks first); a new document under the same text is
        a new version."""
        check_int("statement id", statement_id, minimum=1)
        check_int("expected version", expected_version, minimum=1)
        _check_statement_text(text, file)
        if Change(change) is Change.ORIGINAL:
            raise ValueError("a revision is a correction or a change of substance")
        _check_member("by", by)
        return self._run(
            _revise_in,
            statement_id,
            text,
            file,
            Change(change),
            by,
            expected_version,
            self._now(),
        )

    def versions(self, statement_id: int) -> list[StatementVersion]:
        """Every version, oldest first."""
        check_int("statement id", statement_id, minimum=1)
        return self._read(_versions_in, statement_id)

    def translate(
        self,
        statement_id: int,
        language: str,
        text: str,
        file: StatementFile | None,
        by: int | None,
        *,
        expected_version: int,
    ) -> TranslationRecord | None:
        """The language's translation of version ``expected_version``, the one the
        translator started from, replacing its earlier one; ``None`` when the statement is
        closed; :class:`VersionChanged` when that is no longer the current version (a
        translation of an older text is never filed under a newer one). The original's
        language raises :class:`ValueError`."""
        check_int("statement id", statement_id, minimum=1)
        check_int("expected version", expected_version, minimum=1)
        check_text("language", language, LANGUAGE_MAX)
        _check_statement_text(text, file)
        _check_member("by", by)
        return self._run(
            _translate_in, statement_id, language, text, file, by, expected_version, self._now()
        )

    def translations(self, statement_id: int) -> list[TranslationRecord]:
        """Each language's latest translation, by language code."""
        check_int("statement id", statement_id, minimum=1)
        return self._read(_translations_in, statement_id)

    def answer(
        self,
        statement_id: int,
        *,
        signer: str,
        member_id: int,
        answer: Answer,
        text_hash: str,
        now: datetime,
    ) -> AnswerOutcome:
        """Record ``member_id``'s answer for ``signer`` (``organization:N`` or
        ``member:N``), atomically, with an event in the history.

        ``text_hash`` is the version the member was shown: a hash that is not the current
        version's is :attr:`AnswerOutcome.STALE` for a signature (withdrawing or declining
        takes any hash). Declining over a signature, standing or waiting, changes nothing
        (:attr:`AnswerOutcome.ALREADY_SIGNED`): it is taken back by withdrawing. After the
        deadline or the close: :attr:`AnswerOutcome.CLOSED`. Withdrawing records who and
        when."""
        check_int("statement id", statement_id, minimum=1)
        check_int("member id", member_id, minimum=1, maximum=MAX_ID)
        check_aware("now", now)
        check_text("text hash", text_hash, 64, allow_empty=True)
        organization_id = _check_signer(signer, member_id)
        return self._run(
            _answer_in, statement_id, organization_id, member_id, Answer(answer), text_hash, now
        )

    def answered_by_organization(self, organization_id: int) -> list[int]:
        """The numbers of the statements the organization has answered (signed, declined
        or withdrawn from), in order: its answers are part of their record."""
        check_int("organization id", organization_id, minimum=1, maximum=MAX_ID)
        return self._read(_answered_by_organization_in, organization_id)

    def signatures(self, statement_id: int) -> list[SignatureRecord]:
        """Each signer's current answer, in the order they first answered."""
        check_int("statement id", statement_id, minimum=1)
        return self._read(_signatures_in, statement_id)

    def history(self, statement_id: int) -> list[SignatureEvent]:
        """Every answer given, oldest first."""
        check_int("statement id", statement_id, minimum=1)
        return self._read(_history_in, statement_id)

    def ask(self, statement_id: int, member_id: int, text: str) -> QuestionRecord:
        check_int("statement id", statement_id, minimum=1)
        check_int("member id", member_id, minimum=1, maximum=MAX_ID)
        check_text("question", text, QUESTION_MAX)
        return self._run(_ask_in, statement_id, member_id, text, self._now())

    def question(self, question_id: int) -> QuestionRecord | None:
        check_int("question id", question_id, minimum=1)
        return self._read(_question_in, question_id)

    def questions(self, statement_id: int, *, open_only: bool = False) -> list[QuestionRecord]:
        """Oldest first."""
        check_int("statement id", statement_id, minimum=1)
        return self._read(_questions_in, statement_id, open_only)

    def reply_to_question(self, question_id: int, by: int, text: str) -> QuestionRecord | None:
        """Record the coordinators' answer; ``None`` when it was answered already (or
        there is no such question)."""
        check_int("question id", question_id, minimum=1)
        check_int("by", by, minimum=1, maximum=MAX_ID)
        check_text("answer", text, TEXT_MAX)
        return self._run(_reply_in, question_id, by, text, self._now())

    def close(self, statement_id: int) -> StatementRecord | None:
        """Stop signing, once: ``None`` when it was closed already."""
        check_int("statement id", statement_id, minimum=1)
        return self._run(_close_in, statement_id, self._now())

    def publish(self, statement_id: int, url: str) -> StatementRecord | None:
        """Record where the statement was published (a closed statement's; replaces an
        earlier link); ``None`` when it is not closed."""
        check_int("statement id", statement_id, minimum=1)
        check_text("url", url, URL_MAX)
        return self._run(_publish_in, statement_id, url)

    def note_once(self, statement_id: int, member_id: int, what: str) -> bool:
        """True the first time ``what`` (up to 32 characters) is noted for the member on
        this statement: a notice said once (a reminder to a signatory, a refusal)."""
        check_int("statement id", statement_id, minimum=1)
        check_int("member id", member_id, minimum=1, maximum=MAX_ID)
        check_text("what", what, NOTE_MAX)
        return self._run(_note_once_in, statement_id, member_id, what, self._now())


# -- argument checks ------------------------------------------------------------------------


def _check_member(what: str, member_id: int | None) -> None:
    if member_id is not None:
        check_int(what, member_id, minimum=1, maximum=MAX_ID)


def _check_fields(fields: StatementFields) -> None:
    check_int("working group id", fields.working_group_id, minimum=1, maximum=MAX_ID)
    check_text("title", fields.title, TITLE_MAX)
    check_text("language", fields.language, LANGUAGE_MAX)
    check_aware("deadline", fields.deadline)
    WhoSigns(fields.who_signs)
    ListOrder(fields.list_order)
    if not isinstance(fields.individuals, bool):
        raise TypeError("individuals must be a bool")
    check_text("time zone", fields.time_zone, TIME_ZONE_MAX)
    for platform, room in fields.rooms:
        check_text("platform", platform, 16)
        check_text("room", room, ROOM_MAX)
    if len(fields.remind_hours_before) > REMINDERS_MAX:
        raise ValueError(f"at most {REMINDERS_MAX} reminders")
    for hours in fields.remind_hours_before:
        check_int("remind hours before", hours, minimum=1, maximum=24 * 366)


def _check_statement_text(text: str, file: StatementFile | None) -> None:
    check_text("text", text, TEXT_MAX)
    if file is not None:
        check_text("filename", file.filename, FILENAME_MAX)
        check_text("content type", file.content_type, CONTENT_TYPE_MAX)
        if not isinstance(file.data, bytes):
            raise TypeError("a file's data are bytes")
        if len(file.data) > FILE_MAX:
            raise ValueError(f"a file is at most {FILE_MAX} bytes")


def _check_signer(signer: str, member_id: int) -> int | None:
    """The organization ``signer`` names, or None for ``member_id``'s own signature."""
    kind, _, number = signer.partition(":")
    if kind == "organization" and number.isdigit():
        organization_id = check_int("organization id", int(number), minimum=1, maximum=MAX_ID)
        if signer != organization_signer(organization_id):
            raise ValueError(f"signer {signer!r} is not a signer key")
        return organization_id
    if signer != member_signer(member_id):
        raise ValueError(f"signer {signer!r} is neither an organization nor member {member_id}")
    return None


# -- rows and records -----------------------------------------------------------------------


def _fields(row: Statement) -> StatementFields:
    return StatementFields(
        working_group_id=row.working_group_id,
        title=row.title,
        language=row.language,
        deadline=row.deadline,
        who_signs=WhoSigns(row.who_signs),
        individuals=row.individuals,
        list_order=ListOrder(row.list_order),
        rooms=tuple((str(platform), str(room)) for platform, room in json.loads(row.rooms)),
        time_zone=row.time_zone,
        remind_hours_before=tuple(int(hours) for hours in json.loads(row.remind_hours_before)),
    )


def _file(row: StatementTextVersion | StatementTranslation) -> StatementFile | None:
    if row.filename is None or row.data is None:
        return None
    return StatementFile(row.filename, row.content_type or "application/octet-stream", row.data)


def _file_columns(file: StatementFile | None) -> dict[str, Any]:
    if file is None:
        return {"filename": None, "content_type": None, "data": None}
    return {"filename": file.filename, "content_type": file.content_type, "data": file.data}


def _version(row: StatementTextVersion) -> StatementVersion:
    return StatementVersion(
        statement_id=row.statement_id,
        number=row.number,
        text=row.text,
        text_hash=row.text_hash,
        change=Change(row.change),
        edition=row.edition,
        file=_file(row),
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _record(row: Statement, current: StatementTextVersion) -> StatementRecord:
    return StatementRecord(
        id=row.id,
        fields=_fields(row),
        state=StatementState(row.state),
        current=_version(current),
        created_by=row.created_by,
        created_at=row.created_at,
        closed_at=row.closed_at,
        published_url=row.published_url,
    )


def _signer_of(row: StatementSignature | StatementSignatureEvent) -> str:
    if row.signer_kind == "organization" and row.organization_id is not None:
        return organization_signer(row.organization_id)
    if row.signer_kind == "member" and row.member_id is not None:
        return member_signer(row.member_id)
    return f"gone:{row.id}"  # not kept: erasure deletes such rows, removal cascades


def _existing(session: Session, statement_id: int, *, for_update: bool = False) -> Statement:
    query = select(Statement).where(Statement.id == statement_id)
    if for_update:
        # Held until the transaction commits: answers to one statement, its revisions and
        # its closing take turns, so each sees what the one before it wrote.
        query = query.with_for_update()
    row = session.scalars(query).one_or_none()
    if row is None:
        raise NotFoundError(f"no statement with id {statement_id}")
    return row


def _current_version(session: Session, statement_id: int) -> StatementTextVersion:
    return session.scalars(
        select(StatementTextVersion)
        .where(StatementTextVersion.statement_id == statement_id)
        .order_by(StatementTextVersion.number.desc())
        .limit(1)
    ).one()


def _editions(session: Session, statement_id: int) -> dict[int, int]:
    """Each version's edition, by version number."""
    rows = session.execute(
        select(StatementTextVersion.number, StatementTextVersion.edition).where(
            StatementTextVersion.statement_id == statement_id
        )
    )
    return {number: edition for number, edition in rows}


# -- queries --------------------------------------------------------------------------------


def _open_in(
    session: Session,
    fields: StatementFields,
    text: str,
    file: StatementFile | None,
    created_by: int | None,
    now: datetime,
) -> StatementRecord:
    row = Statement(
        working_group_id=fields.working_group_id,
        title=fields.title,
        language=fields.language,
        deadline=fields.deadline,
        who_signs=WhoSigns(fields.who_signs).value,
        individuals=fields.individuals,
        list_order=ListOrder(fields.list_order).value,
        rooms=json.dumps([[str(platform), room] for platform, room in fields.rooms]),
        time_zone=fields.time_zone,
        remind_hours_before=json.dumps(list(fields.remind_hours_before)),
        state=StatementState.OPEN.value,
        created_by=created_by,
        created_at=now,
    )
    session.add(row)
    session.flush()
    version = _add_version(session, row.id, 1, text, file, Change.ORIGINAL, 1, created_by, now)
    return _record(row, version)


def _add_version(
    session: Session,
    statement_id: int,
    number: int,
    text: str,
    file: StatementFile | None,
    change: Change,
    edition: int,
    by: int | None,
    now: datetime,
) -> StatementTextVersion:
    version = StatementTextVersion(
        statement_id=statement_id,
        number=number,
        text=text,
        text_hash=version_hash(text, None if file is None else file.data),
        change=change.value,
        edition=edition,
        created_by=by,
        created_at=now,
        **_file_columns(file),
    )
    session.add(version)
    session.flush()
    return version


def _get_in(session: Session, statement_id: int) -> StatementRecord | None:
    row = session.get(Statement, statement_id)
    return None if row is None else _record(row, _current_version(session, statement_id))


def _of_groups_in(
    session: Session, group_ids: list[int] | None, closed_since: datetime
) -> list[StatementRecord]:
    query = select(Statement).where(
        or_(Statement.state == StatementState.OPEN.value, Statement.closed_at >= closed_since)
    )
    if group_ids is not None:
        if not group_ids:
            return []
        query = query.where(Statement.working_group_id.in_(group_ids))
    rows = session.scalars(query.order_by(Statement.created_at.desc(), Statement.id.desc()))
    return [_record(row, _current_version(session, row.id)) for row in rows]


def _revise_in(
    session: Session,
    statement_id: int,
    text: str,
    file: StatementFile | None,
    change: Change,
    by: int | None,
    expected_version: int,
    now: datetime,
) -> StatementRecord | None:
    row = _existing(session, statement_id, for_update=True)
    if row.state != StatementState.OPEN.value:
        return None
    current = _current_version(session, statement_id)
    if current.number != expected_version:
        raise VersionChanged(statement_id, current.number)
    if version_hash(text, None if file is None else file.data) == current.text_hash:
        raise ValueError(f"statement {statement_id}: the text and document are the current ones")
    number = current.number + 1
    edition = number if change is Change.SUBSTANCE else current.edition
    version = _add_version(session, statement_id, number, text, file, change, edition, by, now)
    return _record(row, version)


def _versions_in(session: Session, statement_id: int) -> list[StatementVersion]:
    rows = session.scalars(
        select(StatementTextVersion)
        .where(StatementTextVersion.statement_id == statement_id)
        .order_by(StatementTextVersion.number)
    )
    return [_version(row) for row in rows]


def _translate_in(
    session: Session,
    statement_id: int,
    language: str,
    text: str,
    file: StatementFile | None,
    by: int | None,
    expected_version: int,
    now: datetime,
) -> TranslationRecord | None:
    row = _existing(session, statement_id, for_update=True)
    if language == row.language:
        raise ValueError(f"statement {statement_id} is written in {language!r}")
    if row.state != StatementState.OPEN.value:
        return None
    current = _current_version(session, statement_id)
    if current.number != expected_version:
        raise VersionChanged(statement_id, current.number)
    values = {
        "statement_id": statement_id,
        "language": language,
        "version_number": current.number,
        "text": text,
        "created_by": by,
        "created_at": now,
        **_file_columns(file),
    }
    upsert(
        session,
        StatementTranslation,
        values,
        ["statement_id", "language"],
        [key for key in values if key not in ("statement_id", "language")],
    )
    return TranslationRecord(
        statement_id=statement_id,
        language=language,
        text=text,
        file=file,
        version_number=current.number,
        current=True,
        created_at=now,
        created_by=by,
    )


def _translations_in(session: Session, statement_id: int) -> list[TranslationRecord]:
    current = _current_version(session, statement_id).number
    rows = session.scalars(
        select(StatementTranslation)
        .where(StatementTranslation.statement_id == statement_id)
        .order_by(StatementTranslation.language)
    )
    return [
        TranslationRecord(
            statement_id=row.statement_id,
            language=row.language,
            text=row.text,
            file=_file(row),
            version_number=row.version_number,
            current=row.version_number == current,
            created_at=row.created_at,
            created_by=row.created_by,
        )
        for row in rows
    ]


def _signature_row(
    session: Session, statement_id: int, organization_id: int | None, member_id: int
) -> StatementSignature | None:
    query = select(StatementSignature).where(StatementSignature.statement_id == statement_id)
    if organization_id is not None:
        query = query.where(StatementSignature.organization_id == organization_id)
    else:
        query = query.where(
            StatementSignature.signer_kind == "member", StatementSignature.member_id == member_id
        )
    return session.scalars(query).one_or_none()


def _answer_in(
    session: Session,
    statement_id: int,
    organization_id: int | None,
    member_id: int,
    answer: Answer,
    given_hash: str,
    now: datetime,
) -> AnswerOutcome:
    statement = _existing(session, statement_id, for_update=True)
    if statement.state != StatementState.OPEN.value or now > statement.deadline:
        return AnswerOutcome.CLOSED
    current = _current_version(session, statement_id)
    signature = _signature_row(session, statement_id, organization_id, member_id)
    signed = signature is not None and signature.answer == Answer.SIGNED.value
    if answer is Answer.SIGNED:
        if given_hash != current.text_hash:
            return AnswerOutcome.STALE
        if signature is not None and signed:
            if _editions(session, statement_id).get(signature.version_number) == current.edition:
                return AnswerOutcome.ALREADY
            outcome = AnswerOutcome.CONFIRMED
        else:
            outcome = AnswerOutcome.SIGNED
        number, hashed = current.number, current.text_hash
    elif answer is Answer.DECLINED:
        if signature is not None and signature.answer == Answer.DECLINED.value:
            return AnswerOutcome.ALREADY_DECLINED
        if signed:
            # Taking a signature back is a withdrawal (who and when are recorded), never a
            # decline pressed over it.
            return AnswerOutcome.ALREADY_SIGNED
        shown = session.scalars(
            select(StatementTextVersion).where(
                StatementTextVersion.statement_id == statement_id,
                StatementTextVersion.text_hash == given_hash,
            )
        ).first()
        shown = shown or current  # declining takes any text: the one they were shown if known
        outcome, number, hashed = AnswerOutcome.DECLINED, shown.number, shown.text_hash
    else:
        if signature is None or not signed:
            return AnswerOutcome.NOT_SIGNED
        # The withdrawn signature keeps the version it was given for.
        outcome, number, hashed = (
            AnswerOutcome.WITHDRAWN,
            signature.version_number,
            signature.text_hash,
        )
    kind = "organization" if organization_id is not None else "member"
    if signature is None:
        signature = StatementSignature(
            statement_id=statement_id,
            signer_kind=kind,
            organization_id=organization_id,
            member_id=member_id,
            first_answered_at=now,
        )
        session.add(signature)
    if answer is Answer.WITHDRAWN:
        signature.withdrawn_by, signature.withdrawn_at = member_id, now
    else:
        # An organization's answer is its latest signatory's.
        signature.member_id = member_id
        signature.withdrawn_by, signature.withdrawn_at = None, None
    signature.answer = answer.value
    signature.version_number, signature.text_hash = number, hashed
    signature.answered_at = now
    session.add(
        StatementSignatureEvent(
            statement_id=statement_id,
            signer_kind=kind,
            organization_id=organization_id,
            member_id=member_id,
            answer=answer.value,
            version_number=number,
            at=now,
        )
    )
    session.flush()
    return outcome


def _answered_by_organization_in(session: Session, organization_id: int) -> list[int]:
    # Every answer leaves the organization's one signature row (an event alone never
    # exists), so the rows say which statements it answered.
    rows = session.scalars(
        select(StatementSignature.statement_id)
        .where(StatementSignature.organization_id == organization_id)
        .distinct()
        .order_by(StatementSignature.statement_id)
    )
    return list(rows)


def _signatures_in(session: Session, statement_id: int) -> list[SignatureRecord]:
    editions = _editions(session, statement_id)
    current_edition = editions[max(editions)]
    rows = session.scalars(
        select(StatementSignature)
        .where(StatementSignature.statement_id == statement_id)
        .order_by(StatementSignature.first_answered_at, StatementSignature.id)
    )
    return [
        SignatureRecord(
            statement_id=row.statement_id,
            signer=_signer_of(row),
            organization_id=row.organization_id,
            member_id=row.member_id,
            answer=Answer(row.answer),
            version_number=row.version_number,
            text_hash=row.text_hash,
            answered_at=row.answered_at,
            stands=row.answer == Answer.SIGNED.value
            and editions.get(row.version_number) == current_edition,
            withdrawn_by=row.withdrawn_by,
            withdrawn_at=row.withdrawn_at,
        )
        for row in rows
    ]


def _history_in(session: Session, statement_id: int) -> list[SignatureEvent]:
    rows = session.scalars(
        select(StatementSignatureEvent)
        .where(StatementSignatureEvent.statement_id == statement_id)
        .order_by(StatementSignatureEvent.at, StatementSignatureEvent.id)
    )
    return [
        SignatureEvent(
            statement_id=row.statement_id,
            signer=_signer_of(row),
            member_id=row.member_id,
            answer=Answer(row.answer),
            version_number=row.version_number,
            at=row.at,
        )
        for row in rows
    ]


def _question(row: StatementQuestion) -> QuestionRecord:
    return QuestionRecord(
        id=row.id,
        statement_id=row.statement_id,
        member_id=row.member_id,
        text=row.text,
        asked_at=row.asked_at,
        answer=row.answer,
        answered_by=row.answered_by,
        answered_at=row.answered_at,
    )


def _ask_in(
    session: Session, statement_id: int, member_id: int, text: str, now: datetime
) -> QuestionRecord:
    _existing(session, statement_id)
    row = StatementQuestion(statement_id=statement_id, member_id=member_id, text=text, asked_at=now)
    session.add(row)
    session.flush()
    return _question(row)


def _question_in(session: Session, question_id: int) -> QuestionRecord | None:
    row = session.get(StatementQuestion, question_id)
    return None if row is None else _question(row)


def _questions_in(session: Session, statement_id: int, open_only: bool) -> list[QuestionRecord]:
    query = select(StatementQuestion).where(StatementQuestion.statement_id == statement_id)
    if open_only:
        query = query.where(StatementQuestion.answer.is_(None))
    rows = session.scalars(query.order_by(StatementQuestion.asked_at, StatementQuestion.id))
    return [_question(row) for row in rows]


def _reply_in(
    session: Session, question_id: int, by: int, text: str, now: datetime
) -> QuestionRecord | None:
    replied = session.execute(
        update(StatementQuestion)
        .where(StatementQuestion.id == question_id, StatementQuestion.answer.is_(None))
        .values(answer=text, answered_by=by, answered_at=now)
        .execution_options(synchronize_session=False)
    )
    if replied.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.expire_all()
    return _question_in(session, question_id)


def _close_in(session: Session, statement_id: int, now: datetime) -> StatementRecord | None:
    closed = session.execute(
        update(Statement)
        .where(Statement.id == statement_id, Statement.state == StatementState.OPEN.value)
        .values(state=StatementState.CLOSED.value, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    if closed.rowcount != 1:  # type: ignore[attr-defined]
        _existing(session, statement_id)
        return None
    session.expire_all()
    return _record(_existing(session, statement_id), _current_version(session, statement_id))


def _publish_in(session: Session, statement_id: int, url: str) -> StatementRecord | None:
    row = _existing(session, statement_id, for_update=True)
    if row.state != StatementState.CLOSED.value:
        return None
    row.published_url = url
    session.flush()
    return _record(row, _current_version(session, statement_id))


def _note_once_in(
    session: Session, statement_id: int, member_id: int, what: str, now: datetime
) -> bool:
    _existing(session, statement_id)
    values = {
        "statement_id": statement_id,
        "member_id": member_id,
        "what": what,
        "created_at": now,
    }
    return insert_unless_present(
        session, StatementNotice, values, ["statement_id", "member_id", "what"]
    )
