"""Matrix members for long walk-throughs: clients that join the rooms the bot invites them
to, and keep syncing while their person does something else.

The bot sends a notice (a new report to a coordinator, a status change to an author) into
a room it makes with the reader, and waits for them to join before it sends; until then the
notice is pending, and :func:`matrix_harness.settle` (which waits for the bot's store to be
idle) waits for it too, whoever typed. A person's client accepts the invitation by itself
(as Element does when set to) and syncs all the time: :class:`AttentiveMember` does the
first at every sync, and :func:`syncing_in_background` the second, for as long as a phase
of a test lasts. One lock per member keeps its syncs and sends one at a time, so a member
may sync in the background and act in the foreground at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from nio import SyncResponse

from bot.types import Platform
from storage import Store
from tests.harness.matrix_harness import (
    POLL_MS,
    REPLY_TIMEOUT,
    MatrixChat,
    MatrixHarnessError,
    MatrixMember,
    render,
)

BUSY_PAUSE = 0.03
"""How long a member whose answer has come waits before looking again whether the bot is
done (its store idle): a look is two small queries, where a sync would wait for news."""


class AttentiveMember(MatrixMember):
    """A member whose client joins the bot's invitations as soon as it sees them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inviter = ""
        """The bot's user id: only its invitations are accepted."""
        self._turn = asyncio.Lock()

    async def sync(self, timeout_ms: int = POLL_MS) -> SyncResponse:
        async with self._turn:
            response = await super().sync(timeout_ms)
            for room_id, room in list(self.client.invited_rooms.items()):
                if self.inviter and room.inviter == self.inviter and room_id not in self._accepted:
                    self._accepted.add(room_id)
                    await self.client.join(room_id)
            return response

    async def send_event(self, room_id: str, event_type: str, content: Mapping[str, Any]) -> str:
        await self._room(room_id)  # may sync: before taking the turn
        async with self._turn:
            return await super().send_event(room_id, event_type, content)

    def bot_bodies(self, *, outside: str | None = None) -> list[str]:
        """The bodies of every message the bot sent this member, in every room (but
        ``outside``), as far as this member has synced."""
        return [
            str(record["body"])
            for room_id in list(self._timelines)
            if room_id != outside
            for record in self.timeline(room_id)
            if record["sender"] == self.inviter and record["body"] is not None
        ]


@asynccontextmanager
async def syncing_in_background(
    members: Sequence[MatrixMember], every: float = 0.3
) -> AsyncIterator[None]:
    """Each member syncs every ``every`` seconds (joining invitations, for an
    :class:`AttentiveMember`) until the block ends; a failed sync fails the block. Each sync
    returns at once, so that a member acting meanwhile hardly waits for its turn."""
    stopping = asyncio.Event()

    async def keep_syncing(member: MatrixMember) -> None:
        while not stopping.is_set():
            await member.sync(0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=every)

    tasks = [asyncio.create_task(keep_syncing(member)) for member in members]
    try:
        yield
    finally:
        stopping.set()
        await asyncio.gather(*tasks)


async def settle_promptly(
    chat: MatrixChat,
    event_id: str,
    *,
    timeout: float = REPLY_TIMEOUT,  # noqa: ASYNC109 - bounds the whole wait
) -> list[dict[str, Any]]:
    """:func:`matrix_harness.settle` by the same rule (an answer seen, then the bot's store
    idle, then one more sync), looking at the store again and again once the answer has
    come instead of waiting on a sync with no news: with several members typing at once,
    the bot is busy with the others' events for a while after it has answered this one."""
    member, store, bot_user_id = chat.member, chat.bot.store, chat.bot.user_id
    deadline = time.monotonic() + timeout
    while True:
        answered = bool(member.events_after(chat.room_id, event_id, bot_user_id))
        if answered and _idle(store):
            await member.sync(0)
            replies = member.events_after(chat.room_id, event_id, bot_user_id) or []
            if not any(reply["undecryptable"] for reply in replies):
                return replies
        if time.monotonic() > deadline:
            raise MatrixHarnessError(
                f"the bot did not settle {event_id} within {timeout:g} s\n"
                + member.describe(chat.room_id)
            )
        if answered:
            await asyncio.sleep(BUSY_PAUSE)
        else:
            await member.sync(POLL_MS)


def _idle(store: Store) -> bool:
    return not store.inbox.pending(Platform.MATRIX) and not store.outbox.pending(Platform.MATRIX)


class PromptChat(MatrixChat):
    """A :class:`MatrixChat` that settles with :func:`settle_promptly`."""

    async def _answer_to(self, event_id: str, *, expect_reply: bool = True) -> str:
        if not expect_reply:
            return await super()._answer_to(event_id, expect_reply=expect_reply)
        self.shown = await settle_promptly(self, event_id, timeout=self.timeout)
        self.last = render(self.shown)
        return self.last


async def send_file(chat: MatrixChat, data: bytes, filename: str, content_type: str) -> str:
    """The member sends a file into its direct room (encrypted in an encrypted room); what
    the bot answered, as :meth:`MatrixChat.send` returns it."""
    event_id = await chat.member.send_media(
        chat.room_id, "file", data, filename=filename, content_type=content_type
    )
    chat.shown = await settle_promptly(chat, event_id)
    chat.last = render(chat.shown)
    return chat.last


async def files_in(chat: MatrixChat) -> dict[str, bytes]:
    """The files among the bot's last answer in the chat, by name, downloaded (decrypted)."""
    files: dict[str, bytes] = {}
    for record in chat.shown:
        if record["msgtype"] in ("m.file", "m.image"):
            name = str(record["content"].get("filename") or record["body"])
            files[name] = await chat.member.download(record["content"])
    if not files:
        raise MatrixHarnessError(f"no file in the answer:\n{chat.last}")
    return files
