"""Which outbox messages carry what of a case report, so that /withdraw takes them back.

A message queued with a report's contents (its text, a list naming it, an export holding
it, one of its evidence files) names the report here, and the evidence file it refers to;
the message itself stays sealed. ``/withdraw`` gives up every pending message named for the
report, and ``/casefiles`` does not queue a file again while an earlier copy still waits.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-14
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_case_contents",
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("attachment_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox.id"],
            name=op.f("fk_outbox_case_contents_outbox_id_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("outbox_id", "case_id", name=op.f("pk_outbox_case_contents")),
    )
    op.create_index(op.f("ix_outbox_case_contents_case_id"), "outbox_case_contents", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_case_contents_case_id"), table_name="outbox_case_contents")
    op.drop_table("outbox_case_contents")
