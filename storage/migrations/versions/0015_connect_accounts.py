"""Connecting one person's accounts: one-time codes (kept as digests) and wrong tries.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connect_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name="fk_connect_codes_member_id_members",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_connect_codes"),
        sa.UniqueConstraint("digest", name="uq_connect_codes_digest"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_connect_codes_member_id", "connect_codes", ["member_id"])
    op.create_index("ix_connect_codes_expires_at", "connect_codes", ["expires_at"])
    op.create_table(
        "connect_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name="fk_connect_failures_identity_id_identities",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_connect_failures"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_connect_failures_identity_id_at", "connect_failures", ["identity_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_connect_failures_identity_id_at", table_name="connect_failures")
    op.drop_table("connect_failures")
    op.drop_index("ix_connect_codes_expires_at", table_name="connect_codes")
    op.drop_index("ix_connect_codes_member_id", table_name="connect_codes")
    op.drop_table("connect_codes")
