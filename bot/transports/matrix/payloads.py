"""What :mod:`bot.transports.matrix.render` makes of an outgoing item and
:class:`bot.transports.matrix.sender.MatrixSender` sends: one event (or redaction) each.

``content`` is an event's content as the homeserver takes it (an ``m.room.message``'s, but
for a poll's start and end); event ids are the room's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from bot.outgoing import FileSource
from bot.types import Media


@dataclass(frozen=True, slots=True)
class PrivateTo:
    """Confidential: only for a room private between the bot and ``user_id``; where the room
    no longer is, ``withheld`` (an ``m.notice``'s content) is said instead."""

    user_id: str
    withheld: dict[str, Any] = field(hash=False)


@dataclass(frozen=True, slots=True)
class MatrixNotice:
    """The bot's own words (an ``m.notice``); ``choices`` (value, label) are what a number
    typed in the room picks from next."""

    content: dict[str, Any] = field(hash=False)
    choices: tuple[tuple[str, str], ...] = ()
    private: PrivateTo | None = None
    keeps_choices: bool = False
    """Leaves the numbered choices offered before in the room standing."""


@dataclass(frozen=True, slots=True)
class MatrixBotFile:
    """A file of the bot's own (an export), uploaded for the room when it is sent."""

    media: Media
    private: PrivateTo | None = None


@dataclass(frozen=True, slots=True)
class MatrixMessage:
    """A relayed message, answering ``reply_to`` (a rich reply) when there is one."""

    content: dict[str, Any] = field(hash=False)
    reply_to: str | None = None


@dataclass(frozen=True, slots=True)
class MatrixEdit:
    """An ``m.replace`` of the bot's event ``target`` by ``content``; with no target (the
    copy never arrived) the content is sent as a message of its own."""

    content: dict[str, Any] = field(hash=False)
    target: str | None = None


@dataclass(frozen=True, slots=True)
class MatrixRedaction:
    """Redact the bot's event ``target`` (nothing to do without one)."""

    target: str | None


@dataclass(frozen=True, slots=True)
class MatrixRelayFile:
    """A member's file fetched from ``source`` and uploaded for the room (encrypted in an
    encrypted room) into ``content``; ``fallback`` is sent instead when it cannot be had or
    is larger than the homeserver takes."""

    source: FileSource
    content: dict[str, Any] = field(hash=False)
    fallback: dict[str, Any] = field(hash=False)
    reply_to: str | None = None


@dataclass(frozen=True, slots=True)
class MatrixPollStart:
    """The bot's poll (an ``org.matrix.msc3381.poll.start`` event); ``choices`` (value,
    label), one per answer in order, are what a number typed in the room picks from next,
    for members whose clients show the poll as its text."""

    content: dict[str, Any] = field(hash=False)
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class MatrixPollEnd:
    """Closes the bot's poll ``start`` (an ``org.matrix.msc3381.poll.end`` event
    referencing it); numbered replies to it no longer pick its answers."""

    content: dict[str, Any] = field(hash=False)
    start: str


MatrixPayload = Union[  # noqa: UP007  (a runtime alias)
    MatrixNotice,
    MatrixBotFile,
    MatrixMessage,
    MatrixEdit,
    MatrixRedaction,
    MatrixRelayFile,
    MatrixPollStart,
    MatrixPollEnd,
]
