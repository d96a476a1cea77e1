"""Voting, results and closing, by the router on SQLite and PostgreSQL with a clock the tests
move: picks by number and native answers (a Telegram ``poll_answer`` by the poll's id, a
Matrix response by its start event) counted once per member in one tally, changed and
withdrawn; votes of non-members and late votes refused, said once; a proposal's block
reported to the coordinators with the reason asked for; a secret ballot cast once in
private without naming the choice; ``/closepoll`` and the scheduled close, once, with the
results in every room and to the creator; reminders to those who have not voted. Members
write from the console and from Telegram and Matrix accounts, whose private chats notices
reach; what goes to Telegram and Matrix waits in the outbox, as no platform runs here."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.app import build_registry, network_planners, open_store
from bot.config import AppConfig, load_config
from bot.context import Context, HandlerStore
from bot.keys import sealer_for
from bot.notices import notice_address
from bot.queueing import queue_replies
from bot.registry import Registry
from bot.router import Router
from bot.scheduler import Scheduler
from bot.transports.telegram.render import (
    POLL_CLOSE_EARLIEST,
    POLL_CLOSE_LATEST,
    POLL_CLOSE_MARGIN,
)
from bot.types import (
    ChoicePicked,
    Command,
    Incoming,
    Message,
    Origin,
    Outgoing,
    Platform,
    Role,
    TextMessage,
    VoteCast,
)
from handlers.polls import create
from handlers.polls.labels import results_key, start_key, vote_value
from handlers.polls.results import current_tally
from handlers.polls.voting import TELEGRAM_CLOSES_ITSELF
from storage import Store
from storage.polls import (
    BallotKind,
    PollFields,
    PollKind,
    PollRecord,
    PollState,
    QuorumKind,
    ResultsShown,
    VotersAre,
)
from storage.scheduled import ScheduledState
from tests.harness.clock import T0, Clock
from tests.harness.features import CATALOGS

TG, MX, CONSOLE = Platform.TELEGRAM, Platform.MATRIX, Platform.CONSOLE
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
languages = ["en"]
telegram_chats = [-100111]
matrix_rooms = ["!cawg:x"]
coordinators = ["telegram:1002"]

[[working_groups]]
slug = "land"
name = "Land and Territory"
languages = ["es"]

[limits]
private_messages_per_minute = 10000
"""
TG_ROOM, MX_ROOM, CONSOLE_ROOM = "-100111", "!cawg:x", "cawg-room"
ROOMS = ((TG, TG_ROOM), (MX, MX_ROOM), (CONSOLE, CONSOLE_ROOM))
TG_POLL, MX_POLL = "5550001", "$pollstart"
"""The platforms' ids of poll 1 once delivered: Telegram's poll id, Matrix's start event."""
DEADLINE = T0 + timedelta(days=3)


def private(platform: Platform, user: str) -> Origin:
    room = "console" if platform is CONSOLE else user
    return Origin(platform, room, user, is_direct=True, language_hint="en")


COORD = private(TG, "1002")
"""Coordinates cawg, and creates its polls."""
ANA = private(CONSOLE, "ana")
BOB = private(TG, "1001")
CARL = private(MX, "@carl:x")
CARL_IN_ROOM = Origin(MX, MX_ROOM, "@carl:x", is_direct=False)
OUT = private(CONSOLE, "out")
"""Not a member of cawg."""
ZED_IN_ROOM = Origin(MX, MX_ROOM, "@zed:x", is_direct=False)
"""In the Matrix room, but not a member of cawg."""


