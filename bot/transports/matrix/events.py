"""Matrix room events turned into neutral events: translation only, no decisions, no I/O.

Everything here reads the event as the homeserver sent it (its ``source`` dict, decrypted
when it was encrypted), so nio's class for it (a media class, an encrypted-media class, a
sticker, an unknown event, a bad event) does not matter.

An ``m.emote`` becomes a :class:`TextMessage` whose text starts with ``"* <name> "`` (how
every Matrix client shows an emote in plain text), its formatting shifted behind it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.richtext import from_matrix_html
from bot.transports.matrix.render import parse_command, pick_choice
from bot.types import (
    ChoicePicked,
    Command,
    Incoming,
    MediaKind,
    MediaReceived,
    MessageDeleted,
    MessageEdited,
    Origin,
    RichText,
    Span,
    TextMessage,
    Unrelayable,
    UnrelayableKind,
    VoteCast,
)

RELAY_MARKER = "org.caucus.relay"
"""Content key of every message the bridge relays: such an event is never read back."""
VOICE_KEY = "org.matrix.msc3245.voice"
HTML_FORMAT = "org.matrix.custom.html"
POLL_START_TYPES = ("m.poll.start", "org.matrix.msc3381.poll.start")
POLL_RESPONSE_TYPES = ("m.poll.response", "org.matrix.msc3381.poll.response")
SPOILED_ANSWER = ""
"""A poll response's selection that is no list of answer ids comes through as this id,
which no answer has: the handler spoils the response."""
MEDIA_KINDS = {
    "m.image": MediaKind.PHOTO,
    "m.file": MediaKind.DOCUMENT,
    "m.audio": MediaKind.AUDIO,
    "m.video": MediaKind.VIDEO,
}
TEXT_TYPES = ("m.text", "m.emote")
_NOT_RELAYED = ("m.notice", "m.key.verification.request", "m.server_notice")
"""Message types that are no member's own words: never relayed, never reported."""


def translate(origin: Origin, source: Mapping[str, Any]) -> Incoming | None:
    """The neutral event for a room event, or None when it is nothing to relay or answer.

    Commands and numbered choices are not told apart here (they need the room's state):
    an ``m.text`` comes back as a :class:`TextMessage` for the transport to look at."""
    event_type = source.get("type")
    content = _mapping(source.get("content"))
    event_id = str(source.get("event_id", ""))
    if RELAY_MARKER in content:
        return None
    if event_type == "m.room.redaction":
        redacts = source.get("redacts") or content.get("redacts")
        return MessageDeleted(origin, str(redacts)) if isinstance(redacts, str) else None
    if event_type in POLL_START_TYPES:
        return Unrelayable(origin, UnrelayableKind.POLL, event_id)
    if event_type in POLL_RESPONSE_TYPES:
        return _vote(origin, content, source.get("origin_server_ts"))
    if event_type == "m.sticker":
        return media_received(origin, MediaKind.STICKER, content, event_id)
    if event_type != "m.room.message":
        return None
    msgtype = content.get("msgtype")
    if not isinstance(msgtype, str) or msgtype in _NOT_RELAYED:
        return None
    relates = _mapping(content.get("m.relates_to"))
    if relates.get("rel_type") == "m.replace":
        return _edit(origin, content, relates)
    if msgtype in TEXT_TYPES:
        rich = message_text(origin, content)
        return TextMessage(origin, rich.text, event_id, rich.spans, reply_target(content))
    if msgtype in MEDIA_KINDS:
        kind = MEDIA_KINDS[msgtype]
        if kind is MediaKind.AUDIO and VOICE_KEY in content:
            kind = MediaKind.VOICE
        return media_received(origin, kind, content, event_id)
    if msgtype == "m.location":
        return Unrelayable(origin, UnrelayableKind.LOCATION, event_id)
    if origin.is_direct:
        return None
    return Unrelayable(origin, UnrelayableKind.OTHER, event_id)


def read_typed(
    message: TextMessage, *, known: frozenset[str], choices: Sequence[Sequence[str]]
) -> Command | ChoicePicked | TextMessage:
    """What a member typed: a ``!command``, the number (or label) of one of the ``choices``
    the bot offered in the room, or else free text."""
    origin = message.origin
    command = parse_command(message.text, direct=origin.is_direct, known=known)
    if command is not None:
        return Command(origin, command[0], command[1], message.message_id)
    value = pick_choice(message.text, choices) if choices else None
    if value is not None:
        return ChoicePicked(origin, value, message.message_id)
    return message


def message_text(origin: Origin, content: Mapping[str, Any]) -> RichText:
    """The text of an ``m.text`` or ``m.emote``, without the reply fallback."""
    body = str(content.get("body", ""))
    if reply_target(content) is not None:
        body = strip_reply_fallback(body)
    rich = from_matrix_html(_formatted_body(content), body)
    if content.get("msgtype") == "m.emote":
        rich = prefixed(f"* {origin.display_name or origin.user_id} ", rich)
    return rich


def strip_reply_fallback(body: str) -> str:
    """``body`` without the quoted lines (``> ...``) and blank line a reply may start with."""
    lines = body.split("\n")
    quoted = 0
    while quoted < len(lines) and lines[quoted].startswith(">"):
        quoted += 1
    if quoted and quoted < len(lines) and lines[quoted].strip() == "":
        return "\n".join(lines[quoted + 1 :])
    return body


