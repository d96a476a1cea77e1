"""Consultations and subscriptions, by the router on SQLite and PostgreSQL: a coordinator
describes one step by step, reviews, changes an answer and publishes it; the alert reaches
exactly the members subscribed to a matching topic, region, country or group (and the
group's members who did not opt out), each in their language, and the group's rooms; a
deadline moved or a withdrawal tells them once; the alert's buttons record who plans to
contribute, which only the consultation's coordinators see. Members write from Telegram and
Matrix accounts, whose private chats notices reach; no platform runs here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import build_registry, build_router, open_store
from bot.config import AppConfig, load_config
from bot.keys import sealer_for
from bot.notices import notice_address
from bot.router import Router
from bot.scheduler import Scheduler
from bot.transports.planning import PLANNING
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
from handlers.consultations_alerts import reminder_due, reminder_keys
from storage import Store
from storage.consultations import ConsultationDraft, ConsultationState, SubscriptionKind
from tests.harness.features import CATALOGS, first_line

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
coordinators = ["telegram:1002"]
admins = ["telegram:1004"]

[[working_groups]]
slug = "legal"
name = "Legal Aid"
languages = ["fr", "en"]
coordinators = ["telegram:1005"]

[limits]
private_messages_per_minute = 10000
"""


def private(platform: Platform, user: str, language: str = "en") -> Origin:
    return Origin(platform, user, user, is_direct=True, language_hint=language)


MEMBER = private(TG, "1001", "es")
"""A member of cawg, reading Spanish: alerted by membership."""
COORD = private(TG, "1002")
ROOT = private(TG, "1003")
"""A network admin."""
GROUP_ADMIN = private(TG, "1004")
OTHER = private(TG, "1005")
"""The coordinator of another group (legal)."""
BEA = private(MX, "@bea:x", "fr")
"""Subscribed to the topic mining, reads French, on Matrix."""
CHE = private(TG, "1006", "pt")
"""Subscribed to Colombia."""
DAN = private(TG, "1007")
"""Subscribed to the topic water: not alerted of a mining consultation."""
EVE = private(TG, "1008")
"""A member of cawg who opted out of its alerts."""
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class Bot:
    def __init__(self, router: Router, store: Store, config: AppConfig) -> None:
        self.router = router
        self.store = store
        self.config = config

    def handle(self, event: Incoming) -> list[Outgoing]:
        with self.store.transaction():
            return self.router.handle(event)

    def send(self, origin: Origin, text: str) -> list[Outgoing]:
        if not text.startswith("/"):
            return self.handle(TextMessage(origin, text))
        name, *args = text.removeprefix("/").split()
        return self.handle(Command(origin, name, tuple(args)))

    def pick(self, origin: Origin, value: str) -> list[Outgoing]:
        return self.handle(ChoicePicked(origin, value))

    def member_id(self, origin: Origin) -> int:
        return self.store.members.for_identity(origin.platform, origin.user_id, language="en").id


def room_of(origin: Origin) -> str:
    return notice_address(origin.user_id) if origin.platform is MX else origin.room_id


def to(outgoing: list[Outgoing], origin: Origin | str) -> str:
    """What was said in a room, or to a member (answers and notices alike)."""
    rooms = {origin} if isinstance(origin, str) else {origin.room_id, room_of(origin)}
    return "\n".join(out.text for out in outgoing if out.room_id in rooms)


def text(key: str, language: str = "en", **params: object) -> str:
    renderer = CATALOGS.renderer(language, TG)
    return renderer.label(Message.of(key, **params))  # type: ignore[arg-type]


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
    running = Bot(build_router(config, store), store, config)
    for origin in (MEMBER, COORD, ROOT, GROUP_ADMIN, OTHER, BEA, CHE, DAN, EVE):
        running.send(origin, "/start")  # each has written privately: notices reach them
    for origin, language in ((MEMBER, "es"), (BEA, "fr"), (CHE, "pt")):
        running.send(origin, f"/language {language}")
    cawg = store.groups.by_slug("cawg")
    assert cawg is not None
    for origin in (MEMBER, EVE):
        store.joining.add_member(running.member_id(origin), cawg.id)
    running.send(BEA, "/subscribe topic mining")
    running.send(CHE, "/subscribe country Colombia")
    running.send(DAN, "/subscribe topic water")
    running.send(EVE, "/unsubscribe group cawg")
    try:
        yield running
    finally:
        store.close()


