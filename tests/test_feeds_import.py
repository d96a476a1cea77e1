"""``/import URL``, ``/importfile`` and the coordinators' notices of a configured feed, by the
router on SQLite and PostgreSQL, against a real HTTP server on 127.0.0.1 (allowed by
``[feeds] allow_private_hosts``): each new item of a calendar or feed becomes a draft once
(across imports, polls and restarts) that a coordinator completes and publishes, who may
ask, bad input and private addresses refused with a clear answer; the poller offers the
drafts of new items to the group's coordinators once and reports a failing feed once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import build_router, open_store
from bot.config import AppConfig, FeedsConfig, load_config
from bot.conversation import DONE
from bot.feed_fetch import private_address
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
from storage.consultations import ConsultationKind, ConsultationRecord, ConsultationState
from tests.harness.features import CATALOGS
from tests.harness.feed_server import INDICO_ICS, FeedServer, feed_server, rss

pytestmark = pytest.mark.e2e  # a real HTTP server on 127.0.0.1 (light: a thread)

TG = Platform.TELEGRAM
CONFIG = """
data_dir = "data"
admins = ["telegram:1003"]

[telegram]

[feeds]
allow_private_hosts = true  # the tests' feed server is on 127.0.0.1

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

    def pick(self, origin: Origin, value: str) -> str:
        return "\n".join(out.text for out in self.handle(ChoicePicked(origin, value)))

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


def counted(key: str, count: int, language: str = "en", **params: object) -> str:
    renderer = CATALOGS.renderer(language, TG)
    return renderer.label(Message.counted(key, count, **params))  # type: ignore[arg-type]


def drafts(bot: Bot) -> list[ConsultationRecord]:
    return sorted(bot.store.consultations.drafts(), key=lambda record: record.id)


def test_import_makes_a_draft_of_each_new_item_once_which_a_coordinator_publishes(
    bot: Bot, server: FeedServer
) -> None:
    url = server.url("/forum.ics")
    answer = bot.send(COORD, f"/import {url}")
    assert counted("imports.drafts_made", 3, source=Literal(url)) in answer
    made = drafts(bot)
    assert [record.title for record in made] == [
        "UN Forum on Business and Human Rights",
        "Treaty negotiation session (11th)",
        "Regional forum deadline",
    ]
    cawg = bot.store.groups.by_slug("cawg")
    assert cawg is not None
    forum = made[0].fields
    # An event's dates are the session's; the deadline is left to the coordinator.
    assert forum.starts_at == datetime(2026, 11, 25, 9, tzinfo=UTC)
    assert forum.deadline is None and forum.kind is ConsultationKind.SESSION
    assert forum.working_groups == (cawg.id,)  # the only group COORD coordinates
    assert forum.link is not None and forum.link.startswith("https://")
    listed = said(
        "imports.draft_dated",
        number=made[0].id,
        title=Literal("UN Forum on Business and Human Rights"),
        day="Nov 25, 2026",
    )
    assert listed in answer
    assert said("imports.complete_how", command=CommandRef("newconsultation")) in answer
    assert bot.store.consultations.published() == []  # nothing without a coordinator

    assert bot.send(COORD, f"/import {url}") == counted(
        "imports.nothing_new", 3, source=Literal(url)
    )
    assert len(drafts(bot)) == 3

    calls = server.url("/calls.rss")
    long = bot.send(COORD, f"/import {calls}")
    assert counted("imports.drafts_made", 30, source=Literal(calls)) in long
    assert long.count("• ") == imports.SHOWN_ITEMS
    assert counted("imports.more", 10) in long
    article = next(r for r in drafts(bot) if r.title == "Call for input 30").fields
    # An article's date is its publication: neither a session nor a deadline.
    assert article.starts_at is None and article.deadline is None
    assert article.link == "https://example.org/calls/30"
    assert article.summary == "Submissions on item 30"
    assert said("imports.draft", number=made[-1].id + 1, title=Literal("Call for input 30")) in long
    assert bot.send(COORD, f"/import {calls}") == counted(
        "imports.nothing_new", 30, source=Literal(calls)
    )
    assert len(drafts(bot)) == 33

    assert said("consult.ask_publish").split("\n")[0] in bot.send(
        COORD, f"/newconsultation {made[0].id}"
    )
    bot.pick(COORD, "publish")
    bot.pick(COORD, "~submit")
    published = bot.store.consultations.get(made[0].id)
    assert published is not None and published.state is ConsultationState.PUBLISHED
    assert published.fields.starts_at is not None  # the form keeps the session's day
    assert published.fields.starts_at.date() == forum.starts_at.date()


def test_import_is_for_coordinators_and_admins_anywhere_not_members(
    bot: Bot, server: FeedServer
) -> None:
    url = server.url("/forum.ics")
    refused = said("router.not_allowed", role=Message.of("role.coordinator"))
    assert bot.send(ANA, f"/import {url}") == refused
    assert drafts(bot) == []
    assert counted("imports.drafts_made", 3, source=Literal(url)) in bot.send(
        OTHER, f"/import {url}"
    )
    legal = bot.store.groups.by_slug("legal")
    assert legal is not None
    assert {record.fields.working_groups for record in drafts(bot)} == {(legal.id,)}
    for allowed in (GROUP_ADMIN, ROOT):
        assert bot.send(allowed, f"/import {url}") == counted(
            "imports.nothing_new", 3, source=Literal(url)
        )


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


