"""Drafting joint statements on the console over SQLite and PostgreSQL: the guided
``/statement`` with its review and a changed answer, opening (stored, scheduled, audited,
announced), each refusal of a bad answer; ``/editstatement N`` as a correction (signatures
stand) and as a change of substance (signers asked to confirm, their signatures waiting);
``/translatestatement N`` and the text each member reads in their language; ``/statements``,
``/statement N`` and ``/published N URL``; what the text step takes (typed messages, or one
file of a kind kept)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import build_registry, open_store
from bot.config import AppConfig, load_config
from bot.conversation import InvalidAnswer
from bot.router import Router
from bot.types import Command, Literal, Message, Origin, Platform
from handlers.statements import common, text_input
from handlers.statements.views import read_url
from storage import Store
from storage.statement_records import (
    Answer,
    Change,
    ListOrder,
    StatementFields,
    StatementState,
    WhoSigns,
    organization_signer,
)
from tests.harness.chat import ConsoleChat, console_chats
from tests.harness.clock import T0, Clock
from tests.harness.features import CATALOGS, first_line, said

CONFIG = """
data_dir = "data"
admins = ["console:root"]

[telegram]

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
BOB = "1001"
"""Red Étnica's signatory, on Telegram (notices reach Telegram and Matrix, not the console)."""
TITLE = "Protect land defenders"
TEXT = "We, the undersigned organizations, call on the State to protect land defenders."
AMENDED = TEXT + " And to consult the communities before any concession."
SPANISH = "Las organizaciones abajo firmantes pedimos al Estado que proteja a los defensores."

Chats = Callable[[str], ConsoleChat]


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> AppConfig:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    env = {"CAUCUS_DATABASE_URL": database_url, "CAUCUS_TELEGRAM_TOKEN": "123:abc"}
    return load_config(path, env=env)


@pytest.fixture
def store(config: AppConfig, clock: Clock) -> Iterator[Store]:
    open_store(config).close()
    opened = Store(config.database_url, clock=clock)
    try:
        cawg, legal = group(opened, "cawg"), group(opened, "legal")
        opened.rooms.link(Platform.CONSOLE, ROOM, cawg)
        opened.rooms.link(Platform.CONSOLE, "legal-room", legal)
        red = opened.organizations.add("Red Étnica de Mujeres", "CO", "union")
        bob = opened.members.for_identity(Platform.TELEGRAM, BOB, language="en", direct_room=BOB)
        ana = opened.members.for_identity(Platform.CONSOLE, "ana", language="es")
        for found in (bob, ana):
            opened.joining.add_member(found.id, cawg)
            opened.organizations.claim(found.id, red.id)
            opened.organizations.decide(found.id, red.id, confirm=True)
            opened.organizations.set_signatory(found.id, red.id, found is bob)
        opened.joining.add_member(member(opened, "eve"), cawg)
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


def to_bob(store: Store) -> str:
    """Everything waiting in the outbox for Bob's private chat."""
    return "\n".join(
        str(item.payload) for item in store.outbox.pending(Platform.TELEGRAM) if item.room_id == BOB
    )


def shown(message: Message, language: str = "en") -> str:
    return CATALOGS.renderer(language, Platform.CONSOLE).label(message)


def change_label(field: str) -> str:
    return shown(Message.of("conversation.change", label=Message.of(field)))


async def walk_to_review(chat: ConsoleChat, *, deadline: str = "14d") -> str:
    """``/statement`` answered to its review: cawg (the coordinator's only group), the text
    in two messages, English, ``deadline``, the group's organizations, individuals too,
    sorted by country."""
    await chat.send("/statement")
    await chat.send(TITLE)
    await chat.send(TEXT)
    await chat.send("And to consult the communities.")
    await chat.pick(said("conversation.done"))
    await chat.pick("English")
    await chat.send(deadline)
    await chat.pick(said("statements.create.who_group"))
    await chat.pick(said("statements.create.individuals_yes"))
    return await chat.pick(said("statements.create.order_country"))


def open_directly(store: Store, slug: str = "cawg") -> int:
    """A statement opened straight in the store (what ``/statement`` leads to)."""
    record = store.statements.open(
        StatementFields(
            working_group_id=group(store, slug),
            title=TITLE,
            language="en",
            deadline=T0 + timedelta(days=7),
            who_signs=WhoSigns.GROUP,
            individuals=False,
            list_order=ListOrder.ALPHABETICAL,
            rooms=((Platform.CONSOLE.value, f"{slug}-room"),),
            time_zone="UTC",
        ),
        TEXT,
        None,
        member(store, "lex" if slug == "legal" else "coord"),
    )
    return record.id


