"""Polling feeds against a real HTTP server on 127.0.0.1, state kept on SQLite and
PostgreSQL: each item once across polls and restarts, conditional requests, failures
recorded and reported once, limits on what is fetched."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.feed_fetch import NOT_MODIFIED, FeedFetcher, Fetched, FetchFailed
from bot.feed_polling import PollFailed, poll_feed
from bot.feeds import ImportedItem
from storage import Store, WorkingGroupSpec
from storage.feeds import FeedRecord
from tests.harness.feed_server import INDICO_ICS, FeedServer, feed_server, rss

pytestmark = pytest.mark.e2e  # a real HTTP server on 127.0.0.1 (light: a thread)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as running:
        yield running


@pytest.fixture
def group_id(store: Store) -> int:
    store.groups.sync_configured(
        [WorkingGroupSpec("cawg", "Corporate Accountability")], [], default_language="en"
    )
    group = store.groups.by_slug("cawg")
    assert group is not None
    return group.id


class Offers:
    """What a poll offered and reported, as the poller's notices would receive it."""

    def __init__(self) -> None:
        self.offered: list[list[ImportedItem]] = []
        self.reported: list[str] = []
        self.reachable = True
        """Whether a coordinator could be told."""

    def offer(self, feed: FeedRecord, items: list[ImportedItem], calendar: bool) -> bool:
        self.offered.append(items)
        return self.reachable

    def report(self, feed: FeedRecord, reason: str) -> None:
        self.reported.append(reason)


def poll(store: Store, feed_id: int, fetcher: FeedFetcher, offers: Offers) -> list[ImportedItem]:
    feed = store.feeds.get(feed_id)
    assert feed is not None
    return poll_feed(store, feed, fetcher, NOW, offer=offers.offer, report=offers.report)


def test_three_polls_offer_each_of_200_items_once_and_only_new_ones_after_a_change(
    store: Store, database_url: str, group_id: int, server: FeedServer
) -> None:
    server.put("/rss", rss(200))
    feed = store.feeds.configure(group_id, server.url("/rss"))
    fetcher, offers = FeedFetcher(), Offers()

    first = poll(store, feed.id, fetcher, offers)
    assert len(first) == 200
    assert len({item.source_uid for item in first}) == 200
    assert poll(store, feed.id, fetcher, offers) == []
    assert server.answered[("/rss", 304)] == 1

    # A restart: another store on the same database remembers what was seen.
    server.put("/rss", rss(200, first=4))  # three new calls; the three oldest dropped
    with Store(database_url) as restarted:
        third = poll(restarted, feed.id, fetcher, offers)
    assert [item.title for item in third] == [f"Call for input {n}" for n in (203, 202, 201)]
    assert [len(items) for items in offers.offered] == [200, 3]
    assert store.feeds.seen_count(feed.id) == 203
    assert offers.reported == []
    kept = store.feeds.get(feed.id)
    assert kept is not None and kept.etag is not None and kept.last_modified is not None
    assert kept.last_success_at == NOW


def test_items_nobody_could_be_told_of_are_offered_again_at_the_next_poll(
    store: Store, group_id: int, server: FeedServer
) -> None:
    server.put("/rss", rss(5))
    feed = store.feeds.configure(group_id, server.url("/rss"))
    fetcher, offers = FeedFetcher(), Offers()
    offers.reachable = False
    assert poll(store, feed.id, fetcher, offers) == []
    assert store.feeds.seen_count(feed.id) == 0
    offers.reachable = True
    assert len(poll(store, feed.id, fetcher, offers)) == 5  # read in full, not "not modified"
    assert server.answered[("/rss", 304)] == 0
    assert [len(items) for items in offers.offered] == [5, 5]


def test_an_indico_calendar_is_polled_like_a_feed(
    store: Store, group_id: int, server: FeedServer
) -> None:
    server.put("/event.ics", INDICO_ICS, "text/calendar")
    feed = store.feeds.configure(group_id, server.url("/event.ics"))
    offers = Offers()
    items = poll(store, feed.id, FeedFetcher(), offers)
    assert [item.source_uid for item in items] == [
        "indico-event-1234@indico.un.org",
        "indico-event-1235@indico.un.org",
        "indico-event-1236@indico.un.org",
    ]
    assert poll(store, feed.id, FeedFetcher(), offers) == []


