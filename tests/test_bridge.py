"""The bridge inside the router, on SQLite and PostgreSQL: what a member's post in a linked
room puts in the outbox for the group's other rooms (outgoing items, and the payloads each
platform's render module makes of them). No network: the transports' own tests and
tests/test_bridge_e2e.py deliver these payloads to real servers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import build_router, group_specs
from bot.config import AppConfig, load_config
from bot.outgoing import (
    BotMessage,
    MessageRef,
    OutboxRef,
    OutgoingItem,
    RelayedDeletion,
    RelayedEdit,
    RelayedNote,
    RelayedText,
)
from bot.outgoing_json import from_json
from bot.room_checks import BotAccess
from bot.router import Router
from bot.transports.matrix import render as matrix_render
from bot.transports.matrix.payloads import MatrixMessage
from bot.transports.matrix.render import RELAY_MARK
from bot.transports.telegram import render as telegram_render
from bot.transports.telegram.payloads import TelegramRelayFile, TelegramText
from bot.types import (
    Command,
    MediaKind,
    MediaReceived,
    MessageDeleted,
    MessageEdited,
    Origin,
    Platform,
    Span,
    SpanKind,
    TextMessage,
    Unrelayable,
    UnrelayableKind,
)
from storage import Store
from storage.models import OutboxMessage
from tests.harness.clock import Clock
from tests.harness.room_probe import PlatformAnswers, loop_on_a_thread

TG = Platform.TELEGRAM
MX = Platform.MATRIX
TG_ROOM = "-1001"
MX_ROOM = "!group:example.org"

CONFIG = f"""
data_dir = "data"
admins = ["telegram:1"]

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["es", "en"]
telegram_chats = [{TG_ROOM}]
matrix_rooms = ["{MX_ROOM}"]

[telegram]
mode = "polling"

[matrix]
homeserver = "http://127.0.0.1:9"
user_id = "@bot:example.org"
"""


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> AppConfig:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return load_config(
        path,
        env={
            "CAUCUS_DATABASE_URL": database_url,
            "CAUCUS_TELEGRAM_TOKEN": "1:test",
            "CAUCUS_MATRIX_ACCESS_TOKEN": "token",
            "CAUCUS_MATRIX_PICKLE_KEY": "pickle",
        },
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def router(config: AppConfig, clock: Clock) -> Iterator[tuple[Router, Store]]:
    store = Store(config.database_url, clock=clock)
    store.upgrade()
    store.groups.sync_configured(group_specs(config), [(TG, "1")], default_language="en")
    try:
        yield build_router(config, store), store
    finally:
        store.close()


def tg(user: str = "7", name: str = "Ana") -> Origin:
    return Origin(TG, TG_ROOM, user, is_direct=False, display_name=name)


def mx(user: str = "@bo:example.org", name: str = "Bo") -> Origin:
    return Origin(MX, MX_ROOM, user, is_direct=False, display_name=name)


def handle(setup: tuple[Router, Store], event: Any) -> list[Any]:
    router, store = setup
    with store.transaction():
        return router.handle(event)


RENDER: dict[Platform, Callable[[OutgoingItem], Any]] = {
    TG: telegram_render.render,
    MX: matrix_render.render,
}


def pending(store: Store, platform: Platform) -> list[OutgoingItem]:
    """The items waiting in the outbox for ``platform``, as stored."""
    return [from_json(row.payload) for row in store.outbox.pending(platform)]


def rendered(store: Store, platform: Platform) -> list[Any]:
    """The payloads the platform's render module makes of them (references unresolved)."""
    return [RENDER[platform](item) for item in pending(store, platform)]


def deliver_all(store: Store, platform: Platform, start: int = 100) -> list[int]:
    ids = []
    for number, row in enumerate(store.outbox.pending(platform), start=start):
        store.outbox.mark_delivered(row.id, str(number) if platform is TG else f"$e{number}")
        ids.append(row.id)
    return ids


