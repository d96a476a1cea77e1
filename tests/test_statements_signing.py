"""Signing joint statements, by the router and the scheduler on SQLite and PostgreSQL with
a clock the tests move: the announcement (rooms, and privately each eligible signer's
members), signatures bound to the version shown (a stale tag offers the current text), an
organization signing once through any signatory, forged presses and typed commands by
members who may not sign recording nothing, confirmations after a change of substance,
declining and withdrawing, forwarding by a non-signatory, reminders once, and questions to
the coordinators answered privately. Members write from the console, Telegram and Matrix;
notices to Telegram and Matrix accounts are read from what the router says."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import build_registry, network_planners, open_store
from bot.config import AppConfig, load_config
from bot.context import Context, HandlerStore
from bot.keys import sealer_for
from bot.notices import notice_address
from bot.queueing import queue_replies
from bot.router import Router
from bot.scheduler import Scheduler
from bot.types import (
    ChoicePicked,
    Command,
    Incoming,
    Message,
    Origin,
    Outgoing,
    Platform,
    Reply,
    Role,
    TextMessage,
)
from handlers.statements import common, signing
from storage import Store
from storage.statement_records import (
    Answer,
    Change,
    ListOrder,
    StatementFields,
    StatementRecord,
    WhoSigns,
    organization_signer,
)
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

[limits]
private_messages_per_minute = 10000
"""
TG_ROOM, MX_ROOM = "-100111", "!cawg:x"
ROOMS = ((TG.value, TG_ROOM), (MX.value, MX_ROOM))
DEADLINE = T0 + timedelta(days=7)
TEXT = "We, the undersigned organizations, call on the State to protect land defenders."
AMENDED = TEXT + " And to consult the communities before any concession."


def private(platform: Platform, user: str) -> Origin:
    room = "console" if platform is CONSOLE else user
    return Origin(platform, room, user, is_direct=True, language_hint="en")


COORD = private(TG, "1002")
BOB = private(TG, "1001")
"""A signatory of Red Étnica."""
CARL = private(MX, "@carl:x")
"""Another signatory of Red Étnica."""
ANA = private(TG, "1004")
"""A confirmed member of Red Étnica, not its signatory."""
DANA = private(TG, "1005")
"""The signatory of Tierra Viva."""
OUT = private(TG, "1006")
"""A signatory of Sin Grupo, whose organization is in no group of the statement."""


class Bot:
    def __init__(self, store: Store, config: AppConfig) -> None:
        self.store = store
        self.config = config
        self.registry = build_registry()
        self.router = Router(store, self.registry, CATALOGS, config)
        self.planners = network_planners(config, store)

    def handle(self, event: Incoming) -> list[Outgoing]:
        with self.store.transaction():
            said = self.router.handle(event)
            queue_replies(self.store, [o for o in said if o.platform is not CONSOLE], self.planners)
        return said

    def send(self, origin: Origin, text: str) -> list[Outgoing]:
        if not text.startswith("/"):
            return self.handle(TextMessage(origin, text))
        name, *args = text.removeprefix("/").split()
        return self.handle(Command(origin, name, tuple(args)))

    def pick(self, origin: Origin, value: str) -> list[Outgoing]:
        return self.handle(ChoicePicked(origin, value))

    def member_id(self, origin: Origin) -> int:
        return self.store.members.for_identity(origin.platform, origin.user_id, language="en").id

    def context(self) -> Context:
        coordinator = self.store.members.get(self.member_id(COORD))
        assert coordinator is not None
        return Context(
            origin=COORD,
            member=coordinator,
            role=Role.COORDINATOR,
            roles=self.store.groups.roles_of(coordinator.id),
            working_group=None,
            store=HandlerStore.of(self.store),
            registry=self.registry,
            config=self.config,
            languages=CATALOGS.languages,
        )

    def scheduler(self) -> Scheduler:
        return Scheduler(self.store, self.registry, CATALOGS, self.config, planners=self.planners)

    def signatures(self, statement_id: int = 1) -> dict[str, tuple[Answer, bool]]:
        return {
            signature.signer: (signature.answer, signature.stands)
            for signature in self.store.statements.signatures(statement_id)
        }


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
    for origin in (COORD, BOB, CARL, ANA, DANA, OUT):
        running.send(origin, "/start")  # each has written privately: notices reach them
    cawg = store.groups.by_slug("cawg")
    assert cawg is not None
    organizations = store.organizations
    with store.transaction():
        red = organizations.add("Red Étnica de Mujeres", "CO", "union")
        viva = organizations.add("Tierra Viva", "PE", "ngo")
        lone = organizations.add("Sin Grupo", "AR", "ngo")
        for origin, organization, signs in (
            (BOB, red.id, True),
            (CARL, red.id, True),
            (ANA, red.id, False),
            (DANA, viva.id, True),
            (OUT, lone.id, True),
        ):
            member = running.member_id(origin)
            if origin is not OUT:
                store.joining.add_member(member, cawg.id)
            organizations.claim(member, organization)
            organizations.decide(member, organization, confirm=True)
            organizations.set_signatory(member, organization, signs)
    try:
        yield running
    finally:
        store.close()


