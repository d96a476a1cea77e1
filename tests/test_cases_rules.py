"""Case reports: validation, drafts, the review workflow, withdrawal, export and statistics.

Driven through the real console transport and router, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_router
from bot.config import AppConfig, load_config
from bot.types import Command, Message, Origin, Outgoing, Platform
from handlers.cases.export import _cell
from tests.harness.case_intake import (
    CATALOGS,
    ReportAnswers,
    case_number,
    consent,
    fill_report,
    option,
    text,
)
from tests.harness.chat import ConsoleChat

GROUPS = """
data_dir = "data"
admins = ["console:root"]

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en", "es", "fr", "ar", "pt"]
coordinators = ["console:coord"]
admins = ["console:gadmin"]

[[working_groups]]
slug = "landrights"
name = "Land Rights"
languages = ["en", "es"]
coordinators = ["console:ocoord"]
admins = ["console:oadmin"]

[limits]
# A scripted member answers a whole report in seconds: far more than a person's rate.
private_messages_per_minute = 10000
"""

ONE_GROUP = """
data_dir = "data"

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en", "es"]
coordinators = ["console:coord"]

[limits]
# A scripted member answers a whole report in seconds: far more than a person's rate.
private_messages_per_minute = 10000
"""


@pytest.fixture
def two_groups(tmp_path: Path, database_url: str) -> AppConfig:
    path = tmp_path / "config.toml"
    path.write_text(GROUPS, encoding="utf-8")
    return load_config(path, env={"CAUCUS_DATABASE_URL": database_url})


@pytest.fixture
def one_group(tmp_path: Path, database_url: str) -> AppConfig:
    path = tmp_path / "config.toml"
    path.write_text(ONE_GROUP, encoding="utf-8")
    return load_config(path, env={"CAUCUS_DATABASE_URL": database_url})


Members = Callable[[str], ConsoleChat]


@pytest.fixture
async def members(one_group: AppConfig) -> AsyncIterator[Members]:
    opened: list[ConsoleChat] = []

    def member(user_id: str) -> ConsoleChat:
        chat = ConsoleChat(one_group, user_id=user_id)
        opened.append(chat)
        return chat

    yield member
    for chat in opened:
        await chat.close()


async def file_report(chat: ConsoleChat, answers: ReportAnswers | None = None) -> int:
    await fill_report(chat, "en", answers)
    return case_number(await chat.pick(text("conversation.submit")))


# -- the intake -----------------------------------------------------------------------------


async def test_declining_consent_stops_and_keeps_nothing(members: Members) -> None:
    chat = members("ana")
    await chat.send("/report")
    stopped = await chat.pick(text("cases.consent_decline"))
    assert text("conversation.cancelled") in stopped
    assert text("cases.mine_none", report="/report").split("/")[0] in await chat.send("/myreports")
    assert draft(chat) is None


async def test_the_consent_names_the_chosen_working_group_and_says_what_is_encrypted_where(
    two_groups: AppConfig,
) -> None:
    chat = ConsoleChat(two_groups, user_id="ana")
    try:
        await chat.send("/report")
        asked = await chat.pick("Land Rights")
        # The group the report goes to, by name; the bot's own storage sealed; and where
        # the member is typing (here the console), whose storage the bot does not govern.
        assert consent(group="Land Rights", channel="console") in asked
        assert "Land Rights" in asked and "Corporate Accountability" not in asked
        assert text("cases.consent_platform.console") in asked
        assert text("cases.consent_platform.telegram") not in asked
    finally:
        await chat.close()


async def test_cancel_deletes_the_draft_and_the_next_report_starts_afresh(
    members: Members,
) -> None:
    chat = members("ana")
    await fill_report(chat, until="title")
    assert text("conversation.cancelled") in await chat.send("/cancel")
    again = await chat.send("/report")
    assert consent() in again
    assert "continue" not in again.lower()


async def test_a_draft_left_for_another_command_is_offered_again_at_the_same_question(
    members: Members,
) -> None:
    chat = members("ana")
    answers = ReportAnswers()
    await fill_report(chat, answers=answers, until="country")
    await chat.send("/help")
    resumed = await chat.send("/report")
    assert text("cases.ask_locality") in resumed


@pytest.mark.parametrize(
    ("step", "typed", "refusal"),
    [
        ("naming", "ab", "cases.too_short"),
        ("naming", "x" * 121, "cases.too_long"),
        ("title", "Atlantis", "cases.unknown_country"),
    ],
)
async def test_an_invalid_answer_is_explained_and_the_question_asked_again(
    members: Members, step: str, typed: str, refusal: str
) -> None:
    chat = members("ana")
    transcript = await fill_report(chat, until=step)
    before = draft(chat)
    answer = await chat.send(typed)
    assert first(refusal) in answer
    assert draft(chat) == before
    assert transcript.last.splitlines()[1] in answer  # the same question again


def draft(chat: ConsoleChat) -> object:
    """The member's saved conversation, as stored."""
    member = chat.store.members.for_identity(Platform.CONSOLE, chat.user_label, language="en")
    found = chat.store.conversations.load(member.id)
    return None if found is None else (found.name, found.step, found.data)


