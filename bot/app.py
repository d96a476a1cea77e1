"""Wiring: configuration, storage, catalogs, handlers, router, transports and outboxes."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TextIO

import handlers
from bot.bridge_format import merge_telegram_texts
from bot.config import ENV_ENCRYPTION_KEYS, AppConfig, Identity
from bot.evidence import EvidenceFetcher, FetchPolicy
from bot.i18n import Catalogs
from bot.outbox import OutboxWorker, PayloadMaker
from bot.ratelimit import SendLimiter, Window, telegram_limiter
from bot.registry import RESERVED_COMMANDS, Registry
from bot.router import Router
from bot.transports.console import ConsoleTransport
from bot.types import Incoming, Origin, Outgoing, Platform
from storage import StorageUnavailable, Store, WorkingGroupSpec
from storage.sealing import Sealer, generate_key

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


KEY_FILE = "encryption.key"


def encryption_keys(config: AppConfig, warn: Callable[[str], None] | None = None) -> list[str]:
    """The configured keys; without any, this installation's key file in ``data_dir``
    (made at first start, readable by its user only), which a warning names."""
    if config.encryption_keys:
        return [key.get_secret_value() for key in config.encryption_keys]
    path = config.data_dir / KEY_FILE
    if not path.exists():
        config.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(generate_key() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
    if warn is not None and config.enabled_platforms:
        warn(
            f"confidential data is sealed with the key in {path}, beside the data it protects; "
            f"fix: move it to the environment variable {ENV_ENCRYPTION_KEYS} and delete the file"
        )
    return [path.read_text(encoding="ascii").strip()]


def open_store(config: AppConfig, warn: Callable[[str], None] | None = None) -> Store:
    """Open the database, bring its schema up to date and apply the configured groups."""
    store = Store(config.database_url, sealer=Sealer(encryption_keys(config, warn)))
    store.upgrade()
    store.groups.sync_configured(
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


UNAVAILABLE_TRIES = 5
"""How often an event meets an unavailable database before it is set aside."""


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
        relay_platforms: tuple[Platform, ...] = (),
    ) -> None:
        self._router = router
        self._store = store
        self._payload_makers = dict(payload_makers or {})
        self._on_enqueued = on_enqueued
        # The bridge may owe any of these platforms a message after any event.
        self._relay_platforms = frozenset(relay_platforms)
        self._unavailable: dict[tuple[Platform, str], int] = {}
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
        if self._on_enqueued is not None and event is not None:
            if not event.origin.is_direct:
                platforms |= self._relay_platforms
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

    def _set_aside(
        self, event: Incoming | None, inbound: tuple[Platform, str], error: str
    ) -> set[Platform]:
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

    async def discard(self, inbound: tuple[Platform, str]) -> None:
        """Give up on an inbound event that cannot even be read (logged by the caller)."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._discard_now, inbound)

    def _discard_now(self, inbound: tuple[Platform, str]) -> None:
        assert self._store is not None
        with self._store.transaction():
            if self._store.inbox.claim(*inbound):
                self._store.inbox.mark_handled(*inbound)

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
            self._store.outbox.enqueue(items)

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


class PlatformService:
    """One platform's transport, router and outbox, started and stopped together.

    Subclasses build their transport (with ``start``, ``run``, ``stop``, ``close`` and a
    ``sender``) after :meth:`_wire` has opened the store and built the router.
    """

    platform: Platform
    transport: Any
    outbox: OutboxWorker

    def _wire(self, config: AppConfig, payloads: PayloadMaker) -> None:
        self.config = config
        self.store = open_store(config)
        self.catalogs = Catalogs.load()
        self.registry = build_registry()
        router = build_router(config, self.store, self.catalogs, self.registry)
        self.dispatcher = Dispatcher(
            router,
            self.store,
            {self.platform: payloads},
            on_enqueued=lambda platform: self.wake(platform),
            relay_platforms=config.enabled_platforms,
        )
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self, platform: Platform) -> None:
        """Messages were queued for ``platform``; :class:`Services` wakes the other outboxes."""
        if platform is self.platform:
            self.outbox.wake()

    async def start(self) -> None:
        """Connect and start receiving and delivering; raises the transport's start error."""
        try:
            await self.transport.start()
        except BaseException:
            await self.transport.close()
            raise
        self._tasks = [
            asyncio.create_task(self.transport.run(), name=f"{self.platform}-transport"),
            asyncio.create_task(self.outbox.run(), name=f"{self.platform}-outbox"),
        ]
        log.info("started transport=%s", self.platform)

    async def stop(self) -> None:
        self.transport.stop()
        self.outbox.stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.transport.close()
        self.dispatcher.close()
        self.store.close()


class TelegramService(PlatformService):
    """The bot on Telegram."""

    platform = Platform.TELEGRAM

    def __init__(
        self,
        config: AppConfig,
        *,
        warn: Callable[[str], None] | None = None,
        limiter: SendLimiter | None = None,
    ) -> None:
        from bot.transports.telegram.render import payloads_for
        from bot.transports.telegram.transport import TelegramTransport

        assert config.telegram is not None
        self._wire(
            config, lambda outgoing: payloads_for(outgoing, self.store.transports.callback_token)
        )
        self.transport = TelegramTransport(
            config.telegram,
            self.store,
            self.dispatcher.handle_durably,
            self.dispatcher.discard,
            catalogs=self.catalogs,
            registry=self.registry,
            default_language=config.default_language,
            has_groups=any(group.telegram_chats for group in config.working_groups),
            warn=warn or _warn_on_stderr,
        )
        self.outbox = OutboxWorker(
            self.store,
            self.transport.sender,
            limiter or telegram_limiter(),
            merge=merge_telegram_texts,
        )


