"""The bot on Telegram in a test: the real python-telegram-bot, over HTTP, against the
Bot API emulator, with the real store and outbox."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable
from pathlib import Path

from telegram_emulator import BotApiEmulator, SentMessage

from bot.app import TelegramService
from bot.config import AppConfig, load_config
from bot.ratelimit import SendLimiter, Window, telegram_limiter
from bot.types import Platform
from storage import Store

USER_IDS = {"local": 1001, "coord": 1002, "root": 1003, "ana": 1004, "boss": 1005}
"""Test members by name, with their Telegram user ids (the configuration uses them too)."""


def fast_limiter() -> SendLimiter:
    """Feature tests check behaviour, not pacing; the pacing test uses the real limits."""
    return SendLimiter((Window(1000, 0.001),), {})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def telegram_section(emulator: BotApiEmulator, mode: str, port: int | None = None) -> str:
    lines = [
        "[telegram]",
        f'mode = "{mode}"',
        f'api_base_url = "{emulator.base_url.removesuffix("/bot")}"',
    ]
    if mode == "webhook":
        assert port is not None
        lines += [
            'webhook_url = "https://bot.example.org/telegram"',
            'webhook_listen = "127.0.0.1"',
            f"webhook_port = {port}",
        ]
    return "\n".join(lines) + "\n"


def make_token() -> str:
    return f"{secrets.randbelow(10**9)}:{secrets.token_urlsafe(24)}"


def telegram_config(
    tmp_path: Path,
    database_url: str,
    emulator: BotApiEmulator,
    *,
    mode: str = "polling",
    extra: str = "",
) -> AppConfig:
    """A configuration for the bot on the emulator; in webhook mode the emulator stands in
    for the reverse proxy too, posting to the bot's local port."""
    port = free_port() if mode == "webhook" else None
    if port is not None:
        emulator.webhook_target = f"http://127.0.0.1:{port}/telegram"
    path = tmp_path / "config.toml"
    path.write_text(extra + "\n" + telegram_section(emulator, mode, port), encoding="utf-8")
    return load_config(
        path,
        env={
            "CAUCUS_DATABASE_URL": database_url,
            "CAUCUS_TELEGRAM_TOKEN": emulator.token,
            "CAUCUS_TELEGRAM_WEBHOOK_SECRET": secrets.token_urlsafe(16),
        },
    )


class TelegramBot:
    """A running bot, stoppable and startable again on the same database."""

    def __init__(
        self,
        config: AppConfig,
        *,
        limiter: Callable[[], SendLimiter] = fast_limiter,
        warnings: list[str] | None = None,
    ) -> None:
        self.config = config
        self._limiter = limiter
        self.warnings = warnings if warnings is not None else []
        self.service: TelegramService | None = None

    async def start(self) -> TelegramService:
        service = TelegramService(self.config, limiter=self._limiter(), warn=self.warnings.append)
        await service.start()
        self.service = service
        return service

    async def stop(self) -> None:
        if self.service is not None:
            await self.service.stop()
            self.service = None

    @property
    def store(self) -> Store:
        assert self.service is not None
        return self.service.store


def render(messages: list[SentMessage]) -> str:
    """What a member sees, written like the console: text, then numbered buttons."""
    lines: list[str] = []
    for message in messages:
        lines.append(message.plain_text if message.text is not None else message.caption or "")
        markup = message.reply_markup or {}
        buttons = [button for row in markup.get("inline_keyboard", []) for button in row]
        lines.extend(f"  {n}. {button['text']}" for n, button in enumerate(buttons, start=1))
        lines.append("")
    return "\n".join(lines)


class TelegramChat:
    """One member in a private chat with the bot, typing and pressing buttons."""

    def __init__(
        self, emulator: BotApiEmulator, bot: TelegramBot, name: str, language_code: str = "en"
    ) -> None:
        self.emulator = emulator
        self.bot = bot
        self.user_id = USER_IDS[name]
        self.user_label = str(self.user_id)
        emulator.add_user(self.user_id, name.title(), language_code=language_code)
        self._shown: list[SentMessage] = []
        self.last = ""

    async def send(self, text: str) -> str:
        before = len(self.emulator.sent(self.user_id))
        update = self.emulator.send_text(self.user_id, text)
        return await self._answer_to(update["update_id"], before)

    async def pick(self, label: str) -> str:
        for message in reversed(self._shown):
            markup = message.reply_markup or {}
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    if label in button["text"]:
                        before = len(self.emulator.sent(self.user_id))
                        update = self.emulator.press_button(
                            self.user_id, self.user_id, message.message_id,
                            button["callback_data"],
                        )  # fmt: skip
                        return await self._answer_to(update["update_id"], before)
        raise AssertionError(f"no button labelled {label!r} in:\n{self.last}")

    async def resume(self) -> str:
        return ""

    async def close(self) -> None:
        return None

    async def _answer_to(self, update_id: int, before: int) -> str:
        await settle(self.emulator, self.bot.store, update_id)
        self._shown = self.emulator.sent(self.user_id)[before:]
        self.last = render(self._shown)
        return self.last


def handled_through(store: Store, update_id: int) -> bool:
    last = store.last_inbound_sequence(Platform.TELEGRAM)
    return (
        last is not None
        and last >= update_id
        and not store.pending_inbound(Platform.TELEGRAM)
        and not store.pending_outgoing(Platform.TELEGRAM)
    )


async def settle(emulator: BotApiEmulator, store: Store, update_id: int) -> None:
    """Wait until the bot has handled ``update_id`` and delivered everything it owes."""
    await emulator.wait_for(lambda: handled_through(store, update_id), timeout=20.0)
    await emulator.wait_for(lambda: not emulator.unanswered_callbacks(), timeout=10.0)


__all__ = ["TelegramBot", "TelegramChat", "telegram_config", "telegram_limiter"]
