"""Inbound events from private chats are handed over before group traffic.

A member's command in a private chat must not wait behind thousands of group messages a
flood left in the inbox: each event now says whether it came from a private chat, and the
inbox takes those first (each room's own order is kept, since a room is one or the other).
Events stored by the version before count as group traffic: they keep their order.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "inbound_events",
        sa.Column("direct", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("inbound_events") as batch:
        batch.drop_column("direct")
