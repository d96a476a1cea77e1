"""Consultations, members' subscriptions to their alerts, and who plans to contribute.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "consultations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("issuer", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("submit_how", sa.String(length=500), nullable=True),
        sa.Column("languages", sa.String(length=200), nullable=True),
        sa.Column("length_limit", sa.String(length=200), nullable=True),
        _at("deadline"),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        _at("starts_at"),
        _at("ends_at"),
        sa.Column("topics", sa.Text(), nullable=False),
        sa.Column("regions", sa.Text(), nullable=False),
        sa.Column("countries", sa.Text(), nullable=False),
        sa.Column("working_groups", sa.Text(), nullable=False),
        sa.Column("reminder_days", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("source_uid", sa.String(length=500), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _at("created_at", nullable=False),
        _at("updated_at", nullable=False),
        _at("published_at"),
        sa.CheckConstraint(
            "kind IN ('call_for_input', 'nomination', 'session', 'registration', 'other')",
            name="ck_consultations_kind",
        ),
        sa.CheckConstraint(
            "state IN ('draft', 'published', 'withdrawn', 'closed')",
            name="ck_consultations_state",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["members.id"],
            name="fk_consultations_created_by_members",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_consultations"),
        sa.UniqueConstraint("source_uid", name="uq_consultations_source_uid"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_consultations_state", "consultations", ["state"])
    op.create_table(
        "consultation_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        _at("created_at", nullable=False),
        sa.CheckConstraint(
            "kind IN ('topic', 'region', 'country', 'group', 'all')",
            name="ck_consultation_subscriptions_kind",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name="fk_consultation_subscriptions_member_id_members",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_consultation_subscriptions"),
        sa.UniqueConstraint(
            "member_id",
            "kind",
            "value",
            name="uq_consultation_subscriptions_member_id_kind_value",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_consultation_subscriptions_member_id", "consultation_subscriptions", ["member_id"]
    )
    op.create_table(
        "consultation_contributions",
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("intent", sa.String(length=16), nullable=False),
        _at("created_at", nullable=False),
        sa.CheckConstraint(
            "intent IN ('contribute', 'interested')", name="ck_consultation_contributions_intent"
        ),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name="fk_consultation_contributions_consultation_id_consultations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name="fk_consultation_contributions_member_id_members",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "consultation_id", "member_id", name="pk_consultation_contributions"
        ),
    )
    op.create_index(
        "ix_consultation_contributions_member_id", "consultation_contributions", ["member_id"]
    )


def downgrade() -> None:
    op.drop_index(
        "ix_consultation_contributions_member_id", table_name="consultation_contributions"
    )
    op.drop_table("consultation_contributions")
    op.drop_index(
        "ix_consultation_subscriptions_member_id", table_name="consultation_subscriptions"
    )
    op.drop_table("consultation_subscriptions")
    op.drop_index("ix_consultations_state", table_name="consultations")
    op.drop_table("consultations")
