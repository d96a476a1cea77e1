"""Outgoing items as Matrix events, and Matrix's reading rules, as pure functions.

:func:`parts` cuts an item into what Matrix sends as one event each (when it is queued);
:func:`render` turns one part into the :mod:`payload <bot.transports.matrix.payloads>` the
sender delivers (when it is sent). Commands, numbered choices and their keycap reactions are
read here too.

A relayed message names its sender in a way every client shows: a per-message profile
(MSC4144, unstable prefix) with a plain-text fallback. Nothing a member wrote becomes markup:
the text is escaped and only the formatting the bridge understood is rebuilt.

The bot's polls are MSC3381 events in the unstable shape Element sends (its stable names
need extensible events, which no stable room version has): a start whose answers are named
``"0"``, ``"1"``, ... (their 0-based positions, which is what the handler reads back from a
response), and an end referencing the start, each with its text as the fallback.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, assert_never

from bot.choosing import strip_direction_marks, typed_number
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
from bot.richtext import escape, to_matrix_html
from bot.transports.matrix.legacy import legacy_payload
from bot.transports.matrix.payloads import (
    MatrixBotFile,
    MatrixEdit,
    MatrixMessage,
    MatrixNotice,
    MatrixPayload,
    MatrixPollEnd,
    MatrixPollStart,
    MatrixRedaction,
    MatrixRelayFile,
    PrivateTo,
)
from bot.types import MediaKind, Platform, RenderedChoice, RichText

RELAY_MARK = "org.caucus.relay"
"""Carried by every relayed Matrix event: no bridge relays what carries it."""
PROFILE = "com.beeper.per_message_profile"
"""MSC4144's unstable name for a per-message profile."""
DELETE_WINDOW: timedelta | None = None
"""The bot may redact its own events at any time."""

POLL_START = "org.matrix.msc3381.poll.start"
"""A poll's start: the event type, and the content block describing the poll."""
POLL_END = "org.matrix.msc3381.poll.end"
"""A poll's end: the event type, and the (empty) content block marking it."""
TEXT = "org.matrix.msc1767.text"
"""MSC1767's plain text block (unstable name): a poll's fallback, question and answers."""
POLL_KINDS = {
    True: "org.matrix.msc3381.poll.disclosed",
    False: "org.matrix.msc3381.poll.undisclosed",
}
"""The poll's kind by whether results may show while it is open."""

COMMAND_PREFIX = "!"
KEYCAPS = (*(f"{n}\ufe0f\u20e3" for n in range(1, 10)), "\N{KEYCAP TEN}")
"""1️⃣ … 9️⃣ and 🔟: reacting with one picks that numbered choice."""

_COMMAND = re.compile(r"^!([A-Za-z0-9_]{1,32})(?:\s+(.*))?$", re.DOTALL)
_BARE = re.compile(r"^([A-Za-z0-9_]{1,32})(?:\s+(.*))?$", re.DOTALL)


def message_content(text: str, choices: Sequence[RenderedChoice] = ()) -> dict[str, Any]:
    """An ``m.notice`` with a plain ``body`` and an HTML ``formatted_body``.

    Every character of the text is escaped in the HTML, so a value typed by a member (a
    name with ``<b>`` or ``&``) shows as typed. Choices follow as a numbered list.
    """
    lines = [f"{number}. {choice.label}" for number, choice in enumerate(choices, start=1)]
    body = text + ("\n\n" + "\n".join(lines) if lines else "")
    formatted = html.escape(text, quote=False).replace("\n", "<br>")
    if lines:
        items = "".join(f"<li>{html.escape(choice.label, quote=False)}</li>" for choice in choices)
        formatted += f"<ol>{items}</ol>"
    return {
        "msgtype": "m.notice",
        "body": body,
        "format": "org.matrix.custom.html",
        "formatted_body": formatted,
    }


def parse_command(
    text: str, *, direct: bool, known: frozenset[str]
) -> tuple[str, tuple[str, ...]] | None:
    """``!name args``; in a direct room also a bare ``name args`` for a known command."""
    stripped = text.strip()
    match = _COMMAND.match(stripped)
    if match is None and direct:
        bare = _BARE.match(stripped)
        if bare is not None and bare.group(1).lower() in known:
            match = bare
    if match is None:
        return None
    return match.group(1).lower(), tuple((match.group(2) or "").split())


