"""Joining working groups, by the router on SQLite and PostgreSQL: a request to the group's
coordinators with buttons, the first decision wins, an open group, leaving, refusals, and
who may decide. Members and coordinators write from Telegram and Matrix accounts (notices
reach only those platforms' private chats); no platform runs here, so the welcome says whom
to ask. The journey over PTB with the emulator and a real Synapse is in
tests/test_joining_e2e.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command as alembic_command
from sqlalchemy import inspect

from bot.app import build_router, group_specs, open_store
from bot.config import AppConfig, load_config
from bot.notices import notice_address
from bot.router import Router
from bot.types import (
    ChoicePicked,
    Command,
    CommandRef,
    Incoming,
    Literal,
    Message,
    Origin,
    Outgoing,
    Platform,
    Role,
)
from storage import Store
from storage.database import alembic_config
from storage.joining import JoinState
from tests.harness.features import CATALOGS, first_line
from tests.test_storage import head_revision

TG = Platform.TELEGRAM
MX = Platform.MATRIX
CONFIG = """
data_dir = "data"
admins = ["telegram:1003"]

[telegram]

[matrix]
homeserver = "http://127.0.0.1:9"
user_id = "@bot:x"

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en", "es"]
telegram_chats = [-100111]
matrix_rooms = ["!cawg:x"]
coordinators = ["telegram:1002", "matrix:@carla:x"]
admins = ["telegram:1004"]
description = { en = "Business and human rights", es = "Empresas y derechos humanos" }

[[working_groups]]
slug = "legal"
name = "Legal Aid"
languages = ["fr", "en"]
join = "open"
coordinators = ["telegram:1005"]
description = { fr = "Aide juridique aux défenseurs" }

