"""Relay benchmark: the bridge against a bare baseline, Telegram <-> Matrix, in one run.

    cd /work/main && .venv/bin/python bench/relay.py [--messages N]

Everything runs on loopback, in temporary directories removed afterwards: the Telegram Bot
API emulator (tests/harness/telegram_emulator.py, in this process), a real Synapse (a
subprocess, tests/harness/synapse_server.py), SQLite for the bridge. One Telegram user posts
in a group and one Matrix member posts in an unencrypted room; N messages (default 300) go
each way.

Two systems relay them, one after the other, against the same emulator and Synapse:

* **baseline**: the least code that forwards with the same two libraries: a
  python-telegram-bot ``Application`` long-polling ``getUpdates`` whose handler calls
  matrix-nio's ``AsyncClient.room_send``, and a nio sync loop whose callback calls PTB's
  ``bot.send_message``. No database, no outbox, no formatting.
* **bridge**: the bot itself, ``bot.app.Services`` with one working group linking the group
  and the room: durable inbox, router, bridge formatting, durable outbox.

Both directions are measured twice per system:

* **burst**: all N messages are injected as fast as the injector can (a Telegram update is
  queued in the emulator at once; Matrix messages go out over a few concurrent
  ``room_send`` calls); msg/s = N / (last arrival - first injection). Latency here includes
  waiting behind the rest of the burst.
* **one at a time**: each message is injected once the previous one has arrived; its
  latency is what relaying one message costs.

Latency runs from injecting a message to its arrival: for Telegram -> Matrix until the
member's sync returns the relayed event, for Matrix -> Telegram until the emulator accepts the
bot's ``sendMessage`` (its own timestamp). The emulator, both clients and the system under
test share one event loop and one process, so their CPU time is shared too; Synapse runs in
its own process. The bridge's send limiters are lifted (as in the tests' ``fast_limiter``):
the figures measure the bridge, not Telegram's published pacing (20 messages a minute into a
group), which would otherwise bound Matrix -> Telegram to a third of a message per second.
Peak RSS is this process's (resource.getrusage), after the baseline and after the bridge.
"""

# ruff: noqa: E402  (the test harness is imported once the repository root is on the path)

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import re
import resource
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]  # for `python bench/relay.py`: bot, tests.harness

from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    MatrixRoom,
    RoomMessagesResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.app import Services
from bot.config import load_config
from bot.types import Platform
from tests.harness.matrix_harness import (
    MatrixMember,
    fast_limiter,
    matrix_section,
    unique_localpart,
)
from tests.harness.synapse_server import RegisteredUser, SynapseServer, start_synapse
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import make_token, telegram_section

USER_ID = 1004
USER_NAME = "Ana"
BRIDGE_CHAT = -1001001
BASELINE_CHAT = -1001002

SYNC_TIMEOUT_MS = 30_000
SYNC_FILTER: dict[str, Any] = {"room": {"timeline": {"limit": 1000}}}
"""A sync must not cut a burst short (Synapse's default timeline is 10 events)."""
MATRIX_SENDERS = 8
"""Concurrent ``room_send`` calls injecting a Matrix burst."""
TOKEN = re.compile(r"bench-[0-9a-f]{8}-\d+")
FILLER = "the quick brown fox jumps over the lazy dog"
BURST, ONE_AT_A_TIME = "burst", "one at a time"
MODES = (BURST, ONE_AT_A_TIME)

log = logging.getLogger("bench")
App = Application[Any, Any, Any, Any, Any, Any]


# -- arrivals --------------------------------------------------------------------------------


