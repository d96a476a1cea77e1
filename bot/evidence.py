"""Evidence files of case reports, fetched from the platforms and kept in the database.

A report keeps only the platform's reference to each file a member sent with it; once the
report is submitted, storage holds one pending attachment per file. :class:`EvidenceFetcher`
downloads them through each platform's :class:`bot.media.MediaSource` and stores them
(sealed by the store). Everything it needs is in the database, so a restart simply picks up
where the last run stopped; back-off timers live in memory and start afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from bot.media import (
    MB,
    TELEGRAM_DOWNLOAD_LIMIT,
    MediaError,
    MediaSource,
    MediaTooLarge,
    MediaUnavailable,
)
from bot.outbox import STOP_GRACE_SECONDS, TransientFailure
from bot.types import Platform
from storage import Store
from storage.case_records import PendingAttachment

log = logging.getLogger(__name__)

EVIDENCE_LIMIT = 50 * MB
"""The largest evidence file kept, where the platform itself allows more."""

BATCH = 20
"""Pending files read per query, besides those waiting for a retry."""


def download_limit(platform: Platform) -> int:
    """The largest file fetched from ``platform`` (a bot downloads 20 MB from Telegram)."""
    return TELEGRAM_DOWNLOAD_LIMIT if platform is Platform.TELEGRAM else EVIDENCE_LIMIT


@dataclass(frozen=True)
class EvidenceQuota:
    """The most evidence bytes kept per report, and per member over any 24 hours."""

    per_report: int
    per_member_per_day: int


@dataclass(frozen=True)
class FetchPolicy:
    """Back-off for transient failures: base * 2^(attempt-1), capped; given up for good
    after ``max_attempts`` failed fetches (counted in the database)."""

    base_seconds: float = 5.0
    cap_seconds: float = 600.0
    max_attempts: int = 20
    poll_seconds: float = 30.0
    """How often the database is asked for new files when nobody calls :meth:`wake`."""

    def delay(self, attempts: int) -> float:
        return float(min(self.cap_seconds, self.base_seconds * 2.0 ** max(0, attempts - 1)))


class EvidenceFetcher:
    """Fetches pending evidence files until stopped: each platform's one after another,
    the platforms side by side.

    Store calls are blocking and run in threads (``asyncio.to_thread``), as the outbox's do.
    """

    def __init__(
        self,
        store: Store,
        sources: Mapping[Platform, MediaSource],
        *,
        policy: FetchPolicy | None = None,
        quota: EvidenceQuota | None = None,
    ) -> None:
        self._store = store
        self._quota = quota
        self._sources = dict(sources)
        self._policy = policy or FetchPolicy()
        self._wakes = {platform: asyncio.Event() for platform in self._sources}
        self._stopped = asyncio.Event()
        self._stopping = False
        # Attachment id -> its platform and the loop time before which a transiently
        # failed fetch is not tried again.
        self._retry_plan: dict[int, tuple[Platform, float]] = {}
        self.stored = 0
        self.failed = 0

    def wake(self) -> None:
        """Reports were submitted: look for their files now rather than at the next poll."""
        for event in self._wakes.values():
            event.set()

    def stop(self) -> None:
        """Finish the file under way (briefly) and stop; what is left waits for the next run."""
        self._stopping = True
        self._stopped.set()
        self.wake()

    async def run(self) -> None:
        log.info("evidence_started platforms=%s", ",".join(sorted(self._sources)))
        tasks = [
            asyncio.create_task(self._serve(platform, source), name=f"evidence-{platform}")
            for platform, source in self._sources.items()
        ]
        try:
            await self._stopped.wait()
        finally:
            # A fetch under way may finish and be stored; a cancelled one is fetched again
            # next time (nothing was written for it).
            running = [task for task in tasks if not task.done()]
            if running:
                await asyncio.wait(running, timeout=STOP_GRACE_SECONDS)
            for task in running:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(self, platform: Platform, source: MediaSource) -> None:
        loop = asyncio.get_running_loop()
        wake = self._wakes[platform]
        while not self._stopping:
            try:
                await self._fetch_due(platform, source)
            except Exception as error:
                log.error(
                    "evidence_pass_failed platform=%s error=%s", platform, type(error).__name__
                )
            timeout = self._policy.poll_seconds
            soonest = self._soonest_retry(platform)
            if soonest is not None:
                timeout = max(0.0, min(timeout, soonest - loop.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=timeout)
            wake.clear()

    def _soonest_retry(self, platform: Platform) -> float | None:
        planned = [at for kind, at in self._retry_plan.values() if kind is platform]
        return min(planned, default=None)

    async def _fetch_due(self, platform: Platform, source: MediaSource) -> None:
        """Fetch every pending file of ``platform`` not waiting for a retry."""
        loop = asyncio.get_running_loop()
        while not self._stopping:
            waiting = sum(1 for kind, _ in self._retry_plan.values() if kind is platform)
            limit = BATCH + waiting
            rows = await asyncio.to_thread(
                self._store.cases.pending_attachments, platform.value, limit
            )
            if len(rows) < limit:
                # Every pending file was read: forget the retries of files gone meanwhile.
                pending = {row.id for row in rows}
                for ident, (kind, _) in list(self._retry_plan.items()):
                    if kind is platform and ident not in pending:
                        del self._retry_plan[ident]
            now = loop.time()
            due = [row for row in rows if self._due(row.id, now)]
            if not due:
                return
            for row in due:
                if self._stopping:
                    return
                await self._fetch_one(platform, source, row)

    def _due(self, attachment_id: int, now: float) -> bool:
        planned = self._retry_plan.get(attachment_id)
        return planned is None or planned[1] <= now

    async def _fetch_one(
        self, platform: Platform, source: MediaSource, row: PendingAttachment
    ) -> None:
        self._retry_plan.pop(row.id, None)
        limit = download_limit(platform)
        ref = row.source.get("ref")
        declared = row.source.get("size")
        try:
            if not isinstance(ref, str) or not ref:
                raise MediaUnavailable("no file reference")
            if isinstance(declared, int) and declared > limit:
                raise MediaTooLarge(declared)  # known too large: not even fetched
            data = await source.fetch(ref, limit)
        except MediaError as error:
            await self._give_up(row, type(error).__name__)
            return
        except TransientFailure as error:
            await self._retry_later(platform, row, type(error).__name__)
            return
        except Exception as error:
            # A bug must not keep one file pending for ever, nor stop the others.
            log.error(
                "evidence_fetch_crashed case=%d attachment=%d error=%s",
                row.case_id,
                row.id,
                type(error).__name__,
            )
            await self._retry_later(platform, row, type(error).__name__)
            return
        try:
            over = await asyncio.to_thread(self._over_quota, row, len(data))
            if over is not None:
                await self._give_up(row, f"over the {over} evidence quota")
                return
            kept = await asyncio.to_thread(self._store.cases.store_attachment, row.id, data)
        except Exception as error:
            # Fetched but not kept (the database is away): fetched again later, uncounted.
            log.warning(
                "evidence_store_failed case=%d attachment=%d error=%s",
                row.case_id,
                row.id,
                type(error).__name__,
            )
            self._plan_retry(platform, row.id, row.attempts + 1)
            return
        if not kept:
            log.info("evidence_dropped case=%d attachment=%d (withdrawn)", row.case_id, row.id)
            return
        self.stored += 1
        log.info("evidence_stored case=%d attachment=%d bytes=%d", row.case_id, row.id, len(data))

    def _over_quota(self, row: PendingAttachment, size: int) -> str | None:
        """Which quota keeping ``size`` more bytes would break ("report", "daily"), if any."""
        if self._quota is None:
            return None
        cases = self._store.cases
        if cases.evidence_bytes(row.case_id, leave_out=row.id) + size > self._quota.per_report:
            return "report"
        author = cases.author_of_attachment(row.id)
        if author is None:
            return None  # withdrawn meanwhile: storing it keeps nothing either
        since = self._store.now() - timedelta(days=1)
        earlier = cases.evidence_bytes_of_author(author, since, leave_out=row.id)
        if earlier + size > self._quota.per_member_per_day:
            return "daily"
        return None

    async def _give_up(self, row: PendingAttachment, reason: str) -> None:
        await asyncio.to_thread(self._store.cases.attachment_failed, row.id, give_up=True)
        self.failed += 1
        log.warning("evidence_failed case=%d attachment=%d reason=%s", row.case_id, row.id, reason)

    async def _retry_later(self, platform: Platform, row: PendingAttachment, reason: str) -> None:
        last = row.attempts + 1 >= self._policy.max_attempts
        if last:
            await self._give_up(row, reason)
            return
        attempts = await asyncio.to_thread(
            self._store.cases.attachment_failed, row.id, give_up=False
        )
        delay = self._plan_retry(platform, row.id, attempts)
        log.info(
            "evidence_retry case=%d attachment=%d attempt=%d retry_in=%.1f reason=%s",
            row.case_id,
            row.id,
            attempts,
            delay,
            reason,
        )

    def _plan_retry(self, platform: Platform, attachment_id: int, attempts: int) -> float:
        delay = self._policy.delay(attempts)
        self._retry_plan[attachment_id] = (platform, asyncio.get_running_loop().time() + delay)
        return delay
