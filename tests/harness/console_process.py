"""``caucus run`` on the console transport as a separate process, for the tests that kill it."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[2]


class BotProcess:
    """``caucus run`` on the console transport, fed and read through pipes."""

    def __init__(
        self, config: Path, database_url: str, *, secrets: Mapping[str, str] | None = None
    ) -> None:
        """``secrets``: more ``CAUCUS_`` variables (a token), beside the database URL."""
        environment = {
            key: value for key, value in os.environ.items() if not key.startswith("CAUCUS_")
        }
        environment.update(secrets or {})
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
        self.errors: queue.Queue[str] = queue.Queue()
        self.seen = ""
        self.seen_errors = ""
        threading.Thread(
            target=self._read, args=(self.process.stdout, self.output), daemon=True
        ).start()
        threading.Thread(
            target=self._read, args=(self.process.stderr, self.errors), daemon=True
        ).start()

    @staticmethod
    def _read(stream: IO[str] | None, lines: queue.Queue[str]) -> None:
        assert stream is not None
        for line in stream:
            lines.put(line)

    def wait_for(self, expected: str, timeout: float = 60.0) -> str:
        """Everything printed on stdout so far, once it shows ``expected``."""
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

    def wait_for_error(self, expected: str, timeout: float = 60.0) -> str:
        """Everything printed on stderr so far, once it shows ``expected``."""
        deadline = time.monotonic() + timeout
        while expected not in self.seen_errors:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"never saw {expected!r} on stderr; so far:\n{self.seen_errors}"
                )
            try:
                self.seen_errors += self.errors.get(timeout=remaining)
            except queue.Empty:
                continue
        return self.seen_errors

    async def until_error(self, expected: str) -> str:
        """:meth:`wait_for_error` without blocking the event loop (a server in the test's
        loop keeps answering the process meanwhile); bound it with ``asyncio.timeout``."""
        while expected not in self.seen_errors:
            try:
                self.seen_errors += self.errors.get_nowait()
            except queue.Empty:
                await asyncio.sleep(0.05)
        return self.seen_errors

    def output_within(self, seconds: float) -> str:
        """What stdout shows after ``seconds`` more of waiting."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                self.seen += self.output.get(timeout=remaining)
            except queue.Empty:
                break
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