def answer_all(bot: Bot, *, deadline: str = "2027-01-15 17:00 Europe/Zurich") -> list[Outgoing]:
    """Walks /newconsultation to its review (cawg chosen, since COORD coordinates only it)."""
    bot.send(COORD, "/newconsultation")
    bot.send(COORD, "Call for input on mining and water")
    bot.send(COORD, "OHCHR")
    bot.pick(COORD, "call_for_input")
    bot.send(COORD, "Report to the Human Rights Council on extractives.")
    bot.send(COORD, "https://www.ohchr.org/en/calls-for-input/mining")
    bot.send(COORD, "by e-mail to hrc@ohchr.org")
    bot.send(COORD, "/skip")  # languages
    bot.send(COORD, "2,500 words")
    bot.send(COORD, deadline)
    bot.send(COORD, "/skip")  # sessions
    bot.pick(COORD, "sector:mining")
    bot.pick(COORD, "~done")
    bot.pick(COORD, "latin_america_caribbean")
    bot.pick(COORD, "~done")
    bot.send(COORD, "Colombia, Peru")
    bot.send(COORD, "10, 2")
    return bot.pick(COORD, "publish")


# -- creating, reviewing, publishing ------------------------------------------------------------


def test_a_coordinator_reviews_changes_an_answer_and_publishing_alerts_exactly_the_subscribers(
    bot: Bot,
) -> None:
    review = answer_all(bot)
    shown = to(review, COORD)
    assert "Call for input on mining and water" in shown
    assert "2027-01-15 17:00 (Europe/Zurich)" in shown
    changing = bot.pick(COORD, "~edit:title")
    assert first_line("consult.ask_title") in to(changing, COORD)
    bot.send(COORD, "Call for input: mining and the right to water")
    published = bot.pick(COORD, "~submit")

    record = bot.store.consultations.get(1)
    assert record is not None and record.state is ConsultationState.PUBLISHED
    assert record.title == "Call for input: mining and the right to water"
    assert record.fields.deadline == datetime(2027, 1, 15, 16, 0, tzinfo=UTC)
    assert record.fields.countries == ("CO", "PE")
    assert record.fields.reminder_days == (10, 2)
    assert first_line("consult.published") in to(published, COORD)

    alert = "Call for input: mining and the right to water"
    for origin, language in ((MEMBER, "es"), (BEA, "fr"), (CHE, "pt")):
        said = to(published, origin)
        assert text("consult.alert", language, number=1, title=Literal(alert)) in said
        buttons = [
            c.label for out in published if out.room_id == room_of(origin) for c in out.choices
        ]
        assert buttons == [
            text("consult.i_contribute", language),
            text("consult.interested", language),
        ]
    # The group's coordinators and admins are its members too.
    for origin in (COORD, GROUP_ADMIN):
        assert text("consult.alert", number=1, title=Literal(alert)) in to(published, origin)
    for origin in (DAN, EVE, OTHER, ROOT):
        assert alert not in to(published, origin)
    # The group's rooms, in the group's first language.
    for room in ("-100111", "!cawg:x"):
        assert text("consult.alert", "en", number=1, title=Literal(alert)) in to(published, room)


def test_a_draft_is_kept_then_completed_and_an_importer_draft_is_made_once(bot: Bot) -> None:
    draft, made = bot.store.consultations.create_draft(
        ConsultationDraft(
            "UN Forum on Business and Human Rights: registration",
            link="https://indico.un.org/event/1",
            starts_at=datetime(2027, 11, 24, 8, tzinfo=UTC),
            ends_at=datetime(2027, 11, 26, 18, tzinfo=UTC),
            source_uid="indico-1",
        )
    )
    again, made_again = bot.store.consultations.create_draft(
        ConsultationDraft("changed title", source_uid="indico-1")
    )
    assert made and not made_again and again.id == draft.id
    # A member does not see a draft; its coordinator completes and publishes it.
    assert first_line("consult.no_such", "es") in to(
        bot.send(MEMBER, f"/consultation {draft.id}"), MEMBER
    )
    pointed = to(bot.send(COORD, f"/consultation {draft.id} edit"), COORD)
    assert (
        text("consult.edit_with", command=CommandRef("newconsultation"), number=draft.id) in pointed
    )
    started = bot.send(COORD, f"/newconsultation {draft.id}")
    assert first_line("consult.ask_publish") in to(started, COORD)  # the rest is known
    bot.pick(COORD, "draft")
    kept = bot.pick(COORD, "~submit")
    assert first_line("consult.kept_draft") in to(kept, COORD)
    assert bot.store.consultations.get(draft.id).state is ConsultationState.DRAFT  # type: ignore[union-attr]
    bot.send(COORD, f"/newconsultation {draft.id}")
    bot.pick(COORD, "~edit:publish")
    bot.pick(COORD, "publish")
    published = bot.pick(COORD, "~submit")
    # No topic or country: the group's members hear of it, subscribers to mining do not.
    assert "UN Forum" in to(published, MEMBER)
    assert "UN Forum" not in to(published, BEA)
    assert "UN Forum" not in to(published, EVE)


