"""Member organizations on the console, over SQLite and PostgreSQL: claims confirmed and
declined, one organization per member, signatories, the CSV import's dry run, and who may
use each command; and once on Telegram (the emulator), the coordinator's button."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_router, open_store
from bot.config import AppConfig, load_config
from bot.types import ChoicePicked, CommandRef, Message, Origin, Platform, Role
from handlers.organizations_import import plan_import
from storage import Store
from storage.audit import AuditRecord
from storage.organizations import NameTaken, OrganizationRecord, Standing
from storage.statement_records import (
    Answer,
    ListOrder,
    StatementFields,
    WhoSigns,
    organization_signer,
)
from tests.harness.chat import ConsoleChat, console_chats
from tests.harness.databases import Backend
from tests.harness.features import first_line, said
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import (
    USER_IDS,
    TelegramBot,
    TelegramChat,
    make_token,
    settle,
    telegram_config,
)

CONFIG = """
data_dir = "data"
admins = ["console:root"]

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en"]
coordinators = ["console:coord"]
admins = ["console:gadmin"]

[[working_groups]]
slug = "land"
name = "Land Rights"
languages = ["en"]
coordinators = ["console:other"]
"""


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> AppConfig:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return load_config(path, env={"CAUCUS_DATABASE_URL": database_url})


Chats = Callable[[str], ConsoleChat]


@pytest.fixture
async def chats(config: AppConfig) -> AsyncIterator[Chats]:
    store = open_store(config)  # one store for every member's chat, closed last
    try:
        async with console_chats(config, store) as chat:
            yield chat
    finally:
        store.close()


def member_id(store: Store, name: str) -> int:
    return store.members.for_identity(Platform.CONSOLE, name, language="en").id


def in_group(store: Store, name: str, slug: str = "cawg") -> int:
    """Member ``name`` made a member of working group ``slug``; their number."""
    number = member_id(store, name)
    group = store.groups.by_slug(slug)
    assert group is not None
    store.groups.set_role(number, group.id, Role.MEMBER)
    return number


def actions(store: Store) -> list[tuple[str, int | None, int | None]]:
    """The audit log, oldest first: (action, actor, organization)."""
    entries: list[AuditRecord] = list(reversed(store.audit.page(limit=500).entries))
    return [(entry.action, entry.actor_member_id, entry.organization_id) for entry in entries]


def pick_as(config: AppConfig, store: Store, name: str, value: str) -> str:
    """A choice ``name`` picks through the router, as a button would send it."""
    router = build_router(config, store)
    origin = Origin(Platform.CONSOLE, "console", name, is_direct=True)
    with store.transaction():
        answers = router.handle(ChoicePicked(origin, value))
    return "\n".join(answer.text for answer in answers)


# -- claims -----------------------------------------------------------------------------


async def test_a_claim_is_confirmed_by_a_coordinator_of_the_members_group(
    chats: Chats, config: AppConfig
) -> None:
    store = chats("root").store
    ana = in_group(store, "ana")
    red = store.organizations.add("Red Étnica de Mujeres", "CO", "movement")
    store.organizations.add("Frente Sindical", "PE", "union")

    claimed = await chats("ana").send("/org etnica")
    assert said("orgs.claimed_unheard", name="Red Étnica de Mujeres") in claimed
    assert said("orgs.mine_pending", name="Red Étnica de Mujeres") in await chats("ana").send(
        "/org"
    )
    # A coordinator of another group sees nothing to decide, and a crafted tap is refused.
    assert said("orgs.no_claims") in await chats("other").send("/orgclaims")
    refused = pick_as(config, store, "other", f"orgclaim:y:{ana}:{red.id}")
    assert said("orgs.not_your_claim") in refused
    affiliation = store.organizations.affiliation_of(ana)
    assert affiliation is not None and affiliation.standing is Standing.PENDING

    waiting = await chats("coord").send("/orgclaims")
    assert said("orgs.claim_notice", number=ana, member="—", name="Red Étnica de Mujeres") in (
        waiting
    )
    decided = await chats("coord").pick(said("orgs.confirm"))
    assert said("orgs.decided_confirmed", number=ana, name="Red Étnica de Mujeres") in decided
    assert said("orgs.mine_confirmed", name="Red Étnica de Mujeres") in await chats("ana").send(
        "/org"
    )
    # Decided once: the same tap again changes nothing.
    again = pick_as(config, store, "coord", f"orgclaim:n:{ana}:{red.id}")
    assert said("orgs.claim_gone") in again
    coord = member_id(store, "coord")
    assert actions(store) == [
        ("organization.claimed", ana, red.id),
        ("organization.confirmed", coord, red.id),
    ]


async def test_a_declined_claim_leaves_the_member_without_an_organization(
    chats: Chats,
) -> None:
    store = chats("root").store
    ana = member_id(store, "ana")  # in no working group: a network admin decides
    store.organizations.add("Frente Sindical", "PE", "union")
    await chats("ana").send("/org frente")
    assert said("orgs.no_claims") in await chats("coord").send("/orgclaims")
    await chats("root").send("/orgclaims")
    declined = await chats("root").pick(said("orgs.decline"))
    assert said("orgs.decided_declined", number=ana, name="Frente Sindical") in declined
    assert store.organizations.affiliation_of(ana) is None
    assert said("orgs.mine_none", org=CommandRef("org"), orgs=CommandRef("orgs")) in (
        await chats("ana").send("/org")
    )


async def test_a_member_belongs_to_one_organization_and_leaves_it_before_another(
    chats: Chats,
) -> None:
    store = chats("root").store
    ana = in_group(store, "ana")
    first = store.organizations.add("Frente Sindical", "PE", "union")
    second = store.organizations.add("الشبكة العربية للتنمية", "LB", "ngo")

    await chats("ana").send("/org frente")
    replaced = await chats("ana").send("/org العربية")  # a new claim replaces a pending one
    assert said("orgs.claimed_unheard", name="الشبكة العربية للتنمية") in replaced
    assert store.organizations.decide(ana, first.id, confirm=True) is False
    assert store.organizations.decide(ana, second.id, confirm=True) is True

    refused = await chats("ana").send("/org frente")
    assert (
        said("orgs.leave_first", name="الشبكة العربية للتنمية", command=CommandRef("org"))
        in refused
    )
    affiliation = store.organizations.affiliation_of(ana)
    assert affiliation is not None and affiliation.organization.id == second.id
    assert said("orgs.left", name="الشبكة العربية للتنمية") in await chats("ana").send("/org leave")
    assert said("orgs.claimed_unheard", name="Frente Sindical") in await chats("ana").send(
        "/org FRENTE"
    )
    assert [action for action, _, _ in actions(store)] == [
        "organization.claimed",
        "organization.claimed",
        "organization.left",
        "organization.claimed",
    ]


async def test_several_matches_are_offered_as_numbered_choices(chats: Chats) -> None:
    store = chats("root").store
    ana = member_id(store, "ana")
    store.organizations.add("Red Étnica", "CO", "movement")
    rural = store.organizations.add("Red Rural", "BO", "community")
    offered = await chats("ana").send("/org red")
    assert "Red Étnica" in offered and "Red Rural" in offered
    await chats("ana").pick("Red Rural")
    affiliation = store.organizations.affiliation_of(ana)
    assert affiliation is not None and affiliation.organization.id == rural.id
    nothing = await chats("ana").send("/org zzz")
    assert said("orgs.no_match", text="zzz", orgs=CommandRef("orgs")) in nothing


# -- signatories ------------------------------------------------------------------------


async def test_a_coordinator_cannot_make_themselves_a_signatory(chats: Chats) -> None:
    store = chats("root").store
    red = store.organizations.add("Red Étnica", "CO", "movement")
    coord = member_id(store, "coord")
    store.organizations.claim(coord, red.id)
    store.organizations.decide(coord, red.id, confirm=True)
    refused = await chats("coord").send(f"/signatory add {red.id} {coord}")
    assert said("orgs.no_self_signatory", name="Red Étnica") in refused
    assert store.organizations.signatories(red.id) == []
    # A network admin names them: someone else decided.
    named = await chats("root").send(f"/signatory add {red.id} {coord}")
    assert said("orgs.signatory_added", number=coord, name="Red Étnica") in named
    assert store.organizations.signatories(red.id) == [coord]


def test_every_organizations_signatories_and_the_confirmed_members_are_read_at_once(
    config: AppConfig,
) -> None:
    store = open_store(config)
    try:
        red = store.organizations.add("Red Étnica", "CO", "movement")
        rural = store.organizations.add("Rural", "PE", "union")
        ana, bea, coord, pending = (member_id(store, n) for n in ("ana", "bea", "coord", "dan"))
        for member, organization, signs in (
            (ana, red, True),
            (bea, red, False),
            (coord, rural, True),
        ):
            store.organizations.claim(member, organization.id)
            store.organizations.decide(member, organization.id, confirm=True)
            store.organizations.set_signatory(member, organization.id, signs)
        store.organizations.claim(pending, rural.id)
        assert store.organizations.signatories_by_organization() == {
            red.id: [ana],
            rural.id: [coord],
        }
        assert store.organizations.confirmed_members() == {ana, bea, coord}
    finally:
        store.close()


async def test_signatories_are_designated_by_coordinators_and_by_each_other(
    chats: Chats,
) -> None:
    store = chats("root").store
    red = store.organizations.add("Red Étnica", "CO", "movement")
    other = store.organizations.add("Frente Sindical", "PE", "union")
    ana, bob, dan, eva = (in_group(store, name) for name in ("ana", "bob", "dan", "eva"))
    for number, organization in ((ana, red), (bob, red), (dan, red), (eva, other)):
        store.organizations.claim(number, organization.id)
        store.organizations.decide(number, organization.id, confirm=True)

    added = await chats("coord").send(f"/signatory add {red.id} {ana}")
    assert said("orgs.signatory_added", number=ana, name="Red Étnica") in added
    # A signatory adds a member of their own organization, not one of another.
    assert said("orgs.signatory_added", number=bob, name="Red Étnica") in await chats("ana").send(
        f"/signatory add {red.id} {bob}"
    )
    assert said(
        "orgs.not_a_member_of", number=eva, name="Red Étnica", command=CommandRef("org")
    ) in await chats("ana").send(f"/signatory add {red.id} {eva}")
    # A member who is not a signatory may not; nor may a signatory of another organization.
    assert said("orgs.not_signatory_here", name="Red Étnica") in await chats("dan").send(
        f"/signatory remove {red.id} {bob}"
    )
    assert said("orgs.not_signatory_here", name="Red Étnica") in await chats("other").send(
        f"/signatory add {red.id} {dan}"
    )
    assert said("orgs.signatory_removed", number=bob, name="Red Étnica") in await chats("ana").send(
        f"/signatory remove {red.id} {bob}"
    )
    assert said("orgs.signatory_usage", command=CommandRef("signatory")) in await chats("ana").send(
        "/signatory promote 1 2"
    )
    assert store.organizations.signatories(red.id) == [ana]
    coord = member_id(store, "coord")
    assert actions(store) == [
        ("signatory.added", coord, red.id),
        ("signatory.added", ana, red.id),
        ("signatory.removed", ana, red.id),
    ]
    leaving = await chats("ana").send("/org leave")  # leaving ends signing too
    assert said("orgs.left", name="Red Étnica") in leaving
    assert store.organizations.signatories(red.id) == []


# -- the list ---------------------------------------------------------------------------


async def test_admins_add_edit_and_remove_organizations_with_names_unique_without_accents(
    chats: Chats,
) -> None:
    store = chats("root").store
    root = chats("root")
    added = await root.send("/orgadd Red Étnica de Mujeres; Colombia; movement; redetnica.org")
    assert said("orgs.added") in added
    red = store.organizations.by_name("red etnica de mujeres")
    assert red is not None
    assert (red.country, red.kind, red.website) == ("CO", "movement", "https://redetnica.org")
    assert said("orgs.name_taken", name="RED ETNICA DE MUJERES") in await root.send(
        "/orgadd RED ETNICA DE MUJERES; CO; ngo"
    )
    with pytest.raises(NameTaken):
        store.organizations.add("red étnica de  mujeres", "CO", "ngo")
    assert said("orgs.field_country", country="Narnia") in await root.send(
        "/orgadd Nueva; Narnia; ngo"
    )
    assert store.organizations.page().total == 1

    edited = await root.send(f"/orgedit {red.id} kind union")
    assert said("orgs.edited") in edited
    await root.send(f"/orgedit {red.id} website -")
    red = store.organizations.get(red.id)
    assert red is not None and (red.kind, red.website) == ("union", None)
    listed = await root.send("/orgs")
    assert said("orgs.kind_union") in listed and "Colombia" in listed

    removed = await root.send(f"/orgremove {red.id}")
    assert said("orgs.removed", number=red.id, name="Red Étnica de Mujeres") in removed
    assert store.organizations.page().total == 0
    rootn = member_id(store, "root")
    assert actions(store) == [
        ("organization.added", rootn, red.id),
        ("organization.edited", rootn, red.id),
        ("organization.edited", rootn, red.id),
        ("organization.removed", rootn, red.id),
    ]


async def test_an_organization_that_answered_a_statement_is_not_removed_and_its_answers_stay(
    chats: Chats,
) -> None:
    store = chats("root").store
    group = store.groups.by_slug("cawg")
    assert group is not None
    fields = StatementFields(
        working_group_id=group.id,
        title="Stop the dam",
        language="en",
        deadline=store.now() + timedelta(days=7),
        who_signs=WhoSigns.GROUP,
        individuals=False,
        list_order=ListOrder.ALPHABETICAL,
        rooms=(),
        time_zone="UTC",
    )
    red = store.organizations.add("Red Étnica", "CO", "movement")
    ana = in_group(store, "ana")
    signed, declined = (store.statements.open(fields, "We call.", None, None) for _ in range(2))
    for statement, given in ((signed, Answer.SIGNED), (declined, Answer.DECLINED)):
        store.statements.answer(
            statement.id,
            signer=organization_signer(red.id),
            member_id=ana,
            answer=given,
            text_hash=statement.current.text_hash,
            now=store.now(),
        )
    store.statements.close(signed.id)
    refused = await chats("root").send(f"/orgremove {red.id}")
    assert (
        said(
            "orgs.remove_answered_statements",
            number=red.id,
            name="Red Étnica",
            statements=f"#{signed.id}, #{declined.id}",
        )
        in refused
    )
    assert store.organizations.get(red.id) is not None
    assert [s.organization_id for s in store.statements.signatures(signed.id)] == [red.id]


CSV = """name,country,kind,website
Red Étnica,CO,movement,https://redetnica.org
Frente Sindical,Perú,union,
Nueva Red,XX,ngo,
Sin tipo,BR,club,
Red Etnica,CO,ngo,
"Coletivo, Terra",BR,community,coletivo.org.br
"""


async def test_a_csv_import_shows_a_dry_run_and_applies_only_when_asked(
    chats: Chats, config: AppConfig
) -> None:
    store = chats("root").store
    root = chats("root")
    store.organizations.add("Frente Sindical", "PE", "union")
    old = store.organizations.add("Coletivo, Terra", "BR", "ngo")

    asked = await root.send("/orgimport")
    assert said("orgs.import_ask") in asked
    await root.send(CSV)
    dry = await root.pick(said("conversation.done"))
    assert (
        said(
            "orgs.import_dry_run",
            added=Message.counted("orgs.count_added", 1),
            updated=Message.counted("orgs.count_updated", 1),
            unchanged=Message.counted("orgs.count_unchanged", 1),
            refused=Message.counted("orgs.count_refused", 3),
        )
        in dry
    )
    for line, reason in (
        (4, said("orgs.field_country", country="XX")),
        (5, said("orgs.field_kind", kind="club", kinds=", ".join(KINDS))),
        (6, said("orgs.line_repeats", first=2)),
    ):
        assert said("orgs.import_refused_line", line=line, reason=reason) in dry, line
    assert said("orgs.import_added_line", line=2, name="Red Étnica") in dry
    assert said("orgs.import_updated_line", line=7, name="Coletivo, Terra", number=old.id) in dry
    assert store.organizations.page().total == 2  # nothing changed yet

    applied = await root.pick(said("orgs.import_apply"))
    assert first_line("orgs.import_applied") in applied
    names = {organization.name: organization for organization in store.organizations.all()}
    assert set(names) == {"Frente Sindical", "Coletivo, Terra", "Red Étnica"}
    assert names["Coletivo, Terra"].kind == "community"
    assert names["Coletivo, Terra"].website == "https://coletivo.org.br"
    assert [action for action, _, _ in actions(store)] == [
        "organization.added",
        "organization.edited",
    ]
    # The same dry run's buttons do nothing a second time.
    gone = pick_as(config, store, "root", "orgimport:drop:1")
    assert said("orgs.import_gone", command=CommandRef("orgimport")) in gone


KINDS = ("ngo", "movement", "indigenous", "union", "community", "academic", "individual")


def test_a_csv_from_a_spreadsheet_in_semicolons_without_a_header_is_read_alike() -> None:
    existing = [OrganizationRecord(7, "Frente Sindical", "PE", "union", None)]
    plan = plan_import(
        'Frente Sindical;PE;union\nRed;CO\nOtra Red;CO;NGO;otra.org\n"Sin cerrar;CO;ngo\n',
        existing,
        ("en", "es"),
    )
    assert [row.name for row in plan.unchanged] == ["Frente Sindical"]
    assert [(row.line, row.kind, row.website) for row in plan.added] == [
        (3, "ngo", "https://otra.org")
    ]
    assert [line for line, _ in plan.refused] == [2, 4]
    assert plan.refused[0][1] == Message.of("orgs.line_columns", columns=2)


# -- who may do what --------------------------------------------------------------------

ACTORS = ("member", "other", "gadmin", "root")
"""A member, a coordinator of another group, the member's group's admin, a network admin."""


def _not_allowed(role: Role) -> str:
    return said("router.not_allowed", role=Message.of(f"role.{role.value}"))


async def test_each_command_does_exactly_what_each_role_allows(
    chats: Chats, config: AppConfig
) -> None:
    store = chats("root").store
    red = store.organizations.add("Red Étnica", "CO", "movement")
    target = in_group(store, "ana")
    store.organizations.claim(target, red.id)
    store.organizations.decide(target, red.id, confirm=True)
    in_group(store, "member")
    only_network = said("orgs.network_admins_only")
    expected: dict[str, tuple[str, str, str, str]] = {
        "/orgs": ("Red Étnica",) * 4,
        "/org": (said("orgs.mine_none", org=CommandRef("org"), orgs=CommandRef("orgs")),) * 4,
        "/orgclaims": (_not_allowed(Role.COORDINATOR),) + (said("orgs.no_claims"),) * 3,
        "/orgadd Nueva; CO; ngo": (
            _not_allowed(Role.ADMIN),
            _not_allowed(Role.ADMIN),
            only_network,
            said("orgs.added"),
        ),
        f"/orgedit {red.id} kind ngo": (
            _not_allowed(Role.ADMIN),
            _not_allowed(Role.ADMIN),
            only_network,
            said("orgs.edited"),
        ),
        "/orgimport": (
            _not_allowed(Role.ADMIN),
            _not_allowed(Role.ADMIN),
            only_network,
            said("orgs.import_ask"),
        ),
        f"/signatory add {red.id} {target}": (
            said("orgs.not_signatory_here", name="Red Étnica"),
            said("orgs.not_signatory_here", name="Red Étnica"),
            said("orgs.signatory_added", number=target, name="Red Étnica"),
            said("orgs.already_signatory", number=target, name="Red Étnica"),
        ),
        f"/orgremove {red.id}": (
            _not_allowed(Role.ADMIN),
            _not_allowed(Role.ADMIN),
            only_network,
            said("orgs.removed", number=red.id, name="Red Étnica"),
        ),
    }
    for command, answers in expected.items():
        for actor, answer in zip(ACTORS, answers, strict=True):
            got = await chats(actor).send(command)
            assert answer in got, (command, actor, got)
            if command == "/orgimport" and actor == "root":
                await chats(actor).send("/cancel")
    assert store.organizations.get(red.id) is None

    # A claim's buttons: a member may not press them, nor a coordinator of another group;
    # the claimant's group's admin and a network admin may.
    frente = store.organizations.add("Frente Sindical", "PE", "union")
    claimants = {name: in_group(store, name) for name in ("zed", "yan")}
    for claimant in claimants.values():
        store.organizations.claim(claimant, frente.id)
    taps = {
        "member": ("zed", _not_allowed(Role.COORDINATOR)),
        "other": ("zed", said("orgs.not_your_claim")),
        "gadmin": (
            "zed",
            said("orgs.decided_confirmed", number=claimants["zed"], name="Frente Sindical"),
        ),
        "root": (
            "yan",
            said("orgs.decided_confirmed", number=claimants["yan"], name="Frente Sindical"),
        ),
    }
    for actor, (claimant, answer) in taps.items():
        got = pick_as(config, store, actor, f"orgclaim:y:{claimants[claimant]}:{frente.id}")
        assert answer in got, (actor, got)
    for claimant in claimants.values():
        affiliation = store.organizations.affiliation_of(claimant)
        assert affiliation is not None and affiliation.standing is Standing.CONFIRMED


# -- on Telegram ------------------------------------------------------------------------

TELEGRAM_CONFIG = f"""
data_dir = "data"

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en", "es"]
coordinators = ["telegram:{USER_IDS["coord"]}"]
"""
ADMIN_CONFIG = f'admins = ["telegram:{USER_IDS["root"]}"]\n'


@pytest.mark.backends(Backend.SQLITE)
@pytest.mark.e2e
async def test_on_telegram_a_claim_is_confirmed_with_the_notices_button_and_a_csv_file_imported(
    tmp_path: Path, database_url: str
) -> None:
    async with BotApiEmulator(make_token()) as emulator:
        config = telegram_config(
            tmp_path, database_url, emulator, extra=ADMIN_CONFIG + TELEGRAM_CONFIG
        )
        bot = TelegramBot(config)
        await bot.start()
        try:
            coordinator = TelegramChat(emulator, bot, "coord")
            member = TelegramChat(emulator, bot, "ana", language_code="es")
            await coordinator.send("/start")
            await member.send("/start")
            store = bot.store
            ana = store.members.for_identity(
                Platform.TELEGRAM, str(USER_IDS["ana"]), language="es"
            ).id
            group = store.groups.by_slug("cawg")
            assert group is not None
            store.groups.set_role(ana, group.id, Role.MEMBER)
            red = store.organizations.add("Red Étnica", "CO", "movement")

            claimed = await member.send("/org etnica")
            assert said("orgs.claimed", "es", name="Red Étnica") in claimed
            notice = emulator.sent(USER_IDS["coord"])[-1]
            assert said("orgs.claim_notice", number=ana, member="Ana", name="Red Étnica") in (
                notice.shown or ""
            )
            buttons = [b for row in notice.reply_markup["inline_keyboard"] for b in row]
            confirm = next(b for b in buttons if b["text"] == said("orgs.confirm"))
            before = len(emulator.sent(USER_IDS["ana"]))
            update = emulator.press_button(
                USER_IDS["coord"],
                USER_IDS["coord"],
                notice.message_id,
                confirm["callback_data"],
            )
            await settle(emulator, store, update["update_id"])
            told = emulator.sent(USER_IDS["ana"])[before:]
            assert [m.shown for m in told] == [said("orgs.you_confirmed", "es", name="Red Étnica")]
            affiliation = store.organizations.affiliation_of(ana)
            assert affiliation is not None and affiliation.standing is Standing.CONFIRMED
            assert affiliation.organization.id == red.id

            # A network admin imports a CSV sent as a file (as a spreadsheet saves it).
            admin = TelegramChat(emulator, bot, "root")
            await admin.send("/orgimport")
            data = "name;country;kind;website\r\nFrente Sindical;PE;union;\r\n".encode("cp1252")
            await admin.send_document(data, "orgs.csv", "text/csv")
            # Done makes the bot read the file on the event loop while it handles the tap: wait
            # on the chat alone (the harness's settling reads the store on the loop, which
            # would hold the read back until the handler gives up).
            root = USER_IDS["root"]

            def press(label: str) -> dict[str, Any]:
                offered = next(m for m in reversed(emulator.sent(root)) if m.reply_markup)
                data = next(
                    button["callback_data"]
                    for row in offered.reply_markup["inline_keyboard"]
                    for button in row
                    if button["text"] == label
                )
                return emulator.press_button(root, root, offered.message_id, data)

            press(said("conversation.done"))
            added = said("orgs.import_added_line", line=2, name="Frente Sindical")
            await emulator.wait_for(
                lambda: any(added in (m.shown or "") for m in emulator.sent(root)), timeout=20
            )
            await settle(emulator, store, press(said("orgs.import_apply"))["update_id"])
            assert store.organizations.by_name("frente sindical") is not None
        finally:
            await bot.stop()
