"""A member's joint-statement data (:mod:`storage.member_data` sections) and the rule for
merging two members who both signed in their own name (:data:`storage.merging.COLLISION_RULES`).

Kept apart from :mod:`storage.statements`, which imports this module so that its sections
and rule are registered whenever the store is: what a member sees of their data, and what
erasing them takes, in one place. Erasure takes a member's own signature and answers; an
organization's signature they gave stays, linked to no one. Texts and documents of the
versions and translations they wrote are the group's and stay; the export names them only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from storage.member_data import Forgetting, MemberSection, add_section, plain, rows_of
from storage.merging import COLLISION_RULES, Keep, Row
from storage.models import (
    StatementSignature,
    StatementSignatureEvent,
    StatementTextVersion,
    StatementTranslation,
)


def _export_versions(session: Session, member_id: int) -> Any:
    """The versions they wrote, without the texts and documents (the group's, kept)."""
    rows = session.execute(
        select(
            StatementTextVersion.statement_id,
            StatementTextVersion.number,
            StatementTextVersion.change,
            StatementTextVersion.created_at,
        )
        .where(StatementTextVersion.created_by == member_id)
        .order_by(StatementTextVersion.id)
    )
    return [
        {"statement": statement, "version": number, "change": change, "at": plain(at)}
        for statement, number, change, at in rows
    ]


def _export_translations(session: Session, member_id: int) -> Any:
    rows = session.execute(
        select(
            StatementTranslation.statement_id,
            StatementTranslation.language,
            StatementTranslation.version_number,
            StatementTranslation.created_at,
        )
        .where(StatementTranslation.created_by == member_id)
        .order_by(StatementTranslation.id)
    )
    return [
        {"statement": statement, "language": language, "version": number, "at": plain(at)}
        for statement, language, number, at in rows
    ]


def _export_signatures(session: Session, member_id: int) -> Any:
    rows = session.scalars(
        select(StatementSignature)
        .where(
            or_(
                StatementSignature.member_id == member_id,
                StatementSignature.withdrawn_by == member_id,
            )
        )
        .order_by(StatementSignature.id)
    )
    return [
        {
            "statement": row.statement_id,
            "for_organization": row.organization_id,
            "answer": row.answer if row.member_id == member_id else None,
            "version": row.version_number,
            "at": plain(row.answered_at),
            "withdrew_it": row.withdrawn_by == member_id,
            "withdrawn_at": plain(row.withdrawn_at) if row.withdrawn_by == member_id else None,
        }
        for row in rows
    ]


def _export_answers(session: Session, member_id: int) -> Any:
    rows = session.scalars(
        select(StatementSignatureEvent)
        .where(StatementSignatureEvent.member_id == member_id)
        .order_by(StatementSignatureEvent.id)
    )
    return [
        {
            "statement": row.statement_id,
            "for_organization": row.organization_id,
            "answer": row.answer,
            "version": row.version_number,
            "at": plain(row.at),
        }
        for row in rows
    ]


def _erase_own_signatures(session: Session, forgetting: Forgetting) -> None:
    """A member's own signature goes; an organization's signature they gave stays, the
    organization's, linked to no one (the member row's deletion sets the link NULL)."""
    session.execute(
        delete(StatementSignature).where(
            StatementSignature.signer_kind == "member",
            StatementSignature.member_id == forgetting.member_id,
        )
    )


def _erase_own_answers(session: Session, forgetting: Forgetting) -> None:
    session.execute(
        delete(StatementSignatureEvent).where(
            StatementSignatureEvent.signer_kind == "member",
            StatementSignatureEvent.member_id == forgetting.member_id,
        )
    )


add_section(
    MemberSection(
        "statements_opened", ("statements.created_by",), rows_of("statements", "created_by")
    )
)
add_section(
    MemberSection(
        "statement_versions_written", ("statement_versions.created_by",), _export_versions
    )
)
add_section(
    MemberSection(
        "statement_translations_written",
        ("statement_translations.created_by",),
        _export_translations,
    )
)
add_section(
    MemberSection(
        "statement_signatures",
        ("statement_signatures.member_id", "statement_signatures.withdrawn_by"),
        _export_signatures,
        _erase_own_signatures,
    )
)
add_section(
    MemberSection(
        "statement_answers",
        ("statement_signature_events.member_id",),
        _export_answers,
        _erase_own_answers,
    )
)
add_section(
    MemberSection(
        "statement_questions",
        ("statement_questions.member_id", "statement_questions.answered_by"),
        rows_of("statement_questions", "member_id", "answered_by"),
    )
)
add_section(
    MemberSection(
        "statement_notices",
        ("statement_notices.member_id",),
        rows_of("statement_notices", "member_id"),
    )
)


def _latest_answer(kept: Row, other: Row) -> Keep:
    """Two accounts of one person that both signed in their own name: the answer given
    last stands, as if one account had given both."""
    return Keep.OTHER if other["answered_at"] > kept["answered_at"] else Keep.KEPT


COLLISION_RULES["statement_signatures"] = _latest_answer
