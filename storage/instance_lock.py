"""One running bot per database: a lock that one process holds for as long as it serves.

On PostgreSQL it is a session-level advisory lock held on a connection of its own, kept
open (and busy with a check every second) for the whole run: the lock lives exactly as long
as that session, so a killed process releases it at once and a lost connection loses it.
On a SQLite file it is an ``flock`` on ``<database file>.lock`` beside it, which the kernel
releases when the process ends, however it ends. An in-memory SQLite database belongs to
its one process and needs none.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from storage.database import normalize_url
from storage.errors import StorageError, StorageUnavailable

INSTANCE_LOCK_ID = 0x0CA0C051
"""The advisory lock (per database) held by the serving process; not the migration lock."""

_POSTGRES_CONNECTION = {
    "connect_timeout": 10,
    # The holder notices a dead connection within seconds (unacknowledged data, or
    # unanswered keepalives, end it) ...
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 2,
    "tcp_user_timeout": 5000,
    # ... and the server ends the session of a vanished holder, releasing its lock, only
    # later (10 + 3 * 5 s): by then the holder has stopped serving.
    "options": "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3",
    "application_name": "caucus-instance-lock",
}


class InstanceLockLost(StorageError):
    """The lock this process held is gone: another instance may be serving now."""


class InstanceLock(Protocol):
    """The right to serve a database, held by at most one process at a time."""

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; ``False`` when another process does."""
        ...

    def still_held(self) -> bool:
        """Whether the lock taken is still this process's (the keepalive check)."""
        ...

    def release(self) -> None:
        """Give the lock up (closing its connection or file); safe to call twice."""
        ...


def instance_lock_for(url: str) -> InstanceLock:
    """The instance lock of the database at ``url``; nothing is opened until it is taken."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "postgresql":
        return PostgresInstanceLock(url)
    database = parsed.database or ""
    if parsed.query.get("uri") == "true" and database.startswith("file:"):
        if parsed.query.get("mode") == "memory":
            return NoInstanceLock()
        database = database.removeprefix("file:")
    if not database or database == ":memory:":
        return NoInstanceLock()
    return FileInstanceLock(Path(database).expanduser())


class NoInstanceLock:
    """An in-memory database: no other process can reach it."""

    def try_acquire(self) -> bool:
        return True

    def still_held(self) -> bool:
        return True

    def release(self) -> None:
        pass


class FileInstanceLock:
    """``flock`` on a file beside a SQLite database, readable and writable by its user only."""

    def __init__(self, database: Path) -> None:
        resolved = database.resolve()
        self.path = resolved.with_name(resolved.name + ".lock")
        self._descriptor: int | None = None

    def try_acquire(self) -> bool:
        if self._descriptor is not None:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise StorageError(f"cannot open {self.path}: {error.strerror}") from error
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return False
        except OSError as error:
            os.close(descriptor)
            raise StorageError(f"cannot lock {self.path}: {error.strerror}") from error
        self._descriptor = descriptor
        return True

    def still_held(self) -> bool:
        """The lock is on an open file; it is lost only if its path names another file now
        (deleted or replaced), since a new process would lock that one."""
        if self._descriptor is None:
            return False
        try:
            named = os.stat(self.path)
        except FileNotFoundError:
            return False
        held = os.fstat(self._descriptor)
        return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)

    def release(self) -> None:
        # The file stays: removing it would let a process that opened it just before lock
        # a file no one else can find.
        descriptor, self._descriptor = self._descriptor, None
        if descriptor is not None:
            os.close(descriptor)


class PostgresInstanceLock:
    """A session-level advisory lock on a dedicated, autocommit connection."""

    def __init__(self, url: str) -> None:
        self._engine = create_engine(
            normalize_url(url),
            poolclass=NullPool,
            connect_args=dict(_POSTGRES_CONNECTION),
            hide_parameters=True,
        )
        self._connection: Connection | None = None
        self._held = False

    def try_acquire(self) -> bool:
        if self._held:
            return True
        try:
            if self._connection is None:
                connection = self._engine.connect()
                self._connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            taken = self._connection.execute(
                text("SELECT pg_try_advisory_lock(:id)"), {"id": INSTANCE_LOCK_ID}
            ).scalar_one()
        except SQLAlchemyError as error:
            self._drop_connection()
            raise StorageUnavailable(f"database error: {error}") from error
        self._held = bool(taken)
        return self._held

    def still_held(self) -> bool:
        """A session-level advisory lock is released only by its session's end (or by the
        session itself): while the connection answers, the lock is ours."""
        if not self._held or self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1")).scalar_one()
        except SQLAlchemyError:
            self._held = False
            self._drop_connection()
            return False
        return True

    def release(self) -> None:
        self._held = False
        self._drop_connection()
        self._engine.dispose()

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except SQLAlchemyError:
                connection.invalidate()
