"""What a handler is given: who is asking, with which role, where, and the storage."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import AppConfig
from bot.registry import Registry
from bot.types import Message, Origin, ParamValue, Platform, Role
from storage import MemberRecord, MemberRoles, Store, WorkingGroupRecord


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
    """The role the router checks commands against: in a group room, the member's role in
    that room's working group; in a direct chat, their highest role anywhere."""
    roles: MemberRoles
    working_group: WorkingGroupRecord | None
    store: Store
    registry: Registry
    config: AppConfig
    languages: tuple[str, ...]

    def role_in(self, working_group_id: int | None) -> Role:
        """The member's role in one working group (``None``: network-wide only).

        Handlers acting on one group's data check this, not :attr:`role`.
        """
        trusted = self.origin.trusted_role
        if self.origin.platform is Platform.CONSOLE and trusted is not None:
            return trusted
        if working_group_id is None:
            return self.roles.network or Role.MEMBER
        return self.roles.role_for(working_group_id)
