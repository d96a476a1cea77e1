"""How the bot words what it says: counts through each language's plural forms, numbers in
the reader's format, statuses in sentences, and a report's history with when and who.

The plural rules are checked as pure functions; the rest on the console over both databases.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.numbers import format_decimal

from bot.config import AppConfig, load_config
from bot.i18n import Catalogs, MissingMessage
from bot.moments import day, moment
from bot.types import Literal, Message, Platform
from handlers.cases.options import show_people
from handlers.cases.review import status_now
from storage.case_records import CaseStatus
from tests.harness.case_intake import ReportAnswers, case_number, fill_report, text
from tests.harness.chat import ConsoleChat

CATALOGS = Catalogs.load()
MARKS = re.compile("[\u200e\u200f\u2066\u2067\u2068\u2069]")

CONFIG = """
data_dir = "data"

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en", "es", "fr", "ar", "pt"]
coordinators = ["console:coord"]

[limits]
# A scripted member answers a whole report in seconds: far more than a person's rate.
private_messages_per_minute = 10000
"""


def shown(message: Message, language: str = "en") -> str:
    """The text the bot says for ``message``, without direction marks."""
    return MARKS.sub("", CATALOGS.renderer(language, Platform.CONSOLE).label(message))


def plain(answer: str) -> str:
    return MARKS.sub("", answer)


# -- choosing the form for a count ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "form"),
    [(0, 0), (1, 1), (2, 2), (3, 3), (10, 3), (11, 4), (99, 4), (100, 5), (101, 5), (103, 3)],
)
def test_arabic_takes_each_of_its_six_plural_forms(count: int, form: int) -> None:
    assert CATALOGS.plural_form("ar", count) == form


@pytest.mark.parametrize(
    ("language", "forms"),
    [
        # counts:  0  1  2  3 11 100 1 000 000
        ("en", (1, 0, 1, 1, 1, 1, 1)),
        ("es", (2, 0, 2, 2, 2, 2, 1)),
        ("fr", (0, 0, 2, 2, 2, 2, 1)),
        ("pt", (0, 0, 2, 2, 2, 2, 1)),
    ],
)
def test_each_language_takes_its_own_form_for_zero_one_many_and_exact_millions(
    language: str, forms: tuple[int, ...]
) -> None:
    counts = (0, 1, 2, 3, 11, 100, 1_000_000)
    assert tuple(CATALOGS.plural_form(language, count) for count in counts) == forms


def arabic_members(count: int) -> str:
    return shown(Message.counted("members.count_members", count), "ar")


def test_arabic_words_a_count_in_each_of_its_six_forms() -> None:
    assert arabic_members(0) == "لا أعضاء"
    assert arabic_members(1) == "عضو واحد"
    assert arabic_members(2) == "عضوان"
    assert arabic_members(3) == f"{format_decimal(3, locale='ar')} أعضاء"
    assert arabic_members(11) == f"{format_decimal(11, locale='ar')} عضوًا"
    assert arabic_members(100) == f"{format_decimal(100, locale='ar')} عضو"


def cases_in_countries(cases: int, countries: int, language: str = "en") -> str:
    return shown(
        Message.counted(
            "cases.stats_header",
            cases,
            group=Literal("CAWG"),
            countries=Message.counted("cases.countries_count", countries),
        ),
        language,
    )


def test_counts_are_worded_and_formatted_for_the_language() -> None:
    assert cases_in_countries(6, 5) == "CAWG: 6 cases in 5 countries."
    assert cases_in_countries(1, 1) == "CAWG: 1 case in 1 country."
    assert cases_in_countries(1200, 66) == "CAWG: 1,200 cases in 66 countries."
    assert cases_in_countries(1, 1, "es") == "CAWG: 1 caso en 1 país."
    assert cases_in_countries(1_000_000, 2, "es") == "CAWG: 1.000.000 de casos en 2 países."
    assert cases_in_countries(0, 0, "fr") == "CAWG : 0 cas dans 0 pays."
    assert cases_in_countries(2, 2, "ar") == "CAWG: قضيتان في بلدين."
    assert cases_in_countries(3, 1, "ar") == "CAWG: 3 قضايا في بلد واحد."


def test_a_number_of_people_is_shown_in_the_readers_format() -> None:
    assert shown(show_people(800_000), "es") == f"{format_decimal(800_000, locale='es')} personas"
    assert shown(show_people(800_000), "en") == "800,000 people"
    assert shown(show_people(1), "pt") == "1 pessoa"


def test_a_case_number_is_shown_as_it_is_typed_back_never_grouped() -> None:
    # A coordinator reads "case 12345" and types /case 12345: a grouped "12,345" would be
    # refused as a bad number. Counts of the same size are grouped as the language does.
    for language in ("en", "es", "fr", "pt", "ar"):
        assert "12345" in shown(Message.of("cases.not_found", number=12345), language)
    assert "12,345" in shown(Message.counted("cases.files_header", 12345, number=7))


def test_a_moment_is_read_in_the_readers_language_and_time_zone() -> None:
    when = datetime(2026, 12, 7, 14, 5, tzinfo=UTC)
    assert moment(when, "es", "America/Lima") == "7 dic 2026, 9:05 (America/Lima)"
    assert moment(when, "fr") == "7 déc. 2026, 14:05 (UTC)"
    assert moment(when, "pt", "Nowhere/Atlantis").endswith("14:05 (UTC)")
    assert "ديسمبر" in moment(when, "ar")
    assert day(when, "en", "Pacific/Kiritimati") == "Dec 8, 2026"  # already tomorrow there


def test_the_author_is_told_a_new_status_in_a_sentence_of_their_language() -> None:
    assert shown(status_now(3, CaseStatus.VERIFIED, to_author=True)) == (
        "Your case report 3 is now verified."
    )
    assert shown(status_now(3, CaseStatus.NEEDS_INFO, to_author=True), "fr") == (
        "Votre signalement 3 est désormais en attente d’informations."
    )
    assert shown(status_now(3, CaseStatus.REJECTED), "pt") == "O caso 3 foi rejeitado."


def test_a_plural_entry_without_a_count_is_a_programming_error() -> None:
    with pytest.raises(MissingMessage):
        CATALOGS.renderer("en", Platform.CONSOLE).text(Message.of("cases.countries_count"))


# -- on the console, over both databases ---------------------------------------------------------


Members = Callable[[str], ConsoleChat]


@pytest.fixture
async def members(tmp_path: Path, database_url: str) -> AsyncIterator[Members]:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    config: AppConfig = load_config(path, env={"CAUCUS_DATABASE_URL": database_url})
    opened: list[ConsoleChat] = []

    def member(user_id: str) -> ConsoleChat:
        chat = ConsoleChat(config, user_id=user_id)
        opened.append(chat)
        return chat

    yield member
    for chat in opened:
        await chat.close()


async def file_report(chat: ConsoleChat, marker: str) -> int:
    await fill_report(chat, "en", ReportAnswers(marker=marker))
    return case_number(await chat.pick(text("conversation.submit")))


def now(number: int, status: str, language: str = "en") -> str:
    return shown(
        Message.of(f"cases.now.{status}", case=Message.of("cases.case_ref", number=number)),
        language,
    )


async def test_a_status_change_reads_as_a_sentence_in_the_coordinators_language(
    members: Members,
) -> None:
    number = await file_report(members("ana"), "S1")
    coordinator = members("coord")
    moved = await coordinator.send(f"/casestatus {number} under_review")
    assert f"Case {number} is now under review. Its author could not be told" in moved
    await coordinator.send("/language es")
    asked = plain(await coordinator.send(f"/casestatus {number} needs_info ¿Cuándo?"))
    assert f"El caso {number} necesita ahora más información." in asked
    assert "needs_info" not in asked and "está ahora necesita" not in asked
    assert now(number, "needs_info", "es") in asked


async def test_counts_in_lists_and_statistics_follow_the_number(members: Members) -> None:
    author = members("ana")
    first = await file_report(author, "C1")
    assert "You have 1 case report:" in await author.send("/myreports")
    coordinator = members("coord")
    assert "1 case report (page 1 of 1):" in await coordinator.send("/cases")
    stats = await coordinator.send("/casestats")
    assert "Corporate Accountability: 1 case in 1 country." in stats
    await file_report(author, "C2")
    assert "You have 2 case reports:" in await author.send("/myreports")
    assert "2 case reports (page 1 of 1):" in await coordinator.send("/cases")
    await coordinator.send("/language ar")
    assert "بلاغان" in plain(await coordinator.send("/cases"))
    await coordinator.send("/language es")
    assert "No existe la página 3: la lista tiene 1 página." in plain(
        await coordinator.send("/cases page=3")
    )
    assert f"Caso {first}" in plain(await coordinator.send(f"/case {first}"))


async def test_the_people_affected_are_counted_in_the_readers_number_format(
    members: Members,
) -> None:
    number = await file_report(members("ana"), "P1")  # answers "1,200" people
    coordinator = members("coord")
    assert "1,200 people" in await coordinator.send(f"/case {number}")
    await coordinator.send("/language es")
    spanish = plain(await coordinator.send(f"/case {number}"))
    assert f"{format_decimal(1200, locale='es')} personas" in spanish


STAMP = r"[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}\s?[AP]M \(UTC\)"
"""When a step was taken, as an English reader who gave no time zone reads it."""


async def test_the_history_shows_every_step_with_its_time_and_who_took_it(
    members: Members,
) -> None:
    author = members("ana")
    number = await file_report(author, "H1")
    coordinator = members("coord")
    await coordinator.send("/whoami")
    reviewer = coordinator.store.members.for_identity(Platform.CONSOLE, "coord", language="en")
    coordinator.store.members.set_profile(
        reviewer.id, display_name="Rosa Quispe", organization=None, time_zone=None
    )
    await coordinator.send(f"/casestatus {number} under_review")
    await coordinator.send(f"/casestatus {number} needs_info Who saw the spill?")
    await author.send(f"/answer {number} The fishermen did.")

    named = f"Rosa Quispe (member no. {reviewer.id})"
    read = await coordinator.send(f"/case {number}")
    for step in (
        "the author: submitted",
        f"{re.escape(named)}: under review",
        f"{re.escape(named)}: question to the author: Who saw the spill\\?",
        "the author: answer: The fishermen did.",
    ):
        assert re.search(f"^{STAMP}, {step}$", read, re.MULTILINE), (step, read)

    own = await author.send(f"/case {number}")
    assert "Rosa Quispe" not in own
    for step in (
        "you: submitted",
        "the coordinators: under review",
        "the coordinators: question to the author: Who saw the spill\\?",
        "you: answer: The fishermen did.",
    ):
        assert re.search(f"^{STAMP}, {step}$", own, re.MULTILINE), (step, own)


async def test_the_working_groups_rooms_and_coordinators_are_counted_in_words(
    members: Members,
) -> None:
    coordinator = members("coord")
    groups = await coordinator.send("/groups")
    assert "0 Telegram rooms, 0 Matrix rooms" in groups
    assert "1 coordinator" in groups and "1 coordinators" not in groups
    await coordinator.send("/language ar")
    arabic = plain(await coordinator.send("/groups"))
    assert "لا غرف على تيليجرام" in arabic and "منسّق واحد" in arabic


async def test_an_export_counts_what_it_sent_and_left_out_in_words(members: Members) -> None:
    await file_report(members("ana"), "E1")
    coordinator = members("coord")
    none = await coordinator.send("/export")
    assert "Left out: 1 with another status, 0 kept for internal review by their reporters." in (
        none
    )
    done = await coordinator.send("/export all")
    assert "Corporate Accountability: 1 case report exported in CSV and JSON." in done
    await coordinator.send("/language ar")
    arabic = plain(await coordinator.send("/export"))
    assert "بلاغ واحد بحالة أخرى" in arabic
