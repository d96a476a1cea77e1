"""Outgoing items as Telegram messages, as pure functions: planning, rendering, merging.

:func:`parts` cuts an item into what Telegram sends as one message each (when it is queued),
:func:`render` turns one part into the :mod:`payload <bot.transports.telegram.payloads>` the
sender delivers (when it is sent), :func:`merge` joins a burst of one member's relayed texts.

A relayed message names its sender in a bold header before the text. Nothing a member wrote
becomes markup: the text is escaped and only the formatting the bridge understood is rebuilt.
Telegram counts text length in UTF-16 code units after entity parsing: at most 4,096 for
a message and 1,024 for a caption. A button's callback data is at most 64 bytes.

A question goes as Telegram's own poll (``sendPoll``), not anonymous, so that each answer
reaches the bot (``poll_answer``); its introduction (the question and numbered options) is
not sent beside it: the poll is the message. Live results are edits of the bot's own
message, and the poll is closed with ``stopPoll``.
"""

from __future__ import annotations

import dataclasses
import html
import itertools
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
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
POLL_QUESTION_LIMIT = 300
POLL_OPTION_LIMIT = 100
POLL_OPTION_COUNT = 12
"""A poll's question and options in characters, and how many options (since Bot API 9.1)."""
POLL_CLOSE_EARLIEST = timedelta(seconds=5)
POLL_CLOSE_LATEST = timedelta(seconds=2_628_000)
"""How far ahead a poll's ``close_date`` may be: 5 s to 2,628,000 s (about 30 days) since
Bot API 9.6 (python-telegram-bot 22.8's ``PollLimit.MIN/MAX_OPEN_PERIOD``; 600 s before)."""
POLL_CLOSE_MARGIN = timedelta(minutes=1)
"""Kept clear of both ends: the request takes time on its way, and Telegram's clock is not
ours. A deadline outside is left to the bot's own closing (``stopPoll``)."""
ELLIPSIS = "\u2026"


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
        case PollStart():
            return _poll_parts(item, token_for)
        case BotEdit() | PollEnd():
            return [item]
        case _:
            assert_never(item)


def _poll_parts(poll: PollStart, token_for: Callable[[str], int]) -> list[OutgoingItem]:
    """A question Telegram takes as a poll stays one, its choice values made callback data
    for the buttons of its fallback (a channel takes no poll that tells who answered). One
    it would refuse (no option or more than 12, an empty one) goes as its text, with a
    button per option: answered by a press instead."""
    options = poll.options
    if (
        1 <= len(options) <= POLL_OPTION_COUNT
        and poll.question.strip()
        and all(option.strip() for option in options)
    ):
        values = tuple(encode_callback(value, token_for) for value in poll.choice_values)
        return [dataclasses.replace(poll, choice_values=values)]
    choices = tuple(
        RenderedChoice(value, label)
        for value, label in zip(poll.choice_values, options, strict=True)
    )
    return _message_parts(BotMessage(poll.text, choices=choices), token_for)


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
        case PollStart():
            return _poll(item)
        case BotEdit():
            # One message: the capability keeps live results short; a longer text is cut.
            return TelegramBotEdit(_message_id(item.target), escape_html(split_text(item.text)[0]))
        case PollEnd():
            # Telegram shows a poll's end on the poll itself: the text is not sent.
            return TelegramPollStop(_message_id(item.target))
        case _:
            assert_never(item)


def _poll(poll: PollStart) -> TelegramPoll:
    """A question and options too long for Telegram are cut (the capability keeps them
    within its limits: this is a last defence, not a way to say more)."""
    return TelegramPoll(
        question=_cut(poll.question, POLL_QUESTION_LIMIT),
        options=tuple(_cut(option, POLL_OPTION_LIMIT) for option in poll.options),
        multiple_answers=poll.max_selections > 1,
        hide_results=not poll.disclosed,
        closes_at=_closing_time(poll.closes_at),
        fallback_html=escape_html(poll.text),
        buttons=tuple(
            Button(value, label)
            for value, label in zip(poll.choice_values, poll.options, strict=True)
        ),
    )


def _cut(text: str, limit: int) -> str:
    """At most ``limit`` characters (Telegram counts a poll's in characters), an ellipsis
    saying where it was cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def _closing_time(stored: str | None) -> datetime | None:
    if stored is None:
        return None
    try:
        when = datetime.fromisoformat(stored)
    except ValueError as error:
        raise OutgoingError(f"a poll's closing time is not ISO 8601: {stored!r}") from error
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def close_date(closes_at: datetime | None, now: datetime) -> datetime | None:
    """When Telegram is to close a poll sent ``now`` by itself: the bot's deadline, if it
    falls within Telegram's limits (with a margin); else ``None``, and the bot's own closing
    stops the poll."""
    if closes_at is None:
        return None
    ahead = closes_at - now
    if (
        ahead < POLL_CLOSE_EARLIEST + POLL_CLOSE_MARGIN
        or ahead > POLL_CLOSE_LATEST - POLL_CLOSE_MARGIN
    ):
        return None
    return closes_at


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
