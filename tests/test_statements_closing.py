"""Closing a joint statement and its signatory list, by the router and the scheduler on
SQLite and PostgreSQL with a clock the tests move: ``/closestatement N`` and the deadline
close it once (its scheduled work cancelled, the rooms told the count and their count post
edited, the coordinators given the final text, the list to paste in the statement's language
and the CSV); after a change of substance only the signatures given again on the final
edition are listed; ``/signatories N`` shows members the list and coordinators the rest.
Members write from the console and from Telegram and Matrix accounts; what goes to Telegram
and Matrix waits in the outbox, as no platform runs here."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import build_registry, network_planners, open_store
from bot.config import AppConfig, load_config
from bot.context import HandlerStore
from bot.keys import sealer_for
from bot.notices import notice_address
from bot.queueing import queue_replies
from bot.registry import Registry
from bot.router import Router
from bot.scheduler import Scheduler
from bot.types import Command, Incoming, Message, Origin, Outgoing, Platform, TextMessage
from handlers.statements.common import count_key, hash_tag, schedule_work
from storage import Store
from storage.scheduled import ScheduledState
from storage.statement_records import (
    Change,
    ListOrder,
    StatementFields,
    StatementRecord,
    StatementState,
    WhoSigns,
)
from tests.harness.clock import T0, Clock
from tests.harness.features import CATALOGS

TG, MX, CONSOLE = Platform.TELEGRAM, Platform.MATRIX, Platform.CONSOLE
CONFIG = """
data_dir = "data"
admins = ["telegram:1009"]

[telegram]

[matrix]
homeserver = "http://127.0.0.1:9"
user_id = "@bot:x"

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en"]
telegram_chats = [-100111]
matrix_rooms = ["!cawg:x"]
coordinators = ["telegram:1002"]

[limits]
private_messages_per_minute = 10000
"""
TG_ROOM, MX_ROOM, CONSOLE_ROOM = "-100111", "!cawg:x", "cawg-room"
ROOMS = ((TG, TG_ROOM), (MX, MX_ROOM), (CONSOLE, CONSOLE_ROOM))
DEADLINE = T0 + timedelta(days=14)
TEXT = "We, the undersigned organizations, call on the company to stop the eviction."
NEW_TEXT = "We, the undersigned organizations, call on the company and the state to stop it."


def private(platform: Platform, user: str) -> Origin:
    room = "console" if platform is CONSOLE else user
    return Origin(platform, room, user, is_direct=True, language_hint="en")


COORD = private(TG, "1002")
ANA = private(CONSOLE, "ana")
"""Signs for Red Andina (Peru)."""
BOB = private(TG, "1001")
"""Signs for Ämter Netz (Germany)."""
CARL = private(MX, "@carl:x")
"""Signs for Colectivo Ñandú (Argentina)."""
DORA = private(TG, "1004")
"""Signs for Zeta (Kenya)."""
OUT = private(CONSOLE, "out")
"""Not a member of cawg."""
ADMIN = private(TG, "1009")
"""Holds the network's admin role: closes (and opens) statements of any group."""
INDY = private(TG, "1005")
"""A member of cawg in no organization who gave no name: signs in their own name."""
COORD_IN_ROOM = Origin(TG, TG_ROOM, "1002", is_direct=False, language_hint="en")
SIGNERS = {
    ANA: ("Red Andina", "PE"),
    BOB: ("Ämter Netz", "DE"),
    CARL: ("Colectivo Ñandú", "AR"),
    DORA: ("Zeta", "KE"),
}


class Bot:
    """The router and the scheduler on one store, queueing what they say as the running bot
    does; what goes to the console comes back as it is."""

    def __init__(self, store: Store, config: AppConfig) -> None:
        self.store = store
        self.config = config
        self.registry: Registry = build_registry()
        self.router = Router(store, self.registry, CATALOGS, config)
        self.planners = network_planners(config, store)

    def handle(self, event: Incoming) -> list[Outgoing]:
        with self.store.transaction():
            said = self.router.handle(event)
            queue_replies(self.store, [o for o in said if o.platform is not CONSOLE], self.planners)
        return said

    def send(self, origin: Origin, text: str) -> list[Outgoing]:
        if not text.startswith("/"):
            return self.handle(TextMessage(origin, text))
        name, *args = text.removeprefix("/").split()
        return self.handle(Command(origin, name, tuple(args)))

    def member_id(self, origin: Origin) -> int:
        return self.store.members.for_identity(origin.platform, origin.user_id, language="en").id

    def scheduler(self) -> Scheduler:
        return Scheduler(self.store, self.registry, CATALOGS, self.config, planners=self.planners)

    def queued(self, room: str) -> list[str]:
        """The texts waiting in the outbox for a Telegram or Matrix room."""
        return [
            str(row.payload.get("text", ""))
            for platform in (TG, MX)
            for row in self.store.outbox.pending(platform, limit=500)
            if row.room_id == room
        ]

    def sign(self, origin: Origin, statement: int = 1) -> list[Outgoing]:
        record = self.store.statements.get(statement)
        assert record is not None
        return self.send(origin, f"/sign {statement} {hash_tag(record.current.text_hash)}")


