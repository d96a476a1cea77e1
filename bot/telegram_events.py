"""Telegram updates turned into neutral events: translation only, no decisions, no I/O."""

from __future__ import annotations

import re

from telegram import ChatMember, Message, Update, User
from telegram.constants import ChatType

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
    TextMessage,
    VoteCast,
)

_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]+))?(?:\s+(.*))?$", re.DOTALL)

ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "poll_answer", "my_chat_member")
"""The update kinds the bot asks Telegram for."""

_PRESENT = {ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER, ChatMember.RESTRICTED}


def _origin(user: User, chat_id: int, chat_type: str) -> Origin:
    return Origin(
        platform=Platform.TELEGRAM,
        room_id=str(chat_id),
        user_id=str(user.id),
        is_direct=chat_type == ChatType.PRIVATE,
        display_name=user.full_name,
        language_hint=user.language_code,
    )


def _message_origin(message: Message) -> Origin | None:
    user = message.from_user
    if user is None or user.is_bot:
        return None
    return _origin(user, message.chat.id, message.chat.type)


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


def _media(message: Message, origin: Origin) -> MediaReceived | None:
    message_id = str(message.message_id)
    caption = message.caption or ""
    if message.photo:
        largest = message.photo[-1]
        return MediaReceived(
            origin, MediaKind.PHOTO, largest.file_id, caption, None, "image/jpeg",
            largest.file_size, message_id,
        )  # fmt: skip
    for kind, attachment in (
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
            )
    if message.sticker is not None:
        return MediaReceived(
            origin, MediaKind.STICKER, message.sticker.file_id, "", None, "image/webp",
            message.sticker.file_size, message_id,
        )  # fmt: skip
    return None


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
        if answer.user is None:
            return None
        origin = _origin(answer.user, answer.user.id, ChatType.PRIVATE)
        return VoteCast(origin, answer.poll_id, tuple(str(i) for i in answer.option_ids))
    if update.edited_message is not None:
        edited = update.edited_message
        edit_origin = _message_origin(edited)
        if edit_origin is None or edited.text is None:
            return None
        return MessageEdited(edit_origin, str(edited.message_id), edited.text)
    message = update.message
    if message is None:
        return None
    sender = _message_origin(message)
    if sender is None:
        return None
    origin = sender
    if message.text is not None:
        message_id = str(message.message_id)
        if message.text.startswith("/"):
            match = _COMMAND.match(message.text.strip())
            if match is not None:
                # A command for another bot in the group is not ours: None.
                return parse_command(message.text, origin, bot_username, message_id)
        # Text that merely starts with "/" (a path typed as an answer) is text.
        return TextMessage(origin, message.text, message_id)
    return _media(message, origin)
