"""The scheduler: work due at a time (reminders, poll deadlines, announcements), done once.

Work is a row of ``store.scheduled`` (:mod:`storage.scheduled`), never a job in memory or
in APScheduler's stores. :meth:`Scheduler.run_due` takes each due row in a unit of work of
its own: the row claimed (a conditional update only one process wins), its kind's handler
run (:meth:`bot.registry.Registry.scheduled`), the notices it returns rendered and queued
in the outbox, and the row marked done, all committed together. So a crash before the
commit leaves the row pending and nothing queued, and two processes on one database never
both do a row. A row found ``sending`` at start was left by a process that stopped in a
way this cannot rule out: it is marked ``unknown``, logged, counted in ``/health``, and not
repeated.

Lateness is the kind's (``[scheduler] lateness_hours`` may change it): a row due while the
bot was down is done at start when it is at most ``lateness`` late, and skipped with a log
line beyond it (its handler may also skip it: :class:`bot.registry.NoLongerUseful`). A
handler that fails is tried again after a growing pause, :data:`MAX_ATTEMPTS` times in all,
then the row is ``failed`` with the error's class.

Repeating work (a weekly digest) is a row per occurrence: APScheduler's ``CronTrigger``
computes the next time on a time zone's clock (:func:`next_time`), and the occurrence done schedules
the next under a key of its own (:func:`occurrence_key`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.backoff import Backoff
from bot.config import AppConfig
from bot.context import HandlerStore
from bot.i18n import Catalogs
from bot.logs import raised_at
from bot.outgoing import OutgoingItem
from bot.queueing import queue_replies
from bot.registry import NoLongerUseful, Registry
from bot.types import Outgoing, Platform, Reply
from storage import StorageUnavailable, Store
from storage.scheduled import ScheduledRecord, ScheduledState, ScheduledStore

log = logging.getLogger(__name__)

Planner = Callable[[OutgoingItem], list[OutgoingItem]]
"""Cuts an item into the parts its platform sends (``bot.outbox.Planner``; not imported, so
that capabilities may import this module without the delivery machinery)."""

MAX_ATTEMPTS = 3
"""Tries of a failing handler before its row is ``failed``."""
FIRST_RETRY = timedelta(minutes=1)
"""The pause before the second try; it doubles before each later one."""


def retry_pause(attempt: int) -> timedelta:
    """The pause after the ``attempt``-th failed try (1, 2, ...): 1, 2, 4 ... minutes."""
    return FIRST_RETRY * (1 << max(attempt - 1, 0))


def next_time(rule: str, zone: str, after: datetime) -> datetime | None:
    """The first time strictly after ``after`` that the crontab ``rule`` (``"0 9 * * MON"``)
    names on the clocks of time zone ``zone``, in UTC; ``None`` if it names none.

    Each wall-clock time fires once, on daylight-saving days too: a time the clocks skip
    fires at the instant an hour on (02:30 becomes 03:30), a time they repeat fires at its
    first pass. ``CronTrigger`` matches the rule against the wall clock (read as UTC, where
    no day has a gap); ``zoneinfo`` places that wall time in the zone. (In the zone itself
    APScheduler 3 fires a repeated time twice, and skips some gaps' day altogether.)"""
    tz = ZoneInfo(zone)
    trigger = CronTrigger.from_crontab(rule, timezone=UTC)
    wall = after.astimezone(tz).replace(tzinfo=UTC)
    for _ in range(_SEARCHES):
        fire: datetime | None = trigger.get_next_fire_time(None, wall + timedelta(seconds=1))
        if fire is None:
            return None
        # fold=0: a repeated time's first pass; a skipped time at the offset before the gap.
        instant = fire.replace(tzinfo=tz).astimezone(UTC)
        if instant > after:
            return instant
        wall = fire  # ``after`` fell in a repeated hour past this wall time's first pass
    return None


_SEARCHES = 3


def occurrence_key(series: str, due_at: datetime) -> str:
    """The key of one occurrence of repeating work: ``series`` and its time (UTC)."""
    return f"{series}@{due_at.astimezone(UTC):%Y-%m-%dT%H:%M}Z"


def series_of(key: str) -> str:
    """The series an occurrence's key belongs to (see :func:`occurrence_key`)."""
    return key.rpartition("@")[0] or key


def schedule_repeating(
    scheduled: ScheduledStore,
    series: str,
    kind: str,
    rule: str,
    zone: str,
    target: Mapping[str, Any],
    *,
    after: datetime,
) -> ScheduledRecord | None:
    """Schedule the first occurrence after ``after`` of repeating work; each occurrence,
    once done (or skipped, or failed), schedules the next. ``None``: the rule names no
    later time. Cancel the series with ``cancel_prefix(series + "@")``."""
    due = next_time(rule, zone, after)
    if due is None:
        return None
    return scheduled.schedule(
        occurrence_key(series, due), kind, due, target, rule=rule, time_zone=zone
    )


@dataclass(frozen=True)
class ScheduledContext:
    """What a scheduled handler is given: the handlers' view of the store (its clock too),
    the catalogs, the configuration (enabled platforms, default language, time zone)."""

    store: HandlerStore
    catalogs: Catalogs
    config: AppConfig


class Scheduler:
    """Does the due rows of ``store.scheduled`` with the registered kinds' handlers.

    ``planners`` cut each notice into what its platform sends (as the dispatcher's do);
    ``on_enqueued`` wakes a platform's outbox after a commit that queued for it."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        catalogs: Catalogs,
        config: AppConfig,
        *,
        planners: Mapping[Platform, Planner] | None = None,
        on_enqueued: Callable[[Platform], None] | None = None,
        poll_seconds: float = 30.0,
    ) -> None:
        self._store = store
        self._registry = registry
        self._catalogs = catalogs
        self._config = config
        self._context = ScheduledContext(HandlerStore.of(store), catalogs, config)
        self._planners = dict(planners or {})
        self._on_enqueued = on_enqueued
        self._poll_seconds = poll_seconds
        self._lateness = {
            kind: timedelta(hours=hours) for kind, hours in config.scheduler.lateness_hours.items()
        }
        self._woken = asyncio.Event()
        self._stopping = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scheduler")

    def add_platform(self, platform: Platform, planner: Planner) -> None:
        self._planners[platform] = planner

    # -- on the scheduler's thread --------------------------------------------------------

    def recover(self) -> list[ScheduledRecord]:
        """At start: rows left ``sending`` become ``unknown``, each logged (never repeated);
        a configured lateness for a kind no capability registered is logged too."""
        for kind in sorted(self._lateness):
            if self._registry.scheduled_kind(kind) is None:
                log.warning("scheduler_config lateness_hours names unregistered kind=%s", kind)
        found = self._store.scheduled.interrupted()
        for row in found:
            log.warning(
                "scheduled_unknown id=%d kind=%s due_at=%s: interrupted while being done; "
                "not repeated",
                row.id,
                row.kind,
                f"{row.due_at:%Y-%m-%dT%H:%M}Z",
            )
        return found

    def run_due(self, limit: int = 100, queued: set[Platform] | None = None) -> int:
        """Do the rows due by the store's clock, each in a unit of work of its own, up to
        ``limit``; how many rows were taken (done, skipped or failed). ``queued`` gathers
        the platforms that got messages (their outboxes are woken on the event loop)."""
        taken = 0
        while taken < limit:
            with self._store.transaction():
                row = self._store.scheduled.claim_due()
                if row is None:
                    break
                platforms = self._do(row)
            taken += 1
            if queued is not None:
                queued |= platforms
        return taken

    def _do(self, row: ScheduledRecord) -> set[Platform]:
        """The claimed row's work, in the open unit; the platforms that got messages."""
        scheduled = self._store.scheduled
        spec = self._registry.scheduled_kind(row.kind)
        if spec is None:
            log.error("scheduled_failed id=%d kind=%s error=unregistered kind", row.id, row.kind)
            scheduled.finish(row.id, ScheduledState.FAILED, "unregistered kind")
            return set()
        now = self._store.now()
        late = now - row.due_at
        lateness = self._lateness.get(row.kind, spec.lateness)
        if late > lateness:
            log.warning(
                "scheduled_skipped id=%d kind=%s reason=late late_by=%ds lateness=%ds",
                row.id,
                row.kind,
                late.total_seconds(),
                lateness.total_seconds(),
            )
            scheduled.finish(row.id, ScheduledState.SKIPPED, "late")
            self._repeat(row, now)
            return set()
        try:
            with self._store.savepoint():
                outgoing = self._rendered(spec.handler(self._context, row))
                self._enqueue(outgoing)
        except NoLongerUseful as skip:
            log.info("scheduled_skipped id=%d kind=%s reason=%s", row.id, row.kind, skip.reason)
            scheduled.finish(row.id, ScheduledState.SKIPPED, skip.reason)
            self._repeat(row, now)
            return set()
        except StorageUnavailable:
            raise  # the unit rolls back: the row is still pending, tried again later
        except Exception as error:
            self._failed(row, error, now)
            return set()
        scheduled.finish(row.id, ScheduledState.DONE)
        log.info("scheduled_done id=%d kind=%s messages=%d", row.id, row.kind, len(outgoing))
        self._repeat(row, now)
        return {reply.platform for reply in outgoing}

    def _failed(self, row: ScheduledRecord, error: Exception, now: datetime) -> None:
        name = type(error).__name__
        attempt = row.attempts + 1
        if attempt < MAX_ATTEMPTS:
            pause = retry_pause(attempt)
            log.warning(
                "scheduled_retry id=%d kind=%s error=%s at=%s attempt=%d in=%ds",
                row.id,
                row.kind,
                name,
                raised_at(error),
                attempt,
                pause.total_seconds(),
            )
            self._store.scheduled.retry_at(row.id, now + pause, name)
            return
        log.error(
            "scheduled_failed id=%d kind=%s error=%s at=%s attempts=%d",
            row.id,
            row.kind,
            name,
            raised_at(error),
            attempt,
        )
        self._store.scheduled.finish(row.id, ScheduledState.FAILED, name)
        self._repeat(row, now)

    def _repeat(self, row: ScheduledRecord, now: datetime) -> None:
        """Repeating work: the next occurrence after this one (and after now: occurrences
        missed while the bot was down are not made up)."""
        if row.rule is None or row.time_zone is None:
            return
        schedule_repeating(
            self._store.scheduled,
            series_of(row.key),
            row.kind,
            row.rule,
            row.time_zone,
            row.target,
            after=max(row.due_at, now),
        )

    def _rendered(self, replies: Sequence[Reply]) -> list[Outgoing]:
        rendered = []
        for reply in replies:
            if reply.to is None:
                raise ValueError("a scheduled notice must say where it goes (Reply.to)")
            rendered.append(
                self._catalogs.render_reply(
                    reply,
                    reply.language or self._config.default_language,
                    reply.to.platform,
                    reply.to.room_id,
                    private_to=reply.to.user_id if reply.confidential else None,
                )
            )
        return rendered

    def _enqueue(self, replies: list[Outgoing]) -> None:
        queue_replies(self._store, replies, self._planners)

    def _wake(self, platforms: set[Platform]) -> None:
        """On the event loop: the outboxes that got messages."""
        if self._on_enqueued is not None:
            for platform in platforms:
                self._on_enqueued(platform)

    # -- on the event loop ----------------------------------------------------------------

    def wake(self) -> None:
        """Look for due work now (something was just scheduled)."""
        self._woken.set()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Mark interrupted rows, then do due work until :meth:`stop`: at each row's time,
        and at least every ``poll_seconds``. A database that is away is waited for."""
        loop = asyncio.get_running_loop()
        backoff = Backoff("scheduler", stopping=self._stopping)
        recovered = False
        try:
            while not self._stopping.is_set():
                self._woken.clear()
                try:
                    if not recovered:
                        await loop.run_in_executor(self._executor, self.recover)
                        recovered = True
                    queued: set[Platform] = set()
                    try:
                        await loop.run_in_executor(self._executor, self.run_due, 100, queued)
                    finally:
                        self._wake(queued)
                    wait = await loop.run_in_executor(self._executor, self._seconds_to_next)
                except Exception as error:
                    await backoff.pause(error)
                    continue
                backoff.succeeded()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._woken_or_stopping(), timeout=wait)
        finally:
            self._executor.shutdown(wait=True)

    def _seconds_to_next(self) -> float:
        due = self._store.scheduled.next_due_at()
        if due is None:
            return self._poll_seconds
        until = (due - self._store.now()).total_seconds()
        return min(self._poll_seconds, max(until, 0.0))

    async def _woken_or_stopping(self) -> None:
        woken = asyncio.create_task(self._woken.wait())
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({woken, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            stopping.cancel()
