"""The private room the bot itself made with a member for notices (Matrix).

A member's notices no longer go to whichever small room they last wrote from: on Matrix the
bot makes a room with them (invite-only, ``is_direct``, history from joining) on first need
and keeps its id here, per account.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-09
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("identities", sa.Column("notice_room_id", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.drop_column("notice_room_id")
