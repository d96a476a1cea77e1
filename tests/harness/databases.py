"""Databases for tests, on SQLite and on PostgreSQL: empty ones, and copies of one migrated
template made once per test process (per pytest-xdist worker).

PostgreSQL databases need a server: ``CAUCUS_TEST_POSTGRES_URL`` names it, for example
``postgresql://postgres@127.0.0.1:5432/test``. A copy of the template is made with
``CREATE DATABASE … TEMPLATE``; a SQLite copy is a copy of the file. Either is what
:meth:`storage.Store.upgrade` leaves behind (Alembic's ``alembic_version`` at head
included), so the code under test finds it migrated and changes nothing.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from storage import Store

POSTGRES_URL_VARIABLE = "CAUCUS_TEST_POSTGRES_URL"


class Backend(StrEnum):
    """The databases the bot runs on; every database test runs on each."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


class PostgresUnreachable(RuntimeError):
    """``CAUCUS_TEST_POSTGRES_URL`` is set but no server answers there."""


def postgres_server_url() -> str | None:
    """The URL of the PostgreSQL server for tests, or ``None`` when none is configured."""
    return os.environ.get(POSTGRES_URL_VARIABLE) or None


def _libpq_url(url: str) -> str:
    """``postgresql+psycopg://`` is SQLAlchemy's spelling; libpq wants ``postgresql://``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme=parts.scheme.split("+", 1)[0]))


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


class PostgresServer:
    """The test server, through one administrative connection: creates and drops databases."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        try:
            self._admin = psycopg.connect(
                _libpq_url(server_url), autocommit=True, connect_timeout=10
            )
        except psycopg.OperationalError as error:
            raise PostgresUnreachable(
                f"{POSTGRES_URL_VARIABLE} is set to {server_url!r} but PostgreSQL is "
                f"unreachable: {error}"
            ) from error

    def url_of(self, database: str) -> str:
        return _with_database(self.server_url, database)

    def create(self, *, template: str | None = None, prefix: str = "caucus_t") -> str:
        """A new database, empty or a copy of ``template``; returns its name."""
        name = f"{prefix}_{secrets.token_hex(6)}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        self._admin.execute(statement)
        return name

    def drop(self, name: str) -> None:
        self._admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    def close(self) -> None:
        self._admin.close()


class Databases:
    """Every database one test process hands out, and the migrated template of each backend.

    The templates are made at first use: a process that runs no PostgreSQL test never
    connects to the server.
    """

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._postgres: PostgresServer | None = None
        self._postgres_template: str | None = None
        self._sqlite_template: Path | None = None

    # -- SQLite -------------------------------------------------------------------------------

    def sqlite(self, path: Path, *, migrated: bool) -> str:
        """The URL of a SQLite database at ``path``: a copy of the template, or none yet."""
        if migrated:
            shutil.copyfile(self._migrated_sqlite_file(), path)
        return f"sqlite:///{path}"

    def _migrated_sqlite_file(self) -> Path:
        if self._sqlite_template is None:
            path = self._folder / "template.sqlite3"
            with Store(f"sqlite:///{path}") as store:
                store.upgrade()
            # Closing the last connection folds the write-ahead log into the file.
            assert not path.with_name(path.name + "-wal").exists(), "the log was not folded in"
            self._sqlite_template = path
        return self._sqlite_template

    # -- PostgreSQL -----------------------------------------------------------------------------

    @contextmanager
    def postgres(self, server_url: str, *, migrated: bool) -> Iterator[str]:
        """The URL of a new PostgreSQL database, a copy of the template or empty, dropped
        on leaving. Raises :class:`PostgresUnreachable` when the server does not answer."""
        server = self._server(server_url)
        template = self._migrated_postgres_template(server) if migrated else None
        name = server.create(template=template)
        try:
            yield server.url_of(name)
        finally:
            server.drop(name)

    def _server(self, server_url: str) -> PostgresServer:
        if self._postgres is None:
            self._postgres = PostgresServer(server_url)
        return self._postgres

    def _migrated_postgres_template(self, server: PostgresServer) -> str:
        if self._postgres_template is None:
            name = server.create(prefix="caucus_template")
            try:
                # The engine is closed on leaving: a template must have no one connected.
                with Store(server.url_of(name)) as store:
                    store.upgrade()
            except BaseException:
                server.drop(name)
                raise
            self._postgres_template = name
        return self._postgres_template

    def close(self) -> None:
        if self._postgres is not None:
            if self._postgres_template is not None:
                self._postgres.drop(self._postgres_template)
            self._postgres.close()
