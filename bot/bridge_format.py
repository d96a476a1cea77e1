"""The outbox payloads of relayed messages, for each platform: pure functions.

A relayed message names its sender in a way each side reads naturally: on Telegram a bold
header before the text; on Matrix a per-message profile (MSC4144, unstable prefix) with a
plain-text fallback that every client shows. Nothing a member wrote becomes markup: the
text is escaped and only the formatting the bridge understood is rebuilt.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.richtext import escape, normalize, to_matrix_html, to_telegram_html
from bot.transports.telegram.render import CAPTION_LIMIT, MESSAGE_LIMIT, utf16_length
from bot.types import MediaKind, Platform, RichText, Span, SpanKind

RELAY_MARK = "org.caucus.relay"
"""Carried by every relayed Matrix event: no bridge relays what carries it."""
PROFILE = "com.beeper.per_message_profile"
"""MSC4144's unstable name for a per-message profile."""

Ref = dict[str, Any]
"""``{"message": platform id}`` or ``{"outbox": row id}``, resolved by the outbox worker."""

_MATRIX_MSGTYPES = {
    MediaKind.PHOTO: "m.image",
    MediaKind.STICKER: "m.image",
    MediaKind.VOICE: "m.audio",
    MediaKind.AUDIO: "m.audio",
    MediaKind.VIDEO: "m.video",
    MediaKind.DOCUMENT: "m.file",
    MediaKind.OTHER: "m.file",
}
_DEFAULT_NAMES = {
    MediaKind.PHOTO: "photo.jpg",
    MediaKind.STICKER: "sticker.webp",
    MediaKind.VOICE: "voice.ogg",
    MediaKind.AUDIO: "audio",
    MediaKind.VIDEO: "video.mp4",
}


@dataclass(frozen=True, slots=True)
class Sender:
    """Who wrote a relayed message, as the other side shows them.

    ``header`` is the localized "name (platform)" line; ``key`` tells senders apart without
    naming them (a digest of the platform and user id).
    """

    header: str
    key: str


def sender_key(platform: Platform, user_id: str, secret: bytes) -> str:
    """Tells senders apart on the other side without revealing their account: a keyed
    digest (a plain hash of a Telegram user id could be reversed by trying them all)."""
    data = f"{platform}:{user_id}".encode()
    return hmac.new(secret, data, hashlib.sha256).hexdigest()[:16]


def digest(rich: RichText) -> str:
    """Tells whether an edit changed the text or its formatting."""
    shown = normalize(rich)
    data = [shown.text, [[s.start, s.end, s.kind.value, s.value] for s in shown.spans]]
    return hashlib.sha256(json.dumps(data, ensure_ascii=False).encode()).hexdigest()


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


_MATRIX_ID = re.compile(r"@[A-Za-z0-9._=/+\-]+:[A-Za-z0-9.\-]+(?::[0-9]{1,5})?")
WORD_JOINER = "\u2060"


def defuse_matrix_ids(rich: RichText) -> RichText:
    """Matrix ids typed in a message (``@ana:example.org``) would read as ``@ana`` mentions
    on Telegram and ping whoever has that username: a word joiner after the "@" stops it.
    Code is left as it is (Telegram finds no mentions there)."""
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


def _slice(text: str, spans: tuple[Span, ...], start: int, end: int) -> RichText:
    kept = tuple(
        Span(max(s.start, start) - start, min(s.end, end) - start, s.kind, s.value)
        for s in spans
        if s.start < end and s.end > start
    )
    return RichText(text[start:end], kept)


# -- Telegram -----------------------------------------------------------------------------


def telegram_header(sender: Sender) -> str:
    return f"<b>{escape(sender.header)}</b>"


def telegram_texts(sender: Sender, rich: RichText, reply_to: Ref | None) -> list[dict[str, Any]]:
    """A relayed text as one Telegram message, or several when it is long."""
    header = telegram_header(sender)
    room = MESSAGE_LIMIT - utf16_length(sender.header) - 8
    payloads: list[dict[str, Any]] = []
    for index, piece in enumerate(split_rich(rich, room)):
        body = to_telegram_html(piece)
        payload: dict[str, Any] = {
            "relay": "text",
            "html": f"{header}: {body}" if body else header,
            "reply_to": reply_to if index == 0 else None,
        }
        if reply_to is None:
            payload["merge"] = {"sender": sender.key, "header": header, "body": body}
        payloads.append(payload)
    return payloads


def telegram_note(sender: Sender, note: str, reply_to: Ref | None) -> dict[str, Any]:
    """Something said in the sender's name that is not their words (a file left behind)."""
    return {
        "relay": "text",
        "html": f"{telegram_header(sender)}: {escape(note)}",
        "reply_to": reply_to,
    }


def telegram_edit(
    sender: Sender, rich: RichText, target: Ref, edited_header: str
) -> dict[str, Any]:
    body = to_telegram_html(rich)
    return {
        "relay": "edit",
        "target": target,
        "html": f"{telegram_header(sender)}: {body}",
        "fallback_html": f"<b>{escape(edited_header)}</b>: {body}",
    }


def telegram_fits_one_message(sender: Sender, rich: RichText, *, caption: bool = False) -> bool:
    """Whether the text, after the sender's header, fits one message (or one caption)."""
    limit = CAPTION_LIMIT if caption else MESSAGE_LIMIT
    return utf16_length(rich.text) <= limit - utf16_length(sender.header) - 8