class Arrivals:
    """When each benchmark token was first seen on a receiving side (time.monotonic)."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self._changed = asyncio.Event()

    def note(self, text: str, at: float) -> bool:
        """Note the tokens in ``text``; whether it had any."""
        found = False
        for match in TOKEN.finditer(text):
            self.seen.setdefault(match.group(0), at)
            found = True
        if found:
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()
        return found

    async def wait(self, tokens: Iterable[str], deadline: float) -> bool:
        """True once every token has arrived; False at ``deadline``."""
        wanted = list(tokens)
        while True:
            changed = self._changed
            if all(token in self.seen for token in wanted):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)


class TelegramWatcher:
    """Notes what the bots got accepted in the emulator's groups, at the emulator's own
    acceptance time (its clock is time.monotonic), so polling adds nothing to latency."""

    def __init__(self, emulator: BotApiEmulator, arrivals: Arrivals) -> None:
        self.emulator = emulator
        self.arrivals = arrivals
        self._read = 0

    async def run(self) -> None:
        while True:
            sent = self.emulator.all_sent
            for message in sent[self._read :]:
                if message.chat_id < 0:
                    self.arrivals.note(message.plain_text, message.accepted_at)
            self._read = len(sent)
            await asyncio.sleep(0.002)


class MatrixWatcher:
    """The member's client, syncing without pause: a long-poll returns as soon as an event
    arrives, and each event of another sender is noted at the time its sync returned."""

    def __init__(self, client: AsyncClient, arrivals: Arrivals) -> None:
        self.client = client
        self.arrivals = arrivals
        self.gap_events = 0
        """Relayed messages a sync skipped (timeline ``limited``), fetched with /messages."""

    async def run(self) -> None:
        while True:
            since = self.client.next_batch
            response = await self.client.sync(timeout=SYNC_TIMEOUT_MS, sync_filter=SYNC_FILTER)
            at = time.monotonic()
            if not isinstance(response, SyncResponse):
                log.warning("member sync failed: %s", response)
                await asyncio.sleep(0.2)
                continue
            for room_id, joined in response.rooms.join.items():
                for event in joined.timeline.events:
                    self._note(event, at)
                if joined.timeline.limited and since:
                    for event in await self._gap(room_id, joined.timeline.prev_batch, since):
                        self.gap_events += self._note(event, at)

    def _note(self, event: Any, at: float) -> bool:
        if event.sender == self.client.user_id:
            return False
        body = (event.source.get("content") or {}).get("body")
        return isinstance(body, str) and self.arrivals.note(body, at)

    async def _gap(self, room_id: str, start: str | None, since: str) -> list[Any]:
        events: list[Any] = []
        token = start
        while token:
            page = await self.client.room_messages(room_id, start=token, end=since, limit=500)
            if not isinstance(page, RoomMessagesResponse) or not page.chunk:
                break
            events.extend(page.chunk)
            if page.end in (None, token):
                break
            token = page.end
        return events


# -- the baseline ----------------------------------------------------------------------------


class Baseline:
    """The least code that relays both ways with python-telegram-bot and matrix-nio."""

    def __init__(
        self, emulator: BotApiEmulator, server: SynapseServer, account: RegisteredUser, room_id: str
    ) -> None:
        self.room_id = room_id
        self.app: App = (
            ApplicationBuilder()
            .token(emulator.token)
            .base_url(emulator.base_url)
            .base_file_url(emulator.base_file_url)
            .build()
        )
        self.app.add_handler(
            MessageHandler(filters.Chat(BASELINE_CHAT) & filters.TEXT, self._to_matrix)
        )
        self.matrix = AsyncClient(
            server.base_url,
            account.user_id,
            device_id=account.device_id,
            config=AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False),
        )
        self.matrix.restore_login(account.user_id, account.device_id, account.access_token)
        self._syncing: asyncio.Task[Any] | None = None

    async def _to_matrix(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.from_user is not None
        content = {"msgtype": "m.text", "body": f"{message.from_user.first_name}: {message.text}"}
        await self.matrix.room_send(self.room_id, "m.room.message", content)

    async def _to_telegram(self, room: MatrixRoom, event: RoomMessageText) -> None:
        if room.room_id == self.room_id and event.sender != self.matrix.user_id:
            text = f"{room.user_name(event.sender)}: {event.body}"
            await self.app.bot.send_message(BASELINE_CHAT, text)

    async def start(self) -> None:
        joined = await self.matrix.join(self.room_id)
        if not isinstance(joined, JoinResponse):
            raise RuntimeError(f"the baseline bot could not join its room: {joined}")
        await self.matrix.sync(timeout=0, full_state=True, sync_filter=SYNC_FILTER)  # history
        self.matrix.add_event_callback(self._to_telegram, RoomMessageText)
        self._syncing = asyncio.create_task(
            self.matrix.sync_forever(timeout=SYNC_TIMEOUT_MS, sync_filter=SYNC_FILTER)
        )
        await self.app.initialize()
        await self.app.start()
        assert self.app.updater is not None
        await self.app.updater.start_polling(poll_interval=0.0, timeout=10)

    async def stop(self) -> None:
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
        if self._syncing is not None:
            self._syncing.cancel()
            await asyncio.gather(self._syncing, return_exceptions=True)
        await self.matrix.close()


# -- the bridge ------------------------------------------------------------------------------


def bridge_config_text(
    emulator: BotApiEmulator, server: SynapseServer, account: RegisteredUser, room_id: str
) -> str:
    return (
        'data_dir = "data"\n\n'
        "[[working_groups]]\n"
        'slug = "bench"\n'
        'name = "Benchmark"\n'
        'languages = ["en"]\n'
        f"telegram_chats = [{BRIDGE_CHAT}]\n"
        f'matrix_rooms = ["{room_id}"]\n\n'
        + telegram_section(emulator, "polling")
        + "\n"
        + matrix_section(server, account)
    )


def bridge_services(
    folder: Path,
    emulator: BotApiEmulator,
    server: SynapseServer,
    account: RegisteredUser,
    room_id: str,
    warnings: list[str],
) -> Services:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(bridge_config_text(emulator, server, account, room_id), encoding="utf-8")
    config = load_config(
        path,
        env={
            "CAUCUS_DATABASE_URL": f"sqlite:///{folder / 'caucus.sqlite3'}",
            "CAUCUS_TELEGRAM_TOKEN": emulator.token,
            "CAUCUS_MATRIX_ACCESS_TOKEN": account.access_token,
            "CAUCUS_MATRIX_PICKLE_KEY": secrets.token_urlsafe(32),
        },
    )
    return Services(
        config,
        warn=warnings.append,
        limiters={Platform.TELEGRAM: fast_limiter(), Platform.MATRIX: fast_limiter()},
    )


# -- measuring -------------------------------------------------------------------------------


@dataclass
class Phase:
    system: str
    direction: str
    mode: str
    tokens: list[str]
    sent: dict[str, float] = field(default_factory=dict)
    arrived: dict[str, float] = field(default_factory=dict)
    injecting_seconds: float = 0.0

    @property
    def latencies_ms(self) -> list[float]:
        return sorted(
            (self.arrived[token] - self.sent[token]) * 1000
            for token in self.tokens
            if token in self.arrived and token in self.sent
        )

    @property
    def lost(self) -> int:
        return sum(token not in self.arrived for token in self.tokens)

    @property
    def per_second(self) -> float:
        if not self.arrived or not self.sent:
            return 0.0
        span = max(self.arrived.values()) - min(self.sent.values())
        return len(self.arrived) / span if span > 0 else math.inf

    def percentile(self, p: float) -> float:
        values = self.latencies_ms
        if not values:
            return math.nan
        return values[max(1, math.ceil(p / 100 * len(values))) - 1]


Inject = Callable[[str], Awaitable[None]]


@dataclass
class Direction:
    name: str
    inject: Inject
    concurrency: int


class Bench:
    def __init__(self, messages: int, arrivals: Arrivals) -> None:
        self.messages = messages
        self.arrivals = arrivals
        self.phases: dict[tuple[str, str, str], Phase] = {}

    def tokens(self) -> list[str]:
        nonce = secrets.token_hex(4)
        return [f"bench-{nonce}-{number}" for number in range(self.messages)]

    async def warm_up(self, system: str, direction: Direction, tries: int = 6) -> None:
        """One message through, so that joins, connections and caches are in place."""
        for _ in range(tries):
            token = f"bench-{secrets.token_hex(4)}-0"
            await direction.inject(token)
            if await self.arrivals.wait([token], time.monotonic() + 10):
                return
        raise RuntimeError(f"{system} {direction.name}: a warm-up message never arrived")

    async def burst(self, system: str, direction: Direction) -> Phase:
        phase = Phase(system, direction.name, BURST, self.tokens())
        pending = iter(phase.tokens)

        async def injector() -> None:
            for token in pending:
                phase.sent[token] = time.monotonic()
                await direction.inject(token)

        began = time.monotonic()
        await asyncio.gather(*(injector() for _ in range(direction.concurrency)))
        phase.injecting_seconds = time.monotonic() - began
        await self.arrivals.wait(phase.tokens, time.monotonic() + 60 + self.messages * 0.5)
        return self._done(phase)

    async def one_at_a_time(self, system: str, direction: Direction) -> Phase:
        phase = Phase(system, direction.name, ONE_AT_A_TIME, self.tokens())
        for token in phase.tokens:
            phase.sent[token] = time.monotonic()
            await direction.inject(token)
            if not await self.arrivals.wait([token], time.monotonic() + 30):
                break
        return self._done(phase)

    def _done(self, phase: Phase) -> Phase:
        phase.arrived = {t: self.arrivals.seen[t] for t in phase.tokens if t in self.arrivals.seen}
        self.phases[(phase.system, phase.direction, phase.mode)] = phase
        injected = ""
        if phase.mode == BURST:
            seconds = phase.injecting_seconds
            injected = "  (injected at once)"
            if seconds >= 0.01:
                injected = f"  (injected in {seconds:.2f} s)"
        print(
            f"  {phase.system:8} {phase.direction:17} {phase.mode:13} "
            f"{phase.per_second:8.1f} msg/s  p50 {phase.percentile(50):8.1f} ms  "
            f"p99 {phase.percentile(99):8.1f} ms  lost {phase.lost}{injected}",
            flush=True,
        )
        return phase

    async def run_system(self, system: str, directions: list[Direction]) -> None:
        for direction in directions:
            await self.warm_up(system, direction)
            await self.burst(system, direction)
            await self.one_at_a_time(system, direction)


def text_for(token: str) -> str:
    return f"{token} {FILLER}"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def ratio(bridge: float, baseline: float) -> str:
    if not baseline or math.isnan(bridge) or math.isnan(baseline):
        return "-"
    return f"{bridge / baseline:.2f}"


def _cells(phase: Phase | None) -> tuple[str, str]:
    """A phase's msg/s and p50/p99 cells."""
    if phase is None:
        return "n/a", "n/a"
    lost = f" ({phase.lost} lost)" if phase.lost else ""
    return (
        f"{phase.per_second:.1f}{lost}",
        f"{phase.percentile(50):.1f}/{phase.percentile(99):.1f}",
    )


