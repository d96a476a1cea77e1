"""A growing pause for a loop whose work keeps failing: a database write, a sync, a poll.

A loop that retried at once would spin, and fill the log, for as long as the database is
away. :class:`Backoff` pauses 1, 2, 4 ... up to 60 seconds between tries, says so in one
line per pause (never the data it was writing), and starts again from the shortest pause
after a success. Where it is given a platform, it also keeps the platform's line of
:data:`bot.health.HEALTH` up to date, which admins read with ``/health``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from bot.health import HEALTH
from bot.types import Platform

log = logging.getLogger(__name__)

FIRST_PAUSE = 1.0
LONGEST_PAUSE = 60.0


class Backoff:
    """The pauses of one loop. ``what`` names the loop in its line ("telegram: polling");
    ``notice`` takes the line (the operator's notices), else it is logged as a warning;
    ``stopping`` ends a pause early."""

    def __init__(
        self,
        what: str,
        *,
        notice: Callable[[str], None] | None = None,
        stopping: asyncio.Event | None = None,
        platform: Platform | None = None,
        first: float = FIRST_PAUSE,
        longest: float = LONGEST_PAUSE,
    ) -> None:
        if not 0 < first <= longest:
            raise ValueError(f"pauses must grow from above 0 to at most {longest}, not {first}")
        self.what = what
        self._notice = notice
        self._stopping = stopping
        self._platform = platform
        self._first = first
        self._longest = longest
        self._next = first
        self.failures = 0
        """Failures since the last success."""

    def next_pause(self) -> float:
        """The pause the next failure will bring."""
        return self._next

    def failed(self, error: BaseException | str) -> float:
        """Count one more failure and say so in one line; the pause before the next try."""
        pause = self._next
        self.failures += 1
        self._next = min(self._next * 2, self._longest)
        reason = error if isinstance(error, str) else type(error).__name__
        line = f"{self.what} failed ({reason}); retrying in {pause:.3g} s"
        if self._notice is not None:
            self._notice(line)
        else:
            log.warning("backoff %s", line)
        if self._platform is not None:
            HEALTH.failing(self._platform, reason, self.failures)
        return pause

    async def pause(self, error: BaseException | str) -> float:
        """:meth:`failed`, then wait out the pause (less if the loop is stopping)."""
        seconds = self.failed(error)
        if self._stopping is None:
            await asyncio.sleep(seconds)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        return seconds

    def succeeded(self) -> None:
        """The work went through: the next failure pauses shortly again."""
        if self.failures:
            log.info("backoff_recovered what=%r failures=%d", self.what, self.failures)
        self.failures = 0
        self._next = self._first
        if self._platform is not None:
            HEALTH.receiving(self._platform)