class Bot:
    """The router and the scheduler on one store, queueing what they say as the running bot
    does; what goes to the console comes back as it is."""

    def __init__(self, store: Store, config: AppConfig) -> None:
        self.store = store
        self.config = config
        self.registry: Registry = build_registry()
        self.router = Router(store, self.registry, CATALOGS, config)
        self.planners = network_planners(config, store)

    def handle(self, event: Incoming) -> list[Outgoing]:
        with self.store.transaction():
            said = self.router.handle(event)
            # What the console says is shown there, not queued.
            queue_replies(self.store, [o for o in said if o.platform is not CONSOLE], self.planners)
        return said

    def send(self, origin: Origin, text: str) -> list[Outgoing]:
        if not text.startswith("/"):
            return self.handle(TextMessage(origin, text))
        name, *args = text.removeprefix("/").split()
        return self.handle(Command(origin, name, tuple(args)))

    def pick(self, origin: Origin, value: str) -> list[Outgoing]:
        return self.handle(ChoicePicked(origin, value))

    def vote(self, origin: Origin, poll: str, *options: str) -> list[Outgoing]:
        return self.handle(VoteCast(origin, poll, options, sent_at=self.store.now()))

    def member_id(self, origin: Origin) -> int:
        return self.store.members.for_identity(origin.platform, origin.user_id, language="en").id

    def scheduler(self) -> Scheduler:
        return Scheduler(self.store, self.registry, CATALOGS, self.config, planners=self.planners)

    def queued(self, room: str, kind: str | None = None) -> list[str]:
        """The texts waiting in the outbox for a room (a Telegram or Matrix one), of every
        kind of item or of one (``bot_message``, ``bot_edit``, ``poll_end``)."""
        return [
            str(row.payload.get("text", ""))
            for platform in (TG, MX)
            for row in self.store.outbox.pending(platform, limit=500)
            if row.room_id == room and kind in (None, row.payload.get("kind"))
        ]


@pytest.fixture
def bot(tmp_path: Path, database_url: str, clock: Clock) -> Iterator[Bot]:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    env = {
        "CAUCUS_DATABASE_URL": database_url,
        "CAUCUS_TELEGRAM_TOKEN": "123:abc",
        "CAUCUS_MATRIX_ACCESS_TOKEN": "token",
        "CAUCUS_MATRIX_PICKLE_KEY": "pickle",
    }
    config: AppConfig = load_config(path, env=env)
    open_store(config).close()
    store = Store(config.database_url, clock=clock, sealer=sealer_for(config))
    running = Bot(store, config)
    for origin in (COORD, ANA, BOB, CARL, OUT):
        running.send(origin, "/start")  # each has written privately: notices reach them
    cawg = store.groups.by_slug("cawg")
    assert cawg is not None
    with store.transaction():
        store.rooms.link(CONSOLE, CONSOLE_ROOM, cawg.id)
        for origin in (ANA, BOB, CARL):
            store.joining.add_member(running.member_id(origin), cawg.id)
    try:
        yield running
    finally:
        store.close()


def post_poll(bot: Bot, **fields: object) -> PollRecord:
    """A poll of cawg posted by its coordinator as ``/poll`` posts one (its rooms' posts and
    its scheduled close and reminder), the native polls then delivered."""
    store = bot.store
    cawg = store.groups.by_slug("cawg")
    coordinator = store.members.get(bot.member_id(COORD))
    assert cawg is not None and coordinator is not None
    wanted = PollFields(
        working_group_id=cawg.id,
        question="Do we join the campaign on mining?",
        options=("Yes", "No", "Later"),
        kind=PollKind.SIMPLE,
        max_selections=1,
        ballot=BallotKind.OPEN,
        voters=VotersAre.MEMBERS,
        results=ResultsShown.LIVE,
        quorum=QuorumKind.VOTERS,
        quorum_value=2,
        deadline=DEADLINE,
        time_zone="Europe/Zurich",
        remind_before=timedelta(hours=24),
        rooms=ROOMS,
    )
    context = Context(
        origin=COORD,
        member=coordinator,
        role=Role.COORDINATOR,
        roles=store.groups.roles_of(coordinator.id),
        working_group=None,
        store=HandlerStore.of(store),
        registry=bot.registry,
        config=bot.config,
        languages=CATALOGS.languages,
    )
    with store.transaction():
        record = store.polls.create(replace(wanted, **fields), coordinator.id)  # type: ignore[arg-type]
        create.schedule(context, record)
        posts = [
            CATALOGS.render_reply(reply, "en", reply.to.platform, reply.to.room_id)
            for reply in create.room_posts(context, record, cawg)
            if reply.to is not None
        ]
        queue_replies(store, [o for o in posts if o.platform is not CONSOLE], bot.planners)
    for platform, room, message, native in (
        (TG, TG_ROOM, "77", TG_POLL),
        (MX, MX_ROOM, MX_POLL, None),
    ):
        posted = store.posts.outbox_id_of(start_key(record.id), platform, room)
        assert posted is not None
        store.outbox.mark_delivered_in_batch(
            [([posted], message)], {posted: native} if native else None
        )
    return record


def said(key: str, **params: object) -> str:
    return CATALOGS.renderer("en", CONSOLE).label(Message.of(key, **params))  # type: ignore[arg-type]


