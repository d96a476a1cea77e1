"""Behaviour of the store on SQLite and PostgreSQL (see ``conftest.py`` for the backends)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError

import storage.members
from bot.types import Platform, Role
from storage import (
    ConversationRecord,
    IdentityRecord,
    MemberRoles,
    NotFoundError,
    StorageError,
    Store,
    WorkingGroupRecord,
    WorkingGroupSpec,
)
from storage.database import alembic_config, normalize_url
from storage.models import Base, Membership, Room
from tests.harness.clock import T0, Clock
from tests.harness.databases import Backend
from tests.harness.races import at_once

REPO = Path(__file__).resolve().parents[1]
TG = Platform.TELEGRAM
MX = Platform.MATRIX


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def add_command_room(store: Store, platform: Platform, room_id: str, group_id: int) -> None:
    with store._sessions.begin() as session:
        session.add(
            Room(
                platform=platform.value,
                room_id=room_id,
                working_group_id=group_id,
                source="command",
                created_at=T0,
            )
        )


def add_command_role(store: Store, member_id: int, group_id: int | None, role: Role) -> None:
    with store._sessions.begin() as session:
        session.add(
            Membership(
                member_id=member_id,
                working_group_id=group_id,
                role=role.value,
                source="command",
                created_at=T0,
            )
        )


def group_id(store: Store, slug: str) -> int:
    group = store.groups.by_slug(slug)
    assert group is not None
    return group.id


# -- migrations -------------------------------------------------------------------------


@pytest.mark.empty_database
def test_upgrade_creates_the_schema_and_running_it_again_changes_nothing(
    database_url: str,
) -> None:
    with Store(database_url) as store:
        assert store.current_revision() is None
        store.upgrade()
        assert store.current_revision() == head_revision()
        member = store.members.for_identity(TG, "1", language="en")
        store.upgrade()
        assert store.current_revision() == head_revision()
    with Store(database_url) as reopened:
        reopened.upgrade()
        assert reopened.current_revision() == head_revision()
        assert reopened.members.get(member.id) == member


def test_models_match_the_migrated_schema(store: Store) -> None:
    with store._engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_migrations_downgrade_to_nothing_and_upgrade_again(store: Store) -> None:
    with store._engine.begin() as connection:
        command.downgrade(alembic_config(connection=connection), "base")
    assert store.current_revision() is None
    with store._engine.connect() as connection:
        tables = set(connection.dialect.get_table_names(connection))
    assert tables <= {"alembic_version", "sqlite_sequence"}
    store.upgrade()
    assert store.current_revision() == head_revision()


def test_unsupported_database_url_is_refused() -> None:
    with pytest.raises(StorageError, match="unsupported"):
        Store("mysql://localhost/caucus")


@pytest.mark.db
def test_unreachable_database_raises_storage_error() -> None:
    with Store("postgresql://nobody@127.0.0.1:1/nothing") as store, pytest.raises(StorageError):
        store.upgrade()


def test_sqlite_file_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there.sqlite3"
    with Store(f"sqlite:///{path}") as store:
        store.upgrade()
    assert path.is_file()


def test_sqlite_is_durable_and_enforces_foreign_keys(sqlite_url: str) -> None:
    with Store(sqlite_url) as store:
        store.upgrade()
        with store._engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            add_command_role(store, member_id=999, group_id=None, role=Role.ADMIN)


@pytest.mark.e2e
def test_committed_writes_survive_the_process_being_killed(database_url: str) -> None:
    script = (
        "import os, signal, sys\n"
        "from bot.types import Platform\n"
        "from storage import Store\n"
        "store = Store(sys.argv[1])\n"
        "store.upgrade()\n"
        "member = store.members.for_identity(Platform.MATRIX, '@a:x.org', language='fa')\n"
        "store.conversations.save(member.id, 'join', 'name', {'answer': 'سلام'})\n"
        "print(member.id, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, database_url],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == -9, result.stderr
    member_id = int(result.stdout)
    with Store(database_url) as store:
        member = store.members.get(member_id)
        assert member is not None
        assert member.language == "fa"
        conversation = store.conversations.load(member_id)
        assert conversation is not None
        assert conversation.data == {"answer": "سلام"}


# -- members ----------------------------------------------------------------------------


def test_member_for_identity_creates_once_and_updates_last_seen(store: Store) -> None:
    first = store.members.for_identity(TG, "1001", language="ar", now=T0)
    assert first.language == "ar"
    assert first.created_at == first.last_seen_at == T0
    later = T0 + timedelta(hours=2)
    again = store.members.for_identity(TG, "1001", language="en", now=later)
    assert again.id == first.id
    assert again.language == "ar"  # the language only matters when the member is created
    assert again.created_at == T0
    assert again.last_seen_at == later
    assert store.members.get(first.id) == again


def test_member_for_identity_keeps_platforms_apart(store: Store) -> None:
    telegram = store.members.for_identity(TG, "same", language="en")
    matrix = store.members.for_identity(MX, "same", language="en")
    assert telegram.id != matrix.id
    assert store.members.identities_of(telegram.id) == [IdentityRecord(TG, "same")]
    assert store.members.identities_of(matrix.id) == [IdentityRecord(MX, "same")]


def test_member_for_identity_never_moves_last_seen_backwards(store: Store) -> None:
    store.members.for_identity(TG, "1", language="en", now=T0)
    stale = store.members.for_identity(TG, "1", language="en", now=T0 - timedelta(minutes=5))
    assert stale.last_seen_at == T0


def test_member_for_identity_refuses_bad_arguments(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.members.for_identity(TG, "1", language="en", now=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="longer than 8"):
        store.members.for_identity(TG, "1", language="en-GB-oxendict")
    with pytest.raises(ValueError, match="longer than 255"):
        store.members.for_identity(TG, "x" * 256, language="en")
    with pytest.raises(ValueError, match="empty"):
        store.members.for_identity(TG, "", language="en")


def test_member_for_identity_retries_after_losing_a_creation_race(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner = store.members.for_identity(TG, "racer", language="en", now=T0)
    real_find = storage.members.find_identity
    lookups: list[str] = []

    def find_after_losing(*args: object, **kwargs: object) -> object:
        lookups.append("lookup")
        if len(lookups) == 1:
            return None  # as if the other writer had not committed yet
        return real_find(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(storage.members, "find_identity", find_after_losing)
    loser = store.members.for_identity(TG, "racer", language="fr", now=T0 + timedelta(1))
    assert len(lookups) == 2
    assert loser.id == winner.id
    assert loser.language == "en"
    assert store.members.get(winner.id + 1) is None  # the losing member was rolled back


def test_member_for_identity_is_safe_when_calls_race(database_url: str) -> None:
    results = at_once(
        database_url, lambda store: store.members.for_identity(MX, "@new:x.org", language="en").id
    )
    assert len(set(results)) == 1


def test_get_member_is_none_for_an_unknown_id(store: Store) -> None:
    assert store.members.get(12345) is None


def test_set_member_language_changes_only_the_language(store: Store) -> None:
    member = store.members.for_identity(TG, "1", language="en")
    changed = store.members.set_language(member.id, "ar")
    assert changed.language == "ar"
    assert changed.last_seen_at == member.last_seen_at
    assert store.members.get(member.id) == changed


def test_set_member_profile_sets_and_clears_fields(store: Store) -> None:
    member = store.members.for_identity(TG, "1", language="en")
    profile = store.members.set_profile(
        member.id, display_name="ليلى", organization="Amnesty", time_zone="Asia/Beirut"
    )
    assert (profile.display_name, profile.organization, profile.time_zone) == (
        "ليلى",
        "Amnesty",
        "Asia/Beirut",
    )
    assert store.members.get(member.id) == profile
    cleared = store.members.set_profile(
        member.id, display_name=None, organization=None, time_zone="UTC"
    )
    assert (cleared.display_name, cleared.organization, cleared.time_zone) == (None, None, "UTC")


def test_changing_an_unknown_member_raises_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.members.set_language(404, "en")
    with pytest.raises(NotFoundError):
        store.members.set_profile(404, display_name="x", organization=None, time_zone=None)
    with pytest.raises(NotFoundError):
        store.conversations.save(404, "join", "start", {})


def test_identities_of_an_unknown_member_is_empty(store: Store) -> None:
    assert store.members.identities_of(404) == []


def test_aware_datetimes_come_back_as_the_same_instant_in_utc(store: Store) -> None:
    beirut = timezone(timedelta(hours=3))
    seen = datetime(2025, 6, 1, 15, 30, 12, 345678, tzinfo=beirut)
    member = store.members.for_identity(TG, "1", language="en", now=seen)
    loaded = store.members.get(member.id)
    assert loaded is not None
    assert loaded.last_seen_at == seen
    assert loaded.last_seen_at.tzinfo == UTC
    assert loaded.last_seen_at.hour == 12
    assert loaded.last_seen_at.microsecond == 345678


def test_sqlite_stores_utc_and_reads_back_aware_datetimes(sqlite_url: str) -> None:
    with Store(sqlite_url) as store:
        store.upgrade()
        seen = datetime(2025, 6, 1, 15, 30, tzinfo=timezone(timedelta(hours=3)))
        member = store.members.for_identity(TG, "1", language="en", now=seen)
        loaded = store.members.get(member.id)
    assert loaded is not None
    assert loaded.created_at == seen
    assert loaded.created_at.utcoffset() == timedelta(0)
    raw = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    try:
        (stored,) = raw.execute("SELECT created_at FROM members").fetchone()
    finally:
        raw.close()
    assert stored.startswith("2025-06-01 12:30:00")


# -- working groups, rooms and roles -------------------------------------------------------


GROUPS = (
    WorkingGroupSpec(
        slug="docs",
        name="Documentation",
        languages=("ar", "en"),
        rooms=((TG, "-100111"), (MX, "!docs:x.org")),
        coordinators=((TG, "11"),),
        admins=((MX, "@boss:x.org"),),
    ),
    WorkingGroupSpec(
        slug="legal",
        name="Legal aid",
        languages=("fa",),
        rooms=((TG, "-100222"),),
        coordinators=((TG, "22"), (TG, "11")),
    ),
)
NETWORK_ADMINS = ((TG, "1"),)


def test_sync_configured_groups_creates_groups_rooms_and_roles(store: Store) -> None:
    store.groups.sync_configured(GROUPS, NETWORK_ADMINS, default_language="en")

    groups = store.groups.all()
    assert [(g.slug, g.name, g.languages) for g in groups] == [
        ("docs", "Documentation", ("ar", "en")),
        ("legal", "Legal aid", ("fa",)),
    ]
    docs, legal = groups
    assert store.groups.by_slug("docs") == docs
    assert store.groups.for_room(TG, "-100111") == docs
    assert store.groups.for_room(MX, "!docs:x.org") == docs
    assert store.groups.for_room(TG, "-100222") == legal
    assert store.groups.for_room(MX, "-100222") is None

    coordinator = store.members.for_identity(TG, "11", language="ar")
    assert coordinator.language == "en"  # created by the sync with the default language
    assert store.groups.roles_of(coordinator.id) == MemberRoles(
        None, {docs.id: Role.COORDINATOR, legal.id: Role.COORDINATOR}
    )
    boss = store.members.for_identity(MX, "@boss:x.org", language="en")
    assert store.groups.roles_of(boss.id).by_group == {docs.id: Role.ADMIN}
    admin = store.members.for_identity(TG, "1", language="en")
    assert store.groups.roles_of(admin.id) == MemberRoles(Role.ADMIN, {})


def test_sync_configured_groups_twice_changes_nothing(store: Store) -> None:
    store.groups.sync_configured(GROUPS, NETWORK_ADMINS, default_language="en")
    groups = store.groups.all()
    member = store.members.for_identity(TG, "11", language="en")
    roles = store.groups.roles_of(member.id)
    store.groups.sync_configured(GROUPS, NETWORK_ADMINS, default_language="ar")
    assert store.groups.all() == groups
    assert store.groups.roles_of(member.id) == roles
    assert store.members.for_identity(TG, "11", language="en").id == member.id


def test_sync_configured_groups_replaces_config_but_keeps_command_rows(store: Store) -> None:
    store.groups.sync_configured(GROUPS, NETWORK_ADMINS, default_language="en")
    docs, legal = group_id(store, "docs"), group_id(store, "legal")
    helper = store.members.for_identity(TG, "33", language="en")
    add_command_room(store, TG, "-100333", legal)
    assert store.groups.set_role(helper.id, docs, Role.COORDINATOR) is Role.COORDINATOR
    assert store.groups.set_role(helper.id, None, Role.COORDINATOR) is Role.COORDINATOR

    changed = (
        WorkingGroupSpec(
            slug="docs",
            name="Docs & archives",
            languages=("en",),
            rooms=((MX, "!docs:x.org"), (TG, "-100444")),
            admins=((TG, "22"),),
        ),
        GROUPS[1],
    )
    store.groups.sync_configured(changed, (), default_language="en")

    assert store.groups.for_room(TG, "-100111") is None
    assert store.groups.for_room(TG, "-100444") == WorkingGroupRecord(
        docs, "docs", "Docs & archives", ("en",)
    )
    assert store.groups.for_room(TG, "-100333") is not None  # made by a command
    coordinator = store.members.for_identity(TG, "11", language="en")
    assert store.groups.roles_of(coordinator.id) == MemberRoles(None, {legal: Role.COORDINATOR})
    boss = store.members.for_identity(MX, "@boss:x.org", language="en")
    assert store.groups.roles_of(boss.id) == MemberRoles(None, {})
    admin = store.members.for_identity(TG, "1", language="en")
    assert store.groups.roles_of(admin.id) == MemberRoles(None, {})
    legal_coordinator = store.members.for_identity(TG, "22", language="en")
    assert store.groups.roles_of(legal_coordinator.id).by_group == {
        docs: Role.ADMIN,
        legal: Role.COORDINATOR,
    }
    assert store.groups.roles_of(helper.id) == MemberRoles(
        Role.COORDINATOR, {docs: Role.COORDINATOR}
    )


def test_sync_configured_groups_takes_over_command_rooms_and_roles(store: Store) -> None:
    store.groups.sync_configured(GROUPS[1:], (), default_language="en")
    legal = group_id(store, "legal")
    boss = store.members.for_identity(MX, "@boss:x.org", language="en")
    add_command_room(store, TG, "-100111", legal)
    store.groups.set_role(boss.id, None, Role.COORDINATOR)

    store.groups.sync_configured(GROUPS, ((MX, "@boss:x.org"),), default_language="en")
    docs = group_id(store, "docs")
    assert store.groups.for_room(TG, "-100111") == store.groups.by_slug("docs")
    assert store.groups.roles_of(boss.id) == MemberRoles(Role.ADMIN, {docs: Role.ADMIN})

    # Now configured, they go when the configuration drops them.
    store.groups.sync_configured(GROUPS[1:], (), default_language="en")
    assert store.groups.for_room(TG, "-100111") is None
    assert store.groups.roles_of(boss.id) == MemberRoles(None, {})


def test_sync_configured_groups_keeps_groups_no_longer_configured(store: Store) -> None:
    store.groups.sync_configured(GROUPS, (), default_language="en")
    store.groups.sync_configured(GROUPS[1:], (), default_language="en")
    assert [g.slug for g in store.groups.all()] == ["docs", "legal"]
    assert store.groups.for_room(TG, "-100111") is None
    assert store.groups.for_room(MX, "!docs:x.org") is None
    coordinator = store.members.for_identity(TG, "11", language="en")
    assert store.groups.roles_of(coordinator.id).by_group == {
        group_id(store, "legal"): Role.COORDINATOR
    }


def test_sync_configured_groups_gives_the_highest_role_listed(store: Store) -> None:
    spec = WorkingGroupSpec(
        slug="docs", name="Docs", languages=(), coordinators=((TG, "5"),), admins=((TG, "5"),)
    )
    store.groups.sync_configured((spec,), ((TG, "5"), (TG, "5")), default_language="en")
    member = store.members.for_identity(TG, "5", language="en")
    assert store.groups.roles_of(member.id) == MemberRoles(
        Role.ADMIN, {group_id(store, "docs"): Role.ADMIN}
    )
    assert store.groups.by_slug("docs") == WorkingGroupRecord(
        group_id(store, "docs"), "docs", "Docs", ()
    )


def test_sync_configured_groups_refuses_contradictions_and_writes_nothing(store: Store) -> None:
    twice = (GROUPS[0], WorkingGroupSpec(slug="docs", name="Again"))
    with pytest.raises(ValueError, match="configured twice"):
        store.groups.sync_configured(twice, (), default_language="en")
    shared_room = (
        GROUPS[0],
        WorkingGroupSpec(slug="other", name="Other", rooms=((TG, "-100111"),)),
    )
    with pytest.raises(ValueError, match="-100111"):
        store.groups.sync_configured(shared_room, (), default_language="en")
    assert store.groups.all() == []


def test_set_role_grants_changes_and_never_overrides_the_configuration(store: Store) -> None:
    store.groups.sync_configured(GROUPS, NETWORK_ADMINS, default_language="en")
    docs, legal = group_id(store, "docs"), group_id(store, "legal")
    member = store.members.for_identity(TG, "77", language="en")
    assert store.groups.set_role(member.id, docs, Role.COORDINATOR) is Role.COORDINATOR
    assert store.groups.set_role(member.id, docs, Role.ADMIN) is Role.ADMIN
    assert store.groups.set_role(member.id, None, Role.MEMBER) is Role.MEMBER
    assert store.groups.roles_of(member.id) == MemberRoles(Role.MEMBER, {docs: Role.ADMIN})
    assert store.groups.roles_of(member.id).role_for(legal) is Role.MEMBER

    configured = store.members.for_identity(TG, "11", language="en")
    assert store.groups.set_role(configured.id, docs, Role.MEMBER) is Role.COORDINATOR
    assert store.groups.roles_of(configured.id).by_group[docs] is Role.COORDINATOR
    with pytest.raises(NotFoundError):
        store.groups.set_role(404, docs, Role.ADMIN)
    with pytest.raises(NotFoundError):
        store.groups.set_role(member.id, 404, Role.ADMIN)


def test_group_summaries_count_rooms_and_roles_per_group(store: Store) -> None:
    assert store.groups.summaries() == []
    store.groups.sync_configured(GROUPS, NETWORK_ADMINS, default_language="en")
    docs_id = group_id(store, "docs")
    member = store.members.for_identity(TG, "77", language="en")
    store.groups.set_role(member.id, docs_id, Role.MEMBER)
    add_command_room(store, TG, "-100555", docs_id)

    docs, legal = store.groups.summaries()
    assert docs.group == store.groups.by_slug("docs")
    assert docs.rooms == {TG: 2, MX: 1}
    assert (docs.members, docs.coordinators) == (3, 2)  # coordinator, admin, member
    assert legal.group.slug == "legal"
    assert legal.rooms == {TG: 1}
    assert (legal.members, legal.coordinators) == (2, 2)


def test_lookups_of_unknown_groups_and_rooms_are_none(store: Store) -> None:
    assert store.groups.by_slug("nope") is None
    assert store.groups.for_room(TG, "-1") is None
    assert store.groups.all() == []
    assert store.groups.roles_of(404) == MemberRoles(None, {})


def test_database_refuses_a_second_network_role_for_a_member(store: Store) -> None:
    member = store.members.for_identity(TG, "1", language="en")
    add_command_role(store, member.id, None, Role.COORDINATOR)
    with pytest.raises(IntegrityError):
        add_command_role(store, member.id, None, Role.ADMIN)


@pytest.mark.parametrize(
    ("network", "by_group", "group", "expected"),
    [
        (None, {}, None, Role.MEMBER),
        (None, {}, 1, Role.MEMBER),
        (None, {1: Role.COORDINATOR}, 1, Role.COORDINATOR),
        (None, {1: Role.COORDINATOR}, 2, Role.MEMBER),
        (None, {1: Role.COORDINATOR, 2: Role.ADMIN}, None, Role.ADMIN),
        (None, {1: Role.COORDINATOR}, None, Role.COORDINATOR),
        (Role.COORDINATOR, {1: Role.ADMIN}, 1, Role.ADMIN),
        (Role.COORDINATOR, {1: Role.ADMIN}, 2, Role.COORDINATOR),
        (Role.ADMIN, {1: Role.MEMBER}, 1, Role.ADMIN),
        (Role.ADMIN, {}, None, Role.ADMIN),
    ],
)
def test_role_for_is_the_highest_applicable_role(
    network: Role | None, by_group: dict[int, Role], group: int | None, expected: Role
) -> None:
    assert MemberRoles(network, by_group).role_for(group) is expected


# -- conversations -----------------------------------------------------------------------


def test_conversation_round_trips_unicode_data(store: Store) -> None:
    member = store.members.for_identity(TG, "1", language="ar")
    data = {
        "الاسم": "فاطمة الزهراء",
        "answers": ["نعم", "لا", 3, 2.5, None, True],
        "nested": {"emoji": "✊🏽", "rtl": "\u200fمرحبا"},
    }
    store.conversations.save(member.id, "join", "organization", data)
    loaded = store.conversations.load(member.id)
    assert loaded is not None
    assert (loaded.name, loaded.step, loaded.data) == ("join", "organization", data)


def test_save_conversation_keeps_started_at_and_bumps_updated_at(
    clocked_store: Store, clock: Clock
) -> None:
    store = clocked_store
    member = store.members.for_identity(TG, "1", language="en")
    store.conversations.save(member.id, "join", "name", {"step": 1})
    later = clock.advance(minutes=3)
    store.conversations.save(member.id, "join", "organization", {"step": 2})
    assert store.conversations.load(member.id) == ConversationRecord(
        "join", "organization", {"step": 2}, T0, later
    )
    latest = clock.advance(minutes=1)
    store.conversations.save(member.id, "report", "start", {})
    assert store.conversations.load(member.id) == ConversationRecord(
        "report", "start", {}, latest, latest
    )


def test_clear_conversation_forgets_it(store: Store) -> None:
    member = store.members.for_identity(TG, "1", language="en")
    assert store.conversations.load(member.id) is None
    store.conversations.clear(member.id)  # nothing to clear is fine
    store.conversations.save(member.id, "join", "name", {"a": "b"})
    store.conversations.clear(member.id)
    assert store.conversations.load(member.id) is None
    other = store.members.for_identity(TG, "2", language="en")
    store.conversations.save(other.id, "join", "name", {})
    store.conversations.clear(member.id)
    assert store.conversations.load(other.id) is not None


def test_save_conversation_refuses_data_json_cannot_hold(store: Store) -> None:
    member = store.members.for_identity(TG, "1", language="en")
    with pytest.raises(TypeError):
        store.conversations.save(member.id, "join", "name", {"when": T0})
    with pytest.raises(TypeError):
        store.conversations.save(member.id, "join", "name", {1: "x"})  # type: ignore[dict-item]
    assert store.conversations.load(member.id) is None


def test_a_malformed_database_url_is_refused_without_showing_it() -> None:
    """The configuration refuses such a URL first; the store, opened from code, does too."""
    with pytest.raises(StorageError) as caught:
        normalize_url("postgresql://u:pw-secret@host:notaport/db")
    assert "not a database URL" in str(caught.value)
    assert "pw-secret" not in str(caught.value)


@pytest.mark.backends(Backend.SQLITE)
def test_a_writer_waiting_gets_its_turn_before_a_busy_writer_begins_again(store: Store) -> None:
    """SQLite's write lock, polled with growing sleeps, goes to whoever begins again first:
    the dispatcher working through a backlog, never the transport storing what arrived.
    Writers of the process take turns instead."""
    busy_done: list[int] = []
    stored_after: list[int] = []
    started = threading.Event()

    def busy() -> None:
        for n in range(20):
            with store.transaction():
                store.transports.set_state(Platform.TELEGRAM, "busy", str(n))
                started.set()
                time.sleep(0.02)
            busy_done.append(n)

    worker = threading.Thread(target=busy)
    worker.start()
    started.wait(5)
    store.inbox.record(Platform.TELEGRAM, "1", 1, {"arrived": True})
    stored_after.append(len(busy_done))
    worker.join()
    # It waited for the transaction under way and at most the one queued before it.
    assert stored_after[0] <= 2, f"stored only after {stored_after[0]} of the busy writer's 20"
