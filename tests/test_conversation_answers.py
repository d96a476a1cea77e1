"""Answers as members type them, on the console over both databases: a date with its
month named in the member's language, several options picked with only the choices so far
shown after each pick, and question numbers that count only the questions asked.

The engine's rules on their own are in tests/test_conversation.py; the month names in
tests/test_typed_dates.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.config import AppConfig, load_config
from bot.types import Platform
from tests.harness.case_intake import fill_report, option, text
from tests.harness.chat import ConsoleChat
from tests.harness.features import first_line

ONE_GROUP = """
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
TWO_GROUPS = (
    ONE_GROUP
    + """
[[working_groups]]
slug = "bhr"
name = "Business and Human Rights"
languages = ["en"]
coordinators = ["console:coord"]
"""
)
REPORT_STEPS = 25
"""The questions of /report, the working group's among them."""
_CHOICE_LINE = re.compile(r"^  \d+\. ", re.MULTILINE)

Members = Callable[[str], ConsoleChat]


def console(tmp_path: Path, database_url: str, groups: str) -> AppConfig:
    path = tmp_path / "config.toml"
    path.write_text(groups, encoding="utf-8")
    return load_config(path, env={"CAUCUS_DATABASE_URL": database_url})


@pytest.fixture
async def members(tmp_path: Path, database_url: str) -> AsyncIterator[Members]:
    config = console(tmp_path, database_url, ONE_GROUP)
    opened: list[ConsoleChat] = []

    def member(user_id: str) -> ConsoleChat:
        chat = ConsoleChat(config, user_id=user_id)
        opened.append(chat)
        return chat

    yield member
    for chat in opened:
        await chat.close()


def draft(chat: ConsoleChat, user_id: str) -> dict[str, object]:
    """The answers the member's open report holds so far, as stored."""
    member = chat.store.members.for_identity(Platform.CONSOLE, user_id, language="en")
    record = chat.store.conversations.load(member.id)
    assert record is not None
    return dict(record.data["answers"])


def progress(current: int, total: int, language: str = "en") -> str:
    return text("conversation.progress", language, title="", current=current, total=total)


# -- a date with a month's name ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "typed", "stored"),
    [
        ("en", "Dec 1984", "1984-12"),
        ("es", "3 de diciembre de 1984", "1984-12-03"),
        ("fr", "décembre 1984", "1984-12"),
        ("pt", "dezembro de 1984", "1984-12"),
        ("ar", "٣ ديسمبر ١٩٨٤", "1984-12-03"),
    ],
)
async def test_a_start_with_its_month_named_in_the_members_language_is_kept(
    members: Members, language: str, typed: str, stored: str
) -> None:
    chat = members("ana")
    await chat.send(f"/language {language}")
    await fill_report(chat, language, until="affected_groups")
    assert text("cases.ask_ongoing", language) in await chat.send(typed)
    assert draft(chat, "ana")["started"] == stored


async def test_an_english_month_is_read_for_any_member_and_a_wrong_one_refused(
    members: Members,
) -> None:
    chat = members("ana")
    await chat.send("/language es")
    await fill_report(chat, "es", until="affected_groups")
    refused = await chat.send("31 de febrero de 1984")
    assert first_line("cases.bad_date", "es") in refused
    assert "started" not in draft(chat, "ana")
    assert text("cases.ask_ongoing", "es") in await chat.send("December 1984")
    assert draft(chat, "ana")["started"] == "1984-12"


# -- several options, one pick at a time ------------------------------------------------------


async def test_after_a_pick_only_the_choices_so_far_are_shown_not_the_whole_list(
    members: Members,
) -> None:
    chat = members("ana")
    await fill_report(chat, until="sector")
    assert text("conversation.chosen_none") in chat.last  # "Chosen so far: none yet."
    water, food, health = (option("right", value) for value in ("water", "food", "health"))

    picked = await chat.pick(water)
    assert water in picked
    assert text("cases.ask_rights") not in picked
    assert food not in picked
    assert not _CHOICE_LINE.search(picked)
    assert first_line("conversation.pick_more") in picked

    # Numbers name lines of the list above, one or several at once; a pick again removes.
    both = await chat.send("3 4")
    assert food in both and health in both and not _CHOICE_LINE.search(both)
    without_food = await chat.send("3")
    assert food not in without_food and water in without_food

    shown_again = await chat.send(text("conversation.show_list"))
    assert text("cases.ask_rights") in shown_again
    assert "✓ " + health in shown_again
    assert _CHOICE_LINE.search(shown_again)

    asked_next = await chat.pick(text("conversation.done"))
    assert text("cases.ask_affected") in asked_next
    assert draft(chat, "ana")["rights"] == ["water", "health"]


async def test_taking_off_the_only_pick_says_none_chosen_yet_and_done_by_number(
    members: Members,
) -> None:
    chat = members("ana")
    await chat.send("/language pt")
    await fill_report(chat, "pt", until="sector")
    await chat.pick(option("right", "food", "pt"))
    emptied = await chat.pick(option("right", "food", "pt"))
    assert text("conversation.chosen_none", "pt") in emptied
    # Done is line 15 of the list above (14 rights): typed after a pick, it still is.
    refused = await chat.send("15")
    assert first_line("conversation.pick_at_least_one", "pt") in refused
    assert text("cases.ask_rights", "pt") in refused  # the whole list, when not understood


# -- question numbers -------------------------------------------------------------------------


async def test_a_question_the_member_is_not_asked_is_not_counted(members: Members) -> None:
    chat = members("ana")
    # One working group: it is chosen without asking, so consent is question 1.
    consent = await chat.send("/report")
    assert progress(1, REPORT_STEPS - 1) in consent
    assert progress(2, REPORT_STEPS - 1) in await chat.pick(text("cases.consent_agree"))


async def test_with_several_working_groups_choosing_one_is_question_one(
    tmp_path: Path, database_url: str
) -> None:
    chat = ConsoleChat(console(tmp_path, database_url, TWO_GROUPS), user_id="ana")
    try:
        assert progress(1, REPORT_STEPS) in await chat.send("/report")
        assert progress(2, REPORT_STEPS) in await chat.pick("Corporate Accountability")
    finally:
        await chat.close()
