"""Joint statements benchmark: who answers for whom, and the list ready to publish, at the
scale of the first network (200 member organizations), on SQLite and PostgreSQL.

    cd /work/main && .venv/bin/python bench/statements.py [--organizations N] [--runs N]
        [--postgres URL]   (a server: the benchmark makes and drops a database of its own)

Builds a working group of N organizations, each with two signatories and one other member
(3N members), and a statement open to organizations and individuals; 100 individuals more
belong to no organization. Times, as the median of the runs after a warm-up:

- ``eligible_signers``: every signer and the members who answer for it (what an
  announcement, a reminder and a change of substance each compute once);
- ``signing_of``: one member's check at one answer (every press and command does it);
- the list at closing: the signatures that stand (N signed) read and named, sorted by
  country, made into the paste text and the CSV.

The baseline, measured in the same run on the same database, is reading the same rows once
through the store's named queries (the organizations, and the group's roster page by page):
the least any answer to "who signs" costs. The ratios say what the per-member questions cost
over that. Nothing is asserted; the figures are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bot.context import HandlerStore
from bot.i18n import Catalogs
from bot.types import Platform
from handlers.statements.common import eligible_signers, signing_of
from handlers.statements.signatories import renderer, signatory_csv, signatory_list, standing
from storage import Store, WorkingGroupSpec
from storage.statement_records import (
    Answer,
    ListOrder,
    StatementFields,
    StatementRecord,
    WhoSigns,
    organization_signer,
)

COUNTRIES = ("CO", "KE", "FR", "EG", "BR", "PH", "IN", "ZA", "MX", "PE", "NG", "ID", "AR")
RUNS = 5
PAGE = 500


def build(store: Store, organizations: int) -> tuple[StatementRecord, list[int]]:
    store.upgrade()
    store.groups.sync_configured(
        [WorkingGroupSpec("cawg", "Corporate Accountability", ("en",), (), (), ())],
        [],
        default_language="en",
    )
    cawg = store.groups.by_slug("cawg")
    assert cawg is not None
    members: list[int] = []
    with store.transaction():
        for number in range(organizations):
            organization = store.organizations.add(
                f"Organization {number:03d} for land rights",
                COUNTRIES[number % len(COUNTRIES)],
                "ngo",
            )
            for role in ("a", "b", "m"):
                member = store.members.for_identity(
                    Platform.TELEGRAM, f"{number}{role}", language="en"
                ).id
                store.joining.add_member(member, cawg.id)
                store.organizations.claim(member, organization.id)
                store.organizations.decide(member, organization.id, confirm=True)
                store.organizations.set_signatory(member, organization.id, role != "m")
                members.append(member)
        for number in range(100):
            member = store.members.for_identity(
                Platform.MATRIX, f"@advocate{number}:x", language="en"
            ).id
            store.joining.add_member(member, cawg.id)
        record = store.statements.open(
            StatementFields(
                working_group_id=cawg.id,
                title="Protect land defenders",
                language="en",
                deadline=store.now() + timedelta(days=14),
                who_signs=WhoSigns.GROUP,
                individuals=True,
                list_order=ListOrder.COUNTRY,
                rooms=(),
                time_zone="UTC",
            ),
            "We, the undersigned organizations, call on the State to protect land defenders.",
            None,
            None,
        )
        for number in range(organizations):
            signatory = members[3 * number]
            store.statements.answer(
                record.id,
                signer=organization_signer(number + 1),
                member_id=signatory,
                answer=Answer.SIGNED,
                text_hash=record.current.text_hash,
                now=store.now(),
            )
    return record, members


def median_ms(work: Callable[[], object], runs: int) -> float:
    work()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def read_once(store: HandlerStore, group_id: int) -> None:
    store.organizations.all()
    offset = 0
    while True:
        page = store.roster.members_of(group_id, offset=offset, limit=PAGE)
        offset += PAGE
        if offset >= page.total or not page.entries:
            return


def measure(url: str, organizations: int, runs: int) -> None:
    with Store(url) as raw:
        record, members = build(raw, organizations)
        store = HandlerStore.of(raw)
        group = record.fields.working_group_id
        baseline = median_ms(lambda: read_once(store, group), runs)
        signers = eligible_signers(store, record)
        eligible = median_ms(lambda: eligible_signers(store, record), runs)
        one = median_ms(lambda: signing_of(store, record, members[-1]), runs * 20)
        shown = renderer("en")

        def closing_list() -> None:
            entries = standing(store, record)
            signatory_list(entries, order=ListOrder.COUNTRY, language="en")
            signatory_csv(entries, order=ListOrder.COUNTRY, shown=shown)

        listed = median_ms(closing_list, runs)
        kind = url.split(":", 1)[0]
        print(f"{kind}: {organizations} organizations, {len(signers)} signers")
        print(f"  baseline (the rows read once):     {baseline:8.1f} ms")
        print(
            f"  eligible_signers:                  {eligible:8.1f} ms ({eligible / baseline:.1f}x)"
        )
        print(f"  signing_of (one answer's check):   {one:8.2f} ms")
        print(f"  the list and CSV at closing:       {listed:8.1f} ms ({listed / baseline:.1f}x)")


@contextlib.contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A database of its own on the server ``server_url`` names, dropped afterwards: the
    benchmark never writes into the database the URL names."""
    parts = urlsplit(server_url)
    name = f"caucus_bench_{secrets.token_hex(6)}"
    admin_url = urlunsplit(parts._replace(scheme=parts.scheme.split("+", 1)[0]))
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield urlunsplit(parts._replace(path=f"/{name}"))
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--organizations", type=int, default=200)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--postgres", help="a PostgreSQL URL (an empty database) to measure too")
    arguments = parser.parse_args()
    Catalogs.load()
    with tempfile.TemporaryDirectory() as folder:
        measure(
            f"sqlite:///{Path(folder) / 'bench.sqlite3'}", arguments.organizations, arguments.runs
        )
    if arguments.postgres:
        with scratch_database(arguments.postgres) as url:
            measure(url, arguments.organizations, arguments.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
