"""The audit log on SQLite and PostgreSQL (see ``conftest.py``): what is recorded, who may
read which part, and that erasing a member leaves no reference to them."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bot.types import Platform, Role
from storage import Store, WorkingGroupSpec
from storage.database import create_engine_for


def _groups(store: Store) -> tuple[int, int]:
    store.groups.sync_configured(
        [
            WorkingGroupSpec("cawg", "Corporate Accountability", ("en",), (), (), ()),
            WorkingGroupSpec("land", "Land", ("es",), (), (), ()),
        ],
        [],
        default_language="en",
    )
    cawg, land = store.groups.by_slug("cawg"), store.groups.by_slug("land")
    assert cawg is not None and land is not None
    return cawg.id, land.id


def test_a_change_is_read_back_newest_first_and_by_group(store: Store) -> None:
    cawg, land = _groups(store)
    admin = store.members.for_identity(Platform.CONSOLE, "admin", language="en").id
    ana = store.members.for_identity(Platform.CONSOLE, "ana", language="en").id
    first = store.audit.record(
        "role.set", admin, member_id=ana, working_group_id=cawg, detail={"role": "coordinator"}
    )
    second = store.audit.record("role.set", admin, member_id=ana, working_group_id=land)
    network = store.audit.record("role.set", None, member_id=ana, detail={"role": "admin"})
    everything = store.audit.page()
    assert [entry.id for entry in everything.entries] == [network, second, first]
    assert everything.total == 3
    only_cawg = store.audit.page(group_ids=[cawg])
    assert [entry.id for entry in only_cawg.entries] == [first]
    assert only_cawg.entries[0].detail == {"role": "coordinator"}
    assert only_cawg.total == 1
    paged = store.audit.page(offset=1, limit=1)
    assert [entry.id for entry in paged.entries] == [second] and paged.total == 3
    assert [entry.id for entry in store.audit.about_member(ana)] == [first, second, network]


def test_a_change_is_kept_or_lost_with_the_unit_of_work_that_made_it(store: Store) -> None:
    cawg, _ = _groups(store)
    ana = store.members.for_identity(Platform.CONSOLE, "ana", language="en").id
    with pytest.raises(RuntimeError), store.transaction():
        store.groups.set_role(ana, cawg, Role.COORDINATOR)
        store.audit.record("role.set", None, member_id=ana, working_group_id=cawg)
        raise RuntimeError("the handler failed after recording")
    assert store.audit.page().total == 0


@pytest.mark.parametrize(
    ("action", "detail", "problem"),
    [
        ("", {}, "short ASCII name"),
        ("rôle.set", {}, "short ASCII name"),
        ("x" * 65, {}, "short ASCII name"),
        ("role.set", {"who": ["a list"]}, "not a plain value"),
    ],
)
def test_an_entry_that_is_not_plain_values_is_refused(
    store: Store, action: str, detail: dict[str, object], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        store.audit.record(action, None, detail=detail)  # type: ignore[arg-type]
    assert store.audit.page().total == 0


def test_an_erased_member_leaves_no_reference_in_the_log(store: Store, database_url: str) -> None:
    cawg, _ = _groups(store)
    admin = store.members.for_identity(Platform.CONSOLE, "admin", language="en").id
    ana = store.members.for_identity(Platform.CONSOLE, "ana", language="en").id
    store.audit.record("role.set", ana, member_id=admin, working_group_id=cawg)
    engine = create_engine_for(database_url)  # foreign keys enforced on SQLite too
    try:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM members WHERE id = :id"), {"id": ana})
    finally:
        engine.dispose()
    [entry] = store.audit.page().entries
    assert entry.actor_member_id is None and entry.member_id == admin
