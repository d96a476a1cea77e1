"""``caucus run`` on the console transport as a separate process, for the tests that kill it."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


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
