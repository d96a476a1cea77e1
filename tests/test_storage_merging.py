"""Merging two members, on SQLite and PostgreSQL: every column with a foreign key to a
member is found in the metadata (a table added later merges without new code), rows that
would collide on a unique key are settled by the table's rule, a merge that fails half-way
leaves nothing changed, and migration 0015 goes down and up again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    func,
    select,
)

from bot.types import Platform, Role
from storage import StorageError, Store, WorkingGroupSpec
from storage.database import alembic_config
from storage.merging import member_references, merge_members_in, older_first
from storage.models import NAMING_CONVENTION, Base, Identity, Membership
from tests.harness.clock import Clock
from tests.test_storage import head_revision

CONSOLE = Platform.CONSOLE


def two_members(store: Store) -> tuple[int, int]:
    older = store.members.for_identity(CONSOLE, "older", language="en").id
    newer = store.members.for_identity(CONSOLE, "newer", language="es").id
    return older, newer


def with_future_table(*extra: Column[object] | CheckConstraint) -> tuple[MetaData, Table]:
    """The models' metadata, plus a table a later version might add (votes, one per member
    and poll), that no merging code knows of."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    votes = Table(
        "zz_future_votes",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
        Column("poll", Integer, nullable=False),
        Column("choice", String(16), nullable=False),
        UniqueConstraint("member_id", "poll"),
        *extra,
    )
    return metadata, votes


def test_every_column_naming_a_member_is_found_in_the_metadata() -> None:
    found = {(ref.table.name, ref.column.name) for ref in member_references()}
    assert {
        ("identities", "member_id"),
        ("memberships", "member_id"),
        ("case_reports", "author_member_id"),
        ("case_events", "actor_member_id"),
        ("conversations", "member_id"),
        ("waiting_urgent_alerts", "delivered_to_member_id"),
        ("audit_log", "actor_member_id"),
        ("audit_log", "member_id"),
        ("connect_codes", "member_id"),
    } <= found
    every = {
        (table.name, fk.parent.name)
        for table in Base.metadata.tables.values()
        for fk in table.foreign_keys
        if fk.column.table.name == "members"
    }
    assert found == every


def test_a_table_added_later_merges_without_new_code(store: Store) -> None:
    metadata, votes = with_future_table()
    votes.create(store._engine)
    older, newer = two_members(store)
    with store._engine.begin() as connection:
        connection.execute(
            votes.insert(),
            [
                {"member_id": older, "poll": 1, "choice": "yes"},
                {"member_id": newer, "poll": 1, "choice": "no"},
                {"member_id": newer, "poll": 2, "choice": "abstain"},
            ],
        )
    with store._sessions.begin() as session:
        outcome = merge_members_in(session, older, newer, metadata=metadata)
    assert outcome.moved["zz_future_votes"] == 1
    assert outcome.combined["zz_future_votes"] == 1
    with store._engine.connect() as connection:
        rows = connection.execute(select(votes.c.member_id, votes.c.poll, votes.c.choice))
        assert sorted(rows) == [(older, 1, "yes"), (older, 2, "abstain")]  # the older's vote


def test_roles_where_both_had_one_keep_the_stronger_then_the_configured(store: Store) -> None:
    older, newer = two_members(store)
    store.groups.sync_configured(
        [
            WorkingGroupSpec("cawg", "Corporate Accountability", ("en",), (), (), ()),
            WorkingGroupSpec("land", "Land", ("en",), (), (), ()),
            WorkingGroupSpec("water", "Water", ("en",), (), ((CONSOLE, "newer"),), ()),
        ],
        [],
        default_language="en",
    )
    cawg, land, water = (store.groups.by_slug(slug) for slug in ("cawg", "land", "water"))
    assert cawg is not None and land is not None and water is not None
    store.groups.set_role(older, water.id, Role.COORDINATOR)  # by command; the newer's: config
    store.groups.set_role(older, cawg.id, Role.MEMBER)
    store.groups.set_role(newer, cawg.id, Role.COORDINATOR)
    store.groups.set_role(older, land.id, Role.COORDINATOR)
    store.groups.set_role(newer, land.id, Role.MEMBER)
    # Network-wide (a partial unique index: one per member where the group is NULL).
    store.groups.set_role(older, None, Role.MEMBER)
    store.groups.set_role(newer, None, Role.ADMIN)
    with store._sessions.begin() as session:
        outcome = merge_members_in(session, older, newer)
    assert outcome.combined["memberships"] == 4
    roles = store.groups.roles_of(older)
    assert roles.by_group[cawg.id] is Role.COORDINATOR
    assert roles.by_group[land.id] is Role.COORDINATOR
    assert roles.network is Role.ADMIN
    with store._engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(Membership)).scalar_one()
        source = connection.execute(
            select(Membership.source).where(Membership.working_group_id == water.id)
        ).scalar_one()
    assert count == 4
    assert source == "config"


