"""The scheduler: work due at a time, done once, on both databases, with a clock the tests
move (tests/harness/clock.py). A test kind of work queues one notice per row; the outbox's
rows show what was sent."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import Services
from bot.config import AppConfig, ConfigError, load_config
from bot.i18n import Catalogs
from bot.registry import NoLongerUseful, Registry
from bot.scheduler import (
    MAX_ATTEMPTS,
    ScheduledContext,
    Scheduler,
    next_time,
    occurrence_key,
    retry_pause,
    schedule_repeating,
)
from bot.transports.planning import PLANNING
from bot.types import Message, Origin, Platform, Reply
from storage import Store
from storage.scheduled import ScheduledRecord, ScheduledState
from tests.harness.chat import ConsoleChat
from tests.harness.clock import T0, Clock
from tests.harness.console_process import BotProcess
from tests.harness.databases import Backend
from tests.harness.features import first_line, said
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import (
    USER_IDS,
    fast_limiter,
    make_token,
    telegram_config,
    telegram_section,
)

KIND = "test.reminder"
LATENESS = timedelta(hours=6)


def notice(chat_id: int) -> Reply:
    chat = str(chat_id)
    return Reply(
        Message.of("router.slow_down"),
        to=Origin(platform=Platform.TELEGRAM, room_id=chat, user_id=chat, is_direct=True),
        language="en",
        confidential=True,
    )


class Reminders:
    """The test capability: a reminder into the private chat ``target["chat"]``; it fails
    ``fail`` times first; after ``useful_until`` (an ISO time) it is no longer useful."""

    def __init__(self, fail: int = 0) -> None:
        self.done: list[str] = []
        self.fail = fail
        self._lock = threading.Lock()

    def __call__(self, context: ScheduledContext, row: ScheduledRecord) -> Sequence[Reply]:
        until = row.target.get("useful_until")
        if until is not None and context.store.now() > datetime.fromisoformat(until):
            raise NoLongerUseful("after its deadline")
        with self._lock:
            if self.fail:
                self.fail -= 1
                # A write the failure must undo with the rest of the handler's work.
                context.store.scheduled.schedule("side:effect", KIND, T0, {})
                raise LookupError("the handler failed")
            self.done.append(row.key)
        return [notice(int(row.target["chat"]))]


def scheduler_for(store: Store, config: AppConfig, handler: Reminders) -> Scheduler:
    registry = Registry()
    registry.scheduled(KIND, handler, lateness=LATENESS)
    return Scheduler(
        store,
        registry,
        CATALOGS,
        config,
        planners={
            Platform.TELEGRAM: lambda item: PLANNING[Platform.TELEGRAM].parts(
                item, store.transports.callback_token
            )
        },
        poll_seconds=1,
    )


CATALOGS = Catalogs.load()


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> AppConfig:
    path = tmp_path / "config.toml"
    path.write_text('data_dir = "data"\n\n[scheduler]\npoll_seconds = 5\n', encoding="utf-8")
    return load_config(path, env={"CAUCUS_DATABASE_URL": database_url})


def sent(store: Store) -> list[str]:
    """The chats the outbox owes a message, one entry per message."""
    return [record.room_id for record in store.outbox.pending(Platform.TELEGRAM)]


def state(store: Store, key: str) -> ScheduledState | None:
    record = store.scheduled.get(key)
    return None if record is None else record.state


# -- storage ----------------------------------------------------------------------------------


def test_scheduling_a_key_again_moves_pending_work_and_leaves_done_work(
    clocked_store: Store, clock: Clock
) -> None:
    scheduled = clocked_store.scheduled
    key = "consultation:7:reminder:P3D"
    scheduled.schedule(key, KIND, T0 + timedelta(days=1), {"chat": 501})
    moved = scheduled.schedule(key, KIND, T0 + timedelta(days=2), {"chat": 502})
    assert (moved.due_at, moved.target, moved.state) == (
        T0 + timedelta(days=2),
        {"chat": 502},
        ScheduledState.PENDING,
    )
    clock.advance(days=3)
    with clocked_store.transaction():
        claimed = scheduled.claim_due()
        assert claimed is not None and claimed.key == key
        scheduled.finish(claimed.id, ScheduledState.DONE)
    again = scheduled.schedule(key, KIND, T0 + timedelta(days=5), {"chat": 503})
    assert (again.state, again.due_at, again.target) == (
        ScheduledState.DONE,
        T0 + timedelta(days=2),
        {"chat": 502},
    )


def test_cancelling_removes_pending_work_by_key_or_by_key_prefix(clocked_store: Store) -> None:
    scheduled = clocked_store.scheduled
    for key in (
        "consultation:7:reminder:P14D",
        "consultation:7:reminder:P3D",
        "consultation:70:reminder:P3D",
        "consultation%:reminder:P3D",
    ):
        scheduled.schedule(key, KIND, T0 + timedelta(days=1), {"chat": 501})
    assert scheduled.cancel("consultation:7:reminder:P14D")
    assert not scheduled.cancel("consultation:7:reminder:P14D")
    assert scheduled.cancel_prefix("consultation:7:") == 1
    assert scheduled.cancel_prefix("consultation%") == 1  # a LIKE wildcard is taken literally
    assert [record.key for record in scheduled.with_prefix("consultation")] == [
        "consultation:70:reminder:P3D"
    ]


def test_only_due_pending_work_is_claimed_and_only_once(clocked_store: Store, clock: Clock) -> None:
    scheduled = clocked_store.scheduled
    scheduled.schedule("later", KIND, T0 + timedelta(hours=2), {})
    scheduled.schedule("soon", KIND, T0 + timedelta(hours=1), {})
    assert scheduled.claim_due() is None
    clock.advance(hours=1)
    first = scheduled.claim_due()
    assert first is not None and first.key == "soon" and first.state is ScheduledState.SENDING
    assert scheduled.claim_due() is None
    assert scheduled.next_due_at() == T0 + timedelta(hours=2)


# -- the loop ---------------------------------------------------------------------------------


def test_work_due_while_the_bot_was_down_is_done_once_at_start_within_its_lateness(
    clocked_store: Store, clock: Clock, config: AppConfig
) -> None:
    clocked_store.scheduled.schedule("r:1", KIND, T0 + timedelta(hours=1), {"chat": 501})
    clock.advance(hours=1 + 5)  # down from before its time until 5 h after it
    reminders = Reminders()
    scheduler = scheduler_for(clocked_store, config, reminders)
    assert scheduler.recover() == []
    assert scheduler.run_due() == 1
    assert scheduler.run_due() == 0
    assert reminders.done == ["r:1"]
    assert sent(clocked_store) == ["501"]
    assert state(clocked_store, "r:1") is ScheduledState.DONE


def test_work_later_than_its_lateness_is_skipped_with_a_log_line(
    clocked_store: Store, clock: Clock, config: AppConfig, caplog: pytest.LogCaptureFixture
) -> None:
    clocked_store.scheduled.schedule("r:1", KIND, T0 + timedelta(hours=1), {"chat": 501})
    clock.advance(hours=1 + 7)
    reminders = Reminders()
    with caplog.at_level(logging.INFO, logger="bot.scheduler"):
        assert scheduler_for(clocked_store, config, reminders).run_due() == 1
    assert reminders.done == [] and sent(clocked_store) == []
    assert state(clocked_store, "r:1") is ScheduledState.SKIPPED
    assert "scheduled_skipped id=1 kind=test.reminder reason=late" in caplog.text


@pytest.mark.backends(Backend.SQLITE)
def test_the_configured_lateness_of_a_kind_replaces_the_registered_one(
    tmp_path: Path, clocked_store: Store, clock: Clock
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[scheduler]\nlateness_hours = {{ "{KIND}" = 2 }}\n', encoding="utf-8")
    config = load_config(path, env={})
    clocked_store.scheduled.schedule("r:1", KIND, T0, {"chat": 501})
    clocked_store.scheduled.schedule("r:2", KIND, T0 + timedelta(hours=2), {"chat": 502})
    clock.advance(hours=3)  # within the registered 6 hours; r:1 beyond the configured 2
    scheduler_for(clocked_store, config, Reminders()).run_due()
    assert state(clocked_store, "r:1") is ScheduledState.SKIPPED
    assert state(clocked_store, "r:2") is ScheduledState.DONE


def test_work_its_handler_finds_no_longer_useful_is_skipped(
    clocked_store: Store, clock: Clock, config: AppConfig, caplog: pytest.LogCaptureFixture
) -> None:
    deadline = T0 + timedelta(hours=2)
    target = {"chat": 501, "useful_until": deadline.isoformat()}
    clocked_store.scheduled.schedule("r:1", KIND, T0 + timedelta(hours=1), target)
    clock.advance(hours=3)  # within its lateness, but after the deadline
    with caplog.at_level(logging.INFO, logger="bot.scheduler"):
        scheduler_for(clocked_store, config, Reminders()).run_due()
    record = clocked_store.scheduled.get("r:1")
    assert record is not None and record.state is ScheduledState.SKIPPED
    assert record.last_error == "after its deadline"
    assert sent(clocked_store) == []
    assert "reason=after its deadline" in caplog.text


def test_work_left_sending_by_a_crash_becomes_unknown_and_is_never_repeated(
    clocked_store: Store, clock: Clock, config: AppConfig, caplog: pytest.LogCaptureFixture
) -> None:
    clocked_store.scheduled.schedule("r:1", KIND, T0, {"chat": 501})
    clocked_store.scheduled.claim_due()  # committed as sending, then the process died
    reminders = Reminders()
    scheduler = scheduler_for(clocked_store, config, reminders)
    with caplog.at_level(logging.WARNING, logger="bot.scheduler"):
        assert [row.key for row in scheduler.recover()] == ["r:1"]
    clock.advance(minutes=1)
    assert scheduler.run_due() == 0
    assert reminders.done == [] and sent(clocked_store) == []
    assert state(clocked_store, "r:1") is ScheduledState.UNKNOWN
    assert clocked_store.scheduled.counts() == {ScheduledState.UNKNOWN: 1}
    assert "scheduled_unknown id=1 kind=test.reminder" in caplog.text


def test_a_failing_handler_is_retried_with_back_off_then_failed_with_its_error_class(
    clocked_store: Store, clock: Clock, config: AppConfig
) -> None:
    clocked_store.scheduled.schedule("r:1", KIND, T0, {"chat": 501})
    reminders = Reminders(fail=MAX_ATTEMPTS)
    scheduler = scheduler_for(clocked_store, config, reminders)
    for attempt in range(1, MAX_ATTEMPTS):
        assert scheduler.run_due() == 1
        record = clocked_store.scheduled.get("r:1")
        assert record is not None and record.state is ScheduledState.PENDING
        assert (record.attempts, record.last_error) == (attempt, "LookupError")
        assert record.due_at == clock.now + retry_pause(attempt)
        clock.advance(seconds=retry_pause(attempt).total_seconds() - 1)
        assert scheduler.run_due() == 0  # not before its pause is over
        clock.advance(seconds=1)
    assert scheduler.run_due() == 1
    record = clocked_store.scheduled.get("r:1")
    assert record is not None
    assert (record.state, record.last_error) == (ScheduledState.FAILED, "LookupError")
    assert clocked_store.scheduled.get("side:effect") is None  # its writes were undone
    assert sent(clocked_store) == []


def test_a_moved_deadline_moves_its_reminder_and_a_withdrawn_one_cancels_it(
    clocked_store: Store, clock: Clock, config: AppConfig
) -> None:
    scheduled = clocked_store.scheduled
    scheduled.schedule("consultation:7:reminder:P1D", KIND, T0 + timedelta(days=1), {"chat": 501})
    scheduled.schedule("consultation:8:reminder:P1D", KIND, T0 + timedelta(days=1), {"chat": 502})
    scheduled.schedule("consultation:7:reminder:P1D", KIND, T0 + timedelta(days=3), {"chat": 501})
    scheduled.cancel_prefix("consultation:8:")
    reminders = Reminders()
    scheduler = scheduler_for(clocked_store, config, reminders)
    clock.advance(days=2)
    assert scheduler.run_due() == 0
    clock.advance(days=1)
    assert scheduler.run_due() == 1
    assert reminders.done == ["consultation:7:reminder:P1D"]
    assert sent(clocked_store) == ["501"]


def test_two_processes_on_one_database_do_each_piece_of_work_once(
    database_url: str, clock: Clock, config: AppConfig
) -> None:
    keys = [f"consultation:{n}:reminder:P1D" for n in range(40)]
    stores = [Store(database_url, clock=clock) for _ in range(2)]
    try:
        for n, key in enumerate(keys):
            stores[0].scheduled.schedule(
                key, KIND, T0 + timedelta(minutes=n % 3), {"chat": 500 + n}
            )
        clock.advance(minutes=5)
        reminders = [Reminders(), Reminders()]
        schedulers = [scheduler_for(s, config, r) for s, r in zip(stores, reminders, strict=True)]
        start = threading.Barrier(2)
        taken = [0, 0]

        def serve(n: int) -> None:
            start.wait()
            taken[n] = schedulers[n].run_due()

        threads = [threading.Thread(target=serve, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        done = reminders[0].done + reminders[1].done
        assert sorted(done) == sorted(keys)  # each once, none twice
        assert sum(taken) == len(keys)
        assert sorted(sent(stores[0])) == sorted(str(500 + n) for n in range(40))
        assert stores[0].scheduled.counts() == {ScheduledState.DONE: len(keys)}
    finally:
        for store in stores:
            store.close()


def test_repeating_work_done_schedules_its_next_occurrence_on_the_wall_clock(
    database_url: str, config: AppConfig
) -> None:
    # The Sunday Paris's clocks go forward, 02:00 → 03:00: 02:30 does not exist that day.
    clock = Clock(datetime(2025, 3, 29, 12, tzinfo=UTC))
    with Store(database_url, clock=clock) as store:
        first = schedule_repeating(
            store.scheduled,
            "digest:3",
            KIND,
            "30 2 * * *",
            "Europe/Paris",
            {"chat": 501},
            after=clock.now,
        )
        assert first is not None and first.due_at == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
        clock.now = first.due_at
        reminders = Reminders()
        assert scheduler_for(store, config, reminders).run_due() == 1
        following = datetime(2025, 3, 31, 0, 30, tzinfo=UTC)  # 02:30 summer time
        assert [(row.key, row.state) for row in store.scheduled.with_prefix("digest:3@")] == [
            (first.key, ScheduledState.DONE),
            (occurrence_key("digest:3", following), ScheduledState.PENDING),
        ]


def test_the_loop_marks_interrupted_work_does_due_work_and_stops_cleanly(
    clocked_store: Store, clock: Clock, config: AppConfig
) -> None:
    clocked_store.scheduled.schedule("r:1", KIND, T0, {"chat": 501})
    clocked_store.scheduled.claim_due()
    clocked_store.scheduled.schedule("r:2", KIND, T0, {"chat": 502})
    reminders = Reminders()
    scheduler = scheduler_for(clocked_store, config, reminders)

    async def serve() -> None:
        running = asyncio.create_task(scheduler.run())
        for _ in range(200):
            if reminders.done:
                break
            await asyncio.sleep(0.02)
        clocked_store.scheduled.schedule("r:3", KIND, T0 + timedelta(minutes=1), {"chat": 503})
        clock.advance(minutes=1)
        scheduler.wake()
        for _ in range(200):
            if len(reminders.done) == 2:
                break
            await asyncio.sleep(0.02)
        scheduler.stop()
        await asyncio.wait_for(running, timeout=5)

    asyncio.run(serve())
    assert reminders.done == ["r:2", "r:3"]
    assert state(clocked_store, "r:1") is ScheduledState.UNKNOWN


# -- time ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "rule", "after", "expected"),
    [
        # Paris, spring forward 2025-03-30 02:00 → 03:00: 02:30 fires at 03:30 that day.
        (
            "Europe/Paris",
            "30 2 * * *",
            datetime(2025, 3, 29, 2, 0, tzinfo=UTC),
            ["2025-03-30T01:30", "2025-03-31T00:30"],
        ),
        # Paris, fall back 2025-10-26 03:00 → 02:00: 02:30 passes twice, fires once.
        (
            "Europe/Paris",
            "30 2 * * *",
            datetime(2025, 10, 25, 12, 0, tzinfo=UTC),
            ["2025-10-26T00:30", "2025-10-27T01:30"],
        ),
        # Santiago, spring forward 2025-09-07 00:00 → 01:00: 00:30 fires at 01:30 that day.
        (
            "America/Santiago",
            "30 0 * * *",
            datetime(2025, 9, 6, 12, 0, tzinfo=UTC),
            ["2025-09-07T04:30", "2025-09-08T03:30"],
        ),
        # Santiago, fall back 2025-04-06 00:00 → 2025-04-05 23:00: 23:30 fires once.
        (
            "America/Santiago",
            "30 23 * * *",
            datetime(2025, 4, 5, 12, 0, tzinfo=UTC),
            ["2025-04-06T02:30", "2025-04-07T03:30"],
        ),
    ],
)
def test_a_daily_time_fires_once_a_day_across_daylight_saving_changes(
    zone: str, rule: str, after: datetime, expected: list[str]
) -> None:
    times = []
    for _ in expected:
        after = next_time(rule, zone, after) or pytest.fail("no next time")
        times.append(f"{after:%Y-%m-%dT%H:%M}")
    assert times == expected


def test_the_next_time_is_strictly_after_the_given_one() -> None:
    nine = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    assert next_time("0 9 * * *", "UTC", nine) == nine + timedelta(days=1)
    # Within the repeated hour, past the first pass of 02:30: the next day's.
    during = datetime(2025, 10, 26, 1, 10, tzinfo=UTC)
    assert next_time("30 2 * * *", "Europe/Paris", during) == datetime(
        2025, 10, 27, 1, 30, tzinfo=UTC
    )


def test_a_kind_is_registered_once_with_a_lateness_not_below_zero() -> None:
    registry = Registry()
    registry.scheduled(KIND, Reminders(), lateness=LATENESS)
    with pytest.raises(ValueError, match="taken"):
        registry.scheduled(KIND, Reminders(), lateness=LATENESS)
    with pytest.raises(ValueError, match="negative"):
        registry.scheduled("other", Reminders(), lateness=timedelta(seconds=-1))


def test_the_scheduler_section_of_the_configuration_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[scheduler]\npoll_seconds = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert "scheduler.poll_seconds" in info.value.line
    assert "must be from 1 to 3600 seconds (got 0); fix: set poll_seconds = 30" in info.value.line
    path.write_text('[scheduler]\nlateness_hours = { "a.kind" = -1 }\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert "gives a.kind a lateness from 0 to 8760 hours (got -1)" in info.value.line
    path.write_text("[scheduler]\npoll_second = 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="poll_seconds"):
        load_config(path, env={})


async def test_health_tells_network_admins_of_interrupted_and_failed_work(
    tmp_path: Path, database_url: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('data_dir = "data"\nadmins = ["console:root"]\n', encoding="utf-8")
    config = load_config(path, env={"CAUCUS_DATABASE_URL": database_url})
    admin = ConsoleChat(config, "root")
    store = admin.store
    try:
        answer = await admin.send("/health")
        assert said("health.header") in answer
        assert first_line("health.scheduled_trouble") not in answer
        for key in ("r:1", "r:2", "r:3"):
            store.scheduled.schedule(key, KIND, T0, {"chat": 501})
        store.scheduled.claim_due()
        failed = store.scheduled.claim_due()
        assert failed is not None
        store.scheduled.finish(failed.id, ScheduledState.FAILED, "LookupError")
        store.scheduled.claim_due()
        scheduler_for(store, config, Reminders()).recover()
        answer = await admin.send("/health")
    finally:
        await admin.close()
    assert (
        said(
            "health.scheduled_trouble",
            unknown=Message.counted("health.scheduled_unknown", 2),
            failed=Message.counted("health.scheduled_failed", 1),
        )
        in answer
    )


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(make_token()) as running:
        yield running


@pytest.mark.backends(Backend.SQLITE)
async def test_the_running_bot_marks_interrupted_work_and_sends_due_work_on_telegram(
    tmp_path: Path, database_url: str, emulator: BotApiEmulator
) -> None:
    config = telegram_config(tmp_path, database_url, emulator)
    ana = USER_IDS["ana"]
    emulator.add_user(ana, "Ana", language_code="en")
    services = Services(config, limiters={Platform.TELEGRAM: fast_limiter()})
    reminders = Reminders()
    services.registry.scheduled(KIND, reminders, lateness=LATENESS)
    scheduled = services.store.scheduled
    now = services.store.now()
    scheduled.schedule("r:interrupted", KIND, now - timedelta(minutes=5), {"chat": ana})
    scheduled.claim_due()  # left sending by a process killed mid-work
    scheduled.schedule("r:due", KIND, now - timedelta(minutes=1), {"chat": ana})
    wording = CATALOGS.renderer("en", Platform.TELEGRAM).text(Message.of("router.slow_down"))
    started = False
    try:
        await services.start()
        started = True
        for _ in range(500):
            if any(wording[:40] in (m.plain_text or "") for m in emulator.sent(ana)):
                break
            await asyncio.sleep(0.02)
        scheduled.schedule("r:next", KIND, services.store.now(), {"chat": ana})
        services.scheduler.wake()
        for _ in range(500):
            if len(emulator.sent(ana)) == 2:
                break
            await asyncio.sleep(0.02)
    finally:
        await services.stop()
    assert started and reminders.done == ["r:due", "r:next"]
    assert len(emulator.sent(ana)) == 2
    with Store(database_url) as store:
        assert store.scheduled.counts() == {ScheduledState.UNKNOWN: 1, ScheduledState.DONE: 2}


async def test_after_a_kill_9_caucus_run_marks_interrupted_work_and_never_repeats_it(
    tmp_path: Path, sqlite_url: str, emulator: BotApiEmulator
) -> None:
    # No capability registers a kind yet, so the work is left as a killed process would
    # leave it (sending); rows whose kind nothing registered fail at once.
    ana = USER_IDS["ana"]
    emulator.add_user(ana, "Ana")
    config = tmp_path / "config.toml"
    config.write_text('data_dir = "data"\n' + telegram_section(emulator, "polling"), "utf-8")
    token = {"CAUCUS_TELEGRAM_TOKEN": emulator.token}
    with Store(sqlite_url) as store:
        store.upgrade()
        past = store.now() - timedelta(minutes=5)
        store.scheduled.schedule("r:left", KIND, past, {"chat": ana})
        store.scheduled.claim_due()

        for run in (1, 2):
            # Each run meets a row of a kind nothing registered: its failing shows the
            # scheduler of that process has looked at the table.
            store.scheduled.schedule(f"r:nobody:{run}", "nobody.registered", past, {})
            bot = BotProcess(config, sqlite_url, secrets=token)
            try:
                emulator.send_text(ana, "/whoami")
                await emulator.wait_for(lambda n=run: len(emulator.sent(ana)) >= n, timeout=30)
                await emulator.wait_for(
                    lambda n=run: state(store, f"r:nobody:{n}") is ScheduledState.FAILED,
                    timeout=10,
                )
            finally:
                bot.kill_hard()
            assert state(store, "r:left") is ScheduledState.UNKNOWN
        record = store.scheduled.get("r:nobody:1")
        assert record is not None and (record.attempts, record.last_error) == (
            0,
            "unregistered kind",
        )
    assert len(emulator.sent(ana)) == 2  # the two answers to /whoami, nothing else


@pytest.fixture(autouse=True)
def _no_stray_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    assert not [t for t in set(threading.enumerate()) - before if t.name.startswith("scheduler")]
