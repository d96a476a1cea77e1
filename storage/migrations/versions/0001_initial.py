"""Members, identities, working groups, rooms, memberships and conversations.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("display_name", sa.String(length=255), nullable=True),
        sa.Column("organization", sa.String(length=255), nullable=True),
        _timestamp("created_at"),
        _timestamp("last_seen_at"),
        sa.PrimaryKeyConstraint("id", name="pk_members"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "working_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("languages", sa.String(length=255), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_working_groups"),
        sa.UniqueConstraint("slug", name="uq_working_groups_slug"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name="fk_identities_member_id_members",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_identities"),
        sa.UniqueConstraint("platform", "user_id", name="uq_identities_platform_user_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_identities_member_id", "identities", ["member_id"])
    op.create_table(
        "rooms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("working_group_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        _timestamp("created_at"),
        sa.CheckConstraint("source IN ('config', 'command')", name="ck_rooms_source"),
        sa.ForeignKeyConstraint(
            ["working_group_id"],
            ["working_groups.id"],
            name="fk_rooms_working_group_id_working_groups",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_rooms"),
        sa.UniqueConstraint("platform", "room_id", name="uq_rooms_platform_room_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_rooms_working_group_id", "rooms", ["working_group_id"])
    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("working_group_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        _timestamp("created_at"),
        sa.CheckConstraint(
            "role IN ('member', 'coordinator', 'admin')", name="ck_memberships_role"
        ),
        sa.CheckConstraint("source IN ('config', 'command')", name="ck_memberships_source"),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name="fk_memberships_member_id_members",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["working_group_id"],
            ["working_groups.id"],
            name="fk_memberships_working_group_id_working_groups",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_memberships"),
        sa.UniqueConstraint(
            "member_id",
            "working_group_id",
            name="uq_memberships_member_id_working_group_id",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_memberships_working_group_id", "memberships", ["working_group_id"])
    # NULL group (network-wide) rows are distinct to the unique constraint above.
    op.create_index(
        "uq_memberships_member_id_network",
        "memberships",
        ["member_id"],
        unique=True,
        sqlite_where=sa.text("working_group_id IS NULL"),
        postgresql_where=sa.text("working_group_id IS NULL"),
    )
    op.create_table(
        "conversations",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        _timestamp("started_at"),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name="fk_conversations_member_id_members",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", name="pk_conversations"),
    )


def downgrade() -> None:
    op.drop_table("conversations")
    op.drop_index("uq_memberships_member_id_network", table_name="memberships")
    op.drop_index("ix_memberships_working_group_id", table_name="memberships")
    op.drop_table("memberships")
    op.drop_index("ix_rooms_working_group_id", table_name="rooms")
    op.drop_table("rooms")
    op.drop_index("ix_identities_member_id", table_name="identities")
    op.drop_table("identities")
    op.drop_table("working_groups")
    op.drop_table("members")
