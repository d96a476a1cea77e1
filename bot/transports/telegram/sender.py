"""Sending to Telegram: the bot's replies and the bridge's relayed messages.

:class:`TelegramSender` delivers outbox messages (HTML with every value escaped, choices as
inline keyboards; relayed messages as the bridge formatted them, files through
:mod:`bot.transports.telegram.media`) and turns Telegram's errors into retry, wait or give-up.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from typing import Any

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
)
from telegram import Message as TelegramMessage
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    TelegramError,
)
from telegram.ext import Application

from bot.media import MediaSource
from bot.outbox import PermanentFailure
from bot.transports.telegram.media import (
    delivery_error,
    ref_message_id,
    reply_parameters,
    send_file,
)
from bot.transports.telegram.render import escape_html
from bot.types import Platform

log = logging.getLogger(__name__)


class TelegramSender:
    """Delivers outbox messages to Telegram chats: the bot's replies, and relayed messages
    (``"relay"`` payloads: text, edit, delete, media)."""

    platform = Platform.TELEGRAM

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        self._bot: Bot = application.bot
        self.media_sources: dict[Platform, MediaSource] = {}
        """Where relayed files are fetched from, by platform; filled once both transports exist."""

    def room_kind(self, room_id: str) -> str:
        # Telegram gives groups and channels negative ids, users positive ones.
        return "group" if room_id.startswith("-") else "private"

    async def deliver(self, room_id: str, payload: Mapping[str, Any], key: str) -> str | None:
        # Telegram has no transaction ids: ``key`` cannot make a retry idempotent here.
        chat_id = int(room_id)
        try:
            if "relay" in payload:
                return await self._relay(chat_id, payload)
            sent = await self._reply(chat_id, payload)
        except TelegramError as error:
            raise delivery_error(error) from error
        return str(sent.message_id)

    async def _reply(self, chat_id: int, payload: Mapping[str, Any]) -> TelegramMessage:
        markup = _keyboard(payload.get("choices") or [])
        if "file" in payload:
            file = payload["file"]
            return await self._bot.send_document(
                chat_id=chat_id,
                document=InputFile(base64.b64decode(file["data"]), filename=file["filename"]),
                caption=escape_html(payload.get("caption", "")) or None,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )
        return await self._bot.send_message(
            chat_id=chat_id,
            text=escape_html(payload["text"]),
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )

    async def _relay(self, chat_id: int, payload: Mapping[str, Any]) -> str | None:
        kind = payload["relay"]
        if kind == "text":
            return await self._send_html(chat_id, payload["html"], payload.get("reply_to"))
        if kind == "edit":
            return await self._edit(chat_id, payload)
        if kind == "delete":
            return await self._delete(chat_id, payload)
        if kind == "media":
            sent = await send_file(self._bot, chat_id, payload, self.media_sources)
            if sent is None:  # too large, or gone: say so in words
                reply_to = payload.get("reply_to")
                return await self._send_html(chat_id, payload["fallback_html"], reply_to)
            return str(sent.message_id)
        raise PermanentFailure(f"unknown relay payload {kind!r}")

    async def _send_html(self, chat_id: int, html: str, reply_to: Mapping[str, Any] | None) -> str:
        sent = await self._bot.send_message(
            chat_id, html, parse_mode=ParseMode.HTML, reply_parameters=reply_parameters(reply_to)
        )
        return str(sent.message_id)

    async def _edit(self, chat_id: int, payload: Mapping[str, Any]) -> str:
        target = ref_message_id(payload.get("target"))
        if target is None:
            return await self._send_html(chat_id, payload["fallback_html"], None)
        if payload["target"].get("shared"):  # a merged burst: answer it, do not rewrite it
            return await self._send_html(chat_id, payload["fallback_html"], {"message": target})
        html = payload["html"]
        try:
            try:
                await self._bot.edit_message_text(html, chat_id, target, parse_mode=ParseMode.HTML)
            except BadRequest as error:
                if "no text in the message" not in error.message.lower():
                    raise
                # A relayed file: its caption is what the member edited.
                await self._bot.edit_message_caption(
                    chat_id, target, caption=html, parse_mode=ParseMode.HTML
                )
        except BadRequest as error:
            reason = error.message.lower()
            if "not modified" in reason:
                return str(target)
            if "message to edit not found" in reason or "can't be edited" in reason:
                return await self._send_html(chat_id, payload["fallback_html"], {"message": target})
            raise
        return str(target)

    async def _delete(self, chat_id: int, payload: Mapping[str, Any]) -> str | None:
        target = ref_message_id(payload.get("target"))
        if target is None:
            return None
        if payload["target"].get("shared"):  # a merged burst: deleting it would take others
            return await self._send_html(chat_id, payload["fallback_html"], {"message": target})
        try:
            await self._bot.delete_message(chat_id, target)
        except BadRequest as error:
            reason = error.message.lower()
            if "message to delete not found" in reason:
                return None
            if "can't be deleted" in reason:  # older than 48 hours
                return await self._send_html(chat_id, payload["fallback_html"], {"message": target})
            raise
        return None


def _keyboard(choices: list[list[str]]) -> InlineKeyboardMarkup | None:
    if not choices:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data)] for data, label in choices]
    )
