"""Each member's own data: /timezone (a city in any language, or a zone's name), /mydata (a
file with everything kept about them) and /forgetme (erased after a confirmation, their
reports withdrawn or kept without them). On the console over both databases; the erasure
checked by reading every table unsealed on both, and by a byte scan of the SQLite files
and the data directory."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table

from bot.app import EXPORTS_DIR, build_router
from bot.config import AppConfig, load_config
from bot.moments import day
from bot.types import Command, CommandRef, Message, Origin, Platform, Role
from handlers.profile import find_time_zones
from storage import Store
from storage.case_contents import CaseContents
from storage.case_records import NewCase
from storage.member_data import member_references, unaccounted_references, unerased_references
from tests.harness.chat import ConsoleChat, console_chats
from tests.harness.databases import Backend
from tests.harness.features import CATALOGS, first_line, said
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import TelegramBot, TelegramChat, make_token, telegram_config

CAWG_ROOM = "-1001"

CONFIG = f"""
data_dir = "data"
admins = ["console:root"]
time_zone = "Pacific/Kiritimati"

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en"]
telegram_chats = [{CAWG_ROOM}]
admins = ["console:gadmin"]
coordinators = ["console:coord"]

[[working_groups]]
slug = "landrights"
name = "Land Rights"
languages = ["en"]
coordinators = ["console:othercoord"]
"""

ANA = "ana-x7q"
ANA_NAME = "Ana Quispe Mamani"
ANA_PLATFORM_NAME = "Ana Q. Mamani"
ANA_ORGANIZATION = "Red Quispe Andina"


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> AppConfig:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return load_config(path, env={"CAUCUS_DATABASE_URL": database_url})


Chats = Callable[[str], ConsoleChat]


@pytest.fixture
async def chats(config: AppConfig) -> AsyncIterator[Chats]:
    async with console_chats(config) as chat:
        yield chat


def cawg(store: Store) -> int:
    found = store.groups.by_slug("cawg")
    assert found is not None
    return found.id


def file_report(
    store: Store, author: int, organization: str | None, *, publication: str | None = None
) -> int:
    contents = CaseContents(
        reporter="affected_person",
        organization=organization,
        naming="network",
        publication=publication,
        title="Tailings in the river",
        narrative="The dam broke in March.",
        follow_up="yes",
    )
    return store.cases.submit(
        NewCase(
            working_group_id=cawg(store),
            author_member_id=author,
            urgent=False,
            country="PE",
            region="latin_america_caribbean",
            sector="mining",
            started="2024",
            ongoing=True,
            rights=("water",),
            contents=contents,
        )
    )


def said_counted(key: str, count: int) -> str:
    return CATALOGS.renderer("en", Platform.CONSOLE).label(Message.counted(key, count))


# -- which tables hold a member's data ------------------------------------------------------


def test_every_column_referring_to_a_member_has_a_section_that_exports_and_erases_it() -> None:
    assert "case_reports.author_member_id" in member_references()
    assert unaccounted_references() == []
    assert unerased_references() == []


def test_a_new_table_referring_to_members_without_a_section_is_named() -> None:
    metadata = MetaData()
    Table("members", metadata, Column("id", Integer, primary_key=True))
    Table(
        "poll_votes",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("member_id", ForeignKey("members.id")),
    )
    assert unaccounted_references(metadata) == ["poll_votes.member_id"]


# -- /timezone ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Lima", "America/Lima"),
        ("Ciudad de México", "America/Mexico_City"),
        ("القاهرة", "Africa/Cairo"),
        ("São Paulo", "America/Sao_Paulo"),
        ("sao paulo", "America/Sao_Paulo"),
        ("Le Caire", "Africa/Cairo"),
        ("america/bogota", "America/Bogota"),
        ("Calcutta", "Asia/Kolkata"),
    ],
)
def test_a_time_zone_is_found_by_its_city_in_any_language_or_by_its_name(
    typed: str, zone: str
) -> None:
    assert find_time_zones(typed) == [zone]


async def test_timezone_shows_sets_and_offers_the_zones_a_part_of_a_name_matches(
    chats: Chats,
) -> None:
    ana = chats(ANA)
    unset = await ana.send("/timezone")
    assert first_line("timezone.not_set") in unset
    set_answer = await ana.send("/timezone Ciudad de México")
    assert "America/Mexico_City" in set_answer and first_line("timezone.set") in set_answer
    shown = await ana.send("/timezone")
    assert first_line("timezone.current") in shown and "(America/Mexico_City)" in shown

    several = await ana.send("/timezone santo")
    assert said_counted("timezone.several", 2) in several
    picked = await ana.pick("Santo Domingo")
    assert "America/Santo_Domingo" in picked
    member = ana.store.members.for_identity(Platform.CONSOLE, ANA, language="en")
    assert member.time_zone == "America/Santo_Domingo"

    unknown = await ana.send("/timezone Atlantis")
    assert first_line("profile.unknown_time_zone") in unknown
    too_many = await ana.send("/timezone san")
    assert said_counted("timezone.too_many", 13) in too_many
    member = ana.store.members.for_identity(Platform.CONSOLE, ANA, language="en")
    assert member.time_zone == "America/Santo_Domingo"  # bad input changed nothing


async def test_a_members_reports_are_dated_in_their_time_zone(chats: Chats) -> None:
    """In the configuration's zone until they choose one (UTC+14 and UTC-11: always two
    different days, and at least one of them not UTC's)."""
    ana = chats(ANA)
    await ana.send("/whoami")
    member = ana.store.members.for_identity(Platform.CONSOLE, ANA, language="en")
    summary = ana.store.cases.summary(file_report(ana.store, member.id, None))
    assert summary is not None
    listed = await ana.send("/myreports")
    assert f"· {day(summary.submitted_at, 'en', 'Pacific/Kiritimati')} ·" in listed
    await ana.send("/timezone Pago Pago")
    listed = await ana.send("/myreports")
    assert f"· {day(summary.submitted_at, 'en', 'Pacific/Pago_Pago')} ·" in listed