def test_a_telegram_message_reaches_matrix_with_its_sender_and_formatting(router: Any) -> None:
    bold = (Span(0, 5, SpanKind.BOLD),)
    assert handle(router, TextMessage(tg("7654321"), "Hello <world> & all", "10", bold)) == []
    (payload,) = rendered(router[1], MX)
    content = payload.content
    assert content["body"] == "Ana (Telegram): Hello <world> & all"
    assert "<b>Hello</b> &lt;world&gt; &amp; all" in content["formatted_body"]
    assert content["com.beeper.per_message_profile"]["displayname"] == "Ana (Telegram)"
    assert content["m.mentions"] == {} and RELAY_MARK in content
    assert "7654321" not in str(content)  # the Telegram user id is not shown
    assert pending(router[1], TG) == []


def test_a_matrix_reply_to_a_relayed_message_replies_to_the_telegram_original(
    router: Any,
) -> None:
    handle(router, TextMessage(tg(), "question", "10"))
    deliver_all(router[1], MX)  # the copy in Matrix becomes $e100
    handle(router, TextMessage(mx(), "answer", "$reply", reply_to="$e100"))
    (item,) = pending(router[1], TG)
    assert isinstance(item, RelayedText) and item.reply_to == MessageRef("10")
    (payload,) = rendered(router[1], TG)
    assert payload == TelegramText("<b>Bo (Matrix)</b>: answer", reply_to=10)


def test_a_telegram_reply_to_a_matrix_message_names_the_copy_to_be_resolved(router: Any) -> None:
    handle(router, TextMessage(mx(), "first", "$first"))
    (copy_id,) = [row.id for row in router[1].outbox.pending(TG)]
    handle(router, TextMessage(tg(), "reply", "11", reply_to="100"))  # unknown: no reply
    handle(router, TextMessage(mx(), "again", "$again", reply_to="$first"))
    *_, item = pending(router[1], TG)
    assert isinstance(item, RelayedText) and item.reply_to == OutboxRef(copy_id)
    mx_items = pending(router[1], MX)
    assert isinstance(mx_items[0], RelayedText) and mx_items[0].reply_to is None


def test_an_edit_is_relayed_once_and_an_unchanged_edit_not_at_all(router: Any) -> None:
    handle(router, TextMessage(mx(), "draft", "$m"))
    (copy,) = deliver_all(router[1], TG)
    handle(router, MessageEdited(mx(), "$m", "draft"))
    assert pending(router[1], TG) == []
    handle(router, MessageEdited(mx(), "$m", "final", (Span(0, 5, SpanKind.ITALIC),)))
    (edit,) = pending(router[1], TG)
    assert isinstance(edit, RelayedEdit) and edit.target == OutboxRef(copy)
    assert telegram_render.render(edit).html == "<b>Bo (Matrix)</b>: <i>final</i>"
    handle(router, MessageEdited(mx(), "$m", "final", (Span(0, 5, SpanKind.ITALIC),)))
    assert len(pending(router[1], TG)) == 1


def test_a_redaction_deletes_the_copy_or_explains_after_48_hours(router: Any, clock: Clock) -> None:
    handle(router, TextMessage(mx(), "old", "$old"))
    handle(router, TextMessage(mx(), "new", "$new"))
    _, second = deliver_all(router[1], TG)
    clock.advance(hours=47)
    handle(router, MessageDeleted(mx(), "$new"))
    (delete,) = pending(router[1], TG)
    assert isinstance(delete, RelayedDeletion)
    assert delete == RelayedDeletion(OutboxRef(second), delete.fallback)
    deliver_all(router[1], TG)
    clock.advance(hours=2)
    handle(router, MessageDeleted(mx(), "$old"))
    (notice,) = pending(router[1], TG)
    assert isinstance(notice, BotMessage)
    assert "48" in notice.text and "Bo (Matrix)" in notice.text


def test_files_over_the_limit_arrive_as_a_note_with_name_and_size(router: Any) -> None:
    big = MediaReceived(tg(), MediaKind.DOCUMENT, "file-id", "", "report.pdf", "application/pdf",
                        25 * 1024 * 1024, "12")  # fmt: skip
    handle(router, big)
    assert isinstance(pending(router[1], MX)[0], RelayedNote)
    (payload,) = rendered(router[1], MX)
    assert isinstance(payload, MatrixMessage)
    assert "report.pdf (25.0 MB)" in payload.content["body"]


