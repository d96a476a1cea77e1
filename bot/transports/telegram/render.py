"""Outgoing items as Telegram messages, as pure functions: planning, rendering, merging.

:func:`parts` cuts an item into what Telegram sends as one message each (when it is queued),
:func:`render` turns one part into the :mod:`payload <bot.transports.telegram.payloads>` the
sender delivers (when it is sent), :func:`merge` joins a burst of one member's relayed texts.

A relayed message names its sender in a bold header before the text. Nothing a member wrote
becomes markup: the text is escaped and only the formatting the bridge understood is rebuilt.
Telegram counts text length in UTF-16 code units after entity parsing: at most 4,096 for
a message and 1,024 for a caption. A button's callback data is at most 64 bytes.
"""

from __future__ import annotations

import dataclasses
import html
import itertools
import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TypeGuard, assert_never

from bot.outgoing import (
    Author,
    BotEdit,
    BotMessage,
    LegacyRelay,
    MessageRef,
    OutgoingError,
    OutgoingItem,
    PollEnd,
    PollStart,
    Ref,
    RelayedDeletion,
    RelayedEdit,
    RelayedMedia,
    RelayedNote,
    RelayedText,
)
from bot.richtext import to_telegram_html
from bot.transports.telegram.legacy import legacy_payload
from bot.transports.telegram.payloads import (
    Button,
    TelegramDeletion,
    TelegramDocument,
    TelegramEdit,
    TelegramPayload,
    TelegramRelayFile,
    TelegramText,
)
from bot.types import Platform, RenderedChoice, RichText, Span, SpanKind

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
HEADER_ROOM = 8
"""Units a relayed message keeps free beyond its header's text: the ": " after it, and a
margin (the header's markup does not count, Telegram measures the parsed text)."""
DELETE_WINDOW = timedelta(hours=48)
"""A bot may delete its own message in a group only while it is under 48 hours old."""
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


_MATRIX_ID = re.compile(r"@[A-Za-z0-9._=/+\-]+:[A-Za-z0-9.\-]+(?::[0-9]{1,5})?")
WORD_JOINER = "\u2060"


def defuse_matrix_ids(rich: RichText) -> RichText:
    """Matrix ids typed in a message (``@ana:example.org``) would read as ``@ana`` mentions
    on Telegram and ping whoever has that username: a word joiner after the "@" stops it.
    Code is left as it is (Telegram finds no mentions there). Defusing twice changes nothing."""
    code = [(s.start, s.end) for s in rich.spans if s.kind in (SpanKind.CODE, SpanKind.PRE)]
    at = [
        match.start() + 1
        for match in _MATRIX_ID.finditer(rich.text)
        if not any(start <= match.start() < end for start, end in code)
    ]
    if not at:
        return rich
    text = "".join(piece + WORD_JOINER for piece in _pieces(rich.text, at))[: -len(WORD_JOINER)]
    spans = tuple(
        Span(
            s.start + sum(1 for p in at if p <= s.start),
            s.end + sum(1 for p in at if p < s.end),
            s.kind,
            s.value,
        )
        for s in rich.spans
    )
    return RichText(text, spans)


def _pieces(text: str, cuts: list[int]) -> list[str]:
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def split_rich(rich: RichText, limit: int) -> list[RichText]:
    """Cut text into pieces of at most ``limit`` UTF-16 units, at a paragraph, line or word
    break where one falls in the second half of a piece; formatting is cut with the text."""
    if limit < 1:
        raise ValueError(f"a piece must hold at least one unit, not {limit}")
    pieces: list[RichText] = []
    text, spans, offset = rich.text, rich.spans, 0
    while utf16_length(text[offset:]) > limit:
        end, units = offset, 0
        while end < len(text) and units + (2 if ord(text[end]) > 0xFFFF else 1) <= limit:
            units += 2 if ord(text[end]) > 0xFFFF else 1
            end += 1
        end = max(end, offset + 1)  # a character wider than the limit still moves on
        cut, skip = end, 0
        for separator in ("\n\n", "\n", " "):
            found = text.rfind(separator, offset, end)
            if found > offset + (end - offset) // 2:
                cut, skip = found, len(separator)
                break
        pieces.append(_slice(text, spans, offset, cut))
        offset = cut + skip
    pieces.append(_slice(text, spans, offset, len(text)))
    return [piece for piece in pieces if piece.text] or [RichText("")]