def sign_for_red(store: Store, clock: Clock, statement_id: int = 1) -> None:
    record = store.statements.get(statement_id)
    assert record is not None
    outcome = store.statements.answer(
        statement_id,
        signer=organization_signer(1),
        member_id=store.members.for_identity(Platform.TELEGRAM, BOB, language="en").id,
        answer=Answer.SIGNED,
        text_hash=record.current.text_hash,
        now=clock.now,
    )
    assert outcome.value == "signed"


# -- drafting and opening -------------------------------------------------------------------


async def test_a_reviewed_statement_with_a_changed_title_opens_scheduled_and_announced(
    store: Store, chats: Chats
) -> None:
    coord = chats("coord")
    review = await walk_to_review(coord)
    assert TITLE in review and TEXT in review
    asked = await coord.pick(change_label("statements.create.field_title"))
    assert first_line("statements.create.ask_title") in asked
    await coord.send("Protect land and water defenders")
    opened = await coord.pick(said("conversation.submit"))

    record = store.statements.get(1)
    assert record is not None and record.state is StatementState.OPEN
    fields = record.fields
    assert fields.title == "Protect land and water defenders"
    assert record.current.text == TEXT + "\n\nAnd to consult the communities."
    assert (record.current.number, record.current.change) == (1, Change.ORIGINAL)
    assert (fields.language, fields.deadline) == ("en", T0 + timedelta(days=14))
    assert (fields.who_signs, fields.individuals, fields.list_order) == (
        WhoSigns.GROUP,
        True,
        ListOrder.COUNTRY,
    )
    assert fields.rooms == ((Platform.CONSOLE.value, ROOM),)
    assert fields.remind_hours_before == (72, 24)
    assert record.created_by == member(store, "coord")
    close = store.scheduled.get(common.close_key(1))
    assert close is not None and close.due_at == fields.deadline
    for hours in (72, 24):
        reminder = store.scheduled.get(common.reminder_key(1, hours))
        assert reminder is not None and reminder.due_at == fields.deadline - timedelta(hours=hours)
    assert [entry.action for entry in store.audit.page().entries] == ["statement.opened"]
    assert first_line("statements.create.opened") in opened
    # Eve and the coordinator sign in their own name (no organization) but never wrote to the
    # bot privately (the console is no private chat): the coordinator is told how many.
    assert shown(Message.counted("statements.create.unreachable", 2)) in opened
    # Announced (by signing.announce): the room's post and the signatory's private message
    # with the buttons to sign; the non-signatory member of Red Étnica is not messaged.
    assert shown(Message.counted("statements.announce.count", 0, number=1)) in opened
    assert "Protect land and water defenders" in to_bob(store)
    assert store.conversations.load(member(store, "coord")) is None


async def test_a_member_who_coordinates_no_group_may_not_draft_a_statement(
    store: Store, chats: Chats
) -> None:
    refused = await chats("out").send("/statement")
    assert first_line("router.not_allowed") in refused
    assert store.conversations.load(member(store, "out")) is None


async def test_each_bad_answer_is_refused_with_its_reason_and_nothing_opens(
    store: Store, chats: Chats, clock: Clock
) -> None:
    coord = chats("coord")
    await coord.send("/statement")
    assert first_line("cases.too_long") in await coord.send("x" * 201)
    await coord.send(TITLE)
    assert first_line("conversation.nothing_gathered") in await coord.pick(
        said("conversation.done")
    )
    too_long = await coord.send("y" * 100_001)
    assert said("statements.create.text_too_long", limit=100_000) in too_long
    await coord.send(TEXT)
    await coord.pick(said("conversation.done"))
    await coord.pick("English")
    assert first_line("polls.create.deadline_range") in await coord.send("91d")
    assert first_line("polls.create.bad_deadline") in await coord.send("next Friday")
    await coord.send("2025-03-01 12:30")  # read, but under an hour away: refused at opening
    await coord.pick(said("statements.create.who_network"))
    await coord.pick(said("statements.create.individuals_no"))
    await coord.pick(said("statements.create.order_alphabetical"))
    refused = await coord.pick(said("conversation.submit"))
    assert first_line("statements.create.deadline_too_near") in refused
    assert store.statements.get(1) is None
    assert store.scheduled.get(common.close_key(1)) is None
    # Still at the review: the deadline changed, it opens.
    await coord.send("/statement")
    await coord.pick(change_label("statements.create.field_deadline"))
    await coord.send("2025-03-10 17:00")
    assert first_line("statements.create.opened") in await coord.pick(said("conversation.submit"))
    record = store.statements.get(1)
    assert record is not None and record.fields.who_signs is WhoSigns.NETWORK