RED, VIVA = organization_signer(1), organization_signer(2)


def open_statement(bot: Bot, **changes: object) -> tuple[StatementRecord, list[Reply]]:
    """Statement 1 of cawg, opened as ``/statement`` opens one, its announcement queued."""
    cawg = bot.store.groups.by_slug("cawg")
    assert cawg is not None
    fields = StatementFields(
        working_group_id=cawg.id,
        title="Protect land defenders",
        language="en",
        deadline=DEADLINE,
        who_signs=WhoSigns.GROUP,
        individuals=bool(changes.pop("individuals", False)),
        list_order=ListOrder.ALPHABETICAL,
        rooms=ROOMS,
        time_zone="America/Lima",
        **changes,  # type: ignore[arg-type]
    )
    context = bot.context()
    with bot.store.transaction():
        record = bot.store.statements.open(fields, TEXT, None, bot.member_id(COORD))
        common.schedule_work(context.store, record)
        announced = signing.announce(context, record)
    return record, announced


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


def buttons(outgoing: list[Outgoing], origin: Origin) -> list[str]:
    rooms = {origin.room_id, notice_address(origin.user_id)}
    return [c.value for out in outgoing if out.room_id in rooms for c in out.choices]


def tag(record: StatementRecord) -> str:
    return common.hash_tag(record.current.text_hash)


def revise(bot: Bot, text: str, change: Change) -> StatementRecord:
    with bot.store.transaction():
        version = bot.store.statements.versions(1)[-1].number
        record = bot.store.statements.revise(
            1, text, None, change, bot.member_id(COORD), expected_version=version
        )
    assert record is not None
    return record


def test_the_announcement_goes_to_every_room_with_the_count_and_privately_to_signatories_only(
    bot: Bot,
) -> None:
    record, announced = open_statement(bot)
    rooms = [
        (r.to.platform, r.to.room_id, r.post or "")
        for r in announced
        if r.to and not r.to.is_direct
    ]
    key = common.count_key(record.id)
    assert sorted(rooms) == sorted(
        [(TG, TG_ROOM, ""), (TG, TG_ROOM, key), (MX, MX_ROOM, ""), (MX, MX_ROOM, key)]
    )
    private_to = {r.to.user_id for r in announced if r.to and r.to.is_direct}
    assert private_to == {"1001", "@carl:x", "1005"}  # not ANA (no signatory), nor OUT (no group)
    [to_bob] = [r for r in announced if r.to and r.to.user_id == "1001"]
    assert [c.value for c in to_bob.choices] == [
        f"statement:sign:1:{tag(record)}",
        f"statement:decline:1:{tag(record)}",
        "statementask:1",
    ]
    rendered = CATALOGS.render_reply(to_bob, "en", TG, "1001")
    assert TEXT in rendered.text and "Protect land defenders" in rendered.text


