"""How this process is doing, for admins' ``/health`` and ``/outbox``.

Each transport's receive loop reports here (through :class:`bot.backoff.Backoff`) whether
its last try went through; handlers read it. One board per process, as there is one bot
per process. :func:`key_warning` is the warning about a sealing key kept in a file.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from bot.config import ENV_ENCRYPTION_KEYS, AppConfig
from bot.types import Literal, Message, Platform


class ReceiveState(StrEnum):
    RECEIVING = "receiving"
    FAILING = "failing"


@dataclass(frozen=True, slots=True)
class TransportHealth:
    """A platform's receive loop: receiving, or failing since ``since`` (``failures`` tries
    in a row, the last for ``reason``: an error's kind, never data)."""

    state: ReceiveState
    since: datetime
    failures: int = 0
    reason: str = ""


class HealthBoard:
    """The last word of each platform's receive loop; read from the router's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[Platform, TransportHealth] = {}

    def receiving(self, platform: Platform) -> None:
        with self._lock:
            current = self._states.get(platform)
            if current is None or current.state is not ReceiveState.RECEIVING:
                self._states[platform] = TransportHealth(ReceiveState.RECEIVING, _now())

    def failing(self, platform: Platform, reason: str, failures: int) -> None:
        with self._lock:
            current = self._states.get(platform)
            since = (
                current.since
                if current is not None and current.state is ReceiveState.FAILING
                else _now()
            )
            self._states[platform] = TransportHealth(ReceiveState.FAILING, since, failures, reason)

    def of(self, platform: Platform) -> TransportHealth | None:
        """``None``: the platform's transport has not reported yet (starting, or not run)."""
        with self._lock:
            return self._states.get(platform)

    def forget(self, platform: Platform) -> None:
        with self._lock:
            self._states.pop(platform, None)


def key_warning(config: AppConfig) -> Message | None:
    """The warning, with its fix, when confidential data is sealed with the key file the
    bot made beside the database; ``None`` when the keys are configured."""
    path = config.key_file
    if path is None:
        return None
    return Message.of("health.key_file", path=Literal(str(path)), variable=ENV_ENCRYPTION_KEYS)


def _now() -> datetime:
    return datetime.now(UTC)


HEALTH = HealthBoard()
"""This process's board."""
