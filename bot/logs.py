"""Logging setup: one line per event, ``event key=value``, never message text or names."""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# Libraries that would otherwise log request URLs (Telegram's carry the bot token).
_QUIET = ("httpx", "httpcore", "telegram", "nio", "aiohttp", "apscheduler", "alembic")


def configure_logging(level: str, *, log_file: Path | None = None) -> None:
    """Log to ``log_file`` when given (the console's terminal is the chat), else stderr."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    handler: logging.Handler
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


def raised_at(error: BaseException) -> str:
    """``file:line`` where an exception was raised, for logs that must not carry its message
    (which may quote what a member typed)."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "unknown"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno}"
