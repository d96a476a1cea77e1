"""The outbox worker: delivers what the bot owes, under each platform's limits, and retries.

Every message is in the database (``store.outbox.enqueue``) before the worker sees it, as
an outgoing item (:mod:`bot.outgoing`) planned for its platform. The worker serves each room
that is owed messages with a task of its own, which reads only the head of that room's queue
(so order holds within a room, a slow room never holds up the others, and a pass costs the
same whatever the backlog); just before sending, it makes the item's references to earlier
messages the platform's ids and has the platform's render module make the payload its
sender delivers. It asks the limiter for the room's own slot, then takes its turn for the
platform's global rate (the bot's own messages before relayed copies, rooms round-robin),
obeys the platform's "retry after", backs off on server errors and time-outs (timed on the
event loop's monotonic clock), and records each message's fate, several deliveries that
finish together in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, Protocol, TypeVar

from bot.backoff import Backoff
from bot.case_delivery import opened_for_sending
from bot.logs import raised_at
from bot.outgoing import (
    MessageRef,
    OutgoingError,
    OutgoingItem,
    outbox_references,
    with_references,
)
from bot.outgoing_json import from_json
from bot.ratelimit import SendLimiter
from bot.types import Platform
from storage import DeliveryStatus, OutboxRecord, Store

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A failed attempt; the subclass says what to do about it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FloodControl(DeliveryError):
    """The platform asked us to wait ``seconds`` (Telegram's 429, Matrix's M_LIMIT_EXCEEDED)."""

    def __init__(self, reason: str, seconds: float) -> None:
        super().__init__(reason)
        self.seconds = seconds


class TransientFailure(DeliveryError):
    """A server error, a time-out or a lost connection: try again later."""


class PermanentFailure(DeliveryError):
    """The platform refused the message for good; ``unreachable`` when the room is gone to us
    (the member blocked the bot, the bot was removed from the group)."""

    def __init__(self, reason: str, *, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.unreachable = unreachable


Payload = TypeVar("Payload")
"""A platform's rendered message, as its render module makes it and its sender takes it."""
_Taken = TypeVar("_Taken", contravariant=True)


@dataclass(frozen=True, slots=True)
class Delivered:
    """A delivery whose message carries something the platform names apart: a Telegram
    poll's id, which is all that poll's answers name (kept with the message's post)."""

    message_id: str | None
    native_id: str | None = None


class Sender(Protocol[_Taken]):
    """A transport's sending half, as the outbox sees it."""

    @property
    def platform(self) -> Platform: ...

    def room_kind(self, room_id: str) -> str:
        """Which of the limiter's room windows apply ("private", "group", ...)."""
        ...

    async def deliver(self, room_id: str, payload: _Taken, key: str) -> str | Delivered | None:
        """Send one rendered message; return the platform's message id (with the id of the
        poll it carries, :class:`Delivered`). Raises DeliveryError.

        ``key`` is the same for every attempt at one message and another message's only by
        chance (its outbox id and a digest of what it says): a transaction id, where the
        platform has them, makes a retried send land once."""
        ...


STOP_GRACE_SECONDS = 10.0
"""How long stopping waits for sends already under way."""

HEAD = 40
"""Messages of one room read at a time: the head of its queue, room enough for a merged
burst; the room reads again when fewer than :data:`TOP_UP_BELOW` are left."""
TOP_UP_BELOW = 10

Planner = Callable[[OutgoingItem], list[OutgoingItem]]
"""Cuts an item into the parts its platform sends as one message each, one outbox row each
(see :mod:`bot.transports.planning`)."""


MERGE_AFTER_SECONDS = 2.0
"""A room whose next send must wait this long is under its limit: bursts are merged."""


def delivery_key(row: OutboxRecord) -> str:
    """The key of every attempt at one message: its id, and a digest of the stored item
    (so that a database started afresh does not reuse a transaction id with other words)."""
    stored = json.dumps(row.payload, sort_keys=True, ensure_ascii=False)
    return f"{row.id}.{hashlib.sha256(stored.encode()).hexdigest()[:12]}"


@dataclass
class DeliveryCounts:
    delivered: int = 0
    retried: int = 0
    failed: int = 0


