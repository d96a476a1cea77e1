"""A platform's answers about the bot's rooms, set by a test, for handlers that ask
(``/link``) without a transport; and an event loop on a thread for them to be asked on."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from bot.room_checks import BotAccess


class PlatformAnswers:
    """Answers :meth:`bot_access` from a table; a room not in it is one the bot is not in."""

    def __init__(self, answers: Mapping[str, BotAccess]) -> None:
        self.answers = dict(answers)

    async def bot_access(self, room_id: str) -> BotAccess:
        return self.answers.get(room_id, BotAccess.NOT_MEMBER)


@contextmanager
def loop_on_a_thread() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running on its own thread, as the transports' loop runs beside the
    dispatcher's thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
