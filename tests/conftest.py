"""Shared fixtures: a fresh database on SQLite and on PostgreSQL, and a migrated store.

PostgreSQL tests run when ``CAUCUS_TEST_POSTGRES_URL`` names a server, for example
``postgresql://root@127.0.0.1:5432/test``; each test gets a new database on that server,
dropped afterwards. Unset, they are skipped; set but unreachable, they fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from clock import Clock
from matrix_harness import start_synapse_sync, stop_synapse_sync
from psycopg import sql
from synapse_server import SynapseServer

from storage import Store

POSTGRES_URL_VARIABLE = "CAUCUS_TEST_POSTGRES_URL"


def postgres_server_url() -> str | None:
    """The URL of the PostgreSQL server for tests, or ``None`` when none is configured."""
    return os.environ.get(POSTGRES_URL_VARIABLE) or None


def _libpq_url(url: str) -> str:
    """``postgresql+psycopg://`` is SQLAlchemy's spelling; libpq wants ``postgresql://``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme=parts.scheme.split("+", 1)[0]))


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """Create an empty database on the server, yield its URL, then drop it."""
    admin_url = _libpq_url(server_url)
    name = f"caucus_t_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as error:
        pytest.fail(
            f"{POSTGRES_URL_VARIABLE} is set to {server_url!r} but PostgreSQL is "
            f"unreachable: {error}",
            pytrace=False,
        )
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield _with_database(server_url, name)
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'caucus.sqlite3'}"
        return
    server_url = postgres_server_url()
    if server_url is None:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_URL_VARIABLE} (a server URL)")
    with fresh_postgres_database(server_url) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The URL of an empty SQLite database, for tests about SQLite alone."""
    return f"sqlite:///{tmp_path / 'caucus.sqlite3'}"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated, empty store on each backend."""
    opened = Store(database_url)
    opened.upgrade()
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def clocked_store(database_url: str, clock: Clock) -> Iterator[Store]:
    """A migrated store whose timestamps come from ``clock``."""
    opened = Store(database_url, clock=clock)
    opened.upgrade()
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """One real Synapse homeserver on loopback for the whole test session."""
    server = start_synapse_sync(tmp_path_factory.mktemp("synapse"))
    try:
        yield server
    finally:
        stop_synapse_sync(server)