def counted(key: str, count: int, **params: object) -> str:
    return CATALOGS.renderer("en", CONSOLE).label(Message.counted(key, count, **params))  # type: ignore[arg-type]


def to(outgoing: list[Outgoing], origin: Origin | str) -> str:
    """What was said in a room, or to a member (answers and notices alike)."""
    if isinstance(origin, str):
        rooms = {origin}
    else:
        rooms = {origin.room_id, notice_address(origin.user_id)}
    return "\n".join(out.text for out in outgoing if out.room_id in rooms)


def tally_of(bot: Bot, poll_id: int = 1) -> tuple[tuple[int, ...], int]:
    record = bot.store.polls.get(poll_id)
    assert record is not None
    found = current_tally(HandlerStore.of(bot.store), record)
    return found.counts, found.voters


# -- voting --------------------------------------------------------------------------------------


def test_numbered_picks_and_native_answers_count_once_each_and_edit_the_live_results_everywhere(
    bot: Bot,
) -> None:
    post_poll(bot)
    picked = bot.pick(ANA, vote_value(1, 0))
    assert said("polls.vote.now", number=1, choices="Yes") in to(picked, ANA)
    live = [out for out in picked if out.edits == results_key(1)]
    assert sorted((out.platform, out.room_id) for out in live) == sorted(ROOMS)
    assert "█ 1 (100%)" in live[0].text and "1 of 4 members voted (25%)" in live[0].text

    answered = bot.vote(BOB, TG_POLL, "1")
    assert answered and all(out.edits == results_key(1) for out in answered)
    bot.vote(CARL_IN_ROOM, MX_POLL, "1")
    assert tally_of(bot) == ((1, 2, 0), 3)
    bot.vote(CARL_IN_ROOM, MX_POLL, "1")  # delivered twice: nothing changes
    assert tally_of(bot) == ((1, 2, 0), 3)
    # The results message went once to each chat room and is edited in place after that.
    posted = {(room.platform, room.room_id) for room in bot.store.posts.rooms_of(results_key(1))}
    assert posted == {(TG, TG_ROOM), (MX, MX_ROOM)}
    assert bot.vote(BOB, "unknown-poll", "0") == []


def test_results_shown_only_after_closing_are_not_posted_while_it_is_open(bot: Bot) -> None:
    post_poll(bot, results=ResultsShown.AFTER_CLOSE)
    picked = bot.pick(ANA, vote_value(1, 0))
    voted = bot.vote(BOB, TG_POLL, "1")
    assert [
        out for out in (*picked, *voted) if out.edits or out.room_id in dict(ROOMS).values()
    ] == []
    assert bot.store.posts.rooms_of(results_key(1)) == []
    assert tally_of(bot) == ((1, 1, 0), 2)


def test_a_vote_changes_and_is_withdrawn_and_a_stale_response_changes_nothing(bot: Bot) -> None:
    post_poll(bot, max_selections=2)
    bot.pick(ANA, vote_value(1, 0))
    both = bot.pick(ANA, vote_value(1, 2))
    assert said("polls.vote.now", number=1, choices="Yes, Later") in to(both, ANA)
    refused = bot.pick(ANA, vote_value(1, 1))
    assert counted("polls.vote.too_many", 2, number=1) in to(refused, ANA)
    assert said("polls.vote.now", number=1, choices="Later") in to(
        bot.pick(ANA, vote_value(1, 0)), ANA
    )
    assert said("polls.vote.withdrawn", number=1) in to(bot.pick(ANA, vote_value(1, 2)), ANA)
    assert tally_of(bot) == ((0, 0, 0), 0)

    bot.vote(BOB, TG_POLL, "0")
    bot.vote(BOB, TG_POLL, "1", "2")
    assert tally_of(bot) == ((0, 1, 1), 1)
    bot.vote(BOB, TG_POLL)  # a retraction
    assert tally_of(bot) == ((0, 0, 0), 0)

    # Matrix responses read out of order (sent ten and eleven minutes ago): the time they
    # were sent decides.
    later = bot.store.now() - timedelta(minutes=10)
    bot.handle(VoteCast(CARL_IN_ROOM, MX_POLL, ("0",), sent_at=later))
    bot.handle(VoteCast(CARL_IN_ROOM, MX_POLL, ("1",), sent_at=later - timedelta(minutes=1)))
    assert tally_of(bot) == ((1, 0, 0), 1)
    bot.handle(VoteCast(CARL_IN_ROOM, MX_POLL, ("0", "7"), sent_at=later + timedelta(minutes=1)))
    assert tally_of(bot) == ((1, 0, 0), 1)  # an unknown answer spoils the response
    cut = bot.handle(
        VoteCast(CARL_IN_ROOM, MX_POLL, ("2", "1", "0"), sent_at=later + timedelta(minutes=2))
    )
    assert tally_of(bot) == ((0, 1, 1), 1)  # more than two: the first two count
    assert counted("polls.vote.cut", 2, number=1, choices="No, Later") in to(cut, CARL)


