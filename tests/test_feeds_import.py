"""``/import URL``, ``/importfile`` and the coordinators' notices of a configured feed, by the
router on SQLite and PostgreSQL, against a real HTTP server on 127.0.0.1: what a calendar or
feed holds is shown (nothing published), who may ask, bad input refused with a clear
answer; the poller offers each new item once and reports a failing feed once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import build_router, open_store
from bot.config import AppConfig, load_config
from bot.conversation import DONE
from bot.inbox import Dispatcher
from bot.outgoing import OutgoingItem
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
    TextMessage,
)
from handlers import imports
from storage import Store
from tests.harness.features import CATALOGS
from tests.harness.feed_server import INDICO_ICS, FeedServer, feed_server, rss

pytestmark = pytest.mark.e2e  # a real HTTP server on 127.0.0.1 (light: a thread)

TG = Platform.TELEGRAM
CONFIG = """
data_dir = "data"
admins = ["telegram:1003"]

[telegram]

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
coordinators = ["telegram:1002"]
admins = ["telegram:1004"]
feeds = ["{base}/calls.rss", "{base}/forum.ics"]

[[working_groups]]
slug = "legal"
name = "Legal Aid"
coordinators = ["telegram:1005"]
"""


def private(user: str) -> Origin:
    return Origin(TG, user, user, is_direct=True)


ANA = private("1001")
"""A member, in no group."""
COORD = private("1002")
ROOT = private("1003")
GROUP_ADMIN = private("1004")
OTHER = private("1005")
"""The coordinator of another group (legal)."""


class Bot:
    def __init__(self, config: AppConfig, router: Router, store: Store) -> None:
        self.config = config
        self.router = router
        self.store = store

    def handle(self, event: Incoming) -> list[Outgoing]:
        with self.store.transaction():
            return self.router.handle(event)

    def send(self, origin: Origin, text: str) -> str:
        name, *args = text.removeprefix("/").split()
        return "\n".join(out.text for out in self.handle(Command(origin, name, tuple(args))))


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as running:
        running.put("/calls.rss", rss(30))
        running.put("/forum.ics", INDICO_ICS, "text/calendar")
        yield running


@pytest.fixture
def bot(tmp_path: Path, database_url: str, server: FeedServer) -> Iterator[Bot]:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.replace("{base}", server.base), encoding="utf-8")
    env = {"CAUCUS_DATABASE_URL": database_url, "CAUCUS_TELEGRAM_TOKEN": "123:abc"}
    config = load_config(path, env=env)
    store = open_store(config)
    running = Bot(config, build_router(config, store), store)
    for origin in (ANA, COORD, ROOT, GROUP_ADMIN, OTHER):
        running.send(origin, "/start")  # each has written privately: notices reach them
    try:
        yield running
    finally:
        store.close()


def said(key: str, language: str = "en", **params: object) -> str:
    renderer = CATALOGS.renderer(language, TG)
    return renderer.label(Message.of(key, **params))  # type: ignore[arg-type]


def counted(key: str, count: int, **params: object) -> str:
    renderer = CATALOGS.renderer("en", TG)
    return renderer.label(Message.counted(key, count, **params))  # type: ignore[arg-type]


def test_import_url_lists_what_the_feed_holds_and_publishes_nothing(
    bot: Bot, server: FeedServer
) -> None:
    url = server.url("/forum.ics")
    answer = bot.send(COORD, f"/import {url}")
    assert counted("imports.found", 3, source=Literal(url)) in answer
    assert (
        said(
            "imports.item_dated",
            title=Literal("UN Forum on Business and Human Rights"),
            day="2026-11-25",
        )
        in answer
    )
    assert (
        said("imports.item_dated", title=Literal("Regional forum deadline"), day="2026-12-15")
        in answer
    )

    long = bot.send(COORD, f"/import {server.url('/calls.rss')}")
    assert counted("imports.found", 30, source=Literal(server.url("/calls.rss"))) in long
    assert long.count("• ") == imports.SHOWN_ITEMS
    assert counted("imports.more", 10) in long


def test_import_is_for_coordinators_and_admins_anywhere_not_members(
    bot: Bot, server: FeedServer
) -> None:
    url = server.url("/forum.ics")
    found = counted("imports.found", 3, source=Literal(url))
    refused = said("router.not_allowed", role=Message.of("role.coordinator"))
    assert bot.send(ANA, f"/import {url}") == refused
    for allowed in (OTHER, GROUP_ADMIN, ROOT):
        assert found in bot.send(allowed, f"/import {url}")


def test_import_refuses_what_is_no_http_feed_with_a_clear_answer(
    bot: Bot, server: FeedServer
) -> None:
    server.put("/page", b"<html><body>Hello</body></html>", "text/html")
    example = Literal("https://example.org/events.ics")
    assert bot.send(COORD, "/import file:///etc/passwd") == said("imports.bad_url", example=example)
    assert bot.send(COORD, "/import") == said(
        "imports.usage", command=CommandRef("import"), file_command=CommandRef("importfile")
    )
    assert bot.send(COORD, f"/import {server.url('/page')}") == said(
        "imports.unreadable", reason=Literal("not an RSS or Atom feed (empty)")
    )
    assert bot.send(COORD, f"/import {server.url('/gone')}") == said(
        "imports.fetch_failed", reason=Literal("HTTP 404")
    )


def test_importfile_reads_an_address_pasted_in_the_conversation(
    bot: Bot, server: FeedServer
) -> None:
    assert said("imports.file_ask") in bot.send(COORD, "/importfile")
    url = server.url("/forum.ics")
    bot.handle(TextMessage(COORD, url))
    done = "\n".join(out.text for out in bot.handle(ChoicePicked(COORD, DONE)))
    assert counted("imports.found", 3, source=Literal(url)) in done


def stored_whole(item: OutgoingItem) -> list[OutgoingItem]:
    """A planner that keeps each message as one outbox row."""
    return [item]


def test_the_poller_offers_new_items_to_the_groups_coordinators_once_and_a_failure_once(
    bot: Bot, server: FeedServer
) -> None:
    dispatcher = Dispatcher(bot.router, bot.store, planners={TG: stored_whole})
    poller = imports.feed_poller(bot.config, bot.store, CATALOGS, dispatcher)

    def notices() -> dict[str, list[str]]:
        rows = bot.store.outbox.pending(TG)
        by_room: dict[str, list[str]] = {}
        for row in rows:
            by_room.setdefault(row.room_id, []).append(str(row.payload))
        return by_room

    try:
        assert asyncio.run(poller.poll_due()) == 2
        first = notices()
        # The group's coordinator and its admin; not the member, not another group's.
        assert sorted(first) == ["1002", "1004"]
        assert len(first["1002"]) == 2  # one notice per feed
        offered = counted(
            "imports.new_items",
            30,
            feed=Literal(server.url("/calls.rss")),
            group=Literal("Corporate Accountability"),
            command=CommandRef("import"),
        )
        assert any(offered in payload for payload in first["1002"])
        assert asyncio.run(poller.poll_due()) == 0  # not due again before the hour
        assert server.answered[("/calls.rss", 200)] == 1

        server.put("/calls.rss", b"not a feed at all")
        server.put("/forum.ics", INDICO_ICS.replace(b"1236", b"1237"), "text/calendar")
        assert asyncio.run(poller.poll_due(every_feed=True)) == 2
        assert asyncio.run(poller.poll_due(every_feed=True)) == 2
        after = notices()
        # One more notice for the calendar's new event, one for the broken feed: no more.
        assert len(after["1002"]) == 4
        failed = said(
            "imports.feed_failed",
            feed=Literal(server.url("/calls.rss")),
            group=Literal("Corporate Accountability"),
            reason=Literal("not an RSS or Atom feed (SAXParseException)"),
        )
        assert any(failed in payload for payload in after["1002"][2:])
        one_new = counted(
            "imports.new_items",
            1,
            feed=Literal(server.url("/forum.ics")),
            group=Literal("Corporate Accountability"),
            command=CommandRef("import"),
        )
        assert any(one_new in payload for payload in after["1002"][2:])
    finally:
        dispatcher.close()
