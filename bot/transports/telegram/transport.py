"""The Telegram transport, on python-telegram-bot's ``Application``.

Receiving: each update is stored (``store.inbox.record``) before Telegram is told it
arrived: in polling mode the next ``getUpdates`` offset comes from the database, in webhook
mode the HTTP answer is sent after the insert. The inbox (:mod:`bot.inbox`) then hands the
stored updates over one at a time, read by :meth:`TelegramTransport.read_inbound`; an update
counts as handled in the same transaction that stores its replies, so a crash at any point
neither loses nor repeats one.

Sending is :class:`bot.transports.telegram.sender.TelegramSender`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import (
    BotCommand,
    ChatMember,
    ChatMemberRestricted,
    Update,
)
from telegram.constants import ChatType
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application, ApplicationBuilder

from bot.backoff import Backoff
from bot.config import TelegramConfig
from bot.i18n import Catalogs
from bot.inbox import UnreadableEvent
from bot.ratelimit import SendLimiter, telegram_limiter
from bot.registry import Registry
from bot.room_checks import INVITE_LINK_HOURS, BotAccess, Invitation
from bot.transports import PlatformParts, TransportStartError, Wiring
from bot.transports.planning import PLANNING
from bot.transports.telegram import render
from bot.transports.telegram.events import ALLOWED_UPDATES, stored_update, translate_update
from bot.transports.telegram.media import (
    TelegramMediaSource,
    retry_seconds,
)
from bot.transports.telegram.payloads import TelegramPayload
from bot.transports.telegram.render import CALLBACK_TOKEN_MARK, decode_callback
from bot.transports.telegram.sender import TelegramSender
from bot.types import ChoicePicked, Incoming, Platform, Role
from storage import InboundRecord, Store

log = logging.getLogger(__name__)

POLL_TIMEOUT = 25
"""Seconds a getUpdates long poll waits on Telegram's side."""
UPDATES_PER_CALL = 100
"""Updates asked of one getUpdates (Telegram's most); a full answer means more are waiting."""
WEBHOOK_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105  (a header name)

EXPIRED_CHOICE = "~expired"
"""Stands for a button whose stored value is gone; the router answers it as expired."""


class TelegramStartError(TransportStartError):
    """The bot cannot start on Telegram."""


def build_application(config: TelegramConfig) -> Application[Any, Any, Any, Any, Any, Any]:
    builder = ApplicationBuilder().token(config.token.get_secret_value()).updater(None)
    if config.api_base_url:
        base = config.api_base_url.rstrip("/")
        builder = builder.base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
    # Many rooms may be sent to at once; the outbox's limiter, not the pool, bounds the rate.
    return builder.connection_pool_size(64).pool_timeout(30.0).build()


