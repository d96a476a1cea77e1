"""Whether the bot is in a room and may speak there, asked of the platform for a handler.

Handlers are synchronous and run on the dispatcher's thread; the transports' network I/O
runs on the event loop. :class:`RoomChecks` carries a handler's question over to the loop,
to the platform's :class:`RoomProbe`, and waits a few seconds for the answer. The callers are
rare enough for that wait: an admin's ``/link``, and a coordinator's approval of a request to
join a working group, which has the platform let the new member in (:class:`RoomInviter`: a
Telegram invite link, a Matrix invitation). Meanwhile nothing on the event loop may wait for
the store's write gate, which the dispatcher's unit of work holds.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from bot.types import Platform

log = logging.getLogger(__name__)

PROBE_SECONDS = 10.0
"""How long a handler waits for the platform's answer."""


class BotAccess(StrEnum):
    """What the platform says of the bot in one room."""

    READY = "ready"
    """A member, allowed to send messages."""
    NOT_MEMBER = "not_member"
    """Not in the room (or no such room)."""
    CANNOT_SEND = "cannot_send"
    """In the room, but not allowed to send messages."""
    NOT_A_GROUP = "not_a_group"
    """Not a group: a person's private chat, or a channel."""
    UNCHECKED = "unchecked"
    """The platform could not be asked (not running in this process, or no answer)."""


class RoomProbe(Protocol):
    """A platform's answer to "may the bot speak in this room?" (its transport's)."""

    async def bot_access(self, room_id: str) -> BotAccess: ...


@dataclass(frozen=True, slots=True)
class Invitation:
    """What a platform did to let one member into one room: on Matrix the account was
    ``invited``; on Telegram a ``link`` for one person, valid for a day, was made."""

    invited: bool = False
    link: str | None = None


INVITE_LINK_HOURS = 24
"""How long a Telegram invite link made for a new member lasts."""


@runtime_checkable
class RoomInviter(Protocol):
    """A platform that can let a member into its rooms (a transport that may)."""

    async def invite(self, room_id: str, user_id: str) -> Invitation: ...

    def bot_link(self, payload: str) -> str | None:
        """A link that opens a private chat with the bot and starts it with ``payload``
        (Telegram's deep links); ``None`` where the platform has none."""
        ...


class RoomChecks:
    """Asks each running platform's probe, from the dispatcher's thread, on the loop."""

    def __init__(self) -> None:
        self._probes: dict[Platform, tuple[RoomProbe, asyncio.AbstractEventLoop]] = {}

    def add(self, platform: Platform, probe: RoomProbe, loop: asyncio.AbstractEventLoop) -> None:
        """``platform``'s rooms are asked of ``probe``, which runs on ``loop``."""
        self._probes[platform] = (probe, loop)

    def bot_access(self, platform: Platform, room_id: str) -> BotAccess:
        found = self._probes.get(platform)
        if found is None:
            return BotAccess.UNCHECKED
        probe, loop = found
        if loop.is_closed() or _running_loop() is loop:
            return BotAccess.UNCHECKED  # asked on the loop itself: waiting would block it
        future = asyncio.run_coroutine_threadsafe(probe.bot_access(room_id), loop)
        try:
            return future.result(timeout=PROBE_SECONDS)
        except Exception as error:
            future.cancel()
            log.warning("room_probe_failed platform=%s error=%s", platform, type(error).__name__)
            return BotAccess.UNCHECKED

    def invite(self, platform: Platform, room_id: str, user_id: str) -> Invitation | None:
        """Let ``user_id`` into ``room_id`` (see :class:`Invitation`); ``None`` when the
        platform could not be asked."""
        found = self._probes.get(platform)
        if found is None or not isinstance(found[0], RoomInviter):
            return None
        inviter, loop = found[0], found[1]
        if loop.is_closed() or _running_loop() is loop:
            return None
        future = asyncio.run_coroutine_threadsafe(inviter.invite(room_id, user_id), loop)
        try:
            return future.result(timeout=PROBE_SECONDS)
        except Exception as error:
            future.cancel()
            log.warning("room_invite_failed platform=%s error=%s", platform, type(error).__name__)
            return None

    def bot_link(self, platform: Platform, payload: str) -> str | None:
        """The platform's link that starts a private chat with the bot with ``payload``."""
        found = self._probes.get(platform)
        if found is None or not isinstance(found[0], RoomInviter):
            return None
        return found[0].bot_link(payload)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
