"""Who may do what, as a table: every command of the table is tried by a member, a
coordinator of another group, a group's admin and a network admin, and each gets exactly
what the rules allow: the answer the table names, and the change it makes only when the
answer is the allowed one. On the console over both databases.

To add a command: add a :class:`Rule` to :data:`RULES` (its ``prepare`` sets up what it
acts on; ``effect`` says whether a write was made, for commands that write).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app import build_router, open_store
from bot.config import AppConfig, load_config
from bot.router import Router
from bot.types import ChoicePicked, Command, Incoming, Origin, Platform, Role
from storage import Store
from storage.roster import ROLE_SET
from tests.harness.features import CATALOGS

CONFIG = """
data_dir = "data"
admins = ["console:root"]

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en"]
admins = ["console:gadmin"]
coordinators = ["console:coord"]

[[working_groups]]
slug = "land"
name = "Land Rights"
languages = ["en"]
admins = ["console:oadmin"]
coordinators = ["console:ocoord"]
"""

MEMBER = "a member"
OTHER_COORDINATOR = "a coordinator of another group"
GROUP_ADMIN = "the group's admin"
NETWORK_ADMIN = "a network admin"
ACTORS = {MEMBER: "ana", OTHER_COORDINATOR: "ocoord", GROUP_ADMIN: "gadmin", NETWORK_ADMIN: "root"}
"""Each actor's console account, as the configuration above makes them."""

TARGET_NAME = "Zed Target"
"""The name of the member each try acts on: a refusal never shows it."""

NOT_ALLOWED = "router.not_allowed"


@dataclass(frozen=True)
class World:
    """What a rule acts on: the store, a fresh member per try, and the groups' ids."""

    store: Store
    target: int
    groups: Mapping[str, int]


@dataclass(frozen=True)
class Rule:
    """One command and, for each actor, the catalog key its answer starts with."""

    ask: str
    """A command typed (``{target}`` is the member acted on), or ``pick:VALUE`` for a
    choice picked (as a forged button press would be)."""
    answers: Mapping[str, str]
    allowed: frozenset[str]
    """The answers that mean the request was carried out."""
    prepare: Callable[[World], None] | None = None
    effect: Callable[[World], bool] | None = None
    """Whether the write was made (``None``: the command only reads)."""

    def __str__(self) -> str:
        return self.ask


def holds(role: Role | None, slug: str | None) -> Callable[[World], bool]:
    def held(world: World) -> bool:
        roles = world.store.groups.roles_of(world.target)
        if slug is None:
            return roles.network is role
        return roles.by_group.get(world.groups[slug]) is role

    return held


def give(role: Role, slug: str | None) -> Callable[[World], None]:
    def given(world: World) -> None:
        world.store.roster.change_role(
            world.target, None if slug is None else world.groups[slug], role
        )

    return given


def logged_in(slug: str) -> Callable[[World], None]:
    def logged(world: World) -> None:
        world.store.audit.record(
            ROLE_SET, None, member_id=world.target, working_group_id=world.groups[slug]
        )

    return logged


def everyone(answer: str, **others: str) -> dict[str, str]:
    """``answer`` for every actor but those named in ``others`` (by actor constant)."""
    return {actor: others.get(actor, answer) for actor in ACTORS}


def admins_only(answer: str, group_admin: str | None = None) -> dict[str, str]:
    """Members and coordinators are refused by role; the group admin gets ``group_admin``
    (default: the same answer as the network admin)."""
    return {
        MEMBER: NOT_ALLOWED,
        OTHER_COORDINATOR: NOT_ALLOWED,
        GROUP_ADMIN: group_admin or answer,
        NETWORK_ADMIN: answer,
    }


