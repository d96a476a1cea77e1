"""The store: everything the bot keeps, behind methods named for what callers need.

Each method runs in its own transaction, committed before it returns, and answers with
frozen records from :mod:`storage.records`; no session or ORM object ever leaves.
Inside ``with store.transaction():`` the methods join one transaction instead (a unit
of work), committed or rolled back as a whole.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TypeVar

from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.types import Platform, Role
from storage.bridge import (
    bridged_copies_in,
    bridged_message_in,
    link_room_in,
    outbox_targets_in,
    record_bridged_message_in,
    rooms_of_group_in,
    set_bridged_digest_in,
    unlink_room_in,
)
from storage.cases import CaseStore
from storage.conversations import (
    conversation_record,
    encode_conversation_data,
    save_conversation_in,
)
from storage.database import alembic_config, create_engine_for
from storage.delivery import (
    claim_inbound_in,
    drop_pending_for_room_in,
    enqueue_outgoing_in,
    last_inbound_sequence_in,
    mark_delivered_in,
    mark_failed_in,
    mark_inbound_handled_in,
    outbox_status_in,
    pending_inbound_in,
    pending_outgoing_in,
    prune_inbound_in,
    record_delivery_attempt_in,
    record_inbound_in,
)
from storage.errors import StorageError, StorageUnavailable
from storage.groups import (
    check_specs,
    group_summaries_in,
    list_working_groups_in,
    roles_of_in,
    set_role_in,
    sync_configured_groups_in,
    working_group_by_slug_in,
    working_group_for_room_in,
)
from storage.jsontext import encode_json_object
from storage.members import (
    coordinators_of_in,
    direct_rooms_of_in,
    existing_member,
    identities_of_in,
    member_for_identity_in,
    member_record,
)
from storage.models import Conversation, Member
from storage.records import (
    BridgedCopy,
    BridgedRef,
    ConversationRecord,
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
from storage.resealing import reseal_batch_in, sealed_columns
from storage.sealing import Sealer, attach_sealer
from storage.transport import (
    callback_token_in,
    callback_value_in,
    clear_unreachable_in,
    get_transport_state_in,
    is_unreachable_in,
    mark_unreachable_in,
    set_transport_state_in,
    unreachable_chats_in,
)
from storage.validation import (
    check_aware,
    check_int,
    check_optional_text,
    check_text,
    truncated_text,
)

T = TypeVar("T")

# A transaction that hits a unique constraint (two writers creating the same row at once)
# is run again from the start; the second run sees the other writer's row.
_ATTEMPTS = 3

# Held while migrating PostgreSQL, so that two processes starting at once migrate in turn.
_MIGRATION_LOCK_ID = 0x0CA0C05

# The largest surrogate key (the id columns are INTEGER, 32 bits on PostgreSQL).
_MAX_ID = 2**31 - 1
# Failure and unreachability reasons are diagnostics: longer ones are cut, not refused.
_REASON_LENGTH = 255


@dataclass(eq=False)
class _Unit:
    """An open unit of work: its session, the thread that owns it, and whether it may commit."""

    session: Session
    thread: int
    doomed: str | None = None  # why it must roll back even if the outermost block succeeds
    closed: bool = False


# The open unit of work of each store, in this context. A context variable rather than a
# thread-local: asyncio tasks on one thread each have their own context, so a task awaiting
# inside ``with store.transaction():`` does not pull other tasks' calls into its unit.
_units: ContextVar[Mapping[Store, _Unit]] = ContextVar("caucus_store_units")
_NO_UNITS: Mapping[Store, _Unit] = MappingProxyType({})


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Store:
    """The bot's database: SQLite (``sqlite:///path``) or PostgreSQL (``postgresql://...``).

    ``clock`` supplies the current time (aware) for timestamps; tests may pass their own.
    """

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], datetime] = _utc_now,
        sealer: Sealer | None = None,
    ) -> None:
        self._engine = create_engine_for(url)
        attach_sealer(self._engine, sealer)
        self._sealer = sealer
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._clock = clock
        self.cases = CaseStore(self._run, self._now)
        """Case reports (:class:`storage.cases.CaseStore`); they need a ``sealer``."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    # -- schema ---------------------------------------------------------------------------

    def upgrade(self) -> None:
        """Bring the schema to the newest migration; does nothing when it is already there."""
        with self._errors_wrapped(), self._engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})")
            command.upgrade(alembic_config(connection=connection), "head")

    def current_revision(self) -> str | None:
        """The migration the database is at, or ``None`` before the first upgrade."""
        with self._errors_wrapped(), self._engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def close(self) -> None:
        self._engine.dispose()

    # -- unit of work ---------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A unit of work: the store methods called inside share one transaction.

        It commits when the outermost ``with`` block exits normally and rolls back when an
        exception leaves it; nothing of it is visible to others before the commit. Nested
        blocks join the outer one. Inside, methods flush (ids exist) but do not commit,
        and a unique-constraint conflict raises instead of being retried.

        A unit is never committed half-done: if a database error occurred inside, or an
        exception left a nested block, and the caller swallowed it, the outermost exit
        rolls back and raises :class:`StorageError`. The unit belongs to the thread (and
        asyncio task) that opened it; calling the store from another thread meanwhile, in
        the same context (``asyncio.to_thread``), raises :class:`StorageError`. On SQLite
        a unit holds the database's write lock until it ends: keep it short.
        """
        unit = self._current_unit()
        if unit is not None:
            try:
                yield
            except BaseException as error:
                unit.doomed = unit.doomed or f"{type(error).__name__} left a nested block"
                raise
            return
        session = self._sessions()
        unit = _Unit(session, threading.get_ident())
        token = _units.set({**_units.get(_NO_UNITS), self: unit})
        try:
            with self._errors_wrapped():
                session.begin()
            yield
            if unit.doomed is not None:
                raise StorageError(f"unit of work rolled back: {unit.doomed}")
            with self._errors_wrapped():
                session.commit()
        finally:
            unit.closed = True
            _units.reset(token)
            with self._errors_wrapped():
                session.close()  # rolls back unless committed

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside a unit of work: undo just this block's writes if an exception leaves it,
        keeping the rest of the unit (a refused request changes nothing). Outside one it
        is a unit of work of its own."""
        unit = self._current_unit()
        if unit is None:
            with self.transaction():
                yield
            return
        doomed_before = unit.doomed
        with self._errors_wrapped():
            nested = unit.session.begin_nested()
        try:
            yield
        except BaseException:
            with self._errors_wrapped():
                nested.rollback()
            # Rolled back to the savepoint: what went wrong inside no longer taints the unit.
            unit.doomed = doomed_before
            raise
        with self._errors_wrapped():
            nested.commit()

    def _current_unit(self) -> _Unit | None:
        unit = _units.get(_NO_UNITS).get(self)
        if unit is None or unit.closed:
            # A task created inside a unit inherits its context but may outlive the unit.
            return None
        if unit.thread != threading.get_ident():
            raise StorageError(
                "a unit of work of this store is open in another thread: "
                "call the store from the thread that opened it"
            )
        return unit

    # -- members --------------------------------------------------------------------------

    def member_for_identity(
        self,
        platform: Platform,
        user_id: str,
        *,
        language: str,
        now: datetime | None = None,
        direct_room: str | None = None,
    ) -> MemberRecord:
        """The member behind a platform account, created (speaking ``language``) if new.

        Records that the member was seen at ``now``; ``last_seen_at`` never moves back.
        ``direct_room`` is the private chat the member wrote from, kept to reach them later.
        """
        check_text("user id", user_id, 255)
        check_text("language", language, 8)
        check_optional_text("direct room", direct_room, 255)
        when = self._now() if now is None else check_aware("now", now)
        return self._run(
            lambda session: member_record(
                member_for_identity_in(
                    session,
                    platform,
                    user_id,
                    language=language,
                    now=when,
                    direct_room=direct_room,
                )
            )
        )

    def direct_rooms_of(self, member_id: int) -> list[tuple[Platform, str]]:
        """Where the member can be written to privately: each platform's last direct room."""
        return self._run(lambda session: direct_rooms_of_in(session, member_id))

    def coordinators_of(self, working_group_id: int) -> list[int]:
        """Members who coordinate the group (coordinators and the group's own admins)."""
        return self._run(lambda session: coordinators_of_in(session, working_group_id))

    def get_member(self, member_id: int) -> MemberRecord | None:
        def work(session: Session) -> MemberRecord | None:
            member = session.get(Member, member_id)
            return None if member is None else member_record(member)

        return self._run(work)

    def set_member_language(self, member_id: int, language: str) -> MemberRecord:
        """Raises :class:`storage.NotFoundError` for an unknown member."""
        check_text("language", language, 8)

        def work(session: Session) -> MemberRecord:
            member = existing_member(session, member_id)
            member.language = language
            return member_record(member)

        return self._run(work)

    def set_member_profile(
        self,
        member_id: int,
        *,
        display_name: str | None,
        organization: str | None,
        time_zone: str | None,
    ) -> MemberRecord:
        """Sets all three fields (``None`` clears one); raises :class:`NotFoundError`."""
        check_optional_text("display name", display_name, 255)
        check_optional_text("organization", organization, 255)
        check_optional_text("time zone", time_zone, 64)

        def work(session: Session) -> MemberRecord:
            member = existing_member(session, member_id)
            member.display_name = display_name
            member.organization = organization
            member.time_zone = time_zone
            return member_record(member)

        return self._run(work)

    def identities_of(self, member_id: int) -> list[IdentityRecord]:
        return self._run(lambda session: identities_of_in(session, member_id))

    # -- working groups, rooms, roles -----------------------------------------------------

    def sync_configured_groups(
        self,
        groups: Sequence[WorkingGroupSpec],
        network_admins: Sequence[tuple[Platform, str]],
        *,
        default_language: str,
    ) -> None:
        """Make the configured groups, rooms and roles those of the configuration file.

        One transaction. Groups are upserted by slug and never deleted. Rooms and roles
        with source "config" become exactly those configured; ones made by commands stay,
        unless the configuration names the same room, or the same member in the same group,
        in which case the configured one replaces it. Identities not seen before get a new
        member speaking ``default_language``. Raises ``ValueError`` for a configuration
        that names a slug twice or a room for two groups.
        """
        check_text("language", default_language, 8)
        check_specs(groups, network_admins)
        now = self._now()
        self._run(
            lambda session: sync_configured_groups_in(
                session, groups, network_admins, default_language=default_language, now=now
            )
        )

    def working_group_for_room(self, platform: Platform, room_id: str) -> WorkingGroupRecord | None:
        return self._run(lambda session: working_group_for_room_in(session, platform, room_id))

    def working_group_by_slug(self, slug: str) -> WorkingGroupRecord | None:
        return self._run(lambda session: working_group_by_slug_in(session, slug))

    def list_working_groups(self) -> list[WorkingGroupRecord]:
        """All working groups, by slug (including ones no longer configured)."""
        return self._run(list_working_groups_in)

    def group_summaries(self) -> list[GroupSummary]:
        """Every working group (by slug) with its room and role counts."""
        return self._run(group_summaries_in)

    def roles_of(self, member_id: int) -> MemberRoles:
        return self._run(lambda session: roles_of_in(session, member_id))

    def set_role(self, member_id: int, working_group_id: int | None, role: Role) -> Role:
        """Give a member a role in a group, or network-wide for ``None`` (a command's doing).

        A role the configuration gives the member there is not overridden: the method
        then changes nothing and returns that role; otherwise it returns ``role``.
        Raises :class:`NotFoundError` for an unknown member or group.
        """
        now = self._now()
        return self._run(
            lambda session: set_role_in(session, member_id, working_group_id, Role(role), now)
        )

    # -- conversation state ---------------------------------------------------------------

    def load_conversation(self, member_id: int) -> ConversationRecord | None:
        def work(session: Session) -> ConversationRecord | None:
            row = session.get(Conversation, member_id)
            return None if row is None else conversation_record(row)

        return self._run(work)

    def save_conversation(
        self, member_id: int, name: str, step: str, data: Mapping[str, Any]
    ) -> None:
        """Store the member's open conversation, replacing any other, committed on return.

        ``data`` must be JSON-serializable (tuples come back as lists). ``started_at`` is
        kept while the conversation keeps its name; ``updated_at`` becomes now.
        Raises :class:`NotFoundError` for an unknown member.
        """
        check_text("conversation name", name, 64)
        check_text("conversation step", step, 64)
        text = encode_conversation_data(data)
        now = self._now()
        self._run(lambda session: save_conversation_in(session, member_id, name, step, text, now))

    def clear_conversation(self, member_id: int) -> None:
        """Forget the member's open conversation, if any."""
        self._run(
            lambda session: session.execute(
                delete(Conversation).where(Conversation.member_id == member_id)
            )
        )

    # -- inbound events -------------------------------------------------------------------

    def record_inbound(
        self, platform: Platform, key: str, sequence: int | None, payload: Mapping[str, Any]
    ) -> bool:
        """Keep a raw event before the platform is told it arrived; False if already kept.

        ``key`` identifies the event on its platform; ``sequence`` is the platform's own
        counter, if any (Telegram's ``update_id``). A duplicate changes nothing.
        """
        platform = Platform(platform)
        check_text("event key", key, 255)
        if sequence is not None:
            check_int("event sequence", sequence, minimum=-(2**63))
        text = encode_json_object("event payload", payload)
        now = self._now()
        return self._run(
            lambda session: record_inbound_in(session, platform, key, sequence, text, now)
        )

    def pending_inbound(self, platform: Platform, limit: int = 100) -> list[InboundRecord]:
        """Events of the platform not handled yet, oldest first (in order of arrival)."""
        platform = Platform(platform)
        check_int("limit", limit, minimum=1)
        return self._run(lambda session: pending_inbound_in(session, platform, limit))

    def claim_inbound(self, platform: Platform, key: str) -> bool:
        """Take an inbound event for handling in the current unit of work.

        The row stays locked until the unit ends, so a second process handling the same
        event waits, then finds it handled and gets ``False``.
        """
        return self._run(lambda session: claim_inbound_in(session, platform, key))

    def mark_inbound_handled(self, platform: Platform, key: str) -> None:
        """Record that the event was handled, and forget its payload (it becomes ``{}``).

        Marking it again changes nothing. Raises :class:`NotFoundError` for an unknown key.
        """
        platform = Platform(platform)
        check_text("event key", key, 255)
        now = self._now()
        self._run(lambda session: mark_inbound_handled_in(session, platform, key, now))

    def last_inbound_sequence(self, platform: Platform) -> int | None:
        """The highest sequence ever recorded for the platform, handled or not."""
        platform = Platform(platform)
        return self._run(lambda session: last_inbound_sequence_in(session, platform))

    def prune_inbound(self, platform: Platform, handled_before: datetime) -> int:
        """Delete events handled before ``handled_before``; returns how many went.

        The event with the highest sequence always stays, so that
        :meth:`last_inbound_sequence` survives. Unhandled events are never deleted.
        """
        platform = Platform(platform)
        check_aware("handled_before", handled_before)
        return self._run(lambda session: prune_inbound_in(session, platform, handled_before))

    # -- outbox -----------------------------------------------------------------------------

    def enqueue_outgoing(
        self, items: Sequence[tuple[Platform, str, Mapping[str, Any]]]
    ) -> list[int]:
        """Owe messages: ``(platform, room id, JSON payload)`` each; their ids, in order.

        They are pending, to be sent now. Ids grow in the order of enqueueing and are never
        reused; they are the order in which a room's messages must be sent.
        """
        checked: list[tuple[Platform, str, str]] = []
        for platform, room_id, payload in items:
            check_text("room id", room_id, 255)
            checked.append((Platform(platform), room_id, encode_json_object("payload", payload)))
        if not checked:
            return []
        now = self._now()
        return self._run(lambda session: enqueue_outgoing_in(session, checked, now))

    def pending_outgoing(
        self, platform: Platform, *, limit: int = 500, after_id: int = 0
    ) -> list[OutboxRecord]:
        """Pending messages of the platform with an id above ``after_id``, by id.

        ``after_id`` pages through one pass; start each pass from 0: on PostgreSQL a
        message can commit after one with a higher id. ``next_attempt_at`` is not
        filtered on: a message waiting to be retried holds back its room's later ones.
        """
        platform = Platform(platform)
        check_int("limit", limit, minimum=1)
        check_int("after_id", after_id, minimum=0)
        return self._run(lambda session: pending_outgoing_in(session, platform, limit, after_id))

    def mark_delivered(self, outbox_id: int, platform_message_id: str | None) -> None:
        """The message arrived (also after it was marked failed); again changes nothing.

        Raises :class:`NotFoundError` for an unknown id.
        """
        check_int("outbox id", outbox_id, minimum=1, maximum=_MAX_ID)
        check_optional_text("platform message id", platform_message_id, 255)
        now = self._now()
        self._run(lambda session: mark_delivered_in(session, outbox_id, platform_message_id, now))

    def record_delivery_attempt(
        self, outbox_id: int, reason: str, next_attempt_at: datetime
    ) -> int:
        """A try failed for ``reason`` (cut to 255 characters); retry at ``next_attempt_at``.

        Returns the number of failed tries so far. A message no longer pending is left as
        it is (its count returned). Raises :class:`NotFoundError` for an unknown id.
        """
        check_int("outbox id", outbox_id, minimum=1, maximum=_MAX_ID)
        reason = truncated_text("reason", reason, _REASON_LENGTH)
        check_aware("next_attempt_at", next_attempt_at)
        return self._run(
            lambda session: record_delivery_attempt_in(session, outbox_id, reason, next_attempt_at)
        )

    def mark_failed(self, outbox_id: int, reason: str) -> None:
        """Give up on a pending message, for ``reason`` (cut to 255 characters).

        A delivered or already failed message is left as it is. Raises
        :class:`NotFoundError` for an unknown id.
        """
        check_int("outbox id", outbox_id, minimum=1, maximum=_MAX_ID)
        reason = truncated_text("reason", reason, _REASON_LENGTH)
        self._run(lambda session: mark_failed_in(session, outbox_id, reason))

    def outbox_status(self, platform: Platform | None = None, *, since: datetime) -> OutboxStatus:
        """Counts of pending and failed messages, and of those delivered since ``since``.

        Of one platform, or of all with ``None``.
        """
        chosen = None if platform is None else Platform(platform)
        check_aware("since", since)
        return self._run(lambda session: outbox_status_in(session, chosen, since))

    def drop_pending_for_room(self, platform: Platform, room_id: str, reason: str) -> int:
        """Give up on every pending message to a room (the member blocked the bot).

        Returns how many there were; ``reason`` is cut to 255 characters.
        """
        platform = Platform(platform)
        check_text("room id", room_id, 255)
        reason = truncated_text("reason", reason, _REASON_LENGTH)
        return self._run(
            lambda session: drop_pending_for_room_in(session, platform, room_id, reason)
        )

    def mark_delivered_together(self, outbox_ids: Sequence[int], platform_message_id: str) -> None:
        """Several messages arrived as one platform message (a merged burst)."""
        for outbox_id in outbox_ids:
            check_int("outbox id", outbox_id, minimum=1, maximum=_MAX_ID)
        check_text("platform message id", platform_message_id, 255)
        now = self._now()

        def work(session: Session) -> None:
            for outbox_id in outbox_ids:
                mark_delivered_in(session, outbox_id, platform_message_id, now)

        self._run(work)

    def outbox_targets(self, outbox_ids: Sequence[int]) -> dict[int, OutboxTarget]:
        """Status and platform id of earlier outbox messages, for the ones that refer to them."""
        for outbox_id in outbox_ids:
            check_int("outbox id", outbox_id, minimum=1, maximum=_MAX_ID)
        if not outbox_ids:
            return {}
        return self._run(lambda session: outbox_targets_in(session, outbox_ids))

    # -- room links and relayed messages ----------------------------------------------------

    def link_room(self, platform: Platform, room_id: str, working_group_id: int) -> LinkOutcome:
        """Link a room to a working group by command; a room the configuration places stays."""
        platform = Platform(platform)
        check_text("room id", room_id, 255)
        now = self._now()
        return self._run(
            lambda session: link_room_in(session, platform, room_id, working_group_id, now)
        )

    def unlink_room(self, platform: Platform, room_id: str) -> LinkOutcome:
        """Remove a link made by command (a configured link is the file's to remove)."""
        platform = Platform(platform)
        check_text("room id", room_id, 255)
        return self._run(lambda session: unlink_room_in(session, platform, room_id))

    def room_links(self, working_group_id: int | None = None) -> list[RoomLink]:
        """The rooms linked to one working group, or to any with ``None``."""
        return self._run(lambda session: rooms_of_group_in(session, working_group_id))

    def record_bridged_message(
        self,
        working_group_id: int,
        platform: Platform,
        room_id: str,
        message_id: str,
        digest: str,
        *,
        kind: str = "text",
    ) -> int | None:
        """Remember a member's message the bridge relays; ``None`` if it already was.

        ``kind`` is "text" or the kind of file it was."""
        platform = Platform(platform)
        check_text("room id", room_id, 255)
        check_text("message id", message_id, 255)
        check_text("kind", kind, 16)
        check_text("digest", digest, 64)
        now = self._now()
        return self._run(
            lambda session: record_bridged_message_in(
                session, working_group_id, platform, room_id, message_id, kind, digest, now
            )
        )

    def bridged_message(
        self, platform: Platform, room_id: str, message_id: str
    ) -> BridgedRef | None:
        """The relayed message a platform message is (the original) or carries (a copy)."""
        platform = Platform(platform)
        return self._run(lambda session: bridged_message_in(session, platform, room_id, message_id))

    def set_bridged_digest(self, bridged_id: int, digest: str) -> None:
        check_text("digest", digest, 64)
        self._run(lambda session: set_bridged_digest_in(session, bridged_id, digest))

    def bridged_copies(self, bridged_id: int) -> list[BridgedCopy]:
        """The outbox rows that carried a relayed message into other rooms, in order."""
        return self._run(lambda session: bridged_copies_in(session, bridged_id))

    def enqueue_copies(
        self,
        bridged_id: int | None,
        items: Sequence[tuple[Platform, str, Mapping[str, Any], int | None]],
    ) -> list[int]:
        """Owe messages like :meth:`enqueue_outgoing`; those with a part number are copies of
        ``bridged_id`` (part 0 first), the others (edits, deletions, notices) are not."""
        checked: list[tuple[Platform, str, str]] = []
        for platform, room_id, payload, _ in items:
            check_text("room id", room_id, 255)
            checked.append((Platform(platform), room_id, encode_json_object("payload", payload)))
        if not checked:
            return []
        parts = [part for *_, part in items]
        now = self._now()
        return self._run(
            lambda session: enqueue_outgoing_in(
                session, checked, now, bridged_id=bridged_id, parts=parts
            )
        )

    # -- transports' own state ----------------------------------------------------------------

    def callback_token(self, value: str) -> int:
        """A small number standing for ``value`` (a button's callback data too long to send).

        The same value always gets the same token, even when two callers ask at once.
        """
        if not isinstance(value, str):
            raise TypeError(f"callback value must be a string, not {type(value).__name__}")
        now = self._now()
        return self._run(lambda session: callback_token_in(session, value, now))

    def callback_value(self, token: int) -> str | None:
        """The value a token stands for, or ``None`` for a token never handed out."""
        check_int("callback token", token, minimum=-(2**63))
        if not 1 <= token <= _MAX_ID:
            return None
        return self._run(lambda session: callback_value_in(session, token))

    def mark_unreachable(self, platform: Platform, chat_id: str, reason: str) -> None:
        """Note that the bot cannot write to the chat; again, only the reason changes.

        ``reason`` is cut to 255 characters.
        """
        platform = Platform(platform)
        check_text("chat id", chat_id, 255)
        reason = truncated_text("reason", reason, _REASON_LENGTH)
        now = self._now()
        self._run(lambda session: mark_unreachable_in(session, platform, chat_id, reason, now))

    def clear_unreachable(self, platform: Platform, chat_id: str) -> bool:
        """The chat can be written to again; True if it was marked unreachable."""
        platform = Platform(platform)
        check_text("chat id", chat_id, 255)
        return self._run(lambda session: clear_unreachable_in(session, platform, chat_id))

    def is_unreachable(self, platform: Platform, chat_id: str) -> bool:
        platform = Platform(platform)
        return self._run(lambda session: is_unreachable_in(session, platform, chat_id))

    def unreachable_chats(self, platform: Platform) -> list[tuple[str, str]]:
        """``(chat id, reason)`` of the platform's unreachable chats, in the order marked."""
        platform = Platform(platform)
        return self._run(lambda session: unreachable_chats_in(session, platform))

    def get_transport_state(self, platform: Platform, name: str) -> str | None:
        platform = Platform(platform)
        check_text("state name", name, 64)
        return self._run(lambda session: get_transport_state_in(session, platform, name))

    def set_transport_state(self, platform: Platform, name: str, value: str) -> None:
        """Keep a named value of a transport (Matrix's sync token), replacing the old one."""
        platform = Platform(platform)
        check_text("state name", name, 64)
        check_text("state value", value, 2**20, allow_empty=True)
        now = self._now()
        self._run(lambda session: set_transport_state_in(session, platform, name, value, now))

    # -- encryption keys --------------------------------------------------------------------

    def reseal_everything(self, batch: int = 200) -> int:
        """Seal every sealed value again with the first key (after a new key was put first);
        returns how many values were re-sealed. Each batch is its own transaction."""
        if self._sealer is None:
            raise StorageError("this store has no encryption key")
        total = 0
        for table, columns in sealed_columns():
            after = 0
            while True:
                done, after = self._run(
                    lambda session, t=table, c=columns, a=after: reseal_batch_in(  # type: ignore[misc]
                        session, t, c, a, batch
                    )
                )
                total += done
                if after == 0:
                    break
        return total

    # -- plumbing -------------------------------------------------------------------------

    def now(self) -> datetime:
        """The store's clock: what its timestamps are measured against."""
        return self._now()

    def _now(self) -> datetime:
        return check_aware("clock()", self._clock())

    def _run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a transaction and commit; again if a unique constraint trips.

        Inside a unit of work, run it in the unit's transaction and only flush.
        """
        unit = self._current_unit()
        if unit is not None:
            return self._run_in_unit(unit, work)
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with self._errors_wrapped(), self._sessions.begin() as session:
                    return work(session)
            except StorageError as error:
                if attempt == _ATTEMPTS or not isinstance(error.__cause__, IntegrityError):
                    raise
        raise AssertionError("unreachable")

    def _run_in_unit(self, unit: _Unit, work: Callable[[Session], T]) -> T:
        if unit.doomed is not None:
            raise StorageError(f"unit of work must roll back: {unit.doomed}")
        try:
            with self._errors_wrapped():
                result = work(unit.session)
                unit.session.flush()
        except StorageError as error:
            if isinstance(error.__cause__, SQLAlchemyError):
                # PostgreSQL aborts the transaction; SQLite would commit the rest.
                unit.doomed = f"database error: {error.__cause__}"
            raise
        except BaseException as error:
            unit.doomed = f"{type(error).__name__} inside a store method"
            raise
        return result

    @contextmanager
    def _errors_wrapped(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as error:
            raise StorageUnavailable(f"database error: {error}") from error
        except SQLAlchemyError as error:
            raise StorageError(f"database error: {error}") from error
