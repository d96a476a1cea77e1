"""The durable inbox and the dispatcher: how every platform's events reach the one router.

A transport stores what it receives (``store.inbox.record``) before it tells the platform
the event arrived: Telegram the raw update, Matrix the event it translated during its sync
(:mod:`bot.incoming_json`). The :class:`Inbox` reads the stored, unhandled events of every
platform in one order (events kept as *waiting*, a Matrix event waiting for its room key,
are not among them until their transport makes them ready), asks the platform's transport
to read each one into a neutral event, and hands it to the :class:`Dispatcher`, which runs
the router on its one worker thread. The router's work, the replies put in the outbox and
the record that the event was handled commit in one transaction, so a crash at any moment
neither loses nor repeats an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.outbox import Planner
from bot.outgoing import BotMessage
from bot.outgoing_json import to_json
from bot.router import Router
from bot.types import Incoming, Origin, Outgoing, Platform
from storage import InboundRecord, StorageUnavailable, Store

log = logging.getLogger(__name__)

UNAVAILABLE_TRIES = 5
"""How often an event meets an unavailable database before it is set aside."""

Inbound = tuple[Platform, str]
"""An inbound event's identity: its platform and its key there."""


class Dispatcher:
    """Runs the synchronous router on one worker thread: events are handled one at a time,
    in order, and the event loop stays free for the transports' network I/O.

    :meth:`handle_durably` is how the inbox hands over the network transports' events: the
    router's work, the replies put in the outbox and the inbound event marked handled
    commit together.
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
        self._unavailable: dict[Inbound, int] = {}
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

    async def handle_durably(self, event: Incoming | None, inbound: Inbound) -> None:
        """Handle an event, queue its replies and mark it handled, in one transaction."""
        loop = asyncio.get_running_loop()
        platforms = await loop.run_in_executor(
            self._executor, self._handle_and_enqueue, event, inbound
        )
        if self._on_enqueued is not None and event is not None:
            if not event.origin.is_direct:
                platforms |= self._relay_platforms
            for platform in platforms:
                self._on_enqueued(platform)

    async def discard(self, inbound: Inbound) -> None:
        """Give up on an inbound event that cannot even be read (logged by the caller)."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._discard_now, inbound)

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def _handle_now(self, event: Incoming) -> list[Outgoing]:
        if self._store is None:
            return self._router.handle(event)
        with self._store.transaction():
            return self._router.handle(event)

    def _handle_and_enqueue(self, event: Incoming | None, inbound: Inbound) -> set[Platform]:
        assert self._store is not None
        platform, key = inbound
        try:
            with self._store.transaction():
                if not self._store.inbox.claim(platform, key):
                    return set()  # another process handled it meanwhile
                replies = self._router.handle(event) if event is not None else []
                self._enqueue(replies)
                self._store.inbox.mark_handled(platform, key)
            self._unavailable.pop(inbound, None)
            return {reply.platform for reply in replies}
        except StorageUnavailable:
            # The database is away or busy: the event stays pending and the transport
            # tries again, a few times, before it is set aside like any failing event.
            tries = self._unavailable.get(inbound, 0) + 1
            self._unavailable[inbound] = tries
            if tries < UNAVAILABLE_TRIES:
                raise
            self._unavailable.pop(inbound, None)
            return self._set_aside(event, inbound, "StorageUnavailable")
        except Exception as error:
            # The event's own transaction is gone; record it as handled with an apology so
            # that one bad event cannot block every later one.
            return self._set_aside(event, inbound, type(error).__name__)

    def _set_aside(self, event: Incoming | None, inbound: Inbound, error: str) -> set[Platform]:
        """Record an event that cannot be handled as handled, with an apology, so that one
        bad event cannot block every later one."""
        assert self._store is not None
        platform, key = inbound
        log.error("event_failed platform=%s key=%s error=%s", platform, key, error)
        with self._store.transaction():
            if not self._store.inbox.claim(platform, key):
                return set()
            apology = self._router.apology(event.origin) if event is not None else []
            self._enqueue(apology)
            self._store.inbox.mark_handled(platform, key)
        return {reply.platform for reply in apology}

    def _discard_now(self, inbound: Inbound) -> None:
        assert self._store is not None
        with self._store.transaction():
            if self._store.inbox.claim(*inbound):
                self._store.inbox.mark_handled(*inbound)

    def _enqueue(self, replies: list[Outgoing]) -> None:
        assert self._store is not None
        items: list[tuple[Platform, str, Mapping[str, Any]]] = []
        for reply in replies:
            plan = self._planners.get(reply.platform)
            if plan is None:
                log.warning("no_sender platform=%s", reply.platform)
                continue
            parts = plan(BotMessage.of(reply))
            items.extend((reply.platform, reply.room_id, to_json(part)) for part in parts)
        if items:
            self._store.outbox.enqueue(items)


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
PAGE = 100
"""Stored events read per platform per pass."""


