"""Private chats that are really private: the Matrix room rule over plain values, where
confidential replies and notices are addressed, the rooms ``/link`` refuses, and the
storage of the bot's own notice rooms on SQLite and PostgreSQL. (The journey over a real
Synapse is in tests/test_private_rooms_matrix.py.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_router, group_specs
from bot.config import AppConfig, load_config
from bot.i18n import Catalogs
from bot.notices import notice_address, notice_recipient, notify_member
from bot.outgoing import BotMessage
from bot.outgoing_json import from_json, to_json
from bot.room_checks import BotAccess
from bot.router import Router
from bot.transports.matrix import render as matrix_render
from bot.transports.matrix.payloads import MatrixBotFile, MatrixNotice
from bot.transports.matrix.privacy import NotPrivate, RoomState, state_from_events, why_not_private
from bot.types import Command, Media, Message, Origin, Platform
from storage import NotFoundError, Store
from tests.harness.room_probe import PlatformAnswers, loop_on_a_thread

TG = Platform.TELEGRAM
MX = Platform.MATRIX
BOT = "@bot:x"
ANA = "@ana:x"
EVE = "@eve:x"
CATALOGS = Catalogs.load()


def said(key: str) -> str:
    """The longest stretch of the English text without a placeholder, to look for."""
    return max(re.split(r"\{[^}]*\}", CATALOGS.template("en", key)), key=len).strip()


# -- the rule -------------------------------------------------------------------------------


def room(
    join_rule: str = "invite",
    history: str = "shared",
    joined: tuple[str, ...] = (BOT, ANA),
    invited: tuple[str, ...] = (),
    is_direct: bool | None = None,
) -> RoomState:
    return RoomState(join_rule, history, frozenset(joined), frozenset(invited), is_direct)


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (room(), None),
        (room(is_direct=True), None),
        (room(history="joined"), None),
        (room(history="invited"), None),
        (room(join_rule="public"), NotPrivate.JOIN_RULE),
        (room(join_rule="knock"), NotPrivate.JOIN_RULE),
        (room(join_rule="restricted"), NotPrivate.JOIN_RULE),
        (room(history="world_readable"), NotPrivate.HISTORY),
        (room(joined=(BOT, ANA, EVE)), NotPrivate.OTHERS),
        (room(invited=(EVE,)), NotPrivate.OTHERS),
        (room(joined=(BOT,)), NotPrivate.ABSENT),
        (room(joined=(BOT,), invited=(ANA,)), NotPrivate.ABSENT),
        (room(joined=(BOT, EVE)), NotPrivate.OTHERS),
        (room(is_direct=False), NotPrivate.NOT_DIRECT),
    ],
    ids=lambda value: str(value) if isinstance(value, NotPrivate | None) else "",
)
def test_a_room_is_private_only_when_invite_only_unreadable_and_theirs_alone(
    state: RoomState, reason: NotPrivate | None
) -> None:
    assert why_not_private(state, BOT, ANA) == reason


def test_a_room_the_bot_made_is_private_while_the_member_is_only_invited() -> None:
    waiting = room(joined=(BOT,), invited=(ANA,), history="joined", is_direct=True)
    assert why_not_private(waiting, BOT, ANA, invited_is_enough=True) is None
    assert why_not_private(waiting, BOT, EVE, invited_is_enough=True) is NotPrivate.OTHERS


def member(user: str, membership: str) -> dict[str, Any]:
    return {"type": "m.room.member", "state_key": user, "content": {"membership": membership}}


def test_the_rule_reads_a_rooms_state_events_as_the_homeserver_gives_them() -> None:
    events = [
        {"type": "m.room.create", "state_key": "", "content": {"creator": EVE}},
        {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "public"}},
        {
            "type": "m.room.history_visibility",
            "state_key": "",
            "content": {"history_visibility": "world_readable"},
        },
        member(EVE, "leave"),
        member(BOT, "join"),
        member(ANA, "join"),
        member("@carl:x", "invite"),
        member("@dan:x", "ban"),
    ]
    state = state_from_events(events, None)
    assert state == room("public", "world_readable", (BOT, ANA), ("@carl:x",))
    # Without join rule and history events: invite-only and "shared", as the spec says.
    assert state_from_events([member(BOT, "join")], True) == room(joined=(BOT,), is_direct=True)


# -- the bot's notice rooms, stored -----------------------------------------------------------


def met(store: Store, platform: Platform, user: str, direct_room: str | None) -> int:
    with store.transaction():
        found = store.members.for_identity(platform, user, language="en", direct_room=direct_room)
    return found.id


def test_a_notice_room_is_kept_per_account_until_forgotten(store: Store) -> None:
    met(store, MX, ANA, "!dm:x")
    assert store.members.notice_room(MX, ANA) is None
    store.members.set_notice_room(MX, ANA, "!notices:x")
    assert store.members.notice_room(MX, ANA) == "!notices:x"
    assert store.members.notice_room(TG, ANA) is None
    store.members.set_notice_room(MX, ANA, None)
    assert store.members.notice_room(MX, ANA) is None
    with pytest.raises(NotFoundError):
        store.members.set_notice_room(MX, EVE, "!x:x")


def test_a_members_private_rooms_are_known_as_private(store: Store) -> None:
    met(store, MX, ANA, "!dm:x")
    met(store, TG, "42", "42")
    store.members.set_notice_room(MX, ANA, "!notices:x")
    assert store.members.is_private_room(MX, "!dm:x")
    assert store.members.is_private_room(MX, "!notices:x")
    assert store.members.is_private_room(TG, "42")
    assert not store.members.is_private_room(MX, "!elsewhere:x")
    assert not store.members.is_private_room(TG, "!dm:x")


def test_only_accounts_that_wrote_privately_are_direct_contacts(store: Store) -> None:
    ana = met(store, MX, ANA, "!dm:x")
    with store.transaction():
        store.members.for_identity(TG, "42", language="en")  # seen in a group only
    contacts = store.members.direct_contacts_of(ana)
    assert [(c.platform, c.user_id, c.direct_room_id) for c in contacts] == [(MX, ANA, "!dm:x")]


def test_a_matrix_notice_goes_to_the_bots_own_room_never_to_where_the_member_wrote(
    store: Store,
) -> None:
    ana = met(store, MX, ANA, "!dm:x")
    (notice,) = notify_member(store, ana, Message.of("cases.withdrawn", number=1), enabled=(MX,))
    assert notice.to is not None and notice.confidential
    assert notice.to.room_id == notice_address(ANA) != "!dm:x"
    assert notice_recipient(notice.to.room_id) == ANA
    assert notice_recipient("!dm:x") is None


# -- confidential replies ---------------------------------------------------------------------

CONFIG = """
data_dir = "data"
admins = ["telegram:1", "matrix:@root:x"]

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en"]
telegram_chats = [-1001]
matrix_rooms = ["!group:x"]

