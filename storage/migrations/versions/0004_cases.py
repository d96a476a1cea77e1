"""Case reports: sealed contents, rights for counting, evidence, history; direct rooms.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = (
    "status IN ('submitted', 'under_review', 'needs_info', 'verified', "
    "'published', 'archived', 'rejected')"
)


def upgrade() -> None:
    op.add_column("identities", sa.Column("direct_room_id", sa.String(length=255), nullable=True))

    op.create_table(
        "case_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("working_group_id", sa.Integer(), nullable=False),
        sa.Column("author_member_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("sector", sa.String(length=32), nullable=False),
        sa.Column("started", sa.String(length=10), nullable=False),
        sa.Column("ongoing", sa.Boolean(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_STATUSES, name="ck_case_reports_status"),
        sa.ForeignKeyConstraint(
            ["working_group_id"],
            ["working_groups.id"],
            name="fk_case_reports_working_group_id_working_groups",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_member_id"],
            ["members.id"],
            name="fk_case_reports_author_member_id_members",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_case_reports"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_case_reports_author_member_id", "case_reports", ["author_member_id"], unique=False
    )
    op.create_index("ix_case_reports_group_status", "case_reports", ["working_group_id", "status"])
    for column in ("country", "region", "sector"):
        op.create_index(
            f"ix_case_reports_group_{column}",
            "case_reports",
            ["working_group_id", column, "status"],
        )

    op.create_table(
        "case_contents",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("contents", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_reports.id"],
            name="fk_case_contents_case_id_case_reports",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name="pk_case_contents"),
    )

    op.create_table(
        "case_rights",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("right", sa.String(length=32), nullable=False),
        sa.Column("working_group_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_reports.id"],
            name="fk_case_rights_case_id_case_reports",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", "right", name="pk_case_rights"),
    )
    op.create_index("ix_case_rights_right", "case_rights", ["right"], unique=False)
    op.create_index(
        "ix_case_rights_group_right", "case_rights", ["working_group_id", "right", "status"]
    )

    op.create_table(
        "case_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.LargeBinary(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'stored', 'failed')", name="ck_case_attachments_status"
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_reports.id"],
            name="fk_case_attachments_case_id_case_reports",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_case_attachments"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_case_attachments_case_id", "case_attachments", ["case_id"])
    op.create_index("ix_case_attachments_status", "case_attachments", ["status"])

    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("actor_member_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('status', 'question', 'answer')", name="ck_case_events_kind"),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_reports.id"],
            name="fk_case_events_case_id_case_reports",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["actor_member_id"],
            ["members.id"],
            name="fk_case_events_actor_member_id_members",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_case_events"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])


def downgrade() -> None:
    op.drop_table("case_events")
    op.drop_table("case_attachments")
    op.drop_table("case_rights")
    op.drop_table("case_contents")
    op.drop_table("case_reports")
    # SQLite rebuilds the table: keep AUTOINCREMENT, so that member ids are never reused.
    with op.batch_alter_table("identities", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("direct_room_id")
