"""``/audit`` tells each change the other capabilities record in a sentence of its own:
accounts connected and split off, join requests and their decisions, joins and leaves,
organizations added, edited, removed, claimed, confirmed and left, signatories. On the
console over both databases, every change made through the real commands; and a check that
every action a handler records has a sentence, so that a new one is not left to the
fallback (its name and details) unnoticed."""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from bot.app import open_store
from bot.config import AppConfig, load_config
from bot.types import Literal, Message, Platform, Territory
from handlers.audit import SENTENCES
from storage import Store
from storage.joining import JoinState
from tests.harness.chat import ConsoleChat, console_chats
from tests.harness.clock import Clock
from tests.harness.features import CATALOGS, said

ROOT = Path(__file__).resolve().parent.parent
CODE = re.compile(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}\b")

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
slug = "legal"
name = "Legal Aid"
languages = ["en"]
join = "open"
"""


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> AppConfig:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return load_config(path, env={"CAUCUS_DATABASE_URL": database_url})


@pytest.fixture
def store(config: AppConfig, clock: Clock) -> Iterator[Store]:
    open_store(config).close()
    opened = Store(config.database_url, clock=clock)
    try:
        yield opened
    finally:
        opened.close()


Chats = Callable[[str], ConsoleChat]

IMPORT = """name,country,kind,website
Coletivo Terra,BR,community,
Red Étnica de Mujeres,CO,union,redetnica.org
"""


@pytest.fixture
async def chats(config: AppConfig, store: Store) -> AsyncIterator[Chats]:
    async with console_chats(config, store) as chat:
        yield chat


def member(store: Store, user_id: str, name: str | None = None) -> int:
    found = store.members.for_identity(Platform.CONSOLE, user_id, language="en")
    if name is not None:
        store.members.set_profile(found.id, display_name=name, organization=None, time_zone=None)
    return found.id


def shown(message: Message, language: str) -> str:
    return CATALOGS.renderer(language, Platform.CONSOLE).label(message)


async def whole_log(chat: ConsoleChat) -> str:
    """Every page of the reader's ``/audit``."""
    pages = [await chat.send("/audit")]
    while "/audit " in pages[-1].strip().splitlines()[-1]:
        pages.append(await chat.send(f"/audit {len(pages) + 1}"))
    return "\n".join(pages)


async def make_every_change(store: Store, chats: Chats) -> dict[str, int]:
    """Each kind of change through the commands members, coordinators and admins type; the
    numbers of who and what they concerned."""
    numbers = {
        "root": member(store, "root", "Rosa Root"),
        "ana": member(store, "ana", "Ana Pérez"),
        "bob": member(store, "bob"),
        "eva": member(store, "eva"),
        "ana2": member(store, "ana2"),
        "fay": member(store, "fay"),
    }
    ana, coord, root = chats("ana"), chats("coord"), chats("root")
    # Accounts: ana's second account connects with a code from the first, then splits off.
    code = CODE.search(await ana.send("/connect"))
    assert code is not None
    await chats("ana2").send(f"/connect {code.group(0)}")
    await chats("ana2").send("/disconnect")
    numbers["split"] = member(store, "ana2")
    # Joining: a request approved, one declined, one withdrawn; an open group joined, left.
    await ana.send("/join cawg")
    await coord.send("/groups")
    await coord.pick(said("join.approve"))
    await chats("bob").send("/join cawg")
    await coord.send("/groups")
    await coord.pick(said("join.decline"))
    await chats("eva").send("/join cawg")
    await chats("eva").send("/leave cawg")
    await ana.send("/join legal")
    await ana.send("/leave legal")
    # Organizations: added, claimed and confirmed, signatories, edited, left, removed.
    await root.send("/orgadd Red Étnica de Mujeres; CO; movement")
    await root.send("/orgadd Frente Sindical; PE; union")
    red, frente = (o.id for o in sorted(store.organizations.all(), key=lambda o: o.id))
    numbers |= {"red": red, "frente": frente}
    await ana.send("/org frente")
    await ana.send("/org etnica")  # in place of the pending claim
    await coord.send("/orgclaims")
    await coord.pick(said("orgs.confirm"))
    await coord.send(f"/signatory add {red} {numbers['ana']}")
    await coord.send(f"/signatory remove {red} {numbers['ana']}")
    await coord.send(f"/signatory add {red} {numbers['ana']}")
    await root.send(f"/orgedit {red} kind union")
    await ana.send("/org leave")
    await root.send(f"/orgremove {frente}")
    await chats("bob").send("/org etnica")
    await root.send("/orgclaims")  # bob is in no group: a network admin decides
    await root.pick(said("orgs.decline"))
    await chats("eva").send("/org etnica")
    await chats("eva").send("/org leave")
    await root.send("/orgimport")
    await root.send(IMPORT)
    await root.pick(said("conversation.done"))
    await root.pick(said("orgs.import_apply"))
    numbers["coletivo"] = max(o.id for o in store.organizations.all())
    await chats("fay").send("/forgetme")
    await chats("fay").pick(said("forget.choice_erase"))
    return numbers