def telegram_delete(target: Ref, notice: str) -> dict[str, Any]:
    return {"relay": "delete", "target": target, "fallback_html": escape(notice)}


def telegram_media(
    sender: Sender,
    kind: MediaKind,
    source: dict[str, Any],
    caption: RichText,
    reply_to: Ref | None,
    too_large_notice: str,
) -> list[dict[str, Any]]:
    """A relayed file, its caption after the sender's name; a caption too long for Telegram
    follows as a message of its own."""
    header = telegram_header(sender)
    rest: list[dict[str, Any]] = []
    html = header
    if caption.text:
        if utf16_length(caption.text) + utf16_length(sender.header) + 8 <= CAPTION_LIMIT:
            html = f"{header}: {to_telegram_html(caption)}"
        else:
            rest = telegram_texts(sender, caption, None)
    media = {
        "relay": "media",
        "kind": kind.value,
        "source": source,
        "html": html,
        "reply_to": reply_to,
        "fallback_html": f"{header}: {escape(too_large_notice)}",
    }
    return [media, *rest]


# -- Matrix -------------------------------------------------------------------------------


def _marked(sender: Sender, origin: Platform, content: dict[str, Any]) -> dict[str, Any]:
    content["m.mentions"] = {}
    content[PROFILE] = {"id": sender.key, "displayname": sender.header, "has_fallback": True}
    content[RELAY_MARK] = {"platform": origin.value, "sender": sender.key}
    return content


def _fallback(sender: Sender) -> str:
    return f"<strong data-mx-profile-fallback>{escape(sender.header)}: </strong>"


def matrix_content(sender: Sender, origin: Platform, rich: RichText) -> dict[str, Any]:
    """An ``m.text`` event's content: the sender as a per-message profile, and in the text."""
    return _marked(
        sender,
        origin,
        {
            "msgtype": "m.text",
            "body": f"{sender.header}: {rich.text}",
            "format": "org.matrix.custom.html",
            "formatted_body": _fallback(sender) + to_matrix_html(rich),
        },
    )


def matrix_text(
    sender: Sender, origin: Platform, rich: RichText, reply_to: Ref | None
) -> dict[str, Any]:
    return {"relay": "text", "content": matrix_content(sender, origin, rich), "reply_to": reply_to}


def matrix_note(
    sender: Sender, origin: Platform, note: str, reply_to: Ref | None
) -> dict[str, Any]:
    return matrix_text(sender, origin, RichText(note), reply_to)


def matrix_edit(sender: Sender, origin: Platform, rich: RichText, target: Ref) -> dict[str, Any]:
    return {"relay": "edit", "target": target, "content": matrix_content(sender, origin, rich)}


def matrix_delete(target: Ref) -> dict[str, Any]:
    return {"relay": "delete", "target": target}


def matrix_notice(text: str) -> dict[str, Any]:
    """A note from the bot itself (an ``m.notice``, like its other replies)."""
    return {"text": text, "choices": []}


def matrix_media(
    sender: Sender,
    origin: Platform,
    kind: MediaKind,
    source: dict[str, Any],
    caption: RichText,
    reply_to: Ref | None,
    too_large_notice: str,
) -> dict[str, Any]:
    """A relayed file; its caption (MSC2530) carries the sender's name as a fallback."""
    filename = source.get("filename") or _DEFAULT_NAMES.get(kind, "file")
    shown = caption if caption.text else RichText(filename)
    content = matrix_content(sender, origin, shown)
    content["msgtype"] = _MATRIX_MSGTYPES[kind]
    content["filename"] = filename
    info: dict[str, Any] = {}
    if source.get("content_type"):
        info["mimetype"] = source["content_type"]
    if source.get("size"):
        info["size"] = source["size"]
    content["info"] = info
    if kind is MediaKind.VOICE:
        content["org.matrix.msc3245.voice"] = {}
    fallback = matrix_content(sender, origin, RichText(too_large_notice))
    return {
        "relay": "media",
        "kind": kind.value,
        "source": {**source, "filename": filename},
        "content": content,
        "reply_to": reply_to,
        "fallback": fallback,
    }


def merge_telegram_texts(payloads: list[Mapping[str, Any]]) -> tuple[dict[str, Any], int]:
    """A burst of relayed texts from one sender as one Telegram message, within its limit.

    Used by the outbox when a group's 20-a-minute limit would otherwise hold the burst back
    for minutes; stops at the first message that is not a plain relayed text of the same
    sender (a reply, a file, someone else's words).
    """
    first = dict(payloads[0])
    merge = first.get("merge")
    if not isinstance(merge, Mapping):
        return first, 1
    bodies = [str(merge["body"])]
    length = utf16_length(first["html"])
    for payload in payloads[1:]:
        other = payload.get("merge")
        if not isinstance(other, Mapping) or other.get("sender") != merge["sender"]:
            break
        body = str(other["body"])
        # HTML is never shorter than the text it shows: a safe bound for the limit.
        if length + 1 + utf16_length(body) > MESSAGE_LIMIT:
            break
        bodies.append(body)
        length += 1 + utf16_length(body)
    if len(bodies) == 1:
        return first, 1
    html = f"{merge['header']}: " + "\n".join(bodies)
    return {"relay": "text", "html": html, "reply_to": first.get("reply_to")}, len(bodies)