def test_the_text_is_typed_messages_joined_as_paragraphs_or_one_file_of_a_kind_kept() -> None:
    def file(name: str, content_type: str = "", size: int = 10) -> dict[str, object]:
        return {"file": {"platform": "telegram", "ref": "f", "filename": name,
                         "content_type": content_type, "size": size}}  # fmt: skip

    assert text_input.finish_text(["One.", "Two."]) == {"text": "One.\n\nTwo."}
    assert text_input.finish_text([file("s.md")]) == file("s.md")
    for kept, kind in (("s.txt", "plain"), ("s.MD", "plain"), ("s.pdf", "document"),
                       ("s.docx", "document"), ("s.odt", "document")):  # fmt: skip
        assert text_input.file_kind(file(kept)["file"]) == kind  # type: ignore[arg-type]
    assert text_input.file_kind(file("statement", "application/pdf")["file"]) == "document"  # type: ignore[arg-type]
    assert text_input.needs_summary({"text": file("s.pdf")}) is True
    assert text_input.needs_summary({"text": file("s.txt")}) is False
    for refused, key in (
        ([file("s.exe")], "statements.create.file_kind"),
        ([file("s.zip", "application/zip")], "statements.create.file_kind"),
        ([file("s.pdf", size=11 * 2**20)], "statements.create.file_too_big"),
        ([file("a.txt"), file("b.txt")], "statements.create.one_file"),
        (["Typed.", file("a.txt")], "statements.create.one_file"),
    ):
        with pytest.raises(InvalidAnswer) as raised:
            text_input.finish_text(refused)  # type: ignore[arg-type]
        assert raised.value.message.key == key


# -- versions ---------------------------------------------------------------------------------


async def test_a_correction_leaves_the_signature_standing_and_a_change_of_substance_asks_again(
    store: Store, chats: Chats, clock: Clock
) -> None:
    open_directly(store)
    sign_for_red(store, clock)
    coord = chats("coord")
    await coord.send("/editstatement 1")
    await coord.send(TEXT.replace("State", "state"))
    await coord.pick(said("conversation.done"))
    await coord.pick(said("statements.edit.correction"))
    done = await coord.pick(said("conversation.submit"))
    assert first_line("statements.edit.done") in done
    [signature] = store.statements.signatures(1)
    assert signature.stands and store.statements.versions(1)[-1].change is Change.CORRECTION

    await coord.send("/editstatement 1")
    await coord.send(AMENDED)
    await coord.pick(said("conversation.done"))
    await coord.pick(said("statements.edit.substance"))
    asked = await coord.pick(said("conversation.submit"))
    assert shown(Message.counted("statements.edit.asked", 1)) in asked
    # Bob, Red Étnica's signatory, is asked to confirm on the new text.
    assert AMENDED in to_bob(store)
    [signature] = store.statements.signatures(1)
    assert signature.waiting and not signature.stands
    record = store.statements.get(1)
    assert record is not None and (record.current.number, record.current.edition) == (3, 3)
    assert [e.action for e in store.audit.page().entries].count("statement.revised") == 2
    view = await chats("ana").send("/statement 1")
    assert shown(Message.counted("statements.view.signed", 0), "es") in view
    assert shown(Message.counted("statements.view.waiting", 1), "es") in view


async def test_a_second_change_of_substance_asks_again_those_still_waiting_from_the_first(
    store: Store, chats: Chats, clock: Clock
) -> None:
    open_directly(store)
    sign_for_red(store, clock)
    coord = chats("coord")
    for text in (AMENDED, AMENDED + " Within a year."):
        await coord.send("/editstatement 1")
        await coord.send(text)
        await coord.pick(said("conversation.done"))
        await coord.pick(said("statements.edit.substance"))
        asked = await coord.pick(said("conversation.submit"))
        assert shown(Message.counted("statements.edit.asked", 1)) in asked
    # Bob is asked on the latest text: the buttons carry its version's hash.
    record = store.statements.get(1)
    assert record is not None
    assert common.hash_tag(record.current.text_hash) in to_bob(store)


