"""Joint statements: statements of working groups, their versions and translations, each
signer's current answer and the history of answers, questions, and notices said once.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MEMBER_SIGNER = "signer_kind = 'member'"
_SIGNER_KIND = "signer_kind IN ('member', 'organization')"
_ANSWER = "answer IN ('signed', 'declined', 'withdrawn')"


def _at(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _member(table: str, column: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["members.id"], name=f"fk_{table}_{column}_members", ondelete=ondelete
    )


def _of_statement(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["statement_id"],
        ["statements.id"],
        name=f"fk_{table}_statement_id_statements",
        ondelete="CASCADE",
    )


def _of_organization(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["organization_id"],
        ["organizations.id"],
        name=f"fk_{table}_organization_id_organizations",
        ondelete="CASCADE",
    )


def _file_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("content_type", sa.String(length=127), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("working_group_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        _at("deadline", nullable=False),
        sa.Column("who_signs", sa.String(length=16), nullable=False),
        sa.Column("individuals", sa.Boolean(), nullable=False),
        sa.Column("list_order", sa.String(length=16), nullable=False),
        sa.Column("rooms", sa.Text(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("remind_hours_before", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _at("created_at", nullable=False),
        _at("closed_at"),
        sa.Column("published_url", sa.String(length=2000), nullable=True),
        sa.CheckConstraint("state IN ('open', 'closed')", name="ck_statements_state"),
        sa.CheckConstraint("who_signs IN ('group', 'network')", name="ck_statements_who_signs"),
        sa.CheckConstraint(
            "list_order IN ('alphabetical', 'country')", name="ck_statements_list_order"
        ),
        sa.ForeignKeyConstraint(
            ["working_group_id"],
            ["working_groups.id"],
            name="fk_statements_working_group_id_working_groups",
            ondelete="CASCADE",
        ),
        _member("statements", "created_by", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_statements"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_statements_working_group_id", "statements", ["working_group_id"])
    op.create_index("ix_statements_state", "statements", ["state"])
    op.create_table(
        "statement_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("edition", sa.Integer(), nullable=False),
        *_file_columns(),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _at("created_at", nullable=False),
        sa.CheckConstraint(
            "change IN ('original', 'correction', 'substance')",
            name="ck_statement_versions_change",
        ),
        _of_statement("statement_versions"),
        _member("statement_versions", "created_by", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_statement_versions"),
        sa.UniqueConstraint(
            "statement_id", "number", name="uq_statement_versions_statement_id_number"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_statement_versions_created_by", "statement_versions", ["created_by"])
    op.create_table(
        "statement_translations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        *_file_columns(),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _at("created_at", nullable=False),
        _of_statement("statement_translations"),
        _member("statement_translations", "created_by", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_statement_translations"),
        sa.UniqueConstraint(
            "statement_id", "language", name="uq_statement_translations_statement_id_language"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_statement_translations_created_by", "statement_translations", ["created_by"]
    )
    op.create_table(
        "statement_signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("signer_kind", sa.String(length=16), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("answer", sa.String(length=16), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        _at("first_answered_at", nullable=False),
        _at("answered_at", nullable=False),
        sa.Column("withdrawn_by", sa.Integer(), nullable=True),
        _at("withdrawn_at"),
        sa.CheckConstraint(_SIGNER_KIND, name="ck_statement_signatures_signer_kind"),
        sa.CheckConstraint(_ANSWER, name="ck_statement_signatures_answer"),
        _of_statement("statement_signatures"),
        _of_organization("statement_signatures"),
        _member("statement_signatures", "member_id", "SET NULL"),
        _member("statement_signatures", "withdrawn_by", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_statement_signatures"),
        sa.UniqueConstraint(
            "statement_id",
            "organization_id",
            name="uq_statement_signatures_statement_id_organization_id",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_statement_signatures_member_id", "statement_signatures", ["member_id"])
    op.create_index(
        "ix_statement_signatures_withdrawn_by", "statement_signatures", ["withdrawn_by"]
    )
    op.create_index(
        "uq_statement_signatures_statement_id_member",
        "statement_signatures",
        ["statement_id", "member_id"],
        unique=True,
        sqlite_where=sa.text(_MEMBER_SIGNER),
        postgresql_where=sa.text(_MEMBER_SIGNER),
    )
    op.create_table(
        "statement_signature_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("signer_kind", sa.String(length=16), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("answer", sa.String(length=16), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        _at("at", nullable=False),
        sa.CheckConstraint(_SIGNER_KIND, name="ck_statement_signature_events_signer_kind"),
        sa.CheckConstraint(_ANSWER, name="ck_statement_signature_events_answer"),
        _of_statement("statement_signature_events"),
        _of_organization("statement_signature_events"),
        _member("statement_signature_events", "member_id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_statement_signature_events"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_statement_signature_events_statement_id",
        "statement_signature_events",
        ["statement_id"],
    )
    op.create_index(
        "ix_statement_signature_events_member_id", "statement_signature_events", ["member_id"]
    )
    op.create_table(
        "statement_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        _at("asked_at", nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.Integer(), nullable=True),
        _at("answered_at"),
        _of_statement("statement_questions"),
        _member("statement_questions", "member_id", "CASCADE"),
        _member("statement_questions", "answered_by", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_statement_questions"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_statement_questions_statement_id", "statement_questions", ["statement_id"])
    op.create_index("ix_statement_questions_member_id", "statement_questions", ["member_id"])
    op.create_index("ix_statement_questions_answered_by", "statement_questions", ["answered_by"])
    op.create_table(
        "statement_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("what", sa.String(length=32), nullable=False),
        _at("created_at", nullable=False),
        _of_statement("statement_notices"),
        _member("statement_notices", "member_id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_statement_notices"),
        sa.UniqueConstraint(
            "statement_id",
            "member_id",
            "what",
            name="uq_statement_notices_statement_id_member_id_what",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_statement_notices_member_id", "statement_notices", ["member_id"])


def downgrade() -> None:
    for table in (
        "statement_notices",
        "statement_questions",
        "statement_signature_events",
        "statement_signatures",
        "statement_translations",
        "statement_versions",
        "statements",
    ):
        # Dropping a table drops its indexes with it, on both backends.
        op.drop_table(table)
