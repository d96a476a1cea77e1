"""Wiring: configuration, storage, catalogs, handlers, router and a transport, started."""

from __future__ import annotations

import asyncio
import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import TextIO

import handlers
from bot.config import AppConfig, Identity
from bot.console import ConsoleTransport
from bot.i18n import Catalogs
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


def build_router(config: AppConfig, store: Store, catalogs: Catalogs | None = None) -> Router:
    registry = Registry()
    handlers.register_all(registry)
    return Router(store, registry, catalogs or Catalogs.load(), config)


class Dispatcher:
    """Runs the synchronous router on one worker thread: events are handled in order and
    the event loop stays free for the transports' network I/O."""

    def __init__(self, router: Router) -> None:
        self._router = router
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="router")

    async def handle(self, event: Incoming) -> list[Outgoing]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._router.handle, event)

    async def pending_prompt(self, origin: Origin) -> list[Outgoing]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._router.pending_prompt, origin)

    def close(self) -> None:
        self._executor.shutdown(wait=True)


async def run_console(
    config: AppConfig, *, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> None:
    """Chat with the bot in this terminal until end of input."""
    source = stdin or sys.stdin
    store = open_store(config)
    dispatcher = Dispatcher(build_router(config, store))
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
