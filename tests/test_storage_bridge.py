"""Room links and relayed messages on SQLite and PostgreSQL (see ``conftest.py``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import text

from bot.types import Platform
from storage import DeliveryStatus, LinkOutcome, Store, WorkingGroupSpec
from storage.database import alembic_config
from tests.test_storage import head_revision

TG = Platform.TELEGRAM
MX = Platform.MATRIX


def _groups(store: Store) -> tuple[int, int]:
    store.groups.sync_configured(
        [
            WorkingGroupSpec("cawg", "Corporate Accountability", ("en",), ((TG, "-100"),), (), ()),
            WorkingGroupSpec("land", "Land", ("es",), (), (), ()),
        ],
        [],
        default_language="en",
    )
    cawg = store.groups.by_slug("cawg")
    land = store.groups.by_slug("land")
    assert cawg is not None and land is not None
    return cawg.id, land.id


def test_a_room_linked_by_command_survives_a_new_store_and_a_config_sync(
    database_url: str,
) -> None:
    with Store(database_url) as store:
        store.upgrade()
        cawg, _ = _groups(store)
        assert store.rooms.link(MX, "!room:x", cawg) is LinkOutcome.LINKED
        assert store.rooms.link(MX, "!room:x", cawg) is LinkOutcome.ALREADY_LINKED
    with Store(database_url) as store:
        _groups(store)  # the configuration is applied again at every start
        links = {
            (link.platform, link.room_id, link.from_config) for link in store.rooms.links(cawg)
        }
        assert links == {(TG, "-100", True), (MX, "!room:x", False)}


def test_a_configured_room_can_be_neither_moved_nor_unlinked_by_command(store: Store) -> None:
    cawg, land = _groups(store)
    assert store.rooms.link(TG, "-100", land) is LinkOutcome.LINKED_ELSEWHERE
    assert store.rooms.unlink(TG, "-100") is LinkOutcome.CONFIGURED
    group = store.groups.for_room(TG, "-100")
    assert group is not None and group.id == cawg


def test_a_commanded_link_moves_and_unlinks(store: Store) -> None:
    cawg, land = _groups(store)
    store.rooms.link(MX, "!room:x", cawg)
    assert store.rooms.link(MX, "!room:x", land) is LinkOutcome.MOVED
    assert store.rooms.unlink(MX, "!room:x") is LinkOutcome.UNLINKED
    assert store.rooms.unlink(MX, "!room:x") is LinkOutcome.NOT_LINKED
    assert store.groups.for_room(MX, "!room:x") is None


def test_a_relayed_message_is_found_by_its_own_id_and_by_its_copies_ids(store: Store) -> None:
    cawg, _ = _groups(store)
    bridged = store.bridge.record_message(cawg, TG, "-100", "7", "d" * 64)
    assert bridged is not None
    assert store.bridge.record_message(cawg, TG, "-100", "7", "e" * 64) is None
    first, second, edit = store.bridge.enqueue_copies(
        bridged,
        [
            (MX, "!room:x", {"relay": "text"}, 0),
            (TG, "-200", {"relay": "text"}, 0),
            (MX, "!room:x", {"relay": "edit"}, None),
        ],
    )
    store.outbox.mark_delivered(first, "$event")
    original = store.bridge.message(TG, "-100", "7")
    assert original is not None and original.is_original and original.id == bridged
    copy = store.bridge.message(MX, "!room:x", "$event")
    assert copy is not None and not copy.is_original and copy.id == bridged
    assert copy.message_id == "7" and copy.room_id == "-100"
    assert store.bridge.message(MX, "!other:x", "$event") is None
    copies = store.bridge.copies_of(bridged)
    assert [(c.outbox_id, c.status, c.platform_message_id) for c in copies] == [
        (first, DeliveryStatus.DELIVERED, "$event"),
        (second, DeliveryStatus.PENDING, None),
    ]
    assert edit not in {c.outbox_id for c in copies}


def test_rows_delivered_together_share_one_message_and_say_so(store: Store) -> None:
    cawg, _ = _groups(store)
    bridged = store.bridge.record_message(cawg, MX, "!room:x", "$a", "d" * 64)
    one, two, alone = store.bridge.enqueue_copies(
        bridged, [(TG, "-100", {}, 0), (TG, "-100", {}, 0), (TG, "-100", {}, 0)]
    )
    store.outbox.mark_delivered_together([one, two], "55")
    store.outbox.mark_delivered(alone, "56")
    targets = store.outbox.targets([one, two, alone])
    assert targets[one].shared and targets[two].shared
    assert targets[one].platform_message_id == "55"
    assert not targets[alone].shared and targets[alone].status is DeliveryStatus.DELIVERED


@pytest.mark.empty_database
def test_the_bridge_migration_keeps_the_outbox_and_downgrades_cleanly(database_url: str) -> None:
    insert = text(
        "INSERT INTO outbox (platform, room_id, payload, status, attempts, next_attempt_at, "
        "created_at) VALUES ('telegram', '1', :payload, 'pending', 0, :now, :now)"
    )
    now = datetime(2026, 11, 25, tzinfo=UTC)
    with Store(database_url) as store:
        with store._engine.begin() as connection:
            command.upgrade(alembic_config(connection=connection), "0002")
            connection.execute(insert, {"payload": '{"text": "hi"}', "now": now})
        store.upgrade()
        assert store.current_revision() == head_revision()
        (pending,) = store.outbox.pending(TG)
        assert pending.payload == {"text": "hi"}
        (after,) = store.outbox.enqueue([(TG, "1", {"text": "again"})])
        assert after > pending.id
        with store._engine.begin() as connection:
            command.downgrade(alembic_config(connection=connection), "0002")
        with store._engine.connect() as connection:
            ids = connection.execute(text("SELECT id FROM outbox ORDER BY id")).scalars().all()
            assert "bridged_messages" not in connection.dialect.get_table_names(connection)
        assert ids == [pending.id, after]
        store.upgrade()
        assert store.current_revision() == head_revision()


def test_a_group_is_found_by_its_id_and_an_id_out_of_range_finds_none(store: Store) -> None:
    cawg, land = _groups(store)
    found = store.groups.get(land)
    assert found is not None and (found.slug, found.languages) == ("land", ("es",))
    assert store.groups.get(cawg + land + 100) is None
    assert store.groups.get(10**20) is None  # typed by someone; beyond what a column holds