def now_is(number: int, status: str) -> str:
    """What a coordinator is told when report ``number`` takes ``status``, in a sentence."""
    return text(f"cases.now.{status}", case=Message.of("cases.case_ref", number=number))


def first(key: str) -> str:
    """A catalog text up to its first placeholder."""
    from tests.harness.case_intake import CATALOGS

    return CATALOGS.template("en", key).split("{")[0].strip()


async def test_dates_in_the_future_and_unreadable_dates_are_refused(members: Members) -> None:
    chat = members("ana")
    await fill_report(chat, until="affected_groups")
    assert first("cases.date_in_future") in await chat.send("2999")
    assert first("cases.bad_date") in await chat.send("last spring")
    assert first("cases.date_too_early") in await chat.send("1850")
    assert text("cases.ask_ongoing") in await chat.send("15/06/2021")


async def test_a_country_that_several_names_match_is_offered_as_choices(
    members: Members,
) -> None:
    chat = members("ana")
    await fill_report(chat, until="title")
    offered = await chat.send("congo")
    assert "Congo - Brazzaville" in offered
    assert "Congo - Kinshasa" in offered
    assert text("cases.ask_locality") in await chat.pick("Kinshasa")
    await chat.send("/back")
    assert "Congo - Kinshasa" in chat.last


async def test_evidence_typed_as_text_must_be_a_link(members: Members) -> None:
    chat = members("ana")
    await fill_report(chat, answers=ReportAnswers(evidence_link=None), until="remedy")
    assert first("cases.not_a_link") in await chat.send("see the photos I have")
    kept = await chat.send("https://example.org/a.pdf")
    assert first("conversation.piece_kept") in kept


async def test_a_multiple_choice_needs_one_option_and_a_second_pick_removes_it(
    members: Members,
) -> None:
    chat = members("ana")
    await fill_report(chat, until="sector")
    await chat.pick(option("right", "food"))
    toggled_off = await chat.pick(option("right", "food"))
    assert "✓" not in toggled_off
    assert first("conversation.pick_at_least_one") in await chat.pick(text("conversation.done"))


async def test_the_review_lets_the_country_be_changed_and_keeps_the_rest(
    members: Members,
) -> None:
    chat = members("ana")
    answers = ReportAnswers()
    await fill_report(chat, answers=answers)
    await chat.pick(text("conversation.change", label=text("cases.label_country")))
    review = await chat.send("Philippines")
    assert "Philippines" in review
    assert answers.remedy in review
    number = case_number(await chat.pick(text("conversation.submit")))
    coordinator = members("coord")
    assert "Philippines" in await coordinator.send(f"/case {number}")


# -- after submission -----------------------------------------------------------------------


