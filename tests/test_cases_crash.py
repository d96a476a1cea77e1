"""A case report interrupted by ``kill -9`` resumes with every earlier answer kept, and
nothing it holds can be read in the database file or the data directory."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from storage.sealing import generate_key
from tests.harness.case_intake import ReportAnswers, consent, option, text
from tests.harness.console_process import BotProcess
from tests.harness.features import first_line

CONFIG = """
data_dir = "data"

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en"]
coordinators = ["console:coord"]

[limits]
# A scripted member answers a whole report in seconds: far more than a person's rate.
private_messages_per_minute = 10000
"""

KILL = "<kill -9>"


def intake(answers: ReportAnswers) -> list[tuple[str, str]]:
    """(what the member types, what the bot asks next), with kills at awkward moments:
    inside a record of several fields, a multiple choice, gathered messages, evidence."""
    done = text("conversation.done")
    story = answers.narrative()
    return [
        ("/report", consent()[:40]),
        (text("cases.consent_agree"), text("cases.ask_reporter")),
        (option("reporter", "witness"), text("cases.ask_organization")),
        (answers.organization, text("cases.ask_naming")),
        (option("naming", "never"), text("cases.ask_title")),
        (answers.title, text("cases.ask_country")),
        (KILL, text("cases.ask_country")),
        (answers.country, text("cases.ask_locality")),
        (answers.locality, text("cases.ask_company_name")),
        (answers.company, text("cases.ask_company_role")),
        (KILL, text("cases.ask_company_role")),
        (option("company_role", "supplier"), text("cases.ask_company_country")),
        ("Canada", text("conversation.add_record", item=text("cases.company_item_one"))),
        (done, text("cases.ask_sector")),
        (option("sector", "mining"), text("cases.ask_rights")),
        # After a pick only the choices so far are shown; on resuming, the whole list.
        (option("right", "water"), "• " + option("right", "water")),
        (KILL, "✓ " + option("right", "water")),
        (option("right", "health"), "• " + option("right", "health")),
        (done, text("cases.ask_affected")),
        (answers.affected, text("cases.ask_affected_count")),
        ("/skip", text("cases.ask_affected_groups")),
        (done, text("cases.ask_started")),
        (answers.started, text("cases.ask_ongoing")),
        (option("yes_no", "no"), text("cases.ask_narrative")),
        (story[0], text("conversation.piece_kept", count=1, done=done)),
        (KILL, text("cases.ask_narrative")),
        (story[1], text("conversation.piece_kept", count=2, done=done)),
        (done, text("cases.ask_state_role")),
        (option("state_role", "none_known"), "• " + option("state_role", "none_known")),
        (done, text("cases.ask_steps_taken")),
        (option("step_taken", "none"), "• " + option("step_taken", "none")),
        (done, text("cases.ask_steps_outcome")),
        (answers.outcome, text("cases.ask_remedy")),
        (answers.remedy, text("cases.ask_evidence")),
        ("https://example.org/evidence/7", text("conversation.piece_kept", count=1, done=done)),
        (KILL, text("cases.ask_evidence")),
        (done, text("cases.ask_safety")),
        (option("yes_no", "yes"), text("cases.ask_publication")),
        (option("publication", "anonymous"), text("cases.ask_follow_up")),
        (option("yes_no", "no"), text("conversation.review", title=text("cases.title"))),
    ]


@pytest.mark.e2e  # the bot runs as a process of its own, killed with SIGKILL
def test_a_report_killed_at_awkward_moments_resumes_with_every_earlier_answer(
    tmp_path: Path, database_url: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    answers = ReportAnswers(marker="Crash")
    bot = BotProcess(config, database_url)
    kills = 0
    try:
        for typed, expected in intake(answers):
            if typed == KILL:
                bot.kill_hard()
                assert bot.process.returncode == -signal.SIGKILL
                kills += 1
                bot = BotProcess(config, database_url)
            else:
                bot.seen = ""  # an earlier prompt must not answer for this one
                bot.type(typed)
            bot.wait_for(expected)
        review = bot.wait_for(text("conversation.submit"))
        for shown in (
            answers.title,
            answers.organization,
            answers.company,
            answers.remedy,
            answers.outcome,
            "https://example.org/evidence/7",
            option("right", "water"),
            option("right", "health"),
            option("company_role", "supplier"),
        ):
            assert shown in review, shown
        bot.type(text("conversation.submit"))
        # No coordinator has a private chat with the bot here: the author is told so.
        bot.wait_for(text("cases.urgent_unreached")[:30])
        # The alert is kept through a kill: the start says it waits, and the coordinator
        # gets it the moment they write.
        bot.kill_hard()
        bot = BotProcess(config, database_url)
        bot.wait_for_error("1 urgent alert(s) waiting since")
        bot.type("/as coord")
        bot.wait_for(first_line("cases.urgent_alert_waited"))
        assert bot.finish() == 0
    finally:
        if bot.process.poll() is None:
            bot.kill_hard()
    assert kills == 5  # and one more after the report was filed


def test_nothing_a_report_holds_is_readable_in_the_database_or_the_data_directory(
    tmp_path: Path, sqlite_url: str
) -> None:
    from bot.config import load_config
    from tests.harness.case_intake import fill_report
    from tests.harness.chat import ConsoleChat

    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    config = load_config(
        path,
        env={"CAUCUS_DATABASE_URL": sqlite_url, "CAUCUS_ENCRYPTION_KEYS": generate_key()},
    )
    answers = ReportAnswers(marker="Qx9Secret")
    import asyncio

    async def file_one() -> None:
        chat = ConsoleChat(config)
        try:
            await fill_report(chat, "en", answers)
            await chat.pick(text("conversation.submit"))
            coordinator = ConsoleChat(config, user_id="coord")
            try:
                await coordinator.send("/case 1")
            finally:
                await coordinator.close()
        finally:
            await chat.close()

    asyncio.run(file_one())
    database = Path(sqlite_url.removeprefix("sqlite:///"))
    files = [
        p for p in {database, *database.parent.rglob("*"), *tmp_path.rglob("*")} if p.is_file()
    ]
    assert database in files
    # The scan does read what is stored: what is not confidential is there in the clear.
    assert any(b"Corporate Accountability" in found.read_bytes() for found in files)
    for secret in answers.secrets():
        for encoded in (secret.encode("utf-8"), secret.encode("utf-16-le")):
            for found in files:
                assert encoded not in found.read_bytes(), (secret, found.name)