@dataclass(frozen=True)
class RetryPolicy:
    """Back-off for transient failures: base * 2^(attempt-1), capped, with jitter.

    A platform outage must lose nothing, so transient failures are retried for days, not a
    number of times: a message is given up once it is ``give_up_after`` old by the wall
    clock and has been retried that long (by the monotonic clock, and across restarts by its
    stored count of tries), so setting the clock forward gives nothing up. A stored retry
    time further ahead than the back-off it earned (the clock was set back) is not waited for.
    """

    give_up_after: timedelta = timedelta(days=3)
    base_seconds: float = 1.0
    cap_seconds: float = 300.0
    max_flood_waits: int = 50

    def delay(self, attempt: int, rng: random.Random) -> float:
        return float(self.longest_delay(attempt) * (0.5 + rng.random() / 2))

    def longest_delay(self, attempt: int) -> float:
        """The back-off after the ``attempt``-th failed try, before its jitter shortens it."""
        return float(min(self.cap_seconds, self.base_seconds * 2.0 ** min(attempt - 1, 64)))

    def least_time_of(self, attempts: int) -> float:
        """The least time ``attempts`` failed tries can have taken (each back-off at its
        shortest), whatever the clock said meanwhile."""
        return sum(self.longest_delay(attempt) / 2 for attempt in range(1, attempts + 1))