async def test_the_review_workflow_asks_the_author_and_attaches_the_answer(
    members: Members,
) -> None:
    author = members("ana")
    number = await file_report(author)
    coordinator = members("coord")
    refused = await coordinator.send(f"/casestatus {number} verified")
    assert first("cases.status_not_allowed") in refused
    assert now_is(number, "under_review") in await coordinator.send(
        f"/casestatus {number} under_review"
    )
    assert first("cases.status_needs_text_needs_info") in await coordinator.send(
        f"/casestatus {number} needs_info"
    )
    await coordinator.send(f"/casestatus {number} needs_info When did the spill start?")
    assert first("cases.no_question") not in await author.send(
        f"/answer {number} On 3 June, at night."
    )
    shown = await coordinator.send(f"/case {number}")
    assert "When did the spill start?" in shown
    assert "On 3 June, at night." in shown
    assert text("cases.status.under_review") in shown
    assert first("cases.no_question") in await author.send(f"/answer {number} more")


async def test_an_author_who_declined_contact_is_never_asked_nor_told(
    members: Members, one_group: AppConfig
) -> None:
    author = members("ana")
    number = await file_report(author, ReportAnswers(follow_up="no"))
    coordinator = members("coord")
    [moved] = ask(one_group, coordinator, "coord", f"/casestatus {number} under_review")
    assert moved.room_id == "console"  # to the coordinator, nothing to anyone else
    told = text("cases.status_changed_not_contacted", now=now_is(number, "under_review"))
    assert told in moved.text, moved.text
    assert "needs_info" not in await coordinator.send(f"/case {number}")
    refused = await coordinator.send(f"/casestatus {number} needs_info Who saw it?")
    assert text("cases.needs_info_declined_contact", number=number) in refused
    assert author.store.cases.summary(number).status.value == "under_review"  # type: ignore[union-attr]
    assert "Who saw it?" not in await coordinator.send(f"/case {number}")


async def test_only_a_report_its_author_chose_to_publish_can_be_published(
    members: Members,
) -> None:
    author = members("ana")
    coordinator = members("coord")
    for publication in ("internal", "network", "anonymous"):
        number = await file_report(author, ReportAnswers(publication=publication))
        for status in ("under_review", "verified"):
            await coordinator.send(f"/casestatus {number} {status}")
        offered = (await coordinator.send(f"/case {number}")).split(first("cases.detail_actions"))
        publishable = publication == "anonymous"
        assert ("published" in offered[-1]) is publishable, offered[-1]
        answer = await coordinator.send(f"/casestatus {number} published")
        stored = author.store.cases.summary(number)
        assert stored is not None
        assert (stored.status.value == "published") is publishable, answer
        if not publishable:
            chosen = option("publication", publication)
            assert text("cases.publish_not_chosen", number=number, choice=chosen) in answer


async def test_a_withdrawn_report_is_erased_with_everything_it_held(members: Members) -> None:
    author = members("ana")
    answers = ReportAnswers()
    number = await file_report(author, answers)
    asked = await author.send(f"/withdraw {number}")
    assert answers.title in asked
    kept = await author.pick(text("cases.withdraw_no"))
    assert first("cases.withdraw_kept") in kept
    await author.send(f"/withdraw {number}")
    assert first("cases.withdrawn") in await author.pick(text("cases.withdraw_yes"))
    assert author.store.cases.detail(number) is None
    coordinator = members("coord")
    assert first("cases.not_found") in await coordinator.send(f"/case {number}")
    assert first("cases.none_found") in await coordinator.send("/cases")


async def test_case_statistics_count_cases_countries_regions_sectors_and_rights(
    members: Members,
) -> None:
    author = members("ana")
    await file_report(author, ReportAnswers(marker="A", country="Colombia", sector="mining"))
    await file_report(author, ReportAnswers(marker="B", country="Peru", sector="mining"))
    await file_report(
        author,
        ReportAnswers(marker="C", country="Philippines", sector="agribusiness", rights=("food",)),
    )
    stats = await members("coord").send("/casestats")
    assert "3 cases in 3 countries" in stats
    assert f"{text('cases.region.latin_america_caribbean')}: 2" in stats
    assert f"{text('cases.region.asia')}: 1" in stats
    assert f"{option('sector', 'mining')}: 2" in stats
    assert f"{option('right', 'water')}: 2" in stats
    assert f"{option('right', 'food')}: 1" in stats


