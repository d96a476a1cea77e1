"""The store: everything the bot keeps, behind methods named for what callers need.

Each method runs in its own transaction, committed before it returns, and answers with
frozen records from :mod:`storage.records`; no session or ORM object ever leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.types import Platform, Role
from storage.conversations import (
    conversation_record,
    encode_conversation_data,
    save_conversation_in,
)
from storage.database import alembic_config, create_engine_for
from storage.errors import StorageError
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
from storage.members import (
    existing_member,
    identities_of_in,
    member_for_identity_in,
    member_record,
)
from storage.models import Conversation, Member
from storage.records import (
    ConversationRecord,
    GroupSummary,
    IdentityRecord,
    MemberRecord,
    MemberRoles,
    WorkingGroupRecord,
    WorkingGroupSpec,
)
from storage.validation import check_aware, check_optional_text, check_text

T = TypeVar("T")

# A transaction that hits a unique constraint (two writers creating the same row at once)
# is run again from the start; the second run sees the other writer's row.
_ATTEMPTS = 3

# Held while migrating PostgreSQL, so that two processes starting at once migrate in turn.
_MIGRATION_LOCK_ID = 0x0CA0C05


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Store:
    """The bot's database: SQLite (``sqlite:///path``) or PostgreSQL (``postgresql://...``).

    ``clock`` supplies the current time (aware) for timestamps; tests may pass their own.
    """

    def __init__(self, url: str, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._engine = create_engine_for(url)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._clock = clock

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

    # -- members --------------------------------------------------------------------------

    def member_for_identity(
        self, platform: Platform, user_id: str, *, language: str, now: datetime | None = None
    ) -> MemberRecord:
        """The member behind a platform account, created (speaking ``language``) if new.

        Records that the member was seen at ``now``; ``last_seen_at`` never moves back.
        """
        check_text("user id", user_id, 255)
        check_text("language", language, 8)
        when = self._now() if now is None else check_aware("now", now)
        return self._run(
            lambda session: member_record(
                member_for_identity_in(session, platform, user_id, language=language, now=when)
            )
        )

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

    # -- plumbing -------------------------------------------------------------------------

    def _now(self) -> datetime:
        return check_aware("clock()", self._clock())

    def _run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a transaction and commit; again if a unique constraint trips."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with self._errors_wrapped(), self._sessions.begin() as session:
                    return work(session)
            except StorageError as error:
                if attempt == _ATTEMPTS or not isinstance(error.__cause__, IntegrityError):
                    raise
        raise AssertionError("unreachable")

    @contextmanager
    def _errors_wrapped(self) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as error:
            raise StorageError(f"database error: {error}") from error