def test_a_malformed_feed_is_reported_once_and_a_success_clears_the_failure(
    store: Store, group_id: int, server: FeedServer
) -> None:
    server.put("/rss", b"<html><body>Service unavailable</body></html>", "text/html")
    feed = store.feeds.configure(group_id, server.url("/rss"))
    fetcher, offers = FeedFetcher(), Offers()
    for _ in range(2):
        with pytest.raises(PollFailed):
            poll(store, feed.id, fetcher, offers)
    assert len(offers.reported) == 1
    assert "not an RSS or Atom feed" in offers.reported[0]
    failing = store.feeds.get(feed.id)
    assert failing is not None and failing.failure_reported and failing.last_failure_at == NOW

    server.put("/rss", rss(2))
    assert len(poll(store, feed.id, fetcher, offers)) == 2
    recovered = store.feeds.get(feed.id)
    assert recovered is not None
    assert (recovered.failure_reported, recovered.failure_reason) == (False, None)
    server.put("/rss", b"garbage")
    with pytest.raises(PollFailed):
        poll(store, feed.id, fetcher, offers)
    assert len(offers.reported) == 2  # a new run of failures is reported again


def test_an_oversized_feed_is_reported_without_a_crash_and_nothing_is_seen(
    store: Store, group_id: int, server: FeedServer
) -> None:
    server.put("/big", rss(2000))
    feed = store.feeds.configure(group_id, server.url("/big"))
    offers = Offers()
    with pytest.raises(PollFailed) as failed:
        poll(store, feed.id, FeedFetcher(max_bytes=64 * 1024), offers)
    assert failed.value.reason == f"larger than {64 * 1024} bytes"
    assert offers.reported == [failed.value.reason]
    assert store.feeds.seen_count(feed.id) == 0


def test_a_missing_feed_and_an_unreachable_server_are_failures(
    store: Store, group_id: int, server: FeedServer
) -> None:
    missing = store.feeds.configure(group_id, server.url("/gone"))
    closed = store.feeds.configure(group_id, "http://127.0.0.1:9/feed")
    offers = Offers()
    for feed in (missing, closed):
        with pytest.raises(PollFailed):
            poll(store, feed.id, FeedFetcher(timeout=2), offers)
    assert offers.reported[0] == "HTTP 404"
    assert offers.reported[1].startswith("connection failed")


def test_the_fetcher_stops_reading_past_its_limit_when_no_length_is_declared(
    server: FeedServer,
) -> None:
    server.put("/big", rss(20000), declare_length=False)
    with pytest.raises(FetchFailed, match="larger than"):
        FeedFetcher(max_bytes=64 * 1024).fetch(server.url("/big"))
    # The server is cut off before it has sent everything.
    deadline = time.monotonic() + 5
    while not server.unsent["/big"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.unsent["/big"] > 0


def test_a_server_too_slow_to_answer_is_a_timeout(server: FeedServer) -> None:
    server.put("/slow", rss(1))
    server.stall("/slow", 3)
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="timed out"):
        FeedFetcher(timeout=0.5).fetch(server.url("/slow"))
    assert time.monotonic() - started < 2


def test_non_http_urls_and_redirects_to_them_are_refused(server: FeedServer) -> None:
    fetcher = FeedFetcher()
    for url in ("ftp://127.0.0.1/feed", "file:///etc/passwd"):
        with pytest.raises(FetchFailed, match="not an http or https URL"):
            fetcher.fetch(url)
    server.redirect("/moved", "file:///etc/passwd")
    with pytest.raises(FetchFailed, match="not an http or https URL"):
        fetcher.fetch(server.url("/moved"))
    server.put("/rss", rss(1))
    server.redirect("/old", "/rss")
    fetched = fetcher.fetch(server.url("/old"))
    assert isinstance(fetched, Fetched) and len(fetched.body) > 0


def test_a_conditional_request_by_last_modified_alone_is_answered_not_modified(
    server: FeedServer,
) -> None:
    server.put("/rss", rss(1))
    first = FeedFetcher().fetch(server.url("/rss"))
    assert isinstance(first, Fetched)
    again = FeedFetcher().fetch(server.url("/rss"), last_modified=first.last_modified)
    assert again is NOT_MODIFIED
