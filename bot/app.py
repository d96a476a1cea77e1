"""Wiring: configuration, storage, catalogs, handlers, router, transports and outboxes."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import handlers
from bot.charts import complex_layout
from bot.config import (
    DEMO_GROUP,
    DEMO_OPERATOR,
    AppConfig,
    Identity,
    WorkingGroupConfig,
)
from bot.evidence import EvidenceFetcher, EvidenceQuota, FetchPolicy
from bot.feed_polling import FeedPoller
from bot.i18n import Catalogs
from bot.inbox import Dispatcher, Inbox
from bot.keys import key_file_notice, sealer_for
from bot.outbox import OutboxWorker, Planner
from bot.ratelimit import SendLimiter
from bot.registry import Registry
from bot.router import Router
from bot.scheduler import Scheduler
from bot.standby import serve_alone
from bot.transports import PlatformParts, Transport, Wiring
from bot.transports.console import ConsoleTransport
from bot.transports.planning import PLANNING
from bot.types import Platform
from handlers import imports
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
    store = Store(config.database_url, sealer=sealer_for(config))
    store.upgrade()
    try:
        store.check_keys()
    except BaseException:
        store.close()
        raise
    store.groups.sync_configured(
        group_specs(config),
        [_pair(identity) for identity in config.admins],
        default_language=config.default_language,
    )
    return store


def warn_unreached(config: AppConfig, store: Store, warn: Callable[[str], None]) -> None:
    """At every start: each configured admin or coordinator the bot cannot write to."""
    if config.telegram is None:
        return
    for where in unreached_on_telegram(config, store):
        warn(
            f"{where} has never written to the bot on Telegram, where a bot can write only "
            "to people who wrote to it first: case notices and urgent alerts cannot reach "
            "them; fix: ask them to open the bot in Telegram and send /start"
        )


def warn_urgent_waiting(store: Store, warn: Callable[[str], None]) -> None:
    """At every start: the urgent alerts that still wait for a coordinator (numbers only)."""
    alerts = store.urgent_alerts.waiting()
    if not alerts:
        return
    numbers = ", ".join(str(alert.case_id) for alert in sorted(alerts, key=lambda a: a.case_id))
    warn(
        f"{len(alerts)} urgent alert(s) waiting since {alerts[0].since:%Y-%m-%d %H:%M} UTC "
        f"(cases {numbers}): no coordinator of their working group could receive them; each "
        "goes to the first coordinator or admin of its group who writes to the bot privately "
        "(or a network admin, when the group has none the bot can reach); fix: ask one of "
        "them to write to the bot now"
    )


def unreached_on_telegram(config: AppConfig, store: Store) -> list[str]:
    """The configured admins and coordinators on Telegram who have never written to the bot
    in private, by their place in the configuration (never their ids: this goes to logs)."""
    places = [(f"admins[{n}]", identity) for n, identity in enumerate(config.admins)]
    for g, group in enumerate(config.working_groups):
        for role, identities in (("coordinators", group.coordinators), ("admins", group.admins)):
            places += [
                (f"working_groups[{g}].{role}[{n}]", identity)
                for n, identity in enumerate(identities)
            ]
    on_telegram = [(where, i) for where, i in places if i.platform is Platform.TELEGRAM]
    never = store.members.never_wrote_privately(
        Platform.TELEGRAM, [identity.user_id for _, identity in on_telegram]
    )
    return [where for where, identity in on_telegram if identity.user_id in never]


def build_registry() -> Registry:
    registry = Registry()
    handlers.register_all(registry)
    registry.check()
    return registry


def build_router(
    config: AppConfig,
    store: Store,
    catalogs: Catalogs | None = None,
    registry: Registry | None = None,
) -> Router:
    return Router(store, registry or build_registry(), catalogs or Catalogs.load(), config)


async def run_console(
    config: AppConfig, *, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> None:
    """Chat with the bot in this terminal until end of input, once no other instance
    serves the database (waiting as a standby until then, said on stderr)."""
    await serve_alone(
        config.database_url, lambda: _chat_in_console(config, stdin, stdout), notify=_say
    )


def _say(line: str) -> None:
    print(f"caucus: {line}", file=sys.stderr, flush=True)


EXPORTS_DIR = "exports"
"""The folder in ``data_dir`` where the console writes the files the bot sends (exports)."""


def demo_group(config: AppConfig) -> WorkingGroupConfig | None:
    """The demo working group of the built-in defaults, when no configuration file is given."""
    if config.source is not None:
        return None
    return next(
        (group for group in config.working_groups if group.slug == DEMO_GROUP["slug"]), None
    )


def demo_notice(config: AppConfig, group: WorkingGroupConfig) -> str:
    """The start-up line of a demo: what it is, where its files go, and how to leave it
    (the database's path only for SQLite: a server's URL may carry a password)."""
    database = config.database_url.removeprefix("sqlite:///")
    kept = f", kept in {database}" if config.database_url.startswith("sqlite:///") else ""
    return (
        f"demo: with no configuration file this is a demo{kept}: you ({DEMO_OPERATOR}) are "
        f'the admin and coordinator of its working group "{group.name}" ({group.slug}), so '
        f"/report, /cases, /case and /export work here, /export writing its files into "
        f"{config.data_dir / EXPORTS_DIR}; for real working groups, copy config.example.toml "
        "to config.toml and declare them under [[working_groups]]: with a configuration file "
        "there is no demo"
    )


async def _chat_in_console(config: AppConfig, stdin: TextIO | None, stdout: TextIO | None) -> None:
    source = stdin or sys.stdin
    store = open_store(config)
    dispatcher = Dispatcher(build_router(config, store), store, network_planners(config, store))
    log.info("started transport=console")
    demo = demo_group(config)
    if demo is not None:
        log.info("demo_group slug=%s", demo.slug)
        _say(demo_notice(config, demo))
    try:
        warn_urgent_waiting(store, _warn_on_stderr)
        transport = ConsoleTransport(
            dispatcher.handle,
            dispatcher.pending_prompt,
            stdin=source,
            stdout=stdout or sys.stdout,
            interactive=source.isatty(),
            files_dir=config.data_dir / EXPORTS_DIR,
        )
        await transport.run()
    finally:
        dispatcher.close()
        store.close()


def network_planners(config: AppConfig, store: Store) -> dict[Platform, Planner]:
    """The planning of each configured chat platform, for the console's dispatcher: what a
    command on the console says to a Telegram or Matrix room (a poll posted to the group's
    rooms) waits in the outbox for ``caucus run`` to deliver."""

    def planner(platform: Platform) -> Planner:
        return lambda item: PLANNING[platform].parts(item, store.transports.callback_token)

    return {
        platform: planner(platform)
        for platform in config.enabled_platforms
        if platform is not Platform.CONSOLE
    }


def _build_platform(
    platform: Platform, wiring: Wiring, limiter: SendLimiter | None
) -> PlatformParts[Any]:
    """A platform's transport; its library is imported only when it is configured."""
    if platform is Platform.TELEGRAM:
        from bot.transports.telegram.transport import build as build_telegram

        return build_telegram(wiring, limiter)
    from bot.transports.matrix.transport import build as build_matrix

    return build_matrix(wiring, limiter)


