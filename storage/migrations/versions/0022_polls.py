"""Polls: the polls of working groups, open votes, secret ballots kept apart from who
voted, notices said once, and blocks of proposals.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MEMBER_VOTER = "voter_kind = 'member'"


def _at(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _member(table: str, column: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["members.id"], name=f"fk_{table}_{column}_members", ondelete=ondelete
    )


def _of_poll(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["poll_id"], ["polls.id"], name=f"fk_{table}_poll_id_polls", ondelete="CASCADE"
    )


def _voters(table: str) -> list[sa.SchemaItem]:
    """The columns and keys of a table with one row per voter (a member or an organization)."""
    return [
        sa.Column("voter_kind", sa.String(length=16), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "voter_kind IN ('member', 'organization')", name=f"ck_{table}_voter_kind"
        ),
        _member(table, "member_id", "SET NULL"),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=f"fk_{table}_organization_id_organizations",
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint(
            "poll_id", "organization_id", name=f"uq_{table}_poll_id_organization_id"
        ),
    ]


def _voter_indexes(table: str) -> None:
    op.create_index(f"ix_{table}_member_id", table, ["member_id"])
    op.create_index(
        f"uq_{table}_poll_id_member",
        table,
        ["poll_id", "member_id"],
        unique=True,
        sqlite_where=sa.text(_MEMBER_VOTER),
        postgresql_where=sa.text(_MEMBER_VOTER),
    )


def upgrade() -> None:
    op.create_table(
        "polls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("working_group_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(length=300), nullable=False),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("max_selections", sa.Integer(), nullable=False),
        sa.Column("ballot", sa.String(length=16), nullable=False),
        sa.Column("voters", sa.String(length=16), nullable=False),
        sa.Column("results", sa.String(length=16), nullable=False),
        sa.Column("quorum", sa.String(length=16), nullable=False),
        sa.Column("quorum_value", sa.Integer(), nullable=False),
        _at("deadline", nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("remind_before", sa.Integer(), nullable=True),
        sa.Column("rooms", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _at("created_at", nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        _at("closed_at"),
        sa.Column("eligible_at_close", sa.Integer(), nullable=True),
        sa.Column("final_counts", sa.Text(), nullable=True),
        sa.Column("final_voters", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("outcome_by", sa.Integer(), nullable=True),
        _at("outcome_at"),
        sa.CheckConstraint("kind IN ('simple', 'proposal')", name="ck_polls_kind"),
        sa.CheckConstraint("ballot IN ('open', 'secret')", name="ck_polls_ballot"),
        sa.CheckConstraint("voters IN ('members', 'organizations')", name="ck_polls_voters"),
        sa.CheckConstraint("results IN ('live', 'after_close')", name="ck_polls_results"),
        sa.CheckConstraint("quorum IN ('none', 'voters', 'share')", name="ck_polls_quorum"),
        sa.CheckConstraint("state IN ('open', 'closed')", name="ck_polls_state"),
        sa.ForeignKeyConstraint(
            ["working_group_id"],
            ["working_groups.id"],
            name="fk_polls_working_group_id_working_groups",
            ondelete="CASCADE",
        ),
        _member("polls", "created_by", "SET NULL"),
        _member("polls", "outcome_by", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_polls"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_polls_working_group_id", "polls", ["working_group_id"])
    op.create_index("ix_polls_state", "polls", ["state"])
    op.create_table(
        "poll_open_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        *_voters("poll_open_votes"),
        sa.Column("choices", sa.String(length=40), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        _at("cast_at", nullable=False),
        _of_poll("poll_open_votes"),
        sa.PrimaryKeyConstraint("id", name="pk_poll_open_votes"),
        sqlite_autoincrement=True,
    )
    _voter_indexes("poll_open_votes")
    op.create_table(
        "poll_participation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        *_voters("poll_participation"),
        _at("voted_at", nullable=False),
        _of_poll("poll_participation"),
        sa.PrimaryKeyConstraint("id", name="pk_poll_participation"),
        sqlite_autoincrement=True,
    )
    _voter_indexes("poll_participation")
    op.create_table(
        "poll_ballots",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("choices", sa.String(length=40), nullable=False),
        _of_poll("poll_ballots"),
        sa.PrimaryKeyConstraint("id", name="pk_poll_ballots"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_poll_ballots_poll_id", "poll_ballots", ["poll_id"])
    op.create_table(
        "poll_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("what", sa.String(length=32), nullable=False),
        _at("created_at", nullable=False),
        _of_poll("poll_notices"),
        _member("poll_notices", "member_id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_poll_notices"),
        sa.UniqueConstraint(
            "poll_id", "member_id", "what", name="uq_poll_notices_poll_id_member_id_what"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_poll_notices_member_id", "poll_notices", ["member_id"])
    op.create_table(
        "poll_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        _at("at", nullable=False),
        _of_poll("poll_blocks"),
        _member("poll_blocks", "member_id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_poll_blocks"),
        sa.UniqueConstraint("poll_id", "member_id", name="uq_poll_blocks_poll_id_member_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_poll_blocks_member_id", "poll_blocks", ["member_id"])


def downgrade() -> None:
    op.drop_index("ix_poll_blocks_member_id", table_name="poll_blocks")
    op.drop_table("poll_blocks")
    op.drop_index("ix_poll_notices_member_id", table_name="poll_notices")
    op.drop_table("poll_notices")
    op.drop_index("ix_poll_ballots_poll_id", table_name="poll_ballots")
    op.drop_table("poll_ballots")
    for table in ("poll_participation", "poll_open_votes"):
        op.drop_index(f"uq_{table}_poll_id_member", table_name=table)
        op.drop_index(f"ix_{table}_member_id", table_name=table)
        op.drop_table(table)
    op.drop_index("ix_polls_state", table_name="polls")
    op.drop_index("ix_polls_working_group_id", table_name="polls")
    op.drop_table("polls")
