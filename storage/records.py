"""What the store hands out and takes in: frozen dataclasses, free of SQLAlchemy.

Callers never see ORM objects or sessions; every method of :class:`storage.Store`
returns one of these (or a list of them), detached from the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.types import Platform, Role


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """A person known to the bot, whichever platforms they talk on."""

    id: int
    language: str
    time_zone: str | None
    display_name: str | None
    organization: str | None
    created_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class IdentityRecord:
    """One account of a member on one platform."""

    platform: Platform
    user_id: str


@dataclass(frozen=True, slots=True)
class DirectContact:
    """An account of a member that has written to the bot privately, and that room."""

    platform: Platform
    user_id: str
    direct_room_id: str


@dataclass(frozen=True, slots=True)
class WorkingGroupRecord:
    id: int
    slug: str
    name: str
    languages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """A working group with counts: its rooms per platform, and who holds roles in it.

    ``members`` counts everyone with a role row in the group (whatever the role);
    ``coordinators`` those whose role there is coordinator or admin.
    """

    group: WorkingGroupRecord
    rooms: Mapping[Platform, int]
    members: int
    coordinators: int


@dataclass(frozen=True, slots=True)
class WorkingGroupSpec:
    """A working group as the configuration file describes it."""

    slug: str
    name: str
    languages: tuple[str, ...] = ()
    rooms: tuple[tuple[Platform, str], ...] = ()
    coordinators: tuple[tuple[Platform, str], ...] = ()
    admins: tuple[tuple[Platform, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    """The open multi-step conversation of a member (a form being filled in)."""

    name: str
    step: str
    data: dict[str, Any]
    started_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class MemberRoles:
    """The roles a member holds: network-wide, and per working group (by group id)."""

    network: Role | None
    by_group: Mapping[int, Role]

    def role_for(self, working_group_id: int | None) -> Role:
        """The role that applies in a working group's room, or in a direct chat (``None``).

        In a group room it is the higher of the network role and the role in that group;
        in a direct chat it is the highest role the member holds anywhere.
        """
        roles: list[Role] = [] if self.network is None else [self.network]
        if working_group_id is None:
            roles.extend(self.by_group.values())
        elif working_group_id in self.by_group:
            roles.append(self.by_group[working_group_id])
        return Role.highest(roles)


class DeliveryStatus(StrEnum):
    """Where an outgoing message stands: waiting to be sent, sent, or given up on."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """A raw platform event (a Telegram update), kept from arrival until it is handled.

    ``key`` identifies the event on its platform (unique there); ``sequence`` is the
    platform's own counter when it has one (Telegram's ``update_id``). Once handled, the
    payload is replaced by ``{}``: members' messages do not linger in the database. A
    ``waiting`` event is not handed over until its transport makes it ready.
    """

    id: int
    platform: Platform
    key: str
    sequence: int | None
    payload: dict[str, Any]
    received_at: datetime
    handled_at: datetime | None
    waiting: bool = False
    direct: bool = False
    """From a private chat with the bot: handed over before group traffic."""


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """A message the bot owes someone in a room, in the order of ``id``.

    ``attempts`` counts failed tries; ``failure_reason`` is the last failure's reason (or
    why the message was given up on). ``platform_message_id`` is the platform's id of the
    delivered message, when it reported one.
    """

    id: int
    platform: Platform
    room_id: str
    payload: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    platform_message_id: str | None
    failure_reason: str | None
    relayed: bool = False
    """A copy of a member's message relayed by the bridge, not something the bot says."""


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    """Counts of the outbox, for health checks.

    ``pending`` and ``failed`` count every such message; ``delivered`` those delivered
    since the time asked about. ``oldest_pending_at`` is when the oldest pending message
    was enqueued (``None`` when nothing is pending).
    """

    pending: int
    failed: int
    delivered: int
    oldest_pending_at: datetime | None


@dataclass(frozen=True, slots=True)
class RoomLink:
    """A room linked to a working group, by the configuration or by an admin's command."""

    platform: Platform
    room_id: str
    working_group_id: int
    from_config: bool


class LinkOutcome(StrEnum):
    LINKED = "linked"
    ALREADY_LINKED = "already_linked"
    LINKED_ELSEWHERE = "linked_elsewhere"
    """The room belongs to another group by the configuration: only the file can move it."""
    MOVED = "moved"
    NOT_LINKED = "not_linked"
    UNLINKED = "unlinked"
    CONFIGURED = "configured"
    """The configuration links the room: a command cannot unlink it."""


@dataclass(frozen=True, slots=True)
class BridgedRef:
    """A relayed message found by one of its ids: the original's, or a copy's."""

    id: int
    working_group_id: int
    platform: Platform
    room_id: str
    message_id: str
    kind: str
    digest: str
    is_original: bool
    """True when the id looked up was the member's own message, not one of the bot's copies."""


@dataclass(frozen=True, slots=True)
class BridgedCopy:
    """One outbox row carrying (part of) a relayed message into another room."""

    outbox_id: int
    platform: Platform
    room_id: str
    part: int
    status: DeliveryStatus
    platform_message_id: str | None
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class OutboxTarget:
    """What a later outbox message (a reply, an edit, a deletion) needs of an earlier one."""

    status: DeliveryStatus
    platform_message_id: str | None
    shared: bool
    """Several rows were delivered as this one platform message (a merged burst)."""
