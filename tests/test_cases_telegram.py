"""Case reports on Telegram: private chats only, coordinators alerted, authors told, files
sent back, through the real python-telegram-bot against the Bot API emulator."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.app import Services
from bot.evidence import FetchPolicy
from bot.types import Message, Platform
from storage.sealing import generate_key
from tests.harness.case_intake import (
    CATALOGS,
    ReportAnswers,
    case_number,
    consent,
    fill_report,
    text,
)
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import (
    USER_IDS,
    TelegramBot,
    TelegramChat,
    fast_limiter,
    make_token,
    telegram_config,
)

GROUP_CHAT = -100555

pytestmark = pytest.mark.e2e  # every test drives Telegram through the Bot API emulator
CONFIG = f"""
data_dir = "data"

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en", "es"]
telegram_chats = [{GROUP_CHAT}]
coordinators = ["telegram:{USER_IDS["coord"]}"]

[limits]
# A scripted member answers a whole report in seconds: far more than a person's rate.
private_messages_per_minute = 10000
"""


class Running:
    def __init__(self, emulator: BotApiEmulator, bot: TelegramBot) -> None:
        self.emulator = emulator
        self.bot = bot

    def chat(self, name: str, language: str = "en") -> TelegramChat:
        return TelegramChat(self.emulator, self.bot, name, language_code=language)

    def shown_to(self, name: str) -> str:
        return "\n".join(m.shown or m.caption or "" for m in self.emulator.sent(USER_IDS[name]))


@pytest.fixture
async def telegram(tmp_path: Path, database_url: str) -> AsyncIterator[Running]:
    async with BotApiEmulator(make_token()) as emulator:
        emulator.add_group(GROUP_CHAT, "CAWG")
        config = telegram_config(tmp_path, database_url, emulator, extra=CONFIG)
        bot = TelegramBot(config)
        await bot.start()
        try:
            yield Running(emulator, bot)
        finally:
            await bot.stop()


async def test_report_typed_in_a_group_is_answered_with_a_hint_to_write_privately(
    telegram: Running,
) -> None:
    member = telegram.chat("ana")
    update = telegram.emulator.send_text(USER_IDS["ana"], "/report", chat_id=GROUP_CHAT)
    await telegram.emulator.wait_for(
        lambda: any("private" in (m.shown or "") for m in telegram.emulator.sent(GROUP_CHAT)),
        timeout=20,
    )
    assert update["update_id"]
    store = telegram.bot.store
    ana = store.members.for_identity(Platform.TELEGRAM, str(USER_IDS["ana"]), language="en")
    assert store.conversations.load(ana.id) is None
    assert text("cases.mine_none", report="/report").split("/")[0] in await member.send(
        "/myreports"
    )


async def test_the_consent_on_telegram_says_telegrams_servers_hold_the_chat(
    telegram: Running,
) -> None:
    author = telegram.chat("ana", language="es")
    await author.send("/language es")
    asked = await author.send("/report")
    # A Telegram chat with a bot is not end-to-end encrypted: no question where to go on,
    # and the consent says who holds what, naming the working group.
    assert consent("es", channel="telegram") in asked
    assert text("cases.channel_stay", "es") not in asked


async def test_an_urgent_report_alerts_the_coordinator_privately_without_its_content(
    telegram: Running,
) -> None:
    coordinator = telegram.chat("coord")
    await coordinator.send("/start")
    author = telegram.chat("ana")
    answers = ReportAnswers(marker="Urgent", urgent=True)
    await fill_report(author, "en", answers)
    submitted = await author.pick(text("conversation.submit"))
    assert text("cases.urgent_noted")[:40] in submitted
    number = case_number(submitted)
    await telegram.emulator.wait_for(lambda: "URGENT" in telegram.shown_to("coord"), timeout=20)
    alert = telegram.shown_to("coord")
    assert str(number) in alert
    for secret in answers.secrets():
        assert secret not in alert

    # The author withdraws it: the coordinator alerted to it learns it is gone, by number.
    await author.send(f"/withdraw {number}")
    await author.pick(text("cases.withdraw_yes"))
    gone = text("cases.withdrawn_notice", number=number, group="Corporate Accountability")
    await telegram.emulator.wait_for(lambda: gone in telegram.shown_to("coord"), timeout=20)
    for secret in answers.secrets():
        assert secret not in telegram.shown_to("coord")


async def test_the_author_is_told_of_a_question_in_their_language_and_can_answer_it(
    telegram: Running,
) -> None:
    author = telegram.chat("ana", language="es")
    answers = ReportAnswers(marker="Spanish")
    await fill_report(author, "es", answers)
    number = case_number(await author.pick(text("conversation.submit", "es")))
    coordinator = telegram.chat("coord")
    await coordinator.send(f"/casestatus {number} under_review")
    told = await coordinator.send(f"/casestatus {number} needs_info ¿Cuándo empezó?")
    case = Message.of("cases.case_ref", number=number)
    needs_info = Message.of("cases.now.needs_info", case=case)
    assert CATALOGS.renderer("en", Platform.TELEGRAM).label(needs_info) in told
    await telegram.emulator.wait_for(
        lambda: "¿Cuándo empezó?" in telegram.shown_to("ana"), timeout=20
    )
    question_key = text(
        "cases.author_question", "es", number=number, question="x", command="/answer"
    )
    assert question_key.split(str(number))[0] in telegram.shown_to("ana")
    await author.send(f"/answer {number} En junio de 2021.")
    shown = await coordinator.send(f"/case {number}")
    assert "En junio de 2021." in shown


async def test_an_export_arrives_as_two_files_in_the_coordinators_chat(
    telegram: Running,
) -> None:
    author = telegram.chat("ana")
    answers = ReportAnswers(marker="Export")
    await fill_report(author, "en", answers)
    await author.pick(text("conversation.submit"))
    coordinator = telegram.chat("coord")
    await coordinator.send("/export all")
    files = {
        m.filename: m.file_bytes
        for m in telegram.emulator.sent(USER_IDS["coord"])
        if m.kind == "document"
    }
    names = sorted(name or "" for name in files)
    assert [name.rsplit(".", 1)[1] for name in names] == ["csv", "json"]
    csv_bytes = next(data for name, data in files.items() if (name or "").endswith(".csv"))
    assert csv_bytes is not None
    [row] = list(csv.DictReader(io.StringIO(csv_bytes.decode("utf-8-sig"))))
    assert row["title"] == answers.title
    assert row["country"] == "CO"
    assert telegram.bot.store.outbox.pending(Platform.TELEGRAM) == []


class _ServicesBot:
    """What :class:`TelegramChat` needs of a bot (its store), for the whole Services."""

    def __init__(self, services: Services) -> None:
        self.store = services.store


PHOTO = b"\xff\xd8\xff\xe0" + b"river photo Kp4Evidence " * 200
LETTER = b"%PDF-1.4 threat letter Kp4Evidence " * 100


async def test_evidence_sent_in_the_chat_is_kept_sealed_and_sent_back_to_a_coordinator(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with BotApiEmulator(make_token()) as emulator:
        config = telegram_config(tmp_path, sqlite_url, emulator, extra=CONFIG)
        key = generate_key()
        config = config.model_copy(update={"encryption_keys": (SecretStr(key),)})
        services = Services(
            config,
            limiters={Platform.TELEGRAM: fast_limiter()},
            evidence_policy=FetchPolicy(poll_seconds=0.2),
        )
        await services.start()
        try:
            bot = _ServicesBot(services)
            author = TelegramChat(emulator, bot, "ana")  # type: ignore[arg-type]
            answers = ReportAnswers(
                marker="Kp4",
                evidence_files=(
                    ("river.jpg", PHOTO, "image/jpeg"),
                    ("letter.pdf", LETTER, "application/pdf"),
                ),
            )
            await fill_report(author, "en", answers)
            number = case_number(await author.pick(text("conversation.submit")))
            store = bot.store

            def fetched() -> bool:
                detail = store.cases.detail(number)
                return detail is not None and all(a.status == "stored" for a in detail.attachments)

            await emulator.wait_for(fetched, timeout=30)
            coordinator = TelegramChat(emulator, bot, "coord")  # type: ignore[arg-type]
            shown = await coordinator.send(f"/case {number}")
            assert "river.jpg" in shown
            await coordinator.send(f"/casefiles {number}")
            received = {
                m.filename: m.file_bytes
                for m in emulator.sent(USER_IDS["coord"])
                if m.file_bytes is not None
            }
            assert received.get("letter.pdf") == LETTER
            assert PHOTO in received.values()
            # The text that says what the files are comes first, then the files.
            sent = emulator.sent(USER_IDS["coord"])
            introduced = [
                index
                for index, message in enumerate(sent)
                if f"Case {number}: 2 evidence files follow." in (message.text or "")
            ]
            files_at = [index for index, message in enumerate(sent) if message.file_bytes]
            assert introduced and files_at, [message.kind for message in sent]
            assert introduced[-1] < min(files_at), [message.kind for message in sent]
        finally:
            await services.stop()

    secrets = [s.encode() for s in answers.secrets()] + [b"Kp4Evidence", b"letter.pdf"]
    assert_nowhere_on_disk(tmp_path, secrets)


def assert_nowhere_on_disk(folder: Path, secrets: list[bytes]) -> None:
    """Reads every file below ``folder`` (the database, its journal, the data directory)."""
    files = [path for path in folder.rglob("*") if path.is_file()]
    assert any(path.suffix == ".sqlite3" for path in files)
    assert any(b"Corporate Accountability" in path.read_bytes() for path in files)
    for path in files:
        content = path.read_bytes()
        for secret in secrets:
            assert secret not in content, (secret, path.name)
