"""Roles by command and the lists admins and coordinators read: ``/role`` giving and taking
roles (by number or by a part of a name), ``/roles``, ``/members`` and ``/audit``. On the
console over both databases; who may use each is tests/test_authorization.py's."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from bot.app import build_router, open_store
from bot.config import AppConfig, load_config
from bot.moments import day, moment
from bot.types import Command, CommandRef, Literal, Message, Origin, Platform, Role
from storage import Store
from storage.roster import ROLE_REMOVED, ROLE_SET
from tests.harness.chat import ConsoleChat, console_chats
from tests.harness.clock import Clock
from tests.harness.features import CATALOGS, first_line, said

CAWG_ROOM = "-1001"

CONFIG = f"""
data_dir = "data"
admins = ["console:root"]

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en"]
telegram_chats = [{CAWG_ROOM}]
admins = ["console:gadmin"]
coordinators = ["console:coord"]

[[working_groups]]
slug = "land"
name = "Land Rights"
languages = ["en"]
admins = ["console:oadmin"]

[[working_groups]]
slug = "quiet"
name = "Quiet"
"""


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> AppConfig:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return load_config(path, env={"CAUCUS_DATABASE_URL": database_url})


@pytest.fixture
def store(config: AppConfig, clock: Clock) -> Iterator[Store]:
    """The configured database, its timestamps from ``clock``."""
    open_store(config).close()
    opened = Store(config.database_url, clock=clock)
    try:
        yield opened
    finally:
        opened.close()


Chats = Callable[[str], ConsoleChat]


@pytest.fixture
async def chats(config: AppConfig, store: Store) -> AsyncIterator[Chats]:
    async with console_chats(config, store) as chat:
        yield chat


def member(
    store: Store, user_id: str, name: str | None = None, organization: str | None = None
) -> int:
    """A console member (made if new), with a display name and organization if given."""
    found = store.members.for_identity(Platform.CONSOLE, user_id, language="en")
    if name is not None or organization is not None:
        store.members.set_profile(
            found.id, display_name=name, organization=organization, time_zone=None
        )
    return found.id


def said_counted(key: str, count: int, **params: object) -> str:
    """The text of a plural entry for ``count``, in English."""
    return shown(Message.counted(key, count, **params))  # type: ignore[arg-type]


def shown(message: Message) -> str:
    """A message as the console shows it in English."""
    return CATALOGS.renderer("en", Platform.CONSOLE).label(message)


def group_id(store: Store, slug: str) -> int:
    found = store.groups.by_slug(slug)
    assert found is not None
    return found.id


# -- /role: giving and taking ------------------------------------------------------------------


async def test_role_member_takes_a_coordinators_role_away_and_they_stay_in_the_group(
    chats: Chats, store: Store
) -> None:
    ana = member(store, "ana")
    cawg = group_id(store, "cawg")
    root = chats("root")
    assert first_line("members.role_set") in await root.send(f"/role {ana} coordinator cawg")
    assert said("help.members") in await chats("ana").send("/help")

    removed = await root.send(f"/role {ana} member cawg")

    assert (
        said(
            "members.role_removed",
            number=ana,
            role=Message.of("role.coordinator"),
            where=Literal("Corporate Accountability"),
        )
        in removed
    )
    assert store.groups.roles_of(ana).by_group == {cawg: Role.MEMBER}
    assert said("help.members") not in await chats("ana").send("/help")
    entries = store.audit.page().entries
    assert [(entry.action, dict(entry.detail)) for entry in entries] == [
        (ROLE_REMOVED, {"role": "member", "previous": "coordinator"}),
        (ROLE_SET, {"role": "coordinator", "previous": None}),
    ]
    assert entries[0].member_id == ana and entries[0].working_group_id == cawg
    again = await root.send(f"/role {ana} member cawg")
    assert first_line("members.role_unchanged") in again
    assert len(store.audit.page().entries) == 2


async def test_a_network_wide_role_taken_away_leaves_none(chats: Chats, store: Store) -> None:
    ana = member(store, "ana")
    root = chats("root")
    await root.send(f"/role {ana} admin")

    removed = await root.send(f"/role {ana} member")

    assert (
        said(
            "members.role_removed_network",
            number=ana,
            role=Message.of("role.admin"),
            where=Message.of("members.network"),
        )
        in removed
    )
    assert store.groups.roles_of(ana).network is None
    nothing = await root.send(f"/role {ana} member")
    assert (
        said("members.no_role_to_remove", number=ana, where=Message.of("members.network"))
        in nothing
    )
    assert [entry.action for entry in store.audit.page().entries] == [ROLE_REMOVED, ROLE_SET]


async def test_a_configured_role_is_neither_lowered_nor_removed_and_the_refusal_names_the_setting(
    chats: Chats, store: Store
) -> None:
    coord = member(store, "coord")
    root_number = member(store, "root")
    cawg = group_id(store, "cawg")
    gadmin = chats("gadmin")
    await gadmin.send("/language es")

    lowered = await gadmin.send(f"/role {coord} member cawg")
    raised = await chats("root").send(f"/role {coord} admin cawg")
    network = await chats("root").send(f"/role {root_number} member")

    expected = {
        "number": coord,
        "role": Message.of("role.coordinator"),
        "where": Literal("Corporate Accountability"),
        "setting": Literal("coordinators"),
        "slug": Literal("cawg"),
    }
    assert said("members.role_from_config", "es", **expected) in lowered
    assert said("members.role_from_config", **expected) in raised
    assert (
        said("members.role_from_config_network", number=root_number, role=Message.of("role.admin"))
        in network
    )
    assert store.groups.roles_of(coord).by_group == {cawg: Role.COORDINATOR}
    assert store.groups.roles_of(root_number).network is Role.ADMIN
    assert store.audit.page().total == 0


async def test_a_member_is_found_by_a_part_of_their_name_and_picked_when_several_match(
    chats: Chats, store: Store
) -> None:
    ana = member(store, "ana", "Ana María Pérez")
    mariana = member(store, "mariana", "Mariana Silva")
    juan = member(store, "juan", "Juan Ochoa")
    cawg = group_id(store, "cawg")
    root = chats("root")

    offered = await root.send("/role MARIA coordinator cawg")
    assert first_line("members.which_member") in offered
    assert said("members.name_choice", number=ana, name=Literal("Ana María Pérez")) in offered
    assert "Juan" not in offered
    assert store.groups.roles_of(mariana).by_group == {}
    picked = await root.pick("Mariana Silva")
    assert first_line("members.role_set") in picked
    assert store.groups.roles_of(mariana).by_group == {cawg: Role.COORDINATOR}
    assert store.groups.roles_of(ana).by_group == {}

    assert first_line("members.role_set") in await root.send("/role ochoa coordinator cawg")
    assert store.groups.roles_of(juan).by_group == {cawg: Role.COORDINATOR}
    assert first_line("members.role_set") in await root.send("/role ana maría admin cawg")
    assert store.groups.roles_of(ana).by_group == {cawg: Role.ADMIN}
    unknown = await root.send("/role Zoltan admin cawg")
    assert (
        said("members.no_such_name", name=Literal("Zoltan"), whoami=CommandRef("whoami")) in unknown
    )
    assert first_line("members.role_usage") in await root.send("/role an admin cawg")


async def test_a_pick_is_checked_again_when_it_is_made(chats: Chats, store: Store) -> None:
    """A group admin's offered choice is refused if, meanwhile, they lost that group."""
    member(store, "ana", "Ana Pérez")
    member(store, "anabel", "Anabel Ruiz")
    gadmin_number = member(store, "gadmin")
    gadmin = chats("gadmin")
    assert first_line("members.which_member") in await gadmin.send("/role ana coordinator cawg")
    with store.transaction():  # the configuration is changed: gadmin no longer runs cawg
        store.groups.sync_configured([], [], default_language="en")
    store.roster.change_role(gadmin_number, group_id(store, "land"), Role.ADMIN)

    refused = await gadmin.pick("Anabel Ruiz")

    assert first_line("members.not_admin_here") in refused
    assert store.audit.page().total == 0