def test_a_non_member_is_not_counted_and_told_once_privately(bot: Bot) -> None:
    post_poll(bot)
    first = bot.pick(OUT, vote_value(1, 0))
    assert said("polls.vote.not_member", number=1) in to(first, OUT)
    assert to(bot.pick(OUT, vote_value(1, 1)), OUT) == ""
    told = bot.vote(ZED_IN_ROOM, MX_POLL, "0")
    assert [(out.room_id, out.private_to) for out in told] == [(notice_address("@zed:x"), "@zed:x")]
    assert said("polls.vote.not_member", number=1) in told[0].text
    assert bot.vote(ZED_IN_ROOM, MX_POLL, "1") == []
    assert tally_of(bot) == ((0, 0, 0), 0)


def test_a_vote_after_the_deadline_is_refused_once_and_one_sent_before_it_counts(
    bot: Bot, clock: Clock
) -> None:
    post_poll(bot)
    clock.now = DEADLINE + timedelta(minutes=1)  # the bot was slow: not closed yet
    assert said("polls.vote.late", number=1) in to(bot.pick(ANA, vote_value(1, 0)), ANA)
    assert to(bot.pick(ANA, vote_value(1, 0)), ANA) == ""
    sent = DEADLINE - timedelta(minutes=1)
    bot.handle(VoteCast(CARL_IN_ROOM, MX_POLL, ("2",), sent_at=sent))
    assert tally_of(bot) == ((0, 0, 1), 1)


def test_an_answer_to_a_poll_telegram_closed_itself_counts_however_late_it_is_read(
    bot: Bot, clock: Clock
) -> None:
    """Telegram refuses answers after the poll's close_date: one the bot reads after the
    deadline (it was down), before its own close, was cast in time. A Matrix response says
    when it was sent, and a homeserver's clock running fast cannot push it past now."""
    post_poll(bot)  # a deadline three days ahead: Telegram's poll closes itself
    clock.now = DEADLINE + timedelta(hours=5)
    bot.handle(VoteCast(BOB, TG_POLL, ("1",)))
    assert tally_of(bot) == ((0, 1, 0), 1)
    bot.handle(VoteCast(CARL_IN_ROOM, MX_POLL, ("0",), sent_at=clock.now + timedelta(days=9)))
    assert tally_of(bot) == ((0, 1, 0), 1)  # late, by the time it arrived


def test_the_polls_idea_of_when_telegram_closes_a_poll_is_the_renderers() -> None:
    shortest, longest = TELEGRAM_CLOSES_ITSELF
    assert shortest == POLL_CLOSE_EARLIEST + POLL_CLOSE_MARGIN
    assert longest == POLL_CLOSE_LATEST - POLL_CLOSE_MARGIN


def test_two_accounts_of_one_person_vote_once(bot: Bot) -> None:
    post_poll(bot)
    dana_tg, dana_mx = private(TG, "1009"), Origin(MX, MX_ROOM, "@dana:x", is_direct=False)
    dana = bot.member_id(dana_tg)
    cawg = bot.store.groups.by_slug("cawg")
    assert cawg is not None
    bot.member_id(dana_mx)  # her Matrix account, a member of its own until connected
    with bot.store.transaction():
        bot.store.joining.add_member(dana, cawg.id)
        bot.store.accounts.issue_code(dana, "d" * 64)
        bot.store.accounts.redeem(MX, "@dana:x", "d" * 64)
    assert bot.member_id(dana_mx) == dana
    bot.vote(dana_tg, TG_POLL, "0")
    bot.vote(dana_mx, MX_POLL, "1")
    assert tally_of(bot) == ((0, 1, 0), 1)