def expected_sentences(store: Store, numbers: dict[str, int]) -> list[tuple[str, Message]]:
    """Each action's sentence as ``/audit`` should word it (the counts a merge moved are
    the ones it recorded)."""
    rosa = Message.of("audit.member_named", number=numbers["root"], name=Literal("Rosa Root"))
    ana = Message.of("audit.member_named", number=numbers["ana"], name=Literal("Ana Pérez"))
    coord_number = member(store, "coord")
    coord = Message.of("audit.member_number", number=coord_number)
    bob = Message.of("audit.member_number", number=numbers["bob"])
    eva = Message.of("audit.member_number", number=numbers["eva"])
    cawg, legal = Literal("Corporate Accountability"), Literal("Legal Aid")
    red = Message.of(
        "audit.organization_named", number=numbers["red"], name=Literal("Red Étnica de Mujeres")
    )
    frente_gone = Message.of("audit.organization_gone", number=numbers["frente"])
    recorded = {e.action: e for e in reversed(store.audit.page(limit=100).entries)}
    merge = recorded["account.connected"].detail
    requests = {
        e.member_id: e.detail["request"]
        for e in store.audit.page(limit=100).entries
        if e.action == "membership.requested"
    }

    def request(who: Message) -> int:
        number = requests[int(who.param_map["number"])]  # type: ignore[call-overload]
        assert isinstance(number, int)
        return number

    imported = recorded["organization.added"].detail["import"]
    erased = recorded["member.erased"].detail

    def counted(key: str, count: object) -> Message:
        assert isinstance(count, int)
        return Message.counted(key, count)

    return [
        (
            "account.connected",
            Message.of(
                "audit.account_connected",
                member=ana,
                merged=numbers["ana2"],
                accounts=counted("audit.accounts_moved", merge["accounts_moved"]),
                records=counted("audit.records_moved", merge["rows_moved"]),
                combined=counted("audit.records_combined", merge["rows_combined"]),
            ),
        ),
        (
            "account.disconnected",
            Message.of(
                "audit.account_disconnected",
                member=ana,
                new=numbers["split"],
                left=Message.counted("audit.accounts_left", 1),
            ),
        ),
        (
            "membership.requested",
            Message.of("audit.membership_requested", member=ana, where=cawg, request=request(ana)),
        ),
        (
            "membership.approved",
            Message.of(
                "audit.membership_approved",
                actor=coord,
                member=ana,
                where=cawg,
                request=request(ana),
            ),
        ),
        (
            "membership.declined",
            Message.of(
                "audit.membership_declined",
                actor=coord,
                member=bob,
                where=cawg,
                request=request(bob),
            ),
        ),
        (
            "membership.cancelled",
            Message.of("audit.membership_cancelled", member=eva, where=cawg, request=request(eva)),
        ),
        ("membership.joined", Message.of("audit.membership_joined", member=ana, where=legal)),
        ("membership.left", Message.of("audit.membership_left", member=ana, where=legal)),
        (
            "organization.added",
            Message.of(
                "audit.org_added",
                actor=rosa,
                organization=red,
                kind=Message.of("orgs.kind_movement"),
                country=Territory("CO"),
            ),
        ),
        (
            "organization.claimed",
            Message.of("audit.org_claimed", member=ana, organization=frente_gone),
        ),
        (
            "organization.claimed",
            Message.of(
                "audit.org_claimed_replacing", member=ana, organization=red, earlier=frente_gone
            ),
        ),
        (
            "organization.confirmed",
            Message.of("audit.org_confirmed", actor=coord, member=ana, organization=red),
        ),
        (
            "signatory.added",
            Message.of("audit.signatory_added", actor=coord, member=ana, organization=red),
        ),
        (
            "signatory.removed",
            Message.of("audit.signatory_removed", actor=coord, member=ana, organization=red),
        ),
        (
            "organization.edited",
            Message.of(
                "audit.org_edited",
                actor=rosa,
                organization=red,
                field=Message.of("audit.field_kind"),
            ),
        ),
        (
            "organization.left",
            Message.of("audit.org_left_signatory", member=ana, organization=red),
        ),
        (
            "organization.declined",
            Message.of("audit.org_declined", actor=rosa, member=bob, organization=red),
        ),
        (
            "organization.left",
            Message.of("audit.org_claim_withdrawn", member=eva, organization=red),
        ),
        (
            "organization.added",
            Message.of(
                "audit.org_imported",
                actor=rosa,
                organization=Message.of(
                    "audit.organization_named",
                    number=numbers["coletivo"],
                    name=Literal("Coletivo Terra"),
                ),
                batch=imported,
                line=2,
            ),
        ),
        (
            "organization.edited",
            Message.of(
                "audit.org_import_updated", actor=rosa, organization=red, batch=imported, line=3
            ),
        ),
        (
            "member.erased",
            Message.of(
                "audit.member_erased",
                accounts=counted("audit.erased_accounts", erased["accounts"]),
                memberships=counted("audit.erased_memberships", erased["memberships"]),
                withdrawn=counted("audit.reports_withdrawn", erased["reports_withdrawn"]),
                kept=counted("audit.reports_kept", erased["reports_kept"]),
            ),
        ),
        (
            "organization.removed",
            Message.of("audit.org_removed", actor=rosa, organization=frente_gone),
        ),
    ]