def reply_target(content: Mapping[str, Any]) -> str | None:
    """The event a message answers: its ``m.in_reply_to``, or for a thread message that
    is no explicit reply (``is_falling_back``) the thread's root."""
    relates = _mapping(content.get("m.relates_to"))
    if relates.get("rel_type") == "m.thread" and relates.get("is_falling_back"):
        root = relates.get("event_id")
        return root if isinstance(root, str) else None
    replied = _mapping(relates.get("m.in_reply_to")).get("event_id")
    return replied if isinstance(replied, str) else None


def prefixed(prefix: str, rich: RichText) -> RichText:
    """``prefix`` put before the text, the spans moved along."""
    shift = len(prefix)
    spans = tuple(Span(s.start + shift, s.end + shift, s.kind, s.value) for s in rich.spans)
    return RichText(prefix + rich.text, spans)


def media_received(
    origin: Origin, kind: MediaKind, content: Mapping[str, Any], event_id: str
) -> MediaReceived | None:
    """A file message; the caption is the body when ``filename`` differs from it (MSC2530)."""
    ref = file_ref(content)
    if ref is None:
        return None
    body = str(content.get("body", ""))
    filename = content.get("filename")
    caption = RichText("")
    if isinstance(filename, str) and filename and filename != body:
        if reply_target(content) is not None:
            body = strip_reply_fallback(body)
        caption = from_matrix_html(_formatted_body(content), body)
    else:
        filename = body or None
    if kind is MediaKind.STICKER:
        filename = None  # a sticker's body is its description, not a file name
    info = _mapping(content.get("info"))
    encrypted = _mapping(content.get("file"))
    mimetype = info.get("mimetype") or encrypted.get("mimetype")
    size = info.get("size")
    return MediaReceived(
        origin,
        kind,
        ref,
        caption.text,
        filename,
        mimetype if isinstance(mimetype, str) else None,
        size if isinstance(size, int) and not isinstance(size, bool) else None,
        event_id,
        caption.spans,
        reply_target(content),
    )


def file_ref(content: Mapping[str, Any]) -> str | None:
    """``mxc://...``, or for an encrypted file the JSON of its ``file`` object."""
    encrypted = content.get("file")
    if isinstance(encrypted, Mapping) and isinstance(encrypted.get("url"), str):
        return json.dumps(dict(encrypted), sort_keys=True)
    url = content.get("url")
    return url if isinstance(url, str) and url.startswith("mxc://") else None


def _edit(
    origin: Origin, content: Mapping[str, Any], relates: Mapping[str, Any]
) -> MessageEdited | None:
    target = relates.get("event_id")
    new = _mapping(content.get("m.new_content"))
    msgtype = new.get("msgtype")
    if not isinstance(target, str) or not new or RELAY_MARKER in new or msgtype in _NOT_RELAYED:
        return None
    if msgtype in MEDIA_KINDS:
        body = str(new.get("body", ""))
        filename = new.get("filename")
        has_caption = isinstance(filename, str) and filename != body
        rich = from_matrix_html(_formatted_body(new), body) if has_caption else RichText("")
    else:
        rich = message_text(origin, new)
    return MessageEdited(origin, target, rich.text, rich.spans)


def _vote(origin: Origin, content: Mapping[str, Any], stamp: Any) -> VoteCast | None:
    """A poll response, in the stable shape (``m.selections``) or the unstable one
    (``org.matrix.msc3381.poll.response: {answers}``; also under ``m.poll.response``, as an
    earlier draft named it), referencing the poll's start. The answer ids come as sent, in
    order: judging them (unknown ids, too many, repeats) needs the poll, so it is the
    handler's. An empty selection takes the vote back; a selection that is no list of ids
    comes through as one empty id, which no answer has, so the response counts as spoiled
    (as the MSC has it) rather than as a vote taken back on purpose."""
    relates = _mapping(content.get("m.relates_to"))
    start = relates.get("event_id")
    if relates.get("rel_type") != "m.reference" or not isinstance(start, str) or not start:
        return None  # answers nothing: not a vote
    selections = _selections(content)
    if isinstance(selections, list) and all(isinstance(answer, str) for answer in selections):
        options = tuple(selections)
    else:
        options = (SPOILED_ANSWER,)
    return VoteCast(origin, start, options, _sent_at(stamp))


def _selections(content: Mapping[str, Any]) -> Any:
    if "m.selections" in content:
        return content["m.selections"]
    for block in ("org.matrix.msc3381.poll.response", "m.poll.response"):
        response = content.get(block)
        if isinstance(response, Mapping):
            return response.get("answers")
    return None


def _sent_at(stamp: Any) -> datetime | None:
    """``origin_server_ts`` (milliseconds) as an aware UTC time."""
    if isinstance(stamp, bool) or not isinstance(stamp, int) or stamp <= 0:
        return None
    try:
        return datetime.fromtimestamp(stamp / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _formatted_body(content: Mapping[str, Any]) -> str | None:
    formatted = content.get("formatted_body")
    if content.get("format") == HTML_FORMAT and isinstance(formatted, str):
        return formatted
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
