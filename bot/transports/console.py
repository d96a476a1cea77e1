"""The console transport: a terminal chat with the bot, as one member.

Choices show as a numbered list and a number picks one. ``/as NAME [ROLE]`` switches the
acting member and role, so a coordinator's or an admin's view can be tried; the console is
the operator's own terminal, so the role it asserts is trusted. When standard input is not
a terminal, lines are read one by one and the program ends at the end of input. A file the
bot sends (an export) is written into a folder of the operator's alone, and its path shown.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO

from bot.choosing import typed_number
from bot.types import (
    ChoicePicked,
    Command,
    Incoming,
    Media,
    Origin,
    Outgoing,
    Platform,
    RenderedChoice,
    Role,
    TextMessage,
)

log = logging.getLogger(__name__)

Dispatch = Callable[[Incoming], Awaitable[list[Outgoing]]]
PendingPrompt = Callable[[Origin], Awaitable[list[Outgoing]]]

CONSOLE_ROOM = "console"
DEFAULT_USER = "local"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_COMMAND = re.compile(r"^/([A-Za-z0-9_]+)(?:@\S+)?(?:\s+(.*))?$", re.DOTALL)
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600


def parse_line(line: str, origin: Origin, choices: tuple[RenderedChoice, ...]) -> Incoming | None:
    """Turn one typed line into a neutral event; a number picks one of the last choices."""
    text = line.strip()
    if not text:
        return None
    command = _COMMAND.match(text)
    if command:
        args = tuple((command.group(2) or "").split())
        return Command(origin, command.group(1).lower(), args)
    number = typed_number(text)
    if number is not None and choices and 1 <= number <= len(choices):
        return ChoicePicked(origin, choices[number - 1].value)
    return TextMessage(origin, text)


def format_outgoing(outgoing: Outgoing, saved: dict[int, Path | str] | None = None) -> str:
    """The message as printed; a file shows as its name, or as what became of it (its path
    where it was saved), by its place among the message's files."""
    lines = [outgoing.text]
    for number, choice in enumerate(outgoing.offered_choices, start=1):
        lines.append(f"  {number}. {choice.label}")
    for index, media in enumerate(outgoing.media):
        where = (saved or {}).get(index)
        lines.append(f"  [{where or media.filename}, {len(media.data)} B]")
    return "\n".join(lines)


def save_file(folder: Path, media: Media) -> Path:
    """Write a file the bot sent into ``folder`` (made, or narrowed, to its user alone: an
    export holds case data) under a name of its own there: the file's name, made safe,
    with ``-2``, ``-3``… before its extension when that name is taken. Nothing is ever
    overwritten, and nothing is written outside ``folder``."""
    folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    folder.chmod(PRIVATE_FOLDER)
    safe = _UNSAFE_IN_NAME.sub("_", Path(media.filename).name).lstrip(".") or "file"
    stem, dot, extension = safe.rpartition(".") if "." in safe else (safe, "", "")
    stem, extension = stem[:100], extension[:16]
    safe = f"{stem}{dot}{extension}"
    for attempt in range(1, 10_000):
        name = safe if attempt == 1 else f"{stem}-{attempt}{dot}{extension}"
        path = folder / name
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        except FileExistsError:
            continue
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(media.data)
        return path
    raise FileExistsError(f"no free name for a file in {folder}")


class ConsoleTransport:
    """Reads the terminal, hands events to the router, prints the replies."""

    def __init__(
        self,
        dispatch: Dispatch,
        pending_prompt: PendingPrompt,
        *,
        stdin: TextIO,
        stdout: TextIO,
        interactive: bool,
        user_id: str = DEFAULT_USER,
        files_dir: Path | None = None,
    ) -> None:
        """``files_dir``: where the files the bot sends are written (none: only named)."""
        self._dispatch = dispatch
        self._pending_prompt = pending_prompt
        self._stdin = stdin
        self._stdout = stdout
        self._interactive = interactive
        self._user_id = user_id
        self._files_dir = files_dir
        self._role: Role | None = None
        self._choices: tuple[RenderedChoice, ...] = ()

    @property
    def origin(self) -> Origin:
        return Origin(
            platform=Platform.CONSOLE,
            room_id=CONSOLE_ROOM,
            user_id=self._user_id,
            is_direct=True,
            trusted_role=self._role,
        )

    async def run(self) -> None:
        """Chat until end of input (or ``/quit``); resumes an open conversation first."""
        await self.resume()
        lines = self._read_lines()
        while True:
            if self._interactive:
                self._stdout.write("> ")
                self._stdout.flush()
            line = await lines.get()
            if not line:
                break
            if line.strip() in ("/quit", "/exit"):
                break
            await self.receive_line(line)
        log.info("console_closed")

    def _read_lines(self) -> asyncio.Queue[str]:
        """Read standard input on a daemon thread, so Ctrl-C ends the program at once
        instead of waiting for a line that may never come. End of input arrives as ""."""
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str] = asyncio.Queue()

        def read() -> None:
            while True:
                line = self._stdin.readline()
                loop.call_soon_threadsafe(lines.put_nowait, line)
                if not line:
                    return

        threading.Thread(target=read, name="console-input", daemon=True).start()
        return lines

    async def resume(self) -> None:
        """Show the open conversation's question again, as after a restart."""
        self._show(await self._pending_prompt(self.origin))

    async def receive_line(self, line: str) -> None:
        """Act on one typed line and print the bot's answer."""
        event = self._switch_member(line) or parse_line(line, self.origin, self._choices)
        if event is not None:
            self._show(await self._dispatch(event))

    def _switch_member(self, line: str) -> Incoming | None:
        """Handle ``/as NAME [ROLE]``; on success, ask the bot who we now are."""
        parts = line.split()
        if not parts or parts[0].lower() != "/as" or not 2 <= len(parts) <= 3:
            return None
        name, role_name = parts[1], (parts[2].lower() if len(parts) == 3 else None)
        roles = {role.value: role for role in Role}
        if not _NAME.match(name) or (role_name is not None and role_name not in roles):
            return None  # the router's "as" handler explains the usage
        self._user_id = name
        self._role = roles[role_name] if role_name else None
        self._choices = ()
        return Command(self.origin, "whoami")

    def _show(self, outgoing: list[Outgoing]) -> None:
        if outgoing:
            # Numbers pick from the latest choices shown; a reply without any clears them,
            # unless it leaves the ones above standing (after a pick in a multiple choice).
            offered = [message.offered_choices for message in outgoing if message.offered_choices]
            if offered:
                self._choices = offered[-1]
            elif not all(message.keeps_choices for message in outgoing):
                self._choices = ()
        for message in outgoing:
            self._stdout.write(format_outgoing(message, self._save_files(message)) + "\n\n")
        self._stdout.flush()

    def _save_files(self, message: Outgoing) -> dict[int, Path | str]:
        """Write the message's files (those it carries, not references to stored ones)."""
        if self._files_dir is None:
            return {}
        saved: dict[int, Path | str] = {}
        for index, media in enumerate(message.media):
            if media.stored is not None:
                continue
            try:
                saved[index] = save_file(self._files_dir, media)
            except OSError as error:
                log.warning("console_file_not_saved error=%s", type(error).__name__)
                why = error.strerror or type(error).__name__
                saved[index] = f"{media.filename} not saved in {self._files_dir}: {why}"
            else:
                log.info("console_file_saved bytes=%d", len(media.data))
        return saved