async def test_the_profile_asks_the_zone_with_the_same_finder(chats: Chats) -> None:
    ana = chats(ANA)
    await ana.send("/profile")
    await ana.send(ANA_NAME)
    await ana.send("/skip")
    several = await ana.send("santo")
    assert "America/Santo_Domingo" in several and "Africa/Sao_Tome" in several
    review = await ana.pick("America/Santo_Domingo")
    assert "America/Santo_Domingo" in review


# -- /mydata ------------------------------------------------------------------------------


async def test_mydata_sends_a_file_with_everything_kept_about_the_member(
    chats: Chats, config: AppConfig
) -> None:
    coord = chats("coord")
    await coord.send("/whoami")
    store = coord.store
    member = store.members.for_identity(Platform.CONSOLE, "coord", language="en")
    store.members.set_profile(
        member.id, display_name="Coord Ina", organization=ANA_ORGANIZATION, time_zone="America/Lima"
    )
    case = file_report(store, member.id, ANA_ORGANIZATION)
    store.audit.record("role.granted", None, member_id=member.id, detail={"role": "coordinator"})
    await coord.send("/profile")  # a conversation in progress

    answer = await coord.send("/mydata")
    assert first_line("mydata.sent") in answer
    exported = sorted((config.data_dir / EXPORTS_DIR).glob("caucus-member-*.json"))
    assert len(exported) == 1
    data = json.loads(exported[0].read_text(encoding="utf-8"))
    assert data["profile"]["name"] == "Coord Ina"
    assert data["profile"]["organization"] == ANA_ORGANIZATION
    assert data["accounts"] == [
        {
            "platform": "console",
            "user_id": "coord",
            "since": data["accounts"][0]["since"],
            "private_chat": data["accounts"][0]["private_chat"],
            "notice_room": None,
        }
    ]
    assert [(m["working_group"], m["role"], m["set_by"]) for m in data["memberships"]] == [
        ("cawg", "coordinator", "config")
    ]
    [report] = data["case_reports"]
    assert report["number"] == case
    assert report["contents"]["narrative"] == "The dam broke in March."  # unsealed for them
    assert report["contents"]["organization"] == ANA_ORGANIZATION
    assert [entry["action"] for entry in data["audit"]] == ["role.granted"]
    assert [c["name"] for c in data["conversations"]] == ["profile"]


