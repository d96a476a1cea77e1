"""Telegram rendering rules, as pure functions: escaping, splitting, callback data.

Telegram counts text length in UTF-16 code units after entity parsing: at most 4,096 for
a message and 1,024 for a caption. A button's callback data is at most 64 bytes.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from typing import Any

from bot.types import Outgoing

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_LIMIT = 64
CALLBACK_TOKEN_MARK = "#"  # noqa: S105  (a prefix, not a secret)
"""Callback data starting with this names a stored value too long to send as it is."""


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def escape_html(text: str) -> str:
    """Make any text safe to send with ``parse_mode=HTML``: it shows exactly as typed."""
    return html.escape(text, quote=False)


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Cut ``text`` into pieces within ``limit``, at paragraph, then line, then word breaks."""
    if utf16_length(text) <= limit:
        return [text]
    for separator in ("\n\n", "\n", " "):
        parts = text.split(separator)
        if len(parts) > 1:
            return _pack(parts, separator, limit)
    return _hard_cut(text, limit)


def _pack(parts: list[str], separator: str, limit: int) -> list[str]:
    pieces: list[str] = []
    current = ""
    for part in parts:
        candidate = part if not current else current + separator + part
        if utf16_length(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        if utf16_length(part) <= limit:
            current = part
        else:
            longer = split_text(part, limit)
            pieces.extend(longer[:-1])
            current = longer[-1]
    if current:
        pieces.append(current)
    return pieces


def _hard_cut(text: str, limit: int) -> list[str]:
    pieces: list[str] = []
    current = ""
    for character in text:
        if utf16_length(current + character) > limit:
            pieces.append(current)
            current = ""
        current += character
    if current:
        pieces.append(current)
    return pieces


def encode_callback(value: str, token_for: Callable[[str], int]) -> str:
    """The callback data for a choice; values over 64 bytes are stored and named by a token."""
    if len(value.encode()) <= CALLBACK_LIMIT and not value.startswith(CALLBACK_TOKEN_MARK):
        return value
    return f"{CALLBACK_TOKEN_MARK}{token_for(value)}"


def decode_callback(data: str, value_for: Callable[[int], str | None]) -> str | None:
    """The choice value behind callback data; ``None`` when its stored value is gone."""
    if not data.startswith(CALLBACK_TOKEN_MARK):
        return data
    token = data[len(CALLBACK_TOKEN_MARK) :]
    if not (token.isascii() and token.isdigit()) or len(token) > 18:
        return None
    return value_for(int(token))


def payloads_for(outgoing: Outgoing, token_for: Callable[[str], int]) -> list[dict[str, Any]]:
    """One reply as Telegram messages, each stored in the outbox on its own.

    Long text becomes several messages; choices go with the last one; a file carries the
    text as its caption when it fits, else the text follows as its own message. Choices
    carry their callback data, long values already swapped for stored tokens.
    """
    texts = split_text(outgoing.text) if outgoing.text else []
    caption = ""
    if len(outgoing.media) == 1 and len(texts) == 1 and utf16_length(texts[0]) <= CAPTION_LIMIT:
        caption, texts = texts[0], []
    payloads: list[dict[str, Any]] = [
        {
            "caption": caption if index == 0 else "",
            "file": {
                "filename": media.filename,
                "content_type": media.content_type,
                "data": base64.b64encode(media.data).decode("ascii"),
            },
            "choices": [],
        }
        for index, media in enumerate(outgoing.media)
    ]
    payloads.extend({"text": text, "choices": []} for text in texts)
    if payloads:
        payloads[-1]["choices"] = [
            [encode_callback(choice.value, token_for), choice.label] for choice in outgoing.choices
        ]
    return payloads
