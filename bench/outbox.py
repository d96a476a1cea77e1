"""Outbox benchmark: answers under a flood's backlog, and the cost of one outbox pass.

    cd /work/main && .venv/bin/python bench/outbox.py [--flood 8000] [--backend both]

Two measurements, each against a baseline taken in the same run:

* **answers**: the bot (``bot.app.Services`` on SQLite, Telegram's published send limits)
  on the Bot API emulator; 10 members each send ``/help`` in their private chat, one after
  another, 10 times (100 answers). First with an idle bot (the baseline), then with the
  backlog one member's flood leaves: ``--flood`` relayed copies (default 8,000) waiting in
  the outbox for one group, which Telegram lets the bot fill at 20 messages a minute. An
  answer's time runs from the update's arrival at the emulator to the emulator accepting
  the answer. Printed: p50 and p99 of each, and the flood's p99 minus the idle p99.
  A third run (``--member-flood``, default 8,000) starts from an idle bot whose group is
  bridged to a second group: one member sends that many messages into the first group as
  Telegram updates, and the members ask while the bot takes them in, relays them (each a
  copy to the second group) and works off the copies. With ``--flood-rate 0`` the whole
  flood is in Telegram's queue before anyone asks: since Telegram hands a bot its updates in
  order, the first answers then wait for the bot to fetch and store the whole flood. With a
  rate (messages a second, default 200, ten times what Telegram lets one account send into
  a group for long) the flood keeps coming while the members ask.
* **pass**: one outbox pass (``OutboxWorker._pick_up``: what the worker does each time it
  is woken) with 10, 100, 1,000 and 10,000 sealed messages pending over 10 rooms, whose
  sends are all under way (a sender that never answers), so a pass only looks for new
  work. Median and max of 20 passes, on SQLite and PostgreSQL; the ratio is against the
  10-message pass of the same backend.

It is a benchmark, not a test: it prints figures and fails only when an answer never comes.
"""

# ruff: noqa: E402  (the test harness is imported once the repository root is on the path)

from __future__ import annotations

import argparse
import asyncio
import math
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]  # for `python bench/outbox.py`: bot, tests.harness

from bot.outbox import OutboxWorker
from bot.outgoing import BotMessage, OutgoingItem
from bot.outgoing_json import to_json
from bot.ratelimit import SendLimiter, Window, telegram_limiter
from bot.types import Platform
from storage import Store
from storage.sealing import Sealer, generate_key
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import TelegramBot, make_token, telegram_config

TG = Platform.TELEGRAM
FLOODER = 2999
FLOOD_SOURCE = -100_901
MEMBERS = [3000 + n for n in range(10)]
COMMANDS_EACH = 10
FLOOD_GROUP = -100_900
BACKLOGS = (10, 100, 1_000, 10_000)
PASS_ROOMS = 10
PASSES = 20


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


# -- answers ---------------------------------------------------------------------------------


async def answer_times(emulator: BotApiEmulator, member: int) -> list[float]:
    times: list[float] = []
    for _ in range(COMMANDS_EACH):
        before = len(emulator.sent(member))
        asked = emulator.clock()
        emulator.send_text(member, "/help")
        await emulator.wait_for(lambda n=before: len(emulator.sent(member)) > n, timeout=600)
        times.append(emulator.sent(member)[before].accepted_at - asked)
    return times


def bridged_group() -> str:
    return f"""
[[working_groups]]
slug = "flooded"
name = "Flooded"
languages = ["en"]
telegram_chats = [{FLOOD_SOURCE}, {FLOOD_GROUP}]
"""


async def send_flood(emulator: BotApiEmulator, flood: int, rate: float) -> None:
    """One member's ``flood`` messages into the group, ``rate`` a second (0: all at once)."""
    tick = 0.05
    each = flood if rate <= 0 else max(1, round(rate * tick))
    for start in range(0, flood, each):
        for n in range(start, min(flood, start + each)):
            emulator.send_text(FLOODER, f"flood {n} " + "x" * 80, chat_id=FLOOD_SOURCE)
        if rate > 0:
            await asyncio.sleep(tick)


