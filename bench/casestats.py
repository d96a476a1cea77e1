"""Case statistics benchmark: ``/casestats`` over many generated case reports.

    cd /work/main && .venv/bin/python bench/casestats.py [--reports N] [--backend B]

For each backend (SQLite, a file in a temporary directory; PostgreSQL, a fresh database
created on the server and dropped at the end) the bot's store is opened as the bot opens it
(``bot.app.open_store`` on a small config.toml with one working group, "cawg"), and N case
reports (default 100,000) are filed into it through ``store.cases.submit``, 2,000 to a unit
of work, with review statuses set through ``store.cases.set_status``. The reports are
generated from a fixed seed: a skewed spread of countries (a few common, most rare), 15
sectors, 1-4 of 14 rights, about 5% urgent, and about 1 KB of sealed contents each.

Then, after one warm-up, 20 runs each of:

* ``store.cases.statistics([group], leave_out=[REJECTED])``, the storage query alone;
* ``/casestats`` typed by the group's coordinator, through the real router
  (``bot.app.build_router``) inside ``with store.transaction():``, as the bot runs a command.

It prints the insert rate, the median and maximum of each in milliseconds, the database's
size on disk and this process's peak RSS (``resource.getrusage``) after each backend.
"""

from __future__ import annotations

import argparse
import random
import resource
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bot.app import build_registry, build_router, open_store
from bot.config import AppConfig, load_config
from bot.router import Router
from bot.territories import COUNTRY_CODES, region_of
from bot.types import Command, Origin, Platform
from handlers.cases.options import RIGHTS, SECTORS
from storage import Store
from storage.case_contents import CaseContents, Company
from storage.case_records import CaseStatus, NewCase
from storage.sealing import generate_key

SEED = 20240601
BATCH = 2_000
"""Reports filed per unit of work (one commit)."""
RUNS = 20
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"

STATUS_WEIGHTS = {
    CaseStatus.SUBMITTED: 30,
    CaseStatus.UNDER_REVIEW: 25,
    CaseStatus.VERIFIED: 20,
    CaseStatus.PUBLISHED: 15,
    CaseStatus.REJECTED: 10,
}
SAMPLE_TEXT = (
    "community members reported that the company began clearing land near the river without "
    "consultation and armed guards prevented families from reaching their fields while "
    "water from the wells turned brown after the tailings dam leaked during the rainy season "
    "workers at the plant said wages were withheld for months and union leaders were "
    "dismissed after a strike local authorities did not respond to complaints and the "
    "grievance mechanism of the subsidiary was never explained to residents in their own "
    "language several women described threats and the health clinic recorded skin rashes "
    "among children journalists who visited the site were detained and their equipment "
    "seized the financing bank was informed by letter and promised a review of the project"
)
WORDS = tuple(SAMPLE_TEXT.split())
CONFIG = """\
data_dir = "data"

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
coordinators = ["console:coord"]
"""
COORDINATOR = Origin(Platform.CONSOLE, "console", "coord", True)


# -- generated reports -----------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratedCase:
    case: NewCase
    status: CaseStatus


class CaseGenerator:
    """Realistic case reports from a seeded random source: the same seed, the same reports."""

    def __init__(self, seed: int, group_id: int, author_id: int) -> None:
        self._random = random.Random(seed)
        self._group_id = group_id
        self._author_id = author_id
        countries = list(COUNTRY_CODES)
        self._random.shuffle(countries)
        self._countries = countries
        # Zipf-like: the first few countries draw most reports, the long tail a handful each.
        self._country_weights = [1 / (rank + 1) ** 1.2 for rank in range(len(countries))]
        self._sector_weights = [1 / (rank + 1) ** 0.8 for rank in range(len(SECTORS))]
        self._right_weights = [1 / (rank + 1) ** 0.6 for rank in range(len(RIGHTS))]
        self._statuses = list(STATUS_WEIGHTS)
        self._status_weights = list(STATUS_WEIGHTS.values())
        self._companies = [f"{self._words(2).title()} {suffix}" for suffix in self._suffixes()]

    def _suffixes(self) -> list[str]:
        kinds = ("S.A.", "Ltd", "Corp", "GmbH", "Holdings", "Mining", "Energy", "Group")
        return [self._random.choice(kinds) for _ in range(400)]

    def _words(self, count: int) -> str:
        return " ".join(self._random.choices(WORDS, k=count))

    def _narrative(self) -> str:
        sentences: list[str] = []
        length = 0
        target = self._random.randint(800, 1300)
        while length < target:
            sentence = self._words(self._random.randint(8, 24)).capitalize() + "."
            sentences.append(sentence)
            length += len(sentence) + 1
        return " ".join(sentences)

    def _rights(self) -> tuple[str, ...]:
        count = self._random.choices((1, 2, 3, 4), weights=(35, 35, 20, 10))[0]
        chosen: set[str] = set()
        while len(chosen) < count:
            chosen.add(self._random.choices(RIGHTS, weights=self._right_weights)[0])
        return tuple(sorted(chosen))

    def _started(self) -> str:
        year = self._random.randint(2005, 2025)
        if self._random.random() < 0.3:
            return str(year)
        return f"{year}-{self._random.randint(1, 12):02d}"

    def next(self) -> GeneratedCase:
        pick = self._random
        country = pick.choices(self._countries, weights=self._country_weights)[0]
        companies = tuple(
            Company(
                name=pick.choice(self._companies),
                role=pick.choice(("operator", "buyer", "investor")),
            )
            for _ in range(pick.randint(1, 3))
        )
        contents = CaseContents(
            title=self._words(pick.randint(4, 9)).capitalize(),
            narrative=self._narrative(),
            companies=companies,
            locality=self._words(2).title(),
            affected=pick.choice(("a family", "a village", "workers", "a community")),
        )
        case = NewCase(
            working_group_id=self._group_id,
            author_member_id=self._author_id,
            urgent=pick.random() < 0.05,
            country=country,
            region=region_of(country).value,
            sector=pick.choices(SECTORS, weights=self._sector_weights)[0],
            started=self._started(),
            ongoing=pick.random() < 0.6,
            rights=self._rights(),
            contents=contents,
        )
        status = pick.choices(self._statuses, weights=self._status_weights)[0]
        return GeneratedCase(case, status)