@pytest.fixture
def bot(tmp_path: Path, database_url: str, clock: Clock) -> Iterator[Bot]:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    env = {
        "CAUCUS_DATABASE_URL": database_url,
        "CAUCUS_TELEGRAM_TOKEN": "123:abc",
        "CAUCUS_MATRIX_ACCESS_TOKEN": "token",
        "CAUCUS_MATRIX_PICKLE_KEY": "pickle",
    }
    config: AppConfig = load_config(path, env=env)
    open_store(config).close()
    store = Store(config.database_url, clock=clock, sealer=sealer_for(config))
    running = Bot(store, config)
    for origin in (COORD, *SIGNERS, OUT, ADMIN, INDY):
        running.send(origin, "/start")  # each has written privately: notices reach them
    cawg = store.groups.by_slug("cawg")
    assert cawg is not None
    with store.transaction():
        store.rooms.link(CONSOLE, CONSOLE_ROOM, cawg.id)
        for origin, (name, country) in SIGNERS.items():
            member = running.member_id(origin)
            store.joining.add_member(member, cawg.id)
            organization = store.organizations.add(name, country, "ngo")
            store.organizations.claim(member, organization.id)
            store.organizations.decide(member, organization.id, confirm=True)
            store.organizations.set_signatory(member, organization.id, True)
        store.joining.add_member(running.member_id(INDY), cawg.id)
    try:
        yield running
    finally:
        store.close()


def open_statement(
    bot: Bot,
    order: ListOrder = ListOrder.COUNTRY,
    *,
    individuals: bool = False,
    by: Origin = COORD,
) -> StatementRecord:
    """A statement of cawg, in Spanish, opened by ``by`` as ``/statement`` opens one (its
    close and no reminders scheduled)."""
    store = bot.store
    cawg = store.groups.by_slug("cawg")
    assert cawg is not None
    fields = StatementFields(
        working_group_id=cawg.id,
        title="Stop the eviction",
        language="es",
        deadline=DEADLINE,
        who_signs=WhoSigns.GROUP,
        individuals=individuals,
        list_order=order,
        rooms=ROOMS,
        time_zone="America/Lima",
        remind_hours_before=(),
    )
    with store.transaction():
        record = store.statements.open(fields, TEXT, None, bot.member_id(by))
        schedule_work(HandlerStore.of(store), record)
    return record


def said(key: str, **params: object) -> str:
    return CATALOGS.renderer("en", CONSOLE).label(Message.of(key, **params))  # type: ignore[arg-type]


def to(outgoing: list[Outgoing], origin: Origin | str) -> list[Outgoing]:
    """What was said in a room, or to a member (answers and notices alike)."""
    rooms = (
        {origin} if isinstance(origin, str) else {origin.room_id, notice_address(origin.user_id)}
    )
    return [out for out in outgoing if out.room_id in rooms]


def text_to(outgoing: list[Outgoing], origin: Origin | str) -> str:
    return "\n".join(out.text for out in to(outgoing, origin))


def csv_rows(outgoing: list[Outgoing]) -> list[list[str]]:
    (table,) = [media for out in outgoing for media in out.media if media.filename.endswith("csv")]
    return list(csv.reader(io.StringIO(table.data.decode("utf-8").removeprefix("\ufeff"))))


