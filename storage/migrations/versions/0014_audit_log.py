"""The audit log: every change to roles, memberships, organizations and signatories.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("actor_member_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("working_group_id", sa.Integer(), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_member_id"],
            ["members.id"],
            name="fk_audit_log_actor_member_id_members",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name="fk_audit_log_member_id_members",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["working_group_id"],
            ["working_groups.id"],
            name="fk_audit_log_working_group_id_working_groups",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_log_actor_member_id", "audit_log", ["actor_member_id"])
    op.create_index("ix_audit_log_member_id", "audit_log", ["member_id"])
    op.create_index("ix_audit_log_working_group_id_id", "audit_log", ["working_group_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_working_group_id_id", table_name="audit_log")
    op.drop_index("ix_audit_log_member_id", table_name="audit_log")
    op.drop_index("ix_audit_log_actor_member_id", table_name="audit_log")
    op.drop_table("audit_log")