def _slice(text: str, spans: tuple[Span, ...], start: int, end: int) -> RichText:
    kept = tuple(
        Span(max(s.start, start) - start, min(s.end, end) - start, s.kind, s.value)
        for s in spans
        if s.start < end and s.end > start
    )
    return RichText(text[start:end], kept)


# -- planning: the messages an item becomes ----------------------------------------------------


def parts(item: OutgoingItem, token_for: Callable[[str], int]) -> list[OutgoingItem]:
    """The item as Telegram messages, each to be stored in the outbox on its own, in order.

    A long text becomes several messages; a reply's choices go with its last message, their
    values made callback data (long ones stored through ``token_for``, so plan an item once).
    """
    match item:
        case BotMessage():
            return _message_parts(item, token_for)
        case RelayedText():
            return _text_parts(item)
        case RelayedMedia():
            return _media_parts(item)
        case RelayedEdit():
            return _edit_parts(item)
        case RelayedNote() | RelayedDeletion() | LegacyRelay():
            return [item]
        case PollStart() | BotEdit() | PollEnd():
            return [item]
        case _:
            assert_never(item)


def _message_parts(message: BotMessage, token_for: Callable[[str], int]) -> list[OutgoingItem]:
    """Each file is a message, carrying the text as its caption when it fits, else the text
    goes first, as messages of its own, and the files it introduces follow; the choices go
    with the text. A reply with no text and no file sends nothing."""
    texts = split_text(message.text) if message.text else []
    caption = ""
    if len(message.media) == 1 and len(texts) == 1 and utf16_length(texts[0]) <= CAPTION_LIMIT:
        caption, texts = texts[0], []
    cases = message.cases
    said = [BotMessage(text, cases=cases) for text in texts]
    files = [
        BotMessage(caption if index == 0 else "", media=(media,), cases=cases)
        for index, media in enumerate(message.media)
    ]
    with_choices = said or files
    if with_choices:
        buttons = tuple(
            RenderedChoice(encode_callback(choice.value, token_for), choice.label)
            for choice in message.choices
        )
        with_choices[-1] = dataclasses.replace(with_choices[-1], choices=buttons)
    return [*said, *files]


def _text_parts(text: RelayedText) -> list[OutgoingItem]:
    room = MESSAGE_LIMIT - utf16_length(text.author.header) - HEADER_ROOM
    joinable = text.joinable and text.reply_to is None
    return [
        dataclasses.replace(
            text, rich=piece, reply_to=text.reply_to if index == 0 else None, joinable=joinable
        )
        for index, piece in enumerate(split_rich(_shown(text.origin, text.rich), room))
    ]


def _media_parts(media: RelayedMedia) -> list[OutgoingItem]:
    """A caption too long for Telegram follows the file as a message of its own."""
    caption = _shown(media.origin, media.caption)
    if not caption.text or fits(media.author, caption, CAPTION_LIMIT):
        return [media]
    rest = RelayedText(media.author, media.origin, caption)
    return [dataclasses.replace(media, caption=RichText("")), *_text_parts(rest)]


def _edit_parts(edit: RelayedEdit) -> list[OutgoingItem]:
    """An edit that no longer fits its copy (or a copy cut in parts) follows as an answer to
    the copy, under the "edited" header."""
    limit = CAPTION_LIMIT if edit.of_caption else MESSAGE_LIMIT
    if edit.copy_parts == 1 and fits(edit.author, _shown(edit.origin, edit.rich), limit):
        return [edit]
    marked = Author(header=edit.edited_header, key=edit.author.key)
    follow = RelayedText(marked, edit.origin, edit.rich, reply_to=edit.target, joinable=False)
    return _text_parts(follow)


def fits(author: Author, rich: RichText, limit: int = MESSAGE_LIMIT) -> bool:
    """Whether the text, after the author's header, fits one message (or one caption)."""
    return utf16_length(rich.text) <= limit - utf16_length(author.header) - HEADER_ROOM


def _shown(origin: Platform, rich: RichText) -> RichText:
    """Text as Telegram must show it: from Matrix, no Matrix id taken for a username."""
    return defuse_matrix_ids(rich) if origin is Platform.MATRIX else rich


