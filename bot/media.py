"""Relayed files: where they are fetched from, and the platforms' size limits."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

from bot.types import Platform

MB = 1024 * 1024
TELEGRAM_DOWNLOAD_LIMIT = 20 * MB
"""A bot may download files up to 20 MB from Telegram (getFile)."""
TELEGRAM_UPLOAD_LIMIT = 50 * MB
"""A bot may send files up to 50 MB to Telegram."""
TELEGRAM_PHOTO_LIMIT = 10 * MB
"""Larger photos are sent as documents."""
MATRIX_UPLOAD_LIMIT = 50 * MB
"""Synapse's default ``max_upload_size``; the homeserver's own limit is asked at start."""

UPLOAD_LIMITS: Mapping[Platform, int] = MappingProxyType(
    {Platform.TELEGRAM: TELEGRAM_UPLOAD_LIMIT, Platform.MATRIX: MATRIX_UPLOAD_LIMIT}
)
"""The largest file the bot may send to each platform."""
DOWNLOAD_LIMITS: Mapping[Platform, int] = MappingProxyType(
    {Platform.TELEGRAM: TELEGRAM_DOWNLOAD_LIMIT}
)
"""The largest file the bot may fetch from each platform that has such a limit."""


def relay_limit(source: Platform, target: Platform) -> int:
    """The largest file the bridge tries to carry from ``source`` to ``target``; a larger
    one becomes a note in its sender's name."""
    upload = UPLOAD_LIMITS[target]
    return min(upload, DOWNLOAD_LIMITS.get(source, upload))


class MediaError(Exception):
    """A file cannot be relayed; ``str()`` says why, without the file's content."""


class MediaTooLarge(MediaError):
    def __init__(self, size: int | None) -> None:
        super().__init__(f"file too large ({size} bytes)")
        self.size = size


class MediaUnavailable(MediaError):
    """The file is gone, or the platform would not hand it over."""


class MediaSource(Protocol):
    """The downloading half of a transport, as the other platform's sender sees it."""

    platform: Platform

    async def fetch(self, ref: str, max_bytes: int) -> bytes:
        """The file behind a :attr:`MediaReceived.file_ref`.

        Raises :class:`MediaTooLarge` past ``max_bytes`` (or the platform's own limit) and
        :class:`MediaUnavailable` when it cannot be had; network trouble is a
        :class:`bot.outbox.TransientFailure`."""
        ...