async def test_mydata_holds_the_organization_join_requests_and_codes_of_issue_14(
    chats: Chats, config: AppConfig
) -> None:
    # The sections other capabilities register (storage/organizations.py, joining.py,
    # accounts.py) reach the export through the same registry.
    ana = chats(ANA)
    await ana.send("/whoami")
    store = ana.store
    store.organizations.add(ANA_ORGANIZATION, "PE", "ngo")
    await ana.send("/org Quispe")
    await ana.send("/join landrights")
    await ana.send("/connect")
    await ana.send("/mydata")
    [exported] = sorted((config.data_dir / EXPORTS_DIR).glob("caucus-member-*.json"))
    data = json.loads(exported.read_text(encoding="utf-8"))
    assert data["organization"]["name"] == ANA_ORGANIZATION
    assert data["organization"]["status"] == "pending"
    assert [(r["group"], r["state"]) for r in data["join_requests"]["asked"]] == [
        ("landrights", "pending")
    ]
    [code] = data["connection_codes"]
    assert set(code) == {"made_at", "expires_at"}  # never the code, nor its hash


# -- /forgetme ----------------------------------------------------------------------------


def leave_traces(store: Store, member_id: int) -> None:
    """What a member leaves in the bot's own tables as they use it on the platforms."""
    store.members.set_profile(
        member_id, display_name=ANA_NAME, organization=ANA_ORGANIZATION, time_zone="America/Lima"
    )
    store.groups.set_role(member_id, cawg(store), Role.MEMBER)
    store.audit.record("role.granted", None, member_id=member_id, detail={"role": "member"})
    sender = {"id": ANA, "first_name": "Ana Q.", "last_name": "Mamani", "display_name": None}
    store.inbox.record(Platform.TELEGRAM, "update-1", 1, {"message": {"from": sender}})
    store.outbox.enqueue(
        [
            (Platform.TELEGRAM, CAWG_ROOM, {"kind": "relay", "author": ANA_PLATFORM_NAME}),
            (Platform.CONSOLE, ANA, {"kind": "reply", "text": "for you"}),
            (Platform.TELEGRAM, CAWG_ROOM, {"kind": "reply", "text": "someone else's"}),
        ]
    )
    store.transports.mark_unreachable(Platform.CONSOLE, ANA, "blocked")
    store.transports.callback_token(f"pick:{ANA}:" + "x" * 80)


NEEDLES = (ANA, ANA_NAME, ANA_PLATFORM_NAME, ANA_ORGANIZATION)


def bytes_found(paths: list[Path]) -> dict[str, list[str]]:
    return bytes_in(paths, NEEDLES)


def bytes_in(paths: list[Path], needles: tuple[str, ...]) -> dict[str, list[str]]:
    """Which needles each file holds, byte for byte."""
    found: dict[str, list[str]] = {}
    for path in paths:
        if path.is_file():
            held = path.read_bytes()
            hits = [needle for needle in needles if needle.encode("utf-8") in held]
            if hits:
                found[str(path)] = hits
    return found


def stored_files(config: AppConfig, database_url: str) -> list[Path]:
    database = Path(database_url.removeprefix("sqlite:///"))
    files = [database, *(Path(f"{database}{tail}") for tail in ("-wal", "-journal", "-shm"))]
    return files + [path for path in config.data_dir.rglob("*") if path.is_file()]


async def forget(chat: ConsoleChat, reports_choice: str | None) -> str:
    asked = await chat.send("/forgetme")
    if reports_choice is not None:
        assert first_line("forget.ask_reports") in asked
        asked = await chat.pick(reports_choice)
    assert first_line("forget.confirm") in asked
    return await chat.pick("Erase everything now")


async def test_forgetme_keeping_the_reports_leaves_nothing_of_the_member_anywhere(
    chats: Chats, config: AppConfig, database_url: str, backend: Backend
) -> None:
    ana = chats(ANA)
    await ana.send("/whoami")
    store = ana.store
    member = store.members.for_identity(Platform.CONSOLE, ANA, language="en")
    leave_traces(store, member.id)
    case = file_report(store, member.id, ANA_ORGANIZATION)
    named = file_report(store, member.id, None, publication="named")
    assert store.member_data.traces(NEEDLES) != []  # the check below can see them
    if backend is Backend.SQLITE:
        assert bytes_found(stored_files(config, database_url))

    done = await forget(ana, "Keep them for the network")
    assert said("forget.done") in done

    assert store.members.get(member.id) is None
    assert store.member_data.traces(NEEDLES) == []
    summary = store.cases.summary(case)
    assert summary is not None and summary.author_member_id != member.id
    detail = store.cases.detail(case)
    assert detail is not None
    assert (detail.contents.organization, detail.contents.naming) == (None, "never")
    assert detail.contents.follow_up == "no"
    assert detail.contents.narrative == "The dam broke in March."
    assert store.cases.of_author(member.id) == []
    # Each kept report has a stand-in author of its own, dated as of its submission: nothing
    # ties the two reports together, nor dates the erasure.
    first, second = store.cases.summary(case), store.cases.summary(named)
    assert first is not None and second is not None
    assert first.author_member_id != second.author_member_id
    for kept in (first, second):
        stand_in = store.members.get(kept.author_member_id)
        assert stand_in is not None and stand_in.created_at == kept.submitted_at
    named_detail = store.cases.detail(named)
    assert named_detail is not None and named_detail.contents.publication == "anonymous"
    entries = store.audit.page().entries
    assert [e.action for e in entries] == ["member.erased", "role.granted"]
    assert all(e.member_id is None for e in entries)
    assert entries[0].detail == {
        "accounts": 1,
        "memberships": 1,
        "reports_kept": 2,
        "reports_withdrawn": 0,
    }
    if backend is Backend.SQLITE:
        assert bytes_found(stored_files(config, database_url)) == {}

    # Someone else's queued message is untouched; a coordinator still has the case.
    queued = store.outbox.room_head(Platform.TELEGRAM, CAWG_ROOM)
    assert [row.payload for row in queued] == [{"kind": "reply", "text": "someone else's"}]
    coordinator = await chats("coord").send(f"/case {case}")
    assert "Tailings in the river" in coordinator