def generate(store: Store, reports: int, group_id: int) -> tuple[float, int]:
    """File ``reports`` generated reports, BATCH to a unit of work; seconds taken and how
    many were left out of the statistics (rejected)."""
    author = store.members.for_identity(Platform.CONSOLE, "author", language="en")
    reviewer = store.members.for_identity(Platform.CONSOLE, "coord", language="en")
    generator = CaseGenerator(SEED, group_id, author.id)
    rejected = 0
    started = time.perf_counter()
    done = 0
    while done < reports:
        size = min(BATCH, reports - done)
        with store.transaction():
            for _ in range(size):
                generated = generator.next()
                case_id = store.cases.submit(generated.case)
                if generated.status is not CaseStatus.SUBMITTED:
                    store.cases.set_status(case_id, generated.status, reviewer.id, None)
                rejected += generated.status is CaseStatus.REJECTED
        done += size
        if done % 20_000 == 0 or done == reports:
            elapsed = time.perf_counter() - started
            print(f"  {done:>7} reports  {elapsed:6.1f} s  {done / elapsed:6.0f}/s", flush=True)
    return time.perf_counter() - started, rejected


# -- measuring --------------------------------------------------------------------------------


def timed_runs(work: Callable[[], object], runs: int = RUNS) -> list[float]:
    """Milliseconds of each of ``runs`` calls, after one warm-up call."""
    work()
    times: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return times


def casestats_reply(router: Router, store: Store) -> str:
    """What the coordinator reads after typing /casestats, handled as the bot handles it."""
    with store.transaction():
        replies = router.handle(Command(origin=COORDINATOR, name="casestats"))
    return "\n".join(reply.text for reply in replies)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def median_and_max(times: Sequence[float]) -> str:
    return f"{statistics.median(times):.1f} / {max(times):.1f}"


@dataclass
class Result:
    backend: str
    reports: int
    phases: dict[str, float] = field(default_factory=dict)
    insert_rate: float = 0.0
    statistics_ms: list[float] = field(default_factory=list)
    command_ms: list[float] | None = None
    command_reply: str = ""
    database_bytes: int = 0
    peak_rss_mib: float = 0.0


@contextmanager
def phase(result: Result, name: str) -> Iterator[None]:
    started = time.perf_counter()
    print(f"{result.backend}: {name} ...", flush=True)
    yield
    result.phases[name] = time.perf_counter() - started


def bot_config(folder: Path, database_url: str) -> AppConfig:
    path = folder / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    env = {"CAUCUS_DATABASE_URL": database_url, "CAUCUS_ENCRYPTION_KEYS": generate_key()}
    return load_config(path, env=env)


