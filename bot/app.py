"""Wiring: configuration, storage, catalogs, handlers, router, transports and outboxes."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TextIO

import handlers
from bot.config import AppConfig, Identity
from bot.console import ConsoleTransport
from bot.i18n import Catalogs
from bot.outbox import OutboxWorker, PayloadMaker
from bot.ratelimit import SendLimiter, telegram_limiter
from bot.registry import Registry
from bot.router import Router
from bot.types import Incoming, Origin, Outgoing, Platform
from storage import Store, WorkingGroupSpec

log = logging.getLogger(__name__)


def _pair(identity: Identity) -> tuple[Platform, str]:
    return (identity.platform, identity.user_id)


def group_specs(config: AppConfig) -> list[WorkingGroupSpec]:
    """The working groups, rooms and roles the configuration declares, for storage."""
    return [
        WorkingGroupSpec(
            slug=group.slug,
            name=group.name,
            languages=tuple(group.languages),
            rooms=(
                *((Platform.TELEGRAM, str(chat)) for chat in group.telegram_chats),
                *((Platform.MATRIX, room) for room in group.matrix_rooms),
            ),
            coordinators=tuple(_pair(identity) for identity in group.coordinators),
            admins=tuple(_pair(identity) for identity in group.admins),
        )
        for group in config.working_groups
    ]


def open_store(config: AppConfig) -> Store:
    """Open the database, bring its schema up to date and apply the configured groups."""
    store = Store(config.database_url)
    store.upgrade()
    store.sync_configured_groups(
        group_specs(config),
        [_pair(identity) for identity in config.admins],
        default_language=config.default_language,
    )
    return store


def build_registry() -> Registry:
    registry = Registry()
    handlers.register_all(registry)
    return registry


def build_router(
    config: AppConfig,
    store: Store,
    catalogs: Catalogs | None = None,
    registry: Registry | None = None,
) -> Router:
    return Router(store, registry or build_registry(), catalogs or Catalogs.load(), config)


class Dispatcher:
    """Runs the synchronous router on one worker thread: events are handled one at a time,
    in order, and the event loop stays free for the transports' network I/O.

    :meth:`handle_durably` is what the network transports use: the router's work, the
    replies put in the outbox and the inbound event marked handled commit together.
    """

    def __init__(
        self,
        router: Router,
        store: Store | None = None,
        payload_makers: Mapping[Platform, PayloadMaker] | None = None,
        on_enqueued: Callable[[Platform], None] | None = None,
    ) -> None:
        self._router = router
        self._store = store
        self._payload_makers = dict(payload_makers or {})
        self._on_enqueued = on_enqueued
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="router")

    async def handle(self, event: Incoming) -> list[Outgoing]:
        """Handle an event and return the replies (the console prints them itself)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._handle_now, event)

    async def pending_prompt(self, origin: Origin) -> list[Outgoing]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._router.pending_prompt, origin)

    async def handle_durably(self, event: Incoming | None, inbound: tuple[Platform, str]) -> None:
        """Handle an event, queue its replies and mark it handled, in one transaction."""
        loop = asyncio.get_running_loop()
        platforms = await loop.run_in_executor(
            self._executor, self._handle_and_enqueue, event, inbound
        )
        if self._on_enqueued is not None:
            for platform in platforms:
                self._on_enqueued(platform)

    def _handle_now(self, event: Incoming) -> list[Outgoing]:
        if self._store is None:
            return self._router.handle(event)
        with self._store.transaction():
            return self._router.handle(event)

    def _handle_and_enqueue(
        self, event: Incoming | None, inbound: tuple[Platform, str]
    ) -> set[Platform]:
        assert self._store is not None
        platform, key = inbound
        try:
            with self._store.transaction():
                if not self._store.claim_inbound(platform, key):
                    return set()  # another process handled it meanwhile
                replies = self._router.handle(event) if event is not None else []
                self._enqueue(replies)
                self._store.mark_inbound_handled(platform, key)
            return {reply.platform for reply in replies}
        except Exception as error:
            # The event's own transaction is gone; record it as handled with an apology so
            # that one bad event cannot block every later one.
            log.error(
                "event_failed platform=%s key=%s error=%s", platform, key, type(error).__name__
            )
            with self._store.transaction():
                if not self._store.claim_inbound(platform, key):
                    return set()
                apology = self._router.apology(event.origin) if event is not None else []
                self._enqueue(apology)
                self._store.mark_inbound_handled(platform, key)
            return {reply.platform for reply in apology}

    async def discard(self, inbound: tuple[Platform, str]) -> None:
        """Give up on an inbound event that cannot even be read (logged by the caller)."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._discard_now, inbound)

    def _discard_now(self, inbound: tuple[Platform, str]) -> None:
        assert self._store is not None
        with self._store.transaction():
            if self._store.claim_inbound(*inbound):
                self._store.mark_inbound_handled(*inbound)

    def _enqueue(self, replies: list[Outgoing]) -> None:
        assert self._store is not None
        items: list[tuple[Platform, str, Mapping[str, Any]]] = []
        for reply in replies:
            maker = self._payload_makers.get(reply.platform)
            if maker is None:
                log.warning("no_sender platform=%s", reply.platform)
                continue
            items.extend((reply.platform, reply.room_id, payload) for payload in maker(reply))
        if items:
            self._store.enqueue_outgoing(items)

    def close(self) -> None:
        self._executor.shutdown(wait=True)


async def run_console(
    config: AppConfig, *, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> None:
    """Chat with the bot in this terminal until end of input."""
    source = stdin or sys.stdin
    store = open_store(config)
    dispatcher = Dispatcher(build_router(config, store), store)
    log.info("started transport=console")
    try:
        transport = ConsoleTransport(
            dispatcher.handle,
            dispatcher.pending_prompt,
            stdin=source,
            stdout=stdout or sys.stdout,
            interactive=source.isatty(),
        )
        await transport.run()
    finally:
        dispatcher.close()
        store.close()


class TelegramService:
    """The bot on Telegram: transport, router and outbox, started and stopped together."""

    def __init__(
        self,
        config: AppConfig,
        *,
        warn: Callable[[str], None] | None = None,
        limiter: SendLimiter | None = None,
    ) -> None:
        from bot.telegram import TelegramTransport
        from bot.telegram_format import payloads_for

        assert config.telegram is not None
        self.config = config
        self.store = open_store(config)
        catalogs = Catalogs.load()
        registry = build_registry()
        router = build_router(config, self.store, catalogs, registry)

        def telegram_payloads(outgoing: Outgoing) -> list[dict[str, Any]]:
            return payloads_for(outgoing, self.store.callback_token)

        self.dispatcher = Dispatcher(
            router,
            self.store,
            {Platform.TELEGRAM: telegram_payloads},
            on_enqueued=lambda platform: self.outbox.wake(),
        )
        self.transport = TelegramTransport(
            config.telegram,
            self.store,
            self.dispatcher.handle_durably,
            self.dispatcher.discard,
            catalogs=catalogs,
            registry=registry,
            default_language=config.default_language,
            has_groups=any(group.telegram_chats for group in config.working_groups),
            warn=warn or _warn_on_stderr,
        )
        self.outbox = OutboxWorker(self.store, self.transport.sender, limiter or telegram_limiter())
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Connect to Telegram and start receiving and delivering; raises TelegramStartError."""
        await self.transport.start()
        self._tasks = [
            asyncio.create_task(self.transport.run(), name="telegram-transport"),
            asyncio.create_task(self.outbox.run(), name="telegram-outbox"),
        ]
        log.info("started transport=telegram")

    async def wait(self) -> None:
        await asyncio.gather(*self._tasks)

    async def stop(self) -> None:
        self.transport.stop()
        self.outbox.stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.transport.close()
        self.dispatcher.close()
        self.store.close()


def _warn_on_stderr(line: str) -> None:
    log.warning("operator_notice %s", line)
    print(f"caucus: {line}", file=sys.stderr, flush=True)


async def run_telegram(config: AppConfig) -> None:
    """Serve Telegram until SIGINT or SIGTERM."""
    service = TelegramService(config)
    try:
        await service.start()
    except BaseException:
        await service.stop()
        raise
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    try:
        await stopped.wait()
    finally:
        log.info("stopping transport=telegram")
        await service.stop()
