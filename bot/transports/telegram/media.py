"""Telegram's side of relayed messages: files fetched and sent, and errors turned into
the outbox's retry, wait or give-up.

:class:`TelegramMediaSource` hands a member's Telegram file to the other platform's sender;
:func:`send_file` sends a file from either platform into a Telegram chat, as a photo, voice
message, audio, video or document, whichever Telegram will take.
"""

from __future__ import annotations

import logging
import mimetypes
import warnings
from collections.abc import Mapping
from typing import Any

from telegram import Bot, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from bot.media import (
    TELEGRAM_DOWNLOAD_LIMIT,
    TELEGRAM_PHOTO_LIMIT,
    TELEGRAM_UPLOAD_LIMIT,
    MediaError,
    MediaSource,
    MediaTooLarge,
    MediaUnavailable,
)
from bot.outbox import DeliveryError, FloodControl, PermanentFailure, TransientFailure
from bot.transports.telegram.payloads import TelegramRelayFile
from bot.transports.telegram.repair import refusal_reason
from bot.types import MediaKind, Platform

log = logging.getLogger(__name__)

UPLOAD_TIMEOUT = 120.0
"""Seconds an upload (up to 50 MB) may take to write."""
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
"""Images Telegram shows as photos; other images go as documents."""
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def retry_seconds(error: RetryAfter) -> float:
    # python-telegram-bot 22 warns that this int becomes a timedelta; accept either.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


def delivery_error(error: TelegramError) -> DeliveryError:
    """What the outbox should do about a refused send: wait, retry, or give up."""
    if isinstance(error, RetryAfter):
        return FloodControl("429 retry after", retry_seconds(error))
    if isinstance(error, Forbidden):
        return PermanentFailure(f"403 {error.message}", unreachable=True)
    if isinstance(error, ChatMigrated):
        return PermanentFailure("chat migrated to a supergroup")
    if isinstance(error, BadRequest):
        gone = "chat not found" in error.message.lower()
        return PermanentFailure(f"400 {refusal_reason(error.message)}", unreachable=gone)
    if isinstance(error, NetworkError):  # time-outs, 5xx, lost connections
        return TransientFailure(f"{type(error).__name__}: {error.message}")
    if isinstance(error, InvalidToken):
        return TransientFailure("token refused")
    return TransientFailure(f"{type(error).__name__}")


def reply_parameters(message_id: int | None) -> ReplyParameters | None:
    """Telegram's reply to a message of the chat; sent anyway if that message is gone."""
    if message_id is None:
        return None
    return ReplyParameters(message_id, allow_sending_without_reply=True)


def _is_entity_too_large(error: NetworkError) -> bool:
    # Telegram answers an upload over 50 MB with HTTP 413, which PTB raises as NetworkError.
    return not isinstance(error, BadRequest) and "entity too large" in error.message.lower()


class TelegramMediaSource:
    """Fetches members' Telegram files by file_id: getFile, then a download (20 MB at most)."""

    platform = Platform.TELEGRAM

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def fetch(self, ref: str, max_bytes: int) -> bytes:
        limit = min(max_bytes, TELEGRAM_DOWNLOAD_LIMIT)
        try:
            file = await self._bot.get_file(ref)
        except BadRequest as error:
            if "too big" in error.message.lower():
                raise MediaTooLarge(None) from error
            raise MediaUnavailable(f"getFile refused: {error.message}") from error
        except TelegramError as error:
            raise TransientFailure(f"getFile failed: {type(error).__name__}") from error
        if file.file_size is not None and file.file_size > limit:
            raise MediaTooLarge(file.file_size)
        try:
            data = await file.download_as_bytearray()
        except (BadRequest, InvalidToken) as error:  # 4xx: the file is gone
            raise MediaUnavailable(f"download refused: {type(error).__name__}") from error
        except TelegramError as error:
            raise TransientFailure(f"download failed: {type(error).__name__}") from error
        if len(data) > limit:
            raise MediaTooLarge(len(data))
        return bytes(data)


async def send_file(
    bot: Bot,
    chat_id: int,
    file: TelegramRelayFile,
    sources: Mapping[Platform, MediaSource],
) -> Message | None:
    """Send a relayed file; ``None`` when the file cannot be had or is too large for
    Telegram (the caller then sends its fallback text).

    Telegram errors other than an oversized upload are raised for the caller to map."""
    source = file.source
    if source.size is not None and source.size > TELEGRAM_UPLOAD_LIMIT:
        log.info("media_not_relayed reason=too_large size=%d", source.size)
        return None
    fetcher = sources.get(source.platform)
    if fetcher is None:
        log.error("media_source_missing platform=%s", source.platform)
        return None
    try:
        data = await fetcher.fetch(source.ref, TELEGRAM_UPLOAD_LIMIT)
    except MediaError as error:
        log.info("media_not_relayed reason=%s", type(error).__name__)
        return None
    content_type = _content_type(source.content_type, data)
    how = _method_for(file.kind, data, content_type)
    upload = _Upload(
        bot=bot,
        chat_id=chat_id,
        data=data,
        filename=source.filename or _default_filename(content_type),
        caption=file.caption_html or None,
        reply=reply_parameters(file.reply_to),
    )
    try:
        try:
            return await upload.send(how)
        except BadRequest as error:
            if how == "document":
                raise
            # Dimensions, format or size Telegram will not take for this kind: a file it is.
            log.info("media_sent_as_document kind=%s reason=%s", how, error.message)
            return await upload.send("document")
    except NetworkError as error:
        if _is_entity_too_large(error):
            log.info("media_not_relayed reason=upload_too_large size=%d", len(data))
            return None
        raise


def _content_type(declared: str | None, data: bytes) -> str | None:
    if declared:
        return declared.split(";", 1)[0].strip().lower()
    for signature, sniffed in _SIGNATURES:
        if data.startswith(signature):
            return sniffed
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _method_for(kind: MediaKind, data: bytes, content_type: str | None) -> str:
    if kind in (MediaKind.PHOTO, MediaKind.STICKER):
        fits = len(data) <= TELEGRAM_PHOTO_LIMIT and content_type in PHOTO_TYPES
        return "photo" if fits else "document"
    return {MediaKind.VOICE: "voice", MediaKind.AUDIO: "audio", MediaKind.VIDEO: "video"}.get(
        kind, "document"
    )


def _default_filename(content_type: str | None) -> str:
    extension = mimetypes.guess_extension(content_type) if content_type else None
    return "file" + (extension or "")


class _Upload:
    """One file on its way into a chat, sendable as one kind and then, if refused, another."""

    def __init__(
        self,
        *,
        bot: Bot,
        chat_id: int,
        data: bytes,
        filename: str,
        caption: str | None,
        reply: ReplyParameters | None,
    ) -> None:
        self._bot = bot
        self._chat_id = chat_id
        self._data = data
        self._options: dict[str, Any] = {
            "caption": caption,
            "parse_mode": ParseMode.HTML,
            "reply_parameters": reply,
            "filename": filename,
            "write_timeout": UPLOAD_TIMEOUT,
        }

    async def send(self, how: str) -> Message:
        bot, chat, data, options = self._bot, self._chat_id, self._data, self._options
        if how == "photo":
            return await bot.send_photo(chat, data, **options)
        if how == "voice":
            return await bot.send_voice(chat, data, **options)
        if how == "audio":
            return await bot.send_audio(chat, data, **options)
        if how == "video":
            return await bot.send_video(chat, data, **options)
        return await bot.send_document(chat, data, **options)
