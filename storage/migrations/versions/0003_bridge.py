"""Bridge: relayed messages and the outbox copies that point to them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bridged_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("working_group_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["working_group_id"],
            ["working_groups.id"],
            name="fk_bridged_messages_working_group_id_working_groups",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_bridged_messages"),
        sa.UniqueConstraint(
            "platform",
            "room_id",
            "message_id",
            name="uq_bridged_messages_platform_room_id_message_id",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_bridged_messages_working_group_id", "bridged_messages", ["working_group_id"]
    )
    # SQLite rebuilds the table for a new foreign key; AUTOINCREMENT must be asked again.
    with op.batch_alter_table("outbox", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("bridged_message_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("bridge_part", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_outbox_bridged_message_id_bridged_messages",
            "bridged_messages",
            ["bridged_message_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index("ix_outbox_bridged_message_id", ["bridged_message_id"])
        batch.create_index(
            "ix_outbox_platform_room_id_platform_message_id",
            ["platform", "room_id", "platform_message_id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_index("ix_outbox_platform_room_id_platform_message_id")
        batch.drop_index("ix_outbox_bridged_message_id")
        batch.drop_constraint("fk_outbox_bridged_message_id_bridged_messages", type_="foreignkey")
        batch.drop_column("bridge_part")
        batch.drop_column("bridged_message_id")
    op.drop_index("ix_bridged_messages_working_group_id", table_name="bridged_messages")
    op.drop_table("bridged_messages")