def _row(cells: list[str], widths: list[int]) -> str:
    """Two left-aligned label columns, then right-aligned figures."""
    return " ".join(
        f"{cell:<{width}}" if index < 2 else f"{cell:>{width}}"
        for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
    )


def print_table(bench: Bench, directions: list[str]) -> None:
    columns = (
        ("direction", 18),
        ("mode", 13),
        ("bridge msg/s", 12),
        ("baseline msg/s", 14),
        ("bridge p50/p99 ms", 18),
        ("baseline p50/p99 ms", 19),
        ("msg/s ratio", 11),
        ("p50 ratio", 9),
        ("p50 added ms", 12),
    )
    widths = [width for _, width in columns]
    header = _row([name for name, _ in columns], widths)
    print()
    print(header)
    print("-" * len(header))
    for direction in directions:
        for mode in MODES:
            bridge = bench.phases.get(("bridge", direction, mode))
            baseline = bench.phases.get(("baseline", direction, mode))
            b_rate, b_latency = _cells(bridge)
            r_rate, r_latency = _cells(baseline)
            rate_ratio = p50_ratio = added = "-"
            if bridge is not None and baseline is not None:
                rate_ratio = ratio(bridge.per_second, baseline.per_second)
                b_p50, r_p50 = bridge.percentile(50), baseline.percentile(50)
                p50_ratio = ratio(b_p50, r_p50)
                added = f"{b_p50 - r_p50:+.1f}"
            cells = [direction, mode, b_rate, r_rate, b_latency, r_latency]
            print(_row([*cells, rate_ratio, p50_ratio, added], widths))
    print(
        "ratio = bridge / baseline (msg/s below 1, p50 above 1: what the bridge costs).\n"
        "Send limiters lifted (fast limiter): this measures the bridge, not Telegram's pacing."
    )


