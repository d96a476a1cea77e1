"""Requests to join a working group, decided by its coordinators (one pending per member
and group).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "join_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("working_group_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'approved', 'declined', 'cancelled')",
            name="ck_join_requests_state",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name="fk_join_requests_member_id_members",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["working_group_id"],
            ["working_groups.id"],
            name="fk_join_requests_working_group_id_working_groups",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["members.id"],
            name="fk_join_requests_decided_by_members",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_join_requests"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_join_requests_member_id", "join_requests", ["member_id"])
    op.create_index("ix_join_requests_working_group_id", "join_requests", ["working_group_id"])
    op.create_index(
        "uq_join_requests_pending",
        "join_requests",
        ["member_id", "working_group_id"],
        unique=True,
        sqlite_where=sa.text("state = 'pending'"),
        postgresql_where=sa.text("state = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("uq_join_requests_pending", table_name="join_requests")
    op.drop_index("ix_join_requests_working_group_id", table_name="join_requests")
    op.drop_index("ix_join_requests_member_id", table_name="join_requests")
    op.drop_table("join_requests")
