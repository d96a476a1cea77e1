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


def truncated_text(what: str, value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters: for diagnostics (failure reasons), not data."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, not {type(value).__name__}")
    return value[:limit]


def check_int(what: str, value: int, *, minimum: int, maximum: int = 2**63 - 1) -> int:
    """An integer (not a bool) within ``minimum`` and ``maximum``, both included.

    The default maximum is the largest BIGINT, so both backends accept the same values.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an integer, not {type(value).__name__}")
    if not minimum <= value <= maximum:
        raise ValueError(f"{what} must be between {minimum} and {maximum}, got {value}")
    return value


MAX_ID = 2**31 - 1
"""The largest surrogate key (the id columns are INTEGER, 32 bits on PostgreSQL)."""

REASON_LENGTH = 255
"""Failure and unreachability reasons are diagnostics: longer ones are cut, not refused."""
