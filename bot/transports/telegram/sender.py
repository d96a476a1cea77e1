"""Sending to Telegram: the bot's replies and the bridge's relayed messages.

:class:`TelegramSender` delivers what :mod:`bot.transports.telegram.render` made of outbox
items (HTML, buttons as inline keyboards, relayed files through
:mod:`bot.transports.telegram.media`) and turns Telegram's errors into retry, wait or give-up.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, assert_never

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    TelegramError,
)
from telegram.ext import Application

from bot.media import MediaSource
from bot.outbox import Delivered, PermanentFailure
from bot.transports.telegram.media import delivery_error, reply_parameters, send_file
from bot.transports.telegram.payloads import (
    Button,
    TelegramBotEdit,
    TelegramDeletion,
    TelegramDocument,
    TelegramEdit,
    TelegramPayload,
    TelegramPoll,
    TelegramPollStop,
    TelegramRelayFile,
    TelegramText,
)
from bot.transports.telegram.render import close_date
from bot.transports.telegram.repair import Repair, mended, refusal_reason, repair_for
from bot.types import Platform

log = logging.getLogger(__name__)


SHOWN_INLINE = frozenset({"image/png", "image/jpeg"})
"""The bot's own files Telegram shows as photos."""
PHOTO_LIMIT = 10 * 1024 * 1024
"""The largest photo the Bot API takes by upload; a larger picture goes as a document."""