def test_bad_answers_are_refused_and_change_nothing(bot: Bot) -> None:
    bot.send(COORD, "/newconsultation")
    bot.send(COORD, "A title long enough")
    bot.send(COORD, "OHCHR")
    bot.pick(COORD, "call_for_input")
    bot.send(COORD, "/skip")
    refused = bot.send(COORD, "not a link")
    assert first_line("cases.not_a_link") in to(refused, COORD)
    bot.send(COORD, "/skip")
    bot.send(COORD, "/skip")
    bot.send(COORD, "/skip")
    bot.send(COORD, "/skip")
    assert first_line("consult.bad_deadline") in to(bot.send(COORD, "next Friday"), COORD)
    said = to(bot.send(COORD, "2027-01-15 Mars/Olympus"), COORD)
    assert text("consult.bad_zone", zone=Literal("Mars/Olympus")) in said
    assert bot.store.consultations.get(1) is None


# -- listing and showing ------------------------------------------------------------------------


def test_consultations_lists_the_open_ones_soonest_first_with_days_left(bot: Bot) -> None:
    answer_all(bot, deadline="2027-01-15")
    bot.pick(COORD, "~submit")
    answer_all(bot, deadline=(NOW + timedelta(days=40)).date().isoformat())
    bot.pick(COORD, "~submit")
    second = bot.store.consultations.get(2)
    assert second is not None
    # Three calendar days ahead, whatever the hour the test runs at (days left count days).
    soon = bot.store.now().astimezone(UTC).date() + timedelta(days=3)
    bot.send(COORD, f"/consultation 2 deadline {soon.isoformat()} 23:00 UTC")
    listed = to(bot.send(MEMBER, "/consultations"), MEMBER)
    assert listed.index("2. ") < listed.index("1. ")
    left = CATALOGS.renderer("es", TG).label(Message.counted("consult.in_days", 3))
    assert left in listed


def test_only_the_coordinators_see_who_plans_to_contribute(bot: Bot) -> None:
    published = answer_all(bot)
    published = bot.pick(COORD, "~submit")
    choice = next(c.value for out in published if out.room_id == room_of(BEA) for c in out.choices)
    assert choice == "consult:contribute:1"
    said = bot.pick(BEA, choice)
    assert first_line("consult.answered_contribute", "fr") in to(said, BEA)
    bot.pick(CHE, "consult:interested:1")
    bot.pick(CHE, "consult:interested:1")  # twice is once
    contributions = bot.store.consultations.contributions(1)
    assert contributions.contribute == (bot.member_id(BEA),)
    assert contributions.interested == (bot.member_id(CHE),)
    who = text("join.member_numbered", number=bot.member_id(BEA))
    one = CATALOGS.renderer("en", TG).label(Message.counted("consult.contributors", 1))
    for origin in (COORD, GROUP_ADMIN, ROOT):
        shown = to(bot.send(origin, "/consultation 1"), origin)
        assert one in shown and who in shown
    for origin in (MEMBER, OTHER):
        shown = to(bot.send(origin, "/consultation 1"), origin)
        assert "Call for input on mining" in shown and who not in shown
    in_room = Origin(TG, "-100111", COORD.user_id, is_direct=False)
    shown = to(bot.send(in_room, "/consultation 1"), "-100111")
    assert "Call for input on mining" in shown and who not in shown  # not in a group room


# -- changes after publishing -----------------------------------------------------------------


