"""Test drivers: act as a member on a transport and read what the bot answered.

Feature tests are written against :class:`Chat` so that the same test runs over every
transport; each transport adds its driver here.
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Protocol

from bot.app import EXPORTS_DIR, build_router, network_planners, open_store
from bot.config import AppConfig
from bot.conversation import strip_direction_marks
from bot.inbox import Dispatcher
from bot.transports.console import ConsoleTransport
from storage import Store

_CHOICE_LINE = re.compile(r"^  (\d+)\. (.*)$", re.MULTILINE)


class Chat(Protocol):
    """One member in a private chat with the bot."""

    user_label: str
    """How the bot names this member's account (the console name, a Telegram user id)."""

    async def send(self, text: str) -> str:
        """Type ``text``; return everything the bot answered to it."""
        ...

    async def pick(self, label: str) -> str:
        """Pick the offered choice whose label contains ``label``; return the answer."""
        ...

    async def resume(self) -> str:
        """Start the transport again; return what it shows before the member types."""
        ...

    async def close(self) -> None: ...


class ConsoleChat:
    """Drives the real console transport in-process, through its line reader."""

    def __init__(
        self, config: AppConfig, user_id: str = "local", store: Store | None = None
    ) -> None:
        """``store``: one opened by the test (with its own clock), left open at close."""
        self._own_store = store is None
        self.store = open_store(config) if store is None else store
        self._dispatcher = Dispatcher(
            build_router(config, self.store), self.store, network_planners(config, self.store)
        )
        self._output = io.StringIO()
        self._transport = ConsoleTransport(
            self._dispatcher.handle,
            self._dispatcher.pending_prompt,
            stdin=io.StringIO(),
            stdout=self._output,
            interactive=False,
            user_id=user_id,
            files_dir=config.data_dir / EXPORTS_DIR,
        )
        self.last = ""
        self.offered = ""
        """The latest answer that offered choices: after a pick in a multiple choice only
        the choices so far are shown, and a member picks more from the list above."""
        self.user_label = user_id

    async def send(self, text: str) -> str:
        start = len(self._output.getvalue())
        await self._transport.receive_line(text)
        self.last = self._output.getvalue()[start:]
        self._note_choices()
        return self.last

    async def pick(self, label: str) -> str:
        """Pick the choice labelled ``label``, or failing that the first that contains it,
        from the latest list shown (by its number, as a member on the console does)."""
        offered = [
            (match.group(1), strip_direction_marks(match.group(2)).strip())
            for match in map(_CHOICE_LINE.match, self.offered.splitlines())
            if match
        ]
        for exact in (True, False):
            for number, text in offered:
                if (text == label) if exact else (label in text):
                    return await self.send(number)
        raise AssertionError(f"no choice labelled {label!r} in:\n{self.last}")

    async def resume(self) -> str:
        start = len(self._output.getvalue())
        await self._transport.resume()
        self.last = self._output.getvalue()[start:]
        self._note_choices()
        return self.last

    def _note_choices(self) -> None:
        if _CHOICE_LINE.search(self.last):
            self.offered = self.last

    async def close(self) -> None:
        self._dispatcher.close()
        if self._own_store:
            self.store.close()


@asynccontextmanager
async def console_chats(
    config: AppConfig, store: Store | None = None
) -> AsyncIterator[Callable[[str], ConsoleChat]]:
    """Members' console chats with one bot, each opened at its first use and all closed at
    the end: on ``store`` when given (the test's own, left open), else each on its own."""
    opened: dict[str, ConsoleChat] = {}

    def chat(user_id: str) -> ConsoleChat:
        if user_id not in opened:
            opened[user_id] = ConsoleChat(config, user_id=user_id, store=store)
        return opened[user_id]

    try:
        yield chat
    finally:
        for opened_chat in reversed(list(opened.values())):
            await opened_chat.close()