async def measure_member_flood(flood: int, rate: float, tmp: Path) -> list[float]:
    """The members' answers while one member's ``flood`` group messages come in."""
    async with BotApiEmulator(make_token()) as emulator:
        for member in MEMBERS:
            emulator.add_user(member, f"Member {member}")
        emulator.add_user(FLOODER, "Flooder")
        emulator.add_group(FLOOD_SOURCE, "Flooding group")
        emulator.add_group(FLOOD_GROUP, "Flooded group")
        folder = tmp / "member-flood"
        folder.mkdir()
        config = telegram_config(
            folder, f"sqlite:///{folder}/caucus.db", emulator, extra=bridged_group()
        )
        bot = TelegramBot(config, limiter=telegram_limiter)
        await bot.start()
        try:
            flooding = asyncio.create_task(send_flood(emulator, flood, rate))
            await emulator.wait_for(lambda: emulator.sent(FLOOD_GROUP), timeout=600)
            started = time.monotonic()
            answers = await asyncio.gather(*(answer_times(emulator, member) for member in MEMBERS))
            print(
                f"  answers, member flood: {time.monotonic() - started:.1f} s"
                f" ({'still flooding' if not flooding.done() else 'flood all sent'})",
                flush=True,
            )
            flooding.cancel()
            return [seconds for member in answers for seconds in member]
        finally:
            await bot.stop()


async def measure_answers(
    flood: int, tmp: Path, member_flood: int, rate: float
) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {}
    if member_flood:
        pace = "at once" if rate <= 0 else f"{rate:g}/s"
        label = f"{member_flood:,} from a member, {pace}"
        results[label] = await measure_member_flood(member_flood, rate, tmp)
    for label, backlog in (("idle", 0), (f"{flood:,} waiting", flood)):
        async with BotApiEmulator(make_token()) as emulator:
            for member in MEMBERS:
                emulator.add_user(member, f"Member {member}")
            emulator.add_group(FLOOD_GROUP, "Flooded group")
            folder = tmp / label.split()[0]
            folder.mkdir()
            config = telegram_config(folder, f"sqlite:///{folder}/caucus.db", emulator)
            bot = TelegramBot(config, limiter=telegram_limiter)
            await bot.start()
            try:
                copies = [
                    (TG, str(FLOOD_GROUP), to_json(BotMessage(f"flood {n} " + "x" * 80)), 0)
                    for n in range(backlog)
                ]
                for start in range(0, len(copies), 1000):
                    bot.store.bridge.enqueue_copies(None, copies[start : start + 1000])
                assert bot.service is not None
                bot.service.outboxes[TG].wake()
                if backlog:
                    await emulator.wait_for(lambda: emulator.sent(FLOOD_GROUP), timeout=60)
                started = time.monotonic()
                answers = await asyncio.gather(
                    *(answer_times(emulator, member) for member in MEMBERS)
                )
                results[label] = [seconds for member in answers for seconds in member]
                print(f"  answers, {label}: {time.monotonic() - started:.1f} s", flush=True)
            finally:
                await bot.stop()
    return results


# -- one pass --------------------------------------------------------------------------------


class NeverAnswers:
    """A sender whose sends stay under way: a pass then only looks for new work."""

    platform = TG

    def __init__(self) -> None:
        self._never = asyncio.Event()

    def room_kind(self, room_id: str) -> str:
        return "private"

    async def deliver(self, room_id: str, payload: OutgoingItem, key: str) -> str | None:
        await self._never.wait()
        return None


async def pass_times(store: Store) -> list[float]:
    worker: OutboxWorker[OutgoingItem] = OutboxWorker(
        store,
        NeverAnswers(),
        SendLimiter((Window(1000, 0.001),), {}),
        render=lambda item: item,
    )
    await worker._pick_up()
    await asyncio.sleep(0.5)  # every room's task reads its head and starts its send
    times: list[float] = []
    for _ in range(PASSES):
        started = time.perf_counter()
        await worker._pick_up()
        times.append(time.perf_counter() - started)
    worker.stop()
    return times