def test_a_deadline_moved_tells_subscribers_once_and_a_withdrawal_tells_them(bot: Bot) -> None:
    answer_all(bot)
    bot.pick(COORD, "~submit")
    moved = bot.send(COORD, "/consultation 1 deadline 2027-01-20 12:00")
    notice = text("consult.deadline_notice", "fr", number=1, title=Literal("x")).split("(")[0]
    assert to(moved, BEA).count(notice) == 1
    assert "2027-01-20" not in to(moved, DAN)
    assert to(moved, DAN) == ""
    same = bot.send(COORD, "/consultation 1 deadline 2027-01-20 12:00")
    assert first_line("consult.deadline_same") in to(same, COORD)
    assert to(same, BEA) == ""
    record = bot.store.consultations.get(1)
    assert record is not None
    assert [key for key, _ in reminder_keys(record)] == [
        "consultation:1:reminder:P10D",
        "consultation:1:reminder:P2D",
    ]
    withdrawn = bot.send(COORD, "/consultation 1 withdraw")
    assert first_line("consult.withdrawn_notice", "pt") in to(withdrawn, CHE)
    assert first_line("consult.withdrawn_notice", "es") in to(withdrawn, MEMBER)
    record = bot.store.consultations.get(1)
    assert record is not None and reminder_keys(record) == []
    assert to(bot.send(MEMBER, "/consultations"), MEMBER) == text("consult.none_open", "es")


# -- authorization ------------------------------------------------------------------------------


def test_who_may_create_and_change_a_consultation(bot: Bot) -> None:
    answer_all(bot)
    bot.pick(COORD, "~submit")
    # Creating: coordinators and admins, each for the groups they coordinate.
    refused = to(bot.send(MEMBER, "/newconsultation"), MEMBER)
    assert first_line("router.not_allowed", "es") in refused
    assert bot.store.conversations.load(bot.member_id(MEMBER)) is None
    assert first_line("consult.ask_title") in to(bot.send(OTHER, "/newconsultation"), OTHER)
    assert first_line("consult.ask_title") in to(
        bot.send(GROUP_ADMIN, "/newconsultation"), GROUP_ADMIN
    )
    assert first_line("consult.ask_groups") in to(bot.send(ROOT, "/newconsultation"), ROOT)
    state = bot.store.conversations.load(bot.member_id(OTHER))
    assert state is not None and state.data["answers"]["groups"] == [
        str(bot.store.groups.by_slug("legal").id)  # type: ignore[union-attr]
    ]
    # Changing: the coordinators of a group it concerns, and network-wide roles.
    for origin in (MEMBER, OTHER):
        language = "es" if origin is MEMBER else "en"
        for command in ("/consultation 1 deadline 2027-02-01", "/consultation 1 withdraw"):
            said = to(bot.send(origin, command), origin)
            assert first_line("consult.not_yours", language) in said
    record = bot.store.consultations.get(1)
    assert record is not None and record.state is ConsultationState.PUBLISHED
    assert record.fields.deadline == datetime(2027, 1, 15, 16, tzinfo=UTC)
    for origin, day_typed in ((GROUP_ADMIN, "2027-02-02"), (ROOT, "2027-02-03")):
        said = to(bot.send(origin, f"/consultation 1 deadline {day_typed}"), origin)
        assert first_line("consult.deadline_moved") in said
    assert first_line("consult.withdrawn") in to(bot.send(ROOT, "/consultation 1 withdraw"), ROOT)
    # Reading: every member.
    for origin in (MEMBER, OTHER, GROUP_ADMIN, ROOT):
        assert "Call for input on mining" in to(bot.send(origin, "/consultation 1"), origin)


# -- subscriptions ------------------------------------------------------------------------------


def test_subscribe_unsubscribe_and_opting_out_of_a_group(bot: Bot) -> None:
    listed = to(bot.send(MEMBER, "/subscriptions"), MEMBER)
    assert "Corporate Accountability" in listed
    assert first_line("consult.unsubscribed", "es") in to(
        bot.send(MEMBER, "/unsubscribe group cawg"), MEMBER
    )
    assert to(bot.send(MEMBER, "/subscriptions"), MEMBER).count("Corporate Accountability") == 1
    bot.send(MEMBER, "/subscribe group cawg")
    assert bot.store.consultations.subscriptions_of(bot.member_id(MEMBER)) == []
    assert first_line("consult.subscribed", "pt") in to(bot.send(CHE, "/subscribe all"), CHE)
    assert first_line("consult.already_subscribed", "pt") in to(
        bot.send(CHE, "/subscribe all"), CHE
    )
    assert first_line("consult.unknown_topic", "pt") in to(
        bot.send(CHE, "/subscribe topic gold"), CHE
    )
    assert first_line("consult.not_subscribed") in to(
        bot.send(DAN, "/unsubscribe region europe"), DAN
    )
    kinds = {row.kind for row in bot.store.consultations.subscriptions_of(bot.member_id(CHE))}
    assert kinds == {SubscriptionKind.ALL, SubscriptionKind.COUNTRY}


