"""The store: the bot's database as a whole, and its area stores.

What the bot keeps is reached by area, each behind methods named for what callers need:
``store.members``, ``store.groups``, ``store.rooms``, ``store.conversations``,
``store.inbox``, ``store.outbox``, ``store.bridge``, ``store.transports``, ``store.cases``,
``store.urgent_alerts``, ``store.audit``, ``store.roster``, ``store.joining``,
``store.organizations``, ``store.consultations``, ``store.member_data``, ``store.accounts``
and ``store.scheduled``. Each method runs in its own transaction, committed before it
returns, and answers with frozen records (:mod:`storage.records`); no session or ORM object
ever leaves.
Inside ``with store.transaction():`` the methods of every area join one transaction instead
(a unit of work), committed or rolled back as a whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, sessionmaker

from storage.accounts import AccountStore
from storage.audit import AuditStore
from storage.bridge import BridgeStore
from storage.cases import CaseStore
from storage.consultations import ConsultationStore
from storage.conversations import ConversationStore
from storage.database import READ_ONLY, alembic_config, create_engine_for
from storage.erasure import MemberDataStore, truncate_log_after_erasure
from storage.errors import KeysDoNotOpen, StorageError
from storage.feeds import FeedStore
from storage.groups import GroupStore
from storage.inbox import InboxStore
from storage.joining import JoiningStore
from storage.members import MemberStore
from storage.models import SealCheck
from storage.organizations import OrganizationStore
from storage.outbox import OutboxStore
from storage.polls import PollsStore
from storage.posts import PostStore
from storage.resealing import reseal_batch_in, sealed_columns
from storage.rooms import RoomStore
from storage.roster import RosterStore
from storage.scheduled import ScheduledStore
from storage.sealing import Sealer, attach_sealer
from storage.statements import StatementStore
from storage.transports import TransportStore
from storage.units import TurnGate, UnitsOfWork, errors_wrapped
from storage.upserts import insert_unless_present
from storage.urgent_alerts import UrgentAlertStore
from storage.validation import check_aware

# Held while migrating PostgreSQL, so that two processes starting at once migrate in turn.
_MIGRATION_LOCK_ID = 0x0CA0C05


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Store:
    """The bot's database: SQLite (``sqlite:///path``) or PostgreSQL (``postgresql://...``).

    ``clock`` supplies the current time (aware) for timestamps; tests may pass their own.
    ``sealer`` holds the keys that seal confidential columns (case reports need one).
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
        reader = self._engine.execution_options(**{READ_ONLY: True})
        self._units = UnitsOfWork(
            self._sessions,
            sessionmaker(reader, expire_on_commit=False),
            gate=TurnGate() if self._engine.dialect.name == "sqlite" else None,
        )
        self._clock = clock
        run, now = self._units.run, self.now
        self.members = MemberStore(run, now)
        """Members, their accounts and direct rooms (:class:`storage.members.MemberStore`)."""
        self.groups = GroupStore(run, now)
        """Working groups and roles (:class:`storage.groups.GroupStore`)."""
        self.rooms = RoomStore(run, now)
        """Rooms linked to groups by command (:class:`storage.rooms.RoomStore`)."""
        self.conversations = ConversationStore(run, now)
        """Open conversations (:class:`storage.conversations.ConversationStore`)."""
        self.inbox = InboxStore(run, now)
        """Inbound events (:class:`storage.inbox.InboxStore`)."""
        self.outbox = OutboxStore(run, now, self._units.read)
        """Owed messages (:class:`storage.outbox.OutboxStore`)."""
        self.bridge = BridgeStore(run, now)
        """Relayed messages (:class:`storage.bridge.BridgeStore`)."""
        self.transports = TransportStore(run, now, self._units.read)
        """Transports' own state (:class:`storage.transports.TransportStore`)."""
        self.cases = CaseStore(run, now)
        """Case reports (:class:`storage.cases.CaseStore`); they need a ``sealer``."""
        self.urgent_alerts = UrgentAlertStore(run, now)
        """Urgent alerts waiting for a coordinator (:mod:`storage.urgent_alerts`)."""
        self.audit = AuditStore(run, now, self._units.read)
        """Changes to roles, memberships and organizations (:mod:`storage.audit`)."""
        self.roster = RosterStore(run, now, self._units.read)
        """Groups' members and role holders, roles by command (:mod:`storage.roster`)."""
        self.accounts = AccountStore(run, now, self._units.read)
        """One person's accounts connected and split (:mod:`storage.accounts`)."""
        self.joining = JoiningStore(run, now)
        """Requests to join working groups, and the memberships they make."""
        self.organizations = OrganizationStore(run, now)
        """Organizations, members' links to them and signatories (:mod:`storage.organizations`)."""
        self.consultations = ConsultationStore(run, now, self._units.read)
        """Consultations, subscriptions to their alerts, contributions (issue 15)."""
        self.member_data = MemberDataStore(run, now, self._units.read)
        """One member's data as a whole: exported, erased (:mod:`storage.erasure`)."""
        self.scheduled = ScheduledStore(run, now, self._units.read)
        """Work due at a time, done once: reminders, deadlines (:mod:`storage.scheduled`)."""
        self.feeds = FeedStore(run, now, self._units.read)
        """Feeds polled for working groups and the items seen in each (:mod:`storage.feeds`)."""
        self.polls = PollsStore(run, now, self._units.read)
        """Polls, their votes and secret ballots (:mod:`storage.polls`)."""
        self.posts = PostStore(run, now, self._units.read)
        """The bot's messages named for later edits and answers (:mod:`storage.posts`)."""
        self.statements = StatementStore(run, now, self._units.read)
        """Joint statements, their versions and signatures (:mod:`storage.statements`)."""
        truncate_log_after_erasure(self._sessions, self._engine)

        self._seal_check_kept = sealer is None or sealer.has_key
        if not self._seal_check_kept:
            # The key will be made by the first value sealed: that transaction keeps the
            # known value too, so that no sealed value is ever there without it.
            event.listen(self._sessions, "before_commit", self._keep_seal_check)
            event.listen(self._sessions, "after_commit", self._seal_check_committed)

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
        with errors_wrapped(), self._engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})")
            command.upgrade(alembic_config(connection=connection), "head")

    def current_revision(self) -> str | None:
        """The migration the database is at, or ``None`` before the first upgrade."""
        with errors_wrapped(), self._engine.connect() as connection:
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
        with self._units.transaction():
            yield

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside a unit of work: undo just this block's writes if an exception leaves it,
        keeping the rest of the unit (a refused request changes nothing). Outside one it
        is a unit of work of its own."""
        with self._units.savepoint():
            yield

    def now(self) -> datetime:
        """The store's clock: what its timestamps are measured against."""
        return check_aware("clock()", self._clock())

    # -- encryption keys --------------------------------------------------------------------

    def check_keys(self, *, read_only: bool = False) -> None:
        """The configured keys open what this database holds sealed: a known value sealed
        the first time the store has a key is read back. Raises :class:`KeysDoNotOpen` when
        none opens it (the data was sealed with another key, or with one no longer given).

        A store whose key is made when needed keeps the known value when its first value is
        sealed, not before. ``read_only``: only read (a database not yet migrated has
        nothing to check)."""
        if self._sealer is None:
            return
        if read_only:
            self._units.read(_check_keys_read_only)
        else:
            self._units.run(_check_keys, self.now(), self._sealer.has_key)

    def _keep_seal_check(self, session: Session) -> None:
        if self._seal_check_kept or self._sealer is None or session.in_nested_transaction():
            return
        session.flush()  # what is still to be written may be what makes the key
        if self._sealer.has_key:
            values = {"id": 1, "sealed": SEAL_CHECK, "created_at": self.now()}
            insert_unless_present(session, SealCheck, values, ["id"])
            session.info[_KEEPS_SEAL_CHECK] = True

    def _seal_check_committed(self, session: Session) -> None:
        if session.info.pop(_KEEPS_SEAL_CHECK, False):
            self._seal_check_kept = True

    def reseal_everything(self, batch: int = 200) -> int:
        """Seal every sealed value again with the first key (after a new key was put first);
        returns how many values were re-sealed. Each batch is its own transaction."""
        if self._sealer is None:
            raise StorageError("this store has no encryption key")
        total = 0
        for table, columns in sealed_columns():
            after = 0
            while True:
                done, after = self._units.run(reseal_batch_in, table, columns, after, batch)
                total += done
                if after == 0:
                    break
        return total


SEAL_CHECK = "caucus seal check"
_KEEPS_SEAL_CHECK = "caucus_keeps_seal_check"


def _check_keys(session: Session, now: datetime, has_key: bool) -> None:
    try:
        row = session.get(SealCheck, 1)
    except StorageError as error:
        raise KeysDoNotOpen(
            "none of the configured encryption keys opens the data sealed in this database"
        ) from error
    if row is None:
        if has_key:
            session.add(SealCheck(id=1, sealed=SEAL_CHECK, created_at=now))
    elif row.sealed != SEAL_CHECK:
        raise KeysDoNotOpen("the data sealed in this database is not this store's")


def _check_keys_read_only(session: Session) -> None:
    if inspect(session.connection()).has_table(SealCheck.__tablename__):
        _check_keys(session, _utc_now(), has_key=False)
