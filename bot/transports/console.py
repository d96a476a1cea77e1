"""The console transport: a terminal chat with the bot, as one member.

Choices show as a numbered list and a number picks one. ``/as NAME [ROLE]`` switches the
acting member and role, so a coordinator's or an admin's view can be tried; the console is
the operator's own terminal, so the role it asserts is trusted. When standard input is not
a terminal, lines are read one by one and the program ends at the end of input.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Awaitable, Callable
from typing import TextIO

from bot.choosing import typed_number
from bot.types import (
    ChoicePicked,
    Command,
    Incoming,
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


def format_outgoing(outgoing: Outgoing) -> str:
    lines = [outgoing.text]
    for number, choice in enumerate(outgoing.choices, start=1):
        lines.append(f"  {number}. {choice.label}")
    for media in outgoing.media:
        lines.append(f"  [{media.filename}, {len(media.data)} B]")
    return "\n".join(lines)


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
    ) -> None:
        self._dispatch = dispatch
        self._pending_prompt = pending_prompt
        self._stdin = stdin
        self._stdout = stdout
        self._interactive = interactive
        self._user_id = user_id
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
            # Numbers pick from the latest choices shown; a reply without any clears them.
            offered = [message.choices for message in outgoing if message.choices]
            self._choices = offered[-1] if offered else ()
        for message in outgoing:
            self._stdout.write(format_outgoing(message) + "\n\n")
        self._stdout.flush()