async def test_cases_can_be_filtered_and_paged(members: Members) -> None:
    author = members("ana")
    await file_report(author, ReportAnswers(marker="A", country="Colombia"))
    await file_report(author, ReportAnswers(marker="B", country="Peru", urgent=True))
    coordinator = members("coord")
    peru = await coordinator.send("/cases country=PE")
    assert "B-title" in peru
    assert "A-title" not in peru
    urgent = await coordinator.send("/cases urgent")
    assert "B-title" in urgent
    assert "A-title" not in urgent
    assert first("cases.none_found") in await coordinator.send("/cases sector=tourism")
    assert first("cases.filter_usage") in await coordinator.send("/cases colour=blue")
    assert first("cases.no_such_page") in await coordinator.send("/cases page=2")


# -- export ---------------------------------------------------------------------------------


def ask(config: AppConfig, chat: ConsoleChat, user: str, line: str) -> list[Outgoing]:
    """One command through the real router, returning what it would send (files included)."""
    router = build_router(config, chat.store)
    name, *args = line.removeprefix("/").split()
    origin = Origin(Platform.CONSOLE, "console", user, True)
    with chat.store.transaction():
        return router.handle(Command(origin, name, tuple(args)))


async def test_export_sends_csv_and_json_honouring_each_reports_publication_choice(
    members: Members, one_group: AppConfig
) -> None:
    author = members("ana")
    named = ReportAnswers(marker="Named", publication="named", naming="public")
    anonymous = ReportAnswers(marker="Anon", publication="anonymous", naming="never")
    internal = ReportAnswers(marker="Inside", publication="internal")
    for answers in (named, anonymous, internal):
        await file_report(author, answers)
    coordinator = members("coord")
    [reply] = ask(one_group, coordinator, "coord", "/export all")
    files = {media.filename.rsplit(".", 1)[1]: media for media in reply.media}
    assert set(files) == {"csv", "json"}
    rows = list(csv.DictReader(io.StringIO(files["csv"].data.decode("utf-8-sig"))))
    document = json.loads(files["json"].data)
    assert [row["title"] for row in rows] == [named.title, anonymous.title]
    assert [report["title"] for report in document["reports"]] == [named.title, anonymous.title]
    assert rows[0]["organization"] == named.organization
    assert rows[1]["organization"] == "[withheld]"
    assert internal.title not in files["csv"].data.decode("utf-8")
    assert rows[0]["rights"] == "health; water"


def exported(reply: Outgoing) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """The CSV export's rows and the JSON export's document."""
    files = {media.filename.rsplit(".", 1)[1]: media.data for media in reply.media}
    rows = list(csv.DictReader(io.StringIO(files["csv"].decode("utf-8-sig"))))
    return rows, json.loads(files["json"])


async def move(coordinator: ConsoleChat, number: int, *statuses: str) -> None:
    for status in statuses:
        answer = await coordinator.send(f"/casestatus {number} {status}")
        assert now_is(number, status.split()[0]) in answer, answer


async def test_export_says_withheld_only_where_the_reporter_gave_a_value(
    members: Members, one_group: AppConfig
) -> None:
    author, coordinator = members("ana"), members("coord")
    given = ReportAnswers(marker="Given", publication="anonymous", naming="never")
    none = ReportAnswers(
        marker="None",
        publication="anonymous",
        naming="never",
        organization_given=False,
        evidence_link=None,
    )
    for answers in (given, none):
        await move(coordinator, await file_report(author, answers), "under_review", "verified")
    [reply] = ask(one_group, coordinator, "coord", "/export")
    rows, document = exported(reply)
    assert [(row["organization"], row["links"]) for row in rows] == [
        ("[withheld]", "[withheld]"),
        ("", ""),
    ]
    assert [(r["organization"], r["links"]) for r in document["reports"]] == [
        ("[withheld]", "[withheld]"),
        ("", []),
    ]
    assert document["statuses"] == ["verified", "published"]


