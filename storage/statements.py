"""Joint statements, their versions and translations, signatures and questions
(``store.statements``). The values it hands out are :mod:`storage.statement_records`'."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from storage.statement_records import (
    Answer,
    AnswerOutcome,
    Change,
    QuestionRecord,
    SignatureEvent,
    SignatureRecord,
    StatementFields,
    StatementFile,
    StatementRecord,
    StatementVersion,
    TranslationRecord,
)
from storage.units import Area


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
        raise NotImplementedError

    def get(self, statement_id: int) -> StatementRecord | None:
        raise NotImplementedError

    def of_groups(
        self, group_ids: Collection[int] | None, *, closed_since: datetime
    ) -> list[StatementRecord]:
        """The open statements of these groups (``None``: of every group) and those closed
        since ``closed_since``, newest first."""
        raise NotImplementedError

    def revise(
        self,
        statement_id: int,
        text: str,
        file: StatementFile | None,
        change: Change,
        by: int | None,
    ) -> StatementRecord | None:
        """A new version; ``None`` when the statement is closed. A text equal to the
        current one raises :class:`ValueError` (the caller checks first)."""
        raise NotImplementedError

    def versions(self, statement_id: int) -> list[StatementVersion]:
        """Every version, oldest first."""
        raise NotImplementedError

    def translate(
        self,
        statement_id: int,
        language: str,
        text: str,
        file: StatementFile | None,
        by: int | None,
    ) -> TranslationRecord | None:
        """The language's translation of the current version, replacing its earlier one;
        ``None`` when the statement is closed. The original's language raises
        :class:`ValueError`."""
        raise NotImplementedError

    def translations(self, statement_id: int) -> list[TranslationRecord]:
        """Each language's latest translation, by language code."""
        raise NotImplementedError

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
        takes any hash). After the deadline or the close: :attr:`AnswerOutcome.CLOSED`.
        Withdrawing records who and when."""
        raise NotImplementedError

    def signatures(self, statement_id: int) -> list[SignatureRecord]:
        """Each signer's current answer, in the order they first answered."""
        raise NotImplementedError

    def history(self, statement_id: int) -> list[SignatureEvent]:
        """Every answer given, oldest first."""
        raise NotImplementedError

    def ask(self, statement_id: int, member_id: int, text: str) -> QuestionRecord:
        raise NotImplementedError

    def question(self, question_id: int) -> QuestionRecord | None:
        raise NotImplementedError

    def questions(self, statement_id: int, *, open_only: bool = False) -> list[QuestionRecord]:
        """Oldest first."""
        raise NotImplementedError

    def reply_to_question(self, question_id: int, by: int, text: str) -> QuestionRecord | None:
        """Record the coordinators' answer; ``None`` when it was answered already."""
        raise NotImplementedError

    def close(self, statement_id: int) -> StatementRecord | None:
        """Stop signing, once: ``None`` when it was closed already."""
        raise NotImplementedError

    def publish(self, statement_id: int, url: str) -> StatementRecord | None:
        """Record where the statement was published (a closed statement's; replaces an
        earlier link); ``None`` when it is not closed."""
        raise NotImplementedError

    def note_once(self, statement_id: int, member_id: int, what: str) -> bool:
        """True the first time ``what`` (up to 32 characters) is noted for the member on
        this statement: a notice said once (a reminder to a signatory, a refusal)."""
        raise NotImplementedError
