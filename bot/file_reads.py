"""A small file a member sent, read for a handler: the platform's download, carried over to
the event loop from the dispatcher's thread like :mod:`bot.room_checks`.

For files a handler must read while it answers (a CSV of organizations), not for evidence:
those are fetched apart, after the report is submitted (:mod:`bot.evidence`).
"""

from __future__ import annotations

import asyncio
import logging

from bot.media import MediaSource
from bot.types import Platform

log = logging.getLogger(__name__)

READ_SECONDS = 20.0
"""How long a handler waits for a file."""


class FileUnreadable(Exception):
    """The file could not be had: too large, gone, or the platform not running here."""


class FileReads:
    """Reads files through each running platform's media source, from the dispatcher's thread."""

    def __init__(self) -> None:
        self._sources: dict[Platform, tuple[MediaSource, asyncio.AbstractEventLoop]] = {}

    def add(self, source: MediaSource, loop: asyncio.AbstractEventLoop) -> None:
        self._sources[source.platform] = (source, loop)

    def read(self, platform: Platform, ref: str, max_bytes: int) -> bytes:
        """The file's bytes; :class:`FileUnreadable` when they cannot be had in time."""
        found = self._sources.get(platform)
        if found is None:
            raise FileUnreadable(f"no media source for {platform}")
        source, loop = found
        if loop.is_closed() or _running_loop() is loop:
            raise FileUnreadable("asked on the event loop itself")
        future = asyncio.run_coroutine_threadsafe(source.fetch(ref, max_bytes), loop)
        try:
            return future.result(timeout=READ_SECONDS)
        except Exception as error:
            future.cancel()
            log.warning("file_read_failed platform=%s error=%s", platform, type(error).__name__)
            raise FileUnreadable(type(error).__name__) from error


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