def test_an_open_conversation_where_both_had_one_keeps_the_one_answered_last(
    clocked_store: Store, clock: Clock
) -> None:
    store = clocked_store
    older, newer = two_members(store)
    store.conversations.save(older, "profile", "name", {"name": "older"})
    clock.advance(minutes=5)
    store.conversations.save(newer, "report", "title", {"title": "newer"})
    with store._sessions.begin() as session:
        outcome = merge_members_in(session, older, newer)
    assert outcome.combined == {"conversations": 1}
    kept = store.conversations.load(older)
    assert kept is not None and kept.name == "report"


def test_the_older_members_values_win_and_the_newer_fills_the_gaps(
    clocked_store: Store, clock: Clock
) -> None:
    store = clocked_store
    newer = store.members.for_identity(CONSOLE, "newer", language="es").id
    clock.advance(days=-1)  # created later, but at an earlier time: it is the older
    older = store.members.for_identity(CONSOLE, "older", language="en").id
    store.members.set_profile(older, display_name="Ana", organization=None, time_zone=None)
    store.members.set_profile(newer, display_name="Ana M.", organization="Red", time_zone="UTC")
    with store._sessions.begin() as session:
        assert older_first(session, newer, older) == (older, newer)
        outcome = merge_members_in(session, older, newer)
    assert {choice.column for choice in outcome.older_kept} == {"language", "display_name"}
    assert {choice.column for choice in outcome.taken} == {"organization", "time_zone"}
    member = store.members.get(older)
    assert member is not None
    assert (member.language, member.display_name, member.organization, member.time_zone) == (
        "en",
        "Ana",
        "Red",
        "UTC",
    )
    assert member.created_at == clock.now and member.last_seen_at == clock.now + timedelta(days=1)


def test_a_merge_that_fails_half_way_leaves_both_members_as_they_were(store: Store) -> None:
    older, newer = two_members(store)
    # A later table whose rows cannot move to the older member: the database refuses the
    # last step, after identities and everything before it have been moved.
    metadata, votes = with_future_table(CheckConstraint(f"member_id <> {older}", name="not_kept"))
    votes.create(store._engine)
    with store._engine.begin() as connection:
        connection.execute(votes.insert(), [{"member_id": newer, "poll": 1, "choice": "no"}])
    references = [ref.table.name for ref in member_references(metadata)]
    assert references.index("identities") < references.index("zz_future_votes")
    with pytest.raises(StorageError), store.transaction():
        store._units.run(merge_members_in, older, newer, metadata=metadata)
    assert store.members.get(newer) is not None
    with store._engine.connect() as connection:
        owners = dict(connection.execute(select(Identity.user_id, Identity.member_id)).all())
    assert owners == {"older": older, "newer": newer}


def test_migration_0015_goes_down_and_up_again(store: Store) -> None:
    before = ScriptDirectory.from_config(alembic_config()).get_revision("0015")
    assert before is not None
    with store._engine.begin() as connection:
        command.downgrade(alembic_config(connection=connection), str(before.down_revision))
        tables = set(connection.dialect.get_table_names(connection))
    assert not tables & {"connect_codes", "connect_failures"}
    store.upgrade()
    assert store.current_revision() == head_revision()
    member = store.members.for_identity(CONSOLE, "ana", language="en").id
    store.accounts.issue_code(member, "0" * 64)


def test_audit_entries_by_or_about_the_newer_member_then_name_the_older(store: Store) -> None:
    older, newer = two_members(store)
    by = store.audit.record("role.set", newer, member_id=older)
    about = store.audit.record("role.set", None, member_id=newer)
    with store._sessions.begin() as session:
        outcome = merge_members_in(session, older, newer)
    assert outcome.moved["audit_log"] == 2
    entries = {entry.id: entry for entry in store.audit.about_member(older)}
    assert entries[by].actor_member_id == older and entries[by].member_id == older
    assert entries[about].member_id == older


def test_two_members_each_in_an_organization_keep_the_older_ones_and_their_requests(
    store: Store,
) -> None:
    # organization_members is keyed by the member alone, and join_requests holds one
    # pending request per member and group: both collide when two members become one.
    older, newer = two_members(store)
    store.groups.sync_configured(
        [WorkingGroupSpec("cawg", "Corporate Accountability", ("en",), (), (), ())],
        [],
        default_language="en",
    )
    cawg = store.groups.by_slug("cawg")
    assert cawg is not None
    first = store.organizations.add("Red Andina", "PE", "ngo")
    second = store.organizations.add("Union Sur", "CL", "union")
    store.organizations.claim(older, first.id)
    store.organizations.claim(newer, second.id)
    store.joining.request(older, cawg.id)
    store.joining.request(newer, cawg.id)
    with store._sessions.begin() as session:
        merge_members_in(session, older, newer)
    affiliation = store.organizations.affiliation_of(older)
    assert affiliation is not None and affiliation.organization.id == first.id
    assert store.organizations.affiliation_of(newer) is None
    pending = store.joining.pending(older, cawg.id)
    assert pending is not None and store.joining.pending(newer, cawg.id) is None
