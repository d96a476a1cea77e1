"""What a handler is given: who is asking, with which role, where, and the storage."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import AppConfig
from bot.registry import Registry
from bot.types import Message, Origin, ParamValue, Role
from storage import MemberRecord, Store, WorkingGroupRecord


class UserError(Exception):
    """Raised by a handler to refuse a request with a localized explanation; nothing changes."""

    def __init__(self, key: str, **params: ParamValue) -> None:
        super().__init__(key)
        self.message = Message.of(key, **params)


@dataclass(frozen=True)
class Context:
    """One event's circumstances, handed to command, choice and submit handlers."""

    origin: Origin
    member: MemberRecord
    role: Role
    working_group: WorkingGroupRecord | None
    store: Store
    registry: Registry
    config: AppConfig
    languages: tuple[str, ...]
