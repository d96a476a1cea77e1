"""The durable inbox and the dispatcher: how every platform's events reach the one router.

A transport stores what it receives (``store.inbox.record``) before it tells the platform
the event arrived: Telegram the raw update, Matrix the event it translated during its sync
(:mod:`bot.incoming_json`). The :class:`Inbox` reads the stored, unhandled events of every
platform in one order (events kept as *waiting*, a Matrix event waiting for its room key,
are not among them until their transport makes them ready), asks the platform's transport
to read each one into a neutral event, and hands it to the :class:`Dispatcher`, which runs
the router on its one worker thread. The inbox hands over what it read in one pass as one
batch, and the dispatcher handles a batch in one transaction: each event claimed, routed,
its replies put in the outbox and marked handled, all committed together (one commit for a
sync's or a getUpdates' worth of events rather than one each), so a crash at any moment
neither loses nor repeats an event, and the outboxes start on every copy at once. Each
event runs inside a savepoint of its own: one that fails is rolled back alone and set
aside with an apology, and the others of its batch go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.backoff import Backoff
from bot.outbox import Planner
from bot.queueing import queue_replies
from bot.router import Router
from bot.types import Incoming, Origin, Outgoing, Platform
from storage import InboundRecord, StorageUnavailable, Store

log = logging.getLogger(__name__)

Inbound = tuple[Platform, str]
"""An inbound event's identity: its platform and its key there."""


@dataclass(frozen=True)
class Handover:
    """A stored event handed to the dispatcher: its identity and the neutral event read
    from it (``None``: nothing to act on, or unreadable; it is marked handled all the same)."""

    inbound: Inbound
    event: Incoming | None