def test_an_organization_votes_once_through_its_latest_signatory(bot: Bot) -> None:
    with bot.store.transaction():
        red = bot.store.organizations.add("Red Étnica de Mujeres", "CO", "union")
        for origin in (BOB, CARL):
            signatory = bot.member_id(origin)
            bot.store.organizations.claim(signatory, red.id)
            bot.store.organizations.decide(signatory, red.id, confirm=True)
            bot.store.organizations.set_signatory(signatory, red.id, True)
    post_poll(bot, voters=VotersAre.ORGANIZATIONS)
    bot.vote(BOB, TG_POLL, "0")
    live = bot.vote(CARL_IN_ROOM, MX_POLL, "1")
    assert tally_of(bot) == ((0, 1, 0), 1)
    assert "1 of 1 organizations voted (100%)" in to(live, TG_ROOM)
    refused = bot.pick(ANA, vote_value(1, 0))  # a member, but signs for no organization
    assert said("polls.vote.not_signatory", number=1) in to(refused, ANA)


# -- blocks --------------------------------------------------------------------------------------


def test_a_block_is_reported_to_the_coordinators_at_once_and_the_reason_follows(bot: Bot) -> None:
    post_poll(bot, kind=PollKind.PROPOSAL, options=("agree", "abstain", "disagree", "block"))
    bob = bot.member_id(BOB)
    blocked = bot.vote(BOB, TG_POLL, "3")
    reported = to(blocked, COORD)
    assert (
        said(
            "polls.vote.block_reported",
            number=1,
            who=Message.of("polls.vote.member_number", number=bob),
        )
        in reported
    )
    assert "Do we join the campaign on mining?" in reported
    assert said("polls.vote.block_ask_reason", number=1, command="/blockreason") in to(blocked, BOB)

    assert said("polls.vote.no_block", number=1) in to(bot.send(ANA, "/blockreason 1"), ANA)
    bot.send(BOB, "/blockreason 1")
    given = bot.send(BOB, "It would expose our partners in the field.")
    assert said("polls.vote.reason_sent", number=1) in to(given, BOB)
    assert "It would expose our partners in the field." in to(given, COORD)
    blocks = bot.store.polls.blocks(1)
    assert [(b.member_id, b.reason) for b in blocks] == [
        (bob, "It would expose our partners in the field.")
    ]
    withdrawn = bot.vote(BOB, TG_POLL, "0")
    assert "no longer blocks" in to(withdrawn, COORD)
    # Taken back, the block and its reason are gone: from /poll N, and no reason is asked.
    assert bot.store.polls.blocks(1) == []
    assert said("polls.vote.no_block", number=1) in to(bot.send(BOB, "/blockreason 1"), BOB)


@pytest.mark.parametrize("typed", ["²", "99999999999999999999", "-1", "#", "1.5"])
def test_a_poll_number_that_is_no_number_gets_the_usage_and_changes_nothing(
    bot: Bot, typed: str
) -> None:
    post_poll(bot)
    assert said("polls.vote.usage", command="/vote") in to(bot.send(BOB, f"/vote {typed}"), BOB)
    closing = bot.send(COORD, f"/closepoll {typed}")
    assert said("polls.close.usage", command="/closepoll") in to(closing, COORD)
    reason = bot.send(BOB, f"/blockreason {typed}")
    assert said("polls.vote.reason_usage", command="/blockreason") in to(reason, BOB)
    record = bot.store.polls.get(1)
    assert record is not None and record.state is PollState.OPEN
    # Any script's digits are a number: an Arabic reader's one is poll 1.
    assert said("polls.vote.usage", command="/vote") not in to(bot.send(BOB, "/vote ١"), BOB)


def test_polls_asked_for_in_a_group_room_are_that_groups_alone(bot: Bot) -> None:
    """A member of two groups asking in one group's room does not show the other's polls
    to that room."""
    post_poll(bot)
    land = bot.store.groups.by_slug("land")
    assert land is not None
    bob = bot.member_id(BOB)
    bot.store.joining.add_member(bob, land.id)
    bot.store.polls.create(
        replace(bot.store.polls.get(1).fields, working_group_id=land.id, question="Land only?"),  # type: ignore[union-attr]
        bob,
    )
    in_private = "\n".join(out.text for out in bot.send(BOB, "/polls"))
    assert "Land only?" in in_private and "mining" in in_private
    in_room = bot.send(Origin(TG, TG_ROOM, "1001", is_direct=False), "/polls")
    shown = "\n".join(out.text for out in in_room)
    assert "mining" in shown and "Land only?" not in shown
    other = bot.send(Origin(TG, TG_ROOM, "1001", is_direct=False), "/poll 2")
    assert "Land only?" not in "\n".join(out.text for out in other)


