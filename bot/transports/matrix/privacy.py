"""When a Matrix room is private between the bot and one member: the rule, over plain values.

Anyone can make a room, name it like the bot, invite the bot and a member, and leave; a room
of two is therefore no proof of privacy. A room is private to a member only when

- its join rule is ``invite`` (not ``public``, ``knock`` or ``restricted``),
- its history is not ``world_readable`` (readable by anyone, member or not),
- nobody but the bot and that member is joined *or invited*, and the member is joined
  (or, in a room the bot made for them, at least invited),
- and the invitation the bot received did not say the room is not direct (``is_direct``,
  where the member's client set it).

The transport checks it when an event arrives (with the room state of the sync) and the
sender again right before anything confidential goes out (with the state fetched then).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class NotPrivate(StrEnum):
    """Why a room is not private between the bot and one member."""

    JOIN_RULE = "join_rule"
    """Someone may join without an invitation (public, knock, restricted)."""
    HISTORY = "history"
    """Its history is world-readable."""
    OTHERS = "others"
    """Someone else is joined or invited."""
    ABSENT = "absent"
    """The member is not in it (left, or never joined)."""
    NOT_DIRECT = "not_direct"
    """The invitation said the room is not a direct chat."""
    GROUP = "group"
    """It is linked into a working group."""


@dataclass(frozen=True, slots=True)
class RoomState:
    """What the rule reads of a room's state."""

    join_rule: str
    history_visibility: str
    joined: frozenset[str]
    invited: frozenset[str]
    is_direct: bool | None = None
    """What the bot's invitation said (``None``: not said, or not known)."""
    encrypted: bool = False
    """Whether it is end-to-end encrypted (``m.room.encryption`` in its state)."""


def why_not_private(
    state: RoomState, bot: str, member: str, *, invited_is_enough: bool = False
) -> NotPrivate | None:
    """``None`` when the room is private between ``bot`` and ``member``, else the first
    reason it is not. ``invited_is_enough``: the member need only be invited (a room the
    bot made for them, which they have not accepted yet)."""
    if state.join_rule != "invite":
        return NotPrivate.JOIN_RULE
    if state.history_visibility == "world_readable":
        return NotPrivate.HISTORY
    if (state.joined | state.invited) - {bot, member}:
        return NotPrivate.OTHERS
    present = state.joined | state.invited if invited_is_enough else state.joined
    if member not in present:
        return NotPrivate.ABSENT
    if state.is_direct is False:
        return NotPrivate.NOT_DIRECT
    return None


def state_from_events(events: Iterable[Mapping[str, Any]], is_direct: bool | None) -> RoomState:
    """The rule's view of a room from its state events (as ``GET /rooms/{id}/state`` gives
    them). A room with no join rule event is invite-only and one with no history event
    ``shared``, as the specification has it."""
    join_rule, history, encrypted = "invite", "shared", False
    joined: set[str] = set()
    invited: set[str] = set()
    for event in events:
        kind, content = event.get("type"), event.get("content")
        if not isinstance(content, Mapping):
            continue
        if kind == "m.room.join_rules":
            join_rule = str(content.get("join_rule", "invite"))
        elif kind == "m.room.history_visibility":
            history = str(content.get("history_visibility", "shared"))
        elif kind == "m.room.encryption" and content.get("algorithm"):
            encrypted = True
        elif kind == "m.room.member" and isinstance(event.get("state_key"), str):
            membership = content.get("membership")
            if membership == "join":
                joined.add(event["state_key"])
            elif membership == "invite":
                invited.add(event["state_key"])
    return RoomState(
        join_rule, history, frozenset(joined), frozenset(invited), is_direct, encrypted
    )