async def test_forgetme_withdrawing_the_reports_erases_them(chats: Chats) -> None:
    bea = chats("bea-k2p")
    await bea.send("/whoami")
    store = bea.store
    member = store.members.for_identity(Platform.CONSOLE, "bea-k2p", language="en")
    case = file_report(store, member.id, None)
    await forget(bea, "Withdraw and erase them")
    assert store.cases.summary(case) is None
    assert store.members.get(member.id) is None


async def test_forgetme_is_cancelled_by_keeping_the_data(chats: Chats) -> None:
    cy = chats("cy-9")
    await cy.send("/whoami")
    asked = await cy.send("/forgetme")
    assert said("forget.no_reports") in asked  # no question about reports
    kept = await cy.pick("No, keep my data")
    assert said("conversation.cancelled") in kept
    assert cy.store.members.for_identity(Platform.CONSOLE, "cy-9", language="en").id


# -- who may ------------------------------------------------------------------------------

READERS = ("member1", "othercoord", "gadmin", "root")
"""A member, a coordinator of another group, a group's admin, a network admin."""


@pytest.mark.parametrize("reader", READERS)
async def test_each_command_is_for_anyone_about_themselves_in_private_only(
    chats: Chats, config: AppConfig, reader: str
) -> None:
    chat = chats(reader)
    answer = await chat.send("/mydata")
    assert first_line("mydata.sent") in answer
    [exported] = sorted((config.data_dir / EXPORTS_DIR).glob("caucus-member-*.json"))
    accounts = json.loads(exported.read_text(encoding="utf-8"))["accounts"]
    assert [account["user_id"] for account in accounts] == [reader]
    assert first_line("timezone.set") in await chat.send("/timezone Lima")
    forgetting = await chat.send("/forgetme")
    if reader == "member1":
        assert first_line("forget.confirm") in forgetting
        await chat.send("/cancel")
    else:  # named in the configuration, which would bring the account back
        assert said("forget.configured", command=CommandRef("forgetme")) in forgetting

    store = chat.store
    router = build_router(config, store)
    in_room = Origin(Platform.TELEGRAM, CAWG_ROOM, reader, is_direct=False)
    for name in ("mydata", "timezone", "forgetme"):
        with store.transaction():
            answers = router.handle(Command(in_room, name, ("Cairo",)))
        hint = said("router.direct_only", command=CommandRef(name)).replace("/", "")
        assert [answer.text.replace("/", "") for answer in answers] == [hint], name
    member = store.members.for_identity(Platform.TELEGRAM, reader, language="en")
    assert member.time_zone is None  # nothing changed from the room


def test_the_farewell_delivered_after_the_erasure_keeps_no_trace_of_the_chat(
    store: Store,
) -> None:
    """On Telegram a private chat's id is the account's: the reply that says the member was
    erased is queued after the erasure, and its row must not keep that id once sent."""
    gone, staying = "5550123", "5550999"
    for account in (gone, staying):
        store.members.for_identity(Platform.TELEGRAM, account, language="en", direct_room=account)
    member = store.members.for_identity(Platform.TELEGRAM, gone, language="en")
    with store.transaction():
        store.member_data.erase(member.id, keep_reports=False)
        farewell = store.outbox.enqueue(
            [
                (Platform.TELEGRAM, account, {"kind": "bot", "text": "bye"})
                for account in (gone, staying)
            ]
        )
    for outbox_id in farewell:
        store.outbox.mark_delivered(outbox_id, "sent-1")
    assert store.member_data.traces([gone]) == []
    assert "outbox.room_id" in store.member_data.traces([staying])


