"""Persistence for Caucus: the only package that talks to the database (via SQLAlchemy).

Use :class:`Store`; it returns the frozen records below and raises :class:`StorageError`.
"""

from storage.errors import NotFoundError, StorageError
from storage.records import (
    ConversationRecord,
    DeliveryStatus,
    GroupSummary,
    IdentityRecord,
    InboundRecord,
    MemberRecord,
    MemberRoles,
    OutboxRecord,
    OutboxStatus,
    WorkingGroupRecord,
    WorkingGroupSpec,
)
from storage.store import Store

__all__ = [
    "ConversationRecord",
    "DeliveryStatus",
    "GroupSummary",
    "IdentityRecord",
    "InboundRecord",
    "MemberRecord",
    "MemberRoles",
    "NotFoundError",
    "OutboxRecord",
    "OutboxStatus",
    "StorageError",
    "Store",
    "WorkingGroupRecord",
    "WorkingGroupSpec",
]
