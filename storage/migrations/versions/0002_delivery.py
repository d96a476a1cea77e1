"""Delivery: inbound events, the outbox, callback payloads, unreachable chats, transport state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "inbound_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=True),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        _timestamp("received_at"),
        _timestamp("handled_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_events"),
        sa.UniqueConstraint("platform", "key", name="uq_inbound_events_platform_key"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_inbound_events_platform_handled_at_id",
        "inbound_events",
        ["platform", "handled_at", "id"],
    )
    op.create_index(
        "ix_inbound_events_platform_sequence", "inbound_events", ["platform", "sequence"]
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _timestamp("next_attempt_at"),
        _timestamp("created_at"),
        _timestamp("delivered_at", nullable=True),
        sa.Column("platform_message_id", sa.String(length=255), nullable=True),
        sa.Column("failure_reason", sa.String(length=255), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="ck_outbox_status"),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_outbox_platform_status_id", "outbox", ["platform", "status", "id"])
    op.create_table(
        "callback_payloads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_callback_payloads"),
        sa.UniqueConstraint("digest", name="uq_callback_payloads_digest"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "unreachable_chats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("chat_id", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        _timestamp("since"),
        sa.PrimaryKeyConstraint("id", name="pk_unreachable_chats"),
        sa.UniqueConstraint("platform", "chat_id", name="uq_unreachable_chats_platform_chat_id"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "transport_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_transport_state"),
        sa.UniqueConstraint("platform", "name", name="uq_transport_state_platform_name"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("transport_state")
    op.drop_table("unreachable_chats")
    op.drop_table("callback_payloads")
    op.drop_index("ix_outbox_platform_status_id", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_inbound_events_platform_sequence", table_name="inbound_events")
    op.drop_index("ix_inbound_events_platform_handled_at_id", table_name="inbound_events")
    op.drop_table("inbound_events")
