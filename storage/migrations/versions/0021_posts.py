"""The bot's own messages named for later replies to change (a poll, its live results).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bot_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("native_id", sa.String(length=255), nullable=True),
        sa.Column("pending_edit_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox.id"],
            name="fk_bot_posts_outbox_id_outbox",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_bot_posts"),
        sa.UniqueConstraint("key", "platform", "room_id", name="uq_bot_posts_key_platform_room_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_bot_posts_outbox_id", "bot_posts", ["outbox_id"])
    op.create_index("ix_bot_posts_platform_native_id", "bot_posts", ["platform", "native_id"])
    op.create_index(
        "ix_bot_posts_platform_room_id_message_id",
        "bot_posts",
        ["platform", "room_id", "message_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_bot_posts_platform_room_id_message_id", table_name="bot_posts")
    op.drop_index("ix_bot_posts_platform_native_id", table_name="bot_posts")
    op.drop_index("ix_bot_posts_outbox_id", table_name="bot_posts")
    op.drop_table("bot_posts")
