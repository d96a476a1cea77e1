"""INSERT ... ON CONFLICT, which SQLite and PostgreSQL both have but spell in their own dialect.

A conflict handled by the statement itself does not abort the transaction (an
``IntegrityError`` would, on PostgreSQL), so these are safe inside a unit of work and
when two writers insert the same row at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.errors import StorageError
from storage.models import Base


def _insert(session: Session, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
    backend = session.get_bind().dialect.name
    if backend == "postgresql":
        return postgresql.insert(model)
    if backend == "sqlite":
        return sqlite.insert(model)
    raise StorageError(f"unsupported database {backend!r}")


def insert_unless_present(
    session: Session, model: type[Base], values: Mapping[str, Any], unique: Sequence[str]
) -> bool:
    """Insert a row unless one with the same ``unique`` columns exists; True if inserted."""
    statement = _insert(session, model).values(dict(values))
    statement = statement.on_conflict_do_nothing(index_elements=list(unique))
    inserted = session.execute(statement.returning(statement.table.c.id)).first()
    return inserted is not None


def insert_many_unless_present(
    session: Session,
    model: type[Base],
    rows: Sequence[Mapping[str, Any]],
    unique: Sequence[str],
) -> int:
    """Insert each row unless one with the same ``unique`` columns exists, in one statement;
    how many were inserted."""
    if not rows:
        return 0
    statement = _insert(session, model).values([dict(row) for row in rows])
    statement = statement.on_conflict_do_nothing(index_elements=list(unique))
    return len(session.execute(statement.returning(statement.table.c.id)).all())


def upsert(
    session: Session,
    model: type[Base],
    values: Mapping[str, Any],
    unique: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert a row, or set the ``update`` columns of the one with the same ``unique`` ones."""
    statement = _insert(session, model).values(dict(values))
    statement = statement.on_conflict_do_update(
        index_elements=list(unique),
        set_={column: statement.excluded[column] for column in update},
    )
    session.execute(statement)