# -- over the real Telegram library and the Bot API emulator --------------------------------

TELEGRAM_ID = 7391254806
TELEGRAM_NEEDLES = (str(TELEGRAM_ID), "Ana Quispe", "anaquispe_rq", ANA_NAME)


@pytest.mark.e2e
@pytest.mark.backends(Backend.SQLITE)
async def test_on_telegram_a_member_sets_a_zone_takes_their_data_and_is_forgotten(
    tmp_path: Path, database_url: str
) -> None:
    """The raw updates the inbox kept, the replies the outbox sent to the private chat (whose
    id is the account's) and the farewell: afterwards no file of the bot holds their names
    or account id."""
    async with BotApiEmulator(make_token()) as emulator:
        config = telegram_config(tmp_path, database_url, emulator, extra='data_dir = "data"')
        bot = TelegramBot(config)
        await bot.start()
        try:
            ana = TelegramChat(emulator, bot, "ana")
            ana.user_id = TELEGRAM_ID
            emulator.add_user(TELEGRAM_ID, "Ana Quispe", username="anaquispe_rq")
            assert "America/Lima" in await ana.send("/timezone Lima")
            member = bot.store.members.for_identity(
                Platform.TELEGRAM, str(TELEGRAM_ID), language="en"
            )
            bot.store.members.set_profile(
                member.id, display_name=ANA_NAME, organization=None, time_zone="America/Lima"
            )
            await ana.send("/mydata")
            [document] = [m for m in emulator.sent(TELEGRAM_ID) if m.kind == "document"]
            assert document.file_bytes is not None
            assert json.loads(document.file_bytes)["profile"]["name"] == ANA_NAME
            assert bytes_in(stored_files(config, database_url), TELEGRAM_NEEDLES)

            await ana.send("/forgetme")
            done = await ana.pick("Erase everything now")
            assert said("forget.done") in done
        finally:
            await bot.stop()
    assert bytes_in(stored_files(config, database_url), TELEGRAM_NEEDLES) == {}


def test_forgetting_keeps_other_members_words_that_mention_the_erased_name(
    store: Store,
) -> None:
    """Someone else's message is theirs, even when it names the erased member ("Ana was
    detained"): it is kept and handled; only where it quotes the erased account (a reply
    to them) is that account blanked in it. Their own messages go."""
    ana = store.members.for_identity(Platform.TELEGRAM, "5550123", language="en")
    store.members.set_profile(ana.id, display_name=ANA_NAME, organization=None, time_zone=None)
    rosa = {"id": 5550777, "first_name": "Rosa"}
    quoted = {"from": {"id": 5550123, "first_name": "Ana Q."}, "text": "we marched"}
    others = {"from": rosa, "text": f"{ANA_NAME} was detained", "reply_to_message": quoted}
    store.inbox.record(Platform.TELEGRAM, "update-7", 7, {"message": others})
    store.inbox.record(Platform.TELEGRAM, "update-8", 8, {"message": {"from": {"id": 5550123}}})
    rosas_relay = {
        "kind": "relayed_text",
        "author": {"header": "Rosa (Telegram)", "key": "k1"},
        "rich": {"text": f"Santa {ANA_NAME} union", "spans": []},
    }
    anas_relay = {**rosas_relay, "author": {"header": f"{ANA_NAME} (Telegram)", "key": "k2"}}
    kept, dropped = store.outbox.enqueue(
        [(Platform.MATRIX, "!group:x", rosas_relay), (Platform.MATRIX, "!group:x", anas_relay)]
    )
    with store.transaction():
        store.member_data.erase(ana.id, keep_reports=False)

    [left] = store.inbox.pending(Platform.TELEGRAM)
    assert left.key == "update-7"
    message = left.payload["message"]
    assert message["text"] == f"{ANA_NAME} was detained"  # Rosa's words, as she wrote them
    assert message["reply_to_message"]["from"] == {"id": 0, "first_name": ""}
    assert message["from"] == rosa
    pending = [row.id for row in store.outbox.pending(Platform.MATRIX)]
    assert kept in pending and dropped not in pending
