"""Delivery storage on SQLite and PostgreSQL: units of work, inbound events, the outbox,
callback payloads, unreachable chats and transports' state (see ``conftest.py``)."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from alembic import command
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

import storage.members
from bot.types import Platform
from storage import (
    DeliveryStatus,
    InboundRecord,
    NotFoundError,
    OutboxRecord,
    OutboxStatus,
    StorageError,
    Store,
)
from storage.database import alembic_config, normalize_url
from storage.models import InboundEvent, OutboxMessage, UnreachableChat
from tests.harness.clock import T0, Clock
from tests.harness.races import at_once
from tests.test_storage import head_revision

TG = Platform.TELEGRAM
MX = Platform.MATRIX
T = TypeVar("T")


def count_from_outside(database_url: str, table: str) -> int:
    """Rows of ``table`` as another connection sees them (plain engine, no write lock)."""
    engine = create_engine(normalize_url(database_url))
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def raw_inbound_payload(store: Store, key: str) -> str:
    with store._sessions() as session:
        return session.scalars(select(InboundEvent.payload).where(InboundEvent.key == key)).one()


def in_other_thread(work: Callable[[], T]) -> T | BaseException:
    """Run ``work`` on a new thread in a copy of this context (as ``asyncio.to_thread``)."""
    context = contextvars.copy_context()
    outcome: list[T | BaseException] = []

    def target() -> None:
        try:
            outcome.append(context.run(work))
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    return outcome[0]


# -- records ----------------------------------------------------------------------------


def test_delivery_status_values_are_the_stored_strings() -> None:
    assert [status.value for status in DeliveryStatus] == ["pending", "delivered", "failed"]
    assert DeliveryStatus("failed") is DeliveryStatus.FAILED


# -- unit of work -----------------------------------------------------------------------


def test_unit_of_work_commits_everything_when_it_ends(database_url: str, store: Store) -> None:
    with store.transaction():
        member = store.members.for_identity(TG, "1", language="ar")
        store.conversations.save(member.id, "join", "name", {"a": 1})  # the new id is usable
        ids = store.outbox.enqueue([(TG, "1", {"text": "مرحبا"})])
        assert store.inbox.record(TG, "7", 7, {"update_id": 7})
        assert [row.id for row in store.outbox.pending(TG)] == ids  # its own writes
        assert count_from_outside(database_url, "outbox") == 0  # nobody else's yet
    assert count_from_outside(database_url, "outbox") == 1
    assert store.members.get(member.id) == member
    conversation = store.conversations.load(member.id)
    assert conversation is not None
    assert conversation.data == {"a": 1}
    assert store.inbox.last_sequence(TG) == 7


def test_unit_of_work_leaves_nothing_behind_when_an_exception_leaves_it(store: Store) -> None:
    with pytest.raises(RuntimeError, match="handler crashed"), store.transaction():
        member = store.members.for_identity(TG, "1", language="en")
        store.conversations.save(member.id, "join", "name", {})
        store.outbox.enqueue([(TG, "1", {"text": "hi"}), (TG, "2", {"text": "hi"})])
        store.inbox.record(TG, "7", 7, {"update_id": 7})
        token = store.transports.callback_token("x" * 100)
        store.transports.mark_unreachable(TG, "3", "blocked")
        store.transports.set_state(MX, "since", "s1")
        raise RuntimeError("handler crashed")
    assert store.members.get(member.id) is None
    assert store.conversations.load(member.id) is None
    assert store.outbox.pending(TG) == []
    assert store.inbox.pending(TG) == []
    assert store.inbox.last_sequence(TG) is None
    assert store.transports.callback_value(token) is None
    assert not store.transports.is_unreachable(TG, "3")
    assert store.transports.state(MX, "since") is None
    # The store works normally afterwards.
    assert store.outbox.enqueue([(TG, "1", {})]) != []


def test_nested_units_join_the_outer_one(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        with store.transaction():
            store.outbox.enqueue([(TG, "1", {"n": 1})])
        store.outbox.enqueue([(TG, "1", {"n": 2})])
        raise RuntimeError("after the nested block ended")
    assert store.outbox.pending(TG) == []

    with store.transaction():
        with store.transaction():
            inner = store.outbox.enqueue([(TG, "1", {"n": 3})])
        outer = store.outbox.enqueue([(TG, "1", {"n": 4})])
    assert [row.id for row in store.outbox.pending(TG)] == inner + outer


def test_an_exception_swallowed_after_leaving_a_nested_block_rolls_the_unit_back(
    store: Store,
) -> None:
    with pytest.raises(StorageError, match="rolled back"), store.transaction():
        store.outbox.enqueue([(TG, "1", {"n": 1})])
        try:
            with store.transaction():
                store.outbox.enqueue([(TG, "1", {"n": 2})])
                raise ValueError("half done")
        except ValueError:
            pass
    assert store.outbox.pending(TG) == []


def test_a_unique_conflict_inside_a_unit_raises_at_once_and_dooms_the_unit(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.members.for_identity(TG, "racer", language="en")
    monkeypatch.setattr(storage.members, "find_identity", lambda *args, **kwargs: None)
    with pytest.raises(StorageError, match="rolled back"), store.transaction():
        store.outbox.enqueue([(TG, "1", {})])
        with pytest.raises(StorageError):  # not retried inside the unit
            store.members.for_identity(TG, "racer", language="en")
        with pytest.raises(StorageError, match="must roll back"):
            store.outbox.pending(TG)
    assert store.outbox.pending(TG) == []


def test_a_not_found_error_inside_a_unit_does_not_doom_it(store: Store) -> None:
    with store.transaction():
        ids = store.outbox.enqueue([(TG, "1", {})])
        with pytest.raises(NotFoundError):
            store.outbox.mark_delivered(ids[0] + 1000, None)
    assert [row.id for row in store.outbox.pending(TG)] == ids


def test_a_unit_refuses_calls_from_another_thread_that_shares_its_context(store: Store) -> None:
    with store.transaction():
        store.outbox.enqueue([(TG, "1", {})])
        outcome = in_other_thread(lambda: store.outbox.pending(TG))
        assert isinstance(outcome, StorageError)
        assert "another thread" in str(outcome)
    assert len(store.outbox.pending(TG)) == 1


def test_work_in_a_context_that_outlives_its_unit_runs_on_its_own(store: Store) -> None:
    with store.transaction():
        context = contextvars.copy_context()  # as asyncio.create_task would
    ids = context.run(store.outbox.enqueue, [(TG, "1", {})])
    assert [row.id for row in store.outbox.pending(TG)] == ids


def test_methods_outside_a_unit_still_commit_on_their_own(database_url: str, store: Store) -> None:
    store.outbox.enqueue([(TG, "1", {})])
    assert count_from_outside(database_url, "outbox") == 1


# -- inbound events ---------------------------------------------------------------------


def test_record_inbound_keeps_an_event_once(clocked_store: Store) -> None:
    store = clocked_store
    assert store.inbox.record(TG, "100", 100, {"update_id": 100, "text": "first"})
    assert not store.inbox.record(TG, "100", 100, {"update_id": 100, "text": "again"})
    assert store.inbox.record(MX, "100", None, {"event_id": "100"})  # another platform
    (event,) = store.inbox.pending(TG)
    assert event == InboundRecord(
        id=event.id,
        platform=TG,
        key="100",
        sequence=100,
        payload={"update_id": 100, "text": "first"},
        received_at=T0,
        handled_at=None,
    )


def test_record_many_keeps_a_whole_answer_at_once_or_nothing(store: Store) -> None:
    store.inbox.record(TG, "1", 1, {"update_id": 1})
    # One getUpdates answer: an update kept before (Telegram sent it again) and two new.
    kept = store.inbox.record_many(
        TG,
        [
            ("1", 1, {"update_id": 1}, False),
            ("2", 2, {"update_id": 2}, False),
            ("3", 3, {"n": 3}, False),
        ],
    )
    assert kept == 2
    assert [(event.key, event.payload) for event in store.inbox.pending(TG)] == [
        ("1", {"update_id": 1}),
        ("2", {"update_id": 2}),
        ("3", {"n": 3}),
    ]
    # An event that cannot be kept keeps none of its answer.
    with pytest.raises(ValueError, match="event key"):
        store.inbox.record_many(TG, [("4", 4, {}, False), ("x" * 300, 5, {}, False)])
    assert [event.key for event in store.inbox.pending(TG)] == ["1", "2", "3"]


def test_private_chats_events_are_pending_before_group_traffic_each_in_its_order(
    store: Store,
) -> None:
    # A flood in a group, and a member's commands in a private chat stored among it.
    store.inbox.record_many(TG, [(str(n), n, {"n": n}, n in (4, 7)) for n in range(1, 10)])
    store.inbox.record(TG, "10", 10, {"n": 10}, direct=True)
    assert [event.key for event in store.inbox.pending(TG)] == [
        "4", "7", "10", "1", "2", "3", "5", "6", "8", "9",
    ]  # fmt: skip
    assert [event.key for event in store.inbox.pending(TG, limit=4)] == ["4", "7", "10", "1"]
    assert [event.key for event in store.inbox.pending(TG, limit=2)] == ["4", "7"]
    assert [event.direct for event in store.inbox.pending_of([TG], 3)[TG]] == [True] * 3


def test_a_duplicate_inbound_event_inside_a_unit_does_not_spoil_it(store: Store) -> None:
    store.inbox.record(TG, "1", 1, {})
    with store.transaction():
        assert not store.inbox.record(TG, "1", 1, {})
        assert store.inbox.record(TG, "2", 2, {})
    assert [event.key for event in store.inbox.pending(TG)] == ["1", "2"]


def test_pending_inbound_lists_unhandled_events_in_platform_order_then_arrival(
    store: Store,
) -> None:
    for key, sequence in [("30", 30), ("10", 10), ("m", None), ("20", 20), ("n", None)]:
        store.inbox.record(TG, key, sequence, {"k": key})
    store.inbox.record(MX, "$other", None, {})
    store.inbox.mark_handled(TG, "10")
    pending = store.inbox.pending(TG)
    assert [event.key for event in pending] == ["20", "30", "m", "n"]
    assert [event.payload for event in pending] == [{"k": k} for k in ("20", "30", "m", "n")]
    assert [event.key for event in store.inbox.pending(TG, limit=2)] == ["20", "30"]
    assert [event.key for event in store.inbox.pending(MX)] == ["$other"]


def test_a_waiting_event_is_kept_out_of_the_pending_ones_until_made_ready(store: Store) -> None:
    store.inbox.record(MX, "$early", None, {"ready": 1})
    assert store.inbox.record(MX, "$locked", None, {"event": "cipher"}, waiting=True)
    assert not store.inbox.record(MX, "$locked", None, {"event": "again"}, waiting=True)
    for number in range(3):
        store.inbox.record(MX, f"$late{number}", None, {"ready": number})
    # Many waiting events do not fill a page of pending ones.
    assert [event.key for event in store.inbox.pending(MX, limit=2)] == ["$early", "$late0"]
    (locked,) = store.inbox.waiting(MX)
    assert (locked.key, locked.payload, locked.waiting) == ("$locked", {"event": "cipher"}, True)

    assert store.inbox.make_ready(MX, "$locked", {"kind": "text"})
    assert store.inbox.waiting(MX) == []
    pending = store.inbox.pending(MX)
    # It keeps its place in the order of arrival.
    assert [event.key for event in pending] == ["$early", "$locked", "$late0", "$late1", "$late2"]
    assert pending[1].payload == {"kind": "text"} and not pending[1].waiting
    assert not store.inbox.make_ready(MX, "$locked", {"kind": "again"})  # ready already
    assert not store.inbox.make_ready(MX, "$early", {"kind": "other"})  # never waited
    assert not store.inbox.make_ready(MX, "$unknown", {})
    store.inbox.record(MX, "$gone", None, {}, waiting=True)
    store.inbox.mark_handled(MX, "$gone")
    assert not store.inbox.make_ready(MX, "$gone", {"kind": "text"})  # handled
    assert store.inbox.pending(MX)[1].payload == {"kind": "text"}


def test_pending_of_several_platforms_keeps_each_platforms_order_in_one_read(
    store: Store,
) -> None:
    store.inbox.record(Platform.TELEGRAM, "9", 9, {"n": 9})
    store.inbox.record(MX, "$a", None, {"n": "a"})
    store.inbox.record(Platform.TELEGRAM, "8", 8, {"n": 8})
    store.inbox.record(MX, "$w", None, {}, waiting=True)
    store.inbox.mark_handled(Platform.TELEGRAM, "9")
    found = store.inbox.pending_of([Platform.TELEGRAM, MX], limit=5)
    assert {platform: [event.key for event in events] for platform, events in found.items()} == {
        Platform.TELEGRAM: ["8"],
        MX: ["$a"],
    }
    assert found == {
        Platform.TELEGRAM: store.inbox.pending(Platform.TELEGRAM),
        MX: store.inbox.pending(MX),
    }


def test_a_waiting_event_that_needs_nothing_is_settled_as_handled(store: Store) -> None:
    store.inbox.record(MX, "$notice", None, {"event": "cipher"}, waiting=True)
    store.inbox.record(MX, "$ready", None, {"kind": "text"})
    assert store.inbox.settle_waiting(MX, "$notice")
    assert store.inbox.waiting(MX) == []
    assert [event.key for event in store.inbox.pending(MX)] == ["$ready"]
    assert raw_inbound_payload(store, "$notice") == "{}"
    assert not store.inbox.record(MX, "$notice", None, {}, waiting=True)  # still known
    assert not store.inbox.settle_waiting(MX, "$notice")  # handled already
    assert not store.inbox.settle_waiting(MX, "$ready")  # the dispatcher's to mark
    assert not store.inbox.settle_waiting(MX, "$unknown")
    assert [event.key for event in store.inbox.pending(MX)] == ["$ready"]


@pytest.mark.empty_database
def test_the_waiting_migration_holds_unhandled_matrix_events_and_downgrades(
    database_url: str,
) -> None:
    insert = text(
        "INSERT INTO inbound_events (platform, key, payload, received_at, handled_at) "
        "VALUES (:platform, :key, '{}', :now, :handled)"
    )
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with Store(database_url) as store:
        with store._engine.begin() as connection:
            command.upgrade(alembic_config(connection=connection), "0004")
            for platform, key, handled in [
                ("matrix", "$waiting", None),
                ("matrix", "$handled", now),
                ("telegram", "7", None),
            ]:
                connection.execute(
                    insert, {"platform": platform, "key": key, "now": now, "handled": handled}
                )
        store.upgrade()
        assert store.current_revision() == head_revision()
        assert [event.key for event in store.inbox.waiting(MX)] == ["$waiting"]
        assert store.inbox.pending(MX) == []
        assert [event.key for event in store.inbox.pending(TG)] == ["7"]
        with store._engine.begin() as connection:
            command.downgrade(alembic_config(connection=connection), "0004")
        with store._engine.connect() as connection:
            columns = {c["name"] for c in inspect(connection).get_columns("inbound_events")}
            keys = connection.execute(text("SELECT key FROM inbound_events")).scalars().all()
        assert "waiting" not in columns
        assert sorted(keys) == ["$handled", "$waiting", "7"]
        store.upgrade()
        assert [event.key for event in store.inbox.waiting(MX)] == ["$waiting"]


def test_marking_an_inbound_event_handled_wipes_its_payload(
    clocked_store: Store, clock: Clock
) -> None:
    store = clocked_store
    store.inbox.record(TG, "5", 5, {"message": {"text": "my address is ..."}})
    handled = clock.advance(seconds=3)
    store.inbox.mark_handled(TG, "5")
    assert store.inbox.pending(TG) == []
    assert raw_inbound_payload(store, "5") == "{}"
    clock.advance(seconds=3)
    store.inbox.mark_handled(TG, "5")  # again: nothing moves
    with store._sessions() as session:
        row = session.scalars(select(InboundEvent)).one()
    assert row.handled_at == handled
    assert not store.inbox.record(TG, "5", 5, {"message": {}})  # still a duplicate
    with pytest.raises(NotFoundError):
        store.inbox.mark_handled(TG, "404")
    with pytest.raises(NotFoundError):
        store.inbox.mark_handled(MX, "5")


def test_last_inbound_sequence_is_the_highest_ever_recorded(store: Store) -> None:
    assert store.inbox.last_sequence(TG) is None
    store.inbox.record(TG, "m", None, {})
    assert store.inbox.last_sequence(TG) is None
    store.inbox.record(TG, "big", 2**40, {})
    store.inbox.record(TG, "small", 3, {})
    store.inbox.mark_handled(TG, "big")
    assert store.inbox.last_sequence(TG) == 2**40
    assert store.inbox.last_sequence(MX) is None


def test_prune_inbound_deletes_old_handled_events_but_keeps_the_cursor(
    clocked_store: Store, clock: Clock
) -> None:
    store = clocked_store
    for update_id in (1, 2, 3, 4):
        store.inbox.record(TG, str(update_id), update_id, {"update_id": update_id})
    store.inbox.record(TG, "no-sequence", None, {})
    store.inbox.record(MX, "$m", None, {})
    for key in ("1", "4", "no-sequence"):
        store.inbox.mark_handled(TG, key)
    store.inbox.mark_handled(MX, "$m")
    cutoff = clock.advance(minutes=10)
    store.inbox.mark_handled(TG, "2")  # handled after the cutoff: kept

    assert store.inbox.prune(TG, cutoff) == 2  # "1" and "no-sequence"
    with store._sessions() as session:
        left = session.scalars(
            select(InboundEvent.key).where(InboundEvent.platform == "telegram")
        ).all()
    assert sorted(left) == ["2", "3", "4"]  # "4" holds the cursor, "3" is unhandled
    assert store.inbox.last_sequence(TG) == 4
    assert [event.key for event in store.inbox.pending(TG)] == ["3"]
    assert store.inbox.prune(TG, clock.advance(minutes=10)) == 1  # "2"
    assert store.inbox.last_sequence(TG) == 4
    assert store.inbox.pending(MX) == []
    assert store.inbox.prune(MX, cutoff) == 1  # no sequences: nothing to keep


def test_inbound_methods_refuse_bad_arguments_and_write_nothing(store: Store) -> None:
    with pytest.raises(ValueError, match="empty"):
        store.inbox.record(TG, "", 1, {})
    with pytest.raises(ValueError, match="longer than 255"):
        store.inbox.record(TG, "k" * 256, 1, {})
    with pytest.raises(TypeError):
        store.inbox.record(TG, "1", True, {})
    with pytest.raises(ValueError, match="between"):
        store.inbox.record(TG, "1", 2**63, {})
    with pytest.raises(TypeError):
        store.inbox.record(TG, "1", 1, {"when": T0})
    with pytest.raises(ValueError):
        store.inbox.record("nowhere", "1", 1, {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        store.inbox.prune(TG, datetime(2025, 1, 1))
    with pytest.raises(ValueError):
        store.inbox.pending(TG, limit=0)
    assert store.inbox.pending(TG) == []


# -- outbox -----------------------------------------------------------------------------


def test_enqueue_outgoing_returns_ids_in_order_and_the_messages_are_pending(
    clocked_store: Store,
) -> None:
    store = clocked_store
    payloads = [{"text": f"message {n}", "buttons": [["a", "b"]]} for n in range(5)]
    ids = store.outbox.enqueue([(TG, "-100", payload) for payload in payloads])
    assert ids == sorted(ids)
    assert len(set(ids)) == 5
    rows = store.outbox.pending(TG)
    assert [row.id for row in rows] == ids
    assert rows[0] == OutboxRecord(
        id=ids[0],
        platform=TG,
        room_id="-100",
        payload={"text": "message 0", "buttons": [["a", "b"]]},
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=T0,
        created_at=T0,
        delivered_at=None,
        platform_message_id=None,
        failure_reason=None,
    )
    assert store.outbox.enqueue([]) == []


def test_enqueue_outgoing_writes_nothing_if_one_item_is_bad(store: Store) -> None:
    with pytest.raises(ValueError, match="longer than 255"):
        store.outbox.enqueue([(TG, "1", {}), (TG, "r" * 256, {})])
    with pytest.raises(TypeError):
        store.outbox.enqueue([(TG, "1", {}), (TG, "2", {"x": object()})])
    with pytest.raises(ValueError):
        store.outbox.enqueue([(TG, "1", {}), ("pigeon", "2", {})])  # type: ignore[list-item]
    assert store.outbox.pending(TG) == []


def test_pending_outgoing_pages_by_id_per_platform(store: Store) -> None:
    ids = store.outbox.enqueue(
        [(TG, "a", {"n": 1}), (MX, "!r:x.org", {"n": 2}), (TG, "b", {"n": 3}), (TG, "a", {"n": 4})]
    )
    telegram = [ids[0], ids[2], ids[3]]
    assert [row.id for row in store.outbox.pending(TG)] == telegram
    assert [row.id for row in store.outbox.pending(TG, limit=2)] == telegram[:2]
    assert [row.id for row in store.outbox.pending(TG, after_id=ids[0])] == telegram[1:]
    assert store.outbox.pending(TG, after_id=ids[3]) == []
    assert [row.room_id for row in store.outbox.pending(MX)] == ["!r:x.org"]


def test_each_rooms_head_is_read_alone_and_only_rooms_owed_messages_are_listed(
    store: Store,
) -> None:
    ids = store.outbox.enqueue(
        [(TG, "b", {"n": n}) for n in range(5)]
        + [(TG, "a", {"n": 9}), (MX, "!r:x.org", {"n": 0}), (TG, "c", {"n": 1})]
    )
    store.outbox.mark_delivered(ids[7], "77")  # room c owes nothing now
    store.outbox.record_failed_attempt(ids[0], "timed out", T0 + timedelta(days=1))
    assert store.outbox.rooms_with_pending(TG) == ["a", "b"]
    assert store.outbox.rooms_with_pending(MX) == ["!r:x.org"]
    head = store.outbox.room_head(TG, "b", limit=3)
    # A message waiting for its retry still heads its room.
    assert [(row.id, row.payload) for row in head] == [(ids[n], {"n": n}) for n in range(3)]
    assert [row.id for row in store.outbox.room_head(TG, "a")] == [ids[5]]
    assert store.outbox.room_head(TG, "c") == []
    assert not any(row.relayed for row in head)
    [copy] = store.bridge.enqueue_copies(None, [(TG, "a", {"n": 10}, 0)])
    assert [row.relayed for row in store.outbox.room_head(TG, "a")] == [False, True]
    assert store.outbox.room_head(TG, "a")[1].id == copy


def test_outbox_reads_neither_wait_for_nor_take_the_write_lock(
    database_url: str, store: Store
) -> None:
    """Another connection holds the database for writing: the outbox worker's reads (the
    pending messages, the rooms owed, a room's head, whether a room is unreachable) go on."""
    store.outbox.enqueue([(TG, "1", {"n": 1})])
    engine = create_engine(normalize_url(database_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as writer:
            if store.backend == "sqlite":
                writer.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                writer.exec_driver_sql("BEGIN")
                writer.exec_driver_sql("LOCK TABLE outbox IN EXCLUSIVE MODE")
            writer.exec_driver_sql("UPDATE outbox SET attempts = 5")
            started = time.monotonic()
            found = in_other_thread(
                lambda: (
                    [row.attempts for row in store.outbox.pending(TG)],
                    store.outbox.rooms_with_pending(TG),
                    [row.attempts for row in store.outbox.room_head(TG, "1")],
                    store.transports.is_unreachable(TG, "1"),
                )
            )
            took = time.monotonic() - started
            writer.exec_driver_sql("ROLLBACK")
    finally:
        engine.dispose()
    assert found == ([0], ["1"], [0], False)
    assert took < 2.0


def test_deliveries_finished_together_are_recorded_in_one_call(
    clocked_store: Store, clock: Clock
) -> None:
    store = clocked_store
    ids = store.outbox.enqueue([(TG, "1", {"n": n}) for n in range(4)])
    store.outbox.mark_failed(ids[3], "given up while it was being sent")
    clock.advance(seconds=5)
    store.outbox.mark_delivered_in_batch(
        [([ids[0], ids[1]], "10"), ([ids[2]], None), ([ids[3]], "11")]
    )
    assert store.outbox.pending(TG) == []
    targets = store.outbox.targets(ids)
    assert [targets[n].platform_message_id for n in ids] == ["10", "10", None, "11"]
    assert all(targets[n].status is DeliveryStatus.DELIVERED for n in ids)
    with pytest.raises(NotFoundError):
        store.outbox.mark_delivered_in_batch([([ids[0]], "10"), ([999_999], "12")])


def test_outbox_ids_are_never_reused(store: Store) -> None:
    (first,) = store.outbox.enqueue([(TG, "1", {})])
    with store._sessions.begin() as session:
        session.query(OutboxMessage).delete()
    (second,) = store.outbox.enqueue([(TG, "1", {})])
    assert second > first


def test_outbox_message_lifecycle(clocked_store: Store, clock: Clock) -> None:
    store = clocked_store
    first, second, third = store.outbox.enqueue(
        [(TG, "1", {"text": "a"}), (TG, "1", {"text": "b"}), (TG, "2", {"text": "c"})]
    )
    retry_at = T0 + timedelta(seconds=30)
    assert store.outbox.record_failed_attempt(first, "timed out", retry_at) == 1
    assert store.outbox.record_failed_attempt(first, "x" * 300, retry_at) == 2
    row = store.outbox.pending(TG)[0]
    assert (row.id, row.status, row.attempts) == (first, DeliveryStatus.PENDING, 2)
    assert row.failure_reason == "x" * 255
    assert row.next_attempt_at == retry_at

    delivered_at = clock.advance(seconds=31)
    store.outbox.mark_delivered(first, "4711")
    store.outbox.mark_delivered(second, None)
    store.outbox.mark_failed(third, "Forbidden: bot was blocked by the user")
    assert store.outbox.pending(TG) == []
    with store._sessions() as session:
        rows = {row.id: row for row in session.scalars(select(OutboxMessage))}
    assert (rows[first].status, rows[first].platform_message_id) == ("delivered", "4711")
    assert rows[first].delivered_at == delivered_at
    assert rows[second].platform_message_id is None
    assert (rows[third].status, rows[third].failure_reason) == (
        "failed",
        "Forbidden: bot was blocked by the user",
    )
    assert rows[third].delivered_at is None


def test_outbox_final_states_hold(clocked_store: Store, clock: Clock) -> None:
    store = clocked_store
    delivered, failed = store.outbox.enqueue([(TG, "1", {}), (TG, "1", {})])
    store.outbox.mark_delivered(delivered, "1")
    store.outbox.mark_failed(failed, "gave up")
    later = clock.advance(minutes=1)
    # A delivered message stays delivered; a failed one is not retried.
    store.outbox.mark_failed(delivered, "late failure")
    store.outbox.mark_delivered(delivered, "2")
    assert store.outbox.record_failed_attempt(failed, "again", later) == 0
    store.outbox.mark_failed(failed, "another reason")
    with store._sessions() as session:
        rows = {row.id: row for row in session.scalars(select(OutboxMessage))}
    assert (rows[delivered].status, rows[delivered].platform_message_id) == ("delivered", "1")
    assert rows[delivered].delivered_at == T0
    assert (rows[failed].status, rows[failed].failure_reason) == ("failed", "gave up")
    # A message given up on while it was being sent that did arrive counts as delivered.
    store.outbox.mark_delivered(failed, "3")
    assert store.outbox.status(TG, since=T0) == OutboxStatus(
        pending=0, failed=0, delivered=2, oldest_pending_at=None
    )


def test_outbox_methods_refuse_unknown_ids_and_bad_arguments(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.outbox.mark_delivered(404, None)
    with pytest.raises(NotFoundError):
        store.outbox.record_failed_attempt(404, "x", T0)
    with pytest.raises(NotFoundError):
        store.outbox.mark_failed(404, "x")
    (message,) = store.outbox.enqueue([(TG, "1", {})])
    with pytest.raises(ValueError, match="timezone-aware"):
        store.outbox.record_failed_attempt(message, "x", datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="between"):
        store.outbox.mark_failed(2**40, "x")
    with pytest.raises(ValueError, match="longer than 255"):
        store.outbox.mark_delivered(message, "9" * 256)
    with pytest.raises(TypeError):
        store.outbox.mark_failed(message, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        store.outbox.status(since=datetime(2025, 1, 1))
    assert [row.status for row in store.outbox.pending(TG)] == [DeliveryStatus.PENDING]


def test_outbox_status_counts_per_platform_and_since(clocked_store: Store, clock: Clock) -> None:
    store = clocked_store
    assert store.outbox.status(since=T0) == OutboxStatus(0, 0, 0, None)
    early, _, matrix = store.outbox.enqueue([(TG, "1", {}), (TG, "2", {}), (MX, "!r", {})])
    store.outbox.mark_delivered(early, "1")
    later = clock.advance(hours=1)
    a, b, c = store.outbox.enqueue([(TG, "1", {}), (TG, "2", {}), (TG, "3", {})])
    store.outbox.mark_delivered(a, "2")
    store.outbox.mark_failed(b, "gone")
    store.outbox.mark_failed(matrix, "gone")

    assert store.outbox.status(TG, since=later) == OutboxStatus(
        pending=2, failed=1, delivered=1, oldest_pending_at=T0
    )
    assert store.outbox.status(TG, since=T0).delivered == 2
    assert store.outbox.status(since=T0) == OutboxStatus(
        pending=2, failed=2, delivered=2, oldest_pending_at=T0
    )
    assert store.outbox.status(MX, since=T0) == OutboxStatus(0, 1, 0, None)
    store.outbox.mark_delivered(c, "3")
    status = store.outbox.status(TG, since=later)
    assert status.oldest_pending_at == T0
    assert status.oldest_pending_at is not None
    assert status.oldest_pending_at.tzinfo == UTC


def test_drop_pending_for_room_fails_only_that_rooms_pending_messages(store: Store) -> None:
    sent, blocked_1, other, blocked_2, matrix = store.outbox.enqueue(
        [(TG, "9", {}), (TG, "9", {}), (TG, "8", {}), (TG, "9", {}), (MX, "9", {})]
    )
    store.outbox.mark_delivered(sent, "1")
    assert store.outbox.drop_pending_for_room(TG, "9", "blocked by the user") == 2
    assert store.outbox.drop_pending_for_room(TG, "9", "blocked by the user") == 0
    assert [row.id for row in store.outbox.pending(TG)] == [other]
    assert [row.id for row in store.outbox.pending(MX)] == [matrix]
    with store._sessions() as session:
        rows = {row.id: row for row in session.scalars(select(OutboxMessage))}
    assert {rows[blocked_1].failure_reason, rows[blocked_2].failure_reason} == {
        "blocked by the user"
    }
    assert rows[sent].status == "delivered"
    assert store.outbox.drop_pending_for_room(TG, "7", "x" * 300) == 0


def test_the_database_refuses_an_unknown_outbox_status(store: Store) -> None:
    (message,) = store.outbox.enqueue([(TG, "1", {})])
    with pytest.raises(IntegrityError), store._sessions.begin() as session:
        session.get_one(OutboxMessage, message).status = "lost"


# -- callback payloads ------------------------------------------------------------------


def test_callback_token_is_the_same_for_the_same_value(store: Store) -> None:
    long_value = "vote:" + "x" * 200
    token = store.transports.callback_token(long_value)
    assert store.transports.callback_token(long_value) == token
    assert store.transports.callback_token(long_value + "y") != token
    assert store.transports.callback_value(token) == long_value


def test_long_and_arabic_callback_values_round_trip(store: Store) -> None:
    values = [
        "report:" + "ا" * 40,  # 2 bytes a letter in UTF-8: well over 64 bytes
        "choose:لجنة الدعم القانوني/الأولوية العليا/تأكيد الإرسال",
        "emoji:✊🏽" * 10,
        "",
    ]
    tokens = [store.transports.callback_token(value) for value in values]
    assert len(set(tokens)) == len(values)
    assert len(values[0].encode()) > 64
    assert [store.transports.callback_value(token) for token in tokens] == values
    assert all(len(str(token).encode()) <= 10 for token in tokens)


def test_callback_value_of_an_unknown_token_is_none(store: Store) -> None:
    assert store.transports.callback_value(1) is None
    assert store.transports.callback_value(0) is None
    assert store.transports.callback_value(-5) is None
    assert store.transports.callback_value(2**62) is None
    with pytest.raises(TypeError):
        store.transports.callback_token(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.transports.callback_value("1")  # type: ignore[arg-type]


def test_callback_token_is_safe_when_calls_race(database_url: str) -> None:
    tokens = at_once(
        database_url, lambda store: store.transports.callback_token("race:" + "z" * 100)
    )
    assert len(set(tokens)) == 1


def test_mark_unreachable_upserts_and_clear_forgets(clocked_store: Store, clock: Clock) -> None:
    store = clocked_store
    assert not store.transports.is_unreachable(TG, "42")
    store.transports.mark_unreachable(TG, "42", "Forbidden: bot was blocked by the user")
    store.transports.mark_unreachable(TG, "-100", "chat not found")
    clock.advance(hours=1)
    store.transports.mark_unreachable(TG, "42", "Forbidden: user is deactivated")
    assert store.transports.is_unreachable(TG, "42")
    assert not store.transports.is_unreachable(MX, "42")
    assert store.transports.unreachable_chats(TG) == [
        ("42", "Forbidden: user is deactivated"),
        ("-100", "chat not found"),
    ]
    with store._sessions() as session:
        since = session.scalars(
            select(UnreachableChat.since).where(UnreachableChat.chat_id == "42")
        ).one()
    assert since == T0  # unreachable since it was first noticed
    assert store.transports.clear_unreachable(TG, "42")
    assert not store.transports.clear_unreachable(TG, "42")
    assert not store.transports.is_unreachable(TG, "42")
    assert store.transports.unreachable_chats(TG) == [("-100", "chat not found")]
    assert store.transports.unreachable_chats(MX) == []


def test_mark_unreachable_cuts_long_reasons_and_refuses_bad_chat_ids(store: Store) -> None:
    store.transports.mark_unreachable(MX, "!r:x.org", "r" * 1000)
    assert store.transports.unreachable_chats(MX) == [("!r:x.org", "r" * 255)]
    with pytest.raises(ValueError, match="empty"):
        store.transports.mark_unreachable(MX, "", "x")
    with pytest.raises(ValueError, match="longer than 255"):
        store.transports.clear_unreachable(MX, "c" * 256)
    with store._sessions() as session:
        assert session.scalar(select(func.count()).select_from(UnreachableChat)) == 1


# -- transport state --------------------------------------------------------------------


def test_transport_state_is_kept_per_platform_and_name(store: Store) -> None:
    assert store.transports.state(MX, "next_batch") is None
    store.transports.set_state(MX, "next_batch", "s72594_4483_1934")
    store.transports.set_state(TG, "next_batch", "other")
    assert store.transports.state(MX, "next_batch") == "s72594_4483_1934"
    store.transports.set_state(MX, "next_batch", "s72595_4483_1935")
    assert store.transports.state(MX, "next_batch") == "s72595_4483_1935"
    assert store.transports.state(TG, "next_batch") == "other"
    assert store.transports.state(MX, "filter_id") is None
    store.transports.set_state(MX, "filter_id", "")
    assert store.transports.state(MX, "filter_id") == ""
    with pytest.raises(ValueError, match="longer than 64"):
        store.transports.set_state(MX, "n" * 65, "x")


# -- migration --------------------------------------------------------------------------


@pytest.mark.empty_database
def test_delivery_migration_upgrades_a_0001_database_and_downgrades_cleanly(
    database_url: str,
) -> None:
    with Store(database_url) as store:
        with store._engine.begin() as connection:
            command.upgrade(alembic_config(connection=connection), "0001")
            # The models describe the newest schema: the old one is written to directly.
            now = datetime(2026, 11, 25, tzinfo=UTC)
            connection.execute(
                text(
                    "INSERT INTO members (language, created_at, last_seen_at) "
                    "VALUES ('en', :now, :now)"
                ),
                {"now": now},
            )
            connection.execute(
                text(
                    "INSERT INTO identities (platform, user_id, member_id, created_at) "
                    "VALUES ('telegram', '1', 1, :now)"
                ),
                {"now": now},
            )
        store.upgrade()
        assert store.current_revision() == head_revision()
        member = store.members.for_identity(TG, "1", language="en")
        assert member.id == 1
        store.outbox.enqueue([(TG, "1", {"text": "hi"})])
        store.upgrade()  # again: nothing changes
        assert len(store.outbox.pending(TG)) == 1
        with store._engine.begin() as connection:
            command.downgrade(alembic_config(connection=connection), "0001")
        with store._engine.connect() as connection:
            tables = set(connection.dialect.get_table_names(connection))
        new_tables = {
            "inbound_events",
            "outbox",
            "callback_payloads",
            "unreachable_chats",
            "transport_state",
        }
        assert not tables & new_tables
        assert store.members.get(member.id) == member
        store.upgrade()
        assert store.outbox.pending(TG) == []