def measure(result: Result, config: AppConfig) -> Store:
    """Fill the configured database and time the statistics; the store, still open, back."""
    with phase(result, "open and migrate"):
        store = open_store(config)
    try:
        group = store.groups.by_slug("cawg")
        if group is None:
            raise SystemExit("the working group cawg was not configured")
        with phase(result, "generate"):
            seconds, rejected = generate(store, result.reports, group.id)
        result.insert_rate = result.reports / seconds

        with phase(result, "time statistics()"):
            found = store.cases.statistics([group.id], leave_out=[CaseStatus.REJECTED])
            if found.total != result.reports - rejected:
                raise SystemExit(
                    f"statistics counted {found.total}, not {result.reports - rejected}"
                )
            result.statistics_ms = timed_runs(
                lambda: store.cases.statistics([group.id], leave_out=[CaseStatus.REJECTED])
            )

        with phase(result, "time /casestats"):
            registry = build_registry()
            router = build_router(config, store, registry=registry)
            if registry.find_command("casestats") is not None:
                reply = casestats_reply(router, store)
                if "don't know" not in reply:
                    result.command_reply = reply
                    result.command_ms = timed_runs(lambda: casestats_reply(router, store))
    except BaseException:
        store.close()
        raise
    return store


# -- backends ---------------------------------------------------------------------------------


def run_sqlite(reports: int) -> Result:
    result = Result("sqlite", reports)
    with tempfile.TemporaryDirectory(prefix="caucus-casestats-") as tmp:
        folder = Path(tmp)
        database = folder / "caucus.sqlite3"
        store = measure(result, bot_config(folder, f"sqlite:///{database}"))
        store.close()  # the last connection checkpoints the write-ahead log into the file
        result.database_bytes = sum(
            path.stat().st_size for path in folder.glob("caucus.sqlite3*") if path.is_file()
        )
    result.peak_rss_mib = peak_rss_mib()
    return result


def _libpq_url(url: str) -> str:
    """``postgresql+psycopg://`` is SQLAlchemy's spelling; libpq wants ``postgresql://``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme=parts.scheme.split("+", 1)[0]))


def run_postgresql(reports: int, server_url: str) -> Result:
    result = Result("postgresql", reports)
    name = f"caucus_bench_{secrets.token_hex(6)}"
    database_url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    with (
        psycopg.connect(_libpq_url(server_url), autocommit=True, connect_timeout=10) as admin,
        tempfile.TemporaryDirectory(prefix="caucus-casestats-") as tmp,
    ):
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            store = measure(result, bot_config(Path(tmp), database_url))
            store.close()
            size = admin.execute("SELECT pg_database_size(%s)", (name,)).fetchone()
            result.database_bytes = int(size[0]) if size else 0
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    result.peak_rss_mib = peak_rss_mib()
    return result


# -- report -----------------------------------------------------------------------------------

NOT_AVAILABLE = "casestats command not available yet"


def print_table(results: Sequence[Result]) -> None:
    rows: list[tuple[str, list[str]]] = [
        ("reports", [f"{result.reports}" for result in results]),
        ("insert rate (reports/s)", [f"{result.insert_rate:.0f}" for result in results]),
        (
            "statistics() p50 / max (ms)",
            [median_and_max(result.statistics_ms) for result in results],
        ),
        (
            "/casestats p50 / max (ms)",
            [
                "not available" if result.command_ms is None else median_and_max(result.command_ms)
                for result in results
            ],
        ),
        ("database size (MiB)", [f"{result.database_bytes / 2**20:.1f}" for result in results]),
        ("peak RSS after (MiB)", [f"{result.peak_rss_mib:.0f}" for result in results]),
    ]
    phases = list(dict.fromkeys(name for result in results for name in result.phases))
    rows += [
        (f"wall: {name} (s)", [f"{result.phases.get(name, 0.0):.1f}" for result in results])
        for name in phases
    ]
    print()
    print(f"{'':<30}" + "".join(f"{result.backend:>18}" for result in results))
    for label, cells in rows:
        print(f"{label:<30}" + "".join(f"{cell:>18}" for cell in cells))
    print(f"\n{RUNS} runs each after one warm-up; p50 is the median.")
    for result in results:
        if result.command_ms is None:
            print(f"{result.backend}: {NOT_AVAILABLE}")
        else:
            lines = result.command_reply.splitlines()
            first = lines[0] if lines else ""
            print(f"{result.backend}: /casestats answered {len(lines)} lines, first: {first!r}")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 1)[0])
    parser.add_argument(
        "--reports", type=int, default=100_000, help="case reports to generate (default 100000)"
    )
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgresql", "both"),
        default="both",
        help="which database to measure (default both)",
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help=f"server to create the temporary database on (default {DEFAULT_POSTGRES_URL})",
    )
    arguments = parser.parse_args(argv)
    if arguments.reports < 1:
        parser.error("--reports must be at least 1")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    results: list[Result] = []
    if arguments.backend in ("sqlite", "both"):
        results.append(run_sqlite(arguments.reports))
    if arguments.backend in ("postgresql", "both"):
        results.append(run_postgresql(arguments.reports, arguments.postgres_url))
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