def test_a_photo_is_relayed_with_its_caption_and_where_to_fetch_it(router: Any) -> None:
    photo = MediaReceived(
        mx(), MediaKind.PHOTO, "mxc://example.org/abc", "look", "a.jpg", "image/jpeg", 2048, "$p"
    )
    handle(router, photo)
    (payload,) = rendered(router[1], TG)
    assert isinstance(payload, TelegramRelayFile) and payload.kind is MediaKind.PHOTO
    assert payload.source.ref == "mxc://example.org/abc"
    assert payload.caption_html == "<b>Bo (Matrix)</b>: look"


def test_what_cannot_be_relayed_is_announced_in_the_groups_language(router: Any) -> None:
    handle(router, Unrelayable(tg(), UnrelayableKind.LOCATION, "13"))
    (payload,) = pending(router[1], MX)
    assert isinstance(payload, BotMessage)
    assert "ubicación" in payload.text  # the group speaks Spanish first


def test_commands_and_direct_messages_are_never_relayed(router: Any) -> None:
    handle(router, Command(tg(), "help"))
    handle(router, TextMessage(Origin(TG, "7", "7", is_direct=True), "private", "14"))
    assert pending(router[1], MX) == []


def test_a_message_in_an_unlinked_room_stays_there(router: Any) -> None:
    handle(router, TextMessage(Origin(TG, "-999", "7", is_direct=False), "elsewhere", "15"))
    assert pending(router[1], MX) == [] and pending(router[1], TG) == []


def test_the_same_message_handled_twice_is_relayed_once(router: Any) -> None:
    handle(router, TextMessage(tg(), "once", "16"))
    handle(router, TextMessage(tg(), "once", "16"))
    assert len(pending(router[1], MX)) == 1


def test_a_long_message_becomes_several_telegram_messages_within_the_limit(router: Any) -> None:
    text = ("word " * 2000).strip()
    handle(router, TextMessage(mx(), text, "$long"))
    payloads = rendered(router[1], TG)
    assert len(payloads) == 3
    assert all(len(p.html) <= 4096 for p in payloads)
    assert " ".join(p.html.split(": ", 1)[1] for p in payloads) == text


def test_an_admin_links_and_unlinks_a_room_by_command(router: Any) -> None:
    admin = Origin(TG, "1", "1", is_direct=True)
    member = Origin(TG, "8", "8", is_direct=True)
    (refused,) = handle(router, Command(member, "link", ("cawg", "matrix", "!new:x")))
    assert "administ" in refused.text.lower()
    with loop_on_a_thread() as loop:
        router[0].room_checks.add(MX, PlatformAnswers({"!new:x": BotAccess.READY}), loop)
        (linked,) = handle(router, Command(admin, "link", ("cawg", "matrix", "!new:x")))
    assert "!new:x" in linked.text
    group = router[1].groups.for_room(MX, "!new:x")
    assert group is not None and group.slug == "cawg"
    (listing,) = handle(router, Command(admin, "links"))
    assert "!new:x" in listing.text and TG_ROOM in listing.text
    (kept,) = handle(router, Command(admin, "unlink", ("telegram", TG_ROOM)))
    assert router[1].groups.for_room(TG, TG_ROOM) is not None
    assert kept.text != linked.text
    handle(router, Command(admin, "unlink", ("matrix", "!new:x")))
    assert router[1].groups.for_room(MX, "!new:x") is None


def test_an_edit_too_long_for_one_telegram_message_follows_as_marked_messages(
    router: Any,
) -> None:
    handle(router, TextMessage(mx(), "short", "$s"))
    (copy,) = deliver_all(router[1], TG)
    handle(router, MessageEdited(mx(), "$s", ("long " * 1500).strip()))
    items = pending(router[1], TG)
    assert len(items) == 2 and all(isinstance(item, RelayedText) for item in items)
    assert isinstance(items[0], RelayedText) and items[0].reply_to == OutboxRef(copy)
    payloads = rendered(router[1], TG)
    assert payloads[0].html.startswith("<b>Bo (Matrix), editado</b>: long")
    assert all(len(p.html) <= 4096 for p in payloads)


def test_a_rooms_unlinked_since_hears_no_more_edits(router: Any) -> None:
    handle(router, TextMessage(tg(), "before", "20"))
    deliver_all(router[1], MX)
    store = router[1]
    # The configuration no longer names the Matrix room.
    specs = group_specs(_without_matrix(router))
    store.groups.sync_configured(specs, [(TG, "1")], default_language="en")
    handle(router, MessageEdited(tg(), "20", "after"))
    assert pending(store, MX) == []


