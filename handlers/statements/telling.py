"""Telling one member something privately, about a statement they answered, forwarded or
asked about: shared by answering, forwarding and questions."""

from __future__ import annotations

from dataclasses import replace

from bot.context import Context
from bot.notices import notice_address, notify_member
from bot.types import Choice, Media, Origin, Platform, Reply, Text


def privately(
    context: Context,
    text: Text,
    choices: tuple[Choice, ...] = (),
    media: tuple[Media, ...] = (),
) -> list[Reply]:
    """``text`` for the member's eyes only: here when this is a private chat; on Matrix, in
    the bot's own private room with them (opened on first need), so a press or a command in
    a group room is answered even if they never wrote to the bot privately; on Telegram,
    in their private chats with the bot (a bot cannot open one)."""
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
    return [replace(notice, choices=choices, media=media) for notice in notices]
