"""Alert benchmark: one consultation published to 1,000 subscribers on Telegram.

    cd /work/main && .venv/bin/python bench/alerts.py [--members 1000] [--faults 0.2]

The bot (``bot.app.Services``: durable inbox, router, outbox, Telegram's published send
limits through ``bot.ratelimit.telegram_limiter``) runs on the Bot API emulator with one
working group. ``--members`` members with Telegram accounts, each known to have written to
the bot privately (their private chat is recorded, as when they write), are members of the
group, so its consultations reach them. A coordinator opens a draft concerning the group
with ``/newconsultation 1`` and presses "Publish now" then "Submit", as on Telegram: the
handler (``handlers.consultations_alerts.publish``) queues one private alert per subscriber
in the same unit of work, and the bot's outbox worker sends them.

Two runs: a baseline with no faults, then one where the emulator answers a share of
``sendMessage`` calls (``--faults``, default 20%) with an error, half 429 with
``retry_after`` 1 s and half 500 (a faulted call has no effect). Measured from the Submit
press to the emulator accepting the last alert; every member's private chat is then
counted: delivered, duplicates, missing. The figure is compared with the least time
Telegram's limits allow: N / 30 messages a second, and the bot's own limiter, which keeps
a 10% margin (30 messages per 1.1 s).

It is a benchmark, not a test: it prints figures and fails only when an alert is missing
or duplicated.
"""

# ruff: noqa: E402  (the test harness is imported once the repository root is on the path)

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]  # for `python bench/alerts.py`: bot, tests.harness

from bot.ratelimit import SAFETY_MARGIN, telegram_limiter
from bot.types import Platform, Role
from storage.consultations import ConsultationFields, ConsultationState
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import TelegramBot, make_token, telegram_config

TG = Platform.TELEGRAM
COORDINATOR = 1002
FIRST_MEMBER = 10_000
TELEGRAM_RATE = 30.0
"""Telegram's published limit: about 30 messages a second overall."""
TIMEOUT = 600.0


@dataclass
class Result:
    label: str
    members: int
    elapsed: float
    delivered: int
    duplicates: int
    missing: int
    sends: int
    faulted: int
    retries: int


class RetryCounter(logging.Filter):
    """Counts the outbox's retries after a server error, and keeps them off the screen."""

    def __init__(self) -> None:
        super().__init__()
        self.retries = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("delivery_retry"):
            self.retries += 1
            return False
        return True


def group_config() -> str:
    return f"""
[[working_groups]]
slug = "watch"
name = "Watch"
languages = ["en"]
coordinators = ["telegram:{COORDINATOR}"]
"""


def button(emulator: BotApiEmulator, chat: int, label: str) -> tuple[int, str] | None:
    """The newest message's button with that label."""
    for message in reversed(emulator.sent(chat)):
        for row in (message.reply_markup or {}).get("inline_keyboard", []):
            for found in row:
                if found["text"] == label:
                    return message.message_id, found["callback_data"]
    return None


def alerts_in(emulator: BotApiEmulator, chat: int, consultation_id: int) -> int:
    wanted = f"consult:contribute:{consultation_id}"
    return sum(1 for message in emulator.sent(chat) if wanted in message.button_data)