def test_import_refuses_private_and_local_addresses_unless_allowed(
    bot: Bot, server: FeedServer
) -> None:
    strict = bot.config.model_copy(
        update={"feeds": bot.config.feeds.model_copy(update={"allow_private_hosts": False})}
    )
    assert not FeedsConfig().allow_private_hosts  # the default
    guarded = Bot(strict, build_router(strict, bot.store), bot.store)
    refused = said("imports.private_address")
    local = server.url("/forum.ics")
    by_name = local.replace("127.0.0.1", "localhost")  # resolved (DNS) before it is read
    for url in (local, by_name, "http://169.254.169.254/latest/meta-data/", "http://[::1]/"):
        assert guarded.send(COORD, f"/import {url}") == refused
    assert drafts(bot) == []
    assert sum(server.answered.values()) == 0  # never asked


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fc00::1",
        "fd12::1",
        "fe80::1",
        "0.0.0.0",
        "100.64.0.1",
        "::ffff:127.0.0.1",
        "localhost",
    ],
)
def test_private_loopback_and_link_local_hosts_are_private(host: str) -> None:
    assert private_address(host)


def test_public_hosts_are_not_private() -> None:
    assert not private_address("93.184.215.14")
    assert not private_address("2606:4700::6810:84e5")


def test_importfile_reads_an_address_pasted_in_the_conversation(
    bot: Bot, server: FeedServer
) -> None:
    assert said("imports.file_ask") in bot.send(COORD, "/importfile")
    url = server.url("/forum.ics")
    bot.handle(TextMessage(COORD, url))
    done = "\n".join(out.text for out in bot.handle(ChoicePicked(COORD, DONE)))
    assert counted("imports.drafts_made", 3, source=Literal(url)) in done
    assert len(drafts(bot)) == 3


def stored_whole(item: OutgoingItem) -> list[OutgoingItem]:
    """A planner that keeps each message as one outbox row."""
    return [item]


def test_the_poller_makes_drafts_of_new_items_offered_to_the_groups_coordinators_once(
    bot: Bot, server: FeedServer
) -> None:
    cawg = bot.store.groups.by_slug("cawg")
    assert cawg is not None
    admin = bot.store.members.for_identity(TG, "1004", language="en")
    bot.store.members.set_language(admin.id, "es")
    # The calendar imported by hand first: the poll makes no second draft of its events.
    calendar = server.url("/forum.ics")
    bot.send(COORD, f"/import {calendar}")
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
        assert len(first["1002"]) == 1  # the calendar's events were drafted already
        feed = server.url("/calls.rss")
        offered = counted(
            "imports.new_drafts",
            30,
            feed=Literal(feed),
            group=Literal("Corporate Accountability"),
        )
        assert offered in first["1002"][0]
        assert (
            counted(
                "imports.new_drafts",
                30,
                "es",
                feed=Literal(feed),
                group=Literal("Corporate Accountability"),
            )
            in first["1004"][0]
        )
        assert len(drafts(bot)) == 33
        assert {record.fields.working_groups for record in drafts(bot)} == {(cawg.id,)}
        assert asyncio.run(poller.poll_due()) == 0  # not due again before the hour
        assert server.answered[("/calls.rss", 200)] == 1

        server.put("/calls.rss", b"not a feed at all")
        server.put("/forum.ics", INDICO_ICS.replace(b"1236", b"1237"), "text/calendar")
        assert asyncio.run(poller.poll_due(every_feed=True)) == 2
        assert asyncio.run(poller.poll_due(every_feed=True)) == 2
        after = notices()
        # One more notice for the calendar's new event, one for the broken feed: no more.
        assert len(after["1002"]) == 3
        failed = said(
            "imports.feed_failed",
            feed=Literal(feed),
            group=Literal("Corporate Accountability"),
            reason=Literal("not an RSS or Atom feed (SAXParseException)"),
        )
        assert any(failed in payload for payload in after["1002"][1:])
        new_event = max(drafts(bot), key=lambda record: record.id)
        assert new_event.title == "Regional forum deadline"
        one_new = counted(
            "imports.new_drafts",
            1,
            feed=Literal(calendar),
            group=Literal("Corporate Accountability"),
        )
        assert any(one_new in payload for payload in after["1002"][1:])
        # In the reader's language: the Spanish admin reads the day in Spanish.
        in_spanish = said(
            "imports.draft_dated",
            "es",
            number=new_event.id,
            title=Literal("Regional forum deadline"),
            day="15 dic 2026",
        )
        assert any(in_spanish in payload for payload in after["1004"][1:])
    finally:
        dispatcher.close()

    # After a restart (a new poller, the same database), the feeds' items stay seen.
    server.put("/calls.rss", rss(30))
    restarted = Dispatcher(bot.router, bot.store, planners={TG: stored_whole})
    try:
        again = imports.feed_poller(bot.config, bot.store, CATALOGS, restarted)
        assert asyncio.run(again.poll_due(every_feed=True)) == 2
        assert len(notices()["1002"]) == 3
        assert len(drafts(bot)) == 34
    finally:
        restarted.close()
