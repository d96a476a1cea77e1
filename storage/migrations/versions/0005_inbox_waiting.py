"""Inbound events that wait (a Matrix event waiting for its room key) beside ready ones.

Matrix's events now wait in the inbox like Telegram's; an encrypted event whose key has not
come is kept there too, marked ``waiting`` so that the inbox does not hand it over before
its transport makes it ready. Unhandled Matrix rows of the version before were all either
waiting for a key or placeholders of a batch its sync replays: both are marked waiting, and
the transport takes them up (or fills them from the replayed batch) when it starts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "inbound_events",
        sa.Column("waiting", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    events = sa.table(
        "inbound_events",
        sa.column("platform", sa.String()),
        sa.column("handled_at", sa.DateTime()),
        sa.column("waiting", sa.Boolean()),
    )
    op.execute(
        events.update()
        .where(events.c.platform == "matrix", events.c.handled_at.is_(None))
        .values(waiting=True)
    )


def downgrade() -> None:
    # The version before reads a waiting row by its payload, which stays as it was.
    with op.batch_alter_table("inbound_events") as batch:
        batch.drop_column("waiting")
