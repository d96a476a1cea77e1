"""Persistence for Caucus: the only package that talks to the database (via SQLAlchemy).

Use :class:`Store` and its area stores (``store.members``, ``store.outbox``, ...); they
return the frozen records below and raise :class:`StorageError`. This is the one list of
what the package exports.
"""

from storage.database import database_exists
from storage.errors import KeysDoNotOpen, NotFoundError, StorageError, StorageUnavailable
from storage.records import (
    BridgedCopy,
    BridgedRef,
    ConversationRecord,
    DeliveryStatus,
    DirectContact,
    GroupSummary,
    IdentityRecord,
    InboundRecord,
    LinkOutcome,
    MemberRecord,
    MemberRoles,
    OutboxRecord,
    OutboxStatus,
    OutboxTarget,
    RoomLink,
    WorkingGroupRecord,
    WorkingGroupSpec,
)
from storage.store import Store

__all__ = [
    "BridgedCopy",
    "BridgedRef",
    "ConversationRecord",
    "DeliveryStatus",
    "DirectContact",
    "GroupSummary",
    "IdentityRecord",
    "InboundRecord",
    "KeysDoNotOpen",
    "LinkOutcome",
    "MemberRecord",
    "MemberRoles",
    "NotFoundError",
    "OutboxRecord",
    "OutboxStatus",
    "OutboxTarget",
    "RoomLink",
    "StorageError",
    "StorageUnavailable",
    "Store",
    "WorkingGroupRecord",
    "WorkingGroupSpec",
    "database_exists",
]