async def test_editing_is_refused_for_the_same_text_another_groups_statement_and_a_closed_one(
    store: Store, chats: Chats
) -> None:
    open_directly(store)
    open_directly(store, "legal")
    coord = chats("coord")
    await coord.send("/editstatement 1")
    await coord.send(TEXT)
    await coord.pick(said("conversation.done"))
    await coord.pick(said("statements.edit.correction"))
    refused = await coord.pick(said("conversation.submit"))
    assert said("statements.edit.unchanged", number=1) in refused
    await coord.send("/cancel")
    # Legal Aid's: unknown to a coordinator of another group; not theirs once they read it.
    assert said("statements.no_such_statement", number=2) in await coord.send("/editstatement 2")
    store.joining.add_member(member(store, "coord"), group(store, "legal"))
    assert said("statements.not_yours", number=2) in await coord.send("/editstatement 2")
    assert said("statements.no_such_statement", number=9) in await coord.send("/editstatement 9")
    assert first_line("router.not_allowed") in await chats("eve").send("/editstatement 1")
    store.statements.close(1)
    assert said("statements.closed", number=1) in await coord.send("/editstatement 1")
    assert len(store.statements.versions(1)) == 1


async def substance_by_root(chats: Chats, text: str) -> None:
    """The network's admin changes statement 1's text in substance, start to end."""
    root = chats("root")
    await root.send("/editstatement 1")
    await root.send(text)
    await root.pick(said("conversation.done"))
    await root.pick(said("statements.edit.substance"))
    assert first_line("statements.edit.done") in await root.pick(said("conversation.submit"))


async def test_a_correction_begun_before_another_coordinators_new_version_is_refused(
    store: Store, chats: Chats, clock: Clock
) -> None:
    open_directly(store)
    coord = chats("coord")
    await coord.send("/editstatement 1")
    await coord.send(TEXT.replace("State", "state"))
    await coord.pick(said("conversation.done"))
    await coord.pick(said("statements.edit.correction"))
    await substance_by_root(chats, AMENDED)
    sign_for_red(store, clock)  # Red confirms on version 2, with its new demand
    refused = await coord.pick(said("conversation.submit"))
    assert (
        said(
            "statements.edit.changed_meanwhile",
            number=1,
            version=2,
            command="/editstatement",
            cancel="/cancel",
        )
        in refused
    )
    assert [v.text for v in store.statements.versions(1)] == [TEXT, AMENDED]
    [signature] = store.statements.signatures(1)
    assert signature.stands


async def test_a_translation_begun_before_a_new_version_is_refused_not_filed_under_it(
    store: Store, chats: Chats
) -> None:
    open_directly(store)
    coord = chats("coord")
    await coord.send("/translatestatement 1")
    await coord.pick("Español")
    await coord.send(SPANISH)
    await coord.pick(said("conversation.done"))
    await substance_by_root(chats, AMENDED)
    refused = await coord.pick(said("conversation.submit"))
    assert (
        said(
            "statements.translate.changed_meanwhile",
            number=1,
            version=2,
            command="/translatestatement",
            cancel="/cancel",
        )
        in refused
    )
    assert store.statements.translations(1) == []


async def test_members_read_a_current_translation_and_the_original_once_it_is_out_of_date(
    store: Store, chats: Chats
) -> None:
    open_directly(store)
    coord = chats("coord")
    await coord.send("/translatestatement 1")
    await coord.pick("Español")
    await coord.send(SPANISH)
    await coord.pick(said("conversation.done"))
    done = await coord.pick(said("conversation.submit"))
    assert first_line("statements.translate.done") in done
    [translation] = store.statements.translations(1)
    assert (translation.language, translation.version_number, translation.current) == (
        "es",
        1,
        True,
    )
    ana = chats("ana")  # reads Spanish
    read = await ana.send("/statement 1")
    assert SPANISH in read and TEXT not in read
    assert first_line("statements.view.original_instead", "es") not in read

    await coord.send("/editstatement 1")
    await coord.send(AMENDED)
    await coord.pick(said("conversation.done"))
    await coord.pick(said("statements.edit.substance"))
    edited = await coord.pick(said("conversation.submit"))
    assert first_line("statements.edit.translations_out_of_date") in edited
    read = await ana.send("/statement 1")
    assert AMENDED in read and SPANISH not in read
    assert (
        shown(
            Message.of(
                "statements.view.original_instead", language=Message.of("language.native_name@en")
            ),
            "es",
        )
        in read
    )
    assert (
        shown(
            Message.of(
                "statements.view.translation_out_of_date",
                language=Message.of("language.native_name@es"),
                version=1,
            ),
            "es",
        )
        in read
    )
    # Its own language is not offered for translating into.
    await coord.send("/translatestatement 1")
    assert "English" not in coord.last


# -- reading and publishing -------------------------------------------------------------------


