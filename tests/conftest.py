"""The suite's shared fixtures, and its plan: which test runs on what, marked by what it needs.

Databases. A test that asks for ``database_url`` (or ``store``, ``clocked_store``) runs
once per backend, SQLite and PostgreSQL, each time on a database of its own: a copy of a
migrated template (:mod:`tests.harness.databases`, one per test process), or an empty
database for tests marked ``empty_database`` (migrations, a bot's first start).
PostgreSQL tests run when ``CAUCUS_TEST_POSTGRES_URL`` names a server, for example
``postgresql://postgres@127.0.0.1:5432/test``; unset, they are skipped; set but
unreachable, they fail.

Routes. A feature test asking for ``open_chat`` runs over the routes of
:mod:`tests.harness.features`: every behaviour on the console over both databases,
Telegram polling and Matrix over SQLite, and the tests marked ``smoke`` also over Telegram
webhooks and encrypted Matrix on PostgreSQL.

Markers, from the fixtures a test uses: ``db`` (a database), ``e2e`` (Synapse, the Bot
API emulator or another process; a test that starts one in its own body carries the
marker), ``unit`` (neither). They are checked as the tests run: only an ``e2e`` test may
start a server or a process, and a ``unit`` test may open no database either. ``soak`` is
set by hand on the long soak, which runs on PostgreSQL only unless ``--full-soak``
(``make soak``) asks for every database.

Workers. Under pytest-xdist each worker is a process of its own, with its own temporary
directory (so its own Synapse, on a free port, in its own folder), its own templates and
databases with random names.
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest

from storage import Store
from tests.harness.clock import Clock
from tests.harness.databases import (
    POSTGRES_URL_VARIABLE,
    Backend,
    Databases,
    PostgresUnreachable,
    postgres_server_url,
)
from tests.harness.features import ChatFactory, Transport, member_chats, routes_for
from tests.harness.matrix_harness import synapse_session
from tests.harness.synapse_server import SynapseServer

DATABASE_FIXTURES = frozenset({"database_url", "sqlite_url"})
"""Fixtures that give a test a database (others, like ``store``, stand on these)."""

SERVER_FIXTURES = frozenset({"synapse", "emulator"})
"""Fixtures that start Synapse or the Bot API emulator (``emulator`` is each module's own)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full-soak",
        action="store_true",
        help="run the soak tests on every database (without it: on PostgreSQL only)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The routes of feature tests, and the backends of database tests."""
    if "transport" in metafunc.fixturenames:
        smoke = metafunc.definition.get_closest_marker("smoke") is not None
        routes = list(routes_for(smoke=smoke))
        metafunc.parametrize(
            ("transport", "backend"),
            [(route.transport, route.backend) for route in routes],
            ids=[route.id for route in routes],
        )
    elif "backend" in metafunc.fixturenames:
        backends = list(Backend)
        soak = metafunc.definition.get_closest_marker("soak") is not None
        if soak and not metafunc.config.getoption("full_soak"):
            backends = [Backend.POSTGRESQL]
        only = metafunc.definition.get_closest_marker("backends")
        if only is not None:
            backends = [backend for backend in backends if backend in only.args]
        metafunc.parametrize("backend", backends, ids=[str(backend) for backend in backends])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by what it needs: ``db``, ``e2e``, or else ``unit``."""
    for item in items:
        needs = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        database = bool(needs & DATABASE_FIXTURES)
        transport = params.get("transport")
        servers = bool(needs & SERVER_FIXTURES) or (
            isinstance(transport, Transport) and transport.needs_servers
        )
        if database:
            item.add_marker(pytest.mark.db)
        if servers:
            item.add_marker(pytest.mark.e2e)
        named = {mark.name for mark in item.iter_markers()}
        if not named & {"db", "e2e", "soak"}:
            item.add_marker(pytest.mark.unit)


@pytest.fixture(autouse=True)
def _tests_need_what_they_are_marked_for(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test not marked ``e2e`` that starts a server or a process fails, and so does a
    test marked ``unit`` that opens a database, each naming the fix: the markers stay
    true, and ``make check`` fast."""
    node = request.node
    if node.get_closest_marker("e2e") is not None:
        return

    def refuse(what: str, fix: str) -> Callable[..., NoReturn]:
        def refused(*_args: object, **_kwargs: object) -> NoReturn:
            raise AssertionError(f"{node.nodeid} {what}: {fix}")

        return refused

    unmarked = refuse(
        "starts a server or a process but is not marked e2e",
        "use a fixture that starts it (synapse, emulator), or mark the test e2e",
    )
    monkeypatch.setattr(subprocess.Popen, "__init__", unmarked)
    monkeypatch.setattr(socket.socket, "bind", unmarked)
    if node.get_closest_marker("unit") is not None:
        no_database = refuse(
            "opens a database but uses no database fixture",
            "ask for database_url, store or sqlite_url, or mark the test db",
        )
        monkeypatch.setattr(sqlite3, "connect", no_database)
        monkeypatch.setattr(psycopg, "connect", no_database)


# -- databases ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    """This process's databases and its migrated templates (one per xdist worker)."""
    made = Databases(tmp_path_factory.mktemp("templates"))
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def database_url(
    request: pytest.FixtureRequest, backend: Backend, tmp_path: Path, databases: Databases
) -> Iterator[str]:
    """The URL of this test's own database on ``backend``: migrated, or empty for tests
    marked ``empty_database``."""
    migrated = request.node.get_closest_marker("empty_database") is None
    if backend is Backend.SQLITE:
        yield databases.sqlite(tmp_path / "caucus.sqlite3", migrated=migrated)
        return
    server_url = postgres_server_url()
    if server_url is None:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_URL_VARIABLE} (a server URL)")
    try:
        with databases.postgres(server_url, migrated=migrated) as url:
            yield url
    except PostgresUnreachable as error:
        pytest.fail(str(error), pytrace=False)


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


# -- servers and members --------------------------------------------------------------------


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """One real Synapse homeserver on loopback for the whole session (per xdist worker)."""
    with synapse_session(tmp_path_factory.mktemp("synapse")) as server:
        yield server


@pytest.fixture
async def open_chat(
    request: pytest.FixtureRequest, transport: Transport, tmp_path: Path, database_url: str
) -> AsyncIterator[ChatFactory]:
    """Members' chats with the bot over one route; the same tests run over each."""

    def synapse() -> SynapseServer:
        server: SynapseServer = request.getfixturevalue("synapse")
        return server

    async with member_chats(transport, tmp_path, database_url, synapse) as chats:
        yield chats
