"""The outbox worker: delivers what the bot owes, under each platform's limits, and retries.

Every message is in the database (``store.outbox.enqueue``) before the worker sees it, as
an outgoing item (:mod:`bot.outgoing`) planned for its platform. The worker keeps one queue
per room, so order holds within a room and a slow room never holds up the others; just
before sending, it makes the item's references to earlier messages the platform's ids and
has the platform's render module make the payload its sender delivers. It asks the limiter
before each attempt, obeys the platform's "retry after", backs off on server errors and
time-outs, and records each message's fate.
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
from datetime import UTC, datetime, timedelta
from typing import Generic, Protocol, TypeVar

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


class Sender(Protocol[_Taken]):
    """A transport's sending half, as the outbox sees it."""

    @property
    def platform(self) -> Platform: ...

    def room_kind(self, room_id: str) -> str:
        """Which of the limiter's room windows apply ("private", "group", ...)."""
        ...

    async def deliver(self, room_id: str, payload: _Taken, key: str) -> str | None:
        """Send one rendered message; return the platform's message id. Raises DeliveryError.

        ``key`` is the same for every attempt at one message and another message's only by
        chance (its outbox id and a digest of what it says): a transaction id, where the
        platform has them, makes a retried send land once."""
        ...


STOP_GRACE_SECONDS = 10.0
"""How long stopping waits for sends already under way."""

PAGE = 500
"""Pending messages read per query; a pass reads page after page."""

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
    number of times; ``give_up_after`` is measured from when the message was stored.
    """

    give_up_after: timedelta = timedelta(days=3)
    base_seconds: float = 1.0
    cap_seconds: float = 300.0
    max_flood_waits: int = 50

    def delay(self, attempt: int, rng: random.Random) -> float:
        exponential = min(self.cap_seconds, self.base_seconds * 2.0 ** (attempt - 1))
        return float(exponential * (0.5 + rng.random() / 2))


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
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stopping = False
        self._known: set[int] = set()
        # A pass's query may have read a message as pending just before it was delivered:
        # finished ids are remembered (with the pass count at their finish) until a pass
        # that began after they finished has run.
        self._finished: dict[int, int] = {}
        self._passes = 0
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

    def idle(self) -> bool:
        """Nothing queued in memory (the database may still hold messages not yet read)."""
        return not any(self._queues.values())

    async def _pick_up(self) -> None:
        # Every pass reads from the start: on PostgreSQL a lower id may commit after a
        # higher one, so a moving cursor could pass a message by.
        self._passes += 1
        this_pass = self._passes
        rows: list[OutboxRecord] = []
        after = 0
        try:
            while True:
                page = await asyncio.to_thread(
                    self._store.outbox.pending, self.platform, limit=PAGE, after_id=after
                )
                rows.extend(page)
                if len(page) < PAGE:
                    break
                after = page[-1].id
        except Exception as error:
            log.error(
                "outbox_read_failed platform=%s error=%s", self.platform, type(error).__name__
            )
            return
        self._finished = {done: at for done, at in self._finished.items() if at >= this_pass}
        for row in rows:
            if row.id in self._known or row.id in self._finished:
                continue
            self._known.add(row.id)
            self._queues.setdefault(row.room_id, deque()).append(row)
            task = self._tasks.get(row.room_id)
            if task is None or task.done():
                self._tasks[row.room_id] = asyncio.create_task(
                    self._drain(row.room_id), name=f"outbox-{self.platform}"
                )

    def _forget(self, outbox_id: int) -> None:
        self._known.discard(outbox_id)
        self._finished[outbox_id] = self._passes

    async def _drain(self, room_id: str) -> None:
        queue = self._queues[room_id]
        while queue and not self._stopping:
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
                await asyncio.sleep(self._policy.base_seconds)
                continue
            for _ in range(min(sent, len(queue))):
                self._forget(queue.popleft().id)

    async def _deliver(self, room_id: str, queue: deque[OutboxRecord]) -> int:
        """Deliver the head of a room's queue (with a burst merged into it); how many
        messages of the queue are finished."""
        loop = asyncio.get_running_loop()
        row = queue[0]
        kind = self._sender.room_kind(room_id)
        attempts = row.attempts
        flood_waits = 0
        due = (row.next_attempt_at - datetime.now(UTC)).total_seconds()
        if due > 0:
            await self._pause(due)
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
            wait = self._limiter.reserve(room_id, kind, loop.time())
            await self._pause(wait)
            if self._stopping:
                return 0
            # A burst merged on an earlier try is not carried by a try that sends one alone.
            payload, carried = alone, [row]
            if self._merge is not None and wait >= MERGE_AFTER_SECONDS and len(queue) > 1:
                payload, count = self._merged(self._merge, item, queue)
                carried = list(queue)[:count]
            try:
                try:
                    message_id = await self._sender.deliver(room_id, payload, key)
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
                if datetime.now(UTC) - row.created_at > self._policy.give_up_after:
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
                await self._record_delivered(carried, message_id)
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

    async def _record_delivered(self, rows: list[OutboxRecord], message_id: str | None) -> None:
        """The message arrived: record it, retrying the write, never the send."""
        self.counts.delivered += len(rows)
        for attempt in range(1, 6):
            try:
                if len(rows) == 1 or message_id is None:
                    for row in rows:
                        await asyncio.to_thread(
                            self._store.outbox.mark_delivered, row.id, message_id
                        )
                else:
                    ids = [row.id for row in rows]
                    await asyncio.to_thread(
                        self._store.outbox.mark_delivered_together, ids, message_id
                    )
                return
            except Exception as error:
                log.warning(
                    "delivery_record_failed outbox=%d attempt=%d error=%s",
                    rows[0].id,
                    attempt,
                    type(error).__name__,
                )
                await asyncio.sleep(min(2.0**attempt, 30.0))
        # Still pending in the database: this process will not send it again (its id is
        # remembered as finished), but a restart would. Logged so an operator can tell.
        log.error("delivery_unrecorded outbox=%d", rows[0].id)

    async def _note_attempt(self, row: OutboxRecord, reason: str, delay: float) -> None:
        next_at = datetime.now(UTC) + timedelta(seconds=delay)
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
