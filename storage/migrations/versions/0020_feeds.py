"""Feeds and calendars polled for each working group, and the items seen in each (so that
an item is offered once across polls and restarts).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("working_group_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("etag", sa.String(length=500), nullable=True),
        sa.Column("last_modified", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_reason", sa.String(length=200), nullable=True),
        sa.Column("failure_reported", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["working_group_id"],
            ["working_groups.id"],
            name="fk_feeds_working_group_id_working_groups",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_feeds"),
        sa.UniqueConstraint("working_group_id", "url", name="uq_feeds_working_group_id_url"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "feed_items_seen",
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("source_uid", sa.String(length=500), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name="fk_feed_items_seen_feed_id_feeds", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("feed_id", "source_uid", name="pk_feed_items_seen"),
    )
    op.create_index("ix_feed_items_seen_seen_at", "feed_items_seen", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_feed_items_seen_seen_at", table_name="feed_items_seen")
    op.drop_table("feed_items_seen")
    op.drop_table("feeds")