def test_reminders_go_to_subscribers_and_tell_contributors_so(bot: Bot) -> None:
    answer_all(bot)
    bot.pick(COORD, "~submit")
    bot.pick(BEA, "consult:contribute:1")
    from bot.context import Context, HandlerStore
    from bot.registry import Registry
    from bot.types import Role
    from storage.records import MemberRoles

    member = bot.store.members.get(bot.member_id(COORD))
    assert member is not None
    context = Context(
        origin=COORD,
        member=member,
        role=Role.MEMBER,
        roles=MemberRoles(None, {}),
        working_group=None,
        store=HandlerStore.of(bot.store),
        registry=Registry(),
        config=bot.config,
        languages=("en",),
    )
    notices = reminder_due(context, 1, "P2D")
    texts = {notice.to.user_id: notice.text for notice in notices if notice.to is not None}
    assert set(texts) == {
        MEMBER.user_id,
        BEA.user_id,
        CHE.user_id,
        COORD.user_id,
        GROUP_ADMIN.user_id,
    }
    keys = {user: text.items[0].key for user, text in texts.items()}  # type: ignore[union-attr]
    assert keys[BEA.user_id] == "consult.reminder_contributor"
    assert keys[CHE.user_id] == "consult.reminder"
    assert reminder_due(context, 1, "P7D") == []


# -- reminders, through the scheduler ------------------------------------------------------------


def scheduler_at(bot: Bot, later: Store) -> Scheduler:
    """The bot's scheduler, on ``later``: a store of the same database, with its own clock."""
    return Scheduler(
        later,
        build_registry(),
        CATALOGS,
        bot.config,
        planners={
            platform: lambda item, p=platform: PLANNING[p].parts(
                item, later.transports.callback_token
            )
            for platform in (TG, MX)
        },
    )


def test_publishing_schedules_the_reminders_the_scheduler_sends_once_and_a_withdrawal_cancels(
    bot: Bot,
) -> None:
    answer_all(bot)  # deadline 2027-01-15 17:00 Zurich, reminders 10 and 2 days before
    bot.pick(COORD, "~submit")
    rows = {row.key: row for row in bot.store.scheduled.with_prefix("consultation:1:")}
    record = bot.store.consultations.get(1)
    assert record is not None and record.fields.deadline is not None
    ten_days = rows["consultation:1:reminder:P10D"]
    assert set(rows) == {"consultation:1:reminder:P10D", "consultation:1:reminder:P2D"}
    assert ten_days.due_at == record.fields.deadline - timedelta(days=10)

    before = {row.id for platform in (TG, MX) for row in bot.store.outbox.pending(platform)}
    when = ten_days.due_at + timedelta(minutes=1)
    with Store(bot.config.database_url, clock=lambda: when, sealer=sealer_for(bot.config)) as later:
        scheduler = scheduler_at(bot, later)
        assert scheduler.run_due() == 1
        assert scheduler.run_due() == 0  # done once, never again
    reminded = [
        row.room_id
        for platform in (TG, MX)
        for row in bot.store.outbox.pending(platform)
        if row.id not in before
    ]
    for subscriber in (BEA, CHE):
        assert reminded.count(room_of(subscriber)) == 1, (subscriber, reminded)
    for left_out in (DAN, EVE):  # another topic; opted out
        assert room_of(left_out) not in reminded

    # A moved deadline moves the reminder still to come; a withdrawal cancels it.
    bot.send(COORD, "/consultation 1 deadline 2027-01-20 17:00 Europe/Zurich")
    moved = bot.store.scheduled.get("consultation:1:reminder:P2D")
    assert moved is not None
    assert moved.due_at == datetime(2027, 1, 18, 16, 0, tzinfo=UTC)
    bot.send(COORD, "/consultation 1 withdraw")
    assert bot.store.scheduled.get("consultation:1:reminder:P2D") is None
