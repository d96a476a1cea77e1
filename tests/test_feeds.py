"""The calendar and feed parsers (bot/feeds.py): no network, no database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from bot.feed_fetch import url_problem
from bot.feeds import SUMMARY_MAX, TITLE_MAX, FeedError, parse_any, parse_calendar, parse_feed
from tests.harness.feed_server import INDICO_ICS, rss


def test_indico_calendar_gives_each_event_in_utc_whatever_its_time_zone() -> None:
    forum, session, _deadline = parse_any(INDICO_ICS)
    assert forum.source_uid == "indico-event-1234@indico.un.org"
    assert forum.title == "UN Forum on Business and Human Rights"
    assert forum.link == "https://indico.un.org/event/1234/"
    # 10:00 in Geneva in November (CET, UTC+1)
    assert forum.starts_at == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert forum.ends_at == datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
    assert forum.summary == "Palais des Nations\nRegistration is open until 1 November.\nBring ID."
    assert session.starts_at == datetime(2026, 10, 20, 8, 0, tzinfo=UTC)
    assert session.summary == ""


def test_an_all_day_event_starts_at_midnight_utc_of_its_day_and_may_lack_a_link() -> None:
    deadline = parse_calendar(INDICO_ICS)[2]
    assert deadline.starts_at == datetime(2026, 12, 15, tzinfo=UTC)
    assert deadline.ends_at == datetime(2026, 12, 16, tzinfo=UTC)
    assert deadline.link is None


def _event(*lines: str) -> bytes:
    body = "\r\n".join(("BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", *lines))
    return (body + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n").encode()


def test_an_unreadable_date_is_left_out_and_the_event_kept() -> None:
    (item,) = parse_calendar(_event("UID:a", "SUMMARY:Session", "DTSTART:2026-13-45"))
    assert (item.title, item.starts_at, item.ends_at) == ("Session", None, None)


def test_a_floating_time_is_read_as_utc_and_a_duration_gives_the_end() -> None:
    (item,) = parse_calendar(
        _event("UID:a", "SUMMARY:Call", "DTSTART:20260301T120000", "DURATION:PT2H")
    )
    assert item.starts_at == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert item.ends_at == datetime(2026, 3, 1, 14, tzinfo=UTC)


def test_an_event_without_uid_is_known_by_its_link_then_by_its_title() -> None:
    (linked,) = parse_calendar(_event("SUMMARY:A", "URL:https://example.org/a"))
    (bare,) = parse_calendar(_event("SUMMARY:A"))
    assert linked.source_uid == "https://example.org/a"
    assert bare.source_uid.startswith("title:")
    assert parse_calendar(_event("SUMMARY:A"))[0].source_uid == bare.source_uid


def test_text_is_cleaned_of_controls_and_overrides_and_bounded() -> None:
    (item,) = parse_calendar(
        _event(
            "UID:a",
            "SUMMARY:Evil\u202e title " + "x" * 400,
            "DESCRIPTION:<b>bold</b> &amp; " + "y" * 3000,
            "URL:javascript:alert(1)",
        )
    )
    assert "\u202e" not in item.title
    assert item.title.startswith("Evil title ")
    assert len(item.title) == TITLE_MAX
    assert item.summary.startswith("bold & y")
    assert len(item.summary) <= SUMMARY_MAX
    assert item.link is None


def test_rss_items_give_guid_link_title_summary_and_publication_time() -> None:
    items = parse_feed(rss(3))
    assert [item.source_uid for item in items] == ["call-3", "call-2", "call-1"]
    newest = items[0]
    assert newest.title == "Call for input 3"
    assert newest.link == "https://example.org/calls/3"
    assert newest.summary == "Submissions on item 3"
    assert newest.starts_at == datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    assert newest.ends_at is None


def test_atom_entries_give_id_and_updated_time() -> None:
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>News</title><id>urn:feed</id>
<updated>2026-12-01T10:00:00Z</updated>
<entry><title>OECD NCP statement</title><id>urn:uuid:42</id>
<link href="https://example.org/ncp/42"/><updated>2026-12-01T10:00:00+02:00</updated>
<summary>Final statement</summary></entry>
<entry><title>No date</title><link href="https://example.org/ncp/43"/></entry>
</feed>"""
    first, second = parse_any(atom)
    assert (first.source_uid, first.link, first.summary) == (
        "urn:uuid:42",
        "https://example.org/ncp/42",
        "Final statement",
    )
    assert first.starts_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert (second.source_uid, second.starts_at) == ("https://example.org/ncp/43", None)


def test_rss_with_an_unreadable_date_keeps_the_item_without_it() -> None:
    feed = rss(1).replace(b"Sun, 01 Nov 2026 10:00:00 GMT", b"someday")
    (item,) = parse_feed(feed)
    assert item.starts_at is None


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00\xff garbage", b"<html><body>Not a feed</body></html>", b"BEGIN:VCALENDAR\nX"],
    ids=["empty", "binary", "html", "broken-calendar"],
)
def test_what_is_no_calendar_or_feed_is_a_feed_error_with_a_reason(data: bytes) -> None:
    with pytest.raises(FeedError) as raised:
        parse_any(data)
    assert raised.value.reason


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/feed",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "example.org/feed",
        "https://",
        "https://exa mple.org/",
        "https://example.org/" + "a" * 2000,
    ],
)
def test_only_absolute_http_and_https_urls_are_feeds(url: str) -> None:
    assert url_problem(url) is not None


def test_http_and_https_urls_are_feeds() -> None:
    assert url_problem("https://indico.un.org/export/event/1234.ics") is None
    assert url_problem("http://127.0.0.1:8080/rss?x=1") is None


# --------------------------------------------------------------------------- configuration


def _config_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    return str(info.value)


GROUP = '[[working_groups]]\nslug = "cawg"\nname = "CAWG"\n'


def test_configured_feeds_are_polled_hourly_by_default(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(GROUP + 'feeds = ["https://indico.un.org/export/categ/1.ics"]\n')
    config = load_config(path, env={})
    assert config.working_groups[0].feeds == ("https://indico.un.org/export/categ/1.ics",)
    assert (config.feeds.poll_minutes, config.feeds.max_bytes) == (60, 2 * 1024 * 1024)


def test_a_feed_that_is_no_http_url_stops_the_start_naming_key_and_fix(tmp_path: Path) -> None:
    line = _config_error(tmp_path, GROUP + 'feeds = ["ftp://example.org/feed"]\n')
    assert "working_groups[0].feeds[0]" in line
    assert "is not an http or https URL" in line
    assert "e.g. feeds = [" in line


def test_a_feed_listed_twice_and_a_poll_too_often_are_refused(tmp_path: Path) -> None:
    twice = 'feeds = ["https://example.org/a", "https://example.org/a"]\n'
    assert "listed twice" in _config_error(tmp_path, GROUP + twice)
    line = _config_error(tmp_path, "[feeds]\npoll_minutes = 1\n")
    assert "feeds.poll_minutes" in line and "must be from 5" in line