class SendTurns:
    """Hands out the platform's global send slots one at a time, as they come free: first
    to the bot's own messages (answers, notices), then to relayed copies, each in the order
    asked. A room asks again only after its send, so rooms take turns round-robin and one
    room's backlog, or a thousand rooms', never books slots ahead of a later answer."""

    def __init__(self, limiter: SendLimiter) -> None:
        self._limiter = limiter
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._relayed: deque[asyncio.Future[None]] = deque()
        self._server: asyncio.Task[None] | None = None

    async def take(self, *, urgent: bool) -> None:
        """Wait for this send's turn (returns early once :meth:`release_all` is called)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._relayed).append(future)
        if self._server is None or self._server.done():
            self._server = asyncio.create_task(self._serve(), name="outbox-turns")
        await future

    def release_all(self) -> None:
        """Stopping: every waiting send returns at once (and sees that the worker stops)."""
        for queue in (self._urgent, self._relayed):
            while queue:
                future = queue.popleft()
                if not future.done():
                    future.set_result(None)

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while self._urgent or self._relayed:
            wait = self._limiter.reserve_global(loop.time())
            if wait > 0:
                await asyncio.sleep(wait)
            # Chosen when the slot comes, not when it was booked: an answer asked for
            # meanwhile goes first.
            for queue in (self._urgent, self._relayed):
                while queue and queue[0].done():
                    queue.popleft()
            queue = self._urgent or self._relayed
            if queue:
                queue.popleft().set_result(None)


class DeliveryLog:
    """Records deliveries; those that finish while a write is under way are recorded
    together in the next transaction (one commit for many). Each caller still waits until
    its own delivery is committed, so a room's next message is sent only after it."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._waiting: list[tuple[list[int], str | None, str | None, asyncio.Future[None]]] = []
        self._writing = False
        self._writer: asyncio.Task[None] | None = None

    async def record(
        self, outbox_ids: list[int], platform_message_id: str | None, native_id: str | None = None
    ) -> None:
        """Record one platform message carrying ``outbox_ids``; raises if the write failed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((outbox_ids, platform_message_id, native_id, future))
        if not self._writing:
            self._writing = True
            self._writer = asyncio.create_task(self._write(), name="outbox-delivery-log")
        await future

    async def _write(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                await self._write_batch(batch)
        finally:
            self._writing = False

    async def _write_batch(
        self, batch: list[tuple[list[int], str | None, str | None, asyncio.Future[None]]]
    ) -> None:
        deliveries = [(ids, message_id) for ids, message_id, _, _ in batch]
        native_ids = {ids[0]: native for ids, _, native, _ in batch if native is not None}
        try:
            await asyncio.to_thread(
                self._store.outbox.mark_delivered_in_batch, deliveries, native_ids
            )
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0][3], error)
                return
            # One bad row must not fail the others: each on its own.
            for entry in batch:
                await self._write_batch([entry])
            return
        for _, _, _, future in batch:
            _settle(future, None)


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class OutboxWorker(Generic[Payload]):
    """Delivers one platform's pending messages until stopped.

    ``render`` makes a stored item the sender's payload (the platform's render module);
    ``merge``, where the platform has one, joins the first of a room's waiting items with
    as many of the next as it can (a burst from one member): the payload and how many
    items it carries.
    """

    def __init__(
        self,
        store: Store,
        sender: Sender[Payload],
        limiter: SendLimiter,
        *,
        render: Callable[[OutgoingItem], Payload],
        merge: Callable[[Sequence[OutgoingItem]], tuple[Payload, int]] | None = None,
        policy: RetryPolicy | None = None,
        poll_seconds: float = 5.0,
        seed: int | None = None,
    ) -> None:
        self._store = store
        self._sender = sender
        self._limiter = limiter
        self._render = render
        self._merge = merge
        self._policy = policy or RetryPolicy()
        self._poll_seconds = poll_seconds
        self._rng = random.Random(seed)  # noqa: S311  (jitter, not secrecy)
        self._queues: dict[str, deque[OutboxRecord]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # Rooms a pass found owed messages while their task was reading: read once more.
        self._recheck: set[str] = set()
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._read_backoff = Backoff("outbox: finding rooms owed messages", stopping=self._stopped)
        self._stopping = False
        self._turns = SendTurns(limiter)
        self._deliveries = DeliveryLog(store)
        # Delivered, but the record of it could not be written: never sent again by this
        # process (a restart would).
        self._unrecorded: set[int] = set()
        # Within a run, retries are timed on the loop's monotonic clock: when each message
        # may be tried again, and when it was first tried with how long it was retried before.
        self._retry_at: dict[int, float] = {}
        self._first_tried: dict[int, tuple[float, float]] = {}
        self.passes = 0
        """Passes made so far (each looks up the rooms owed messages)."""
        self.counts = DeliveryCounts()

    @property
    def platform(self) -> Platform:
        return self._sender.platform

    def wake(self) -> None:
        """New messages were stored: look for them now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        log.info("outbox_started platform=%s", self.platform)
        try:
            while not self._stopping:
                await self._pick_up()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll_seconds)
                self._wake.clear()
        finally:
            # Let sends under way finish and be recorded (a cancelled send would be sent
            # again after a restart); rooms waiting for their turn stop at once.
            running = [task for task in self._tasks.values() if not task.done()]
            if running:
                await asyncio.wait(running, timeout=STOP_GRACE_SECONDS)
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    def stop(self) -> None:
        self._stopping = True
        self._stopped.set()
        self._wake.set()
        self._turns.release_all()

    def idle(self) -> bool:
        """Nothing queued in memory (the database may still hold messages not yet read)."""
        return not any(self._queues.values())

    async def _pick_up(self) -> None:
        """One pass: find the rooms owed messages and serve each that has no task yet.

        It reads room ids only (one index lookup per room); each room's task reads the
        head of its own queue."""
        self.passes += 1
        try:
            rooms = await asyncio.to_thread(self._store.outbox.rooms_with_pending, self.platform)
        except Exception as error:
            await self._read_backoff.pause(error)
            return
        self._read_backoff.succeeded()
        for room_id in rooms:
            task = self._tasks.get(room_id)
            if task is None or task.done():
                self._tasks[room_id] = asyncio.create_task(
                    self._drain(room_id), name=f"outbox-{self.platform}"
                )
            else:
                self._recheck.add(room_id)

    def _forget(self, outbox_id: int) -> None:
        self._retry_at.pop(outbox_id, None)
        self._first_tried.pop(outbox_id, None)

    async def _drain(self, room_id: str) -> None:
        queue = self._queues.setdefault(room_id, deque())
        # One room's failures (a database write, a bug) pause it longer and longer, a line
        # each, rather than trying again every second.
        backoff = Backoff(f"outbox {self.platform}: a room", stopping=self._stopped)
        try:
            while not self._stopping:
                if len(queue) < TOP_UP_BELOW and not await self._top_up(room_id, queue, backoff):
                    continue
                if not queue:
                    if room_id in self._recheck:
                        continue
                    return
                try:
                    sent = await self._deliver(room_id, queue)
                except Exception as error:
                    # A bug must not leave the room silent for good: log, pause, try again.
                    log.error(
                        "outbox_room_failed platform=%s error=%s at=%s",
                        self.platform,
                        type(error).__name__,
                        raised_at(error),
                    )
                    await backoff.pause(error)
                    continue
                backoff.succeeded()
                for _ in range(min(sent, len(queue))):
                    self._forget(queue.popleft().id)
        finally:
            if not queue:
                self._queues.pop(room_id, None)
            if self._tasks.get(room_id) is asyncio.current_task():
                del self._tasks[room_id]

    async def _top_up(self, room_id: str, queue: deque[OutboxRecord], backoff: Backoff) -> bool:
        """Read the head of the room's queue and append what is not queued yet; false
        when the read failed (after a pause)."""
        self._recheck.discard(room_id)
        try:
            head = await asyncio.to_thread(
                self._store.outbox.room_head, self.platform, room_id, limit=HEAD
            )
        except Exception as error:
            await backoff.pause(error)
            return False
        queued = {row.id for row in queue} | self._unrecorded
        queue.extend(row for row in head if row.id not in queued)
        return True

    def _due_in(self, row: OutboxRecord, now: float) -> float:
        """Seconds until the message may be tried: by the monotonic clock when this run
        tried it already, else by its stored time, but never longer than the longest
        back-off its failed tries could have earned (a stored time further ahead means
        the clock was set back since)."""
        retry_at = self._retry_at.get(row.id)
        if retry_at is not None:
            return retry_at - now
        stored = (row.next_attempt_at - self._store.now()).total_seconds()
        return min(stored, self._policy.longest_delay(max(row.attempts, 1)))

    def _too_old(self, row: OutboxRecord, now: float) -> bool:
        """Give up? Only when the message is older than the policy allows by the wall clock
        *and* has been retried that long: by the monotonic clock in this run, plus the
        least time its earlier tries took (a clock set forward alone gives up nothing)."""
        first_tried, retried_before = self._first_tried.setdefault(
            row.id, (now, self._policy.least_time_of(row.attempts))
        )
        limit = self._policy.give_up_after.total_seconds()
        retried = retried_before + (now - first_tried)
        age = (self._store.now() - row.created_at).total_seconds()
        return retried > limit and age > limit

    async def _deliver(self, room_id: str, queue: deque[OutboxRecord]) -> int:
        """Deliver the head of a room's queue (with a burst merged into it); how many
        messages of the queue are finished."""
        loop = asyncio.get_running_loop()
        row = queue[0]
        kind = self._sender.room_kind(room_id)
        attempts = row.attempts
        flood_waits = 0
        urgent = not row.relayed
        await self._pause(self._due_in(row, loop.time()))
        self._too_old(row, loop.time())  # notes when this run first tried it
        if self._stopping:
            return 0
        if await asyncio.to_thread(self._store.transports.is_unreachable, self.platform, room_id):
            await self._fail(row, "the room is unreachable (the bot was blocked or removed)")
            return 1
        try:
            item = await self._resolved(from_json(row.payload))
            # A case report's contents: still there, and its files read, only now.
            opened = await asyncio.to_thread(opened_for_sending, self._store, item)
            if opened is None:
                await self._fail(row, "the report was withdrawn or is no longer readable")
                return 1
            item = opened
            alone = self._render(item)
        except OutgoingError as error:  # stored by a newer version, or damaged
            await self._fail(row, str(error))
            return 1
        key = delivery_key(row)
        while not self._stopping:
            asked_at = loop.time()
            await self._pause(self._limiter.reserve_room(room_id, kind, asked_at))
            if not self._stopping:
                await self._turns.take(urgent=urgent)
            if self._stopping:
                return 0
            wait = loop.time() - asked_at
            # A burst merged on an earlier try is not carried by a try that sends one alone.
            payload, carried = alone, [row]
            if self._merge is not None and wait >= MERGE_AFTER_SECONDS and len(queue) > 1:
                payload, count = self._merged(self._merge, item, queue)
                carried = list(queue)[:count]
            try:
                try:
                    sent = await self._sender.deliver(room_id, payload, key)
                finally:
                    self._limiter.settle(room_id, loop.time())
            except FloodControl as flood:
                flood_waits += 1
                self._limiter.pause(room_id, loop.time() + flood.seconds)
                self.counts.retried += 1
                log.info("delivery_flood_control outbox=%d wait=%.1f", row.id, flood.seconds)
                if flood_waits >= self._policy.max_flood_waits:
                    await self._fail(row, "flood control did not lift")
                    return 1
                await self._note_attempt(row, flood.reason, flood.seconds)
            except PermanentFailure as refusal:
                await self._fail(row, refusal.reason)
                if refusal.unreachable:
                    await self._give_up_room(room_id, refusal.reason)
                return 1
            except (TransientFailure, Exception) as failure:
                reason = (
                    failure.reason
                    if isinstance(failure, DeliveryError)
                    else f"unexpected {type(failure).__name__}"
                )
                if not isinstance(failure, DeliveryError):
                    log.error("delivery_crashed outbox=%d at=%s", row.id, raised_at(failure))
                attempts += 1
                self.counts.retried += 1
                if self._too_old(row, loop.time()):
                    await self._fail(row, reason)
                    return 1
                delay = self._policy.delay(attempts, self._rng)
                log.warning(
                    "delivery_retry outbox=%d attempt=%d retry_in=%.1f reason=%s",
                    row.id,
                    attempts,
                    delay,
                    reason,
                )
                await self._note_attempt(row, reason, delay)
                await self._pause(delay)
            else:
                if isinstance(sent, Delivered):
                    await self._record_delivered(carried, sent.message_id, sent.native_id)
                else:
                    await self._record_delivered(carried, sent)
                return len(carried)
        return 0

    @staticmethod
    def _merged(
        merge: Callable[[Sequence[OutgoingItem]], tuple[Payload, int]],
        first: OutgoingItem,
        queue: deque[OutboxRecord],
    ) -> tuple[Payload, int]:
        """The head of the queue (``first``, its references resolved) joined with as many of
        the items waiting after it as the platform's merge takes."""
        following: list[OutgoingItem] = []
        for row in list(queue)[1:]:
            try:
                following.append(from_json(row.payload))
            except OutgoingError:
                break  # its own turn will fail it
        payload, count = merge([first, *following])
        if count > 1:
            log.info("delivery_merged outbox=%d messages=%d", queue[0].id, count)
        return payload, max(1, count)

    async def _resolved(self, item: OutgoingItem) -> OutgoingItem:
        """The item with its references to earlier messages made the platform's ids; one
        never delivered (or delivered without an id) becomes none."""
        wanted = outbox_references(item)
        if not wanted:
            return item
        try:
            targets = await asyncio.to_thread(self._store.outbox.targets, list(wanted))
        except Exception as error:
            raise TransientFailure(f"reading references: {type(error).__name__}") from error
        found: dict[int, MessageRef | None] = {}
        for outbox_id in wanted:
            target = targets.get(outbox_id)
            found[outbox_id] = None
            if (
                target is not None
                and target.status is DeliveryStatus.DELIVERED
                and target.platform_message_id is not None
            ):
                # Merged with others (shared): editing or deleting it would touch their words.
                found[outbox_id] = MessageRef(target.platform_message_id, target.shared)
        return with_references(item, found)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake when the worker stops (a send not yet begun can wait)."""
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), timeout=seconds)

    async def _record_delivered(
        self, rows: list[OutboxRecord], message_id: str | None, native_id: str | None = None
    ) -> None:
        """The message arrived: record it, retrying the write, never the send."""
        self.counts.delivered += len(rows)
        ids = [row.id for row in rows]
        # Until the write goes through, the room waits: its next message must not go out
        # before this one is recorded, and a message recorded late is not sent twice.
        backoff = Backoff(f"outbox {self.platform}: recording a delivery", stopping=self._stopped)
        while True:
            try:
                await self._deliveries.record(ids, message_id, native_id)
            except Exception as error:
                if self._stopping:
                    break
                await backoff.pause(error)
                continue
            backoff.succeeded()
            return
        # Stopping with the write still failing: still pending in the database, so this
        # process will not send it again but a restart would. Logged so an operator can tell.
        self._unrecorded.update(ids)
        log.error("delivery_unrecorded outbox=%d", rows[0].id)

    async def _note_attempt(self, row: OutboxRecord, reason: str, delay: float) -> None:
        self._retry_at[row.id] = asyncio.get_running_loop().time() + delay
        next_at = self._store.now() + timedelta(seconds=delay)
        try:
            await asyncio.to_thread(
                self._store.outbox.record_failed_attempt, row.id, reason, next_at
            )
        except Exception as error:
            log.error("outbox_write_failed outbox=%d error=%s", row.id, type(error).__name__)

    async def _fail(self, row: OutboxRecord, reason: str) -> None:
        self.counts.failed += 1
        log.warning("delivery_failed outbox=%d reason=%s", row.id, reason)
        await asyncio.to_thread(self._store.outbox.mark_failed, row.id, reason)

    async def _give_up_room(self, room_id: str, reason: str) -> None:
        await asyncio.to_thread(
            self._store.transports.mark_unreachable, self.platform, room_id, reason
        )
        dropped = await asyncio.to_thread(
            self._store.outbox.drop_pending_for_room, self.platform, room_id, reason
        )
        self.counts.failed += dropped
        queue = self._queues.get(room_id)
        if queue:
            head = queue[0]
            for row in list(queue)[1:]:
                self._forget(row.id)
            queue.clear()
            queue.append(head)  # _drain pops the head it is working on
        log.warning("room_unreachable platform=%s dropped=%d", self.platform, dropped)