# -- /roles ----------------------------------------------------------------------------------


async def test_roles_lists_who_holds_which_role_and_marks_the_configured_ones(
    chats: Chats, store: Store
) -> None:
    ana = member(store, "ana", "Ana Pérez")
    coord = member(store, "coord", "Coco Díaz")
    gadmin = member(store, "gadmin")
    member(store, "bea", "Bea")
    store.roster.change_role(member(store, "bea"), group_id(store, "cawg"), Role.MEMBER)
    root = chats("root")
    await root.send(f"/role {ana} coordinator cawg")

    listed = await root.send("/roles cawg")

    assert (
        said_counted("members.roles_header", 3, where=Literal("Corporate Accountability")) in listed
    )
    lines = listed.splitlines()
    admin_line = said(
        "members.holder_line_config",
        role=Message.of("role.admin"),
        number=gadmin,
        name=Message.of("members.no_name"),
    )
    coord_line = said(
        "members.holder_line_config",
        role=Message.of("role.coordinator"),
        number=coord,
        name=Literal("Coco Díaz"),
    )
    ana_line = said(
        "members.holder_line",
        role=Message.of("role.coordinator"),
        number=ana,
        name=Literal("Ana Pérez"),
    )
    assert [line for line in lines if line in (admin_line, coord_line, ana_line)] == [
        admin_line,
        coord_line,
        ana_line,
    ]
    assert "Bea" not in listed
    network = await root.send("/roles")
    assert (
        said(
            "members.holder_line_config",
            role=Message.of("role.admin"),
            number=member(store, "root"),
            name=Message.of("members.no_name"),
        )
        in network
    )
    land = await root.send("/roles land")
    assert said_counted("members.roles_header", 1, where=Literal("Land Rights")) in land
    empty = await root.send("/roles quiet")
    assert said("members.no_role_holders", where=Literal("Quiet")) in empty
    assert first_line("members.roles_usage") in await root.send("/roles cawg land")


