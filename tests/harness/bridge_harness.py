"""A working group bridged across the Telegram Bot API emulator and a real Synapse.

:func:`open_bridge` registers the bot's Matrix account, lets a Matrix member create the
group's room and invite the bot, links that room and an emulator group in a configuration
file, and starts every service together (``bot.app.Services``), as ``caucus run`` does.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.app import Services
from bot.config import AppConfig, load_config
from bot.ratelimit import SendLimiter
from bot.types import Platform
from storage import Store
from tests.harness.matrix_harness import (
    MatrixMember,
    fast_limiter,
    matrix_section,
    unique_localpart,
)
from tests.harness.synapse_server import RegisteredUser, SynapseServer
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import TelegramGroup, TelegramGroupMember, telegram_section

GROUP_CHAT = -1001234


def bridge_config_text(
    emulator: BotApiEmulator,
    server: SynapseServer,
    bot: RegisteredUser,
    telegram_chats: list[int],
    matrix_rooms: list[str],
    *,
    languages: str = '["en"]',
) -> str:
    chats = ", ".join(str(chat) for chat in telegram_chats)
    rooms = ", ".join(f'"{room}"' for room in matrix_rooms)
    return (
        'data_dir = "data"\n'
        'admins = ["telegram:1003"]\n\n'
        "[[working_groups]]\n"
        'slug = "cawg"\n'
        'name = "Corporate Accountability"\n'
        f"languages = {languages}\n"
        f"telegram_chats = [{chats}]\n"
        f"matrix_rooms = [{rooms}]\n\n"
        + telegram_section(emulator, "polling")
        + "\n"
        + matrix_section(server, bot)
    )


def write_bridge_config(
    folder: Path, database_url: str, text: str, emulator: BotApiEmulator, bot: RegisteredUser
) -> tuple[AppConfig, dict[str, str]]:
    """The configuration, and the environment that holds its secrets (for a subprocess)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    env = {
        "CAUCUS_DATABASE_URL": database_url,
        "CAUCUS_TELEGRAM_TOKEN": emulator.token,
        "CAUCUS_MATRIX_ACCESS_TOKEN": bot.access_token,
        "CAUCUS_MATRIX_PICKLE_KEY": secrets.token_urlsafe(32),
    }
    return load_config(path, env=env), env


class BridgeBot:
    """The bot on both platforms at once; stoppable and startable again on the same data."""

    def __init__(
        self,
        config: AppConfig,
        *,
        telegram_limiter: Callable[[], SendLimiter] = fast_limiter,
        matrix_limiter: Callable[[], SendLimiter] = fast_limiter,
    ) -> None:
        self.config = config
        self._limiters = {Platform.TELEGRAM: telegram_limiter, Platform.MATRIX: matrix_limiter}
        self.warnings: list[str] = []
        self.services: Services | None = None

    async def start(self) -> Services:
        limiters = {platform: make() for platform, make in self._limiters.items()}
        services = Services(self.config, warn=self.warnings.append, limiters=limiters)
        await services.start()
        self.services = services
        return services

    async def stop(self) -> None:
        if self.services is not None:
            services, self.services = self.services, None
            await services.stop()

    @property
    def store(self) -> Store:
        assert self.services is not None, "the bot is not running"
        return self.services.store

    def idle(self) -> bool:
        """Nothing left to deliver: every outbox row is delivered or failed."""
        store = self.store
        return all(
            store.outbox.status(platform, since=store.now()).pending == 0
            for platform in (Platform.TELEGRAM, Platform.MATRIX)
        )


@dataclass
class Bridge:
    """One working group: a Telegram group and a Matrix room, linked, with members in both."""

    emulator: BotApiEmulator
    server: SynapseServer
    bot: BridgeBot
    group: TelegramGroup
    room_id: str
    matrix: MatrixMember
    bot_user: RegisteredUser
    config_env: dict[str, str] = field(default_factory=dict)

    def telegram(self, name: str = "ana") -> TelegramGroupMember:
        return self.group.member(name)

    async def close(self) -> None:
        await self.bot.stop()
        await self.matrix.close()


async def register_bot(server: SynapseServer) -> RegisteredUser:
    account = await server.register(unique_localpart("caucusbot"), admin=True, displayname="Caucus")
    await server.lift_rate_limits(account.user_id, account.access_token)
    return account


async def open_bridge(
    tmp_path: Path,
    database_url: str,
    emulator: BotApiEmulator,
    server: SynapseServer,
    *,
    encrypted: bool = False,
    start: bool = True,
    telegram_limiter: Callable[[], SendLimiter] = fast_limiter,
    matrix_limiter: Callable[[], SendLimiter] = fast_limiter,
) -> Bridge:
    bot_user = await register_bot(server)
    member = await MatrixMember.create(server, "Bo", encrypted=encrypted)
    room_id = await member.open_group_room(
        [bot_user.user_id], encrypted=encrypted, name="CAWG", wait_for=[]
    )
    group = TelegramGroup(emulator, GROUP_CHAT, "CAWG")
    text = bridge_config_text(emulator, server, bot_user, [GROUP_CHAT], [room_id])
    config, env = write_bridge_config(tmp_path, database_url, text, emulator, bot_user)
    bot = BridgeBot(config, telegram_limiter=telegram_limiter, matrix_limiter=matrix_limiter)
    bridge = Bridge(emulator, server, bot, group, room_id, member, bot_user, env)
    if start:
        await bot.start()
        await wait_for_join(bridge)
    return bridge


async def wait_for_join(bridge: Bridge, timeout: float = 30.0) -> None:  # noqa: ASYNC109
    """Until the member's client sees the bot in the room (and, encrypted, trusts it)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not bridge.matrix.has_joined(bridge.room_id, bridge.bot_user.user_id):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the bot never joined the bridged room")
        await bridge.matrix.sync(timeout_ms=500)
    bridge.matrix.trust_on_first_use()
