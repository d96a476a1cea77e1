"""What :mod:`bot.transports.telegram.render` makes of an outgoing item and
:class:`bot.transports.telegram.sender.TelegramSender` sends: one Bot API call's worth each.

HTML is already escaped and formatted (``parse_mode=HTML``); message ids are the chat's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Union

from bot.outgoing import FileSource
from bot.types import Media, MediaKind


@dataclass(frozen=True, slots=True)
class Button:
    """An inline keyboard button; ``callback_data`` is what a press sends back (at most 64
    bytes: a longer choice value is stored and named by a token)."""

    callback_data: str
    label: str


@dataclass(frozen=True, slots=True)
class TelegramText:
    """A text message, answering ``reply_to`` when it is still there; ``link_preview`` off
    for the bot's own words, on for members' relayed links."""

    html: str
    reply_to: int | None = None
    buttons: tuple[Button, ...] = ()
    link_preview: bool = True


@dataclass(frozen=True, slots=True)
class TelegramDocument:
    """A file of the bot's own (an export), with a caption and buttons."""

    media: Media
    caption_html: str = ""
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True, slots=True)
class TelegramRelayFile:
    """A member's file fetched from ``source`` and sent the way Telegram shows its ``kind``
    best; ``fallback_html`` is sent instead when it cannot be had or is too large."""

    kind: MediaKind
    source: FileSource
    caption_html: str
    fallback_html: str
    reply_to: int | None = None


@dataclass(frozen=True, slots=True)
class TelegramEdit:
    """New text (or caption) for the bot's message ``target``; where that cannot be done (no
    target, a merged burst, a message Telegram will not edit) ``fallback_html`` follows."""

    target: int | None
    html: str
    fallback_html: str
    shared: bool = False


@dataclass(frozen=True, slots=True)
class TelegramDeletion:
    """Delete the bot's message ``target``; where Telegram will not (too old, or a merged
    burst that holds others' words too) ``fallback_html`` answers it instead."""

    target: int | None
    fallback_html: str
    shared: bool = False


@dataclass(frozen=True, slots=True)
class TelegramPoll:
    """A native poll (sendPoll), never anonymous: only then does Telegram tell the bot each
    answer. ``closes_at``: when the bot's deadline is; Telegram is asked to close the poll
    itself then if, at sending time, that is within its limits. Where Telegram takes no
    such poll (a channel), ``fallback_html`` (the question and numbered options) is sent
    instead, with ``buttons`` that pick the options."""

    question: str
    options: tuple[str, ...]
    multiple_answers: bool
    hide_results: bool
    closes_at: datetime | None
    fallback_html: str
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True, slots=True)
class TelegramBotEdit:
    """New text for the bot's own message ``target`` (live results); ``None``: that message
    was never sent, and the text goes as a new one."""

    target: int | None
    html: str


@dataclass(frozen=True, slots=True)
class TelegramPollStop:
    """Close the bot's poll in message ``target`` (stopPoll); ``None``: it never went out,
    and nothing is sent."""

    target: int | None


TelegramPayload = Union[  # noqa: UP007  (a runtime alias)
    TelegramText,
    TelegramDocument,
    TelegramRelayFile,
    TelegramEdit,
    TelegramDeletion,
    TelegramPoll,
    TelegramBotEdit,
    TelegramPollStop,
]
