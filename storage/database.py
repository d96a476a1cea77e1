"""Engines and migration configuration for the two supported backends, SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from storage.errors import StorageError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# How long an SQLite connection waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0

READ_ONLY = "caucus_read_only"
"""The execution option of an engine whose transactions only read: on SQLite they begin
deferred (a snapshot, no write lock), so a reader neither waits for a writer nor holds one
up."""


def normalize_url(url: str) -> URL:
    """Parse ``url``, choosing psycopg 3 for PostgreSQL; refuse other backends."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as error:
        # Never the URL itself: it may carry a password.
        raise StorageError("not a database URL (check its form, host and port)") from error
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        driver = parsed.get_driver_name()
        if parsed.drivername in ("postgresql", "postgres") or driver == "psycopg":
            return parsed.set(drivername="postgresql+psycopg")
        raise StorageError(f"use postgresql:// or postgresql+psycopg://, not {parsed.drivername}")
    if backend == "sqlite":
        return parsed
    raise StorageError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


def database_exists(url: str) -> bool:
    """Whether ``url`` names a database that may already hold data: a SQLite file that
    exists, or any server (which only connecting tells). Looking creates nothing."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite":
        return True
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return False
    return Path(database).expanduser().is_file()


def create_engine_for(url: str) -> Engine:
    """An engine for ``url``; for a SQLite file, its directory is created if missing.

    Statement parameters (members' names and messages) are kept out of error messages,
    which end up in logs.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, hide_parameters=True)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}, hide_parameters=True
    )
    _prepare_sqlite(engine)
    return engine


def _prepare_sqlite(engine: Engine) -> None:
    """Durable, serializable SQLite with enforced foreign keys.

    * ``journal_mode=WAL`` with ``synchronous=FULL``: a commit is on disk when it returns.
    * ``foreign_keys=ON``: SQLite ignores foreign keys otherwise.
    * The sqlite3 module's own transaction handling is switched off (it does not begin a
      transaction before SELECT or DDL), and every transaction starts with
      ``BEGIN IMMEDIATE`` instead: migrations are atomic, and a transaction that reads and
      then writes cannot be overtaken by another writer in between (it waits its turn).
      A transaction of the read-only engine (:data:`READ_ONLY`) begins deferred: under WAL
      it reads a snapshot without taking the write lock.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            # Deleted rows (a withdrawn report, a handled event) are overwritten, not left
            # in free pages for anyone reading the file.
            cursor.execute("PRAGMA secure_delete=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(*, connection: Connection | None = None, url: str | None = None) -> Config:
    """Alembic configuration for the migrations package, without an ``alembic.ini``.

    Pass an open ``connection`` to migrate on it (the caller owns its transaction), or a
    ``url`` for Alembic's command line.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        rendered = normalize_url(url).render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config