def platform_problems(config: AppConfig) -> list[str]:
    """What a configured transport would refuse at start for want of configuration (one line
    each, with the fix), found without connecting: for ``caucus check-config``."""
    if config.matrix is None:
        return []
    from bot.transports.matrix.transport import pickle_key_problem

    problem = pickle_key_problem(config.matrix)
    return [] if problem is None else [problem]


def _warn_on_stderr(line: str) -> None:
    log.warning("operator_notice %s", line)
    print(f"caucus: {line}", file=sys.stderr, flush=True)


class Services:
    """The bot on every configured platform, in one process: one store (migrated once), one
    router on one dispatcher thread, one inbox, the scheduler (:mod:`bot.scheduler`), and per
    platform a transport and an outbox.

    Events from every platform are handled one at a time, in one order; each outbox is woken
    when an event queued messages for its platform, and each sender can fetch files from
    every platform it relays from. Beside them, the :class:`EvidenceFetcher` keeps the files
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
        self.config = config
        self.store = open_store(config)
        self.catalogs = Catalogs.load()
        self.registry = build_registry()
        router = build_router(config, self.store, self.catalogs, self.registry)
        self._room_checks = router.room_checks
        self._file_reads = router.file_reads
        platforms = config.enabled_platforms
        self.dispatcher = Dispatcher(
            router, self.store, on_enqueued=self.wake, relay_platforms=platforms
        )
        self.inbox = Inbox(self.store, self.dispatcher)
        self.scheduler = Scheduler(
            self.store,
            self.registry,
            self.catalogs,
            config,
            on_enqueued=self.wake,
            poll_seconds=config.scheduler.poll_seconds,
        )
        wiring = Wiring(
            config=config,
            store=self.store,
            catalogs=self.catalogs,
            registry=self.registry,
            inbox_wake=self.inbox.wake,
            warn=warn or _warn_on_stderr,
            inbox_backlog=self.inbox.backlog,
        )
        parts: dict[Platform, PlatformParts[Any]] = {
            platform: _build_platform(platform, wiring, chosen.get(platform))
            for platform in platforms
        }
        self._probes = {
            platform: part.probe for platform, part in parts.items() if part.probe is not None
        }
        for platform, part in parts.items():
            self.dispatcher.add_platform(platform, part.planner)
            self.scheduler.add_platform(platform, part.planner)
            if part.reader is not None:
                self.inbox.add_reader(platform, part.reader)
        self.transports: dict[Platform, Transport] = {
            platform: part.transport for platform, part in parts.items()
        }
        self.outboxes: dict[Platform, OutboxWorker[Any]] = {
            platform: OutboxWorker(
                self.store,
                part.transport.sender,
                part.limiter,
                render=part.render,
                merge=part.merge,
            )
            for platform, part in parts.items()
        }
        sources = {
            platform: transport.media_source for platform, transport in self.transports.items()
        }
        for transport in self.transports.values():
            transport.sender.media_sources.update(sources)
        self.evidence: EvidenceFetcher | None = None
        if self.transports:
            limits = config.limits
            quota = EvidenceQuota(
                limits.evidence_bytes_per_report, limits.evidence_bytes_per_member_per_day
            )
            self.evidence = EvidenceFetcher(
                self.store, sources, policy=evidence_policy, quota=quota
            )
        self.feeds: FeedPoller | None = None
        self._started: list[Transport] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._stopping = asyncio.Event()

    def wake(self, platform: Platform) -> None:
        """Messages were queued for ``platform``; the event may have been a report's
        submission too, so the evidence fetcher looks for new files, and the scheduler for
        work due (cheap queries)."""
        outbox = self.outboxes.get(platform)
        if outbox is not None:
            outbox.wake()
        # The event may have scheduled work due sooner than the scheduler's next look.
        self.scheduler.wake()
        if self.evidence is not None:
            self.evidence.wake()

    async def start(self) -> None:
        """Connect every transport, then start receiving, handling and delivering; if one
        cannot start, close those already started and raise its start error."""
        try:
            for transport in self.transports.values():
                try:
                    await transport.start()
                except BaseException:
                    await transport.close()
                    raise
                self._started.append(transport)
                log.info("started transport=%s", transport.platform)
                probe = self._probes.get(transport.platform)
                if probe is not None:
                    self._room_checks.add(transport.platform, probe, asyncio.get_running_loop())
                self._file_reads.add(transport.media_source, asyncio.get_running_loop())
        except BaseException:
            await self.stop()
            raise
        self._tasks = [
            *(
                asyncio.create_task(transport.run(), name=f"{transport.platform}-transport")
                for transport in self.transports.values()
            ),
            *(
                asyncio.create_task(outbox.run(), name=f"{platform}-outbox")
                for platform, outbox in self.outboxes.items()
            ),
            asyncio.create_task(self.inbox.run(), name="inbox"),
            asyncio.create_task(self._schedule_once_caught_up(), name="scheduler"),
        ]
        if self.evidence is not None:
            self._tasks.append(asyncio.create_task(self.evidence.run(), name="evidence"))
        self.feeds = imports.feed_poller(self.config, self.store, self.catalogs, self.dispatcher)
        self._tasks.append(asyncio.create_task(self.feeds.run(), name="feeds"))
        log_chart_layout()

    async def _schedule_once_caught_up(self) -> None:
        """Run the scheduler once what members sent while the bot was down is fetched and
        handled (at most :data:`CATCH_UP_SECONDS` each): a vote cast before a poll's
        deadline, answered while the bot was away, counts before the deadline's close."""
        platforms = tuple(self.transports)

        async def handled() -> bool:
            pending = await asyncio.to_thread(self.store.inbox.pending_of, platforms, 1)
            return not any(pending.values())

        async def fetched() -> bool:
            return all(transport.caught_up for transport in self.transports.values())

        for done in (fetched, handled):
            until = asyncio.get_running_loop().time() + CATCH_UP_SECONDS
            while True:
                if self._stopping.is_set():
                    return
                if await done() or asyncio.get_running_loop().time() >= until:
                    break
                await asyncio.sleep(CATCH_UP_POLL)
        await self.scheduler.run()

    async def stop(self) -> None:
        """Stop receiving first, then let sends under way finish; close the store last."""
        tasks, self._tasks = self._tasks, []
        self._stopping.set()
        # The fetcher first: it uses the transports' media sources.
        if self.evidence is not None:
            self.evidence.stop()
        self.inbox.stop()
        self.scheduler.stop()
        if self.feeds is not None:
            self.feeds.stop()
        for transport in self._started:
            transport.stop()
        for outbox in self.outboxes.values():
            outbox.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        started, self._started = self._started, []
        for transport in started:
            await transport.close()
        if not self._closed:
            self._closed = True
            self.dispatcher.close()
            self.store.close()