# -- secret ballots ------------------------------------------------------------------------------


def test_a_secret_ballot_is_cast_once_in_private_and_nothing_said_or_logged_names_the_choice(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    post_poll(bot, ballot=BallotKind.SECRET, options=("Geneva", "Nairobi", "Bogotá"))
    ballot = bot.send(ANA, "/vote 1")
    assert [choice.value for choice in ballot[0].choices] == [vote_value(1, i) for i in range(3)]
    caplog.set_level(logging.DEBUG)
    cast = bot.pick(ANA, vote_value(1, 1))
    assert said("polls.vote.secret_cast", number=1) in to(cast, ANA)
    assert said("polls.vote.already_voted", number=1) in to(bot.pick(ANA, vote_value(1, 0)), ANA)
    in_room = bot.send(Origin(TG, TG_ROOM, "1001", is_direct=False), "/vote 1 2")
    assert said("polls.vote.secret_in_private", number=1, command="/vote") in to(in_room, TG_ROOM)
    bot.send(BOB, "/vote 1 2")
    pressed = bot.pick(Origin(TG, TG_ROOM, "1001", is_direct=False), "pollballot:1")
    assert said("polls.vote.already_voted", number=1) in to(pressed, BOB)

    store = bot.store
    assert sorted(store.polls.secret_ballots(1)) == [(1,), (1,)]
    assert store.polls.voters(1) == {f"member:{bot.member_id(ANA)}", f"member:{bot.member_id(BOB)}"}
    assert store.polls.votes(1) == [] and store.polls.blocks(1) == []
    assert store.posts.rooms_of(results_key(1)) == []  # no live results: they would tell
    # Bob chose Nairobi: nothing said to him, nor logged, names it; Ana's answers neither.
    assert bot.queued(BOB.room_id) and not any("Nairobi" in t for t in bot.queued(BOB.room_id))
    assert "Nairobi" not in to(cast, ANA)
    assert "Nairobi" not in caplog.text
    assert [entry.action for entry in store.audit.page().entries] == []


def test_a_secret_proposal_tells_the_coordinators_how_many_blocked_only_when_it_closes(
    bot: Bot,
) -> None:
    post_poll(
        bot,
        kind=PollKind.PROPOSAL,
        options=("agree", "abstain", "disagree", "block"),
        ballot=BallotKind.SECRET,
    )
    blocked = bot.send(BOB, "/vote 1 4")
    assert to(blocked, COORD) == ""
    bot.send(ANA, "/vote 1 1")
    closed = bot.send(COORD, "/closepoll 1")
    assert counted("polls.close.secret_blocks", 1, number=1) in to(closed, COORD)
    assert [out for out in closed if out.ends_poll] == []  # no native poll to end


# -- closing -------------------------------------------------------------------------------------


def test_closepoll_closes_once_posting_the_results_in_every_room_and_to_the_creator(
    bot: Bot,
) -> None:
    post_poll(bot)
    bot.pick(ANA, vote_value(1, 0))
    bot.vote(BOB, TG_POLL, "0")
    bot.vote(CARL_IN_ROOM, MX_POLL, "1")
    assert said("router.not_allowed", role=Message.of("role.coordinator")) in to(
        bot.send(BOB, "/closepoll 1"), BOB
    )
    closed = bot.send(COORD, "/closepoll 1")
    assert said("polls.close.done", number=1) in to(closed, COORD)
    ends = [out for out in closed if out.ends_poll == start_key(1)]
    assert sorted((out.platform, out.room_id) for out in ends) == sorted(ROOMS)
    assert all("3 of 4 members voted (75%)" in out.text for out in ends)  # Matrix's fallback
    with_picture = [out for out in closed if out.media]
    assert sorted(out.room_id for out in with_picture) == sorted(
        [TG_ROOM, MX_ROOM, CONSOLE_ROOM, COORD.room_id]
    )
    for out in with_picture:
        assert out.media[0].data.startswith(b"\x89PNG")
        assert said("polls.result.final", number=1) in out.text
        assert "3 of 4 members voted (75%)" in out.text
        assert counted("polls.result.quorum_met", 2) in out.text
        assert "67%" in out.text and "33%" in out.text
    record = bot.store.polls.get(1)
    assert record is not None and record.state is PollState.CLOSED
    # A voter who leaves the group afterwards changes nothing of the results as posted.
    cawg = bot.store.groups.by_slug("cawg")
    assert cawg is not None
    bot.store.joining.leave(bot.member_id(CARL), cawg.id)
    assert tally_of(bot) == ((2, 1, 0), 3)  # what /poll 1 and /polls show
    assert bot.store.scheduled.with_prefix("poll:1:") == [] or all(
        row.state != "pending" for row in bot.store.scheduled.with_prefix("poll:1:")
    )
    assert said("polls.close.already_closed", number=1) in to(
        bot.send(COORD, "/closepoll 1"), COORD
    )
    assert said("polls.vote.late", number=1) in to(bot.pick(ANA, vote_value(1, 1)), ANA)
    assert [entry.action for entry in bot.store.audit.page().entries].count("poll.closed") == 1


def assert_closed_once(bot: Bot, *, at: datetime) -> None:
    record = bot.store.polls.get(1)
    assert record is not None and record.state is PollState.CLOSED and record.closed_at == at
    final = said("polls.result.final", number=1)
    for room in (TG_ROOM, MX_ROOM):
        assert sum(final in text for text in bot.queued(room, "bot_message")) == 1
        assert sum(final in text for text in bot.queued(room, "bot_edit")) == 1  # live results
        assert len(bot.queued(room, "poll_end")) == 1
    creator = [t for t in bot.queued(COORD.room_id, "bot_message") if final in t]
    assert len(creator) == 1


def test_the_scheduler_closes_a_poll_at_its_deadline_once(bot: Bot, clock: Clock) -> None:
    post_poll(bot, remind_before=None)
    bot.pick(ANA, vote_value(1, 2))
    clock.now = DEADLINE - timedelta(seconds=1)
    scheduler = bot.scheduler()
    assert scheduler.run_due() == 0
    clock.now = DEADLINE
    assert scheduler.run_due() == 1
    assert scheduler.run_due() == 0
    assert_closed_once(bot, at=DEADLINE)


def test_a_deadline_passed_while_the_bot_was_down_closes_the_poll_once_at_start(
    bot: Bot, clock: Clock
) -> None:
    post_poll(bot)
    bot.pick(ANA, vote_value(1, 2))
    clock.now = DEADLINE + timedelta(days=2)  # down over the deadline, started again
    with Store(bot.config.database_url, clock=clock, sealer=sealer_for(bot.config)) as later:
        restarted = Bot(later, bot.config)
        scheduler = restarted.scheduler()
        scheduler.recover()
        assert scheduler.run_due() == 2  # the reminder, too late, skipped; the closing done
        assert scheduler.run_due() == 0
        reminder = later.scheduled.get("poll:1:reminder")
        assert reminder is not None and reminder.state is ScheduledState.SKIPPED
    assert_closed_once(bot, at=clock.now)


def test_results_shares_add_up_to_a_hundred(bot: Bot) -> None:
    post_poll(bot)
    for origin, option in ((ANA, 0), (BOB, 1), (CARL, 2)):
        bot.pick(origin, vote_value(1, option))
    record = bot.store.polls.get(1)
    assert record is not None
    shares = current_tally(HandlerStore.of(bot.store), record).shares
    assert sum(shares) == 100 and sorted(shares) == [33, 33, 34]


# -- reminders -----------------------------------------------------------------------------------


def test_a_reminder_goes_once_to_each_member_who_has_not_voted(bot: Bot, clock: Clock) -> None:
    post_poll(bot)
    bot.vote(BOB, TG_POLL, "0")
    clock.now = DEADLINE - timedelta(hours=23)
    scheduler = bot.scheduler()
    before = {room: len(bot.queued(room)) for room in (COORD.room_id, BOB.room_id)}
    before_carl = len(bot.queued(notice_address(CARL.user_id)))
    assert scheduler.run_due() == 1
    assert scheduler.run_due() == 0
    headline = said("polls.remind.headline", number=1, when="").split("closes")[0]
    new_carl = bot.queued(notice_address(CARL.user_id))[before_carl:]
    assert len(new_carl) == 1 and headline in new_carl[0]
    assert len(bot.queued(COORD.room_id)) == before[COORD.room_id] + 1  # a member who coordinates
    assert len(bot.queued(BOB.room_id)) == before[BOB.room_id]  # voted
