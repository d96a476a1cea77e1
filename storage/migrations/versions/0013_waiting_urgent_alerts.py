"""Urgent alerts kept until someone can receive them.

An urgent report whose coordinators the bot could not reach is alerted later, to the first
coordinator or admin of its group (or, failing them, a network admin) who writes to the
bot; the row is made with the report and records who got the alert and when.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "waiting_urgent_alerts",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_to_member_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_reports.id"],
            name="fk_waiting_urgent_alerts_case_id_case_reports",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["delivered_to_member_id"],
            ["members.id"],
            name="fk_waiting_urgent_alerts_delivered_to_member_id_members",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("case_id", name="pk_waiting_urgent_alerts"),
    )
    op.create_index(
        "ix_waiting_urgent_alerts_delivered_at", "waiting_urgent_alerts", ["delivered_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_waiting_urgent_alerts_delivered_at", table_name="waiting_urgent_alerts")
    op.drop_table("waiting_urgent_alerts")
