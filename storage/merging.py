"""Merging two members into one: every row that names the newer member comes to the older.

Which rows those are is read from the models' metadata, not listed here: every column with
a foreign key to ``members.id`` is moved, so a table added later (votes, subscriptions,
signatures) merges without new code. Where a unique key would hold one row of each member
(one role per member and group, one open conversation per member), one of the two is kept
by the table's rule in :data:`COLLISION_RULES`, or else the older member's. On the member
row itself the older member's values win; a value only the newer one had is taken.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
    and_,
    delete,
    select,
    update,
)
from sqlalchemy.orm import Session

from bot.types import Role
from storage.models import Base

MEMBERS = "members"
EARLIEST = frozenset({"created_at"})
"""Member columns that take the earlier of the two values."""
LATEST = frozenset({"last_seen_at"})
"""Member columns that take the later of the two values."""

Row = Mapping[str, Any]


class Keep(Enum):
    """Which of two colliding rows stays: the kept (older) member's, or the other's."""

    KEPT = "kept"
    OTHER = "other"


CollisionRule = Callable[[Row, Row], Keep]
"""Given the kept member's row and the other member's, which one stays."""


def _stronger_role(kept: Row, other: Row) -> Keep:
    """One role per member and group: the stronger role; then one set in the configuration
    (it is declared for an account, and would come back at the next start); then the older
    member's."""
    kept_rank, other_rank = Role(kept["role"]).rank, Role(other["role"]).rank
    if kept_rank != other_rank:
        return Keep.KEPT if kept_rank > other_rank else Keep.OTHER
    if kept["source"] != other["source"]:
        return Keep.KEPT if kept["source"] == "config" else Keep.OTHER
    return Keep.KEPT


def _latest_conversation(kept: Row, other: Row) -> Keep:
    """One open conversation per member: the one the person answered last."""
    return Keep.OTHER if other["updated_at"] > kept["updated_at"] else Keep.KEPT


COLLISION_RULES: dict[str, CollisionRule] = {
    "memberships": _stronger_role,
    "conversations": _latest_conversation,
}
"""Tables whose colliding rows are not simply the older member's; the rest keep that."""


@dataclass(frozen=True, slots=True)
class ValueChoice:
    """A value of the member row where the two members differed."""

    column: str
    kept: Any
    other: Any


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    """What a merge did: ``moved`` counts the rows, per table, now the kept member's;
    ``combined`` the rows, per table, where both had one and one of the two stayed."""

    kept_member_id: int
    merged_member_id: int
    moved: Mapping[str, int]
    combined: Mapping[str, int]
    older_kept: tuple[ValueChoice, ...]
    """Member values both had (and differed): the older member's stayed."""
    taken: tuple[ValueChoice, ...]
    """Member values only the newer member had: now the kept member's."""


@dataclass(frozen=True, slots=True)
class MemberReference:
    """A column holding a member's id, with the unique keys it is part of."""

    table: Table
    column: Column[Any]
    unique_keys: tuple[tuple[tuple[Column[Any], ...], ColumnElement[bool] | None], ...]
    """Each key's columns and, for a partial unique index, its condition."""


def member_references(metadata: MetaData = Base.metadata) -> list[MemberReference]:
    """Every column with a foreign key to ``members.id``, in a stable order."""
    members = metadata.tables[MEMBERS]
    found = []
    for table in metadata.sorted_tables:
        for foreign_key in sorted(table.foreign_keys, key=lambda fk: fk.parent.name):
            if foreign_key.column.table is members:
                found.append(
                    MemberReference(
                        table, foreign_key.parent, _unique_keys(table, foreign_key.parent)
                    )
                )
    return found


def _unique_keys(
    table: Table, column: Column[Any]
) -> tuple[tuple[tuple[Column[Any], ...], ColumnElement[bool] | None], ...]:
    keys: list[tuple[tuple[Column[Any], ...], ColumnElement[bool] | None]] = []
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint | PrimaryKeyConstraint):
            columns = tuple(constraint.columns)
            if column.name in constraint.columns:
                keys.append((columns, None))
    for index in table.indexes:
        if index.unique and column.name in index.columns:
            where = index.dialect_options["postgresql"].get("where")
            if where is None:
                where = index.dialect_options["sqlite"].get("where")
            keys.append((tuple(index.columns), where))
    return tuple(keys)