# -- /members --------------------------------------------------------------------------------


async def test_members_shows_twenty_a_page_with_organization_platforms_language_role_and_date(
    chats: Chats, store: Store, clock: Clock
) -> None:
    cawg = group_id(store, "cawg")
    joined = clock.now
    for index in range(1, 24):
        found = store.members.for_identity(Platform.TELEGRAM, f"{9000 + index}", language="es")
        store.roster.change_role(found.id, cawg, Role.MEMBER)
    ana = member(store, "ana", "Ana Pérez", "Justicia Ya")
    clock.advance(days=40)
    store.roster.change_role(ana, cawg, Role.MEMBER)
    coord = chats("coord")
    await coord.send("/whoami")  # 2 configured (gadmin, coord) + 23 + ana = 26 members

    first = await coord.send("/members CAWG")

    assert (
        said_counted(
            "members.list_header", 26, group=Literal("Corporate Accountability"), page=1, pages=2
        )
        in first
    )
    numbered = [line for line in first.splitlines() if line.startswith("No. ")]
    assert len(numbered) == 20
    assert (
        said("members.list_more", command=CommandRef("members"), group=Literal("cawg"), next=2)
        in first
    )
    telegram_line = numbered[-1]
    assert said("platform.telegram") in telegram_line and "Español" in telegram_line
    assert day(joined, "en") in telegram_line
    assert said("members.no_organization") in telegram_line
    second = await coord.send("/members cawg 2")
    assert len([line for line in second.splitlines() if line.startswith("No. ")]) == 6
    ana_line = Message.of(
        "members.member_line",
        number=ana,
        name=Literal("Ana Pérez"),
        organization=Literal("Justicia Ya"),
        platforms=Message.of("platform.console"),
        language=Message.of("language.native_name@en"),
        role=Message.of("role.member"),
        joined=Literal(day(clock.now, "en")),
    )
    assert shown(ana_line) in second
    assert re.search(r"90\d\d", first + second) is None, "an account id is shown"
    assert said("members.role_configured", role=Message.of("role.coordinator")) in (first + second)
    assert first_line("members.list_more") not in second
    past = await coord.send("/members cawg 3")
    assert (
        said("members.no_such_page", page=3, pages=Message.counted("members.pages_count", 2))
        in past
    )
    assert first_line("members.members_usage") in await coord.send("/members cawg x")
    assert first_line("members.members_usage") in await coord.send("/members")
    assert first_line("members.no_such_group") in await coord.send("/members nope")
    assert first_line("members.list_empty") in await chats("root").send("/members quiet")


async def test_members_shows_the_confirmed_organization_before_the_profiles_own_wording(
    chats: Chats, store: Store
) -> None:
    cawg = group_id(store, "cawg")
    ana = member(store, "ana", "Ana Pérez", "Justicia Ya (my words)")
    store.roster.change_role(ana, cawg, Role.MEMBER)
    red = store.organizations.add("Red Justicia Ya", "PE", "ngo")
    store.organizations.claim(ana, red.id)
    coord = chats("coord")
    claimed = await coord.send("/members cawg")
    assert "Justicia Ya (my words)" in claimed  # a claim is not vouched for yet
    store.organizations.decide(ana, red.id, confirm=True)
    confirmed = await coord.send("/members cawg")
    assert "Red Justicia Ya" in confirmed and "(my words)" not in confirmed


# -- /audit ----------------------------------------------------------------------------------