async def run(label: str, members: int, faults: float, database_url: str, folder: Path) -> Result:
    async with BotApiEmulator(make_token()) as emulator:
        emulator.add_user(COORDINATOR, "Coord")
        member_ids = [FIRST_MEMBER + n for n in range(members)]
        for user_id in member_ids:
            emulator.add_user(user_id, f"Member {user_id}")
        config = telegram_config(folder, database_url, emulator, extra=group_config())
        bot = TelegramBot(config, limiter=telegram_limiter)
        counter = RetryCounter()
        await bot.start()
        try:
            store = bot.store
            emulator.send_text(COORDINATOR, "/start")
            await emulator.wait_for(lambda: bool(emulator.sent(COORDINATOR)), timeout=TIMEOUT)
            coordinator = store.members.for_identity(TG, str(COORDINATOR), language="en").id
            group = store.groups.by_slug("watch")
            assert group is not None
            with store.transaction():
                for user_id in member_ids:
                    member = store.members.for_identity(
                        TG, str(user_id), language="en", direct_room=str(user_id)
                    )
                    store.groups.set_role(member.id, group.id, Role.MEMBER)
                draft = store.consultations.create(
                    ConsultationFields(
                        title="Call for input on the right to a healthy environment",
                        issuer="OHCHR",
                        link="https://www.ohchr.org/en/calls-for-input",
                        deadline=store.now() + timedelta(days=30),
                        time_zone="UTC",
                        working_groups=(group.id,),
                    ),
                    coordinator,
                )

            def at(step: str) -> Callable[[], bool]:
                def check() -> bool:
                    state = store.conversations.load(coordinator)
                    return state is not None and state.step == step

                return check

            async def press(text: str, then: Callable[[], bool]) -> float:
                await emulator.wait_for(
                    lambda: button(emulator, COORDINATOR, text) is not None, timeout=TIMEOUT
                )
                found = button(emulator, COORDINATOR, text)
                assert found is not None
                pressed = emulator.clock()
                emulator.press_button(COORDINATOR, COORDINATOR, *found)
                await emulator.wait_for(then, timeout=TIMEOUT)
                return pressed

            emulator.send_text(COORDINATOR, f"/newconsultation {draft.id}")
            await emulator.wait_for(at("publish"), timeout=TIMEOUT)
            await press("Publish now", at("~review"))
            if faults > 0:
                each = faults / 2
                emulator.inject_fault(
                    "429", methods=["sendMessage"], rate=each, retry_after=1, seed=1
                )
                # Asked only of the calls the 429 left alone: half the share in all.
                emulator.inject_fault(
                    "500", methods=["sendMessage"], rate=each / (1 - each), seed=2
                )
            requests_before = len(emulator.requests)
            logging.getLogger("bot.outbox").addFilter(counter)
            published_at = await press(
                "Submit", lambda: store.conversations.load(coordinator) is None
            )
            record = store.consultations.get(draft.id)
            assert record is not None and record.state is ConsultationState.PUBLISHED
            waiting = [member_ids.copy()]

            def all_alerted() -> bool:
                waiting[0] = [m for m in waiting[0] if not alerts_in(emulator, m, draft.id)]
                return not waiting[0]

            await emulator.wait_for(all_alerted, timeout=TIMEOUT)
            last = max(
                message.accepted_at for user_id in member_ids for message in emulator.sent(user_id)
            )
            # Anything still queued (a retry of a send that did arrive) would be a duplicate.
            await emulator.wait_for(lambda: not store.outbox.rooms_with_pending(TG), timeout=60)
            await asyncio.sleep(2.0)
            counts = [alerts_in(emulator, m, draft.id) for m in member_ids]
            sends = [
                log for log in emulator.requests[requests_before:] if log.method == "sendMessage"
            ]
            return Result(
                label=label,
                members=members,
                elapsed=last - published_at,
                delivered=sum(1 for count in counts if count >= 1),
                duplicates=sum(count - 1 for count in counts if count > 1),
                missing=sum(1 for count in counts if count == 0),
                sends=len(sends),
                faulted=sum(1 for log in sends if log.status != 200),
                retries=counter.retries,
            )
        finally:
            logging.getLogger("bot.outbox").removeFilter(counter)
            emulator.clear_faults()
            await bot.stop()


@contextmanager
def database(postgres: str | None, folder: Path) -> Iterator[str]:
    """A SQLite file in ``folder``, or a temporary database on the PostgreSQL server."""
    if postgres is None:
        yield f"sqlite:///{folder}/caucus.db"
        return
    import psycopg
    from psycopg import sql

    name = f"caucus_bench_{secrets.token_hex(6)}"
    url = urlunsplit(urlsplit(postgres)._replace(path=f"/{name}"))
    admin_url = urlunsplit(urlsplit(postgres)._replace(scheme="postgresql"))
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield url
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def report(results: list[Result]) -> None:
    members = results[0].members
    floor = members / TELEGRAM_RATE
    limiter_floor = members * SAFETY_MARGIN / TELEGRAM_RATE
    print(f"\nOne consultation alert to {members:,} members on Telegram (emulator):")
    print(f"  least time at Telegram's 30 msg/s: {floor:.1f} s;")
    print(
        f"  at the bot's limiter (bot/ratelimit.py telegram_limiter: 30 per"
        f" {SAFETY_MARGIN:.1f} s, {TELEGRAM_RATE / SAFETY_MARGIN:.1f} msg/s): {limiter_floor:.1f} s"
    )
    print(
        f"  {'run':<14} {'delivered':>9} {'dupl.':>6} {'missing':>7} {'sends':>6}"
        f" {'faulted':>7} {'elapsed s':>9} {'msg/s':>6} {'/30 msg/s':>9} {'/limiter':>8}"
    )
    for r in results:
        print(
            f"  {r.label:<14} {r.delivered:>9,} {r.duplicates:>6} {r.missing:>7} {r.sends:>6,}"
            f" {r.faulted:>7,} {r.elapsed:>9.1f} {r.members / r.elapsed:>6.1f}"
            f" {r.elapsed / floor:>9.2f} {r.elapsed / limiter_floor:>8.2f}"
        )
    print("  (sends and faulted count sendMessage calls after Submit, the coordinator's too)")
    for r in results:
        print(f"  {r.label}: the outbox retried {r.retries} sends after a server error")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1000, help="subscribers alerted")
    parser.add_argument(
        "--faults", type=float, default=0.2, help="share of sendMessage answered 429 or 500"
    )
    parser.add_argument(
        "--postgres", metavar="URL", help="a PostgreSQL server (temporary database) for SQLite"
    )
    parser.add_argument("--tmp-dir", help="where the temporary directory goes")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    results: list[Result] = []
    runs = (("no faults", 0.0), (f"{arguments.faults:.0%} faults", arguments.faults))
    with tempfile.TemporaryDirectory(prefix="caucus-alerts-", dir=arguments.tmp_dir) as tmp:
        for n, (label, faults) in enumerate(runs):
            folder = Path(tmp) / str(n)
            folder.mkdir()
            started = time.monotonic()
            with database(arguments.postgres, folder) as url:
                result = asyncio.run(run(label, arguments.members, faults, url, folder))
            print(f"  {label}: {time.monotonic() - started:.1f} s wall", flush=True)
            results.append(result)
    report(results)
    return 0 if all(r.missing == 0 and r.duplicates == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
