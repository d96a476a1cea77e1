"""Units of work: how the area stores run their queries, each in a transaction of its own or
all in the one a caller opened with ``with store.transaction():``.

:class:`UnitsOfWork` belongs to one :class:`storage.Store`; every area store (members,
groups, outbox, ...) is an :class:`Area` given its :meth:`UnitsOfWork.run` and the store's
clock, so that no session ever leaves the package.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from storage.errors import StorageError, StorageUnavailable

T = TypeVar("T")
P = ParamSpec("P")

# A transaction that hits a unique constraint (two writers creating the same row at once)
# is run again from the start; the second run sees the other writer's row.
_ATTEMPTS = 3


class Runner(Protocol):
    """Runs ``work(session, *args, **kwargs)`` in a transaction (or in the open unit of work)."""

    def __call__(
        self,
        work: Callable[Concatenate[Session, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T: ...


class Area:
    """The base of an area store (``store.members``, ``store.outbox``, ...).

    Each public method of an area checks its arguments, then runs one query function
    through :attr:`_run`: its own transaction, committed before it returns, or a part of the
    open unit of work. It hands out frozen records, never sessions or ORM objects.
    """

    def __init__(
        self, run: Runner, now: Callable[[], datetime], read: Runner | None = None
    ) -> None:
        self._run = run
        self._now = now
        self._read = read or run
        """Like :attr:`_run`, for queries that only read: outside a unit of work they
        neither take nor wait for SQLite's write lock."""


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
_units: ContextVar[Mapping[UnitsOfWork, _Unit]] = ContextVar("caucus_store_units")
_NO_UNITS: Mapping[UnitsOfWork, _Unit] = MappingProxyType({})


@contextmanager
def errors_wrapped() -> Iterator[None]:
    """SQLAlchemy's errors as ours: unreachable or busy is :class:`StorageUnavailable`."""
    try:
        yield
    except OperationalError as error:
        raise StorageUnavailable(f"database error: {error}") from error
    except SQLAlchemyError as error:
        raise StorageError(f"database error: {error}") from error


class TurnGate:
    """Writers take turns in the order they asked (a ticket lock).

    SQLite has one write lock, and a writer that finds it taken polls for it with growing
    sleeps: a thread that commits and at once begins again (the dispatcher working through
    a backlog) keeps winning, and a transport storing what just arrived starves. Within the
    process (one bot per database, :mod:`storage.instance_lock`), this gate hands the
    write lock over in turn instead.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._next_ticket = 0
        self._serving = 0

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._changed:
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving:
                self._changed.wait()
        try:
            yield
        finally:
            with self._changed:
                self._serving += 1
                self._changed.notify_all()


class UnitsOfWork:
    """The transactions of one store: one per query, or one unit shared by many.

    With a ``gate`` (SQLite), write transactions take their turn at it."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        read_sessions: sessionmaker[Session] | None = None,
        *,
        gate: TurnGate | None = None,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions or sessions
        self._gate = gate

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """See :meth:`storage.Store.transaction`."""
        unit = self._current_unit()
        if unit is not None:
            try:
                yield
            except BaseException as error:
                unit.doomed = unit.doomed or f"{type(error).__name__} left a nested block"
                raise
            return
        with self._turn():
            yield from self._new_unit()

    def _new_unit(self) -> Iterator[None]:
        session = self._sessions()
        unit = _Unit(session, threading.get_ident())
        token = _units.set({**_units.get(_NO_UNITS), self: unit})
        try:
            with errors_wrapped():
                session.begin()
            yield
            if unit.doomed is not None:
                raise StorageError(f"unit of work rolled back: {unit.doomed}")
            with errors_wrapped():
                session.commit()
        finally:
            unit.closed = True
            _units.reset(token)
            with errors_wrapped():
                session.close()  # rolls back unless committed

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """See :meth:`storage.Store.savepoint`."""
        unit = self._current_unit()
        if unit is None:
            with self.transaction():
                yield
            return
        doomed_before = unit.doomed
        with errors_wrapped():
            nested = unit.session.begin_nested()
        try:
            yield
        except BaseException:
            with errors_wrapped():
                nested.rollback()
            # Rolled back to the savepoint: what went wrong inside no longer taints the unit.
            unit.doomed = doomed_before
            raise
        with errors_wrapped():
            nested.commit()

    def run(
        self,
        work: Callable[Concatenate[Session, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``work`` in a transaction and commit; again if a unique constraint trips.

        Inside a unit of work, run it in the unit's transaction and only flush.
        """
        unit = self._current_unit()
        if unit is not None:
            return self._run_in_unit(unit, work, *args, **kwargs)
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with self._turn(), errors_wrapped(), self._sessions.begin() as session:
                    return work(session, *args, **kwargs)
            except StorageError as error:
                if attempt == _ATTEMPTS or not isinstance(error.__cause__, IntegrityError):
                    raise
        raise AssertionError("unreachable")

    def _turn(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext() if self._gate is None else self._gate.turn()

    def read(
        self,
        work: Callable[Concatenate[Session, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``work``, which only reads, in a read-only transaction (on SQLite: deferred,
        a snapshot that takes no write lock). Inside a unit of work, in the unit's."""
        unit = self._current_unit()
        if unit is not None:
            return self._run_in_unit(unit, work, *args, **kwargs)
        with errors_wrapped(), self._read_sessions.begin() as session:
            return work(session, *args, **kwargs)

    def _run_in_unit(
        self,
        unit: _Unit,
        work: Callable[Concatenate[Session, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        if unit.doomed is not None:
            raise StorageError(f"unit of work must roll back: {unit.doomed}")
        try:
            with errors_wrapped():
                result = work(unit.session, *args, **kwargs)
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
