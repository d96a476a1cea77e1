"""Argument checks applied before writing, so SQLite and PostgreSQL refuse the same values."""

from __future__ import annotations

from datetime import datetime


def check_text(what: str, value: str, limit: int, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, not {type(value).__name__}")
    if not value and not allow_empty:
        raise ValueError(f"{what} must not be empty")
    if len(value) > limit:
        raise ValueError(f"{what} is longer than {limit} characters: {value[:40]!r}...")
    return value


def check_optional_text(what: str, value: str | None, limit: int) -> str | None:
    return None if value is None else check_text(what, value, limit, allow_empty=True)


def check_aware(what: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value