async def test_audit_words_every_change_made_through_the_commands(
    store: Store, chats: Chats
) -> None:
    numbers = await make_every_change(store, chats)
    expected = expected_sentences(store, numbers)
    recorded = {entry.action for entry in store.audit.page(limit=100).entries}
    assert recorded == {action for action, _ in expected}  # each kind of change was made

    for language in ("en", "es"):
        store.members.set_language(numbers["root"], language)
        log = await whole_log(chats("root"))
        for action, sentence in expected:
            assert shown(sentence, language) in log, f"{action} ({language}):\n{log}"
            assert action not in log  # no entry falls back to its raw name

    # A group's admin reads its joins and decisions; organizations and accounts are about
    # no group, and stay the network admins'.
    group_log = await whole_log(chats("gadmin"))
    for action, sentence in expected:
        about_cawg = action.startswith("membership.") and "Corporate Accountability" in shown(
            sentence, "en"
        )
        assert (shown(sentence, "en") in group_log) is about_cawg, action


# -- every action recorded has a sentence ---------------------------------------------------


BUILT_ACTIONS = {
    # joining.py records a coordinator's decision (or a withdrawal) by the state it leaves
    # the request in; a request is never decided into "pending".
    "membership.{state.value}": {
        f"membership.{state.value}" for state in JoinState if state is not JoinState.PENDING
    },
}


def _actions(node: ast.expr, module: str) -> set[str]:
    """The action names an ``audit.record`` call's first argument can take."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _actions(node.body, module) | _actions(node.orelse, module)
    if isinstance(node, ast.Name):
        value = getattr(importlib.import_module(module), node.id)
        assert isinstance(value, str), f"{module}: {node.id} is not an action name"
        return {value}
    if isinstance(node, ast.JoinedStr):
        shape = "".join(
            part.value if isinstance(part, ast.Constant) else "{" + ast.unparse(part.value) + "}"
            for part in node.values
            if isinstance(part, ast.Constant | ast.FormattedValue)
        )
        assert shape in BUILT_ACTIONS, f"{module}: say which actions {shape!r} builds"
        return BUILT_ACTIONS[shape]
    raise AssertionError(f"{module}: an audit action written as {ast.unparse(node)}")


def recorded_actions() -> dict[str, set[str]]:
    """Each action a handler passes to ``audit.record``, and the modules that do."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "handlers").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "record"
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "audit"
            ):
                for action in _actions(node.args[0], module):
                    found.setdefault(action, set()).add(module)
    return found


def test_every_action_a_handler_records_has_a_sentence() -> None:
    found = recorded_actions()
    assert {"account.connected", "membership.approved", "signatory.added"} <= set(found)
    missing = {action: modules for action, modules in found.items() if action not in SENTENCES}
    assert not missing, f"audit actions with no sentence in handlers/audit.py: {missing}"
