"""An index that finds the rooms owed messages and the head of each room's queue.

The outbox worker used to read every pending message on each pass; it now asks which rooms
are owed messages (one lookup per room) and reads only the first messages of a room's
queue. Both follow ``(platform, status, room_id, id)``, so a pass costs the same with ten
messages waiting or ten thousand.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-14
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_outbox_platform_status_room_id_id",
        "outbox",
        ["platform", "status", "room_id", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_platform_status_room_id_id", table_name="outbox")
