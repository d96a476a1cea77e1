"""Case reports as members and coordinators see them, over the routes of
tests/harness/features.py: every transport, every database."""

from __future__ import annotations

import pytest

from bot.types import Message
from tests.harness.case_intake import ReportAnswers, case_number, fill_report, option, text
from tests.harness.features import ChatFactory, first_line

LANGUAGES = ("en", "es", "ar")
ARABIC_COUNTRY = "كولومبيا"
SPANISH_COUNTRY = "colombia"


@pytest.mark.smoke
@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_report_is_filed_step_by_step_then_read_and_counted_by_a_coordinator(
    open_chat: ChatFactory,
    language: str,
) -> None:
    reporter = open_chat("local")
    if language != "en":
        await reporter.send(f"/language {language}")
    country = {"ar": ARABIC_COUNTRY, "es": SPANISH_COUNTRY}.get(language, "Colombia")
    answers = ReportAnswers(marker=f"M{language}", country=country)
    transcript = await fill_report(reporter, language, answers)

    review = transcript.last
    assert text("conversation.review", language, title=Message.of("cases.title")) in review
    for shown in (answers.title, answers.organization, answers.company, answers.remedy):
        assert shown in review
    assert option("sector", "mining", language) in review
    assert option("right", "water", language) in review

    submitted = await reporter.pick(text("conversation.submit", language))
    assert first_line("cases.submitted", language) in submitted
    number = case_number(submitted)

    mine = await reporter.send("/myreports")
    assert answers.title in mine

    coordinator = open_chat("coord")
    listed = await coordinator.send("/cases")
    assert answers.title in listed
    shown = await coordinator.send(f"/case {number}")
    assert answers.narrative()[0] in shown
    assert answers.narrative()[1] in shown
    assert answers.company in shown

    stats = await coordinator.send("/casestats")
    assert "Corporate Accountability: 1 case in 1 country." in stats
    assert text("cases.region.latin_america_caribbean") in stats