CATCH_UP_SECONDS = 30.0
"""How long the scheduler waits at start, at most, for the platforms' backlog to be fetched,
and again for it to be handled."""
CATCH_UP_POLL = 0.2


def log_chart_layout() -> None:
    """Say at start whether poll results can be drawn in every script: without Pillow's
    complex text layout (libraqm, which loads the system's libfribidi), results in Arabic
    and other joining or right-to-left scripts go as text bars only."""
    if complex_layout():
        log.info("poll_charts complex_layout=yes")
    else:
        log.warning(
            "poll_charts complex_layout=no: results in a right-to-left or joining script go"
            " as text bars only (Pillow finds no libraqm; install libfribidi0)"
        )


async def run_services(config: AppConfig) -> None:
    """Serve every configured platform until SIGINT or SIGTERM, once no other instance
    serves the database (waiting as a standby until then)."""
    await serve_alone(config.database_url, lambda: _serve_platforms(config))


async def _serve_platforms(config: AppConfig) -> None:
    services = Services(config)
    await services.start()
    if (notice := key_file_notice(config)) is not None:  # started: now worth a notice
        _warn_on_stderr(notice)
    warn_unreached(config, services.store, _warn_on_stderr)
    warn_urgent_waiting(services.store, _warn_on_stderr)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    try:
        await stopped.wait()
    finally:
        log.info("stopping")
        await services.stop()