def matrix_payloads(outgoing: Outgoing) -> list[dict[str, Any]]:
    """One reply as Matrix messages: each file as its own message (its data in base64,
    uploaded when it is sent), then the text with the choices as one message (a room event
    holds up to 64 KiB)."""
    payloads: list[dict[str, Any]] = [
        {
            "file": {
                "filename": media.filename,
                "content_type": media.content_type,
                "data": base64.b64encode(media.data).decode("ascii"),
            }
        }
        for media in outgoing.media
    ]
    if outgoing.text or outgoing.choices or not payloads:
        payloads.append(
            {
                "text": outgoing.text,
                "choices": [[choice.value, choice.label] for choice in outgoing.choices],
            }
        )
    return payloads


def matrix_limiter() -> SendLimiter:
    """Matrix has no published limits; stay well inside a homeserver's defaults."""
    return SendLimiter((Window(10, 1.0),), {"room": (Window(5, 1.0),)})


class MatrixService(PlatformService):
    """The bot on Matrix."""

    platform = Platform.MATRIX

    def __init__(
        self,
        config: AppConfig,
        *,
        warn: Callable[[str], None] | None = None,
        limiter: SendLimiter | None = None,
    ) -> None:
        from bot.transports.matrix.transport import MatrixTransport

        assert config.matrix is not None
        self._wire(config, matrix_payloads)
        known = frozenset(
            spec.name for spec in self.registry.commands() if spec.available_on(Platform.MATRIX)
        ) | frozenset(RESERVED_COMMANDS)
        self.transport = MatrixTransport(
            config.matrix,
            self.store,
            self.dispatcher.handle_durably,
            catalogs=self.catalogs,
            known_commands=known,
            configured_rooms=frozenset(
                room for group in config.working_groups for room in group.matrix_rooms
            ),
            default_language=config.default_language,
            warn=warn or _warn_on_stderr,
        )
        self.outbox = OutboxWorker(self.store, self.transport.sender, limiter or matrix_limiter())


def _warn_on_stderr(line: str) -> None:
    log.warning("operator_notice %s", line)
    print(f"caucus: {line}", file=sys.stderr, flush=True)


class Services:
    """Every configured platform's service, wired together for the bridge: each one's
    outbox is woken by the others' events, and each sender can fetch files from every
    platform it relays from. Beside them, the :class:`EvidenceFetcher` keeps the files
    sent with case reports, fetched from every platform."""

    def __init__(
        self,
        config: AppConfig,
        *,
        warn: Callable[[str], None] | None = None,
        limiters: Mapping[Platform, SendLimiter] | None = None,
        evidence_policy: FetchPolicy | None = None,
    ) -> None:
        chosen = dict(limiters or {})
        self.by_platform: dict[Platform, PlatformService] = {}
        if config.telegram is not None:
            self.by_platform[Platform.TELEGRAM] = TelegramService(
                config, warn=warn, limiter=chosen.get(Platform.TELEGRAM)
            )
        if config.matrix is not None:
            self.by_platform[Platform.MATRIX] = MatrixService(
                config, warn=warn, limiter=chosen.get(Platform.MATRIX)
            )
        sources = {
            platform: service.transport.media_source
            for platform, service in self.by_platform.items()
        }
        for service in self.by_platform.values():
            service.wake = self.wake  # type: ignore[method-assign]
            service.transport.sender.media_sources.update(sources)
        self._started: list[PlatformService] = []
        self.evidence: EvidenceFetcher | None = None
        if self.by_platform:
            store = next(iter(self.by_platform.values())).store
            self.evidence = EvidenceFetcher(store, sources, policy=evidence_policy)
        self._evidence_task: asyncio.Task[None] | None = None

    def wake(self, platform: Platform) -> None:
        """Messages were queued for ``platform``; the event may have been a report's
        submission too, so the evidence fetcher looks for new files (a cheap query)."""
        service = self.by_platform.get(platform)
        if service is not None:
            service.outbox.wake()
        if self.evidence is not None:
            self.evidence.wake()

    async def start(self) -> None:
        """Start every service, then the evidence fetcher; if one cannot start, stop those
        already started."""
        try:
            for service in self.by_platform.values():
                await service.start()
                self._started.append(service)
        except BaseException:
            await self.stop()
            raise
        if self.evidence is not None:
            self._evidence_task = asyncio.create_task(self.evidence.run(), name="evidence")

    async def stop(self) -> None:
        # The fetcher first: it uses the transports' media sources and a service's store.
        task, self._evidence_task = self._evidence_task, None
        if task is not None and self.evidence is not None:
            self.evidence.stop()
            await asyncio.gather(task, return_exceptions=True)
        started, self._started = self._started, []
        for service in started:
            await service.stop()
        for service in self.by_platform.values():
            if service not in started:
                service.dispatcher.close()
                service.store.close()


async def run_services(config: AppConfig) -> None:
    """Serve every configured platform until SIGINT or SIGTERM."""
    services = Services(config)
    await services.start()
    encryption_keys(config, _warn_on_stderr)  # started: now the key file is worth a notice
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    try:
        await stopped.wait()
    finally:
        log.info("stopping")
        await services.stop()
