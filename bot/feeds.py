"""Calendars and news feeds read into neutral items: no network, no storage.

An iCalendar file (such as Indico's export of the UN Forum's events) or an RSS 2.0 / Atom
feed (such as the Business & Human Rights Resource Centre's) becomes a list of
:class:`ImportedItem`, each with the source's own id, so that an item read twice is known
again. Text is cleaned as a member's answer is (no controls, no direction overrides) and
cut to bounded lengths; a date that cannot be read is left out, not fatal. Input that is no
calendar or feed at all raises :class:`FeedError` with the reason.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import feedparser
import icalendar

from bot.cleaning import clean_answer, clean_line

__all__ = ["FeedError", "ImportedItem", "parse_any", "parse_calendar", "parse_feed"]

TITLE_MAX = 300
SUMMARY_MAX = 2000
LINK_MAX = 2000
UID_MAX = 500
ITEMS_MAX = 1000
"""Items read from one file at most; the rest are left for a later read."""

_TAGS = re.compile(r"<[^>]+>")


class FeedError(Exception):
    """The file is no calendar or feed the bot can read; ``reason`` says why, in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ImportedItem:
    """One event or article from a calendar or feed, as a consultation draft may start.

    ``source_uid`` is the source's own id (UID, guid, id, else the link, else a hash of the
    title): stable across reads. Times are aware (UTC), or ``None`` when absent or unreadable;
    an all-day event starts at midnight UTC of its day."""

    source_uid: str
    title: str
    link: str | None
    summary: str
    starts_at: datetime | None
    ends_at: datetime | None


def _bounded_line(text: object, limit: int) -> str:
    return clean_line(str(text) if text is not None else None)[:limit]


def _bounded_text(text: object, limit: int) -> str:
    if text is None:
        return ""
    plain = html.unescape(_TAGS.sub(" ", str(text)))
    kept = clean_answer(plain)
    kept = re.sub(r"[ \u00a0]{2,}", " ", kept)
    kept = re.sub(r"\n{3,}", "\n\n", kept)
    return kept[:limit].strip()


def _link(value: object) -> str | None:
    link = _bounded_line(value, LINK_MAX + 1)
    if not link or len(link) > LINK_MAX or not re.match(r"https?://\S+$", link, re.IGNORECASE):
        return None
    return link


def _uid(*candidates: object, title: str) -> str:
    for candidate in candidates:
        uid = _bounded_line(candidate, UID_MAX)
        if uid:
            return uid
    digest = hashlib.sha256(title.encode()).hexdigest()[:32]
    return f"title:{digest}"


# --------------------------------------------------------------------------- iCalendar


def _calendar_time(value: Any) -> datetime | None:
    """A DTSTART/DTEND value as aware UTC: with TZID, in UTC, floating (read as UTC), or a
    whole day (midnight UTC)."""
    moment = getattr(value, "dt", None)
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    if isinstance(moment, date):
        return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return None


def parse_calendar(data: bytes) -> list[ImportedItem]:
    """The events (VEVENT) of an iCalendar file, in the file's order."""
    try:
        parsed = icalendar.Calendar.from_ical(data)
    except Exception as error:  # icalendar raises ValueError and others for bad input
        raise FeedError(f"not an iCalendar file ({type(error).__name__})") from None
    if not isinstance(parsed, icalendar.Calendar) or parsed.name != "VCALENDAR":
        raise FeedError("not an iCalendar file (no VCALENDAR)")
    items = []
    for event in parsed.walk("VEVENT")[:ITEMS_MAX]:
        title = _bounded_line(event.get("SUMMARY"), TITLE_MAX)
        link = _link(event.get("URL"))
        starts_at = _safe(lambda event=event: _calendar_time(event.get("DTSTART")))
        ends_at = _safe(lambda event=event: _calendar_time(event.get("DTEND")))
        if ends_at is None and starts_at is not None and event.get("DURATION") is not None:
            duration = getattr(event.get("DURATION"), "dt", None)
            if isinstance(duration, timedelta):
                ends_at = starts_at + duration
        location = _bounded_line(event.get("LOCATION"), TITLE_MAX)
        summary = _bounded_text(event.get("DESCRIPTION"), SUMMARY_MAX)
        if location:
            summary = f"{location}\n{summary}".strip()[:SUMMARY_MAX]
        if not title and not link:
            continue
        items.append(
            ImportedItem(
                source_uid=_uid(event.get("UID"), link, title=title),
                title=title or (link or ""),
                link=link,
                summary=summary,
                starts_at=starts_at,
                ends_at=ends_at,
            )
        )
    return items


def _safe(read: Any) -> datetime | None:
    try:
        result = read()
    except Exception:  # a date that cannot be read is left out
        return None
    return result if isinstance(result, datetime) else None


# --------------------------------------------------------------------------- RSS / Atom


def _feed_time(entry: Any, key: str) -> datetime | None:
    if key not in entry:  # asking for a missing one warns (feedparser issue 310)
        return None
    parsed = entry.get(key)
    if not isinstance(parsed, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def parse_feed(data: bytes) -> list[ImportedItem]:
    """The entries of an RSS 2.0 or Atom feed, in the feed's order; ``starts_at`` is the
    entry's publication (else update) time."""
    parsed = feedparser.parse(data)
    version = parsed.get("version") or ""
    if not version or (parsed.get("bozo") and not parsed.entries):
        reason = type(parsed.get("bozo_exception")).__name__ if parsed.get("bozo") else "empty"
        raise FeedError(f"not an RSS or Atom feed ({reason})")
    items = []
    for entry in parsed.entries[:ITEMS_MAX]:
        title = _bounded_line(entry.get("title"), TITLE_MAX)
        link = _link(entry.get("link"))
        if not title and not link:
            continue
        published = _feed_time(entry, "published_parsed") or _feed_time(entry, "updated_parsed")
        items.append(
            ImportedItem(
                source_uid=_uid(entry.get("id"), link, title=title),
                title=title or (link or ""),
                link=link,
                summary=_bounded_text(entry.get("summary"), SUMMARY_MAX),
                starts_at=published,
                ends_at=None,
            )
        )
    return items


def parse_any(data: bytes) -> list[ImportedItem]:
    """A calendar when the data starts like one, else a feed."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").upper()
    if head.startswith(b"BEGIN:VCALENDAR"):
        return parse_calendar(data)
    return parse_feed(data)
