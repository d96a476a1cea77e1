"""Polls as coordinators set them up and members read them, on the console over SQLite and
PostgreSQL: the guided ``/poll`` with its review and a changed answer, each refusal of a bad
answer, members kept out of it; the post a room gets (numbered choices for an open ballot;
for a secret one a notice saying who sees what, with a private-vote button and no poll);
``/polls`` and ``/poll N`` with what each reader may see; ``/outcome``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import open_store
from bot.config import AppConfig, load_config
from bot.types import Literal, Message, Platform
from handlers.polls.answers import READ_DEADLINE, read_duration
from handlers.polls.labels import (
    ballot_value,
    parse_ballot_value,
    parse_vote_value,
    results_key,
    start_key,
    vote_value,
)
from storage import Store
from storage.polls import BallotKind, PollKind, PollState, QuorumKind, ResultsShown, VotersAre
from tests.harness.chat import ConsoleChat, console_chats
from tests.harness.clock import T0, Clock
from tests.harness.features import CATALOGS, first_line, said

CONFIG = """
data_dir = "data"
admins = ["console:root"]

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en", "es"]
coordinators = ["console:coord"]

[[working_groups]]
slug = "legal"
name = "Legal Aid"
languages = ["fr"]
coordinators = ["console:lex"]

[limits]
private_messages_per_minute = 10000
"""
ROOM = "cawg-room"
"""A console room linked to cawg: where its polls go."""
QUESTION = "Do we join the campaign on mining?"

Chats = Callable[[str], ConsoleChat]


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
        cawg, legal = group(opened, "cawg"), group(opened, "legal")
        opened.rooms.link(Platform.CONSOLE, ROOM, cawg)
        opened.rooms.link(Platform.CONSOLE, "legal-room", legal)
        opened.joining.add_member(member(opened, "ana"), cawg)
        opened.joining.add_member(member(opened, "bob"), cawg)
        member(opened, "out")
        yield opened
    finally:
        opened.close()


@pytest.fixture
async def chats(config: AppConfig, store: Store) -> AsyncIterator[Chats]:
    async with console_chats(config, store) as chat:
        yield chat


def group(store: Store, slug: str) -> int:
    found = store.groups.by_slug(slug)
    assert found is not None
    return found.id


def member(store: Store, user_id: str) -> int:
    return store.members.for_identity(Platform.CONSOLE, user_id, language="en").id


def shown(message: Message, language: str = "en") -> str:
    return CATALOGS.renderer(language, Platform.CONSOLE).label(message)


async def walk_to_review(
    chat: ConsoleChat,
    *,
    kind: str = "Simple poll",
    ballot: str = "Open ballot",
    deadline: str = "3d",
    results: str = "Live",
) -> str:
    """``/poll`` answered to its review: cawg (the coordinator's only group), two options
    in one message and a third in another, one choice each, a quorum of 2 voters, each
    member votes, every room."""
    await chat.send("/poll")
    await chat.send(QUESTION)
    await chat.pick(kind)
    if kind == "Simple poll":
        await chat.send("Yes, fully\nYes, as observers")
        await chat.send("No")
        await chat.pick(said("conversation.done"))
        await chat.pick("1")
    await chat.pick(ballot)
    await chat.send(deadline)
    await chat.pick(said("polls.create.quorum_voters"))
    await chat.send("2")
    await chat.pick(said("polls.voters.members"))
    if ballot != "Secret ballot":  # a secret ballot's results show at the close alone
        await chat.pick(results)
    return await chat.pick(said("polls.create.where_all"))


async def post_poll(chat: ConsoleChat, **answers: str) -> str:
    await walk_to_review(chat, **answers)
    return await chat.pick(said("conversation.submit"))


# -- the values every part shares ----------------------------------------------------------------


def test_post_keys_and_choice_values_read_back_as_written() -> None:
    assert (start_key(7), results_key(7)) == ("poll:7:start", "poll:7:results")
    assert parse_vote_value(vote_value(7, 2)) == (7, 2)
    assert parse_vote_value("7:2") == (7, 2)
    assert parse_ballot_value(ballot_value(7)) == 7
    for wrong in ("poll:x:1", "poll:7", "pollballot:7", "poll:0:1", "poll:7:-1"):
        assert parse_vote_value(wrong) is None
    assert parse_ballot_value("pollballot:") is None


@pytest.mark.parametrize(
    ("typed", "hours"),
    [
        ("3d", 72),
        ("48h", 48),
        ("2 weeks", 336),
        ("1 week 2 days", 216),
        ("3 días", 72),
        ("2 semaines", 336),
        ("36 horas", 36),
        ("١٠ أيام", 240),
        ("أسبوعين", 336),
    ],
)
def test_a_duration_reads_in_each_language(typed: str, hours: int) -> None:
    assert read_duration(typed) == timedelta(hours=hours)


def test_what_is_not_a_duration_is_not_read_as_one() -> None:
    for typed in ("2027-01-15", "soon", "3 apples", "d3", ""):
        assert read_duration(typed) is None


# -- setting one up --------------------------------------------------------------------------------


async def test_a_coordinator_reviews_changes_an_answer_and_posts_numbered_choices_to_the_room(
    store: Store, chats: Chats, clock: Clock
) -> None:
    coord = chats("coord")
    review = await walk_to_review(coord)
    assert QUESTION in review
    assert "1. Yes, fully" in review and "3. No" in review
    asked = await coord.pick(
        shown(Message.of("conversation.change", label=Message.of("polls.field.question")))
    )
    assert first_line("polls.create.ask_question") in asked
    await coord.send("Do we join the campaign on mining and water?")
    posted = await coord.pick(said("conversation.submit"))

    record = store.polls.get(1)
    assert record is not None and record.state is PollState.OPEN
    fields = record.fields
    assert fields.question == "Do we join the campaign on mining and water?"
    assert fields.options == ("Yes, fully", "Yes, as observers", "No")
    assert (fields.kind, fields.ballot, fields.voters) == (
        PollKind.SIMPLE,
        BallotKind.OPEN,
        VotersAre.MEMBERS,
    )
    assert (fields.quorum, fields.quorum_value, fields.max_selections) == (QuorumKind.VOTERS, 2, 1)
    assert fields.results is ResultsShown.LIVE
    assert fields.deadline == T0 + timedelta(days=3)
    assert fields.rooms == ((Platform.CONSOLE, ROOM),)
    assert record.created_by == member(store, "coord")
    close = store.scheduled.get("poll:1:close")
    reminder = store.scheduled.get("poll:1:reminder")
    assert close is not None and close.due_at == fields.deadline and close.kind == "poll.close"
    assert reminder is not None and reminder.due_at == fields.deadline - timedelta(hours=24)
    assert [entry.action for entry in store.audit.page().entries] == ["poll.created"]

    assert first_line("polls.create.posted") in posted
    # The room's post (in cawg's first language): the introduction, and the options as
    # numbered choices that vote.
    assert shown(Message.of("polls.post.open_how")) in posted
    for number, option in enumerate(fields.options, start=1):
        assert f"  {number}. {option}" in posted


async def test_a_secret_ballot_is_announced_with_who_sees_what_and_a_private_vote_button(
    store: Store, chats: Chats
) -> None:
    posted = await post_poll(chats("coord"), kind="Proposal", ballot="Secret ballot")
    record = store.polls.get(1)
    assert record is not None
    assert record.fields.options == ("agree", "abstain", "disagree", "block")
    assert record.fields.ballot is BallotKind.SECRET
    assert record.fields.results is ResultsShown.AFTER_CLOSE  # never asked, never live
    assert shown(Message.of("polls.post.secret_who_sees")) in posted
    assert shown(Message.of("polls.post.after_close")) in posted
    assert "/vote 1" in posted
    assert f"  1. {said('polls.post.vote_privately')}" in posted
    # No poll: the proposal's options are in the text only, never choices that vote.
    assert f"  1. {said('polls.option.agree')}" not in posted
    assert f"1. {said('polls.option.agree')}" in posted


async def test_a_member_who_coordinates_no_group_may_not_set_up_a_poll(
    store: Store, chats: Chats
) -> None:
    refused = await chats("ana").send("/poll")
    assert first_line("router.not_allowed") in refused
    assert store.conversations.load(member(store, "ana")) is None


async def test_each_bad_answer_is_refused_with_its_reason_and_nothing_is_posted(
    store: Store, chats: Chats
) -> None:
    coord = chats("coord")
    await coord.send("/poll")
    assert first_line("cases.too_long") in await coord.send("x" * 301)
    await coord.send(QUESTION)
    await coord.pick("Simple poll")
    assert first_line("polls.create.option_too_long") in await coord.send("y" * 101)
    await coord.send("Only one")
    assert first_line("polls.create.option_count") in await coord.pick(said("conversation.done"))
    await coord.send("/back")
    await coord.pick("Simple poll")
    await coord.send("Same\nsame")
    assert first_line("polls.create.duplicate_option") in await coord.pick(
        said("conversation.done")
    )
    await coord.send("/back")
    await coord.pick("Simple poll")
    await coord.send("A\nB")
    await coord.pick(said("conversation.done"))
    await coord.pick("2")
    await coord.pick("Open ballot")
    assert first_line("polls.create.bad_deadline") in await coord.send("next Friday")
    assert first_line("polls.create.deadline_range") in await coord.send("200d")
    said_zone = await coord.send("2025-03-05 17:00 Mars/Olympus")
    assert said("consult.bad_zone", zone=Literal("Mars/Olympus")) in said_zone
    await coord.send("2025-02-01 17:00")  # read, but past: refused when posting
    await coord.pick(said("polls.create.quorum_share"))
    assert first_line("polls.create.bad_quorum_share") in await coord.send("150")
    await coord.send("40%")
    await coord.pick(said("polls.voters.organizations"))
    await coord.pick("Only once")
    await coord.pick(said("polls.create.where_all"))
    refused = await coord.pick(said("conversation.submit"))
    assert first_line("polls.create.deadline_past") in refused
    assert store.polls.get(1) is None
    assert store.scheduled.get("poll:1:close") is None
    # Still at the review, which /poll shows again: the deadline changed, it posts.
    assert first_line("conversation.continuing") in await coord.send("/poll")
    await coord.pick(
        shown(Message.of("conversation.change", label=Message.of("polls.field.deadline")))
    )
    await coord.send("2025-03-05 17:00")
    posted = await coord.pick(said("conversation.submit"))
    assert first_line("polls.create.posted") in posted
    record = store.polls.get(1)
    assert record is not None
    assert (record.fields.quorum, record.fields.quorum_value) == (QuorumKind.SHARE, 40)
    assert record.fields.max_selections == 2


# -- reading them -------------------------------------------------------------------------------


async def test_polls_lists_the_open_and_recent_polls_of_the_members_groups_only(
    store: Store, chats: Chats, clock: Clock
) -> None:
    await post_poll(chats("coord"))
    await post_poll(chats("lex"))  # legal's: not ana's group
    listed = await chats("ana").send("/polls")
    assert QUESTION in listed and "Corporate Accountability" in listed
    assert "Legal Aid" not in listed
    assert shown(Message.counted("polls.list.turnout", 0, eligible=3)) in listed
    assert first_line("polls.list.none") in await chats("out").send("/polls")
    store.polls.close(1, now=clock.now, eligible=3)
    clock.advance(days=29)
    assert QUESTION in await chats("ana").send("/polls")
    clock.advance(days=2)
    assert first_line("polls.list.none") in await chats("ana").send("/polls")


async def test_results_after_closing_are_hidden_from_members_and_shown_to_coordinators(
    store: Store, chats: Chats, clock: Clock
) -> None:
    await post_poll(chats("coord"), results="Only once")
    ana, bob = member(store, "ana"), member(store, "bob")
    store.members.set_profile(ana, display_name="Ana Pérez", organization=None, time_zone=None)
    for voter, choice in ((ana, 0), (bob, 2)):
        store.polls.cast(
            1,
            voter=f"member:{voter}",
            member_id=voter,
            organization_id=None,
            choices=(choice,),
            platform=Platform.CONSOLE,
            cast_at=clock.now,
        )
    one_vote = shown(
        Message.counted(
            "polls.show.tally_line", 1, number=1, option=Literal("Yes, fully"), share=50
        )
    )
    to_ana = await chats("ana").send("/poll 1")
    assert first_line("polls.show.hidden") in to_ana and one_vote not in to_ana
    to_coord = await chats("coord").send("/poll 1")
    assert one_vote in to_coord
    assert shown(Message.counted("polls.show.who_header", 2)) in to_coord
    assert "Ana Pérez" in to_coord
    assert first_line("polls.show.no_such") in await chats("out").send("/poll 1")
    assert first_line("polls.show.no_such") in await chats("ana").send("/poll 99")
    store.polls.close(1, now=clock.now, eligible=3)
    to_ana = await chats("ana").send("/poll 1")
    assert one_vote in to_ana and "Ana Pérez" not in to_ana


async def test_coordinators_never_see_who_chose_what_in_a_secret_ballot(
    store: Store, chats: Chats
) -> None:
    await post_poll(chats("coord"), ballot="Secret ballot")
    ana = member(store, "ana")
    store.members.set_profile(ana, display_name="Ana Pérez", organization=None, time_zone=None)
    assert store.polls.cast_secret(1, voter=f"member:{ana}", member_id=ana, choices=(1,))
    to_coord = await chats("coord").send("/poll 1")
    assert (
        shown(
            Message.counted(
                "polls.show.turnout",
                1,
                eligible=3,
                quorum=Message.counted("polls.show.quorum_not_met", 2),
            )
        )
        in to_coord
    )
    assert shown(Message.counted("polls.show.who_header", 1)) not in to_coord
    assert "Ana Pérez" not in to_coord
    # Nor the counts while it is open: they would tell her choice to whoever saw her vote.
    assert first_line("polls.show.secret_until_close") in to_coord
    assert "(100%)" not in to_coord


# -- the outcome ----------------------------------------------------------------------------------


async def test_a_coordinator_records_the_outcome_once_closed_and_it_goes_where_the_poll_went(
    store: Store, chats: Chats, clock: Clock
) -> None:
    coord = chats("coord")
    await post_poll(coord)
    assert first_line("polls.outcome.not_closed") in await coord.send("/outcome 1 We join.")
    assert first_line("polls.outcome.usage") in await coord.send("/outcome 1")
    assert first_line("router.not_allowed") in await chats("ana").send("/outcome 1 We join.")
    assert first_line("polls.show.no_such") in await chats("lex").send("/outcome 1 Nope.")
    store.polls.close(1, now=clock.now, eligible=3)
    recorded = await coord.send("/outcome 1 We join the campaign as observers.")
    assert first_line("polls.outcome.recorded") in recorded
    notice = shown(
        Message.of(
            "polls.outcome.notice",
            number=1,
            question=Literal(QUESTION),
            outcome=Literal("We join the campaign as observers."),
        )
    )
    assert notice in recorded  # the room's post, printed on the console
    record = store.polls.get(1)
    assert record is not None and record.outcome == "We join the campaign as observers."
    assert "We join the campaign as observers." in await chats("ana").send("/poll 1")
    actions = [entry.action for entry in store.audit.page().entries]
    assert actions == ["poll.outcome", "poll.created"]


async def test_a_poll_goes_only_to_the_rooms_chosen_and_an_admin_first_chooses_the_group(
    store: Store, chats: Chats
) -> None:
    store.rooms.link(Platform.CONSOLE, "cawg-annex", group(store, "cawg"))
    root = chats("root")
    assert first_line("polls.create.ask_group") in await root.send("/poll")
    await root.pick("Corporate Accountability")
    await root.send(QUESTION)
    await root.pick("Proposal")
    await root.pick("Open ballot")
    await root.send("48h")
    await root.pick(said("polls.create.quorum_none"))
    await root.pick(said("polls.voters.members"))
    await root.pick("Live")
    rooms = await root.pick(said("polls.create.where_some"))
    assert "cawg-annex" in rooms and "legal-room" not in rooms
    await root.pick("cawg-annex")
    await root.pick(said("conversation.done"))
    posted = await root.pick(said("conversation.submit"))
    assert shown(Message.counted("polls.create.rooms", 1)) in posted
    record = store.polls.get(1)
    assert record is not None
    assert record.fields.rooms == ((Platform.CONSOLE, "cawg-annex"),)
    assert record.fields.quorum is QuorumKind.NONE


@pytest.mark.parametrize(
    ("typed", "language", "local"),
    [
        ("2027-01-15 17:00", "en", "2027-01-15T17:00"),
        ("15 de enero de 2027 a las 17:00", "es", "2027-01-15T17:00"),
        ("3 mars 2027 à 9h30", "fr", "2027-03-03T09:30"),
        ("١٥ يناير ٢٠٢٧", "ar", "2027-01-15T23:59"),
    ],
)
def test_a_deadline_reads_as_a_date_with_the_month_named_in_the_coordinators_language(
    typed: str, language: str, local: str
) -> None:
    assert READ_DEADLINE.read(typed, language) == {"local": local, "zone": None}


async def test_coordinators_read_an_open_proposals_blocks_with_their_reasons_members_do_not(
    store: Store, chats: Chats, clock: Clock
) -> None:
    await post_poll(chats("coord"), kind="Proposal")
    ana = member(store, "ana")
    store.members.set_profile(ana, display_name="Ana Pérez", organization=None, time_zone=None)
    store.polls.cast(
        1,
        voter=f"member:{ana}",
        member_id=ana,
        organization_id=None,
        choices=(3,),
        platform=Platform.CONSOLE,
        cast_at=clock.now,
    )
    store.polls.record_block(1, ana, "It puts our partners at risk.")
    to_coord = await chats("coord").send("/poll 1")
    assert shown(Message.counted("polls.show.blocks_header", 1)) in to_coord
    assert "It puts our partners at risk." in to_coord
    to_bob = await chats("bob").send("/poll 1")
    assert "It puts our partners at risk." not in to_bob and "Ana Pérez" not in to_bob
