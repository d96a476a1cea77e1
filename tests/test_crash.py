"""Nothing is lost on a crash: ``kill -9`` mid-conversation, then a restart, resumes it."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from bot.i18n import Catalogs
from bot.types import Message, Platform
from tests.harness.console_process import BotProcess

CATALOGS = Catalogs.load()

pytestmark = pytest.mark.e2e  # the bot runs as a process of its own, killed with SIGKILL


def text(key: str) -> str:
    return CATALOGS.renderer("en", Platform.CONSOLE).label(Message.of(key))


def test_conversation_killed_after_its_second_answer_resumes_at_step_three(
    tmp_path: Path, database_url: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('data_dir = "data"\n', encoding="utf-8")

    first = BotProcess(config, database_url)
    try:
        first.type("/profile")
        first.wait_for(text("profile.ask_name"))
        first.type("Ana María")
        first.wait_for(text("profile.ask_organization"))
        first.type("Red de Acción")
        # The third question is shown only once the second answer is committed.
        first.wait_for(text("profile.ask_time_zone"))
    finally:
        first.kill_hard()
    assert first.process.returncode == -signal.SIGKILL

    second = BotProcess(config, database_url)
    shown = second.wait_for(text("profile.ask_time_zone"))
    assert text("profile.ask_name") not in shown
    second.type("Asia/Manila")
    review = second.wait_for(text("profile.label_time_zone") + ": Asia/Manila")
    assert text("profile.label_name") + ": Ana María" in review
    assert text("profile.label_organization") + ": Red de Acción" in review
    assert second.finish() == 0