class Inbox:
    """Hands every platform's stored events to the dispatcher, one at a time, in one order:
    each platform's own order (Telegram's update ids), and across platforms by arrival."""

    def __init__(self, store: Store, dispatcher: Dispatcher) -> None:
        self._store = store
        self._dispatcher = dispatcher
        self._readers: dict[Platform, InboxReader] = {}
        self._ready = asyncio.Event()
        self._stopping = asyncio.Event()

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
        pause = IDLE_SECONDS
        while not self._stopping.is_set():
            self._ready.clear()
            try:
                if loop.time() - pruned_at > PRUNE_EVERY.total_seconds():
                    pruned_at = loop.time()
                    await self._prune()
                handled = await self.drain()
            except Exception as error:
                # A database that is away: the events stay stored, the next pass retries.
                log.warning("inbox_pass_failed error=%s retry_in=%.0f", type(error).__name__, pause)
                handled = 0
                await self._sleep(pause)
                pause = min(pause * 2, 60.0)
                continue
            pause = IDLE_SECONDS
            if not handled:
                await self._sleep(IDLE_SECONDS)

    async def drain(self) -> int:
        """Hand over every event stored now; how many were handed over."""
        handled = 0
        while not self._stopping.is_set():
            pending = await self._pending()
            if not pending:
                return handled
            for record in pending:
                if self._stopping.is_set():
                    break
                await self._hand_over(record)
                handled += 1
        return handled

    async def _pending(self) -> list[InboundRecord]:
        """The next stored events of every platform, merged by arrival while each
        platform's own order is kept."""
        by_platform = await asyncio.to_thread(
            self._store.inbox.pending_of, list(self._readers), PAGE
        )
        per_platform = list(by_platform.values())
        merged: list[InboundRecord] = []
        heads = [queue for queue in per_platform if queue]
        while heads:
            first = min(heads, key=lambda queue: queue[0].id)
            merged.append(first.pop(0))
            heads = [queue for queue in heads if queue]
        return merged

    async def _hand_over(self, record: InboundRecord) -> None:
        inbound = (record.platform, record.key)
        try:
            event = await self._readers[record.platform].read_inbound(record)
        except StorageUnavailable:
            raise  # the event stays stored; the next pass tries again
        except Exception as error:
            # One event that cannot be read must not block every later one: set it aside.
            reason = str(error) if isinstance(error, UnreadableEvent) else type(error).__name__
            log.error(
                "event_unreadable platform=%s key=%s error=%s", record.platform, record.key, reason
            )
            await self._dispatcher.discard(inbound)
            return
        await self._dispatcher.handle_durably(event, inbound)

    async def _prune(self) -> None:
        before = datetime.now(UTC) - KEEP_HANDLED
        for platform in self._readers:
            await asyncio.to_thread(self._store.inbox.prune, platform, before)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout=seconds)
