"""Key rotation: every sealed column, and re-sealing its values with the first key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from storage.models import (
    Base,
    CaseAttachment,
    CaseContent,
    CaseEvent,
    Conversation,
    InboundEvent,
    OutboxMessage,
    SealCheck,
)
from storage.sealing import SealedBytes, SealedText


def sealed_columns() -> list[tuple[type[Base], tuple[str, ...]]]:
    """Each model with sealed columns, and their attribute names (checked against the
    models, so that a new sealed column cannot be forgotten by rotation)."""
    chosen: list[tuple[type[Base], tuple[str, ...]]] = []
    for model in (
        Conversation,
        InboundEvent,
        OutboxMessage,
        CaseContent,
        CaseAttachment,
        CaseEvent,
        SealCheck,
    ):
        names = tuple(
            column.key
            for column in model.__table__.columns
            if isinstance(column.type, SealedText | SealedBytes)
        )
        chosen.append((model, names))
    every = {
        mapper.class_
        for mapper in Base.registry.mappers
        if any(isinstance(c.type, SealedText | SealedBytes) for c in mapper.local_table.columns)
    }
    missing = every - {model for model, _ in chosen}
    if missing:
        raise RuntimeError(f"sealed columns not covered by rotation: {sorted(map(str, missing))}")
    return chosen


def reseal_batch_in(
    session: Session, model: type[Base], columns: tuple[str, ...], after: Any, limit: int
) -> tuple[int, Any]:
    """Re-seal up to ``limit`` rows after primary key ``after``; returns (values re-sealed,
    the last key seen, or 0 when the table is done)."""
    mapper = model.__mapper__
    key = mapper.primary_key[0]
    query = select(model).order_by(key)
    if after:
        query = query.where(key > after)
    rows = list(session.scalars(query.limit(limit)))
    count = 0
    for row in rows:
        for name in columns:
            if getattr(row, name) is not None:
                flag_modified(row, name)
                count += 1
    session.flush()
    last = getattr(rows[-1], str(key.key)) if len(rows) == limit else 0
    return count, last