def test_a_signatory_signs_for_the_organization_once_and_the_count_is_edited_in_every_room(
    bot: Bot,
) -> None:
    record, _ = open_statement(bot)
    signed = bot.pick(BOB, f"statement:sign:1:{tag(record)}")
    assert said("statements.sign.signed", number=1, who="Red Étnica de Mujeres", version=1) in to(
        signed, BOB
    )
    edits = [(out.room_id, out.text) for out in signed if out.edits == common.count_key(1)]
    figure = counted("statements.announce.count", 1, number=1)
    assert sorted(edits) == sorted([(MX_ROOM, figure), (TG_ROOM, figure)])

    again = bot.pick(CARL, f"statement:sign:1:{tag(record)}")  # the other signatory
    assert said("statements.sign.already", number=1, who="Red Étnica de Mujeres") in to(again, CARL)
    assert not [out for out in again if out.edits]
    assert bot.signatures() == {RED: (Answer.SIGNED, True)}


def test_a_forged_press_or_typed_command_by_who_may_not_sign_records_nothing(bot: Bot) -> None:
    record, _ = open_statement(bot)
    forged = bot.pick(ANA, f"statement:sign:1:{tag(record)}")
    assert said("statements.sign.not_signatory", number=1) in to(forged, ANA)
    assert buttons(forged, ANA) == ["statement:forward:1"]
    typed = bot.send(ANA, f"/sign 1 {tag(record)}")
    assert said("statements.sign.not_signatory", number=1) in to(typed, ANA)
    outsider = bot.pick(OUT, f"statement:sign:1:{tag(record)}")
    assert said("statements.sign.not_member", number=1) in to(outsider, OUT)
    bot.send(OUT, "/decline 1")
    assert bot.signatures() == {}
    assert bot.pick(BOB, "statement:sign:99:abc") and bot.signatures() == {}
    expired = bot.pick(BOB, "statement:ask:1")  # before the ask button began a conversation
    assert said("router.choice_expired", help="/help") in to(expired, BOB)


def test_a_stale_tag_is_refused_with_the_current_text_offered_again(bot: Bot) -> None:
    first, _ = open_statement(bot)
    current = revise(bot, AMENDED, Change.SUBSTANCE)
    stale = bot.pick(BOB, f"statement:sign:1:{tag(first)}")
    assert said("statements.sign.stale", number=1, version=2) in to(stale, BOB)
    assert AMENDED in to(stale, BOB)
    assert buttons(stale, BOB)[0] == f"statement:sign:1:{tag(current)}"
    assert bot.pick(BOB, "statement:sign:1:000000000000") and bot.signatures() == {}

    offered = bot.send(BOB, "/sign 1")  # the current text first: a signature binds a text read
    assert AMENDED in to(offered, BOB) and bot.signatures() == {}
    bot.send(BOB, f"/sign 1 {tag(current)}")
    [signature] = bot.store.statements.signatures(1)
    assert (signature.version_number, signature.text_hash) == (2, current.current.text_hash)


def test_after_a_change_of_substance_signers_confirm_and_a_waiting_signature_is_not_counted(
    bot: Bot,
) -> None:
    first, _ = open_statement(bot)
    bot.pick(BOB, f"statement:sign:1:{tag(first)}")
    revise(bot, TEXT + " (typo fixed)", Change.CORRECTION)
    assert bot.signatures() == {RED: (Answer.SIGNED, True)}  # a correction: it stands

    current = revise(bot, AMENDED, Change.SUBSTANCE)
    asked = signing.ask_to_confirm(bot.context(), current, [RED])
    assert {r.to.user_id for r in asked if r.to} == {"1001", "@carl:x"}
    assert [c.value for c in asked[0].choices] == [
        f"statement:confirm:1:{tag(current)}",
        "statement:withdraw:1",
    ]
    assert bot.signatures() == {RED: (Answer.SIGNED, False)}
    zero = counted("statements.announce.count", 0, number=1)
    assert (
        CATALOGS.renderer("en", CONSOLE).label(
            signing.count_text(bot.context(), current)  # type: ignore[arg-type]
        )
        == zero
    )

    confirmed = bot.pick(CARL, f"statement:confirm:1:{tag(current)}")
    red = "Red Étnica de Mujeres"
    assert said("statements.sign.confirmed", number=1, who=red, version=3) in to(confirmed, CARL)
    assert counted("statements.announce.count", 1, number=1) in to(confirmed, TG_ROOM)
    assert bot.signatures() == {RED: (Answer.SIGNED, True)}


