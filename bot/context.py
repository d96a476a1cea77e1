"""What a handler is given: who is asking, with which role, where, and the part of the
storage a handler may use."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from bot.config import AppConfig
from bot.file_reads import FileReads
from bot.registry import Registry
from bot.room_checks import RoomChecks
from bot.types import Message, Origin, ParamValue, Platform, Role
from storage import MemberRecord, MemberRoles, OutboxStatus, Store, WorkingGroupRecord
from storage.accounts import AccountStore
from storage.audit import AuditStore
from storage.cases import CaseStore
from storage.consultations import ConsultationStore
from storage.erasure import MemberDataStore
from storage.groups import GroupStore
from storage.joining import JoiningStore
from storage.members import MemberStore
from storage.organizations import OrganizationStore
from storage.polls import PollsStore
from storage.posts import PostedRoom
from storage.rooms import RoomStore
from storage.roster import RosterStore
from storage.scheduled import ScheduledRecord, ScheduledState
from storage.statements import StatementStore
from storage.urgent_alerts import UrgentAlertStore


class OutboxReport(Protocol):
    """What a handler may ask of the outbox: how it is doing, never its messages."""

    def status(
        self,
        platform: Platform | None = None,
        *,
        since: datetime,
        rooms: Collection[str] | None = None,
    ) -> OutboxStatus: ...


class Posts(Protocol):
    """What a handler may ask of the bot's named messages (:mod:`storage.posts`): which post
    a platform's message or poll id is, and where a post went."""

    def key_of_message(self, platform: Platform, room_id: str, message_id: str) -> str | None: ...

    def key_of_native(self, platform: Platform, native_id: str) -> str | None: ...

    def rooms_of(self, key: str) -> list[PostedRoom]: ...


class ScheduledWork(Protocol):
    """What a handler may do with scheduled work (:class:`storage.scheduled.ScheduledStore`):
    schedule, move and cancel it, read it and count it by state; claiming it is the
    scheduler's."""

    def schedule(
        self,
        key: str,
        kind: str,
        due_at: datetime,
        target: Mapping[str, Any],
        *,
        rule: str | None = None,
        time_zone: str | None = None,
    ) -> ScheduledRecord: ...

    def cancel(self, key: str) -> bool: ...

    def cancel_prefix(self, prefix: str) -> int: ...

    def get(self, key: str) -> ScheduledRecord | None: ...

    def with_prefix(self, prefix: str) -> list[ScheduledRecord]: ...

    def counts(self) -> dict[ScheduledState, int]: ...


@dataclass(frozen=True)
class HandlerStore:
    """The storage a handler may use: members, working groups and roles, room links, case
    reports and their waiting urgent alerts, the audit log, groups' rosters, member
    organizations, a member's own data as a whole (exported, erased), the outbox's counts,
    the store's clock, connecting a member's accounts, and scheduled work.

    Not the whole :class:`storage.Store`: units of work are the router's (a handler runs
    inside one), and the inbox, outbox queue, conversations, relayed messages, transports'
    state and key rotation belong to the parts of the bot that own them.
    """

    members: MemberStore
    groups: GroupStore
    rooms: RoomStore
    cases: CaseStore
    urgent_alerts: UrgentAlertStore
    audit: AuditStore
    roster: RosterStore
    joining: JoiningStore
    organizations: OrganizationStore
    outbox: OutboxReport
    accounts: AccountStore
    now: Callable[[], datetime]
    member_data: MemberDataStore
    scheduled: ScheduledWork
    """Work due later: reminders, deadlines, announcements (see :mod:`bot.scheduler`)."""
    consultations: ConsultationStore
    posts: Posts
    """The bot's messages named by a capability (``Reply.post``): a poll and its results."""
    polls: PollsStore
    """Polls, their votes and secret ballots (:mod:`storage.polls`)."""
    statements: StatementStore
    """Joint statements, their versions, signatures and questions (:mod:`storage.statements`)."""

    @classmethod
    def of(cls, store: Store) -> HandlerStore:
        return cls(
            members=store.members,
            groups=store.groups,
            rooms=store.rooms,
            cases=store.cases,
            urgent_alerts=store.urgent_alerts,
            audit=store.audit,
            roster=store.roster,
            joining=store.joining,
            organizations=store.organizations,
            outbox=store.outbox,
            now=store.now,
            accounts=store.accounts,
            member_data=store.member_data,
            scheduled=store.scheduled,
            consultations=store.consultations,
            posts=store.posts,
            polls=store.polls,
            statements=store.statements,
        )


def room_language(group: WorkingGroupRecord | None, config: AppConfig) -> str:
    """The language a working group's rooms read: its first, else the configuration's."""
    return group.languages[0] if group and group.languages else config.default_language


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
    store: HandlerStore
    registry: Registry
    config: AppConfig
    languages: tuple[str, ...]
    room_checks: RoomChecks = field(default_factory=RoomChecks)
    """Asks a platform whether the bot is in a room and may send there."""
    file_reads: FileReads = field(default_factory=FileReads)
    """Reads a small file a member sent, through its platform (an import's CSV)."""

    @property
    def reader(self) -> MemberRecord:
        """The member as dates and times are shown to them: in their time zone, or the
        configuration's for members who have not chosen one."""
        return replace(self.member, time_zone=self.member.time_zone or self.config.time_zone)

    def groups_where(self, role: Role) -> list[WorkingGroupRecord]:
        """The working groups in which the member holds ``role`` or more: every group for
        a network-wide role, only their own for a group's coordinator or admin."""
        return [group for group in self.store.groups.all() if self.role_in(group.id).includes(role)]

    def coordinated_group(self, working_group_id: int) -> WorkingGroupRecord | None:
        """The working group, when it exists and the member coordinates it (or more)."""
        group = self.store.groups.get(working_group_id)
        if group is None or not self.role_in(working_group_id).includes(Role.COORDINATOR):
            return None
        return group

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