def older_first(session: Session, first_id: int, second_id: int) -> tuple[int, int]:
    """The two members' ids, the older member (created first; then the lower id) first."""
    members = Base.metadata.tables[MEMBERS]
    rows = session.execute(
        select(members.c.id, members.c.created_at).where(members.c.id.in_([first_id, second_id]))
    ).all()
    if len(rows) != 2:
        raise ValueError("both members must exist and differ")
    ordered = sorted(rows, key=lambda row: (row.created_at, row.id))
    return ordered[0].id, ordered[1].id


def merge_members_in(
    session: Session,
    kept_id: int,
    other_id: int,
    *,
    metadata: MetaData = Base.metadata,
    rules: Mapping[str, CollisionRule] = COLLISION_RULES,
) -> MergeOutcome:
    """Move everything of member ``other_id`` to ``kept_id`` and delete ``other_id``, in
    the caller's transaction (all or nothing: the caller's unit of work)."""
    if kept_id == other_id:
        raise ValueError("a member cannot be merged into itself")
    session.flush()
    moved: Counter[str] = Counter()
    combined: Counter[str] = Counter()
    for reference in member_references(metadata):
        for key_columns, where in reference.unique_keys:
            combined[reference.table.name] += _resolve_collisions(
                session, reference, key_columns, where, kept_id, other_id, rules
            )
        column = reference.column
        result = session.execute(
            update(reference.table).where(column == other_id).values({column.name: kept_id})
        )
        moved[reference.table.name] += result.rowcount  # type: ignore[attr-defined]
    older_kept, taken = _merge_member_rows(session, metadata.tables[MEMBERS], kept_id, other_id)
    # The ORM's copies of what moved are stale now: read them again when next asked.
    session.expire_all()
    return MergeOutcome(
        kept_member_id=kept_id,
        merged_member_id=other_id,
        moved={table: count for table, count in moved.items() if count},
        combined={table: count for table, count in combined.items() if count},
        older_kept=older_kept,
        taken=taken,
    )


def _resolve_collisions(
    session: Session,
    reference: MemberReference,
    key_columns: Sequence[Column[Any]],
    where: ColumnElement[bool] | None,
    kept_id: int,
    other_id: int,
    rules: Mapping[str, CollisionRule],
) -> int:
    """Delete one of each pair of rows that would break a unique key once moved."""
    table, column = reference.table, reference.column
    rest = [key for key in key_columns if key is not column]

    def rows_of(member_id: int) -> list[Row]:
        query = select(table).where(column == member_id)
        if where is not None:
            query = query.where(where)
        return [dict(row) for row in session.execute(query).mappings()]

    def key_of(row: Row) -> tuple[Any, ...] | None:
        values = tuple(row[key.name] for key in rest)
        return None if None in values else values  # NULLs never collide in SQL

    kept_rows: dict[tuple[Any, ...], Row] = {}
    for row in rows_of(kept_id):
        key = key_of(row)
        if key is not None:
            kept_rows[key] = row
    rule = rules.get(table.name, _older_members)
    resolved = 0
    for other_row in rows_of(other_id):
        key = key_of(other_row)
        kept_row = kept_rows.get(key) if key is not None else None
        if kept_row is None:
            continue
        loser = other_row if rule(kept_row, other_row) is Keep.KEPT else kept_row
        primary = table.primary_key.columns
        session.execute(delete(table).where(and_(*(pk == loser[pk.name] for pk in primary))))
        resolved += 1
    return resolved


def _older_members(kept: Row, other: Row) -> Keep:
    return Keep.KEPT


def _merge_member_rows(
    session: Session, members: Table, kept_id: int, other_id: int
) -> tuple[tuple[ValueChoice, ...], tuple[ValueChoice, ...]]:
    kept = session.execute(select(members).where(members.c.id == kept_id)).mappings().one()
    other = session.execute(select(members).where(members.c.id == other_id)).mappings().one()
    values: dict[str, Any] = {}
    older_kept: list[ValueChoice] = []
    taken: list[ValueChoice] = []
    for column in members.columns:
        name = column.name
        if column.primary_key:
            continue
        mine, theirs = kept[name], other[name]
        if name in EARLIEST:
            values[name] = min(mine, theirs)
        elif name in LATEST:
            values[name] = max(mine, theirs)
        elif mine is None and theirs is not None:
            values[name] = theirs
            taken.append(ValueChoice(name, mine, theirs))
        elif mine is not None and theirs is not None and mine != theirs:
            older_kept.append(ValueChoice(name, mine, theirs))
    session.execute(delete(members).where(members.c.id == other_id))
    if values:
        session.execute(update(members).where(members.c.id == kept_id).values(values))
    return tuple(older_kept), tuple(taken)