def pick_choice(answer: str, choices: Sequence[Sequence[str]]) -> str | None:
    """The value of the choice a typed answer names: its number, or its label's text."""
    cleaned = strip_direction_marks(answer).strip()
    number = typed_number(cleaned)
    if number is not None and 1 <= number <= len(choices):
        return choices[number - 1][0]
    wanted = cleaned.casefold()
    for value, label in choices:
        if strip_direction_marks(label).strip().casefold() == wanted:
            return value
    return None


def pick_numbered(answer: str, choices: Sequence[Sequence[str]]) -> str | None:
    """The value of the choice a typed answer names by its number alone (a reply to a
    poll: a word there is conversation, not a vote)."""
    number = typed_number(strip_direction_marks(answer).strip())
    if number is not None and 1 <= number <= len(choices):
        return choices[number - 1][0]
    return None


def pick_by_reaction(key: str, choices: Sequence[Sequence[str]]) -> str | None:
    """The value of the choice whose keycap emoji a member reacted with."""
    if key in KEYCAPS:
        index = KEYCAPS.index(key)
        if index < len(choices):
            return choices[index][0]
    return None


def with_reply(content: Mapping[str, Any], reply_to: str | None) -> dict[str, Any]:
    """``content`` answering the event ``reply_to`` (a rich reply), when there is one."""
    answered = dict(content)
    if reply_to is not None:
        answered["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    return answered


def edit_content(content: Mapping[str, Any], target: str) -> dict[str, Any]:
    """An ``m.replace`` edit of ``target`` to ``content``, with the ``"* "`` fallback body
    for clients that do not show edits; every other key (the relay marker, ``m.mentions``,
    the sender's profile) stays at the top level too."""
    new = {key: value for key, value in content.items() if key != "m.relates_to"}
    edit: dict[str, Any] = {**new, "body": "* " + str(new.get("body", ""))}
    if isinstance(new.get("formatted_body"), str):
        edit["formatted_body"] = "* " + new["formatted_body"]
    edit["m.new_content"] = new
    edit["m.relates_to"] = {"rel_type": "m.replace", "event_id": target}
    return edit


def poll_start_content(item: PollStart) -> dict[str, Any]:
    """An ``org.matrix.msc3381.poll.start`` event's content as Element sends it, answers
    named by their 0-based positions. The text (the introduction) followed by the options
    numbered is the fallback a client without polls shows, in MSC1767's block and in ``body``; the
    question carries ``body`` and ``msgtype`` too, as Element's does."""
    if not item.options:
        raise OutgoingError("a poll needs options")
    if len(item.choice_values) != len(item.options):
        raise OutgoingError("a poll needs one choice value per option")
    most = max(1, min(item.max_selections, len(item.options)))
    numbered = "\n".join(f"{n}. {label}" for n, label in enumerate(item.options, start=1))
    fallback = f"{item.text}\n{numbered}" if item.text else numbered
    return {
        TEXT: fallback,
        "body": fallback,
        POLL_START: {
            "kind": POLL_KINDS[item.disclosed],
            "max_selections": most,
            "question": {TEXT: item.question, "body": item.question, "msgtype": "m.text"},
            "answers": [
                {"id": str(index), TEXT: label} for index, label in enumerate(item.options)
            ],
        },
    }


def poll_end_content(text: str, start: str) -> dict[str, Any]:
    """An ``org.matrix.msc3381.poll.end`` of the poll ``start``, as Element sends it: the
    reference, the empty end block, and ``text`` as its fallback."""
    return {
        "m.relates_to": {"rel_type": "m.reference", "event_id": start},
        POLL_END: {},
        TEXT: text,
        "body": text,
        "msgtype": "m.text",
    }


# -- planning: the events an item becomes ------------------------------------------------------

_MSGTYPES = {
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


def parts(item: OutgoingItem, token_for: Callable[[str], int]) -> list[OutgoingItem]:
    """The item as Matrix events, each to be stored in the outbox on its own, in order.

    A reply's text goes first, with the choices, as one event (a room event holds up to
    64 KiB); then the files it introduces, one event each (uploaded when sent). Choice
    values need no tokens here (``token_for`` is for platforms whose buttons carry little).
    """
    match item:
        case BotMessage():
            files: list[OutgoingItem] = [
                dataclasses.replace(item, text="", choices=(), media=(media,))
                for media in item.media
            ]
            if item.text or item.choices or not files:
                return [dataclasses.replace(item, media=()), *files]
            return files
        case RelayedEdit() if item.of_caption:
            # Replacing a file's event with text would hide the file: the new caption
            # follows as an answer to it, under the "edited" header.
            marked = Author(header=item.edited_header, key=item.author.key)
            return [RelayedText(marked, item.origin, item.rich, item.target, joinable=False)]
        case (
            RelayedText()
            | RelayedNote()
            | RelayedMedia()
            | RelayedEdit()
            | RelayedDeletion()
            | LegacyRelay()
            | PollStart()
            | BotEdit()
            | PollEnd()
        ):
            return [item]
        case _:
            assert_never(item)


# -- rendering: one part as the sender's payload -------------------------------------------------


def render(item: OutgoingItem) -> MatrixPayload:
    """One planned part as the Matrix event the sender delivers. A reference the outbox did
    not resolve to an event is left out."""
    match item:
        case BotMessage():
            private = _private(item)
            if not item.media:
                choices = tuple((choice.value, choice.label) for choice in item.choices)
                return MatrixNotice(
                    message_content(item.text, item.choices),
                    choices,
                    private,
                    keeps_choices=item.keeps_choices,
                )
            if len(item.media) > 1 or item.text or item.choices:
                raise OutgoingError("a Matrix file event carries one file: plan the reply first")
            return MatrixBotFile(item.media[0], private)
        case RelayedText():
            content = relay_content(item.author, item.origin, item.rich)
            return MatrixMessage(content, _event_id(item.reply_to))
        case RelayedNote():
            content = relay_content(item.author, item.origin, RichText(item.note))
            return MatrixMessage(content, _event_id(item.reply_to))
        case RelayedMedia():
            return _relay_file(item)
        case RelayedEdit():
            content = relay_content(item.author, item.origin, item.rich)
            return MatrixEdit(content, _event_id(item.target))
        case RelayedDeletion():
            return MatrixRedaction(_event_id(item.target))
        case LegacyRelay():
            return legacy_payload(item.payload)
        case PollStart():
            content = poll_start_content(item)  # refuses options and values that do not pair
            choices = tuple(zip(item.choice_values, item.options, strict=True))
            return MatrixPollStart(content, choices)
        case BotEdit():
            # The bot's message says the text now; never delivered: the text goes anew.
            return MatrixEdit(message_content(item.text), _event_id(item.target))
        case PollEnd():
            start = _event_id(item.target)
            if start is None:
                # The poll never showed here: its end is said as a message of its own, and
                # the numbers offered in the room (not this poll's) stay as they are.
                return MatrixNotice(message_content(item.text), keeps_choices=True)
            return MatrixPollEnd(poll_end_content(item.text, start), start)
        case _:
            assert_never(item)


def relay_content(author: Author, origin: Platform, rich: RichText) -> dict[str, Any]:
    """An ``m.text`` event's content: the author as a per-message profile, and in the text."""
    fallback = f"<strong data-mx-profile-fallback>{escape(author.header)}: </strong>"
    return {
        "msgtype": "m.text",
        "body": f"{author.header}: {rich.text}",
        "format": "org.matrix.custom.html",
        "formatted_body": fallback + to_matrix_html(rich),
        "m.mentions": {},
        PROFILE: {"id": author.key, "displayname": author.header, "has_fallback": True},
        RELAY_MARK: {"platform": origin.value, "sender": author.key},
    }


def _relay_file(media: RelayedMedia) -> MatrixRelayFile:
    """A relayed file; its caption (MSC2530) carries the sender's name as a fallback."""
    filename = media.source.filename or _DEFAULT_NAMES.get(media.kind, "file")
    shown = media.caption if media.caption.text else RichText(filename)
    content = relay_content(media.author, media.origin, shown)
    content["msgtype"] = _MSGTYPES[media.kind]
    content["filename"] = filename
    info: dict[str, Any] = {}
    if media.source.content_type:
        info["mimetype"] = media.source.content_type
    if media.source.size:
        info["size"] = media.source.size
    content["info"] = info
    if media.kind is MediaKind.VOICE:
        content["org.matrix.msc3245.voice"] = {}
    return MatrixRelayFile(
        source=dataclasses.replace(media.source, filename=filename),
        content=content,
        fallback=relay_content(media.author, media.origin, RichText(media.unavailable_note)),
        reply_to=_event_id(media.reply_to),
    )


def _private(item: BotMessage) -> PrivateTo | None:
    if item.private_to is None:
        return None
    return PrivateTo(item.private_to, message_content(item.withheld_note))


def _event_id(ref: Ref | None) -> str | None:
    """The event id a resolved reference names."""
    return ref.message_id if isinstance(ref, MessageRef) and ref.message_id else None
