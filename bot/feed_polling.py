"""Polling the groups' configured feeds: new items offered once, failures reported once.

:func:`poll_feed` is one poll of one feed: fetch (conditionally), parse, and in one
transaction keep what was seen and hand the new items to ``offer`` (which queues the
coordinators' notice in the same unit of work). :class:`FeedPoller` is the loop that runs it
for every feed, every ``[feeds] poll_minutes``; a feed that fails is tried again after a
growing pause (:class:`bot.backoff.Backoff`) and its failure reported once, until it works.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.backoff import Backoff
from bot.config import AppConfig
from bot.feed_fetch import FeedFetcher, Fetched, FetchFailed, NotModified
from bot.feeds import FeedError, ImportedItem, parse_any
from bot.i18n import Catalogs
from bot.types import Outgoing, Platform, Reply
from storage.feeds import FeedRecord
from storage.store import Store

log = logging.getLogger(__name__)

FIRST_RETRY = 60.0
"""Seconds before a failed feed is tried again the first time; doubled each time after."""


class Fetcher(Protocol):
    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Fetched | NotModified: ...


Offer = Callable[[FeedRecord, list[ImportedItem], bool], bool]
"""Called with a feed's new items inside the poll's transaction (never with none), and
whether the feed is a calendar (its items' dates are events', not publications'); False
when nobody could be told (no coordinator the bot can write to): the items are then not
marked seen, and the next poll reads the feed in full and offers them again."""
Report = Callable[[FeedRecord, str], object]
"""Called with a feed's failure reason inside the transaction that records it, once per run
of failures."""


def is_calendar(body: bytes) -> bool:
    """Whether ``body`` is read as an iCalendar file (as :func:`bot.feeds.parse_any` does):
    its items' dates are then events', not articles' publication dates."""
    return body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").upper().startswith(b"BEGIN:VCALENDAR")


class _NobodyTold(Exception):
    """The new items reached nobody: the poll's transaction is rolled back."""


class PollFailed(Exception):
    """The poll failed; ``reason`` is short and fit for a log line and a notice."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def fetch_feed(fetcher: Fetcher, feed: FeedRecord) -> Fetched | NotModified:
    """The network half of a poll (blocking): :class:`PollFailed` when it fails."""
    try:
        return fetcher.fetch(feed.url, etag=feed.etag, last_modified=feed.last_modified)
    except FetchFailed as failure:
        raise PollFailed(failure.reason) from None


def record_poll(
    store: Store,
    feed: FeedRecord,
    fetched: Fetched | NotModified | PollFailed,
    now: datetime,
    *,
    offer: Offer | None = None,
    report: Report | None = None,
) -> list[ImportedItem]:
    """The storage half of a poll, in one transaction: the new items (offered), or none."""
    if isinstance(fetched, NotModified):
        store.feeds.record_unchanged(feed.id, at=now)
        log.info("feed_unchanged feed=%d", feed.id)
        return []
    failure = fetched if isinstance(fetched, PollFailed) else None
    items: list[ImportedItem] = []
    calendar = isinstance(fetched, Fetched) and is_calendar(fetched.body)
    if isinstance(fetched, Fetched):
        try:
            items = parse_any(fetched.body)
        except FeedError as error:
            failure = PollFailed(error.reason)
    if failure is not None:
        with store.transaction():
            first = store.feeds.record_failure(feed.id, failure.reason[:200], at=now)
            if first and report is not None:
                report(feed, failure.reason)
        log.warning("feed_failed feed=%d reason=%r reported=%s", feed.id, failure.reason, first)
        raise failure
    assert isinstance(fetched, Fetched)
    by_uid = {item.source_uid: item for item in items}
    try:
        with store.transaction():
            new_uids = store.feeds.record_items(
                feed.id,
                list(by_uid),
                etag=fetched.etag,
                last_modified=fetched.last_modified,
                at=now,
            )
            new = [by_uid[uid] for uid in new_uids]
            if new and offer is not None and not offer(feed, new, calendar):
                raise _NobodyTold
    except _NobodyTold:
        # Kept for later: no validators, so the next poll is not answered "not modified".
        store.feeds.record_items(feed.id, [], etag=None, last_modified=None, at=now)
        log.warning("feed_items_waiting feed=%d new=%d", feed.id, len(new))
        return []
    log.info("feed_polled feed=%d items=%d new=%d", feed.id, len(items), len(new))
    return new


def poll_feed(
    store: Store,
    feed: FeedRecord,
    fetcher: Fetcher,
    now: datetime,
    *,
    offer: Offer | None = None,
    report: Report | None = None,
) -> list[ImportedItem]:
    """One poll of ``feed``: its new items (new since any earlier poll), the state kept in
    one transaction; :class:`PollFailed` (recorded, and reported once) when it fails."""
    try:
        fetched: Fetched | NotModified | PollFailed = fetch_feed(fetcher, feed)
    except PollFailed as failure:
        fetched = failure
    return record_poll(store, feed, fetched, now, offer=offer, report=report)


def configured_feeds(config: AppConfig, store: Store) -> list[FeedRecord]:
    """The feeds the configuration lists, each made known to the store (its state kept)."""
    feeds: list[FeedRecord] = []
    for group in config.working_groups:
        found = store.groups.by_slug(group.slug) if group.feeds else None
        if found is None:
            continue
        feeds.extend(store.feeds.configure(found.id, url) for url in group.feeds)
    return feeds


class Turns(Protocol):
    """Where the poller's writes run and its notices are queued (the dispatcher)."""

    async def between_events(self, work: Callable[[], set[Platform]]) -> None: ...

    def queue(self, replies: Sequence[Outgoing]) -> None: ...


NoticesFor = Callable[[FeedRecord, list[ImportedItem], bool], Sequence[Reply] | None]
"""The notices of a feed's new items; ``None`` when they make nothing new to tell (each
was drafted before, by an import): they are then kept as seen."""
FailureNoticesFor = Callable[[FeedRecord, str], Sequence[Reply]]


@dataclass
class _Schedule:
    due: datetime
    backoff: Backoff


class FeedPoller:
    """Polls each configured feed every ``[feeds] poll_minutes``: the fetch in a thread,
    the rest between two events on the router's thread, the notices (``offer``,
    ``report``) queued in the poll's transaction. A failing feed is tried again after
    1, 2, 4 ... minutes, up to the poll interval. Only cancellation ends :meth:`run`."""

    def __init__(
        self,
        config: AppConfig,
        store: Store,
        catalogs: Catalogs,
        turns: Turns,
        *,
        offer: NoticesFor,
        report: FailureNoticesFor,
        fetcher: Fetcher | None = None,
        first_retry: float = FIRST_RETRY,
    ) -> None:
        self._config = config
        self._store = store
        self._catalogs = catalogs
        self._turns = turns
        self._offer = offer
        self._report = report
        self._fetcher = fetcher or FeedFetcher(
            max_bytes=config.feeds.max_bytes, timeout=config.feeds.timeout_seconds
        )
        self._every = timedelta(minutes=config.feeds.poll_minutes)
        self._first_retry = first_retry
        self._stopping = asyncio.Event()
        self._schedules: dict[int, _Schedule] = {}
        self._feeds: list[FeedRecord] | None = None

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            await self.poll_due()
            if self._feeds == []:
                log.info("feeds_none: no feed configured, nothing to poll")
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._sleep_seconds())

    def _sleep_seconds(self) -> float:
        if not self._schedules:
            return self._first_retry
        soonest = min(schedule.due for schedule in self._schedules.values())
        return max(1.0, min((soonest - self._store.now()).total_seconds(), 3600.0))

    async def poll_due(self, *, every_feed: bool = False) -> int:
        """Poll every feed that is due now (``every_feed``: due or not); how many were polled."""
        if self._feeds is None:
            found: list[FeedRecord] = []

            def load() -> set[Platform]:
                found.extend(configured_feeds(self._config, self._store))
                return set()

            try:
                await self._turns.between_events(load)
            except Exception as error:  # the database away: try again at the next turn
                log.warning("feeds_unreadable error=%s", type(error).__name__)
                return 0
            self._feeds = found
        polled = 0
        for feed in self._feeds:
            if self._stopping.is_set():
                break
            schedule = self._schedules.setdefault(
                feed.id,
                _Schedule(
                    self._store.now(),
                    Backoff(
                        f"feed {feed.id}",
                        first=self._first_retry,
                        longest=max(self._first_retry, self._every.total_seconds()),
                    ),
                ),
            )
            if schedule.due > self._store.now() and not every_feed:
                continue
            polled += 1
            await self._poll_one(feed, schedule)
        return polled

    async def _poll_one(self, feed: FeedRecord, schedule: _Schedule) -> None:
        current = self._store.feeds.get(feed.id) or feed  # the validators of the last poll
        try:
            fetched: Fetched | NotModified | PollFailed = await asyncio.to_thread(
                fetch_feed, self._fetcher, current
            )
        except PollFailed as failure:
            fetched = failure
        outcome: list[BaseException] = []

        def record() -> set[Platform]:
            queued: set[Platform] = set()

            def queue(replies: Sequence[Reply] | None) -> bool:
                if replies is None:
                    return True
                rendered = [self._rendered(reply) for reply in replies if reply.to is not None]
                self._turns.queue(rendered)
                queued.update(message.platform for message in rendered)
                return bool(rendered)

            try:
                record_poll(
                    self._store,
                    current,
                    fetched,
                    self._store.now(),
                    offer=lambda f, items, calendar: queue(self._offer(f, items, calendar)),
                    report=lambda f, reason: queue(self._report(f, reason)),
                )
            except Exception as error:
                outcome.append(error)
            return queued

        await self._turns.between_events(record)
        now = self._store.now()
        if outcome:
            error = outcome[0]
            if not isinstance(error, PollFailed):
                log.error("feed_poll_error feed=%d error=%s", feed.id, type(error).__name__)
            reason = error.reason if isinstance(error, PollFailed) else type(error).__name__
            schedule.due = now + timedelta(seconds=schedule.backoff.failed(reason))
            return
        schedule.backoff.succeeded()
        schedule.due = now + self._every

    def _rendered(self, reply: Reply) -> Outgoing:
        to = reply.to
        assert to is not None
        language = reply.language or self._config.default_language
        return self._catalogs.render_reply(
            reply,
            language,
            to.platform,
            to.room_id,
            private_to=to.user_id if reply.confidential else None,
        )