# -- the run ---------------------------------------------------------------------------------


async def main(messages: int, tmp_root: str | None) -> int:
    with tempfile.TemporaryDirectory(prefix="caucus-bench-", dir=tmp_root) as tmp:
        folder = Path(tmp)
        emulator = BotApiEmulator(make_token())
        await emulator.start()
        server: SynapseServer | None = None
        tasks: list[asyncio.Task[None]] = []
        try:
            emulator.add_user(USER_ID, USER_NAME)
            emulator.add_group(BRIDGE_CHAT, "Bench: bridge")
            emulator.add_group(BASELINE_CHAT, "Bench: baseline")
            began = time.monotonic()
            server = await start_synapse(folder / "synapse")
            print(f"Synapse up in {time.monotonic() - began:.1f} s at {server.base_url}")
            return await measure(messages, folder, emulator, server, tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if server is not None:
                await server.stop()
            await emulator.stop()


async def register_bot(server: SynapseServer, name: str) -> RegisteredUser:
    account = await server.register(unique_localpart(name), admin=True, displayname=name)
    await server.lift_rate_limits(account.user_id, account.access_token)
    return account


async def make_room(member: MatrixMember, bot_id: str, name: str) -> str:
    response = await member.client.room_create(name=name, invite=[bot_id])
    room_id = getattr(response, "room_id", None)
    if not isinstance(room_id, str):
        raise RuntimeError(f"could not create the room {name!r}: {response}")
    return room_id


async def measure(
    messages: int,
    folder: Path,
    emulator: BotApiEmulator,
    server: SynapseServer,
    tasks: list[asyncio.Task[None]],
) -> int:
    bridge_bot = await register_bot(server, "caucus")
    baseline_bot = await register_bot(server, "baseline")
    member = await MatrixMember.create(server, "Bea")
    try:
        bridge_room = await make_room(member, bridge_bot.user_id, "Bench: bridge")
        baseline_room = await make_room(member, baseline_bot.user_id, "Bench: baseline")
        arrivals = Arrivals()
        watcher = MatrixWatcher(member.client, arrivals)
        tasks += [
            asyncio.create_task(watcher.run()),
            asyncio.create_task(TelegramWatcher(emulator, arrivals).run()),
        ]
        bench = Bench(messages, arrivals)
        print(f"Relaying {messages} messages each way; per phase: msg/s, latency, lost")

        def directions(chat_id: int, room_id: str) -> list[Direction]:
            async def from_telegram(token: str) -> None:
                emulator.send_text(USER_ID, text_for(token), chat_id=chat_id)

            async def from_matrix(token: str) -> None:
                content = {"msgtype": "m.text", "body": text_for(token)}
                response = await member.client.room_send(room_id, "m.room.message", content)
                if not isinstance(response, RoomSendResponse):
                    raise RuntimeError(f"the member could not send: {response}")

            return [
                Direction("telegram -> matrix", from_telegram, 1),
                Direction("matrix -> telegram", from_matrix, MATRIX_SENDERS),
            ]

        baseline = Baseline(emulator, server, baseline_bot, baseline_room)
        await baseline.start()
        try:
            await bench.run_system("baseline", directions(BASELINE_CHAT, baseline_room))
        finally:
            await baseline.stop()
        rss_baseline = peak_rss_mb()

        warnings: list[str] = []
        failure = await run_bridge(
            bench, folder / "bridge", emulator, server, bridge_bot, bridge_room, member,
            warnings, directions(BRIDGE_CHAT, bridge_room),
        )  # fmt: skip
        rss_bridge = peak_rss_mb()

        print_table(bench, ["telegram -> matrix", "matrix -> telegram"])
        print(
            f"Peak RSS of this process (emulator, clients and the system under test): "
            f"{rss_baseline:.0f} MB after the baseline, {rss_bridge:.0f} MB after the bridge."
        )
        if watcher.gap_events:
            print(f"({watcher.gap_events} relayed messages came through /messages, not sync)")
        for line in warnings:
            print(f"bridge warning: {line}")
        if failure:
            print(f"BRIDGE FAILED: {failure}")
            return 1
        return 0
    finally:
        await member.close()


async def run_bridge(
    bench: Bench,
    folder: Path,
    emulator: BotApiEmulator,
    server: SynapseServer,
    account: RegisteredUser,
    room_id: str,
    member: MatrixMember,
    warnings: list[str],
    directions: list[Direction],
) -> str | None:
    """Measure the bridge; a description of what went wrong, if it did."""
    try:
        services = bridge_services(folder, emulator, server, account, room_id, warnings)
    except Exception as error:
        log.exception("bridge setup failed")
        return f"setting up Services failed: {type(error).__name__}: {error}"
    try:
        await services.start()
    except Exception as error:
        log.exception("bridge start failed")
        return f"Services.start() failed: {type(error).__name__}: {error}"
    try:
        deadline = time.monotonic() + 30
        while not member.has_joined(room_id, account.user_id):
            if time.monotonic() > deadline:
                return "the bridge bot did not join its room within 30 s"
            await asyncio.sleep(0.05)
        await bench.run_system("bridge", directions)
    except Exception as error:
        log.exception("bridge run failed")
        return f"{type(error).__name__}: {error}"
    finally:
        await services.stop()
    return None


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--messages", type=int, default=300, help="messages each way, per phase (default 300)"
    )
    parser.add_argument(
        "--tmp-dir",
        default=None,
        help="where the temporary directories go (Synapse's and the bridge's SQLite); "
        "default: the system's temporary directory",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_arguments()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    sys.exit(asyncio.run(main(max(1, arguments.messages), arguments.tmp_dir)))