[telegram]
mode = "polling"

[matrix]
homeserver = "http://127.0.0.1:9"
user_id = "@bot:x"
"""


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> AppConfig:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    env = {
        "CAUCUS_DATABASE_URL": database_url,
        "CAUCUS_TELEGRAM_TOKEN": "1:test",
        "CAUCUS_MATRIX_ACCESS_TOKEN": "token",
        "CAUCUS_MATRIX_PICKLE_KEY": "pickle",
    }
    return load_config(path, env=env)


@pytest.fixture
def router(config: AppConfig) -> Iterator[tuple[Router, Store]]:
    store = Store(config.database_url)
    store.upgrade()
    specs = group_specs(config)
    store.groups.sync_configured(specs, [(TG, "1"), (MX, "@root:x")], default_language="en")
    try:
        yield build_router(config, store), store
    finally:
        store.close()


def handle(setup: tuple[Router, Store], event: Any) -> list[Any]:
    router, store = setup
    with store.transaction():
        return router.handle(event)


def test_what_the_bot_says_in_a_private_chat_is_for_that_member_alone(router: Any) -> None:
    (private,) = handle(router, Command(Origin(MX, "!dm:x", ANA, is_direct=True), "help"))
    assert private.private_to == ANA
    assert said("privacy.withheld") in private.withheld_note
    (public,) = handle(router, Command(Origin(MX, "!group:x", ANA, is_direct=False), "help"))
    assert public.private_to is None and public.withheld_note == ""


def test_a_private_command_in_a_room_that_only_looks_private_asks_for_a_new_direct_chat(
    router: Any,
) -> None:
    exposed = Origin(MX, "!stranger:x", ANA, is_direct=False, exposed=True)
    (refused,) = handle(router, Command(exposed, "myreports"))
    assert said("privacy.room_not_private") in refused.text
    assert refused.private_to is None
    # Not a private chat: the member's notices and replies are not sent there later.
    assert not router[1].members.is_private_room(MX, "!stranger:x")


def test_a_confidential_item_keeps_its_reader_through_storage_and_matrix_planning() -> None:
    csv = Media("cases.csv", "text/csv", b"a,b")
    item = BotMessage("Case 1: ...", media=(csv,), private_to=ANA, withheld_note="open a new")
    assert from_json(to_json(item)) == item
    assert from_json(to_json(BotMessage("hi"))) == BotMessage("hi")  # and rows from before
    parts = [matrix_render.render(part) for part in matrix_render.parts(item, lambda _: 0)]
    assert [type(part) for part in parts] == [MatrixNotice, MatrixBotFile]  # text, then files
    for part in parts:
        assert isinstance(part, MatrixBotFile | MatrixNotice) and part.private is not None
        assert part.private.user_id == ANA and part.private.withheld["body"] == "open a new"
    plain = matrix_render.render(BotMessage("hi"))
    assert isinstance(plain, MatrixNotice) and plain.private is None


# -- /link ------------------------------------------------------------------------------------

ROOT = Origin(MX, "!rootdm:x", "@root:x", is_direct=True)


def link(router: Any, *args: str) -> str:
    (answer,) = handle(router, Command(ROOT, "link", ("cawg", *args)))
    return str(answer.text)


@pytest.mark.parametrize("chat", ["42", "1001", "-", "-12a", "@someone"])
def test_a_telegram_room_to_link_must_be_a_group_by_its_id(router: Any, chat: str) -> None:
    assert said("links.not_a_group") in link(router, "telegram", chat)
    assert router[1].groups.for_room(TG, chat) is None


def test_a_members_private_room_is_never_linked(router: Any) -> None:
    met(router[1], MX, ANA, "!anadm:x")
    with loop_on_a_thread() as loop:
        router[0].room_checks.add(MX, PlatformAnswers({"!anadm:x": BotAccess.READY}), loop)
        assert said("links.private_room") in link(router, "matrix", "!anadm:x")
    assert router[1].groups.for_room(MX, "!anadm:x") is None


@pytest.mark.parametrize(
    ("access", "key"),
    [
        (BotAccess.NOT_MEMBER, "links.bot_not_member"),
        (BotAccess.CANNOT_SEND, "links.bot_cannot_send"),
        (BotAccess.NOT_A_GROUP, "links.not_a_group"),
    ],
)
def test_a_room_is_linked_only_where_the_bot_is_and_may_speak(
    router: Any, access: BotAccess, key: str
) -> None:
    answers = PlatformAnswers({"-1002": access, "!side:x": access, "!ok:x": BotAccess.READY})
    with loop_on_a_thread() as loop:
        router[0].room_checks.add(TG, answers, loop)
        router[0].room_checks.add(MX, answers, loop)
        for platform, room_id in ((TG, "-1002"), (MX, "!side:x")):
            refusal = link(router, platform.value, room_id)
            assert said(key) in refusal and room_id in refusal
            assert router[1].groups.for_room(platform, room_id) is None
        assert "!ok:x" in link(router, "matrix", "!ok:x")
    assert router[1].groups.for_room(MX, "!ok:x") is not None


def test_a_room_on_a_platform_not_running_here_cannot_be_checked_so_is_not_linked(
    router: Any,
) -> None:
    assert said("links.bot_unchecked") in link(router, "matrix", "!side:x")
    assert router[1].groups.for_room(MX, "!side:x") is None


# -- a connection code seen by others -----------------------------------------------------------

CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}\b")


def test_a_connect_code_typed_in_a_group_room_is_voided_and_its_owner_told(router: Any) -> None:
    # Everyone in the room could type it from their own account and join theirs to Ana's.
    (given,) = handle(router, Command(Origin(MX, "!dm:x", ANA, is_direct=True), "connect"))
    found = CODE.search(given.text)
    assert found is not None
    seen = handle(
        router, Command(Origin(TG, "-1001", "5", is_direct=False), "connect", (found[0],))
    )
    assert said("accounts.code_voided_here") in seen[0].text
    told = [reply for reply in seen if reply.private_to == ANA]
    assert len(told) == 1 and said("accounts.code_voided") in told[0].text
    # Typed again in private by whoever saw it: a wrong code, nothing connected.
    handle(router, Command(Origin(TG, "5", "5", is_direct=True), "connect", (found[0],)))
    _, store = router
    ana = store.members.for_identity(MX, ANA, language="en")
    mallory = store.members.for_identity(TG, "5", language="en")
    assert ana.id != mallory.id


def test_a_code_typed_from_the_same_platform_as_its_owner_connects_nothing(router: Any) -> None:
    (given,) = handle(router, Command(Origin(MX, "!dm:x", ANA, is_direct=True), "connect"))
    found = CODE.search(given.text)
    assert found is not None
    other = Origin(MX, "!dm2:x", "@other:x", is_direct=True)
    (refused,) = handle(router, Command(other, "connect", (found[0],)))
    assert said("accounts.same_platform") in refused.text
    _, store = router
    assert (
        store.members.for_identity(MX, ANA, language="en").id
        != store.members.for_identity(MX, "@other:x", language="en").id
    )


def test_role_is_private_only_its_name_search_names_members(router: Any) -> None:
    in_room = Origin(TG, "-1001", "1", is_direct=False)  # a network admin, in the group
    (refused,) = handle(router, Command(in_room, "role", ("ana", "coordinator", "cawg")))
    assert said("router.direct_only") in refused.text
