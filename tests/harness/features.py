"""The routes the feature tests take, and members' chats with the bot over each.

A feature test (``tests/test_features.py``, ``tests/test_cases.py``) is written once
against :class:`~tests.harness.chat.Chat` and runs over every :data:`ROUTES` entry it
takes: every behaviour on the console over both databases, and over Telegram polling and
plain Matrix on SQLite; the smoke set (tests marked ``smoke``) also over Telegram webhooks
and encrypted Matrix rooms on PostgreSQL. What is particular to a platform is tested once
in that platform's own tests, over both databases.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from bot.config import load_config
from bot.i18n import Catalogs
from bot.types import Message, Platform
from tests.harness.chat import Chat, ConsoleChat
from tests.harness.databases import Backend
from tests.harness.matrix_harness import MatrixBot, MatrixChat, matrix_config
from tests.harness.synapse_server import SynapseServer
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import TelegramBot, TelegramChat, make_token, telegram_config

GROUPS = """
data_dir = "data"
admins = ["console:root", "telegram:1003"]

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en", "es", "fr", "ar", "pt"]
coordinators = ["console:coord", "telegram:1002"]

[limits]
# A scripted member answers a whole report in seconds: far more than a person's rate.
private_messages_per_minute = 10000
"""

CATALOGS = Catalogs.load()


def said(key: str, language: str = "en", **params: object) -> str:
    """The text the bot says for ``key`` (one line of it, without direction marks)."""
    renderer = CATALOGS.renderer(language, Platform.CONSOLE)
    return renderer.label(Message.of(key, **params))  # type: ignore[arg-type]


def first_line(key: str, language: str = "en") -> str:
    """A catalog text cut before its first placeholder: enough to recognize it."""
    template = CATALOGS.template(language, key)
    return template.split("{")[0].strip()


ChatFactory = Callable[[str], Chat]
"""Opens the chat of one member (``"local"``, ``"coord"``, ``"root"``, ``"ana"``, ``"boss"``)."""


class Transport(StrEnum):
    CONSOLE = "console"
    TELEGRAM_POLLING = "telegram-polling"
    TELEGRAM_WEBHOOK = "telegram-webhook"
    MATRIX = "matrix"
    MATRIX_ENCRYPTED = "matrix-encrypted"

    @property
    def needs_servers(self) -> bool:
        """Whether the emulator or Synapse stands behind it (the console needs neither)."""
        return self is not Transport.CONSOLE


@dataclass(frozen=True)
class Route:
    """One transport over one database."""

    transport: Transport
    backend: Backend
    smoke_only: bool = False
    """Taken by the smoke set alone (tests marked ``smoke``)."""

    @property
    def id(self) -> str:
        return f"{self.transport}-{self.backend}"


ROUTES = (
    Route(Transport.CONSOLE, Backend.SQLITE),
    Route(Transport.CONSOLE, Backend.POSTGRESQL),
    Route(Transport.TELEGRAM_POLLING, Backend.SQLITE),
    Route(Transport.MATRIX, Backend.SQLITE),
    Route(Transport.TELEGRAM_WEBHOOK, Backend.POSTGRESQL, smoke_only=True),
    Route(Transport.MATRIX_ENCRYPTED, Backend.POSTGRESQL, smoke_only=True),
)


def routes_for(*, smoke: bool) -> Iterator[Route]:
    """The routes a feature test takes: all of them when it belongs to the smoke set."""
    return (route for route in ROUTES if smoke or not route.smoke_only)


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@asynccontextmanager
async def member_chats(
    transport: Transport,
    tmp_path: Path,
    database_url: str,
    synapse: Callable[[], SynapseServer],
) -> AsyncIterator[ChatFactory]:
    """Members' chats with the bot over ``transport``, the bot running for as long as this
    lasts; ``synapse`` gives the homeserver, asked for only by the Matrix transports."""
    if transport is Transport.CONSOLE:
        async with _console_chats(tmp_path, database_url) as chats:
            yield chats
    elif transport in (Transport.MATRIX, Transport.MATRIX_ENCRYPTED):
        encrypted = transport is Transport.MATRIX_ENCRYPTED
        async with _matrix_chats(tmp_path, database_url, synapse(), encrypted=encrypted) as chats:
            yield chats
    else:
        mode = transport.removeprefix("telegram-")
        async with _telegram_chats(tmp_path, database_url, mode) as chats:
            yield chats


@asynccontextmanager
async def _console_chats(tmp_path: Path, database_url: str) -> AsyncIterator[ChatFactory]:
    config = load_config(write_config(tmp_path, GROUPS), env={"CAUCUS_DATABASE_URL": database_url})
    opened: list[Chat] = []

    def console(user_id: str = "local") -> Chat:
        chat = ConsoleChat(config, user_id=user_id)
        opened.append(chat)
        return chat

    try:
        yield console
    finally:
        for chat in opened:
            await chat.close()


@asynccontextmanager
async def _matrix_chats(
    tmp_path: Path, database_url: str, server: SynapseServer, *, encrypted: bool
) -> AsyncIterator[ChatFactory]:
    suffix = secrets.token_hex(3)
    names = {name: f"{name}-{suffix}" for name in ("local", "coord", "root", "ana", "boss")}
    groups = GROUPS.replace(
        '"console:root", ', f'"console:root", "matrix:@{names["root"]}:{server.server_name}", '
    ).replace(
        '"console:coord", ',
        f'"console:coord", "matrix:@{names["coord"]}:{server.server_name}", ',
    )
    config = await matrix_config(tmp_path, database_url, server, extra=groups)
    matrix_bot = MatrixBot(config)
    await matrix_bot.start()
    opened: list[Chat] = []

    def matrix(user_id: str = "local") -> Chat:
        chat = LazyMatrixChat(server, matrix_bot, names[user_id], encrypted=encrypted)
        opened.append(chat)
        return chat

    try:
        yield matrix
    finally:
        for chat in opened:
            await chat.close()
        await matrix_bot.stop()


@asynccontextmanager
async def _telegram_chats(
    tmp_path: Path, database_url: str, mode: str
) -> AsyncIterator[ChatFactory]:
    async with BotApiEmulator(make_token()) as emulator:
        config = telegram_config(tmp_path, database_url, emulator, mode=mode, extra=GROUPS)
        bot = TelegramBot(config)
        await bot.start()

        def telegram(user_id: str = "local") -> Chat:
            return TelegramChat(emulator, bot, user_id)

        try:
            yield telegram
        finally:
            await bot.stop()


def _slash(text: str) -> str:
    return re.sub(r"(?<![\w!])!([a-z_]+)", r"/\1", text)


class LazyMatrixChat:
    """A Matrix member whose direct room with the bot is opened at the first message."""

    def __init__(
        self, server: SynapseServer, bot: MatrixBot, localpart: str, *, encrypted: bool
    ) -> None:
        self._server = server
        self._bot = bot
        self._localpart = localpart
        self._encrypted = encrypted
        self._chat: MatrixChat | None = None
        self.user_label = f"@{localpart}:{server.server_name}"

    @classmethod
    def in_room(cls, server: SynapseServer, bot: MatrixBot, chat: MatrixChat) -> LazyMatrixChat:
        """The member of ``chat`` in its room (one opened already, or made by the bot)."""
        localpart = chat.member.user_id.removeprefix("@").partition(":")[0]
        lazy = cls(server, bot, localpart, encrypted=chat.member.encrypted)
        lazy._chat = chat
        return lazy

    async def _open(self) -> MatrixChat:
        if self._chat is None:
            self._chat = await MatrixChat.open(
                self._server,
                self._bot,
                self._localpart.title(),
                encrypted=self._encrypted,
                localpart=self._localpart,
            )
        return self._chat

    # The shared tests are written with "/" commands; Matrix members type "!". The driver
    # translates both ways, and test_matrix.py checks the "!" spelling itself.
    async def send(self, text: str) -> str:
        typed = "!" + text[1:] if text.startswith("/") else text
        return _slash(await (await self._open()).send(typed))

    async def pick(self, label: str) -> str:
        return _slash(await (await self._open()).pick(label))

    async def resume(self) -> str:
        return ""

    async def close(self) -> None:
        if self._chat is not None:
            await self._chat.close()