RULES = (
    Rule(
        "/role {target} coordinator cawg",
        admins_only("members.role_set"),
        frozenset({"members.role_set"}),
        effect=holds(Role.COORDINATOR, "cawg"),
    ),
    Rule(
        "/role {target} admin land",
        admins_only("members.role_set", group_admin="members.not_admin_here"),
        frozenset({"members.role_set"}),
        effect=holds(Role.ADMIN, "land"),
    ),
    Rule(
        "/role {target} admin",
        admins_only("members.role_set", group_admin="members.not_admin_here"),
        frozenset({"members.role_set"}),
        effect=holds(Role.ADMIN, None),
    ),
    Rule(
        "/role {target} member cawg",
        admins_only("members.role_removed"),
        frozenset({"members.role_removed"}),
        prepare=give(Role.COORDINATOR, "cawg"),
        effect=holds(Role.MEMBER, "cawg"),
    ),
    Rule(
        "/role {target} member",
        admins_only("members.role_removed_network", group_admin="members.not_admin_here"),
        frozenset({"members.role_removed_network"}),
        prepare=give(Role.COORDINATOR, None),
        effect=holds(None, None),
    ),
    Rule(
        "pick:role:{target}:admin:{cawg}",
        admins_only("members.role_set"),
        frozenset({"members.role_set"}),
        effect=holds(Role.ADMIN, "cawg"),
    ),
    Rule(
        "pick:role:{target}:admin:0",
        admins_only("members.role_set", group_admin="members.not_admin_here"),
        frozenset({"members.role_set"}),
        effect=holds(Role.ADMIN, None),
    ),
    Rule(
        "/roles cawg",
        admins_only("members.roles_header"),
        frozenset({"members.roles_header"}),
        prepare=give(Role.COORDINATOR, "cawg"),
    ),
    Rule(
        "/roles",
        admins_only("members.roles_header", group_admin="members.roles_not_yours"),
        frozenset({"members.roles_header"}),
        prepare=give(Role.ADMIN, None),
    ),
    Rule(
        "/members cawg",
        everyone(
            "members.list_header",
            **{MEMBER: NOT_ALLOWED, OTHER_COORDINATOR: "members.members_not_yours"},
        ),
        frozenset({"members.list_header"}),
        prepare=give(Role.MEMBER, "cawg"),
    ),
    Rule(
        "/members land",
        everyone(
            "members.list_header",
            **{MEMBER: NOT_ALLOWED, GROUP_ADMIN: "members.members_not_yours"},
        ),
        frozenset({"members.list_header"}),
        prepare=give(Role.MEMBER, "land"),
    ),
    Rule(
        "/audit cawg",
        admins_only("audit.header"),
        frozenset({"audit.header"}),
        prepare=logged_in("cawg"),
    ),
    Rule(
        "/audit land",
        admins_only("audit.header", group_admin="audit.not_yours"),
        frozenset({"audit.header"}),
        prepare=logged_in("land"),
    ),
    Rule(
        "/audit",
        admins_only("audit.header"),
        frozenset({"audit.header"}),
        prepare=logged_in("cawg"),
    ),
    # Importing (issue 15): any coordinator or admin may read a feed; nothing is published.
    Rule(
        "/import", everyone("imports.usage", **{MEMBER: NOT_ALLOWED}), frozenset({"imports.usage"})
    ),
)


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> AppConfig:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return load_config(path, env={"CAUCUS_DATABASE_URL": database_url})


@pytest.fixture
def store(config: AppConfig) -> Iterator[Store]:
    opened = open_store(config)
    try:
        yield opened
    finally:
        opened.close()


def says(key: str, line: str) -> bool:
    """Whether ``line`` is the English text of ``key`` (any plural form), whatever its
    placeholders hold."""
    entry = CATALOGS.entries["en"][key]
    forms = (entry,) if isinstance(entry, str) else entry
    for form in forms:
        pattern = ".*".join(re.escape(part) for part in re.split(r"\{[a-z_]+\}", form))
        if re.fullmatch(pattern, line):
            return True
    return False


def event_for(rule: Rule, origin: Origin, world: World) -> Incoming:
    values = {"target": world.target, **world.groups}
    if rule.ask.startswith("pick:"):
        return ChoicePicked(origin, rule.ask.removeprefix("pick:").format(**values))
    name, *args = rule.ask.format(**values).removeprefix("/").split()
    return Command(origin, name, tuple(args))


def attempt(router: Router, store: Store, event: Incoming) -> str:
    with store.transaction():
        return "\n".join(answer.text for answer in router.handle(event))


@pytest.mark.parametrize("rule", RULES, ids=str)
def test_each_actor_gets_exactly_what_the_rules_allow(
    rule: Rule, config: AppConfig, store: Store
) -> None:
    router = build_router(config, store)
    groups = {group.slug: group.id for group in store.groups.all()}
    for actor, user_id in ACTORS.items():
        expected = rule.answers[actor]
        target = store.members.for_identity(Platform.CONSOLE, f"target-{actor}", language="en")
        store.members.set_profile(
            target.id, display_name=TARGET_NAME, organization=None, time_zone=None
        )
        world = World(store, target.id, groups)
        if rule.prepare is not None:
            rule.prepare(world)
        origin = Origin(Platform.CONSOLE, "console", user_id, is_direct=True)

        answer = attempt(router, store, event_for(rule, origin, world))

        assert says(expected, answer.splitlines()[0]), f"{actor}: {answer!r}"
        allowed = expected in rule.allowed
        if rule.effect is not None:
            assert rule.effect(world) is allowed, f"{actor}: the change made or not"
        if not allowed:
            assert TARGET_NAME not in answer, f"{actor} was shown what they may not see"


def test_every_command_of_the_table_has_an_answer_for_every_actor() -> None:
    for rule in RULES:
        assert set(rule.answers) == set(ACTORS), rule.ask
        assert set(rule.answers.values()) & rule.allowed, f"nobody may {rule.ask}"
