"""Telegram updates turned into neutral events: translation only, no decisions, no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from telegram import ChatMember, Message, MessageEntity, Update, User
from telegram.constants import ChatType

from bot.cleaning import clean_line
from bot.richtext import from_telegram
from bot.types import (
    ChoicePicked,
    Command,
    Incoming,
    MediaKind,
    MediaReceived,
    MessageEdited,
    Origin,
    Platform,
    PresenceChanged,
    Span,
    TextMessage,
    Unrelayable,
    UnrelayableKind,
    VoteCast,
)

_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]+))?(?:\s+(.*))?$", re.DOTALL)

ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "poll_answer", "my_chat_member")
"""The update kinds the bot asks Telegram for (the full list: Telegram keeps the last one
asked for when none is given). ``poll_answer`` carries each answer to the bot's polls;
``poll`` (a poll's counts) is left out: the bot keeps its own tally."""

_PRESENT = {ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER, ChatMember.RESTRICTED}


def _origin(user: User, chat_id: int, chat_type: str) -> Origin:
    return Origin(
        platform=Platform.TELEGRAM,
        room_id=str(chat_id),
        user_id=str(user.id),
        is_direct=chat_type == ChatType.PRIVATE,
        display_name=clean_line(user.full_name) or None,
        language_hint=user.language_code,
    )


def _message_origin(message: Message) -> Origin | None:
    """Who posted: a person, or a chat (an anonymous admin, a channel posting in the group).

    Telegram shows a bot no other bot's messages: a bot sender is Telegram's own stand-in
    for a chat, named by ``sender_chat``."""
    user = message.from_user
    if user is None:
        return None
    if not user.is_bot:
        return _origin(user, message.chat.id, message.chat.type)
    chat = message.sender_chat
    if chat is None or message.chat.type == ChatType.PRIVATE:
        return None
    return Origin(
        platform=Platform.TELEGRAM,
        room_id=str(message.chat.id),
        user_id=str(chat.id),
        is_direct=False,
        display_name=clean_line(chat.title or chat.effective_name) or None,
    )


def parse_command(text: str, origin: Origin, bot_username: str, message_id: str) -> Command | None:
    """``/cmd args`` or ``/cmd@ThisBot args``; a command for another bot is not ours."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    addressed = match.group(2)
    if addressed is not None and addressed.casefold() != bot_username.casefold():
        return None
    args = tuple((match.group(3) or "").split())
    return Command(origin, match.group(1).lower(), args, message_id)


def _formatting(text: str, entities: Sequence[MessageEntity]) -> tuple[Span, ...]:
    if not entities:
        return ()
    return from_telegram(text, [entity.to_dict() for entity in entities]).spans


def _reply_to(message: Message) -> str | None:
    """The id of the message this one answers, when that is a message of the same chat.

    In a forum topic Telegram makes every message answer the topic's root (its
    "topic created" service message): that is no reply a member chose."""
    replied = message.reply_to_message
    if replied is None or replied.chat.id != message.chat.id:
        return None
    if replied.forum_topic_created is not None or (
        message.is_topic_message and replied.message_id == message.message_thread_id
    ):
        return None
    return str(replied.message_id)


def _media(message: Message, origin: Origin) -> MediaReceived | Unrelayable | None:
    message_id = str(message.message_id)
    caption = message.caption or ""
    formatting = _formatting(caption, message.caption_entities)
    reply_to = _reply_to(message)
    if message.photo:
        largest = message.photo[-1]
        return MediaReceived(
            origin, MediaKind.PHOTO, largest.file_id, caption, None, "image/jpeg",
            largest.file_size, message_id, formatting, reply_to,
        )  # fmt: skip
    if message.sticker is not None:
        sticker = message.sticker
        if sticker.is_animated or sticker.is_video:
            # Lottie and WebM stickers show nowhere else: their still thumbnail does.
            still = sticker.thumbnail
            if still is None:
                return Unrelayable(origin, UnrelayableKind.OTHER, message_id)
            return MediaReceived(
                origin, MediaKind.STICKER, still.file_id, "", "sticker.webp", "image/webp",
                still.file_size, message_id, (), reply_to,
            )  # fmt: skip
        return MediaReceived(
            origin, MediaKind.STICKER, sticker.file_id, "", "sticker.webp", "image/webp",
            sticker.file_size, message_id, (), reply_to,
        )  # fmt: skip
    if message.video_note is not None:
        note = message.video_note
        return MediaReceived(
            origin, MediaKind.VIDEO, note.file_id, caption, None, "video/mp4", note.file_size,
            message_id, formatting, reply_to,
        )  # fmt: skip
    # An animation (a GIF, sent as MP4) comes with a "document" too: it goes first.
    for kind, attachment in (
        (MediaKind.VIDEO, message.animation),
        (MediaKind.DOCUMENT, message.document),
        (MediaKind.VOICE, message.voice),
        (MediaKind.AUDIO, message.audio),
        (MediaKind.VIDEO, message.video),
    ):
        if attachment is not None:
            return MediaReceived(
                origin,
                kind,
                attachment.file_id,
                caption,
                getattr(attachment, "file_name", None),
                attachment.mime_type,
                attachment.file_size,
                message_id,
                formatting,
                reply_to,
            )
    return None


_OTHER_CONTENT = ("dice", "game", "story", "invoice", "giveaway", "giveaway_winners",
                  "paid_media", "checklist")  # fmt: skip
"""Content a member can post that no other platform can show."""


def _unrelayable(message: Message, origin: Origin) -> Unrelayable | None:
    """What a member posted in a group that cannot be carried across; ``None`` for service
    messages (joins, pins, topic changes ...), which are nobody's words."""
    message_id = str(message.message_id)
    if message.location is not None or message.venue is not None:
        return Unrelayable(origin, UnrelayableKind.LOCATION, message_id)
    if message.contact is not None:
        return Unrelayable(origin, UnrelayableKind.CONTACT, message_id)
    if message.poll is not None:
        return Unrelayable(origin, UnrelayableKind.POLL, message_id)
    if any(getattr(message, name, None) is not None for name in _OTHER_CONTENT):
        return Unrelayable(origin, UnrelayableKind.OTHER, message_id)
    return None


