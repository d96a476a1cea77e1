"""The bot on Telegram in a test: the real python-telegram-bot, over HTTP, against the
Bot API emulator, with the real store and outbox."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from telegram.ext import Application

from bot.app import Services
from bot.config import AppConfig, TelegramConfig, load_config
from bot.conversation import strip_direction_marks
from bot.ratelimit import SendLimiter, Window, telegram_limiter
from bot.transports.telegram.transport import build_application
from bot.types import Platform
from storage import Store
from tests.harness.telegram_emulator import JSON, BotApiEmulator, MediaKind, SentMessage, parse_html

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
        self.service: Services | None = None

    async def start(self) -> Services:
        service = Services(
            self.config,
            limiters={Platform.TELEGRAM: self._limiter()},
            warn=self.warnings.append,
        )
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

    async def send_document(self, data: bytes, filename: str, mime_type: str) -> str:
        """Send a file in the private chat; return everything the bot answered to it."""
        before = len(self.emulator.sent(self.user_id))
        update = self.emulator.send_document(self.user_id, data, filename, mime_type)
        return await self._answer_to(update["update_id"], before)

    async def pick(self, label: str) -> str:
        """Press the button labelled ``label``, or failing that the first that contains it."""
        for message in reversed(self._shown):
            markup = message.reply_markup or {}
            buttons = [button for row in markup.get("inline_keyboard", []) for button in row]
            exact = [b for b in buttons if strip_direction_marks(b["text"]).strip() == label]
            for button in exact or buttons:
                if label in button["text"]:
                    before = len(self.emulator.sent(self.user_id))
                    update = self.emulator.press_button(
                        self.user_id, self.user_id, message.message_id, button["callback_data"]
                    )
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
    last = store.inbox.last_sequence(Platform.TELEGRAM)
    return (
        last is not None
        and last >= update_id
        and not store.inbox.pending(Platform.TELEGRAM)
        and not store.outbox.pending(Platform.TELEGRAM)
    )


async def settle(emulator: BotApiEmulator, store: Store, update_id: int) -> None:
    """Wait until the bot has handled ``update_id`` and delivered everything it owes."""
    await emulator.wait_for(lambda: handled_through(store, update_id), timeout=20.0)
    await emulator.wait_for(lambda: not emulator.unanswered_callbacks(), timeout=10.0)


# ---------------------------------------------------------------------------------- groups


def telegram_application(emulator: BotApiEmulator) -> Application[Any, Any, Any, Any, Any, Any]:
    """The bot's own python-telegram-bot Application (``build_application``) on the emulator,
    not initialized: ``async with application:`` (or ``await application.initialize()``)."""
    base = emulator.base_url.removesuffix("/bot")
    return build_application(TelegramConfig(token=SecretStr(emulator.token), api_base_url=base))


@dataclass(frozen=True)
class Posted:
    """A message a member posted: its id in the group, and the update that carried it to
    the bot (``None`` when the bot would not see it)."""

    message_id: int
    update_id: int | None
    update: JSON


def _posted(update: JSON) -> Posted:
    message = update.get("message") or update.get("edited_message") or {}
    return Posted(int(message.get("message_id", 0)), update.get("update_id"), update)


class TelegramGroup:
    """A Telegram group with the bot in it, as its members see it: who posts, and what the
    bot posted there (relayed text with its formatting, files, replies, edits, deletions)."""

    def __init__(
        self, emulator: BotApiEmulator, chat_id: int, title: str = "Group", *, forum: bool = False
    ) -> None:
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        self.emulator = emulator
        self.chat_id = chat_id
        if emulator.chat(chat_id) is None:  # a group added before is taken as it is
            emulator.add_group(chat_id, title, forum=forum)
        self._seen = 0

    def member(
        self, name: str, user_id: int | None = None, language_code: str = "en"
    ) -> TelegramGroupMember:
        """A member by test name (``USER_IDS``) or with an explicit id, registered on first use."""
        if user_id is None and name not in USER_IDS:
            raise ValueError(f"no test member {name!r} ({sorted(USER_IDS)}): pass user_id")
        return TelegramGroupMember(self, name, user_id or USER_IDS[name], language_code)

    def open_topic(self, creator: TelegramGroupMember, name: str) -> int:
        """A new forum topic (the group must be a forum); returns its message_thread_id."""
        return _posted(self.emulator.open_topic(creator.user_id, self.chat_id, name)).message_id

    # -- what the bot posted ---------------------------------------------------------------

    def bot_posts(self, *, include_deleted: bool = True) -> list[SentMessage]:
        """Everything the bot got accepted here, oldest first (SentMessage: ``kind``,
        ``shown``/``plain_text``, ``entities``, ``reply_to``, ``shown_edits``, ``deleted``,
        ``file_bytes``, ``filename``)."""
        posts = self.emulator.sent(self.chat_id)
        return posts if include_deleted else [post for post in posts if not post.deleted]

    def post(self, message_id: int) -> SentMessage:
        for sent in self.emulator.sent(self.chat_id):
            if sent.message_id == message_id:
                return sent
        raise AssertionError(
            f"the bot posted no message {message_id} in {self.chat_id}:\n{self.transcript()}"
        )

    def last_post(self) -> SentMessage:
        posts = self.bot_posts()
        if not posts:
            raise AssertionError(f"the bot posted nothing in {self.chat_id}")
        return posts[-1]

    def polls(self) -> list[JSON]:
        """The bot's native polls here, oldest first, each as it stands now (``id``,
        ``options`` with their ``voter_count``, ``is_closed``, ``close_date`` ...); who chose
        what: ``emulator.poll_votes(poll_id)``."""
        return [
            self.emulator.poll(str(sent.poll["id"]))
            for sent in self.bot_posts()
            if sent.kind == "poll" and sent.poll is not None
        ]

    def is_deleted(self, message_id: int) -> bool:
        """True once the bot deleted this message (its own or a member's)."""
        return self.emulator.is_deleted(self.chat_id, message_id)

    async def new_posts(self, count: int = 1, timeout: float = 20.0) -> list[SentMessage]:  # noqa: ASYNC109
        """Wait until the bot has posted ``count`` messages more than when last asked; return
        those (and move the mark past them)."""
        await self.emulator.wait_for(
            lambda: len(self.emulator.sent(self.chat_id)) >= self._seen + count, timeout=timeout
        )
        posts = self.emulator.sent(self.chat_id)[self._seen :]
        self._seen += len(posts)
        return posts

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:  # noqa: ASYNC109
        await self.emulator.wait_for(predicate, timeout=timeout)

    def transcript(self) -> str:
        """The bot's posts one a line, for assertion messages and snapshot-like checks:
        ``#5 ↩3 text: Ana: hello`` / ``#6 photo a.jpg (4 B): caption`` / ``(edited)``,
        ``(deleted)`` marks."""
        lines = []
        for sent in self.bot_posts():
            head = f"#{sent.message_id}"
            if sent.reply_to is not None:
                head += f" ↩{sent.reply_to}"
            head += f" {sent.kind}"
            if sent.file_bytes is not None:
                head += f" {sent.filename or '-'} ({len(sent.file_bytes)} B)"
            marks = (" (edited)" if sent.shown_edits else "") + (
                " (deleted)" if sent.deleted else ""
            )
            lines.append(f"{head}: {sent.shown or sent.plain_text}{marks}")
        return "\n".join(lines)


class TelegramGroupMember:
    """One member of a :class:`TelegramGroup`, posting as a Telegram client would."""

    def __init__(self, group: TelegramGroup, name: str, user_id: int, language_code: str) -> None:
        self.group = group
        self.emulator = group.emulator
        self.user_id = user_id
        self.name = name.title()
        if self.emulator.user(user_id) is None:
            self.emulator.add_user(user_id, self.name, language_code=language_code)

    @property
    def _chat(self) -> int:
        return self.group.chat_id

    def say(
        self,
        text: str,
        *,
        entities: list[JSON] | None = None,
        reply_to: int | None = None,
        topic: int | None = None,
    ) -> Posted:
        return _posted(
            self.emulator.send_text(
                self.user_id,
                text,
                chat_id=self._chat,
                entities=entities,
                reply_to_message_id=reply_to,
                message_thread_id=topic,
            )
        )

    def say_html(
        self, html: str, *, reply_to: int | None = None, topic: int | None = None
    ) -> Posted:
        """Formatted text, written as Telegram HTML (``<b>``, ``<a href>``, ``<pre>`` ...) and
        sent the way a client sends it: plain text plus entities."""
        text, entities = parse_html(html)
        return self.say(text, entities=entities, reply_to=reply_to, topic=topic)

    def edit(self, message_id: int, text: str, *, html: bool = False) -> Posted:
        plain, entities = parse_html(text) if html else (text, None)
        return _posted(
            self.emulator.edit_text(self.user_id, self._chat, message_id, plain, entities=entities)
        )

    def edit_caption(self, message_id: int, caption: str, *, html: bool = False) -> Posted:
        plain, entities = parse_html(caption) if html else (caption, None)
        return _posted(
            self.emulator.edit_caption(
                self.user_id, self._chat, message_id, plain, caption_entities=entities
            )
        )

    def send_file(
        self,
        kind: MediaKind,
        data: bytes,
        *,
        filename: str | None = None,
        mime_type: str | None = None,
        caption: str | None = None,
        caption_html: str | None = None,
        reply_to: int | None = None,
        topic: int | None = None,
        declared_size: int | None = None,
    ) -> Posted:
        """A photo, document, voice, audio, video, animation, video_note or sticker."""
        entities = None
        if caption_html is not None:
            caption, entities = parse_html(caption_html)
        return _posted(
            self.emulator.send_media(
                self.user_id,
                kind,
                data,
                chat_id=self._chat,
                caption=caption,
                caption_entities=entities,
                filename=filename,
                mime_type=mime_type,
                reply_to_message_id=reply_to,
                message_thread_id=topic,
                declared_size=declared_size,
            )
        )

    def share_location(self, latitude: float = -12.05, longitude: float = -77.04) -> Posted:
        return _posted(
            self.emulator.send_location(self.user_id, latitude, longitude, chat_id=self._chat)
        )

    def share_contact(self, phone_number: str = "+51 1 555 0100", name: str = "Carla") -> Posted:
        return _posted(
            self.emulator.send_contact(self.user_id, phone_number, name, chat_id=self._chat)
        )

    def post_poll(
        self, question: str = "Lunch?", options: tuple[str, ...] = ("yes", "no")
    ) -> Posted:
        return _posted(
            self.emulator.send_poll_message(
                self.user_id, question, list(options), chat_id=self._chat
            )
        )

    def vote(self, poll_id: str, *options: int) -> JSON:
        """Answer the bot's poll with 0-based options (none: take the vote back); returns
        the "poll_answer" update the bot gets."""
        return self.emulator.answer_poll(self.user_id, poll_id, list(options))

    def throw_dice(self) -> Posted:
        return _posted(self.emulator.send_dice(self.user_id, chat_id=self._chat))


__all__ = [
    "Posted",
    "TelegramBot",
    "TelegramChat",
    "TelegramGroup",
    "TelegramGroupMember",
    "telegram_application",
    "telegram_config",
    "telegram_limiter",
]