def assert_told_at_close(bot: Bot, said_now: list[Outgoing], heading: str) -> None:
    """Each room told the count once and its count post edited; the coordinator given the
    final text, the list (in Spanish) and the CSV."""
    for room in (TG_ROOM, MX_ROOM, CONSOLE_ROOM):
        told = [out for out in to(said_now, room) if not out.edits]
        assert len(told) == 1 and "Signed by 2 organizations from 2 countries" in told[0].text
        assert [out.edits for out in to(said_now, room) if out.edits] == [count_key(1)]
    private = [out for out in to(said_now, COORD) if "is closed: signing" not in out.text]
    assert "Statement #1, Stop the eviction, has closed at version 1" in private[0].text
    assert TEXT in private[1].text
    assert private[2].text.split("\n")[0] == heading
    assert private[2].language == "es"
    rows = csv_rows(private)
    assert [row[0] for row in rows] == ["Nombre", "Ämter Netz", "Red Andina"]  # by country
    assert [row[3] for row in rows[1:]] == ["Alemania", "Perú"]


def test_closestatement_closes_once_telling_the_rooms_and_the_coordinators(bot: Bot) -> None:
    open_statement(bot)
    bot.sign(ANA)
    bot.sign(BOB)
    bot.send(DORA, "/decline 1")
    assert said("router.not_allowed", role=Message.of("role.coordinator")) in text_to(
        bot.send(BOB, "/closestatement 1"), BOB
    )
    record = bot.store.statements.get(1)
    assert record is not None and record.state is StatementState.OPEN

    closed = bot.send(COORD, "/closestatement 1")
    assert said("statements.close.done", number=1) in to(closed, COORD)[0].text
    assert_told_at_close(bot, closed, "Firmada por 2 organizaciones de 2 países")
    record = bot.store.statements.get(1)
    assert record is not None and record.state is StatementState.CLOSED
    assert all(
        row.state is not ScheduledState.PENDING
        for row in bot.store.scheduled.with_prefix("statement:1:")
    )
    again = bot.send(COORD, "/closestatement 1")
    assert text_to(again, COORD) == said("statements.close.already", number=1)
    assert [e.action for e in bot.store.audit.page().entries].count("statement.closed") == 1
    bot.sign(CARL)
    assert len([s for s in bot.store.statements.signatures(1) if s.stands]) == 2


def test_the_scheduler_closes_a_statement_at_its_deadline_once(bot: Bot, clock: Clock) -> None:
    open_statement(bot)
    bot.sign(ANA)
    bot.sign(CARL)
    scheduler = bot.scheduler()
    clock.now = DEADLINE - timedelta(seconds=1)
    assert scheduler.run_due() == 0
    clock.now = DEADLINE
    assert scheduler.run_due() == 1
    assert scheduler.run_due() == 0
    record = bot.store.statements.get(1)
    assert record is not None and record.state is StatementState.CLOSED
    heading = "Firmada por 2 organizaciones de 2 países"
    for room in (TG_ROOM, MX_ROOM):
        told = [text for text in bot.queued(room) if "has closed" in text]
        assert len(told) == 1 and "Signed by 2 organizations from 2 countries" in told[0]
    lists = [text for text in bot.queued(COORD.room_id) if text.startswith(heading)]
    assert len(lists) == 1
    assert "Argentina" in lists[0] and "Perú" in lists[0]
    closing = bot.send(COORD, "/closestatement 1")
    assert text_to(closing, COORD) == said("statements.close.already", number=1)


def test_after_a_change_of_substance_only_signatures_on_the_final_edition_are_listed(
    bot: Bot,
) -> None:
    open_statement(bot, ListOrder.ALPHABETICAL)
    for origin in (ANA, BOB, CARL):
        bot.sign(origin)
    with bot.store.transaction():
        revised = bot.store.statements.revise(
            1, NEW_TEXT, None, Change.SUBSTANCE, bot.member_id(COORD), expected_version=1
        )
    assert revised is not None and revised.current.number == 2
    bot.sign(CARL)  # confirms on the new text
    bot.send(BOB, "/withdrawsignature 1")

    shown = text_to(bot.send(COORD, "/signatories 1"), COORD)
    assert "Colectivo Ñandú (Argentina): signed by" in shown
    assert "1 signature waits for confirmation of the new text (not counted):" in shown
    assert "• Red Andina: signed version 1" in shown
    assert "1 withdrew their signature:" in shown

    closed = bot.send(COORD, "/closestatement 1")
    private = to(closed, COORD)[1:]  # after "closed"
    assert private[2].text.split("\n") == [
        "Firmada por 1 organización de 1 país",
        "",
        "Colectivo Ñandú (Argentina)",
    ]
    rows = csv_rows(private)
    assert [(row[0], row[6]) for row in rows[1:]] == [("Colectivo Ñandú", "2")]
    for room in (TG_ROOM, MX_ROOM, CONSOLE_ROOM):
        assert "Signed by 1 organization from 1 country" in text_to(closed, room)


