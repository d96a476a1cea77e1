"""Persistence for Caucus: the only package that talks to the database (via SQLAlchemy).

Use :class:`Store`; it returns the frozen records below and raises :class:`StorageError`.
"""

from storage.errors import NotFoundError, StorageError
from storage.records import (
    ConversationRecord,
    GroupSummary,
    IdentityRecord,
    MemberRecord,
    MemberRoles,
    WorkingGroupRecord,
    WorkingGroupSpec,
)
from storage.store import Store

__all__ = [
    "ConversationRecord",
    "GroupSummary",
    "IdentityRecord",
    "MemberRecord",
    "MemberRoles",
    "NotFoundError",
    "StorageError",
    "Store",
    "WorkingGroupRecord",
    "WorkingGroupSpec",
]
