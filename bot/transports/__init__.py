"""The transports: the only code that imports ``telegram`` or ``nio``.

Each platform is a package with its transport, the translation of its updates into neutral
events, and the one module (``render``) that turns outgoing items (:mod:`bot.outgoing`) into
the payloads its sender delivers (``payloads``). ``planning`` is how the code that queues
items reaches each platform's render module without naming the platform. Every transport
offers the same small interface, :class:`Transport`, and is built from the same
:class:`Wiring` by its ``transport`` module's ``build`` function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from bot.media import MediaSource
from bot.outbox import Planner, Sender
from bot.outgoing import OutgoingItem
from bot.ratelimit import SendLimiter
from bot.room_checks import RoomProbe
from bot.types import Platform

if TYPE_CHECKING:
    from bot.config import AppConfig
    from bot.i18n import Catalogs
    from bot.inbox import InboxReader
    from bot.registry import Registry
    from storage import Store

Payload = TypeVar("Payload")


class TransportStartError(Exception):
    """A transport cannot start; ``str()`` is one line with the key and the fix.

    ``configuration`` says whether the configuration is at fault (the program exits 2) rather
    than the network or the server (it exits 1)."""

    def __init__(self, line: str, *, configuration: bool = False) -> None:
        super().__init__(line)
        self.configuration = configuration


class TransportSender(Sender[Any], Protocol):
    """A transport's sending half: it sends one rendered item and says what kind of room a
    room is (for the limiter); relayed files are fetched from ``media_sources``."""

    media_sources: dict[Platform, MediaSource]


class Transport(Protocol):
    """One platform, as the rest of the bot sees it."""

    @property
    def platform(self) -> Platform: ...

    @property
    def sender(self) -> TransportSender: ...

    @property
    def media_source(self) -> MediaSource:
        """Fetches the files members sent on this platform."""
        ...

    async def start(self) -> None:
        """Connect; raises the platform's start error (one line, with the fix)."""
        ...

    async def run(self) -> None:
        """Receive until :meth:`stop`."""
        ...

    def stop(self) -> None: ...

    @property
    def caught_up(self) -> bool:
        """Whether what the platform held for the bot when it started (answers sent while
        it was down) has been fetched and stored."""
        ...

    async def close(self) -> None:
        """Release connections; called after :meth:`run` returned (or :meth:`start` failed)."""
        ...


@dataclass(frozen=True)
class Wiring:
    """What the process gives every transport: its one store, the inbox's bell and catalogs.

    A transport stores what it receives in the inbox (``store.inbox.record``), rings
    ``inbox_wake``, and reads its stored events back as its :class:`PlatformParts` ``reader``.
    """

    config: AppConfig
    store: Store
    catalogs: Catalogs
    registry: Registry
    inbox_wake: Callable[[], None]
    """Tells the inbox that events were stored."""
    warn: Callable[[str], None]
    inbox_backlog: Callable[[Platform, bool], None] = lambda platform, more: None
    """Tells the inbox that the platform holds more events than one fetch brought (true)
    or no longer (false): the inbox lets the transport store them before handling more."""


@dataclass(frozen=True)
class PlatformParts(Generic[Payload]):
    """A built transport and what the outbox needs to deliver on its platform."""

    transport: Transport
    planner: Planner
    """Cuts an outgoing item into the parts stored as one outbox row each."""
    render: Callable[[OutgoingItem], Payload]
    """Turns a stored part into what the sender delivers, when it is sent."""
    limiter: SendLimiter
    merge: Callable[[Sequence[OutgoingItem]], tuple[Payload, int]] | None = None
    """Joins a burst of one sender's parts into one message (where the platform wants it)."""
    reader: InboxReader | None = None
    """Reads the platform's stored events back (every network transport has one)."""
    probe: RoomProbe | None = None
    """Tells whether the bot is in a room and may send there (``/link`` asks)."""
