"""A known value sealed with the store's key, read back at every start.

Without it a database opened with another key starts, and every read of confidential data
fails afterwards. The value is written the first time the store is opened with a key (also
for a database that holds sealed data already: the key configured then is taken as its key).

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "seal_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seal_check")),
    )


def downgrade() -> None:
    op.drop_table("seal_check")