def test_signatories_shows_members_the_list_and_only_coordinators_the_rest(bot: Bot) -> None:
    open_statement(bot)
    bot.sign(ANA)
    bot.send(DORA, "/decline 1")
    bot.send(BOB, "/askstatement 1 Can we add a paragraph on water?")

    member_view = text_to(bot.send(CARL, "/signatories 1"), CARL)
    assert "Signed by 1 organization from 1 country" in member_view
    assert "Red Andina (Peru): signed by" in member_view
    assert "Zeta" not in member_view and "water" not in member_view
    refused = bot.send(CARL, "/signatories 1 csv")
    assert text_to(refused, CARL) == said("statements.list.csv_coordinators_only", number=1)
    assert text_to(bot.send(OUT, "/signatories 1"), OUT) == said(
        "statements.list.not_member", number=1
    )

    coordinator_view = text_to(bot.send(COORD, "/signatories 1"), COORD)
    assert "1 declined:" in coordinator_view and "• Zeta:" in coordinator_view
    assert "1 open question" in coordinator_view and "water?" in coordinator_view
    exported = to(bot.send(COORD, "/signatories 1 csv"), COORD)
    assert exported[1].text.split("\n") == [
        "Firmada por 1 organización de 1 país",
        "",
        "Perú",
        "Red Andina",
    ]
    assert [row[0] for row in csv_rows(exported)] == ["Nombre", "Red Andina"]
    record = bot.store.statements.get(1)
    assert record is not None and record.state is StatementState.OPEN


def test_signatories_in_a_group_room_shows_only_what_members_see_and_no_csv(bot: Bot) -> None:
    open_statement(bot)
    bot.sign(ANA)
    bot.send(DORA, "/decline 1")
    bot.send(BOB, "/askstatement 1 Can we add a paragraph on water?")

    in_room = text_to(bot.send(COORD_IN_ROOM, "/signatories 1"), TG_ROOM)
    assert "Red Andina (Peru): signed by" in in_room
    assert "Zeta" not in in_room and "declined" not in in_room and "water" not in in_room
    refused = bot.send(COORD_IN_ROOM, "/signatories 1 csv")
    assert text_to(refused, TG_ROOM) == said(
        "statements.list.csv_private_only", number=1, command="/signatories"
    )
    assert not [media for out in refused for media in out.media]


def test_closing_gives_the_list_to_the_coordinators_the_closer_and_the_creator_once_each(
    bot: Bot, clock: Clock
) -> None:
    def lists_to(outgoing: list[Outgoing], origin: Origin) -> int:
        return len([out for out in to(outgoing, origin) if out.text.startswith("Firmada por")])

    open_statement(bot)  # by the coordinator, closed by the admin
    bot.sign(ANA)
    closed = bot.send(ADMIN, "/closestatement 1")
    assert (lists_to(closed, COORD), lists_to(closed, ADMIN)) == (1, 1)

    open_statement(bot, by=ADMIN)  # by the admin, closed at the deadline
    bot.sign(ANA, statement=2)

    def queued_lists() -> list[int]:
        return [
            len([t for t in bot.queued(o.room_id) if t.startswith("Firmada por")])
            for o in (COORD, ADMIN)
        ]

    before = queued_lists()
    clock.now = DEADLINE
    bot.scheduler().run_due()
    assert [after - earlier for after, earlier in zip(queued_lists(), before, strict=True)] == [
        1,
        1,
    ]


def test_an_individual_who_gave_no_name_is_listed_as_a_member_with_their_number(
    bot: Bot,
) -> None:
    open_statement(bot, individuals=True)
    bot.sign(INDY)
    number = bot.member_id(INDY)
    named = said("statements.list.a_member", number=number)

    shown = text_to(bot.send(COORD, "/signatories 1"), COORD)
    assert named in shown and f"member:{number}" not in shown
    rows = csv_rows(to(bot.send(COORD, "/signatories 1 csv"), COORD))
    spanish = CATALOGS.renderer("es", CONSOLE).label(
        Message.of("statements.list.a_member", number=number)
    )
    assert rows[1][0] == spanish
