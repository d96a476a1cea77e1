"""Each platform's planning of outgoing items, for the code that queues them (the router's
dispatcher and the bridge), so that it never asks which platform it writes to.

Planning cuts an item into the parts its platform sends as one message each; the outbox
stores each part as a row of its own (the bridge numbers a relayed message's parts, to find
them again for a reply, an edit or a deletion). Rendering a part into the platform's payload
waits until it is sent: see each platform's ``render`` module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType

from bot.outgoing import OutgoingItem
from bot.transports.matrix import render as matrix_render
from bot.transports.telegram import render as telegram_render
from bot.types import Platform

TokenFor = Callable[[str], int]
"""Stores a choice value too long for a platform's buttons and names it by a token."""


@dataclass(frozen=True, slots=True)
class PlatformPlanning:
    """What the queueing code needs of one platform."""

    parts: Callable[[OutgoingItem, TokenFor], list[OutgoingItem]]
    """The item as the platform's messages, in order (plan an item once)."""
    delete_window: timedelta | None
    """How long after sending the bot may still delete its own message in a group (``None``:
    always); later, a deletion is explained instead."""


PLANNING: Mapping[Platform, PlatformPlanning] = MappingProxyType(
    {
        Platform.TELEGRAM: PlatformPlanning(telegram_render.parts, telegram_render.DELETE_WINDOW),
        Platform.MATRIX: PlatformPlanning(matrix_render.parts, matrix_render.DELETE_WINDOW),
    }
)
"""The platforms whose messages go through the outbox (the console answers in place)."""
