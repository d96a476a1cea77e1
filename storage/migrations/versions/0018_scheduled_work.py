"""Scheduled work: reminders, deadlines and announcements due at a time, done once.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scheduled_work",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scheduled_work"),
        sa.UniqueConstraint("dedup_key", name="uq_scheduled_work_dedup_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_scheduled_work_state_due_at", "scheduled_work", ["state", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_scheduled_work_state_due_at", table_name="scheduled_work")
    op.drop_table("scheduled_work")
