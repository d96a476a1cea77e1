"""Configured feeds, their polling state and the items seen in each: ``store.feeds``.

A feed is one URL of one working group (from the configuration). What a poll learns is
kept in one transaction: the validators for the next conditional request (ETag,
Last-Modified), the items not seen before (by the source's own id, so an item is offered
once across polls and restarts), and success or failure, with whether the failure was
already reported to the group's coordinators (once per run of failures).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Feed, FeedItemSeen
from storage.units import Area
from storage.upserts import insert_unless_present
from storage.validation import check_int, check_optional_text, check_text

URL_MAX = 2000
UID_MAX = 500
REASON_MAX = 200


@dataclass(frozen=True, slots=True)
class FeedRecord:
    """A feed and its polling state."""

    id: int
    working_group_id: int
    url: str
    etag: str | None
    last_modified: str | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    failure_reason: str | None
    failure_reported: bool


def _record(feed: Feed) -> FeedRecord:
    return FeedRecord(
        feed.id,
        feed.working_group_id,
        feed.url,
        feed.etag,
        feed.last_modified,
        feed.last_success_at,
        feed.last_failure_at,
        feed.failure_reason,
        feed.failure_reported,
    )


class FeedStore(Area):
    """Feeds polled for working groups (``store.feeds``)."""

    def configure(self, working_group_id: int, url: str) -> FeedRecord:
        """The feed ``url`` of the group, made if it is new (its state kept if not)."""
        check_int("working group id", working_group_id, minimum=1)
        check_text("feed url", url, URL_MAX)
        now = self._now()

        def configure_in(session: Session) -> FeedRecord:
            insert_unless_present(
                session,
                Feed,
                {
                    "working_group_id": working_group_id,
                    "url": url,
                    "created_at": now,
                    "failure_reported": False,
                },
                ("working_group_id", "url"),
            )
            feed = session.scalars(
                select(Feed).where(Feed.working_group_id == working_group_id, Feed.url == url)
            ).one()
            return _record(feed)

        return self._run(configure_in)

    def get(self, feed_id: int) -> FeedRecord | None:
        def get_in(session: Session) -> FeedRecord | None:
            feed = session.get(Feed, feed_id)
            return None if feed is None else _record(feed)

        return self._read(get_in)

    def all(self) -> list[FeedRecord]:
        """Every feed, by id."""

        def all_in(session: Session) -> list[FeedRecord]:
            return [_record(feed) for feed in session.scalars(select(Feed).order_by(Feed.id))]

        return self._read(all_in)

    def record_items(
        self,
        feed_id: int,
        source_uids: Sequence[str],
        *,
        etag: str | None,
        last_modified: str | None,
        at: datetime | None = None,
    ) -> list[str]:
        """A successful poll: the items' ids not seen before (in the order given), now seen;
        the validators kept for the next request, and any failure cleared."""
        check_int("feed id", feed_id, minimum=1)
        for uid in source_uids:
            check_text("item id", uid, UID_MAX)
        check_optional_text("etag", etag, 500)
        check_optional_text("last modified", last_modified, 100)
        now = at or self._now()

        def record_in(session: Session) -> list[str]:
            feed = session.get(Feed, feed_id, with_for_update=True)
            if feed is None:
                return []
            # The feed's row is locked: no other poll of it adds items meanwhile.
            given = list(dict.fromkeys(source_uids))
            seen = set(
                session.scalars(
                    select(FeedItemSeen.source_uid).where(
                        FeedItemSeen.feed_id == feed_id, FeedItemSeen.source_uid.in_(given)
                    )
                )
            )
            new = [uid for uid in given if uid not in seen]
            session.add_all(
                FeedItemSeen(feed_id=feed_id, source_uid=uid, seen_at=now) for uid in new
            )
            feed.etag, feed.last_modified = etag, last_modified
            _succeeded(feed, now)
            return new

        return self._run(record_in)

    def record_unchanged(self, feed_id: int, *, at: datetime | None = None) -> None:
        """A poll answered "not modified": a success with nothing new."""
        now = at or self._now()

        def unchanged_in(session: Session) -> None:
            feed = session.get(Feed, feed_id)
            if feed is not None:
                _succeeded(feed, now)

        self._run(unchanged_in)

    def record_failure(self, feed_id: int, reason: str, *, at: datetime | None = None) -> bool:
        """A failed poll, with a short reason (no content); True when this failure is the
        first of its run, to be reported now (later ones are not, until a success)."""
        check_text("reason", reason, REASON_MAX)
        now = at or self._now()

        def failure_in(session: Session) -> bool:
            feed = session.get(Feed, feed_id, with_for_update=True)
            if feed is None:
                return False
            feed.last_failure_at, feed.failure_reason = now, reason
            first = not feed.failure_reported
            feed.failure_reported = True
            return first

        return self._run(failure_in)

    def seen_count(self, feed_id: int) -> int:
        """How many items of the feed have been seen."""

        def count_in(session: Session) -> int:
            counted = select(func.count()).where(FeedItemSeen.feed_id == feed_id)
            return int(session.scalar(counted) or 0)

        return self._read(count_in)


def _succeeded(feed: Feed, now: datetime) -> None:
    feed.last_success_at = now
    feed.failure_reason = None
    feed.failure_reported = False