def _without_matrix(router: Any) -> AppConfig:
    config: AppConfig = router[0]._config
    group = config.working_groups[0].model_copy(update={"matrix_rooms": ()})
    return config.model_copy(update={"working_groups": (group,)})


def test_a_deletion_too_late_for_telegram_is_also_told_where_it_was_made(
    router: Any, clock: Clock
) -> None:
    handle(router, TextMessage(mx(), "old", "$old"))
    deliver_all(router[1], TG)
    clock.advance(hours=49)
    handle(router, MessageDeleted(mx(), "$old"))
    (on_telegram,) = pending(router[1], TG)
    (on_matrix,) = pending(router[1], MX)
    assert isinstance(on_telegram, BotMessage) and isinstance(on_matrix, BotMessage)
    assert "48" in on_telegram.text and "48" in on_matrix.text


def test_matrix_ids_in_a_message_cannot_ping_a_telegram_username(router: Any) -> None:
    handle(router, TextMessage(mx(), "ask @ana:example.org", "$ping"))
    (payload,) = rendered(router[1], TG)
    assert "@\u2060ana:example.org" in payload.html


def test_senders_are_told_apart_by_a_keyed_digest_and_long_names_are_cut(router: Any) -> None:
    handle(router, TextMessage(tg("7", "N" * 300), "hi", "30"))
    (payload,) = rendered(router[1], MX)
    profile = payload.content["com.beeper.per_message_profile"]
    assert profile["displayname"] == "N" * 63 + "… (Telegram)"
    assert profile["id"] != sender_key_without_secret("telegram:7")


def sender_key_without_secret(data: str) -> str:
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def test_the_stored_digest_of_a_relayed_text_is_keyed_so_it_confirms_no_guess(
    router: Any,
) -> None:
    """Whoever reads the database cannot test a guessed text against the stored digest."""
    handle(router, TextMessage(tg(), "meet at the union hall", "35"))
    store = router[1]
    found = store.bridge.message(TG, TG_ROOM, "35")
    assert found is not None
    unkeyed = json.dumps(["meet at the union hall", []], ensure_ascii=False)
    assert found.digest != hashlib.sha256(unkeyed.encode()).hexdigest()
    assert found.digest != hashlib.sha256(b"meet at the union hall").hexdigest()
    # The same text still gives the same digest, so an edit that changes nothing is known.
    queued = len(pending(store, MX))
    handle(router, MessageEdited(tg(), "35", "meet at the union hall"))
    assert len(pending(store, MX)) == queued
    again = store.bridge.message(TG, TG_ROOM, "35")
    assert again is not None and again.digest == found.digest


def test_delivered_and_failed_messages_keep_no_text(router: Any) -> None:
    handle(router, TextMessage(tg(), "secret plans", "40"))
    handle(router, TextMessage(tg(), "more plans", "41"))
    store = router[1]
    first, second = store.outbox.pending(MX)
    store.outbox.mark_delivered(first.id, "$a")
    store.outbox.mark_failed(second.id, "gone")
    with store._sessions.begin() as session:
        payloads = session.scalars(select(OutboxMessage.payload)).all()
    assert payloads == ["{}", "{}"]


def test_a_caption_edit_too_long_for_a_telegram_caption_follows_as_a_reply(
    router: Any,
) -> None:
    photo = MediaReceived(
        mx(), MediaKind.PHOTO, "mxc://example.org/abc", "look", "a.jpg", "image/jpeg", 2048, "$p"
    )
    handle(router, photo)
    (copy,) = deliver_all(router[1], TG)
    handle(router, MessageEdited(mx(), "$p", "short caption"))
    handle(router, MessageEdited(mx(), "$p", "long caption " * 100))
    short, long = pending(router[1], TG)
    assert isinstance(short, RelayedEdit) and short.target == OutboxRef(copy)
    assert isinstance(long, RelayedText) and long.reply_to == OutboxRef(copy)
    assert telegram_render.render(long).html.startswith("<b>Bo (Matrix), editado</b>: long caption")