def test_any_signatory_withdraws_the_signature_and_declining_is_said_once(bot: Bot) -> None:
    record, _ = open_statement(bot)
    nothing = bot.send(CARL, "/withdrawsignature 1")
    assert said("statements.sign.not_signed", number=1, who="Red Étnica de Mujeres") in to(
        nothing, CARL
    )
    bot.pick(BOB, f"statement:sign:1:{tag(record)}")
    withdrawn = bot.send(CARL, "/withdrawsignature 1")
    assert said("statements.sign.withdrawn", number=1, who="Red Étnica de Mujeres") in to(
        withdrawn, CARL
    )
    assert counted("statements.announce.count", 0, number=1) in to(withdrawn, MX_ROOM)
    [signature] = bot.store.statements.signatures(1)
    assert signature.withdrawn_by == bot.member_id(CARL)

    declined = bot.send(DANA, "/decline 1")
    assert said("statements.sign.declined", number=1, who="Tierra Viva") in to(declined, DANA)
    again = bot.pick(DANA, f"statement:decline:1:{tag(record)}")
    assert said("statements.sign.already_declined", number=1, who="Tierra Viva") in to(again, DANA)
    assert bot.signatures() == {RED: (Answer.WITHDRAWN, False), VIVA: (Answer.DECLINED, False)}


def test_a_non_signatory_forwards_the_request_to_each_signatory_once(bot: Bot) -> None:
    open_statement(bot)
    forwarded = bot.pick(ANA, "statement:forward:1")
    assert counted("statements.forward.sent", 2, number=1) in to(forwarded, ANA)
    for signatory in (BOB, CARL):
        assert TEXT in to(forwarded, signatory)
        assert buttons(forwarded, signatory)[0].startswith("statement:sign:1:")
    assert not to(forwarded, DANA)
    again = bot.pick(ANA, "statement:forward:1")
    assert said("statements.forward.already", number=1) in to(again, ANA)
    assert not to(again, BOB)
    assert said("statements.forward.not_needed", number=1) in to(
        bot.pick(BOB, "statement:forward:1"), BOB
    )


def test_reminders_go_once_to_signers_that_have_not_answered_and_never_after_the_close(
    bot: Bot, clock: Clock
) -> None:
    record, _ = open_statement(bot)
    bot.pick(DANA, f"statement:sign:1:{tag(record)}")
    scheduler = bot.scheduler()
    clock.now = DEADLINE - timedelta(hours=72)
    reminded = scheduler.run_due()
    assert reminded
    rows = bot.store.outbox.pending(TG, limit=500) + bot.store.outbox.pending(MX, limit=500)
    texts = {row.room_id: str(row.payload.get("text", "")) for row in rows}
    headline = "Reminder: your organization has not yet answered joint statement #1"
    assert headline in texts["1001"] and headline in texts[notice_address("@carl:x")]
    assert headline not in texts.get("1005", "")
    assert scheduler.run_due() == 0  # each row once

    clock.now = DEADLINE + timedelta(minutes=1)
    late = bot.pick(BOB, f"statement:sign:1:{tag(record)}")
    assert said("statements.sign.closed", number=1) in to(late, BOB)
    assert bot.signatures() == {VIVA: (Answer.SIGNED, True)}