class Dispatcher:
    """Runs the synchronous router on one worker thread: events are handled one at a time,
    in order, and the event loop stays free for the transports' network I/O.

    :meth:`handle_batch` is how the inbox hands over the network transports' events: for
    every event of the batch the router's work, the replies put in the outbox and the event
    marked handled commit together, in one transaction for the whole batch.
    """

    def __init__(
        self,
        router: Router,
        store: Store | None = None,
        planners: Mapping[Platform, Planner] | None = None,
        on_enqueued: Callable[[Platform], None] | None = None,
        relay_platforms: tuple[Platform, ...] = (),
    ) -> None:
        self._router = router
        self._store = store
        self._planners = dict(planners or {})
        self._on_enqueued = on_enqueued
        # The bridge may owe any of these platforms a message after any event.
        self._relay_platforms = frozenset(relay_platforms)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="router")

    def add_platform(self, platform: Platform, planner: Planner) -> None:
        """Replies for ``platform`` are stored as the parts ``planner`` cuts them into."""
        self._planners[platform] = planner

    async def handle(self, event: Incoming) -> list[Outgoing]:
        """Handle an event and return the replies (the console prints them itself)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._handle_now, event)

    async def pending_prompt(self, origin: Origin) -> list[Outgoing]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._router.pending_prompt, origin)

    async def handle_batch(self, batch: Sequence[Handover]) -> None:
        """Handle stored events in order, queue their replies and mark them handled, in one
        transaction; then wake the outboxes that have something new.

        An event that fails is rolled back alone and set aside. When the transaction as a
        whole fails (the database away or busy), the batch is handled again one event at a
        time, so that whatever can be done is, and a database that stays away is raised.
        """
        if not batch:
            return
        loop = asyncio.get_running_loop()
        queued: set[Platform] = set()
        try:
            await loop.run_in_executor(self._executor, self._handle_batch_now, batch, queued)
        finally:
            self._wake(queued)

    async def handle_durably(self, event: Incoming | None, inbound: Inbound) -> None:
        """Handle one event, queue its replies and mark it handled, in one transaction."""
        await self.handle_batch([Handover(inbound, event)])

    async def between_events(self, work: Callable[[], set[Platform]]) -> None:
        """Run ``work`` on the router's thread between two events (a feed's poll, which
        writes and queues notices with :meth:`queue`), then wake the platforms it names."""
        loop = asyncio.get_running_loop()
        self._wake(await loop.run_in_executor(self._executor, work))

    def queue(self, replies: Sequence[Outgoing]) -> None:
        """Put messages made outside any event in the outbox (in the open unit of work)."""
        self._enqueue(list(replies))

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def _wake(self, platforms: set[Platform]) -> None:
        if self._on_enqueued is not None:
            for platform in platforms:
                self._on_enqueued(platform)

    def _handle_now(self, event: Incoming) -> list[Outgoing]:
        """The replies to show where the event came from (the console prints them); those
        for another platform the dispatcher plans for are queued in its outbox instead (a
        poll created on the console goes to the group's Telegram and Matrix rooms)."""
        if self._store is None:
            return self._router.handle(event)
        with self._store.transaction():
            replies = self._router.handle(event)
            elsewhere = [
                reply
                for reply in replies
                if reply.platform is not event.origin.platform and reply.platform in self._planners
            ]
            queue_replies(self._store, elsewhere, self._planners)
        self._wake({reply.platform for reply in elsewhere})
        return [reply for reply in replies if reply not in elsewhere]

    def _handle_batch_now(self, batch: Sequence[Handover], queued: set[Platform]) -> None:
        """On the router's thread: the batch in one unit of work, or else one at a time.
        ``queued`` gathers the platforms whose outbox got messages that committed."""
        assert self._store is not None
        if len(batch) > 1:
            in_unit: set[Platform] = set()
            try:
                with self._store.transaction():
                    for handover in batch:
                        in_unit |= self._handle_in_unit(handover)
            except Exception as error:
                # Nothing of the batch is kept: its events are tried again one by one.
                log.warning("batch_failed events=%d error=%s", len(batch), type(error).__name__)
            else:
                queued |= in_unit
                return
        for handover in batch:
            queued |= self._handle_alone(handover)

    def _handle_in_unit(self, handover: Handover) -> set[Platform]:
        """One event of a batch, in a savepoint of the open unit of work."""
        assert self._store is not None
        try:
            with self._store.savepoint():
                return self._handle_claimed(handover)
        except StorageUnavailable:
            raise  # the whole batch waits for the database
        except Exception as error:
            # Its savepoint rolled back; the events before and after it are kept.
            return self._set_aside(handover, type(error).__name__)

    def _handle_alone(self, handover: Handover) -> set[Platform]:
        """One event in a transaction of its own."""
        assert self._store is not None
        try:
            with self._store.transaction():
                platforms = self._handle_claimed(handover)
            return platforms
        except StorageUnavailable:
            # The database is away or busy, not the event at fault: it stays pending, and
            # the inbox tries again after a growing pause, for as long as it takes.
            raise
        except Exception as error:
            # The event's own transaction is gone; record it as handled with an apology so
            # that one bad event cannot block every later one.
            return self._set_aside(handover, type(error).__name__)

    def _handle_claimed(self, handover: Handover) -> set[Platform]:
        """Claim, route, queue the replies and mark handled, in the open unit of work;
        the platforms that may have new messages (none if the event was handled already)."""
        assert self._store is not None
        platform, key = handover.inbound
        event = handover.event
        if not self._store.inbox.claim(platform, key):
            return set()  # another process handled it meanwhile
        replies = self._router.handle(event) if event is not None else []
        self._enqueue(replies)
        self._store.inbox.mark_handled(platform, key)
        platforms = {reply.platform for reply in replies}
        if event is not None and not event.origin.is_direct:
            platforms |= self._relay_platforms
        return platforms

    def _set_aside(self, handover: Handover, error: str) -> set[Platform]:
        """Record an event that cannot be handled as handled, with an apology, so that one
        bad event cannot block every later one (in the open unit of work, if any)."""
        assert self._store is not None
        platform, key = handover.inbound
        event = handover.event
        log.error("event_failed platform=%s key=%s error=%s", platform, key, error)
        with self._store.savepoint():
            if not self._store.inbox.claim(platform, key):
                return set()
            apology = self._router.apology(event.origin) if event is not None else []
            self._enqueue(apology)
            self._store.inbox.mark_handled(platform, key)
        return {reply.platform for reply in apology}

    def _enqueue(self, replies: list[Outgoing]) -> None:
        assert self._store is not None
        queue_replies(self._store, replies, self._planners)


class UnreadableEvent(Exception):
    """A stored event its transport cannot read; it is set aside so that the next can go."""


class InboxReader(Protocol):
    """A transport whose events wait in the inbox: it reads a stored one into a neutral
    event (``None``: nothing to act on, yet it counts as handled)."""

    async def read_inbound(self, record: InboundRecord) -> Incoming | None: ...


KEEP_HANDLED = timedelta(days=7)
"""How long the keys of handled events are kept (their contents are wiped at once), so that
an event a platform delivers again is recognized."""
PRUNE_EVERY = timedelta(hours=1)
IDLE_SECONDS = 1.0
"""How long the inbox sleeps when it found nothing and nobody woke it."""
BATCH = 25
"""Events read and handled in one transaction at most; the next batch is read afresh."""
STORE_FIRST_SECONDS = 2.0
"""How long a batch waits at most while a transport stores a platform's backlog."""


class Inbox:
    """Hands every platform's stored events to the dispatcher in one order, a pass's worth
    at a time: each platform's own order (Telegram's update ids), and across platforms by
    arrival."""

    def __init__(self, store: Store, dispatcher: Dispatcher) -> None:
        self._store = store
        self._dispatcher = dispatcher
        self._readers: dict[Platform, InboxReader] = {}
        self._ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self._backlog: set[Platform] = set()
        self._stored_up = asyncio.Event()
        self._stored_up.set()

    def backlog(self, platform: Platform, more: bool) -> None:
        """The platform holds more events than its transport's last fetch brought (``more``)
        or no longer: while one does, the inbox lets them be stored before handling more
        (on SQLite a batch in hand holds the one write lock the transport needs)."""
        if more:
            self._backlog.add(platform)
            self._stored_up.clear()
        else:
            self._backlog.discard(platform)
            if not self._backlog:
                self._stored_up.set()

    def add_reader(self, platform: Platform, reader: InboxReader) -> None:
        self._readers[platform] = reader

    def wake(self) -> None:
        """Events were stored: look now rather than at the next idle tick."""
        self._ready.set()

    def stop(self) -> None:
        self._stopping.set()
        self._ready.set()

    async def run(self) -> None:
        """Hand stored events over until :meth:`stop`; a failing pass is retried."""
        loop = asyncio.get_running_loop()
        pruned_at = loop.time()
        # A database that is away: the events stay stored; passes pause longer and longer
        # (one line each), and a transport's wake does not cut the pause short.
        backoff = Backoff("inbox: handing over stored events", stopping=self._stopping)
        while not self._stopping.is_set():
            self._ready.clear()
            try:
                if loop.time() - pruned_at > PRUNE_EVERY.total_seconds():
                    pruned_at = loop.time()
                    await self._prune()
                handled = await self.drain()
            except Exception as error:
                await backoff.pause(error)
                continue
            backoff.succeeded()
            if not handled:
                await self._sleep(IDLE_SECONDS)

    async def drain(self) -> int:
        """Hand over every event stored now; how many were handed over.

        Each batch is read afresh, so that a private chat's event stored meanwhile goes
        before the rest of a flood of group traffic."""
        handled = 0
        while not self._stopping.is_set():
            if self._backlog:
                # Bounded, so that a flood without end still gets handled.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stored_up.wait(), timeout=STORE_FIRST_SECONDS)
            pending = await self._pending()
            if not pending:
                return handled
            batch = await self._read(pending)
            await self._dispatcher.handle_batch(batch)
            handled += len(batch)
        return handled

    async def _pending(self) -> list[InboundRecord]:
        """The next stored events of every platform (a batch), merged by arrival while
        each platform's own order is kept: private chats' events first."""
        by_platform = await asyncio.to_thread(
            self._store.inbox.pending_of, list(self._readers), BATCH
        )
        per_platform = list(by_platform.values())
        merged: list[InboundRecord] = []
        heads = [queue for queue in per_platform if queue]
        while heads:
            first = min(heads, key=lambda queue: (not queue[0].direct, queue[0].id))
            merged.append(first.pop(0))
            heads = [queue for queue in heads if queue]
        return merged[:BATCH]

    async def _read(self, records: list[InboundRecord]) -> list[Handover]:
        """Each stored event read by its platform's transport into a neutral event."""
        batch: list[Handover] = []
        for record in records:
            inbound = (record.platform, record.key)
            try:
                event = await self._readers[record.platform].read_inbound(record)
            except StorageUnavailable:
                raise  # the events stay stored; the next pass tries again
            except Exception as error:
                # One event that cannot be read must not block every later one: it is
                # marked handled with nothing to act on.
                reason = str(error) if isinstance(error, UnreadableEvent) else type(error).__name__
                log.error(
                    "event_unreadable platform=%s key=%s error=%s",
                    record.platform,
                    record.key,
                    reason,
                )
                event = None
            batch.append(Handover(inbound, event))
        return batch

    async def _prune(self) -> None:
        before = datetime.now(UTC) - KEEP_HANDLED
        for platform in self._readers:
            await asyncio.to_thread(self._store.inbox.prune, platform, before)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout=seconds)