async def test_export_sends_verified_and_published_reports_unless_asked_for_a_status(
    members: Members, one_group: AppConfig
) -> None:
    author, coordinator = members("ana"), members("coord")
    submitted = await file_report(author, ReportAnswers(marker="Sub"))
    verified = await file_report(author, ReportAnswers(marker="Ver"))
    published = await file_report(author, ReportAnswers(marker="Pub"))
    rejected = await file_report(author, ReportAnswers(marker="Rej"))
    await move(coordinator, verified, "under_review", "verified")
    await move(coordinator, published, "under_review", "verified", "published")
    await move(coordinator, rejected, "rejected Not a business case")

    def statuses(line: str) -> list[tuple[int, str]]:
        [reply] = ask(one_group, coordinator, "coord", line)
        rows, document = exported(reply)
        assert [report["status"] for report in document["reports"]] == [
            row["status"] for row in rows
        ]
        return [(int(row["number"]), row["status"]) for row in rows]

    assert statuses("/export") == [(verified, "verified"), (published, "published")]
    assert statuses("/export all") == [
        (submitted, "submitted"),
        (verified, "verified"),
        (published, "published"),
        (rejected, "rejected"),
    ]
    assert statuses("/export cawg submitted") == [(submitted, "submitted")]
    assert statuses("/export status=rejected") == [(rejected, "rejected")]
    assert first("cases.export_none") in await coordinator.send("/export needs_info")
    for bad in ("/export status=bogus", "/export colour=blue", "/export all verified"):
        [refused] = ask(one_group, coordinator, "coord", bad)
        assert not refused.media, bad
    await coordinator.send("/language es")
    usage = await coordinator.send("/export status=bogus")
    assert CATALOGS.template("es", "cases.export_usage").split("{")[0].strip() in usage
    assert "needs_info" in usage


@pytest.mark.parametrize("typed", ["=HYPERLINK(1)", "+1", "-2+3", "@SUM(A1)"])
def test_a_csv_cell_that_a_spreadsheet_would_run_as_a_formula_is_quoted(typed: str) -> None:
    assert _cell(typed) == "'" + typed


FORMULA_STARTS = ("=", "+", "-", "@")
SPREADSHEET_SEPARATORS = re.compile(r"[,;\t\r\n]")


def formula_fields(csv_text: str) -> list[str]:
    """The fields that start a formula when a spreadsheet opens the file as LibreOffice's
    import does with a comma, a semicolon or a tab as separator (quoted fields honoured,
    spaces trimmed), and each field's text split again on every separator and line break a
    spreadsheet may cut at."""
    exposed = []
    for separator in (",", ";", "\t"):
        for row in csv.reader(io.StringIO(csv_text, newline=""), delimiter=separator):
            for field in row:
                for piece in SPREADSHEET_SEPARATORS.split(field):
                    if piece.lstrip(" \t\r\n").startswith(FORMULA_STARTS):
                        exposed.append(piece)
    return exposed


@pytest.mark.parametrize(
    "typed",
    ["see; =HYPERLINK(1)", "a,+1", "ok\t-2+3", "line\n@SUM(A1)", "x;\t\r =1", "\t=1"],
)
def test_a_formula_after_any_separator_in_a_csv_cell_is_quoted(typed: str) -> None:
    written = io.StringIO()
    csv.writer(written).writerow(["1", _cell(typed), "x"])
    assert formula_fields(written.getvalue()) == []
    assert _cell(typed).replace("'", "") == typed  # nothing else changes