def test_a_question_reaches_the_coordinators_and_its_answer_the_asker_privately(bot: Bot) -> None:
    open_statement(bot)
    asked = bot.send(ANA, "/askstatement 1 Does it name the companies?")
    assert said("statements.question.sent", question=1, number=1) in to(asked, ANA)
    assert "Does it name the companies?" in to(asked, COORD)
    refused = bot.send(BOB, "/answerquestion 1 Yes.")
    assert said("statements.not_yours", number=1) in to(refused, BOB)
    answered = bot.send(COORD, "/answerquestion 1 Yes, all three.")
    assert said("statements.question.answer_sent", question=1) in to(answered, COORD)
    assert "Yes, all three." in to(answered, ANA)
    again = bot.send(COORD, "/answerquestion 1 Again")
    assert said("statements.question.already_answered", question=1) in to(again, COORD)
    assert bot.store.statements.questions(1, open_only=True) == []
    assert said("statements.question.number_only", command="/askstatement", number=1) in to(
        bot.send(ANA, "/askstatement 1"), ANA
    )


def test_members_who_answer_for_a_signer_but_never_wrote_privately_are_counted_unreachable(
    bot: Bot,
) -> None:
    record, _ = open_statement(bot)
    assert signing.unreachable(bot.context(), record) == []
    silent = bot.member_id(private(TG, "1007"))  # known to the bot, never wrote to it privately
    cawg = bot.store.groups.by_slug("cawg")
    assert cawg is not None
    with bot.store.transaction():
        bot.store.joining.add_member(silent, cawg.id)
        bot.store.organizations.claim(silent, 2)
        bot.store.organizations.decide(silent, 2, confirm=True)
        bot.store.organizations.set_signatory(silent, 2, True)
    assert signing.unreachable(bot.context(), record) == [silent]


def group(platform: Platform, user: str) -> Origin:
    """``user`` writing in the group's room on ``platform``."""
    room = TG_ROOM if platform is TG else MX_ROOM
    return Origin(platform, room, user, is_direct=False, language_hint="en")


def join(bot: Bot, origin: Origin, organization: int | None, *, signs: bool, in_group: bool) -> int:
    """A member known to the bot (who has not written to it privately), of ``organization``."""
    member = bot.member_id(origin)
    cawg = bot.store.groups.by_slug("cawg")
    assert cawg is not None
    with bot.store.transaction():
        if in_group:
            bot.store.joining.add_member(member, cawg.id)
        if organization is not None:
            bot.store.organizations.claim(member, organization)
            bot.store.organizations.decide(member, organization, confirm=True)
            bot.store.organizations.set_signatory(member, organization, signs)
    return member


def test_a_matrix_signatory_typing_sign_in_the_group_room_gets_the_text_in_the_bots_own_room(
    bot: Bot,
) -> None:
    open_statement(bot)
    eve = group(MX, "@eve:x")
    join(bot, eve, 1, signs=True, in_group=True)  # never wrote to the bot privately
    offered = bot.send(eve, "/sign 1")
    assert TEXT in to(offered, notice_address("@eve:x"))
    assert not to(offered, MX_ROOM)


def test_withdrawing_takes_back_a_members_own_signature_before_their_later_organizations(
    bot: Bot,
) -> None:
    record, _ = open_statement(bot, individuals=True)
    fay = private(TG, "1008")
    bot.send(fay, "/start")
    fay_id = join(bot, fay, None, signs=False, in_group=True)
    bot.pick(fay, f"statement:sign:1:{tag(record)}")
    with bot.store.transaction():  # then joins Tierra Viva as its signatory, which signs
        bot.store.organizations.claim(fay_id, 2)
        bot.store.organizations.decide(fay_id, 2, confirm=True)
        bot.store.organizations.set_signatory(fay_id, 2, True)
    bot.pick(fay, f"statement:sign:1:{tag(record)}")
    own = f"member:{fay_id}"
    assert bot.signatures() == {own: (Answer.SIGNED, True), VIVA: (Answer.SIGNED, True)}

    first = bot.send(fay, "/withdrawsignature 1")
    assert said("statements.sign.withdrawn_own", number=1) in to(first, fay)
    assert bot.signatures() == {own: (Answer.WITHDRAWN, False), VIVA: (Answer.SIGNED, True)}
    second = bot.send(fay, "/withdrawsignature 1")
    assert said("statements.sign.withdrawn", number=1, who="Tierra Viva") in to(second, fay)
    assert bot.signatures()[VIVA] == (Answer.WITHDRAWN, False)