async def test_audit_reads_newest_first_with_time_who_and_a_sentence_for_each_change(
    chats: Chats, store: Store, clock: Clock
) -> None:
    root_number = member(store, "root", "Rosa Root")
    ana = member(store, "ana", "Ana Pérez")
    cawg = group_id(store, "cawg")
    root = chats("root")
    await root.send(f"/role {ana} coordinator cawg")
    clock.advance(minutes=5)
    await root.send(f"/role {ana} member cawg")
    clock.advance(minutes=5)
    store.audit.record(
        "org.claimed", ana, member_id=ana, organization_id=7, detail={"decision": "pending"}
    )
    clock.advance(minutes=5)
    store.audit.record("config.synced", None, working_group_id=cawg)

    read = await root.send("/audit")

    lines = read.splitlines()
    assert (
        said_counted("audit.header", 4, where=Message.of("audit.everything"), page=1, pages=1)
        in lines[0]
    )
    rosa = Message.of("audit.member_named", number=root_number, name=Literal("Rosa Root"))
    ana_named = Message.of("audit.member_named", number=ana, name=Literal("Ana Pérez"))
    where = Literal("Corporate Accountability")
    expected = [
        said(
            "audit.other",
            actor=Message.of("audit.actor_none"),
            action=Literal("config.synced"),
            details=Literal("group=cawg"),
        ),
        said(
            "audit.other_about",
            actor=ana_named,
            action=Literal("org.claimed"),
            member=ana_named,
            details=Literal("organization=7, decision=pending"),
        ),
        said(
            "audit.role_removed",
            actor=rosa,
            member=ana_named,
            role=Message.of("role.coordinator"),
            where=where,
        ),
        said(
            "audit.role_set",
            actor=rosa,
            member=ana_named,
            role=Message.of("role.coordinator"),
            where=where,
        ),
    ]
    assert [line.split(": ", 1)[1] for line in lines[1:5]] == expected
    assert lines[4].startswith(moment(clock.now.replace(minute=0), "en", "UTC"))


async def test_audit_pages_ten_at_a_time(chats: Chats, store: Store) -> None:
    ana = member(store, "ana")
    cawg = group_id(store, "cawg")
    for number in range(12):
        store.audit.record(
            ROLE_SET, None, member_id=ana, working_group_id=cawg, detail={"n": number}
        )
    root = chats("root")

    first = await root.send("/audit cawg")
    second = await root.send("/audit 2 cawg")

    assert first.count("n=") == 10 and "n=11" in first and "n=2" in first
    assert said("audit.more", command=CommandRef("audit"), next=Literal("cawg 2")) in first
    assert second.count("n=") == 2 and "n=1" in second and "n=0" in second
    assert first_line("audit.more") not in second
    assert first_line("audit.no_such_page") in await root.send("/audit cawg 3")
    assert first_line("audit.usage") in await root.send("/audit cawg land")
    assert first_line("audit.empty") in await root.send("/audit quiet")


async def test_a_group_admin_reads_the_log_of_their_own_groups_only(
    chats: Chats, store: Store
) -> None:
    ana = member(store, "ana")
    root = chats("root")
    await root.send(f"/role {ana} coordinator cawg")
    await root.send(f"/role {ana} coordinator land")
    await root.send(f"/role {ana} admin")
    land = Literal("Land Rights")

    own = await chats("oadmin").send("/audit")

    assert said_counted("audit.header", 1, where=land, page=1, pages=1) in own
    assert own.count("Land Rights") == 2
    assert "Corporate Accountability" not in own and said("members.network") not in own
    assert first_line("audit.not_yours") in await chats("oadmin").send("/audit cawg")
    everything = await root.send("/audit")
    for where in (Literal("Corporate Accountability"), land, Message.of("members.network")):
        made = said(
            "audit.role_set",
            actor=Message.of("audit.member_number", number=member(store, "root")),
            member=Message.of("audit.member_number", number=ana),
            role=Message.of("role.admin" if isinstance(where, Message) else "role.coordinator"),
            where=where,
        )
        assert made in everything


# -- private chats only ----------------------------------------------------------------------


def test_the_lists_answer_in_a_group_room_only_with_a_hint_to_ask_privately(
    config: AppConfig, store: Store
) -> None:
    router = build_router(config, store)
    in_room = Origin(Platform.TELEGRAM, CAWG_ROOM, "77", is_direct=False)
    for name, args in (("members", ("cawg",)), ("roles", ("cawg",)), ("audit", ())):
        with store.transaction():
            answers = router.handle(Command(in_room, name, args))
        hint = said("router.direct_only", command=CommandRef(name)).replace("/", "")
        assert [answer.text.replace("/", "") for answer in answers] == [hint], name
