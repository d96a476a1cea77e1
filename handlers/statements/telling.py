"""Telling one member something privately, about a statement they answered, forwarded or
asked about: shared by answering, forwarding and questions."""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.context import Context
from bot.notices import notice_address, notify_member
from bot.types import Choice, CommandRef, Media, Message, Origin, Platform, Reply, Text

log = logging.getLogger(__name__)

OPEN_PRIVATE_CHAT = "statements.sign.open_private_chat"
"""The neutral line said in a group room when the member cannot be told privately: no
statement content, no organization name."""


def reaches(context: Context) -> bool:
    """Whether :func:`privately` reaches the member: always in a private chat and on Matrix
    (the bot opens its own room with them); on Telegram only once they wrote to the bot in a
    private chat (a bot cannot open one)."""
    origin = context.origin
    if origin.is_direct or origin.platform is Platform.MATRIX:
        return True
    return bool(
        notify_member(
            context.store,
            context.member.id,
            Message.of(OPEN_PRIVATE_CHAT, command=CommandRef("start")),
            enabled=context.config.enabled_platforms,
        )
    )


def ask_for_private_chat(context: Context) -> list[Reply]:
    """In the room: answer me in a private chat. Whoever cannot be told privately is told
    this instead of nothing, and nothing is done for them unseen."""
    log.info("statement_unreachable_in_room member=%d", context.member.id)
    return [Reply(Message.of(OPEN_PRIVATE_CHAT, command=CommandRef("start")))]


def privately(
    context: Context,
    text: Text,
    choices: tuple[Choice, ...] = (),
    media: tuple[Media, ...] = (),
) -> list[Reply]:
    """``text`` for the member's eyes only: here when this is a private chat; on Matrix, in
    the bot's own private room with them (opened on first need), so a press or a command in
    a group room is answered even if they never wrote to the bot privately; on Telegram,
    in their private chats with the bot (a bot cannot open one), else the room is told to
    open one (:func:`ask_for_private_chat`), never what ``text`` says."""
    origin = context.origin
    if origin.is_direct:
        return [Reply(text, choices=choices, media=media, confidential=True)]
    if origin.platform is Platform.MATRIX:
        to = Origin(Platform.MATRIX, notice_address(origin.user_id), origin.user_id, is_direct=True)
        return [
            Reply(
                text,
                to=to,
                language=context.member.language,
                choices=choices,
                media=media,
                confidential=True,
            )
        ]
    notices = notify_member(
        context.store, context.member.id, text, enabled=context.config.enabled_platforms
    )
    if not notices:
        return ask_for_private_chat(context)
    return [replace(notice, choices=choices, media=media) for notice in notices]