def test_the_ask_button_takes_the_question_and_the_coordinators_get_it(bot: Bot) -> None:
    open_statement(bot)
    gil = private(CONSOLE, "gil")
    bot.send(gil, "/start")
    join(bot, gil, None, signs=False, in_group=True)
    prompt = bot.pick(gil, "statementask:1")
    assert said("statements.question.ask", number=1) in to(prompt, "console")
    sent = bot.send(gil, "Does it name the companies?")
    assert said("statements.question.sent", question=1, number=1) in to(sent, "console")
    assert "Does it name the companies?" in to(sent, COORD)
    [question] = bot.store.statements.questions(1, open_only=True)
    assert question.text == "Does it name the companies?"


def test_a_question_asked_in_a_group_room_is_acknowledged_privately(bot: Bot) -> None:
    open_statement(bot)
    asked = bot.send(group(TG, "1004"), "/askstatement 1 Does it name the companies?")
    assert said("statements.question.sent", question=1, number=1) in to(asked, ANA)
    assert not to(asked, TG_ROOM)


def test_private_notices_show_the_deadline_in_the_recipients_own_time_zone(bot: Bot) -> None:
    bob = bot.member_id(BOB)
    with bot.store.transaction():
        bot.store.members.set_profile(
            bob, display_name=None, organization=None, time_zone="Asia/Tokyo"
        )
    _, announced = open_statement(bot)  # the statement's own zone is America/Lima
    [to_bob] = [r for r in announced if r.to and r.to.user_id == "1001"]
    [to_dana] = [r for r in announced if r.to and r.to.user_id == "1005"]
    assert "Asia/Tokyo" in CATALOGS.render_reply(to_bob, "en", TG, "1001").text
    assert "America/Lima" in CATALOGS.render_reply(to_dana, "en", TG, "1005").text


def test_forwarding_reaches_only_signatories_in_scope_and_counts_those_told(bot: Bot) -> None:
    open_statement(bot)
    join(bot, private(TG, "1009"), 1, signs=True, in_group=False)  # out of the group's scope
    join(bot, private(TG, "1010"), 1, signs=True, in_group=True)  # never wrote privately
    outside = private(MX, "@hal:x")
    bot.send(outside, "/start")
    join(bot, outside, 1, signs=True, in_group=False)  # reachable, but out of scope
    forwarded = bot.pick(ANA, "statement:forward:1")
    assert counted("statements.forward.sent", 2, number=1) in to(forwarded, ANA)
    assert not to(forwarded, outside)


def test_declining_over_a_signature_changes_nothing_and_says_how_to_withdraw(bot: Bot) -> None:
    record, _ = open_statement(bot)
    bot.pick(CARL, f"statement:sign:1:{tag(record)}")
    declined = bot.pick(BOB, f"statement:decline:1:{tag(record)}")
    red = "Red Étnica de Mujeres"
    assert said(
        "statements.sign.already_signed", number=1, who=red, command="/withdrawsignature"
    ) in to(declined, BOB)
    assert not [out for out in declined if out.edits]
    assert bot.signatures() == {RED: (Answer.SIGNED, True)}