class TelegramSender:
    """Delivers rendered payloads (:mod:`bot.transports.telegram.payloads`) to Telegram
    chats: the bot's replies, files, polls and their results, and relayed texts, files,
    edits and deletions."""

    platform = Platform.TELEGRAM

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        self._bot: Bot = application.bot
        self.media_sources: dict[Platform, MediaSource] = {}
        """Where relayed files are fetched from, by platform; filled once both transports exist."""

    def room_kind(self, room_id: str) -> str:
        # Telegram gives groups and channels negative ids, users positive ones.
        return "group" if room_id.startswith("-") else "private"

    async def deliver(
        self, room_id: str, payload: TelegramPayload, key: str
    ) -> str | Delivered | None:
        # Telegram has no transaction ids: ``key`` cannot make a retry idempotent here.
        chat_id = int(room_id)
        try:
            match payload:
                case TelegramText():
                    return await self._send_text(chat_id, payload)
                case TelegramDocument():
                    return await self._send_document(chat_id, payload)
                case TelegramRelayFile():
                    sent = await send_file(self._bot, chat_id, payload, self.media_sources)
                    if sent is None:  # too large, or gone: say so in words
                        return await self._send_html(
                            chat_id, payload.fallback_html, payload.reply_to
                        )
                    return str(sent.message_id)
                case TelegramEdit():
                    return await self._edit(chat_id, payload)
                case TelegramDeletion():
                    return await self._delete(chat_id, payload)
                case TelegramPoll():
                    return await self._send_poll(chat_id, payload)
                case TelegramBotEdit():
                    return await self._edit_own(chat_id, payload)
                case TelegramPollStop():
                    return await self._stop_poll(chat_id, payload)
                case _:
                    assert_never(payload)
        except TelegramError as error:
            raise delivery_error(error) from error

    async def _send_text(self, chat_id: int, text: TelegramText) -> str:
        try:
            return await self._send_piece(chat_id, text, text.html, ParseMode.HTML, first=True)
        except BadRequest as error:
            repair = repair_for(error.message)
            if repair is None:
                raise
        return await self._send_mended(chat_id, text, repair)

    async def _send_mended(self, chat_id: int, text: TelegramText, repair: Repair) -> str:
        """Send a refused text once more, as plain text or in parts; the id of its first
        part. A refusal this time is final, its reason naming both."""
        pieces = mended(text.html, repair)
        mode = ParseMode.HTML if repair is Repair.SPLIT else None
        log.warning("telegram_send_mended refusal=%r parts=%d", repair.value, len(pieces))
        if not pieces:
            raise PermanentFailure(f"400 {repair.value}; nothing is left to send as plain text")
        first: str | None = None
        for index, piece in enumerate(pieces):
            try:
                sent = await self._send_piece(
                    chat_id, text, piece, mode, first=index == 0, last=index == len(pieces) - 1
                )
            except BadRequest as error:
                how = "as plain text" if repair is Repair.PLAIN else "in parts"
                raise PermanentFailure(
                    f"400 {repair.value}; sent again {how}, part {index + 1} of {len(pieces)} "
                    f"refused: 400 {refusal_reason(error.message)}"
                ) from error
            first = first or sent
        assert first is not None
        return first

    async def _send_piece(
        self,
        chat_id: int,
        text: TelegramText,
        body: str,
        mode: ParseMode | None,
        *,
        first: bool,
        last: bool = True,
    ) -> str:
        """``body`` as one message, with ``text``'s reply (``first`` part) and buttons
        (``last`` part)."""
        options: dict[str, Any] = {}
        if not text.link_preview:
            options["link_preview_options"] = LinkPreviewOptions(is_disabled=True)
        sent = await self._bot.send_message(
            chat_id,
            body,
            parse_mode=mode,
            reply_parameters=reply_parameters(text.reply_to) if first else None,
            reply_markup=_keyboard(text.buttons) if last else None,
            **options,
        )
        return str(sent.message_id)

    async def _send_html(self, chat_id: int, html: str, reply_to: int | None) -> str:
        return await self._send_text(chat_id, TelegramText(html, reply_to=reply_to))

    async def _send_document(self, chat_id: int, document: TelegramDocument) -> str:
        media = document.media
        if (
            media.stored is None
            and media.content_type in SHOWN_INLINE
            and len(media.data) <= PHOTO_LIMIT
        ):
            # A picture the bot drew (a poll's results) is shown in the chat, not as a file
            # to open. Never a report's evidence: Telegram would recompress it as a photo.
            shown = await self._bot.send_photo(
                chat_id=chat_id,
                photo=InputFile(media.data, filename=media.filename),
                caption=document.caption_html or None,
                parse_mode=ParseMode.HTML,
                reply_markup=_keyboard(document.buttons),
            )
            return str(shown.message_id)
        sent = await self._bot.send_document(
            chat_id=chat_id,
            document=InputFile(media.data, filename=media.filename),
            caption=document.caption_html or None,
            parse_mode=ParseMode.HTML,
            reply_markup=_keyboard(document.buttons),
        )
        return str(sent.message_id)

    async def _edit(self, chat_id: int, edit: TelegramEdit) -> str:
        target = edit.target
        if target is None:
            return await self._send_html(chat_id, edit.fallback_html, None)
        if edit.shared:  # a merged burst: answer it, do not rewrite it
            return await self._send_html(chat_id, edit.fallback_html, target)
        try:
            # A relayed file: its caption is what the member edited.
            await self._rewrite(chat_id, target, edit.html)
        except BadRequest as error:
            reason = error.message.lower()
            if "not modified" in reason:
                return str(target)
            if "message to edit not found" in reason or "can't be edited" in reason:
                return await self._send_html(chat_id, edit.fallback_html, target)
            if repair_for(reason) is not None:
                # Broken or too long: the new words follow as an answer, mended as needed.
                log.warning("telegram_edit_mended refusal=%r", repair_for(reason))
                return await self._send_html(chat_id, edit.fallback_html, target)
            raise
        return str(target)

    async def _delete(self, chat_id: int, deletion: TelegramDeletion) -> str | None:
        target = deletion.target
        if target is None:
            return None
        if deletion.shared:  # a merged burst: deleting it would take others' words too
            return await self._send_html(chat_id, deletion.fallback_html, target)
        try:
            await self._bot.delete_message(chat_id, target)
        except BadRequest as error:
            reason = error.message.lower()
            if "message to delete not found" in reason:
                return None
            if "can't be deleted" in reason:  # older than 48 hours
                return await self._send_html(chat_id, deletion.fallback_html, target)
            raise
        return None

    async def _send_poll(self, chat_id: int, poll: TelegramPoll) -> Delivered | str:
        """The poll, and its id with the message's: the id is all its answers name."""
        try:
            sent = await self._bot.send_poll(
                chat_id,
                poll.question,
                list(poll.options),
                is_anonymous=False,
                type="regular",
                allows_multiple_answers=poll.multiple_answers,
                close_date=close_date(poll.closes_at, datetime.now(UTC)),
                hide_results_until_closes=True if poll.hide_results else None,
            )
        except BadRequest as error:
            if "non-anonymous polls can't be sent" not in error.message.lower():
                raise
            # A channel: an anonymous poll would tell the bot no answer. The question and
            # its options go as text, each option a button.
            log.warning("telegram_poll_as_text reason=channel")
            return await self._send_text(
                chat_id, TelegramText(poll.fallback_html, buttons=poll.buttons, link_preview=False)
            )
        if sent.poll is None:
            raise PermanentFailure("Telegram answered sendPoll with a message without a poll")
        return Delivered(str(sent.message_id), sent.poll.id)

    async def _rewrite(
        self,
        chat_id: int,
        target: int,
        html: str,
        preview: LinkPreviewOptions | None = None,
    ) -> None:
        """Make a sent message say ``html``: its text, or where it has none (a file) its
        caption. Raises Telegram's refusal (``BadRequest``) for the caller to read."""
        try:
            await self._bot.edit_message_text(
                html, chat_id, target, parse_mode=ParseMode.HTML, link_preview_options=preview
            )
        except BadRequest as error:
            if "no text in the message" not in error.message.lower():
                raise
            await self._bot.edit_message_caption(
                chat_id, target, caption=html, parse_mode=ParseMode.HTML
            )

    async def _edit_own(self, chat_id: int, edit: TelegramBotEdit) -> str | None:
        """Edit the bot's message in place. Where it was never sent, the text goes as a new
        message; where it is gone (deleted by an administrator) or Telegram will not edit
        it, nothing is sent: each later edit would post yet another copy, and the capability
        posts its final word as a message of its own anyway."""
        target = edit.target
        text = TelegramText(edit.html, link_preview=False)
        if target is None:
            return await self._send_text(chat_id, text)
        try:
            # A file with its caption (a chart): the caption says it.
            await self._rewrite(chat_id, target, edit.html, LinkPreviewOptions(is_disabled=True))
        except BadRequest as error:
            reason = error.message.lower()
            if "not modified" in reason:  # it says so already
                return str(target)
            if "message to edit not found" in reason or "can't be edited" in reason:
                log.warning("telegram_edit_target_gone message=%d", target)
                return None
            raise
        return str(target)

    async def _stop_poll(self, chat_id: int, stop: TelegramPollStop) -> str | None:
        """Close the poll; one Telegram closed already (its close_date) is closed, and one
        that is gone (deleted) or never went out has nothing left to close."""
        target = stop.target
        if target is None:
            return None
        try:
            await self._bot.stop_poll(chat_id, target)
        except BadRequest as error:
            reason = error.message.lower()
            if "already been closed" in reason:
                return str(target)
            if "poll to stop not found" in reason or "not a poll" in reason:
                # Deleted, or sent as text (a channel): no poll to close.
                log.info("telegram_poll_stop_nothing message=%d", target)
                return None
            raise
        return str(target)


def _keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(button.label, callback_data=button.callback_data)]
            for button in buttons
        ]
    )
