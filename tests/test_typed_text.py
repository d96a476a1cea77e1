"""What members type is cleaned where it enters the bot: display names, answers, command
words. Control characters and direction overrides go; what Arabic needs inside its words
stays; an answer with nothing visible is refused and changes nothing.

The rules on their own (no storage), then the behaviour on the console over both databases;
each platform's translation of display names is tested with that platform
(tests/test_telegram_relay.py, tests/test_matrix_relay.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.cleaning import clean_answer, clean_line, is_invisible
from bot.config import AppConfig, load_config
from bot.conversation import Conversation, ConversationEngine, ConversationState, TypedAnswer
from bot.conversation import Step as ConversationStep
from bot.types import Platform
from tests.harness.case_intake import ReportAnswers, case_number, fill_report, text
from tests.harness.chat import ConsoleChat
from tests.harness.features import first_line, said

ARABIC_NAME = "مي\u200cساء \u200fعلي\u200d"
"""A name whose zero-width non-joiner, right-to-left mark and joiner are part of it."""
INVISIBLE = (" ", "\u200b", "\u200b\u2060\ufeff", "\u200d\u200c", "\u202e\u2066 \u2069", "\u3164")

CONFIG = """
data_dir = "data"

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en", "ar"]
coordinators = ["console:coord"]

[limits]
# A scripted member answers a whole report in seconds: far more than a person's rate.
private_messages_per_minute = 10000
"""


# -- the rules --------------------------------------------------------------------------------


def test_a_name_loses_line_breaks_controls_and_direction_overrides() -> None:
    assert clean_line("Ana\nBob (Matrix): hi") == "Ana Bob (Matrix): hi"
    assert clean_line("Ana\r\n\u2028\u0085Bo\x1b[2J\x00\x7f\x9b") == "Ana Bo[2J"
    assert clean_line("\u202eAna\u202c \u2067Bo\u2069\t") == "Ana Bo"
    assert clean_line("\u200b\u2060 ") == ""
    assert clean_line(None) == ""


def test_arabic_keeps_its_marks_and_joiners_inside_words() -> None:
    assert clean_line(ARABIC_NAME) == ARABIC_NAME
    assert clean_answer(f"\u200f {ARABIC_NAME}\u061c2024 \u200e") == f"{ARABIC_NAME}\u061c2024"


def test_an_answer_keeps_its_lines_and_loses_every_other_control() -> None:
    typed = "First line\r\nsecond\rthird\u2029fourth\x07\x1b\u202e\tend"
    assert clean_answer(typed) == "First line\nsecond\nthird\nfourth end"


@pytest.mark.parametrize("typed", INVISIBLE)
def test_what_shows_nothing_is_invisible(typed: str) -> None:
    assert is_invisible(clean_answer(typed))


@pytest.mark.parametrize("typed", ["a", "٣", "\u200da\u200c", "😀", ARABIC_NAME])
def test_what_shows_something_is_visible(typed: str) -> None:
    assert not is_invisible(clean_answer(typed))


def test_a_gathered_narrative_keeps_its_lines_without_controls() -> None:
    story = Conversation(
        name="story",
        title="t",
        steps=(ConversationStep("story", prompt="p", label="l", parse=str, gather=True),),
        submit=lambda context, answers: (),
        review=False,
    )
    engine = ConversationEngine(lambda label: "")
    state = ConversationState("story", "story")
    outcome = engine.handle(story, state, TypedAnswer("It began\r\nin May.\x1b[0m\u202e"))
    assert outcome.state is not None and outcome.state.pending == ["It began\nin May.[0m"]
    refused = engine.handle(story, outcome.state, TypedAnswer("\u200b\u200d"))
    assert refused.state == outcome.state


# -- on the console, over both databases --------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> AppConfig:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return load_config(path, env={"CAUCUS_DATABASE_URL": database_url})


Members = Callable[[str], ConsoleChat]


@pytest.fixture
async def members(config: AppConfig) -> AsyncIterator[Members]:
    opened: list[ConsoleChat] = []

    def member(user_id: str) -> ConsoleChat:
        chat = ConsoleChat(config, user_id=user_id)
        opened.append(chat)
        return chat

    yield member
    for chat in opened:
        await chat.close()


def stored_name(chat: ConsoleChat, user_id: str) -> str | None:
    member = chat.store.members.for_identity(Platform.CONSOLE, user_id, language="en")
    return member.display_name


@pytest.mark.parametrize("typed", INVISIBLE[1:])  # the console skips a blank line itself
async def test_a_name_of_nothing_visible_is_refused_and_nothing_changes(
    members: Members, typed: str
) -> None:
    chat = members("ana")
    await chat.send("/profile")
    refused = await chat.send(typed)
    assert first_line("conversation.invisible_answer") in refused
    assert said("profile.ask_name") in refused  # the same question, asked again
    assert stored_name(chat, "ana") is None
    assert "\u200b" not in await chat.send("/whoami")


async def test_a_name_with_controls_and_overrides_is_kept_clean_and_arabic_intact(
    members: Members,
) -> None:
    chat = members("ana")
    await save_name(chat, "\u202eAna\x1b[31m Pérez\x07")
    assert stored_name(chat, "ana") == "Ana[31m Pérez"
    other = members("mai")
    await save_name(other, ARABIC_NAME)
    assert stored_name(other, "mai") == ARABIC_NAME


async def save_name(chat: ConsoleChat, name: str) -> None:
    await chat.send("/profile")
    await chat.send(name)
    await chat.send("/skip")
    await chat.send("UTC")
    assert first_line("profile.saved") in await chat.pick(text("conversation.submit"))


async def test_words_of_a_command_are_cleaned_and_invisible_ones_dropped(
    members: Members,
) -> None:
    author = members("ana")
    await fill_report(author, "en", ReportAnswers())
    number = case_number(await author.pick(text("conversation.submit")))
    coordinator = members("coord")
    await coordinator.send(f"/casestatus {number} under_review")
    question = "\u202ewhen\x1b[2J did\u2066 it?"
    asked = await coordinator.send(f"/casestatus {number} needs_info {question}")
    assert first_line("cases.status_changed") in asked
    refused = await author.send(f"/answer {number} \u200b \u2060\u202e")
    assert first_line("cases.answer_usage") in refused
    kept = await author.send(f"/answer {number} in\x00 May\u202e \u200b")
    assert first_line("cases.answer_kept") in kept
    shown = await coordinator.send(f"/case {number}")
    assert "when[2J did it?" in shown
    assert "in May" in shown
    for hidden in ("\u202e", "\u2066", "\x1b", "\x00"):
        assert hidden not in shown