def test_reminders_skip_withdrawn_signers_and_speak_to_individuals_of_their_own_answer(
    bot: Bot, clock: Clock
) -> None:
    record, _ = open_statement(bot, individuals=True)
    fay, gus = private(TG, "1008"), private(TG, "1013")
    for individual in (fay, gus):
        bot.send(individual, "/start")
        join(bot, individual, None, signs=False, in_group=True)
    bot.pick(BOB, f"statement:sign:1:{tag(record)}")
    bot.send(CARL, "/withdrawsignature 1")  # Red Étnica took its signature back, knowingly
    bot.pick(fay, f"statement:sign:1:{tag(record)}")
    withdrawn = bot.send(fay, "/withdrawsignature 1")
    assert said("statements.sign.withdrawn_own_alone", number=1) in to(withdrawn, fay)

    clock.now = DEADLINE - timedelta(hours=72)
    assert bot.scheduler().run_due()
    rows = bot.store.outbox.pending(TG, limit=500) + bot.store.outbox.pending(MX, limit=500)
    texts = {row.room_id: str(row.payload.get("text", "")) for row in rows}
    organization = "Reminder: your organization has not yet answered joint statement #1"
    own = "Reminder: you have not yet answered joint statement #1"
    assert organization in texts["1005"]  # Tierra Viva never answered
    assert own in texts["1013"] and organization not in texts["1013"]
    for withdrawn_from in ("1001", notice_address("@carl:x"), "1008"):
        assert "Reminder" not in texts.get(withdrawn_from, "")


def test_an_individuals_own_waiting_signature_is_asked_and_confirmed_after_joining_an_organization(
    bot: Bot,
) -> None:
    record, _ = open_statement(bot, individuals=True)
    fay = private(TG, "1008")
    bot.send(fay, "/start")
    fay_id = join(bot, fay, None, signs=False, in_group=True)
    bot.pick(fay, f"statement:sign:1:{tag(record)}")
    with bot.store.transaction():  # then becomes Tierra Viva's signatory
        bot.store.organizations.claim(fay_id, 2)
        bot.store.organizations.decide(fay_id, 2, confirm=True)
        bot.store.organizations.set_signatory(fay_id, 2, True)
    current = revise(bot, AMENDED, Change.SUBSTANCE)
    own = f"member:{fay_id}"

    asked = signing.ask_to_confirm(bot.context(), current, [own])
    [to_fay] = [r for r in asked if r.to and r.to.user_id == "1008"]
    rendered = CATALOGS.render_reply(to_fay, "en", TG, "1008").text
    assert "The signature you gave in your own name waits" in rendered
    assert "organization's signature" not in rendered

    confirmed = bot.pick(fay, f"statement:confirm:1:{tag(current)}")
    assert said("statements.sign.confirmed_own", number=1, version=2) in to(confirmed, fay)
    assert bot.signatures() == {own: (Answer.SIGNED, True)}  # Tierra Viva has not answered


def test_a_telegram_member_who_never_wrote_privately_is_asked_to_and_nothing_is_done_unseen(
    bot: Bot,
) -> None:
    record, _ = open_statement(bot)
    ivo = group(TG, "1011")
    join(bot, ivo, 2, signs=True, in_group=True)  # Tierra Viva's signatory, never wrote privately
    line = said("statements.sign.open_private_chat", command="/start")
    typed_in_room = (
        "/sign 1",
        f"/sign 1 {tag(record)}",
        "/decline 1",
        "/withdrawsignature 1",
        "/askstatement 1 Who drafted it?",
    )
    for typed in typed_in_room:
        answered = bot.send(ivo, typed)
        assert to(answered, TG_ROOM) == line
        assert "Protect land defenders" not in to(answered, TG_ROOM)
    assert bot.signatures() == {}
    assert bot.store.statements.questions(record.id) == []


def test_forwarding_when_no_signatory_can_be_reached_says_so_and_may_be_tried_again(
    bot: Bot,
) -> None:
    open_statement(bot)
    with bot.store.transaction():
        nadie = bot.store.organizations.add("Nadie", "CL", "ngo")
    jon = private(TG, "1014")
    join(bot, private(TG, "1012"), nadie.id, signs=True, in_group=True)  # never wrote
    bot.send(jon, "/start")
    join(bot, jon, nadie.id, signs=False, in_group=True)
    none = bot.pick(jon, "statement:forward:1")
    assert said("statements.forward.none_reachable", number=1) in to(none, jon)

    bot.send(private(TG, "1012"), "/start")  # the signatory writes to the bot
    forwarded = bot.pick(jon, "statement:forward:1")
    assert counted("statements.forward.sent", 1, number=1) in to(forwarded, jon)
    assert TEXT in to(forwarded, private(TG, "1012"))
