"""One running bot per database: a second process waits as a standby while another serves,
and a process that loses its lock stops serving at once.

The lock itself is storage's (:mod:`storage.instance_lock`): a PostgreSQL advisory lock on
a connection of its own, or a file lock beside a SQLite database. Here is only the waiting
and the watching, around whatever serving means for the caller (the platforms, or the
console).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from storage import StorageError
from storage.instance_lock import InstanceLock, InstanceLockLost, instance_lock_for

log = logging.getLogger(__name__)

STANDBY_NOTICE = "another instance holds the database; waiting as standby"
TAKEOVER_NOTICE = "the database is free now; serving"

POLL_SECONDS = 1.0
"""How often a standby tries the lock: it takes over within about this long."""

CHECK_SECONDS = 1.0
"""How often the holder checks that its lock is still its own."""

CHECK_TIMEOUT_SECONDS = 5.0
"""A check unanswered this long counts as a lost lock."""


async def serve_alone(
    database_url: str,
    serve: Callable[[], Awaitable[None]],
    *,
    notify: Callable[[str], None] | None = None,
) -> None:
    """Run ``serve`` once this process holds the database's instance lock, waiting as a
    standby while another process holds it; release the lock when ``serve`` returns.

    ``notify`` also shows the standby and takeover lines to a person (the console, whose
    log goes to a file). If the lock is lost while serving, ``serve`` is cancelled (so its
    own clean-up runs) and :class:`InstanceLockLost` raised. A database that cannot be
    reached at the first attempt raises its :class:`StorageError`."""
    lock = instance_lock_for(database_url)
    try:
        await _wait_for(lock, notify)
        await _serve_while_held(lock, serve)
    finally:
        lock.release()


async def _wait_for(lock: InstanceLock, notify: Callable[[str], None] | None) -> None:
    if await asyncio.to_thread(lock.try_acquire):
        return
    log.warning("instance_standby %s", STANDBY_NOTICE)
    if notify is not None:
        notify(STANDBY_NOTICE)
    unreachable = False
    while True:
        await asyncio.sleep(POLL_SECONDS)
        try:
            taken = await asyncio.to_thread(lock.try_acquire)
        except StorageError as error:
            if not unreachable:
                log.warning("instance_lock_unreachable error=%s", type(error.__cause__).__name__)
            unreachable = True
            continue
        unreachable = False
        if taken:
            log.info("instance_takeover %s", TAKEOVER_NOTICE)
            if notify is not None:
                notify(TAKEOVER_NOTICE)
            return


async def _serve_while_held(lock: InstanceLock, serve: Callable[[], Awaitable[None]]) -> None:
    async def serving_coroutine() -> None:
        await serve()

    serving = asyncio.create_task(serving_coroutine(), name="serving")
    watching = asyncio.create_task(_watch(lock), name="instance-lock-watch")
    try:
        await asyncio.wait({serving, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watching.cancel()
        serving.cancel()
        await asyncio.gather(serving, watching, return_exceptions=True)
    if watching.done() and not watching.cancelled() and watching.exception() is None:
        raise InstanceLockLost(
            "the database's instance lock was lost (its connection or lock file is gone); "
            "another instance may serve it now"
        )
    serving.result()


async def _watch(lock: InstanceLock) -> None:
    """Return as soon as the lock is no longer this process's."""
    while True:
        await asyncio.sleep(CHECK_SECONDS)
        try:
            held = await asyncio.wait_for(
                asyncio.to_thread(lock.still_held), timeout=CHECK_TIMEOUT_SECONDS
            )
        except TimeoutError:
            held = False
        if not held:
            log.error("instance_lock_lost stopping so that one instance serves at a time")
            return
