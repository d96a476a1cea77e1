"""Nothing is lost on a crash: ``kill -9`` mid-conversation, then a restart, resumes it."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from bot.i18n import Catalogs
from bot.types import Message, Platform

REPO = Path(__file__).resolve().parents[1]
CATALOGS = Catalogs.load()


def text(key: str) -> str:
    return CATALOGS.renderer("en", Platform.CONSOLE).label(Message.of(key))


class BotProcess:
    """``caucus run`` on the console transport, fed and read through pipes."""

    def __init__(self, config: Path, database_url: str) -> None:
        environment = {
            key: value for key, value in os.environ.items() if not key.startswith("CAUCUS_")
        }
        environment.update(CAUCUS_DATABASE_URL=database_url, PYTHONPATH=str(REPO))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        self.output: queue.Queue[str] = queue.Queue()
        self.seen = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.put(line)

    def wait_for(self, expected: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while expected not in self.seen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"never saw {expected!r}; output so far:\n{self.seen}")
            try:
                self.seen += self.output.get(timeout=remaining)
            except queue.Empty:
                continue
        return self.seen

    def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def kill_hard(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def finish(self) -> int:
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout=60)


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