# -- rendering: one part as the sender's payload -------------------------------------------------


def render(item: OutgoingItem) -> TelegramPayload:
    """One planned part as the Telegram message the sender delivers. A reference the outbox
    did not resolve to a message (or one Telegram cannot name) is left out."""
    match item:
        case BotMessage():
            return _bot_message(item)
        case RelayedText():
            return TelegramText(_relayed_html(item), reply_to=_message_id(item.reply_to))
        case RelayedNote():
            return TelegramText(
                f"{_header(item.author)}: {escape_html(item.note)}",
                reply_to=_message_id(item.reply_to),
            )
        case RelayedMedia():
            header = _header(item.author)
            caption = _shown(item.origin, item.caption)
            return TelegramRelayFile(
                kind=item.kind,
                source=item.source,
                caption_html=f"{header}: {to_telegram_html(caption)}" if caption.text else header,
                fallback_html=f"{header}: {escape_html(item.unavailable_note)}",
                reply_to=_message_id(item.reply_to),
            )
        case RelayedEdit():
            body = to_telegram_html(_shown(item.origin, item.rich))
            return TelegramEdit(
                target=_message_id(item.target),
                html=f"{_header(item.author)}: {body}",
                fallback_html=f"<b>{escape_html(item.edited_header)}</b>: {body}",
                shared=_shared(item.target),
            )
        case RelayedDeletion():
            return TelegramDeletion(
                target=_message_id(item.target),
                fallback_html=escape_html(item.fallback),
                shared=_shared(item.target),
            )
        case LegacyRelay():
            return legacy_payload(item.payload)
        case PollStart() | BotEdit() | PollEnd():
            # Rendered by the platform's polls (issue 16), under way.
            raise OutgoingError(f"{item.KIND} is not rendered on this platform yet")
        case _:
            assert_never(item)


def _bot_message(message: BotMessage) -> TelegramPayload:
    buttons = tuple(Button(choice.value, choice.label) for choice in message.choices)
    if len(message.media) > 1:
        raise OutgoingError("a Telegram message carries one file: plan the reply into parts")
    if message.media:
        return TelegramDocument(message.media[0], escape_html(message.text), buttons)
    return TelegramText(escape_html(message.text), buttons=buttons, link_preview=False)


def _header(author: Author) -> str:
    return f"<b>{escape_html(author.header)}</b>"


def _body(text: RelayedText) -> str:
    return to_telegram_html(_shown(text.origin, text.rich))


def _relayed_html(text: RelayedText) -> str:
    header, body = _header(text.author), _body(text)
    return f"{header}: {body}" if body else header


def _message_id(ref: Ref | None) -> int | None:
    """The Telegram message id a resolved reference names."""
    if not isinstance(ref, MessageRef) or not ref.message_id.lstrip("-").isdigit():
        return None
    return int(ref.message_id)


def _shared(ref: Ref | None) -> bool:
    return isinstance(ref, MessageRef) and ref.shared


# -- merging: a burst as one message ---------------------------------------------------------------


def merge(items: Sequence[OutgoingItem]) -> tuple[TelegramPayload, int]:
    """A burst of relayed texts from one member as one Telegram message, within its limit:
    the payload and how many of ``items`` it carries.

    Used by the outbox when a group's 20-a-minute limit would otherwise hold the burst back
    for minutes; stops at the first item that is not a plain relayed text of the same
    author (a reply, a file, someone else's words).
    """
    first = items[0]
    if not _joinable(first):
        return render(first), 1
    bodies = [_body(first)]
    length = utf16_length(_relayed_html(first))
    for other in items[1:]:
        if not _joinable(other) or other.author.key != first.author.key:
            break
        body = _body(other)
        # HTML is never shorter than the text it shows: a safe bound for the limit.
        if length + 1 + utf16_length(body) > MESSAGE_LIMIT:
            break
        bodies.append(body)
        length += 1 + utf16_length(body)
    if len(bodies) == 1:
        return render(first), 1
    return TelegramText(f"{_header(first.author)}: " + "\n".join(bodies)), len(bodies)


def _joinable(item: OutgoingItem) -> TypeGuard[RelayedText]:
    return isinstance(item, RelayedText) and item.joinable and item.reply_to is None
