"""Dates and times as a reader reads them: in their language's own pattern and their own
time zone (UTC when they gave none), named after the time so that no one guesses."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_skeleton, format_time


def reader_zone(time_zone: str | None) -> tzinfo:
    """The reader's time zone; UTC when they gave none or one this system does not know."""
    if not time_zone:
        return UTC
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def day(when: datetime, language: str, time_zone: str | None = None) -> str:
    """The date alone, with the month named ("7 dic 2026", "Dec 7, 2026")."""
    local = when.astimezone(reader_zone(time_zone))
    return format_skeleton("yMMMd", local, locale=language, fuzzy=True)


def moment(when: datetime, language: str, time_zone: str | None = None) -> str:
    """The date and the minute, and the zone they are in ("7 dic 2026, 9:05 (America/Lima)")."""
    zone = reader_zone(time_zone)
    local = when.astimezone(zone)
    time = format_time(local, "short", locale=language)
    pattern = Locale.parse(language).datetime_formats["medium"]
    joined = str(pattern).replace("{1}", day(when, language, time_zone)).replace("{0}", time)
    return f"{joined} ({'UTC' if zone is UTC else time_zone})"