def _edited(edited: Message) -> MessageEdited | None:
    origin = _message_origin(edited)
    if origin is None:
        return None
    message_id = str(edited.message_id)
    if edited.text is not None:
        formatting = _formatting(edited.text, edited.entities)
        return MessageEdited(origin, message_id, edited.text, formatting)
    if _media(edited, origin) is None:
        return None  # e.g. a live location moving on
    caption = edited.caption or ""
    return MessageEdited(origin, message_id, caption, _formatting(caption, edited.caption_entities))


def stored_update(payload: Mapping[str, Any]) -> dict[str, Any]:
    """An update as stored, made whole again for ``Update.de_json``: python-telegram-bot's
    ``to_dict`` (how polled updates are stored) leaves out empty lists, and a poll answer
    whose ``option_ids`` are empty, a vote taken back, cannot be read without them."""
    update = dict(payload)
    answer = update.get("poll_answer")
    if isinstance(answer, Mapping):
        update["poll_answer"] = {"option_ids": [], "option_persistent_ids": [], **answer}
    return update


def translate_update(update: Update, bot_username: str) -> Incoming | None:
    """The neutral event for one update, or ``None`` when it is nothing the bot acts on."""
    if update.callback_query is not None:
        query = update.callback_query
        if query.message is None or query.data is None:
            return None
        origin = _origin(query.from_user, query.message.chat.id, query.message.chat.type)
        return ChoicePicked(origin, query.data, str(query.message.message_id))
    if update.my_chat_member is not None:
        change = update.my_chat_member
        origin = _origin(change.from_user, change.chat.id, change.chat.type)
        present = change.new_chat_member.status in _PRESENT
        was_present = change.old_chat_member.status in _PRESENT
        return None if present == was_present else PresenceChanged(origin, present)
    if update.poll_answer is not None:
        answer = update.poll_answer
        # Someone answering as a chat (an anonymous administrator, a channel) is no one
        # person: no member's vote, and no one to tell so. ``user`` is then Telegram's
        # stand-in account, which must not become a member either.
        if answer.user is None or answer.voter_chat is not None:
            return None
        origin = _origin(answer.user, answer.user.id, ChatType.PRIVATE)
        # Options by their 0-based position; none: the vote was taken back.
        return VoteCast(origin, answer.poll_id, tuple(str(i) for i in answer.option_ids))
    if update.edited_message is not None:
        return _edited(update.edited_message)
    message = update.message
    if message is None:
        return None
    sender = _message_origin(message)
    if sender is None:
        return None
    if message.text is not None:
        message_id = str(message.message_id)
        if message.text.startswith("/"):
            match = _COMMAND.match(message.text.strip())
            if match is not None:
                # A command for another bot in the group is not ours: None.
                return parse_command(message.text, sender, bot_username, message_id)
        # Text that merely starts with "/" (a path typed as an answer) is text.
        formatting = _formatting(message.text, message.entities)
        return TextMessage(sender, message.text, message_id, formatting, _reply_to(message))
    media = _media(message, sender)
    if media is not None or sender.is_direct:
        return media
    return _unrelayable(message, sender)