[[working_groups]]
slug = "quiet"
name = "Quiet Group"
coordinators = ["telegram:1009"]
"""


def private(platform: Platform, user: str) -> Origin:
    return Origin(platform, user, user, is_direct=True)


ANA = private(TG, "1001")
"""A member, in no group."""
COORD = private(TG, "1002")
CARLA = private(MX, "@carla:x")
"""The two coordinators of cawg."""
ROOT = private(TG, "1003")
"""A network admin."""
GROUP_ADMIN = private(TG, "1004")
"""An admin of cawg only."""
OTHER = private(TG, "1005")
"""The coordinator of another group (legal)."""


class Bot:
    def __init__(self, router: Router, store: Store) -> None:
        self.router = router
        self.store = store

    def handle(self, event: Incoming) -> list[Outgoing]:
        with self.store.transaction():
            return self.router.handle(event)

    def send(self, origin: Origin, text: str) -> list[Outgoing]:
        name, *args = text.removeprefix("/").split()
        return self.handle(Command(origin, name, tuple(args)))

    def member_id(self, origin: Origin) -> int:
        return self.store.members.for_identity(origin.platform, origin.user_id, language="en").id

    def in_group(self, origin: Origin, slug: str) -> Role | None:
        group = self.store.groups.by_slug(slug)
        assert group is not None
        return self.store.groups.roles_of(self.member_id(origin)).by_group.get(group.id)

    def actions(self) -> list[tuple[str, int | None, dict[str, object]]]:
        page = self.store.audit.page(limit=100)
        return [
            (entry.action, entry.actor_member_id, dict(entry.detail))
            for entry in reversed(page.entries)
        ]


@pytest.fixture
def bot(tmp_path: Path, database_url: str) -> Iterator[Bot]:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    env = {
        "CAUCUS_DATABASE_URL": database_url,
        "CAUCUS_TELEGRAM_TOKEN": "123:abc",
        "CAUCUS_MATRIX_ACCESS_TOKEN": "token",
        "CAUCUS_MATRIX_PICKLE_KEY": "pickle",
    }
    config: AppConfig = load_config(path, env=env)
    store = open_store(config)
    running = Bot(build_router(config, store), store)
    for origin in (ANA, COORD, CARLA, ROOT, GROUP_ADMIN, OTHER):
        running.send(origin, "/start")  # each has written privately: notices reach them
    try:
        yield running
    finally:
        store.close()


def text(key: str, platform: Platform = TG, language: str = "en", **params: object) -> str:
    renderer = CATALOGS.renderer(language, platform)
    return renderer.label(Message.of(key, **params))  # type: ignore[arg-type]


def to(outgoing: list[Outgoing], room: str) -> str:
    return "\n".join(out.text for out in outgoing if out.room_id == room)


def button(outgoing: list[Outgoing], room: str, label: str) -> str:
    return next(
        choice.value
        for out in outgoing
        if out.room_id == room
        for choice in out.choices
        if choice.label == label
    )


def member(number: int, platform: Platform = TG, language: str = "en") -> str:
    return text("join.member_numbered", platform, language, number=number)


def request(bot: Bot, origin: Origin = ANA) -> list[Outgoing]:
    return bot.send(origin, "/join cawg")


# -- requests and decisions -----------------------------------------------------------------


def test_a_request_reaches_each_coordinator_with_buttons_and_approval_welcomes_the_member(
    bot: Bot,
) -> None:
    asked = request(bot)
    ana = bot.member_id(ANA)
    said = to(asked, ANA.room_id)
    assert text("join.requested", group=Literal("Corporate Accountability")) in said
    notice = text(
        "join.request_notice", member=Message.of("join.member_numbered", number=ana), group="x"
    ).split("x")[0]
    carla_room = notice_address(CARLA.user_id)
    for room in (COORD.room_id, GROUP_ADMIN.room_id, carla_room):
        assert notice in to(asked, room)
        assert button(asked, room, text("join.approve")).startswith("join:approve:")
    assert bot.in_group(ANA, "cawg") is None  # not before a coordinator approves

    approved = bot.handle(ChoicePicked(COORD, button(asked, COORD.room_id, "Approve")))
    assert first_line("join.you_approved") in to(approved, COORD.room_id)
    welcome = to(approved, ANA.room_id)
    assert text("join.welcome", group=Literal("Corporate Accountability")) in welcome
    assert first_line("join.ask_for_rooms") in welcome  # no platform here to invite through
    assert member(bot.member_id(COORD)) in welcome  # whom to ask: the group's coordinators
    told = first_line("join.decided_approved")
    assert told in to(approved, GROUP_ADMIN.room_id)
    assert told in "\n".join(out.text for out in approved if out.room_id == carla_room)
    assert told not in to(approved, COORD.room_id)
    assert bot.in_group(ANA, "cawg") is Role.MEMBER
    assert bot.actions()[-2:] == [
        ("membership.requested", ana, {"slug": "cawg", "request": 1}),
        (
            "membership.approved",
            bot.member_id(COORD),
            {"slug": "cawg", "request": 1, "decision": "approved"},
        ),
    ]


def test_a_declined_request_tells_the_member_and_makes_no_membership(bot: Bot) -> None:
    asked = request(bot)
    declined = bot.handle(
        ChoicePicked(CARLA, button(asked, notice_address(CARLA.user_id), "Decline"))
    )
    assert first_line("join.you_declined") in to(declined, CARLA.room_id)
    assert text("join.declined_notice", group=Literal("Corporate Accountability")) in to(
        declined, ANA.room_id
    )
    assert bot.in_group(ANA, "cawg") is None
    assert bot.actions()[-1][0] == "membership.declined"
    # Declined, the member may ask again.
    assert first_line("join.requested") in to(request(bot), ANA.room_id)


def test_the_first_decision_wins_and_a_later_one_is_told_who_decided(bot: Bot) -> None:
    asked = request(bot)
    bot.handle(ChoicePicked(COORD, button(asked, COORD.room_id, "Approve")))
    late = bot.handle(ChoicePicked(CARLA, button(asked, notice_address(CARLA.user_id), "Decline")))
    by = Message.of("join.member_numbered", number=bot.member_id(COORD))
    who = Message.of("join.member_numbered", number=bot.member_id(ANA))
    assert text(
        "join.decided_approved",
        MX,
        member=who,
        group=Literal("Corporate Accountability"),
        by=by,
    ) in to(late, CARLA.room_id)
    assert to(late, ANA.room_id) == ""  # the member hears nothing more
    assert bot.in_group(ANA, "cawg") is Role.MEMBER
    record = bot.store.joining.get(1)
    assert record is not None and record.state is JoinState.APPROVED
    assert [action for action, _, _ in bot.actions()].count("membership.declined") == 0


def test_an_open_group_takes_a_member_at_once(bot: Bot) -> None:
    joined = bot.send(ANA, "/join LEGAL")
    assert text("join.welcome", group=Literal("Legal Aid")) in to(joined, ANA.room_id)
    assert to(joined, OTHER.room_id) == ""  # nobody is asked
    assert bot.in_group(ANA, "legal") is Role.MEMBER
    assert bot.actions()[-1] == (
        "membership.joined",
        bot.member_id(ANA),
        {"slug": "legal", "how": "open"},
    )


def test_leave_takes_a_member_out_withdraws_a_request_and_keeps_a_configured_role(
    bot: Bot,
) -> None:
    bot.send(ANA, "/join legal")
    left = bot.send(ANA, "/leave legal")
    assert text("join.left", group=Literal("Legal Aid")) in to(left, ANA.room_id)
    assert bot.in_group(ANA, "legal") is None

    request(bot)
    withdrawn = bot.send(ANA, "/leave cawg")
    assert first_line("join.request_withdrawn") in to(withdrawn, ANA.room_id)
    record = bot.store.joining.get(1)
    assert record is not None and record.state is JoinState.CANCELLED

    kept = bot.send(COORD, "/leave cawg")
    assert first_line("join.configured_role") in to(kept, COORD.room_id)
    assert bot.in_group(COORD, "cawg") is Role.COORDINATOR
    assert [action for action, _, _ in bot.actions()][-2:] == [
        "membership.requested",
        "membership.cancelled",
    ]


def test_a_withdrawn_request_cannot_be_approved(bot: Bot) -> None:
    asked = request(bot)
    bot.send(ANA, "/leave cawg")
    late = bot.handle(ChoicePicked(COORD, button(asked, COORD.room_id, "Approve")))
    assert first_line("join.decided_cancelled") in to(late, COORD.room_id)
    assert bot.in_group(ANA, "cawg") is None


def test_bad_requests_are_explained_and_change_nothing(bot: Bot) -> None:
    assert first_line("join.usage") in to(bot.send(ANA, "/join"), ANA.room_id)
    assert first_line("join.no_such_group") in to(bot.send(ANA, "/join nope"), ANA.room_id)
    assert first_line("join.leave_usage") in to(bot.send(ANA, "/leave"), ANA.room_id)
    assert first_line("join.not_a_member") in to(bot.send(ANA, "/leave cawg"), ANA.room_id)
    request(bot)
    again = request(bot)
    assert first_line("join.already_pending") in to(again, ANA.room_id)
    assert to(again, COORD.room_id) == ""  # the coordinators are not asked twice
    assert first_line("join.already_member") in to(bot.send(COORD, "/join cawg"), COORD.room_id)
    for forged in ("join:approve:x", "join:approve:99", "join:maybe:1", "join:approve:-1"):
        refused = bot.handle(ChoicePicked(COORD, forged))
        assert first_line("join.no_such_request") in to(refused, COORD.room_id)
    assert len(bot.store.joining.pending_in((1, 2))) == 1
    assert [action for action, _, _ in bot.actions()] == ["membership.requested"]


def test_a_deep_link_opens_a_request_and_is_refused_in_a_group_room(bot: Bot) -> None:
    asked = bot.send(ANA, "/start join-cawg")
    assert first_line("join.requested") in to(asked, ANA.room_id)
    assert first_line("join.request_notice") in to(asked, COORD.room_id)
    room = Origin(TG, "-100111", "1001", is_direct=False)
    in_room = bot.handle(Command(room, "start", ("join-cawg",)))
    assert text("router.direct_only", command=CommandRef("join")) in to(in_room, room.room_id)


# -- who may decide -------------------------------------------------------------------------


def test_only_the_groups_coordinators_and_admins_decide_a_request(bot: Bot) -> None:
    asked = request(bot)
    approve = button(asked, COORD.room_id, "Approve")
    bot.send(ROOT, "/join legal")  # the network admin is also a member somewhere
    for outsider in (ANA, OTHER):
        refused = bot.handle(ChoicePicked(outsider, approve))
        assert first_line("join.not_coordinator_here") in to(refused, outsider.room_id)
    assert bot.in_group(ANA, "cawg") is None
    approved = bot.handle(ChoicePicked(GROUP_ADMIN, approve))
    assert first_line("join.you_approved") in to(approved, GROUP_ADMIN.room_id)

    bot.send(private(TG, "1006"), "/start")
    second = request(bot, private(TG, "1006"))
    by_root = bot.handle(ChoicePicked(ROOT, button(second, COORD.room_id, "Decline")))
    assert first_line("join.you_declined") in to(by_root, ROOT.room_id)


def test_joinlink_is_for_the_groups_coordinators_and_admins(bot: Bot) -> None:
    member = bot.send(ANA, "/joinlink cawg")
    assert first_line("router.not_allowed") in to(member, ANA.room_id)
    other = bot.send(OTHER, "/joinlink cawg")
    assert first_line("join.not_coordinator_here") in to(other, OTHER.room_id)
    for allowed in (COORD, GROUP_ADMIN, ROOT):
        answer = to(bot.send(allowed, "/joinlink cawg"), allowed.room_id)
        # Telegram does not run here: no link, and the command to type instead.
        assert first_line("join.link_unavailable") in answer
        assert text("join.link_command", join=CommandRef("join"), slug=Literal("cawg")) in answer
    assert first_line("join.link_usage") in to(bot.send(COORD, "/joinlink"), COORD.room_id)


# -- /groups --------------------------------------------------------------------------------


def test_groups_shows_a_member_what_they_can_join_in_their_language(bot: Bot) -> None:
    bot.send(ANA, "/language es")
    listed = to(bot.send(ANA, "/groups"), ANA.room_id)
    assert first_line("join.joinable_header", "es") in listed
    assert "Empresas y derechos humanos" in listed  # the member's language
    assert "Aide juridique aux défenseurs" in listed  # none in Spanish: the group's first
    assert first_line("members.groups_header") not in listed  # no coordinator's summary

    bot.send(ANA, "/join legal")
    request(bot)
    bot.send(ANA, "/join quiet")
    listed = to(bot.send(ANA, "/groups"), ANA.room_id)
    assert first_line("join.nothing_to_join", "es") in listed
    assert (
        text(
            "join.your_group_line",
            language="es",
            name=Literal("Legal Aid"),
            slug=Literal("legal"),
            role=Message.of("role.member"),
        )
        in listed
    )
    assert first_line("join.pending_line", "es").replace("•", "").strip() in listed


def test_groups_shows_a_coordinator_the_summary_and_the_requests_waiting(bot: Bot) -> None:
    request(bot)
    answer = bot.send(CARLA, "/groups")
    listed = to(answer, CARLA.room_id)
    assert first_line("members.groups_header") in listed
    assert "Corporate Accountability (cawg)" in listed
    waiting = button(answer, CARLA.room_id, text("join.approve", MX))
    assert waiting == "join:approve:1"
    assert first_line("join.you_approved") in to(
        bot.handle(ChoicePicked(CARLA, waiting)), CARLA.room_id
    )


def test_a_request_nobody_could_be_told_of_waits_in_the_coordinators_groups(bot: Bot) -> None:
    asked = bot.send(ANA, "/join quiet")
    assert first_line("join.requested_nobody_reached") in to(asked, ANA.room_id)
    assert [out.room_id for out in asked] == [ANA.room_id]
    late = private(TG, "1009")  # the coordinator writes to the bot for the first time
    answer = bot.send(late, "/groups")
    assert first_line("join.request_notice") in to(answer, late.room_id)
    approved = bot.handle(ChoicePicked(late, button(answer, late.room_id, "Approve")))
    assert text("join.welcome", group=Literal("Quiet Group")) in to(approved, ANA.room_id)


# -- the table ------------------------------------------------------------------------------


def test_one_pending_request_per_member_and_group_is_kept_by_the_database(store: Store) -> None:
    ana = store.members.for_identity(TG, "1001", language="en").id
    store.groups.sync_configured(group_specs(load_config(None, env={})), [], default_language="en")
    group = store.groups.all()[0].id
    first, made = store.joining.request(ana, group)
    again, made_again = store.joining.request(ana, group)
    assert made and not made_again and again.id == first.id
    assert store.joining.decide(first.id, JoinState.DECLINED, None).won
    assert not store.joining.decide(first.id, JoinState.APPROVED, None).won
    assert store.joining.request(ana, group)[1]  # decided: a new request may be made


def test_migration_0017_goes_down_and_up(store: Store) -> None:
    with store._engine.begin() as connection:
        alembic_command.downgrade(alembic_config(connection=connection), "0017-1")
    with store._engine.connect() as connection:
        assert "join_requests" not in inspect(connection).get_table_names()
    store.upgrade()
    assert store.current_revision() == head_revision()
    with store._engine.connect() as connection:
        assert "join_requests" in inspect(connection).get_table_names()