async def test_statements_lists_what_the_member_may_read_and_drops_a_closed_one_after_30_days(
    store: Store, chats: Chats, clock: Clock
) -> None:
    open_directly(store)
    store.statements.translate(1, "es", SPANISH, None, member(store, "coord"), expected_version=1)
    open_directly(store, "legal")
    listed = await chats("eve").send("/statements")
    assert "#1" in listed and "Corporate Accountability" in listed and "Legal Aid" not in listed
    assert said("statements.no_such_statement", number=2) in await chats("eve").send("/statement 2")
    assert first_line("statements.view.none") in await chats("out").send("/statements")
    store.statements.close(1)
    clock.advance(days=29)
    assert TITLE in await chats("eve").send("/statements")
    clock.advance(days=2)
    assert first_line("statements.view.none") in await chats("eve").send("/statements")


def in_room(config: AppConfig, store: Store, user: str, text: str, room: str = ROOM) -> str:
    """What the bot says in a group room (the console's chats are private) to ``text``."""
    router = Router(store, build_registry(), CATALOGS, config)
    name, *args = text.removeprefix("/").split()
    origin = Origin(Platform.CONSOLE, room, user, is_direct=False, language_hint="en")
    with store.transaction():
        said = router.handle(Command(origin, name, tuple(args)))
    return "\n".join(out.text for out in said if out.room_id == room)


async def test_in_a_group_room_only_that_rooms_groups_statements_are_listed_or_shown(
    config: AppConfig, store: Store
) -> None:
    open_directly(store)
    open_directly(store, "legal")
    # The network's admin reads every statement privately, but in cawg's room only cawg's.
    listed = in_room(config, store, "root", "/statements")
    assert "#1" in listed and "Legal Aid" not in listed and "#2" not in listed
    assert said("statements.no_such_statement", number=2) in in_room(
        config, store, "root", "/statement 2"
    )
    assert TEXT in in_room(config, store, "root", "/statement 1")
    assert said("statements.no_such_statement", number=1) in in_room(
        config, store, "root", "/statement 1", "legal-room"
    )
    # A room that belongs to no working group shows none.
    assert first_line("statements.view.none") in in_room(
        config, store, "root", "/statements", "lobby"
    )


async def test_a_question_is_not_answered_in_a_group_room(config: AppConfig, store: Store) -> None:
    open_directly(store)
    question = store.statements.ask(1, member(store, "ana"), "Does it cover miners?")
    refused = in_room(config, store, "coord", f"/answerquestion {question.id} It does.")
    assert (
        said(
            "statements.question.answer_private_only",
            question=question.id,
            command="/answerquestion",
        )
        in refused
    )
    assert "It does." not in refused
    assert [q.id for q in store.statements.questions(1, open_only=True)] == [question.id]


async def test_a_text_too_long_for_a_message_is_shown_as_a_file(store: Store, chats: Chats) -> None:
    long_text = "Whereas " + "the communities were not consulted; " * 120
    record = store.statements.open(
        StatementFields(
            working_group_id=group(store, "cawg"),
            title=TITLE,
            language="en",
            deadline=T0 + timedelta(days=7),
            who_signs=WhoSigns.GROUP,
            individuals=False,
            list_order=ListOrder.ALPHABETICAL,
            rooms=((Platform.CONSOLE.value, ROOM),),
            time_zone="UTC",
        ),
        long_text.strip(),
        None,
        member(store, "coord"),
    )
    shown_text = await chats("eve").send("/statement 1")
    assert first_line("statements.view.text_attached") in shown_text
    assert f"statement-{record.id}-v1-en.md" in shown_text
    assert "communities were not consulted" not in shown_text


async def test_published_records_a_web_address_for_a_closed_statement_of_ones_own_group(
    store: Store, chats: Chats
) -> None:
    open_directly(store)
    coord = chats("coord")
    url = "https://example.org/statements/land-defenders"
    assert first_line("statements.published.usage") in await coord.send("/published 1")
    assert first_line("statements.published.not_closed") in await coord.send(f"/published 1 {url}")
    store.statements.close(1)
    for bad in ("javascript:alert(1)", "ftp://example.org/x", "example.org", "https://"):
        assert first_line("statements.published.bad_url") in await coord.send(f"/published 1 {bad}")
    assert first_line("router.not_allowed") in await chats("eve").send(f"/published 1 {url}")
    assert first_line("statements.published.recorded") in await coord.send(f"/published 1 {url}")
    record = store.statements.get(1)
    assert record is not None and record.published_url == url
    assert shown(Message.of("statements.view.published", url=Literal(url))) in await chats(
        "eve"
    ).send("/statement 1")
    assert read_url(" http://example.org/a?b=c ") == "http://example.org/a?b=c"