def fill(store: Store, pending: int) -> None:
    items: list[tuple[Platform, str, dict[str, Any]]] = [
        (TG, str(4000 + n % PASS_ROOMS), to_json(BotMessage(f"message {n} " + "y" * 200)))
        for n in range(pending)
    ]
    for start in range(0, len(items), 1000):
        store.outbox.enqueue(items[start : start + 1000])


def measure_passes_on(url: str) -> dict[int, list[float]]:
    results: dict[int, list[float]] = {}
    with Store(url, sealer=Sealer([generate_key()])) as store:
        store.upgrade()
        filled = 0
        for pending in BACKLOGS:
            fill(store, pending - filled)
            filled = pending
            results[pending] = asyncio.run(pass_times(store))
    return results


def measure_passes(backends: Sequence[str], tmp: Path, server_url: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    if "sqlite" in backends:
        results["sqlite"] = measure_passes_on(f"sqlite:///{tmp}/passes.db")
    if "postgresql" in backends:
        import psycopg
        from psycopg import sql

        name = f"caucus_bench_{secrets.token_hex(6)}"
        url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
        admin_url = urlunsplit(urlsplit(server_url)._replace(scheme="postgresql"))
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            try:
                results["postgresql"] = measure_passes_on(url)
            finally:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
    return results


# -- report ----------------------------------------------------------------------------------


def report(answers: dict[str, list[float]], passes: dict[str, Any]) -> None:
    if answers:
        print("\nAnswer time of 10 members' /help, 10 each, 100 in all (seconds):")
        print(f"  {'bot':<36} {'p50':>8} {'p99':>8} {'p99 ratio':>10}")
        idle_p99 = percentile(answers["idle"], 0.99)
        for label, times in answers.items():
            p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
            print(f"  {label:<36} {p50:8.3f} {p99:8.3f} {p99 / idle_p99:10.2f}")
        flooded = [label for label in answers if label != "idle"]
        for label in flooded:
            extra = percentile(answers[label], 0.99) - idle_p99
            print(f"  p99 with {label} minus idle p99: {extra:+.3f} s (goal: within 2 s)")
    for backend, by_backlog in passes.items():
        print(f"\nOne outbox pass on {backend}, {PASS_ROOMS} rooms (ms, {PASSES} passes):")
        print(f"  {'pending':>8} {'median':>9} {'max':>9} {'ratio':>7}")
        base = statistics.median(by_backlog[BACKLOGS[0]])
        for pending, times in by_backlog.items():
            median = statistics.median(times)
            print(
                f"  {pending:>8,} {median * 1000:9.2f} {max(times) * 1000:9.2f}"
                f" {median / base:7.2f}"
            )


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flood", type=int, default=8000, help="relayed copies waiting")
    parser.add_argument(
        "--member-flood",
        type=int,
        default=8000,
        help="group messages one member sends while the others ask (0: none)",
    )
    parser.add_argument(
        "--flood-rate",
        type=float,
        default=200.0,
        help="the member's messages a second (0: all in Telegram's queue before anyone asks)",
    )
    parser.add_argument(
        "--backend", choices=("sqlite", "postgresql", "both"), default="both", help="for passes"
    )
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--only", choices=("answers", "passes"), help="run one measurement")
    parser.add_argument("--tmp-dir", help="where the temporary directories go")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    backends = ("sqlite", "postgresql") if arguments.backend == "both" else (arguments.backend,)
    with tempfile.TemporaryDirectory(prefix="caucus-outbox-", dir=arguments.tmp_dir) as tmp:
        answers: dict[str, list[float]] = {}
        passes: dict[str, Any] = {}
        if arguments.only in (None, "passes"):
            passes = measure_passes(backends, Path(tmp), arguments.postgres_url)
        if arguments.only in (None, "answers"):
            answers = asyncio.run(
                measure_answers(
                    arguments.flood, Path(tmp), arguments.member_flood, arguments.flood_rate
                )
            )
        report(answers, passes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