async def test_no_exported_field_starts_a_formula_whatever_separator_the_spreadsheet_uses(
    members: Members, one_group: AppConfig
) -> None:
    author = members("ana")
    hostile = ReportAnswers(
        marker="x; =HYPERLINK(1),-cmd|' /C calc'!A0,@SUM(A1);+1",
        narrative_parts=("Facts:\n=1+1\n- the spill", "\t@SUM(A1); +2"),
        evidence_link=None,
    )
    await file_report(author, hostile)
    [reply] = ask(one_group, members("coord"), "coord", "/export all")
    files = {media.filename.rsplit(".", 1)[1]: media.data for media in reply.media}
    exported = files["csv"].decode("utf-8-sig")
    assert hostile.title.split(";")[0] in exported
    assert formula_fields(exported) == []
    [report] = json.loads(files["json"])["reports"]
    assert report["title"] == hostile.title  # the JSON export keeps the text as typed


# -- who may do what ------------------------------------------------------------------------

ACTORS = ("author", "member", "coord", "gadmin", "ocoord", "oadmin", "root")
"""The report's author, another member, the report group's coordinator and admin, the other
group's coordinator and admin, and a network-wide admin."""
READERS = {"author", "coord", "gadmin"}
REVIEWERS = {"coord", "gadmin"}


def refused(answer: str) -> bool:
    return any(
        first(key) in answer
        for key in (
            "router.not_allowed",
            "cases.not_found",
            "cases.no_groups_coordinated",
            "cases.not_coordinator_of",
        )
    )


async def test_every_case_command_gives_each_person_exactly_what_the_rules_allow(
    two_groups: AppConfig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    chats = {name: ConsoleChat(two_groups, user_id=name) for name in ACTORS}
    try:
        secret = ReportAnswers(marker="Auth", group="Corporate Accountability")
        await fill_report(chats["author"], "en", secret)
        number = case_number(await chats["author"].pick(text("conversation.submit")))
        other = ReportAnswers(marker="Other", group="Land Rights")
        await fill_report(chats["member"], "en", other)
        other_number = case_number(await chats["member"].pick(text("conversation.submit")))

        for name, chat in chats.items():
            shown = await chat.send(f"/case {number}")
            assert (secret.title in shown) is (name in READERS), (name, shown)
            assert (not refused(shown)) is (name in READERS), name
            listed = await chat.send("/cases")
            assert (secret.title in listed) is (name in REVIEWERS), (name, listed)
            assert (other.title in listed) is (name in {"ocoord", "oadmin"}), (name, listed)
            files = await chat.send(f"/casefiles {number}")
            assert refused(files) is (name not in READERS), (name, files)
            stats = await chat.send("/casestats cawg")
            assert refused(stats) is (name not in REVIEWERS), (name, stats)
            [export] = ask(two_groups, chat, name, "/export cawg all")
            assert (not export.media) is (name not in REVIEWERS), name
            assert secret.title.encode() not in b"".join(m.data for m in export.media) or (
                name in REVIEWERS
            )
            answer = await chat.send(f"/answer {number} hello")
            assert refused(answer) is (name != "author"), (name, answer)
            withdraw = await chat.send(f"/withdraw {number}")
            assert refused(withdraw) is (name != "author"), (name, withdraw)
            other_shown = await chat.send(f"/case {other_number}")
            expected_other = name in {"member", "ocoord", "oadmin"}
            assert (other.title in other_shown) is expected_other, (name, other_shown)

        for name in ACTORS:
            if name in REVIEWERS:
                continue
            status = await chats[name].send(f"/casestatus {number} under_review")
            assert refused(status), (name, status)
        assert chats["author"].store.cases.summary(number).status.value == "submitted"  # type: ignore[union-attr]
        moved = await chats["gadmin"].send(f"/casestatus {number} under_review")
        assert now_is(number, "under_review") in moved
        assert "case_access_refused" in caplog.text
        for secret_text in secret.secrets():
            assert secret_text not in caplog.text
    finally:
        for chat in chats.values():
            await chat.close()