class TelegramTransport:
    """Receives updates (long polling or webhook) into the inbox, and reads them from it."""

    platform = Platform.TELEGRAM

    def __init__(
        self,
        config: TelegramConfig,
        store: Store,
        inbox_wake: Callable[[], None],
        *,
        catalogs: Catalogs,
        registry: Registry,
        default_language: str,
        has_groups: bool,
        warn: Callable[[str], None],
        application: Application[Any, Any, Any, Any, Any, Any] | None = None,
        inbox_backlog: Callable[[Platform, bool], None] = lambda platform, more: None,
    ) -> None:
        self._config = config
        self._store = store
        self._inbox_wake = inbox_wake
        self._inbox_backlog = inbox_backlog
        self._catalogs = catalogs
        self._registry = registry
        self._default_language = default_language
        self._has_groups = has_groups
        self._warn = warn
        self.application = application or build_application(config)
        self.sender = TelegramSender(self.application)
        self.media_source = TelegramMediaSource(self.application.bot)
        self._stopping = asyncio.Event()
        self._caught_up = False
        self._webhook_runner: web.AppRunner | None = None
        self.username = ""

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Reach Telegram (getMe), announce the commands, check privacy mode, set delivery.

        Raises :class:`TelegramStartError` (one line, with the fix) for any failure.
        """
        try:
            await self._start()
        except InvalidToken as error:
            raise TelegramStartError(
                "telegram.token: Telegram refused the token (401 Unauthorized); fix: copy the "
                "token from @BotFather into CAUCUS_TELEGRAM_TOKEN (or telegram.token)",
                configuration=True,
            ) from error
        except (NetworkError, TimedOut) as error:
            if isinstance(error, BadRequest):
                raise TelegramStartError(
                    f"telegram: the Bot API refused a start-up call ({error.message}); fix: "
                    "check the [telegram] settings"
                ) from error
            raise TelegramStartError(
                f"telegram: cannot reach the Bot API ({type(error).__name__}); fix: check "
                "the network connection, or telegram.api_base_url if it is set"
            ) from error
        except TelegramError as error:
            raise TelegramStartError(
                f"telegram: start-up failed ({type(error).__name__}); fix: wait a minute and "
                "start again, or check the [telegram] settings"
            ) from error

    async def bot_access(self, room_id: str) -> BotAccess:
        """Whether the bot is in the group ``room_id`` and may send there (getChat and
        getChatMember); never a person's private chat, nor a channel."""
        if not room_id.lstrip("-").isdigit():
            return BotAccess.NOT_MEMBER
        bot = self.application.bot
        try:
            chat = await bot.get_chat(int(room_id))
            if chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
                return BotAccess.NOT_A_GROUP
            member = await bot.get_chat_member(int(room_id), bot.id)
        except (Forbidden, BadRequest):  # kicked; or no such chat that the bot can see
            return BotAccess.NOT_MEMBER
        except Exception as error:  # the network, or an answer PTB cannot read
            log.warning("telegram_probe_failed error=%s", type(error).__name__)
            return BotAccess.UNCHECKED
        return group_access(chat.type, member)

    async def invite(self, room_id: str, user_id: str) -> Invitation:
        """An invite link to the group ``room_id`` for one person, valid for a day
        (createChatInviteLink); none where the bot may not invite users there."""
        if not room_id.lstrip("-").isdigit():
            return Invitation()
        try:
            link = await self.application.bot.create_chat_invite_link(
                int(room_id),
                expire_date=int(time.time()) + INVITE_LINK_HOURS * 3600,
                member_limit=1,
            )
        except TelegramError as error:  # no such right, kicked, or the network
            log.info("telegram_invite_link_refused error=%s", type(error).__name__)
            return Invitation()
        return Invitation(link=link.invite_link)

    def bot_link(self, payload: str) -> str | None:
        """``https://t.me/<bot>?start=<payload>``: opens a private chat that starts with it."""
        return f"https://t.me/{self.username}?start={payload}" if self.username else None

    async def _start(self) -> None:
        await self.application.initialize()
        me = self.application.bot.bot
        self.username = me.username
        log.info("telegram_connected bot_id=%s mode=%s", me.id, self._config.mode)
        if self._has_groups and not me.can_read_all_group_messages:
            self._warn(
                "telegram: privacy mode is on, so in groups the bot sees only commands and "
                "cannot relay members' messages; fix: in @BotFather send /setprivacy, choose "
                "this bot, pick Disable, then remove the bot from each group and add it again"
            )
        await self._announce_commands()
        if self._config.mode == "webhook":
            await self._start_webhook()
        else:
            await self.application.bot.delete_webhook(drop_pending_updates=False)

    async def run(self) -> None:
        """Receive updates until :meth:`stop` (in webhook mode the HTTP server receives them);
        a long poll under way is abandoned (nothing of it was stored, so nothing is lost)."""
        if self._config.mode == "webhook":
            await self._stopping.wait()
            return
        polling = asyncio.create_task(self._poll(), name="telegram-poll")
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait([polling, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (polling, stopping):
                task.cancel()
            await asyncio.gather(polling, stopping, return_exceptions=True)

    @property
    def caught_up(self) -> bool:
        """Polling: once the updates Telegram held at start are stored. A webhook is sent
        them by Telegram, whenever it does: there is nothing to wait for."""
        return self._caught_up or self._config.mode == "webhook"

    def stop(self) -> None:
        self._stopping.set()

    async def close(self) -> None:
        if self._webhook_runner is not None:
            await self._webhook_runner.cleanup()
            self._webhook_runner = None
        try:
            await self.application.shutdown()
        except (TelegramError, RuntimeError):
            log.warning("telegram_shutdown_incomplete")

    # -- commands menu ----------------------------------------------------------------------

    async def _announce_commands(self) -> None:
        specs = self._registry.commands_for(Role.MEMBER, Platform.TELEGRAM)
        for language in (None, *self._catalogs.languages):
            renderer = self._catalogs.renderer(
                language or self._default_language, Platform.TELEGRAM
            )
            commands = [
                BotCommand(spec.name, renderer.label(self._registry.help_of(spec))[:256])
                for spec in specs
            ]
            await self.application.bot.set_my_commands(commands, language_code=language)

    # -- receiving: polling -----------------------------------------------------------------

    async def _poll(self) -> None:
        # The offset lives in memory and starts unset: Telegram then returns every update
        # it still holds unconfirmed, and those already stored are recognized by their id.
        # (After a week without updates Telegram restarts its ids at random, so an offset
        # kept from before could skip new, lower ids.)
        offset: int | None = None
        more = False  # the last answer was full: ask again at once, without a long poll
        backoff = Backoff(
            "telegram: polling",
            notice=self._warn,
            stopping=self._stopping,
            platform=Platform.TELEGRAM,
        )
        while not self._stopping.is_set():
            try:
                updates = await self.application.bot.get_updates(
                    offset=offset,
                    limit=UPDATES_PER_CALL,
                    # At start, what Telegram holds is asked for at once: no long poll.
                    timeout=0 if more or not self._caught_up else POLL_TIMEOUT,
                    allowed_updates=list(ALLOWED_UPDATES),
                )
                if updates:
                    # One commit for the whole answer, before Telegram hears the next offset.
                    await self._record_all(updates)
                    offset = updates[-1].update_id + 1
                # A full answer: Telegram holds more, which must be stored (and a member's
                # private command among them found) before the inbox handles more.
                more = len(updates) >= UPDATES_PER_CALL
                self._inbox_backlog(Platform.TELEGRAM, more)
                self._caught_up = self._caught_up or not more
            except RetryAfter as error:
                more = False
                self._inbox_backlog(Platform.TELEGRAM, False)
                await self._sleep(retry_seconds(error))
                continue
            except Exception as error:
                more = False
                self._inbox_backlog(Platform.TELEGRAM, False)
                # Network trouble, a webhook left set, a database that refuses the update:
                # say so and retry, after a longer pause each time.
                if isinstance(error, Conflict):
                    with contextlib.suppress(TelegramError):
                        await self.application.bot.delete_webhook(drop_pending_updates=False)
                await backoff.pause(error)
                continue
            backoff.succeeded()

    async def _record(self, update_id: int, payload: Mapping[str, Any]) -> None:
        await asyncio.to_thread(
            functools.partial(
                self._store.inbox.record,
                Platform.TELEGRAM,
                str(update_id),
                update_id,
                payload,
                direct=from_private_chat(payload),
            )
        )
        self._inbox_wake()

    async def _record_all(self, updates: Sequence[Update]) -> None:
        events = [
            (str(update.update_id), update.update_id, payload, from_private_chat(payload))
            for update in updates
            for payload in (update.to_dict(),)
        ]
        await asyncio.to_thread(self._store.inbox.record_many, Platform.TELEGRAM, events)
        self._inbox_wake()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    # -- receiving: webhook -----------------------------------------------------------------

    async def _start_webhook(self) -> None:
        assert self._config.webhook_url is not None
        path = urlsplit(self._config.webhook_url).path or "/"
        app = web.Application()
        app.router.add_post(path, self._on_webhook)
        self._webhook_runner = web.AppRunner(app, access_log=None)
        await self._webhook_runner.setup()
        site = web.TCPSite(
            self._webhook_runner, self._config.webhook_listen, self._config.webhook_port
        )
        try:
            await site.start()
        except OSError as error:
            raise TelegramStartError(
                f"telegram.webhook_port: cannot listen on {self._config.webhook_listen}:"
                f"{self._config.webhook_port} ({error.strerror}); fix: choose a free port"
            ) from error
        secret = self._config.webhook_secret
        await self.application.bot.set_webhook(
            url=self._config.webhook_url,
            secret_token=secret.get_secret_value() if secret else None,
            allowed_updates=list(ALLOWED_UPDATES),
        )
        log.info("telegram_webhook_listening port=%s", self._config.webhook_port)

    async def _on_webhook(self, request: web.Request) -> web.Response:
        secret = self._config.webhook_secret
        if secret is not None:
            given = request.headers.get(WEBHOOK_SECRET_HEADER, "")
            if not hmac.compare_digest(given.encode(), secret.get_secret_value().encode()):
                log.warning("telegram_webhook_refused reason=secret")
                return web.Response(status=403)
        try:
            payload = await request.json()
            update_id = int(payload["update_id"])
            Update.de_json(payload, self.application.bot)  # refuse what cannot be read
        except Exception:
            log.warning("telegram_webhook_refused reason=unreadable")
            return web.Response(status=400)
        # Telegram hears "200" only once the update is in the database.
        await self._record(update_id, payload)
        return web.Response(status=200)

    # -- reading what the inbox stored ----------------------------------------------------

    async def read_inbound(self, record: InboundRecord) -> Incoming | None:
        """A stored update as a neutral event; a pressed button is answered here, so that
        Telegram stops showing its spinner."""
        try:
            update = Update.de_json(stored_update(record.payload), self.application.bot)
        except Exception as error:
            raise UnreadableEvent(type(error).__name__) from error
        try:
            event = translate_update(update, self.username)
            if isinstance(event, ChoicePicked) and event.value.startswith(CALLBACK_TOKEN_MARK):
                value = await asyncio.to_thread(
                    decode_callback, event.value, self._store.transports.callback_value
                )
                event = replace(event, value=value or EXPIRED_CHOICE)
        finally:
            if update.callback_query is not None:
                try:
                    await update.callback_query.answer()
                except TelegramError as error:
                    log.info("callback_answer_failed reason=%s", type(error).__name__)
        return event


def group_access(chat_type: str, member: ChatMember) -> BotAccess:
    """What a chat's type and the bot's ChatMember there say of the bot's place in it."""
    if chat_type not in (ChatType.GROUP, ChatType.SUPERGROUP):
        return BotAccess.NOT_A_GROUP
    if member.status in (ChatMember.OWNER, ChatMember.ADMINISTRATOR, ChatMember.MEMBER):
        return BotAccess.READY
    if isinstance(member, ChatMemberRestricted):
        if not member.is_member:
            return BotAccess.NOT_MEMBER
        return BotAccess.READY if member.can_send_messages else BotAccess.CANNOT_SEND
    return BotAccess.NOT_MEMBER  # left, or banned


def build(wiring: Wiring, limiter: SendLimiter | None = None) -> PlatformParts[TelegramPayload]:
    """The Telegram transport of this process, with what its outbox needs."""
    config = wiring.config
    assert config.telegram is not None
    store = wiring.store
    transport = TelegramTransport(
        config.telegram,
        store,
        wiring.inbox_wake,
        catalogs=wiring.catalogs,
        registry=wiring.registry,
        default_language=config.default_language,
        has_groups=any(group.telegram_chats for group in config.working_groups),
        warn=wiring.warn,
        inbox_backlog=wiring.inbox_backlog,
    )
    return PlatformParts(
        transport=transport,
        planner=lambda item: PLANNING[Platform.TELEGRAM].parts(
            item, store.transports.callback_token
        ),
        render=render.render,
        limiter=limiter or telegram_limiter(),
        merge=render.merge,
        reader=transport,
        probe=transport,
    )


def from_private_chat(update: Mapping[str, Any]) -> bool:
    """Whether an update (as the Bot API sends it) comes from a private chat with the bot:
    the inbox hands those over before group traffic."""
    for field in ("message", "edited_message", "callback_query"):
        part = update.get(field)
        if isinstance(part, Mapping):
            message = part.get("message", part) if field == "callback_query" else part
            chat = message.get("chat") if isinstance(message, Mapping) else None
            return isinstance(chat, Mapping) and chat.get("type") == "private"
    return False
