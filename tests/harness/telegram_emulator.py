"""A local Telegram Bot API server for tests: python-telegram-bot talks to it over HTTP.

Point a bot at it with ``Bot(token, base_url=emulator.base_url,
base_file_url=emulator.base_file_url)`` (or ``ApplicationBuilder().base_url(...)``). Tests act as
Telegram users through the helper methods, each of which queues an Update the way Telegram
would: ``send_text`` (with ``entities``, ``reply_to_message_id``, ``message_thread_id``),
``edit_text``, ``edit_caption``, ``send_media`` (photo, document, voice, audio, video,
animation, video_note, sticker; ``send_photo`` and ``send_document`` are shorthands),
``send_location``, ``send_contact``, ``send_poll_message``, ``send_dice``, ``send_content`` (any
other content), ``open_topic``, ``press_button``, ``block_bot`` ... They read what the bot did
through ``sent(chat_id)`` (SentMessage: kind, raw and shown text or caption, entities, reply_to,
edits, deleted, file bytes), ``message(chat_id, id)``, ``is_deleted``, ``user``, ``chat``,
``answered_callbacks()``, ``invite_links(chat_id)`` (createChatInviteLink), ``commands`` and
``requests``. ``age_message`` makes a message older
(deleteMessage refuses messages past 48 hours); ``delete_by_admin`` deletes one as a group
administrator would. The bot's polls: ``answer_poll`` (a member
votes or, with no options, takes the vote back), ``poll`` and ``poll_votes`` (a poll as it
stands and who chose what), ``expire_poll`` (its ``close_date`` arrives now); a poll closes
at its ``close_date`` or ``open_period`` by the wall clock, as Telegram closes it.

Size limits are Telegram's and can be lowered per emulator (``download_limit`` 20 MB: getFile
answers "file is too big"; ``upload_limit`` 50 MB: 413 "Request Entity Too Large";
``photo_limit`` 10 MB for sendPhoto). A member's file may declare a size larger than the bytes
stored (``declared_size``), so the 20 MB limit can be met without 20 MB in memory.

Answers follow the published Bot API shapes: ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": N, "description": "..."}`` with HTTP status N (plus
``"parameters": {"retry_after": N}`` for 429). Validation mirrors the real server where it
matters for a bot: chats that do not exist, texts that are empty or too long after entity
parsing, malformed HTML, oversized callback data, edits that change nothing, unknown callback
queries, blocked users and groups the bot has left.

Deliberate differences from Telegram:

* HTML is checked strictly against the documented rules: a bare ``&``, ``<`` or ``>`` outside
  a tag or one of the entities ``&lt; &gt; &amp; &quot; &#N; &#xH;`` is an error (Telegram
  itself tolerates some of these). MarkdownV2 and legacy Markdown are parsed by Telegram's
  rules (a reserved MarkdownV2 character not escaped, an entity not closed: "can't parse
  entities: ..." in Telegram's words); the length limits apply to the parsed text.
* Webhook URLs may be plain ``http://`` (Telegram insists on HTTPS), so a local receiver works.
* Message ids count per chat, starting at 1, for the user's and the bot's messages together.
* Photos are not decoded: a sent photo gets one fixed-size ``PhotoSize``; media durations and
  dimensions are fixed too, and any file is accepted as a voice message.
* Only deleteMessage knows about message age; bots may edit their messages at any age.
* With ``enforce_limits`` only new messages (sendMessage/Photo/Document/Poll) count.
* A poll's ``close_date`` or ``open_period`` outside 5 to 2,628,000 seconds is refused in
  the emulator's own words (Telegram's server clamps it); ``hide_results_until_closes`` and
  ``allows_revoting`` are kept on the poll, other Bot API 9.6+ poll options are ignored.

Conventions of the helpers: ``add_user`` and ``add_group`` register and return the User or
Chat and queue nothing (a group starts with the bot in it). Every other helper returns the
Update it queued; an update the bot would never get (privacy mode, a group it is not in,
a type left out by ``allowed_updates``) is not queued and comes back without "update_id".
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import html
import json
import math
import random
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Literal, Self

import aiohttp
from aiohttp import web

JSON = dict[str, Any]
FaultKind = Literal["429", "500", "502", "403", "400", "slow"]
MediaKind = Literal[
    "photo", "document", "voice", "audio", "video", "animation", "video_note", "sticker"
]

_METHODS = (
    "getMe",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "deleteMessage",
    "answerCallbackQuery",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "editMessageCaption",
    "sendPhoto",
    "sendDocument",
    "sendVoice",
    "sendAudio",
    "sendVideo",
    "getFile",
    "sendPoll",
    "stopPoll",
    "getChat",
    "getChatMember",
    "createChatInviteLink",
    "leaveChat",
    "close",
    "logOut",
)

SENDING_METHODS: frozenset[str] = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVoice",
        "sendAudio",
        "sendVideo",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
        "deleteMessage",
        "sendPoll",
        "stopPoll",
    }
)
"""The methods a fault applies to when ``inject_fault`` is given no ``methods``."""

# Methods that put a new message into a chat: these count against the send limits.
_NEW_MESSAGE_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "sendVoice", "sendAudio", "sendVideo", "sendPoll"}
)

# Update types Telegram leaves out unless they are asked for by name.
_NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MB = 1024 * 1024
DOWNLOAD_LIMIT = 20 * MB
"""getFile refuses larger files ("file is too big")."""
UPLOAD_LIMIT = 50 * MB
"""Uploads past this are answered 413 "Request Entity Too Large"."""
PHOTO_LIMIT = 10 * MB
"""sendPhoto refuses larger uploads."""
DELETE_WINDOW = 48 * 3600
"""Seconds after which a message can no longer be deleted."""
POLL_OPEN_PERIOD = (5, 2_628_000)
"""Seconds a poll may stay open (open_period, or close_date from now), since Bot API 9.6."""
WEBHOOK_RETRY_DELAY = 0.2

_CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
_CONFLICT_POLLING = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


# --------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts text and entity offsets in."""
    return len(text.encode("utf-16-le")) // 2


class HtmlParseError(ValueError):
    """Text that Telegram's parse modes (HTML, MarkdownV2, Markdown) would reject; the
    message is Telegram's wording."""


_ALLOWED_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
        "tg-time",
    }
)
_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
}
_HTML_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8}));")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_START_TAG = re.compile(r"<([a-zA-Z0-9-]+)")
_END_TAG = re.compile(r"</([a-zA-Z0-9-]*)\s*>")
_ATTRIBUTE_NAME = re.compile(r"[a-zA-Z0-9_:-]+")
_UNQUOTED_VALUE = re.compile(r"[^\s>]+")


@dataclass
class _OpenTag:
    name: str
    attributes: dict[str, str]
    start: int  # UTF-16 offset in the plain text
    language: str | None = None


def _decode_entity(match: re.Match[str]) -> str | None:
    named, decimal, hexadecimal = match.groups()
    if named is not None:
        return _NAMED_ENTITIES[named]
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def parse_html(source: str) -> tuple[str, list[JSON]]:
    """Telegram HTML -> (plain text, entities with UTF-16 offsets); raises HtmlParseError."""

    def byte_offset(index: int) -> int:
        return len(source[:index].encode("utf-8"))

    plain: list[str] = []
    position = 0  # UTF-16 length of plain so far
    entities: list[JSON] = []
    stack: list[_OpenTag] = []
    index = 0
    length = len(source)
    while index < length:
        char = source[index]
        if char == "&":
            match = _HTML_ENTITY.match(source, index)
            decoded = _decode_entity(match) if match else None
            if match is None or decoded is None:
                raise HtmlParseError(
                    f'Character "&" must be escaped as "&amp;" at byte offset {byte_offset(index)}'
                )
            plain.append(decoded)
            position += utf16_length(decoded)
            index = match.end()
        elif char == ">":
            raise HtmlParseError(
                f'Character ">" must be escaped as "&gt;" at byte offset {byte_offset(index)}'
            )
        elif char == "<" and source.startswith("</", index):
            end = _END_TAG.match(source, index)
            if end is None:
                raise HtmlParseError(f"Unclosed end tag at byte offset {byte_offset(index)}")
            name = end.group(1).lower()
            if not stack:
                raise HtmlParseError(f"Unexpected end tag at byte offset {byte_offset(index)}")
            top = stack[-1]
            if name != top.name:
                raise HtmlParseError(
                    f'Unmatched end tag at byte offset {byte_offset(index)}, expected "</'
                    f'{top.name}>", found "</{name}>"'
                )
            stack.pop()
            entity = _entity_for(top, position, stack)
            if entity is not None:
                entities.append(entity)
            index = end.end()
        elif char == "<":
            start = _START_TAG.match(source, index)
            if start is None:
                raise HtmlParseError(
                    f'Unsupported start tag "" at byte offset {byte_offset(index)}; '
                    f'escape "<" as "&lt;"'
                )
            name = start.group(1).lower()
            if name not in _ALLOWED_TAGS:
                raise HtmlParseError(
                    f'Unsupported start tag "{name}" at byte offset {byte_offset(index)}'
                )
            attributes, index = _parse_attributes(source, start.end(), name, byte_offset)
            tag = _OpenTag(name, attributes, position)
            if name == "span" and attributes.get("class") != "tg-spoiler":
                raise HtmlParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(index)}'
                )
            if name == "tg-emoji" and not attributes.get("emoji-id"):
                raise HtmlParseError(
                    f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset '
                    f"{byte_offset(index)}"
                )
            if name == "code" and stack and stack[-1].name == "pre":
                css = attributes.get("class", "")
                if css.startswith("language-"):
                    stack[-1].language = css[len("language-") :]
            stack.append(tag)
        else:
            plain.append(char)
            position += 2 if ord(char) > 0xFFFF else 1
            index += 1
    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return "".join(plain), entities


def _parse_attributes(
    source: str, index: int, tag: str, byte_offset: Callable[[int], int]
) -> tuple[dict[str, str], int]:
    attributes: dict[str, str] = {}
    length = len(source)
    while True:
        while index < length and source[index].isspace():
            index += 1
        if index >= length:
            raise HtmlParseError(f"Unclosed start tag at byte offset {byte_offset(index)}")
        if source[index] == ">":
            return attributes, index + 1
        name_match = _ATTRIBUTE_NAME.match(source, index)
        if name_match is None:
            raise HtmlParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset {byte_offset(index)}'
            )
        name = name_match.group(0).lower()
        index = name_match.end()
        while index < length and source[index].isspace():
            index += 1
        value = ""
        if index < length and source[index] == "=":
            index += 1
            while index < length and source[index].isspace():
                index += 1
            if index >= length:
                raise HtmlParseError(f"Unclosed start tag at byte offset {byte_offset(index)}")
            if source[index] in "\"'":
                quote = source[index]
                close = source.find(quote, index + 1)
                if close < 0:
                    raise HtmlParseError(f"Unclosed start tag at byte offset {byte_offset(index)}")
                value = html.unescape(source[index + 1 : close])
                index = close + 1
            else:
                unquoted = _UNQUOTED_VALUE.match(source, index)
                if unquoted is None:
                    raise HtmlParseError(f"Unclosed start tag at byte offset {byte_offset(index)}")
                value = html.unescape(unquoted.group(0))
                index = unquoted.end()
        attributes[name] = value


def _entity_for(tag: _OpenTag, end: int, outer: list[_OpenTag]) -> JSON | None:
    length = end - tag.start
    if length <= 0:
        return None
    entity: JSON = {"offset": tag.start, "length": length}
    name = tag.name
    if name in _SIMPLE_TAGS:
        entity["type"] = _SIMPLE_TAGS[name]
    elif name == "span":
        entity["type"] = "spoiler"
    elif name == "a":
        href = tag.attributes.get("href")
        if not href:
            return None
        entity["type"] = "text_link"
        entity["url"] = href
    elif name == "code":
        if outer and outer[-1].name == "pre":
            return None  # <pre><code class="language-x"> is one pre entity
        entity["type"] = "code"
    elif name == "pre":
        entity["type"] = "pre"
        if tag.language:
            entity["language"] = tag.language
    elif name == "blockquote":
        entity["type"] = "expandable_blockquote" if "expandable" in tag.attributes else "blockquote"
    elif name == "tg-emoji":
        entity["type"] = "custom_emoji"
        entity["custom_emoji_id"] = tag.attributes["emoji-id"]
    elif name == "tg-time":
        unix = tag.attributes.get("unix", "")
        if not unix.isdigit():
            return None
        entity["type"] = "date_time"
        entity["unix_time"] = int(unix)
        if tag.attributes.get("format"):
            entity["date_time_format"] = tag.attributes["format"]
    else:  # pragma: no cover - every allowed tag is handled above
        return None
    return entity


# Telegram's names for entity types in its parse errors ("Can't find end of Bold entity ...").
_MARKDOWN_TYPE_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}
_MARKDOWN_V2_RESERVED = "_*[]()~`>#+-=|{}.!"


@dataclass
class _OpenMarkdown:
    kind: str
    start: int  # UTF-16 offset in the plain text
    byte_start: int
    plain_index: int  # index in the list of plain pieces
    language: str = ""


def _reserved(char: str) -> HtmlParseError:
    return HtmlParseError(
        f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
    )


def _skip_pre_language(source: str, index: int) -> tuple[str, int]:
    """After an opening triple backtick: the language named on its line (if any) and where
    the code starts (one line break after the opening is not part of it)."""
    end = index
    while end < len(source) and not source[end].isspace() and source[end] != "`":
        end += 1
    language = ""
    if end != index and end < len(source) and source[end] != "`":
        language, index = source[index:end], end
    if source[index : index + 1] in ("\n", "\r"):
        pair = source[index : index + 2]
        index += 2 if pair in ("\r\n", "\n\r") else 1
    return language, index


def parse_markdown_v2(source: str) -> tuple[str, list[JSON]]:
    """Telegram MarkdownV2 -> (plain text, entities with UTF-16 offsets), following the
    published rules (every reserved character outside an entity's markup escaped with "\\");
    raises HtmlParseError with Telegram's wording."""

    def byte_offset(index: int) -> int:
        return len(source[:index].encode("utf-8"))

    plain: list[str] = []
    position = 0
    entities: list[JSON] = []
    stack: list[_OpenMarkdown] = []
    quote_start: int | None = None
    index, length = 0, len(source)
    while index < length:
        char = source[index]
        after = source[index + 1 : index + 2]
        if char == "\\" and after and 0 < ord(after) <= 126:
            plain.append(after)
            position += 1
            index += 2
            continue
        in_code = bool(stack) and stack[-1].kind in ("code", "pre")
        if char == ">" and not in_code and (index == 0 or source[index - 1] == "\n"):
            if quote_start is None:
                quote_start = position
            index += 1
            continue
        if char not in ("`" if in_code else _MARKDOWN_V2_RESERVED):
            plain.append(char)
            position += utf16_length(char)
            index += 1
            if char == "\n" and quote_start is not None and source[index : index + 1] != ">":
                if position - 1 > quote_start:
                    entities.append(
                        {
                            "type": "blockquote",
                            "offset": quote_start,
                            "length": position - 1 - quote_start,
                        }
                    )
                quote_start = None
            continue
        top = stack[-1].kind if stack else ""
        ends = (
            (top == "bold" and char == "*")
            or (top == "italic" and char == "_" and after != "_")
            or (top == "underline" and source.startswith("__", index))
            or (top == "strikethrough" and char == "~")
            or (top == "spoiler" and source.startswith("||", index))
            or (top == "code" and char == "`")
            or (top == "pre" and source.startswith("```", index))
            or (top in ("text_link", "custom_emoji") and char == "]")
        )
        if not ends:
            opened = _OpenMarkdown("", position, byte_offset(index), len(plain))
            if char == "_":
                opened.kind = "underline" if after == "_" else "italic"
                index += 2 if after == "_" else 1
            elif char in "*~[":
                opened.kind = {"*": "bold", "~": "strikethrough", "[": "text_link"}[char]
                index += 1
            elif char == "|" and after == "|":
                opened.kind = "spoiler"
                index += 2
            elif char == "!" and after == "[":
                opened.kind = "custom_emoji"
                index += 2
            elif char == "`" and source.startswith("```", index):
                opened.kind = "pre"
                opened.language, index = _skip_pre_language(source, index + 3)
                opened.plain_index = len(plain)
            elif char == "`":
                opened.kind = "code"
                index += 1
            else:
                raise _reserved(char)
            stack.append(opened)
            continue
        entity = stack.pop()
        found: JSON = {
            "type": entity.kind,
            "offset": entity.start,
            "length": position - entity.start,
        }
        index += {"underline": 2, "spoiler": 2, "pre": 3}.get(entity.kind, 1)
        if entity.kind == "pre" and entity.language:
            found["language"] = entity.language
        if entity.kind in ("text_link", "custom_emoji"):
            url = "".join(plain[entity.plain_index :])
            if source[index : index + 1] == "(":
                index += 1
                url_start, url_chars = index, []
                while index < length and source[index] != ")":
                    if (
                        source[index] == "\\"
                        and 0 < ord(source[index + 1 : index + 2] or "\0") <= 126
                    ):
                        url_chars.append(source[index + 1])
                        index += 2
                        continue
                    url_chars.append(source[index])
                    index += 1
                if index >= length:
                    raise HtmlParseError(
                        f"Can't find end of a URL at byte offset {byte_offset(url_start)}"
                    )
                url = "".join(url_chars)
                index += 1
            if entity.kind == "custom_emoji":
                emoji_id = url.removeprefix("tg://emoji?id=")
                if emoji_id == url or not emoji_id.isdigit():
                    raise HtmlParseError("Custom emoji URL must have an emoji identifier")
                found["custom_emoji_id"] = emoji_id
            else:
                found["url"] = url
        if found["length"] > 0:
            entities.append(found)
    if stack:
        entity = stack[-1]
        raise HtmlParseError(
            f"Can't find end of {_MARKDOWN_TYPE_NAMES[entity.kind]} entity at byte offset "
            f"{entity.byte_start}"
        )
    if quote_start is not None and position > quote_start:
        entities.append(
            {"type": "blockquote", "offset": quote_start, "length": position - quote_start}
        )
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return "".join(plain), entities


def parse_markdown(source: str) -> tuple[str, list[JSON]]:
    """Telegram's legacy Markdown -> (plain text, entities): ``*bold*``, ``_italic_``,
    ```code```, ``[text](url)`` and pre blocks, "\\" escaping only those four characters;
    raises HtmlParseError with Telegram's wording."""
    plain: list[str] = []
    position = 0
    entities: list[JSON] = []
    index, length = 0, len(source)
    while index < length:
        char = source[index]
        if char == "\\" and source[index + 1 : index + 2] in ("_", "*", "`", "["):
            plain.append(source[index + 1])
            position += 1
            index += 2
            continue
        if char not in "_*`[":
            plain.append(char)
            position += utf16_length(char)
            index += 1
            continue
        begin = index
        end_char = "]" if char == "[" else char
        index += 1
        is_pre = char == "`" and source.startswith("``", index)
        language = ""
        if is_pre:
            language, index = _skip_pre_language(source, index + 2)
        start = position
        while index < length and (
            source[index] != end_char or (is_pre and not source.startswith("```", index))
        ):
            plain.append(source[index])
            position += utf16_length(source[index])
            index += 1
        if index >= length:
            raise HtmlParseError(
                "Can't find end of the entity starting at byte offset "
                f"{len(source[:begin].encode('utf-8'))}"
            )
        entity: JSON = {"offset": start, "length": position - start}
        if char == "[":
            url = source[begin + 1 : index]
            if source[index + 1 : index + 2] == "(":
                close = source.find(")", index + 2)
                close = length if close < 0 else close
                url = source[index + 2 : close]
                index = close
            entity.update(type="text_link", url=url)
        elif is_pre:
            entity["type"] = "pre"
            if language:
                entity["language"] = language
            index += 2
        else:
            entity["type"] = {"_": "italic", "*": "bold", "`": "code"}[char]
        index += 1
        if entity["length"] > 0:
            entities.append(entity)
    return "".join(plain), entities


_PARSERS: dict[str, Callable[[str], tuple[str, list[JSON]]]] = {
    "html": parse_html,
    "markdownv2": parse_markdown_v2,
    "markdown": parse_markdown,
}


def html_to_plain(source: str) -> str:
    """What a user sees of Telegram HTML: tags removed, entities decoded (lenient)."""
    try:
        return parse_html(source)[0]
    except HtmlParseError:
        return html.unescape(re.sub(r"<[^>]*>", "", source))


# --------------------------------------------------------------------------------------------
# Records tests read
# --------------------------------------------------------------------------------------------


@dataclass
class SentMessage:
    """A message the bot got accepted, as it stands now (``text`` follows edits)."""

    message_id: int
    chat_id: int
    kind: str  # "text" | "photo" | "document" | "voice" | "audio" | "video" | "poll"
    text: str | None = None  # raw, as sent (e.g. HTML source); for polls the question
    parse_mode: str | None = None
    reply_markup: JSON | None = None
    caption: str | None = None
    file_bytes: bytes | None = None
    filename: str | None = None
    accepted_at: float = 0.0
    edits: list[str] = field(default_factory=list)  # each edit's new text or caption, raw
    deleted: bool = False
    poll: JSON | None = None  # the Poll object, for kind "poll"
    mime_type: str | None = None
    shown: str = ""
    """The text or caption as Telegram parsed it (what members see), following edits."""
    entities: list[JSON] = field(default_factory=list)
    """The entities (or caption_entities) Telegram made of it, UTF-16 offsets, following edits."""
    reply_to: int | None = None
    """The message_id this one answers, when Telegram attached a reply."""
    thread_id: int | None = None
    """The forum topic it went to (message_thread_id), if any."""
    shown_edits: list[str] = field(default_factory=list)
    """Each edit as members saw it (parsed), in order."""

    @property
    def plain_text(self) -> str:
        """The text (or caption) as the user sees it: HTML tags removed, entities decoded."""
        source = self.text if self.text is not None else self.caption
        if source is None:
            return ""
        if self.kind != "poll" and (self.parse_mode or "").lower() == "html":
            return html_to_plain(source)
        return source

    @property
    def button_data(self) -> list[str]:
        """Every callback_data on the message's inline keyboard, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [
            button["callback_data"]
            for row in rows
            for button in row
            if isinstance(button, dict) and "callback_data" in button
        ]


@dataclass
class RequestLog:
    """One call the bot made."""

    method: str
    time: float  # the emulator clock (time.monotonic() by default) when the call arrived
    status: int = 0  # HTTP status of the answer
    content_type: str = ""  # how the parameters were encoded
    params: JSON = field(default_factory=dict)  # decoded; uploads shown as "<file name (N B)>"
    description: str | None = None  # error description, for failed calls


class _ConfirmedOffset(int):
    """An int that can also be called, so ``confirmed_offset`` and ``confirmed_offset()``
    both read it."""

    def __call__(self) -> int:
        return int(self)


# --------------------------------------------------------------------------------------------
# Internal state
# --------------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer: HTTP status == error_code."""

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass
class _User:
    id: int
    first_name: str
    username: str | None
    language_code: str | None

    def to_json(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data


@dataclass
class _Message:
    data: JSON
    from_bot: bool
    sent: SentMessage | None = None
    deleted: bool = False


@dataclass
class _Chat:
    id: int
    type: str  # "private" | "group" | "supergroup" | "channel"
    title: str | None = None
    user: _User | None = None
    bot_status: str = "member"  # "member" | "kicked" | "left"
    is_forum: bool = False
    bot_can_delete: bool = False  # an administrator allowed to delete others' messages
    bot_can_invite: bool = False  # an administrator allowed to invite users (invite links)
    bot_can_send: bool = True  # groups: False when an admin restricted the bot
    topics: set[int] = field(default_factory=set)  # message ids of forum topics' roots
    started: bool = True  # private chats: has the user ever written to the bot?
    last_message_id: int = 0
    messages: dict[int, _Message] = field(default_factory=dict)
    sends: deque[float] = field(default_factory=deque)
    tokens: float = 3.0
    tokens_at: float | None = None

    def to_json(self) -> JSON:
        if self.type == "private":
            assert self.user is not None
            data: JSON = {"id": self.id, "type": "private", "first_name": self.user.first_name}
            if self.user.username:
                data["username"] = self.user.username
            return data
        data = {"id": self.id, "type": self.type, "title": self.title}
        if self.is_forum:
            data["is_forum"] = True
        return data

    def next_message_id(self) -> int:
        self.last_message_id += 1
        return self.last_message_id


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    data: bytes
    path: str
    name: str | None = None
    mime_type: str | None = None
    declared_size: int | None = None  # the size Telegram reports, when more than ``data``

    @property
    def size(self) -> int:
        return self.declared_size if self.declared_size is not None else len(self.data)


@dataclass
class _Poll:
    id: str
    chat_id: int
    message_id: int
    data: JSON
    votes: dict[int, list[int]] = field(default_factory=dict)
    closes_at: float | None = None  # Unix time of its close_date or open_period's end


@dataclass
class _Fault:
    kind: FaultKind
    methods: frozenset[str]
    times: int | None
    rate: float | None
    retry_after: int
    delay: float
    rng: random.Random


class _Params:
    """Parameters of one call, from a query string, a form (urlencoded or multipart) or JSON."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def get(self, name: str) -> Any:
        return self.raw.get(name)

    def string(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, web.FileField):
            raise _bad(f'parameter "{name}" must be a string')
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        return json.dumps(value)

    def integer(self, name: str) -> int | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise _bad(f'parameter "{name}" must be an integer') from None
        raise _bad(f'parameter "{name}" must be an integer')

    def number(self, name: str) -> float | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise _bad(f'parameter "{name}" must be a number') from None
        raise _bad(f'parameter "{name}" must be a number')

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.raw.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes")
        return bool(value)

    def parsed(self, name: str, error: str | None = None) -> Any:
        value = self.raw.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise _bad(error or f"can't parse {name} JSON object") from None
        return value


def _close_uploads(raw: dict[str, Any]) -> None:
    """aiohttp spools uploads to temporary files: close them once the call is answered."""
    for value in raw.values():
        if isinstance(value, web.FileField):
            value.file.close()


def _describe_params(raw: dict[str, Any]) -> JSON:
    described: JSON = {}
    for key, value in raw.items():
        if isinstance(value, web.FileField):
            size = len(value.file.read())
            value.file.seek(0)
            described[key] = f"<file {value.filename} ({size} B)>"
        else:
            described[key] = value
    return described


# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------


class BotApiEmulator:
    """An in-process Telegram Bot API server on 127.0.0.1 for one bot token."""

    def __init__(
        self,
        token: str,
        *,
        bot_id: int = 777000111,
        username: str = "caucus_test_bot",
        can_read_all_group_messages: bool = True,
        enforce_limits: bool = False,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.token = token
        self.bot_id = bot_id
        self.username = username
        self.can_read_all_group_messages = can_read_all_group_messages
        self.enforce_limits = enforce_limits
        self.clock: Callable[[], float] = clock or time.monotonic
        """Time source for accepted_at, request times and the send limits; replaceable."""
        self.download_limit = DOWNLOAD_LIMIT
        self.upload_limit = UPLOAD_LIMIT
        self.photo_limit = PHOTO_LIMIT
        """Size limits in bytes; lower them so a test need not send 50 MB."""

        self.base_url = ""
        self.base_file_url = ""
        self.port = 0

        self.commands: dict[tuple[str | None, str], list[tuple[str, str]]] = {}
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.webhook_target: str | None = None
        """Where webhook deliveries really go, when set: stands in for the reverse proxy in
        front of a bot whose public webhook URL (e.g. https://bot.example.org/...) is not
        reachable from the tests. None: deliver to the URL the bot registered."""
        self.webhook_deliveries: list[tuple[int, int]] = []  # (update_id, status; 0 = no answer)
        self.requests: list[RequestLog] = []

        self._users: dict[int, _User] = {}
        self._chats: dict[int, _Chat] = {}
        self._sent: list[SentMessage] = []
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._polls: dict[str, _Poll] = {}
        self._invite_links: dict[int, list[JSON]] = {}
        self._callbacks: dict[str, JSON] = {}  # query id -> the CallbackQuery
        self._answered: dict[str, JSON] = {}
        self._commands_full: dict[tuple[str | None, str], list[tuple[str, str]]] = {}
        self._faults: list[_Fault] = []
        self._global_sends: deque[float] = deque()

        self._updates: list[JSON] = []
        self._last_update_id = 0
        self._confirmed = 0
        self._allowed_updates: frozenset[str] | None = None
        self._changed = asyncio.Event()
        self._poll_generation = 0
        self._closing = False
        self._counter = 0
        self._webhook_allowed: frozenset[str] | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_last_error: tuple[int, str] | None = None
        self._webhook_max_connections = 40

        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._methods: dict[str, Callable[[_Params], Awaitable[Any]]] = {
            name.lower(): handler
            for name, handler in {
                "getMe": self._get_me,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageCaption": self._edit_message_caption,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "answerCallbackQuery": self._answer_callback_query,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "sendPhoto": self._send_photo,
                "sendDocument": self._send_document,
                "sendVoice": self._send_voice,
                "sendAudio": self._send_audio,
                "sendVideo": self._send_video,
                "getFile": self._get_file,
                "sendPoll": self._send_poll,
                "stopPoll": self._stop_poll,
                "getChat": self._get_chat,
                "getChatMember": self._get_chat_member,
                "createChatInviteLink": self._create_chat_invite_link,
                "leaveChat": self._leave_chat,
                "close": self._close,
                "logOut": self._log_out,
            }.items()
        }
        self._canonical = {name.lower(): name for name in (*_METHODS,)}

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        address = self._runner.addresses[0]
        self.port = int(address[1])
        self.base_url = f"http://127.0.0.1:{self.port}/bot"
        self.base_file_url = f"http://127.0.0.1:{self.port}/file/bot"
        self._session = aiohttp.ClientSession()
        self._closing = False
        if self.webhook_url is not None:
            self._restart_webhook_worker()

    async def stop(self) -> None:
        self._closing = True
        self._notify()
        await self._stop_webhook_worker()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ---------------------------------------------------------------- acting as users

    @property
    def bot_user(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Caucus Test Bot",
            "username": self.username,
        }

    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        language_code: str | None = "en",
        username: str | None = None,
        started: bool = True,
    ) -> JSON:
        """Register a user and their private chat (chat id == user id); returns the User.

        Queues no update. ``started=False`` models a user who never wrote to the bot: sends to
        them answer 403 until they send something in private."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user = _User(user_id, first_name, username, language_code)
        self._users[user_id] = user
        chat = self._chats.get(user_id)
        if chat is None:
            self._chats[user_id] = _Chat(user_id, "private", user=user, started=started)
        else:
            chat.user = user
        return user.to_json()

    def user(self, user_id: int) -> JSON | None:
        """The User registered under ``user_id``, or ``None``."""
        user = self._users.get(user_id)
        return user.to_json() if user is not None else None

    def chat(self, chat_id: int) -> JSON | None:
        """The Chat registered under ``chat_id`` (a group or a private chat), or ``None``."""
        chat = self._chats.get(chat_id)
        return chat.to_json() if chat is not None else None

    def add_group(
        self,
        chat_id: int,
        title: str,
        *,
        supergroup: bool = True,
        forum: bool = False,
        bot_can_delete_messages: bool = False,
        bot_can_invite_users: bool = False,
    ) -> JSON:
        """Register a group with the bot already in it; returns the Chat. Queues no update.

        ``forum``: a supergroup with topics (see ``open_topic``). ``bot_can_delete_messages``:
        the bot is an administrator that may delete members' messages, not just its own.
        ``bot_can_invite_users``: an administrator that may make invite links."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        chat = _Chat(
            chat_id,
            "supergroup" if supergroup or forum else "group",
            title=title,
            is_forum=forum,
            bot_can_delete=bot_can_delete_messages,
            bot_can_invite=bot_can_invite_users,
        )
        self._chats[chat_id] = chat
        return chat.to_json()

    def add_channel(self, chat_id: int, title: str) -> JSON:
        """Register a channel with the bot as an administrator that may post; returns the
        Chat. Queues no update."""
        if chat_id >= 0:
            raise ValueError("channel chat ids are negative")
        chat = _Chat(chat_id, "channel", title=title)
        self._chats[chat_id] = chat
        return chat.to_json()

    def open_topic(self, user_id: int, chat_id: int, name: str) -> JSON:
        """The user creates a forum topic: returns the Update of its "forum_topic_created"
        service message, whose message_id is the topic's ``message_thread_id``."""
        user, chat = self._user_in_chat(user_id, chat_id)
        if not chat.is_forum:
            raise ValueError(f"chat {chat_id} is not a forum: add_group(..., forum=True)")
        message = self._user_message(user, chat, None)
        message["message_thread_id"] = message["message_id"]
        message["is_topic_message"] = True
        message["forum_topic_created"] = {"name": name, "icon_color": 7322096}
        chat.topics.add(message["message_id"])
        return self._emit("message", message, visible=self._bot_sees(chat, message, None))

    def send_text(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        reply_to_message_id: int | None = None,
        entities: list[JSON] | None = None,
        message_thread_id: int | None = None,
    ) -> JSON:
        """The user sends ``text`` (a command if it starts with "/"); returns the Update.

        ``entities`` are Bot API MessageEntity dicts (UTF-16 offsets; ``parse_html`` makes
        them from HTML); without them a leading command gets its "bot_command" entity.
        ``message_thread_id`` posts into a forum topic (``open_topic``); there, a message
        that replies to nothing else carries the topic's root as ``reply_to_message``, as
        Telegram does.

        A message the bot would not see (a group it is not in, or privacy mode and the message
        is neither a command, a mention nor a reply to the bot) is stored but not queued: the
        returned dict then has no "update_id"."""
        content: JSON = {"text": text}
        found = _command_entities(text) if entities is None else _checked(text, entities)
        if found:
            content["entities"] = found
        return self._post(
            user_id, chat_id, content, text,
            reply_to=reply_to_message_id, thread_id=message_thread_id,
        )  # fmt: skip

    def edit_text(
        self,
        user_id: int,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        entities: list[JSON] | None = None,
    ) -> JSON:
        """The user edits their own text message; returns the "edited_message" Update."""
        chat, stored = self._own_message(user_id, chat_id, message_id, "text")
        found = _command_entities(text) if entities is None else _checked(text, entities)
        stored.data["text"] = text
        stored.data.pop("entities", None)
        if found:
            stored.data["entities"] = found
        return self._emit_edit(chat, stored, text)

    def edit_caption(
        self,
        user_id: int,
        chat_id: int,
        message_id: int,
        caption: str,
        *,
        caption_entities: list[JSON] | None = None,
    ) -> JSON:
        """The user changes the caption of their own file ("" removes it); returns the
        "edited_message" Update."""
        chat, stored = self._own_message(user_id, chat_id, message_id, "caption")
        stored.data.pop("caption", None)
        stored.data.pop("caption_entities", None)
        if caption:
            self._add_caption(stored.data, caption, caption_entities)
        return self._emit_edit(chat, stored, caption)

    def send_photo(
        self,
        user_id: int,
        data: bytes,
        *,
        chat_id: int | None = None,
        caption: str | None = None,
        caption_entities: list[JSON] | None = None,
        reply_to_message_id: int | None = None,
        message_thread_id: int | None = None,
        declared_size: int | None = None,
    ) -> JSON:
        """The user sends a photo; its PhotoSize file_ids can be fetched with getFile."""
        return self.send_media(
            user_id, "photo", data, chat_id=chat_id, caption=caption,
            caption_entities=caption_entities, reply_to_message_id=reply_to_message_id,
            message_thread_id=message_thread_id, declared_size=declared_size,
        )  # fmt: skip

    def send_document(
        self,
        user_id: int,
        data: bytes,
        filename: str,
        mime_type: str,
        *,
        chat_id: int | None = None,
        caption: str | None = None,
        caption_entities: list[JSON] | None = None,
        reply_to_message_id: int | None = None,
        message_thread_id: int | None = None,
        declared_size: int | None = None,
    ) -> JSON:
        """The user sends a file; document.file_id can be fetched with getFile."""
        return self.send_media(
            user_id, "document", data, chat_id=chat_id, caption=caption,
            caption_entities=caption_entities, filename=filename, mime_type=mime_type,
            reply_to_message_id=reply_to_message_id, message_thread_id=message_thread_id,
            declared_size=declared_size,
        )  # fmt: skip

    def send_media(
        self,
        user_id: int,
        kind: MediaKind,
        data: bytes,
        *,
        chat_id: int | None = None,
        caption: str | None = None,
        caption_entities: list[JSON] | None = None,
        filename: str | None = None,
        mime_type: str | None = None,
        reply_to_message_id: int | None = None,
        message_thread_id: int | None = None,
        declared_size: int | None = None,
    ) -> JSON:
        """The user sends a file of ``kind``: "photo", "document", "voice", "audio", "video",
        "animation", "video_note" or "sticker"; returns the Update.

        The file can be fetched with getFile and downloaded. ``declared_size`` makes Telegram
        report (and getFile judge) that size instead of ``len(data)``, so a 25 MB file needs
        no 25 MB in memory. Stickers and video notes take no caption; an animation carries a
        "document" too, as Telegram sends it; a sticker's ``mime_type`` picks its format
        (image/webp, application/x-tgsticker for animated, video/webm for video)."""
        if kind not in _MEDIA_KINDS:
            raise ValueError(f"unknown media kind {kind!r}; one of {sorted(_MEDIA_KINDS)}")
        if caption is not None and kind in ("sticker", "video_note"):
            raise ValueError(f"a {kind} has no caption")
        folder, extension, default_mime = _MEDIA_KINDS[kind]
        mime = mime_type or default_mime
        if filename is not None:
            extension = _extension(filename) or extension
        stored = self._store_file(
            data, folder, extension, filename, mime, declared_size=declared_size, kind=kind
        )
        content: JSON = {}
        if kind == "photo":
            small = self._store_file(data[:1024], folder, extension, kind=kind)
            content["photo"] = [_photo_size(small, 90, 90), _photo_size(stored, 800, 800)]
        else:
            content[kind] = _media_object(kind, stored)
            if kind == "animation":
                content["document"] = _media_object("document", stored)
            if kind == "sticker" and mime != "image/webp":
                # Animated and video stickers come with a still WebP thumbnail.
                still = self._store_file(b"RIFF-still-" + data[:64], "thumbnails", ".webp")
                content[kind]["thumbnail"] = _photo_size(still, 128, 128)
        self._add_caption(content, caption, caption_entities)
        return self._post(
            user_id, chat_id, content, caption,
            reply_to=reply_to_message_id, thread_id=message_thread_id,
        )  # fmt: skip

    def send_location(
        self,
        user_id: int,
        latitude: float,
        longitude: float,
        *,
        chat_id: int | None = None,
        title: str | None = None,
        address: str = "",
    ) -> JSON:
        """The user shares a location; with ``title`` a venue (which carries its location
        too, as Telegram sends it)."""
        location = {"latitude": latitude, "longitude": longitude}
        content: JSON = {"location": location}
        if title is not None:
            content["venue"] = {"location": location, "title": title, "address": address}
        return self._post(user_id, chat_id, content, None)

    def send_contact(
        self,
        user_id: int,
        phone_number: str,
        first_name: str,
        *,
        chat_id: int | None = None,
        contact_user_id: int | None = None,
    ) -> JSON:
        """The user shares a contact card."""
        contact: JSON = {"phone_number": phone_number, "first_name": first_name}
        if contact_user_id is not None:
            contact["user_id"] = contact_user_id
        return self._post(user_id, chat_id, {"contact": contact}, None)

    def send_poll_message(
        self,
        user_id: int,
        question: str,
        options: list[str],
        *,
        chat_id: int | None = None,
    ) -> JSON:
        """The user posts a (regular, anonymous) poll of their own."""
        poll: JSON = {
            "id": str(6_000_000_000_000_000_000 + self._next_counter()),
            "question": question,
            "options": [
                {"text": text, "voter_count": 0, "persistent_id": str(index)}
                for index, text in enumerate(options)
            ],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
            "allows_revoting": True,
            "members_only": False,
        }
        return self._post(user_id, chat_id, {"poll": poll}, None)

    def send_dice(
        self, user_id: int, *, chat_id: int | None = None, emoji: str = "🎲", value: int = 4
    ) -> JSON:
        """The user throws a dice (or another animated emoji with a random value)."""
        return self._post(user_id, chat_id, {"dice": {"emoji": emoji, "value": value}}, None)

    def send_content(
        self,
        user_id: int,
        content: JSON,
        *,
        chat_id: int | None = None,
        reply_to_message_id: int | None = None,
        message_thread_id: int | None = None,
    ) -> JSON:
        """The user sends a message made of ``content``: any Message fields besides the
        envelope, e.g. ``{"story": {"chat": ..., "id": 7}}`` or ``{"game": {...}}``."""
        return self._post(
            user_id, chat_id, copy.deepcopy(content), None,
            reply_to=reply_to_message_id, thread_id=message_thread_id,
        )  # fmt: skip

    def age_message(self, chat_id: int, message_id: int, hours: float) -> None:
        """Make a message (anyone's) ``hours`` older: past 48 hours it can't be deleted."""
        stored = self._known_chat(chat_id).messages.get(message_id)
        if stored is None:
            raise ValueError(f"no message {message_id} in chat {chat_id}")
        stored.data["date"] -= int(hours * 3600)

    def delete_by_admin(self, chat_id: int, message_id: int) -> None:
        """A group administrator deletes a message (the bot's too); Telegram tells bots of
        no deletion, so no update is queued."""
        stored = self._known_chat(chat_id).messages.get(message_id)
        if stored is None:
            raise ValueError(f"no message {message_id} in chat {chat_id}")
        stored.deleted = True
        if stored.sent is not None:
            stored.sent.deleted = True

    def press_button(
        self,
        user_id: int,
        chat_id: int,
        message_id: int,
        callback_data: str,
        *,
        strict: bool = True,
    ) -> JSON:
        """The user presses an inline button; returns the "callback_query" Update.

        With ``strict`` the message must currently carry a button with that callback_data;
        ``strict=False`` models a press on a keyboard the client still shows after a change."""
        user = self._known_user(user_id)
        chat = self._known_chat(chat_id)
        stored = chat.messages.get(message_id)
        if stored is None or stored.deleted:
            raise ValueError(f"no message {message_id} in chat {chat_id}")
        if strict:
            rows = (stored.data.get("reply_markup") or {}).get("inline_keyboard", [])
            data = [button.get("callback_data") for row in rows for button in row]
            if callback_data not in data:
                raise ValueError(
                    f"message {message_id} in chat {chat_id} has no button with callback_data "
                    f"{callback_data!r} (it has {data!r}); pass strict=False to press anyway"
                )
        query: JSON = {
            "id": str(4_000_000_000_000_000_000 + self._next_counter()),
            "from": user.to_json(),
            "message": copy.deepcopy(stored.data),
            "chat_instance": str(abs(chat.id) * 7919 + 17),
            "data": callback_data,
        }
        update = self._emit("callback_query", query)
        if "update_id" in update:  # only a delivered query can be answered
            self._callbacks[query["id"]] = query
        return update

    def block_bot(self, user_id: int) -> JSON:
        """The user blocks the bot: "my_chat_member" member -> kicked; sends then answer 403."""
        user = self._known_user(user_id)
        chat = self._chats[user_id]
        old = chat.bot_status
        chat.bot_status = "kicked"
        return self._emit("my_chat_member", self._member_update(chat, user, old, "kicked"))

    def unblock_bot(self, user_id: int) -> JSON:
        """The user unblocks the bot: "my_chat_member" kicked -> member."""
        user = self._known_user(user_id)
        chat = self._chats[user_id]
        old = chat.bot_status
        chat.bot_status = "member"
        chat.started = True
        return self._emit("my_chat_member", self._member_update(chat, user, old, "member"))

    def add_bot_to_group(self, user_id: int, chat_id: int) -> JSON:
        """The user adds the bot to the group: "my_chat_member" left -> member."""
        user = self._known_user(user_id)
        chat = self._known_chat(chat_id)
        if chat.type == "private":
            raise ValueError("add_bot_to_group needs a group")
        chat.bot_status = "member"
        return self._emit("my_chat_member", self._member_update(chat, user, "left", "member"))

    def remove_bot_from_group(self, user_id: int, chat_id: int) -> JSON:
        """The user removes the bot: "my_chat_member" member -> left; sends then answer 403."""
        user = self._known_user(user_id)
        chat = self._known_chat(chat_id)
        if chat.type == "private":
            raise ValueError("remove_bot_from_group needs a group")
        old = chat.bot_status
        chat.bot_status = "left"
        return self._emit("my_chat_member", self._member_update(chat, user, old, "left"))

    def answer_poll(self, user_id: int, poll_id: str, option_ids: list[int]) -> JSON:
        """The user votes (an empty list retracts the vote).

        Returns a "poll_answer" Update for a non-anonymous poll, and for an anonymous poll the
        "poll" Update with the new counts, which is all Telegram tells a bot about those."""
        user = self._known_user(user_id)
        poll = self._polls.get(poll_id)
        if poll is None:
            raise ValueError(f"no poll {poll_id!r}; the bot sent {sorted(self._polls)!r}")
        self._close_if_due(poll)
        data = poll.data
        if data["is_closed"]:
            raise ValueError(f"poll {poll_id} is closed")
        if user_id in poll.votes and not data["allows_revoting"]:
            raise ValueError(f"poll {poll_id} allows no change of an answer")
        options = data["options"]
        if any(not 0 <= option < len(options) for option in option_ids):
            raise ValueError(f"poll {poll_id} has options 0..{len(options) - 1}")
        if len(option_ids) > 1 and not data["allows_multiple_answers"]:
            raise ValueError(f"poll {poll_id} allows one answer")
        for option in poll.votes.pop(user_id, []):
            options[option]["voter_count"] -= 1
        if option_ids:
            poll.votes[user_id] = list(option_ids)
            for option in option_ids:
                options[option]["voter_count"] += 1
        data["total_voter_count"] = len(poll.votes)
        self._refresh_poll_message(poll)
        if data["is_anonymous"]:
            return self._emit("poll", copy.deepcopy(data))
        answer: JSON = {
            "poll_id": poll_id,
            "user": user.to_json(),
            "option_ids": list(option_ids),
            "option_persistent_ids": [options[i]["persistent_id"] for i in option_ids],
        }
        return self._emit("poll_answer", answer)

    def expire_poll(self, poll_id: str) -> JSON:
        """The poll's close_date (or open_period) arrives now: Telegram closes it, and tells
        the bot with a "poll" update (when asked for)."""
        poll = self._known_poll(poll_id)
        if poll.closes_at is None or poll.data["is_closed"]:
            raise ValueError(f"poll {poll_id} has no closing time to arrive, or is closed")
        poll.closes_at = time.time()
        return self._close_if_due(poll) or {}

    def poll(self, poll_id: str) -> JSON:
        """The bot's poll as it stands now (closed once its closing time passed)."""
        poll = self._known_poll(poll_id)
        self._close_if_due(poll)
        return copy.deepcopy(poll.data)

    def poll_votes(self, poll_id: str) -> dict[int, list[int]]:
        """Who chose what in the bot's poll: user id -> 0-based options (no entry: no vote)."""
        return copy.deepcopy(self._known_poll(poll_id).votes)

    def _known_poll(self, poll_id: str) -> _Poll:
        poll = self._polls.get(poll_id)
        if poll is None:
            raise ValueError(f"no poll {poll_id!r}; the bot sent {sorted(self._polls)!r}")
        return poll

    def _close_if_due(self, poll: _Poll) -> JSON | None:
        """Close the poll if its closing time has passed; the "poll" update, if any."""
        if poll.data["is_closed"] or poll.closes_at is None or time.time() < poll.closes_at:
            return None
        self._close_poll(poll)
        return self._emit("poll", copy.deepcopy(poll.data))

    def _close_poll(self, poll: _Poll) -> None:
        poll.data["is_closed"] = True
        # An open poll shows when it closes; a closed one no longer does.
        poll.data.pop("close_date", None)
        poll.data.pop("open_period", None)
        self._refresh_poll_message(poll)

    # ---------------------------------------------------------------- reading what the bot did

    def sent(self, chat_id: int) -> list[SentMessage]:
        """Messages the bot got accepted in ``chat_id``, in acceptance order (deleted ones too,
        marked ``deleted``)."""
        return [message for message in self._sent if message.chat_id == chat_id]

    @property
    def all_sent(self) -> list[SentMessage]:
        return list(self._sent)

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        """Any message in the chat (a member's or the bot's) as it stands now, as the Bot
        API's Message object; ``None`` if there is none or it was deleted."""
        stored = self._known_chat(chat_id).messages.get(message_id)
        if stored is None or stored.deleted:
            return None
        return copy.deepcopy(stored.data)

    def is_deleted(self, chat_id: int, message_id: int) -> bool:
        """True when the message existed and was deleted (by deleteMessage)."""
        stored = self._known_chat(chat_id).messages.get(message_id)
        return stored is not None and stored.deleted

    def answered_callbacks(self) -> dict[str, JSON]:
        """Query id -> the parameters of its answerCallbackQuery."""
        return dict(self._answered)

    def unanswered_callbacks(self) -> list[str]:
        return [query for query in self._callbacks if query not in self._answered]

    @property
    def confirmed_offset(self) -> _ConfirmedOffset:
        """Highest update_id the bot confirmed (getUpdates offset, or a webhook's 2xx).

        Reads as an int; calling it (``confirmed_offset()``) works as well."""
        return _ConfirmedOffset(self._confirmed)

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates queued and not yet confirmed."""
        return copy.deepcopy(self._updates)

    def methods_called(self, method: str) -> list[RequestLog]:
        return [log for log in self.requests if log.method == method]

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - part of the helper's published signature
    ) -> None:
        """Poll ``predicate`` every 10 ms until true; TimeoutError with context otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() >= deadline:
                raise TimeoutError(self._timeout_message(predicate, timeout))
            await asyncio.sleep(0.01)

    def _timeout_message(self, predicate: Callable[[], bool], timeout: float) -> str:
        name = getattr(predicate, "__qualname__", repr(predicate))
        code = getattr(predicate, "__code__", None)
        where = f" ({code.co_filename}:{code.co_firstlineno})" if code is not None else ""
        calls = [f"{log.method}->{log.status}" for log in self.requests[-15:]]
        sent = [
            f"chat {message.chat_id} #{message.message_id} {message.kind}: "
            f"{message.plain_text[:60]!r}"
            for message in self._sent[-10:]
        ]
        return (
            f"condition {name}{where} not met within {timeout} s.\n"
            f"  last calls: {calls}\n"
            f"  last sent: {sent}\n"
            f"  pending updates: {[update['update_id'] for update in self._updates]}, "
            f"confirmed offset: {self._confirmed}, webhook: {self.webhook_url}"
        )

    # ---------------------------------------------------------------- faults

    def inject_fault(
        self,
        kind: FaultKind,
        *,
        methods: Collection[str] | None = None,
        times: int | None = None,
        rate: float | None = None,
        retry_after: int = 1,
        delay: float = 0.0,
        seed: int = 0,
    ) -> None:
        """Answer matching calls with an error (or, "slow", after ``delay`` seconds, normally).

        ``times``: only the next N matching calls; ``rate``: each matching call with that
        probability; neither: every matching call until ``clear_faults``. A faulted call has no
        effect."""
        if kind not in ("429", "500", "502", "403", "400", "slow"):
            raise ValueError(f"unknown fault kind {kind!r}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for every matching call)")
        if rate is not None and not 0.0 <= rate <= 1.0:
            raise ValueError("rate is a probability between 0 and 1")
        chosen = SENDING_METHODS if methods is None else frozenset(methods)
        unknown = [name for name in chosen if name.lower() not in self._canonical]
        if unknown:
            raise ValueError(f"unknown methods {unknown!r}")
        canonical = frozenset(self._canonical[name.lower()] for name in chosen)
        self._faults.append(
            _Fault(kind, canonical, times, rate, retry_after, delay, random.Random(seed))
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    def _take_fault(self, method: str) -> _Fault | None:
        for fault in self._faults:
            if method not in fault.methods:
                continue
            if fault.rate is not None and fault.rng.random() >= fault.rate:
                continue
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
            return fault
        return None

    # ---------------------------------------------------------------- HTTP

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        arrived = self.clock()
        log = RequestLog(method, arrived, content_type=request.content_type)
        self.requests.append(log)
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            name = self._canonical.get(method.lower())
            if name is None:
                raise ApiError(404, "Not Found")
            log.method = name
            params = await self._read_params(request)
            try:
                log.params = _describe_params(params.raw)
                fault = self._take_fault(name)
                if fault is not None:
                    if fault.kind == "slow":
                        await asyncio.sleep(fault.delay)
                    else:
                        raise _fault_error(fault)
                result = await self._methods[name.lower()](params)
            finally:
                _close_uploads(params.raw)
        except ApiError as error:
            log.status = error.code
            log.description = error.description
            return _error_response(error)
        log.status = 200
        return web.json_response({"ok": True, "result": result})

    async def _read_params(self, request: web.Request) -> _Params:
        raw: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _bad("can't parse JSON object") from None
                if not isinstance(body, dict):
                    raise _bad("the request body must be a JSON object")
                raw.update(body)
            else:
                try:
                    form = await request.post()
                except web.HTTPRequestEntityTooLarge:
                    raise ApiError(413, "Request Entity Too Large") from None
                for key, value in form.items():
                    raw[key] = value
        return _Params(raw)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(RequestLog("<file>", self.clock(), 200, "", {}))
        if request.match_info["token"] != self.token:
            self.requests[-1].status = 401
            return _error_response(ApiError(401, "Unauthorized"))
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            self.requests[-1].status = 404
            return _error_response(ApiError(404, "Not Found"))
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    # ---------------------------------------------------------------- updates

    def _next_counter(self) -> int:
        self._counter += 1
        return self._counter

    def _notify(self) -> None:
        event = self._changed
        self._changed = asyncio.Event()
        event.set()

    def _allowed(self, kind: str) -> bool:
        if not self._allowed_updates:
            return kind not in _NOT_BY_DEFAULT
        return kind in self._allowed_updates

    def _emit(self, kind: str, payload: JSON, *, visible: bool = True) -> JSON:
        if not visible or not self._allowed(kind):
            return {kind: copy.deepcopy(payload)}
        self._last_update_id += 1
        # A copy: later edits of the stored message must not change what was queued.
        update: JSON = {"update_id": self._last_update_id, kind: copy.deepcopy(payload)}
        self._updates.append(update)
        self._notify()
        return copy.deepcopy(update)

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            keep = -offset
            dropped = self._updates[:-keep] if keep < len(self._updates) else []
            self._updates = self._updates[len(dropped) :]
            if dropped:
                self._confirmed = max(self._confirmed, dropped[-1]["update_id"])
            return
        self._updates = [update for update in self._updates if update["update_id"] >= offset]
        self._confirmed = max(self._confirmed, min(offset - 1, self._last_update_id))

    def _set_allowed(self, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, list) or not all(isinstance(kind, str) for kind in value):
            raise _bad("can't parse allowed updates JSON object")
        self._allowed_updates = frozenset(value)

    async def _get_updates(self, params: _Params) -> list[JSON]:
        if self.webhook_url is not None:
            raise ApiError(409, _CONFLICT_WEBHOOK)
        offset = params.integer("offset")
        limit = params.integer("limit")
        limit = 100 if limit is None else max(1, min(100, limit))
        timeout = max(0.0, params.number("timeout") or 0.0)
        self._set_allowed(params.parsed("allowed_updates"))
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # a getUpdates still waiting is answered 409
        if offset is not None:
            self._confirm(offset)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, _CONFLICT_POLLING)
            if self._updates or self._closing or self.webhook_url is not None:
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            event = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
        return copy.deepcopy(self._updates[:limit])

    async def _set_webhook(self, params: _Params) -> bool:
        url = params.string("url") or ""
        if params.flag("drop_pending_updates"):
            self._updates.clear()
        if not url:
            await self._remove_webhook()
            return True
        if not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.string("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise _bad("secret token contains unallowed characters")
        self._set_allowed(params.parsed("allowed_updates"))
        self._webhook_max_connections = params.integer("max_connections") or 40
        self.webhook_url = url
        self.webhook_secret = secret or None
        self._webhook_last_error = None
        self._restart_webhook_worker()
        self._notify()  # a getUpdates still waiting returns now
        return True

    async def _delete_webhook(self, params: _Params) -> bool:
        if params.flag("drop_pending_updates"):
            self._updates.clear()
        await self._remove_webhook()
        return True

    async def _remove_webhook(self) -> None:
        self.webhook_url = None
        self.webhook_secret = None
        await self._stop_webhook_worker()

    async def _get_webhook_info(self, params: _Params) -> JSON:
        info: JSON = {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook_url is not None:
            info["max_connections"] = self._webhook_max_connections
            if self._allowed_updates:
                info["allowed_updates"] = sorted(self._allowed_updates)
            if self._webhook_last_error is not None:
                info["last_error_date"], info["last_error_message"] = self._webhook_last_error
        return info

    def _restart_webhook_worker(self) -> None:
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            self._webhook_task = None
        if self._session is not None and not self._closing:
            self._webhook_task = asyncio.get_running_loop().create_task(self._webhook_worker())

    async def _stop_webhook_worker(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is None or task is asyncio.current_task():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _webhook_worker(self) -> None:
        while self.webhook_url is not None and not self._closing:
            if not self._updates:
                await self._changed.wait()
                continue
            update = self._updates[0]
            target = self.webhook_target or self.webhook_url
            status, problem = await self._deliver(target, update)
            self.webhook_deliveries.append((update["update_id"], status))
            if 200 <= status < 300:
                if self._updates and self._updates[0] is update:
                    self._updates.pop(0)
                self._confirmed = max(self._confirmed, update["update_id"])
            else:
                self._webhook_last_error = (int(time.time()), problem)
                await asyncio.sleep(WEBHOOK_RETRY_DELAY)

    async def _deliver(self, url: str, update: JSON) -> tuple[int, str]:
        assert self._session is not None
        headers = {}
        if self.webhook_secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook_secret
        try:
            async with self._session.post(
                url, json=update, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
            ) as response:
                await response.read()
                return response.status, (
                    f"Wrong response from the webhook: {response.status} {response.reason}"
                )
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            return 0, f"Connection failed: {type(error).__name__}: {error}"

    # ---------------------------------------------------------------- simple methods

    async def _get_me(self, params: _Params) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": self.can_read_all_group_messages,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _close(self, params: _Params) -> bool:
        return True

    async def _log_out(self, params: _Params) -> bool:
        return True

    async def _get_chat(self, params: _Params) -> JSON:
        chat = self._chat_param(params)
        data = chat.to_json()
        data.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        return data

    async def _get_chat_member(self, params: _Params) -> JSON:
        """The ChatMember of the bot (or of a known user) in a chat: "administrator" for a
        bot that may delete messages, "restricted" for one that may not send, "left" after
        leaving; a bot removed by an admin is answered 403, as it is for every other method."""
        chat = self._chat_param(params)
        user_id = params.integer("user_id")
        if user_id is None:
            raise _bad("user_id is empty")
        if user_id != self.bot_id:
            user = self._users.get(user_id)
            if user is None:
                raise _bad("user not found")
            return {"status": "member", "user": user.to_json()}
        if chat.bot_status == "kicked":
            self._check_reachable(chat)
        if chat.type == "private":
            return {"status": "member", "user": self.bot_user}
        if chat.bot_status == "left":
            return {"status": "left", "user": self.bot_user}
        if not chat.bot_can_send:
            return _restricted(self.bot_user)
        if chat.bot_can_delete or chat.bot_can_invite:
            return _administrator(
                self.bot_user, can_delete=chat.bot_can_delete, can_invite=chat.bot_can_invite
            )
        return {"status": "member", "user": self.bot_user}

    async def _create_chat_invite_link(self, params: _Params) -> JSON:
        """An additional invite link to a group (ChatInviteLink), as the Bot API makes it:
        only for an administrator with ``can_invite_users``; ``member_limit`` 1-99999 and
        never with ``creates_join_request``; ``name`` at most 32 characters. Kept in
        :meth:`invite_links`."""
        chat = self._target(params)
        if chat.type == "private":
            raise _bad("can't invite members to a private chat")
        if not chat.bot_can_invite:
            raise _bad("not enough rights to manage chat invite links")
        member_limit = params.integer("member_limit")
        creates_join_request = params.flag("creates_join_request")
        if member_limit is not None and not 1 <= member_limit <= 99999:
            raise _bad("invalid member limit specified")
        if member_limit is not None and creates_join_request:
            raise _bad("member limit can't be specified for links requiring administrator approval")
        name = params.string("name")
        if name is not None and len(name) > 32:
            raise _bad("invite link name must be at most 32 characters long")
        expire_date = params.integer("expire_date")
        link: JSON = {
            "invite_link": f"https://t.me/+{secrets.token_urlsafe(12)}",
            "creator": self.bot_user,
            "creates_join_request": creates_join_request,
            "is_primary": False,
            "is_revoked": False,
        }
        if expire_date is not None:
            link["expire_date"] = expire_date
        if member_limit is not None:
            link["member_limit"] = member_limit
        if name is not None:
            link["name"] = name
        self._invite_links.setdefault(chat.id, []).append(link)
        return link

    def invite_links(self, chat_id: int) -> list[JSON]:
        """The invite links the bot made for a chat, oldest first."""
        return list(self._invite_links.get(chat_id, []))

    def restrict_bot(self, chat_id: int, *, can_send_messages: bool) -> None:
        """An admin of the group restricts (or frees) the bot; Telegram tells the bot no more
        than a later getChatMember and the refusals of its sends show."""
        chat = self._known_chat(chat_id)
        if chat.type == "private":
            raise ValueError("restrict_bot needs a group")
        chat.bot_can_send = can_send_messages

    async def _leave_chat(self, params: _Params) -> bool:
        chat = self._chat_param(params)
        if chat.type == "private":
            raise _bad("chat member status can't be changed in private chats")
        self._check_reachable(chat)
        chat.bot_status = "left"
        update = self._member_update(chat, None, "member", "left")
        self._emit("my_chat_member", update)
        return True

    async def _get_file(self, params: _Params) -> JSON:
        file_id = params.string("file_id") or ""
        stored = self._files.get(file_id)
        if stored is None:
            raise _bad("invalid file_id")
        if stored.size > self.download_limit:
            raise _bad("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.path,
        }

    # ---------------------------------------------------------------- commands

    def _command_key(self, params: _Params) -> tuple[str | None, str, str]:
        scope = params.parsed("scope", "can't parse BotCommandScope JSON object")
        if scope is None:
            scope = {"type": "default"}
        if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
            raise _bad("can't parse BotCommandScope JSON object")
        language = params.string("language_code") or None
        if language is not None and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad("invalid language code specified")
        return language, scope["type"], json.dumps(scope, sort_keys=True)

    async def _set_my_commands(self, params: _Params) -> bool:
        commands = params.parsed("commands", "can't parse commands JSON object")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("too many commands specified")
        parsed: list[tuple[str, str]] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand JSON object")
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            parsed.append((name, description))
        language, scope_type, scope_key = self._command_key(params)
        if parsed:
            self._commands_full[(language, scope_key)] = parsed
            self.commands[(language, scope_type)] = parsed
        else:
            self._forget_commands(language, scope_type, scope_key)
        return True

    async def _get_my_commands(self, params: _Params) -> list[JSON]:
        language, _scope_type, scope_key = self._command_key(params)
        return [
            {"command": name, "description": description}
            for name, description in self._commands_full.get((language, scope_key), [])
        ]

    async def _delete_my_commands(self, params: _Params) -> bool:
        language, scope_type, scope_key = self._command_key(params)
        self._forget_commands(language, scope_type, scope_key)
        return True

    def _forget_commands(self, language: str | None, scope_type: str, scope_key: str) -> None:
        self._commands_full.pop((language, scope_key), None)
        self.commands.pop((language, scope_type), None)

    # ---------------------------------------------------------------- callbacks

    async def _answer_callback_query(self, params: _Params) -> bool:
        query_id = params.string("callback_query_id") or ""
        if query_id not in self._callbacks or query_id in self._answered:
            raise _bad(_QUERY_TOO_OLD[len("Bad Request: ") :])
        text = params.string("text")
        if text is not None and len(text) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        answer: JSON = {"callback_query_id": query_id}
        for key in ("text", "url"):
            value = params.string(key)
            if value is not None:
                answer[key] = value
        if params.get("show_alert") is not None:
            answer["show_alert"] = params.flag("show_alert")
        if params.get("cache_time") is not None:
            answer["cache_time"] = params.integer("cache_time")
        self._answered[query_id] = answer
        return True

    # ---------------------------------------------------------------- sending

    def _chat_param(self, params: _Params) -> _Chat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        try:
            chat_id = int(raw) if not isinstance(raw, web.FileField) else None
        except (TypeError, ValueError):
            chat_id = None
        chat = self._chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            raise _bad("chat not found")
        return chat

    def _check_reachable(self, chat: _Chat) -> None:
        if chat.type == "private":
            if chat.bot_status == "kicked":
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if not chat.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        elif chat.bot_status != "member":
            kind = "supergroup" if chat.type == "supergroup" else "group"
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")

    def _target(self, params: _Params) -> _Chat:
        chat = self._chat_param(params)
        self._check_reachable(chat)
        return chat

    @staticmethod
    def _parse_mode(params: _Params) -> str | None:
        mode = params.string("parse_mode") or None
        if mode is not None and mode.lower() not in ("html", "markdownv2", "markdown"):
            raise _bad(f"unsupported parse_mode {mode!r}")
        return mode

    @staticmethod
    def _parse(
        text: str, mode: str | None, params: _Params, entities_key: str
    ) -> tuple[str, list[JSON]]:
        parser = _PARSERS.get((mode or "").lower())
        if parser is not None:
            try:
                return parser(text)
            except HtmlParseError as error:
                raise _bad(f"can't parse entities: {error}") from None
        explicit = params.parsed(entities_key, f"can't parse {entities_key} JSON object")
        return text, list(explicit) if isinstance(explicit, list) else []

    @staticmethod
    def _markup(params: _Params) -> JSON | None:
        markup = params.parsed("reply_markup", "can't parse reply keyboard markup JSON object")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad("can't parse inline keyboard button: InlineKeyboardMarkup expected")
            for row in rows:
                for button in row:
                    _check_button(button)
        return markup

    def _reply_to(self, chat: _Chat, params: _Params) -> JSON | None:
        reply = params.parsed("reply_parameters", "can't parse reply parameters JSON object")
        message_id: int | None = None
        allow_without = params.flag("allow_sending_without_reply")
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow_without = bool(reply.get("allow_sending_without_reply", allow_without))
        elif params.get("reply_to_message_id") is not None:
            message_id = params.integer("reply_to_message_id")
        if message_id is None:
            return None
        stored = chat.messages.get(int(message_id))
        if stored is None or stored.deleted:
            if allow_without:
                return None
            raise _bad("message to be replied not found")
        replied = copy.deepcopy(stored.data)
        replied.pop("reply_to_message", None)
        return replied

    def _admit_send(self, chat: _Chat) -> float:
        """Apply the send limits (when enforced); returns the acceptance time."""
        now = self.clock()
        if not self.enforce_limits:
            return now
        wait = _window_wait(self._global_sends, now, 30, 1.0)
        if chat.type == "private":
            tokens = chat.tokens
            if chat.tokens_at is not None:
                tokens = min(3.0, tokens + (now - chat.tokens_at))
            if tokens < 1.0:
                wait = max(wait, 1.0 - tokens)
        else:
            wait = max(
                wait,
                _window_wait(chat.sends, now, 1, 1.0),
                _window_wait(chat.sends, now, 20, 60.0),
            )
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
            )
        self._global_sends.append(now)
        while self._global_sends and self._global_sends[0] <= now - 1.0:
            self._global_sends.popleft()
        chat.sends.append(now)
        while chat.sends and chat.sends[0] <= now - 60.0:
            chat.sends.popleft()
        if chat.type == "private":
            tokens = chat.tokens
            if chat.tokens_at is not None:
                tokens = min(3.0, tokens + (now - chat.tokens_at))
            chat.tokens = tokens - 1.0
            chat.tokens_at = now
        return now

    def _bot_message(self, chat: _Chat, message_id: int) -> JSON:
        return {
            "message_id": message_id,
            "from": self.bot_user,
            "chat": chat.to_json(),
            "date": int(time.time()),
        }

    def _new_bot_message(self, chat: _Chat, thread_id: int | None) -> JSON:
        message = self._bot_message(chat, chat.next_message_id())
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        return message

    def _record(self, chat: _Chat, data: JSON, sent: SentMessage) -> None:
        reply = data.get("reply_to_message")
        sent.reply_to = reply["message_id"] if reply is not None else None
        sent.thread_id = data.get("message_thread_id")
        chat.messages[data["message_id"]] = _Message(data, from_bot=True, sent=sent)
        self._sent.append(sent)

    def _thread(self, chat: _Chat, params: _Params, reply: JSON | None) -> int | None:
        """The forum topic a new message goes to: the one named, else the replied one's."""
        thread_id = params.integer("message_thread_id")
        if thread_id is not None:
            if thread_id not in chat.topics:
                raise _bad("message thread not found")
            return thread_id
        if reply is not None and reply.get("is_topic_message"):
            return int(reply["message_thread_id"])
        return None

    def _message_text(self, params: _Params) -> tuple[str, str | None, str, list[JSON]]:
        """The ``text`` of sendMessage or editMessageText, checked as Telegram checks it:
        (text as sent, parse mode, text as shown, entities)."""
        text = params.string("text")
        if text is None:
            raise _bad("message text is empty")
        mode = self._parse_mode(params)
        plain, entities = self._parse(text, mode, params, "entities")
        if not plain.strip():
            raise _bad("message text is empty")
        if utf16_length(plain) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        return text, mode, plain, entities

    async def _send_message(self, params: _Params) -> JSON:
        chat = self._target(params)
        if not chat.bot_can_send:
            raise _bad("not enough rights to send text messages to the chat")
        text, mode, plain, entities = self._message_text(params)
        markup = self._markup(params)
        reply = self._reply_to(chat, params)
        thread_id = self._thread(chat, params, reply)
        accepted = self._admit_send(chat)
        message = self._new_bot_message(chat, thread_id)
        message["text"] = plain
        if entities:
            message["entities"] = entities
        _attach(message, markup, reply)
        self._record(
            chat,
            message,
            SentMessage(
                message_id=message["message_id"],
                chat_id=chat.id,
                kind="text",
                text=text,
                parse_mode=mode,
                reply_markup=markup,
                accepted_at=accepted,
                shown=plain,
                entities=copy.deepcopy(entities),
            ),
        )
        return copy.deepcopy(message)

    def _caption(self, params: _Params, mode: str | None) -> tuple[str | None, str, list[JSON]]:
        caption = params.string("caption")
        if caption is None:
            return None, "", []
        plain, entities = self._parse(caption, mode, params, "caption_entities")
        if utf16_length(plain) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        return caption, plain, entities

    def _input_file(
        self, params: _Params, name: str, folder: str, default_extension: str
    ) -> tuple[_StoredFile, str | None]:
        """An uploaded file or a file_id; returns the stored file and the upload's filename.

        An upload past ``upload_limit`` is answered 413, and a photo past ``photo_limit`` 400,
        as Telegram does."""
        value = params.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value[len("attach://") :])
        if isinstance(value, web.FileField):
            data = value.file.read()
            if len(data) > self.upload_limit:
                raise ApiError(413, "Request Entity Too Large")
            if name == "photo" and len(data) > self.photo_limit:
                raise _bad(
                    f"file of size {len(data)} bytes is too big for a photo; the maximum size "
                    f"is {self.photo_limit} bytes"
                )
            filename = value.filename or None
            mime = value.content_type or "application/octet-stream"
            extension = _extension(filename) if filename else default_extension
            stored = self._store_file(data, folder, extension, filename, mime, kind=name)
            return stored, filename
        if isinstance(value, str) and value:
            stored_file = self._files.get(value)
            if stored_file is None:
                raise _bad("wrong file identifier/HTTP URL specified")
            return stored_file, stored_file.name
        raise _bad(f"there is no {name} in the request")

    async def _send_photo(self, params: _Params) -> JSON:
        return self._send_file(
            params, "photo", ("photo", "photos", ".jpg"),
            lambda stored: [_photo_size(stored, 320, 320)],
        )  # fmt: skip

    async def _send_document(self, params: _Params) -> JSON:
        return self._send_file(params, "document", ("document", "documents", ""), _document)

    async def _send_voice(self, params: _Params) -> JSON:
        return self._send_file(
            params, "voice", ("voice", "voice", ".oga"),
            lambda stored: _media_object("voice", stored),
        )  # fmt: skip

    async def _send_audio(self, params: _Params) -> JSON:
        return self._send_file(
            params, "audio", ("audio", "music", ".mp3"),
            lambda stored: _media_object("audio", stored),
        )  # fmt: skip

    async def _send_video(self, params: _Params) -> JSON:
        return self._send_file(
            params, "video", ("video", "videos", ".mp4"),
            lambda stored: _media_object("video", stored),
        )  # fmt: skip

    def _send_file(
        self,
        params: _Params,
        kind: str,
        upload: tuple[str, str, str],
        describe: Callable[[_StoredFile], Any],
    ) -> JSON:
        """sendPhoto, sendDocument, sendVoice, sendAudio, sendVideo: ``upload`` is (field,
        folder, suffix) of the file."""
        chat = self._target(params)
        mode = self._parse_mode(params)
        caption, plain, entities = self._caption(params, mode)
        markup = self._markup(params)
        reply = self._reply_to(chat, params)
        thread_id = self._thread(chat, params, reply)
        stored, filename = self._input_file(params, *upload)
        accepted = self._admit_send(chat)
        message = self._new_bot_message(chat, thread_id)
        message[kind] = describe(stored)
        if caption is not None and plain:
            message["caption"] = plain
            if entities:
                message["caption_entities"] = entities
        _attach(message, markup, reply)
        self._record(
            chat,
            message,
            SentMessage(
                message_id=message["message_id"],
                chat_id=chat.id,
                kind=kind,
                parse_mode=mode,
                reply_markup=markup,
                caption=caption,
                file_bytes=stored.data,
                filename=filename,
                accepted_at=accepted,
                mime_type=stored.mime_type,
                shown=plain,
                entities=copy.deepcopy(entities),
            ),
        )
        return copy.deepcopy(message)

    async def _send_poll(self, params: _Params) -> JSON:
        closes_at = self._poll_closing_time(params)
        chat = self._target(params)
        # Checked as TDLib checks a bot's poll, in its words and order; lengths in characters.
        question = (params.string("question") or "").strip()
        if not question:
            raise _bad("text must be non-empty")
        if len(question) > 300:
            raise _bad("poll question length must not exceed 300")
        options = params.parsed("options", "can't parse options JSON object")
        if not isinstance(options, list) or not options:
            raise _bad("poll must have at least one answer option")
        if len(options) > 12:
            raise _bad("poll can't have more than 12 options")
        texts: list[str] = []
        for option in options:
            text = option.get("text") if isinstance(option, dict) else option
            text = text.strip() if isinstance(text, str) else ""
            if not text:
                raise _bad("text must be non-empty")
            if len(text) > 100:
                raise _bad("poll options length must not exceed 100")
            texts.append(text)
        anonymous = params.flag("is_anonymous", default=True)
        if chat.type == "channel" and not anonymous:
            raise _bad("non-anonymous polls can't be sent to channel chats")
        poll_type = params.string("type") or "regular"
        if poll_type not in ("regular", "quiz"):
            raise _bad("poll type is invalid")
        correct = params.integer("correct_option_id")
        if poll_type == "quiz" and (correct is None or not 0 <= correct < len(texts)):
            raise _bad("wrong correct option ID specified")
        markup = self._markup(params)
        reply = self._reply_to(chat, params)
        thread_id = self._thread(chat, params, reply)
        accepted = self._admit_send(chat)
        poll_id = str(5_000_000_000_000_000_000 + self._next_counter())
        poll: JSON = {
            "id": poll_id,
            "question": question,
            "options": [
                {"text": text, "voter_count": 0, "persistent_id": str(index)}
                for index, text in enumerate(texts)
            ],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": anonymous,
            "type": poll_type,
            "allows_multiple_answers": params.flag("allows_multiple_answers"),
            "allows_revoting": params.flag("allows_revoting", default=poll_type != "quiz"),
            "members_only": False,
        }
        if params.flag("hide_results_until_closes"):
            poll["hide_results_until_closes"] = True
        if closes_at is not None:
            poll["close_date"] = int(closes_at)
            open_period = params.integer("open_period")
            if open_period is not None:
                poll["open_period"] = open_period
        if correct is not None:
            poll["correct_option_id"] = correct
        explanation = params.string("explanation")
        if explanation:
            poll["explanation"] = explanation
        message = self._new_bot_message(chat, thread_id)
        message["poll"] = poll
        _attach(message, markup, reply)
        self._polls[poll_id] = _Poll(
            poll_id, chat.id, message["message_id"], poll, closes_at=closes_at
        )
        self._record(
            chat,
            message,
            SentMessage(
                message_id=message["message_id"],
                chat_id=chat.id,
                kind="poll",
                text=question,
                reply_markup=markup,
                accepted_at=accepted,
                poll=copy.deepcopy(poll),
                shown=question,
            ),
        )
        return copy.deepcopy(message)

    @staticmethod
    def _poll_closing_time(params: _Params) -> float | None:
        """When a poll sent now closes by itself (Unix time): its close_date, or now plus
        its open_period, each 5 to 2,628,000 seconds ahead (checked before the chat)."""
        open_period = params.integer("open_period")
        close_date = params.integer("close_date")
        if open_period is not None and close_date is not None:
            raise _bad("open_period and close_date can't be used together")
        now = time.time()
        least, most = POLL_OPEN_PERIOD
        if open_period is not None:
            if not least <= open_period <= most:
                raise _bad(f"open_period must be from {least} to {most} seconds")
            return now + open_period
        if close_date is not None:
            if not least <= close_date - now <= most:
                raise _bad(f"close_date must be from {least} to {most} seconds in the future")
            return float(close_date)
        return None

    def _refresh_poll_message(self, poll: _Poll) -> None:
        chat = self._chats[poll.chat_id]
        stored = chat.messages.get(poll.message_id)
        if stored is not None and stored.sent is not None:
            stored.sent.poll = copy.deepcopy(poll.data)

    async def _stop_poll(self, params: _Params) -> JSON:
        chat = self._target(params)
        message_id = params.integer("message_id")
        stored = chat.messages.get(message_id or 0)
        if stored is None or stored.deleted:
            raise _bad("message with poll to stop not found")
        if "poll" not in stored.data:
            raise _bad("message is not a poll")
        if not stored.from_bot:
            raise _bad("poll can't be stopped")
        poll = self._polls[stored.data["poll"]["id"]]
        self._close_if_due(poll)
        if poll.data["is_closed"]:
            raise _bad("poll has already been closed")
        markup = self._markup(params)
        self._close_poll(poll)
        if markup is not None:
            stored.data["reply_markup"] = markup
        else:
            stored.data.pop("reply_markup", None)
        if stored.sent is not None:
            stored.sent.reply_markup = markup
        self._refresh_poll_message(poll)
        return copy.deepcopy(poll.data)

    # ---------------------------------------------------------------- editing and deleting

    def _editable(self, params: _Params) -> tuple[_Chat, _Message]:
        if params.get("inline_message_id") is not None:
            raise _bad("inline messages are not supported by the emulator")
        chat = self._target(params)
        message_id = params.integer("message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        stored = chat.messages.get(message_id)
        if stored is None or stored.deleted:
            raise _bad("message to edit not found")
        if not stored.from_bot:
            raise _bad("message can't be edited")
        return chat, stored

    async def _edit_message_text(self, params: _Params) -> JSON:
        _chat, stored = self._editable(params)
        if "text" not in stored.data:
            raise _bad("there is no text in the message to edit")
        text, mode, plain, entities = self._message_text(params)
        markup = self._markup(params)
        current_markup = stored.data.get("reply_markup")
        if (
            plain == stored.data["text"]
            and entities == stored.data.get("entities", [])
            and _same_markup(markup, current_markup)
        ):
            raise ApiError(400, _NOT_MODIFIED)
        stored.data["text"] = plain
        stored.data.pop("entities", None)
        if entities:
            stored.data["entities"] = entities
        _set_markup(stored.data, markup)
        stored.data["edit_date"] = int(time.time())
        if stored.sent is not None:
            stored.sent.text = text
            stored.sent.parse_mode = mode
            stored.sent.reply_markup = markup
            stored.sent.edits.append(text)
            stored.sent.shown = plain
            stored.sent.entities = copy.deepcopy(entities)
            stored.sent.shown_edits.append(plain)
        return copy.deepcopy(stored.data)

    async def _edit_message_caption(self, params: _Params) -> JSON:
        _chat, stored = self._editable(params)
        if not any(kind in stored.data for kind in _CAPTIONED_KINDS):
            raise _bad("there is no caption in the message to edit")
        mode = self._parse_mode(params)
        caption, plain, entities = self._caption(params, mode)
        markup = self._markup(params)
        if (
            plain == stored.data.get("caption", "")
            and entities == stored.data.get("caption_entities", [])
            and _same_markup(markup, stored.data.get("reply_markup"))
        ):
            raise ApiError(400, _NOT_MODIFIED)
        stored.data.pop("caption", None)
        stored.data.pop("caption_entities", None)
        if plain:
            stored.data["caption"] = plain
            if entities:
                stored.data["caption_entities"] = entities
        _set_markup(stored.data, markup)
        stored.data["edit_date"] = int(time.time())
        if stored.sent is not None:
            stored.sent.caption = caption
            stored.sent.parse_mode = mode
            stored.sent.reply_markup = markup
            stored.sent.edits.append(caption or "")
            stored.sent.shown = plain
            stored.sent.entities = copy.deepcopy(entities)
            stored.sent.shown_edits.append(plain)
        return copy.deepcopy(stored.data)

    async def _edit_message_reply_markup(self, params: _Params) -> JSON:
        _chat, stored = self._editable(params)
        markup = self._markup(params)
        if markup is not None and "inline_keyboard" not in markup:
            raise _bad("inline keyboard expected")
        if _same_markup(markup, stored.data.get("reply_markup")):
            raise ApiError(400, _NOT_MODIFIED)
        _set_markup(stored.data, markup)
        stored.data["edit_date"] = int(time.time())
        if stored.sent is not None:
            stored.sent.reply_markup = markup
        return copy.deepcopy(stored.data)

    async def _delete_message(self, params: _Params) -> bool:
        chat = self._target(params)
        message_id = params.integer("message_id")
        stored = chat.messages.get(message_id or 0)
        if stored is None or stored.deleted:
            raise _bad("message to delete not found")
        too_old = time.time() - stored.data["date"] > DELETE_WINDOW
        # A bot deletes its own messages, and members' in private chats or as an administrator
        # allowed to; and only within 48 hours.
        allowed = stored.from_bot or chat.type == "private" or chat.bot_can_delete
        if too_old or not allowed or "forum_topic_created" in stored.data:
            raise _bad("message can't be deleted")
        stored.deleted = True
        if stored.sent is not None:
            stored.sent.deleted = True
        return True

    # ---------------------------------------------------------------- helpers for users

    def _known_user(self, user_id: int) -> _User:
        user = self._users.get(user_id)
        if user is None:
            raise ValueError(f"unknown user {user_id}: call add_user({user_id}, ...) first")
        return user

    def _known_chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise ValueError(f"unknown chat {chat_id}: call add_user or add_group first")
        return chat

    def _user_in_chat(self, user_id: int, chat_id: int | None) -> tuple[_User, _Chat]:
        user = self._known_user(user_id)
        chat = self._known_chat(user_id if chat_id is None else chat_id)
        if chat.type == "private":
            if chat.id != user_id:
                raise ValueError(f"user {user_id} cannot write in the private chat {chat.id}")
            if chat.bot_status == "kicked":
                raise ValueError(f"user {user_id} blocked the bot: call unblock_bot first")
            chat.started = True
        return user, chat

    def _user_message(
        self, user: _User, chat: _Chat, reply_to: int | None, thread_id: int | None = None
    ) -> JSON:
        message: JSON = {
            "message_id": chat.next_message_id(),
            "from": user.to_json(),
            "chat": chat.to_json(),
            "date": int(time.time()),
        }
        replied: JSON | None = None
        if reply_to is not None:
            stored = chat.messages.get(reply_to)
            if stored is None or stored.deleted:
                raise ValueError(f"no message {reply_to} in chat {chat.id} to reply to")
            replied = copy.deepcopy(stored.data)
            replied.pop("reply_to_message", None)
            if thread_id is None and replied.get("is_topic_message"):
                thread_id = replied["message_thread_id"]
        if thread_id is not None:
            if thread_id not in chat.topics:
                raise ValueError(f"no forum topic {thread_id} in chat {chat.id}")
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
            if replied is None:  # Telegram: a topic's messages answer its root
                replied = copy.deepcopy(chat.messages[thread_id].data)
        if replied is not None:
            message["reply_to_message"] = replied
        chat.messages[message["message_id"]] = _Message(message, from_bot=False)
        return message

    def _post(
        self,
        user_id: int,
        chat_id: int | None,
        content: JSON,
        seen_text: str | None,
        *,
        reply_to: int | None = None,
        thread_id: int | None = None,
    ) -> JSON:
        """A new message of the user's with ``content``, queued if the bot would see it."""
        user, chat = self._user_in_chat(user_id, chat_id)
        message = self._user_message(user, chat, reply_to, thread_id)
        message.update(content)
        return self._emit("message", message, visible=self._bot_sees(chat, message, seen_text))

    def _own_message(
        self, user_id: int, chat_id: int, message_id: int, part: str
    ) -> tuple[_Chat, _Message]:
        user, chat = self._user_in_chat(user_id, chat_id)
        stored = chat.messages.get(message_id)
        if stored is None or stored.deleted or stored.from_bot:
            raise ValueError(f"no message {message_id} of user {user_id} in chat {chat_id}")
        if stored.data.get("from", {}).get("id") != user.id:
            raise ValueError(f"message {message_id} is not user {user_id}'s")
        has_part = (
            "text" in stored.data
            if part == "text"
            else any(kind in stored.data for kind in _CAPTIONED_KINDS)
        )
        if not has_part:
            raise ValueError(f"message {message_id} has no {part} to edit")
        return chat, stored

    def _emit_edit(self, chat: _Chat, stored: _Message, text: str) -> JSON:
        stored.data["edit_date"] = int(time.time())
        message = copy.deepcopy(stored.data)
        return self._emit("edited_message", message, visible=self._bot_sees(chat, message, text))

    def _add_caption(
        self, message: JSON, caption: str | None, entities: list[JSON] | None = None
    ) -> None:
        if caption is None:
            return
        message["caption"] = caption
        found = _command_entities(caption) if entities is None else _checked(caption, entities)
        if found:
            message["caption_entities"] = found

    def _bot_sees(self, chat: _Chat, message: JSON, text: str | None) -> bool:
        if chat.type == "private":
            return True
        if chat.bot_status != "member":
            return False
        if self.can_read_all_group_messages:
            return True
        text = text or ""
        replied = message.get("reply_to_message") or {}
        return (
            text.startswith("/")
            or f"@{self.username}".lower() in text.lower()
            or replied.get("from", {}).get("id") == self.bot_id
        )

    def _member_update(self, chat: _Chat, user: _User | None, old: str, new: str) -> JSON:
        def member(status: str) -> JSON:
            data: JSON = {"user": self.bot_user, "status": status}
            if status == "kicked":
                data["until_date"] = 0
            return data

        return {
            "chat": chat.to_json(),
            "from": user.to_json() if user is not None else self.bot_user,
            "date": int(time.time()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }

    def _store_file(
        self,
        data: bytes,
        folder: str,
        extension: str,
        name: str | None = None,
        mime_type: str | None = None,
        *,
        declared_size: int | None = None,
        kind: str = "document",
    ) -> _StoredFile:
        number = self._next_counter()
        prefix = _FILE_ID_PREFIXES.get(kind, "BQAC")
        if folder == "photos":
            prefix = "AgAC"
        stored = _StoredFile(
            file_id=f"{prefix}AgIAAxk{number:08d}{self.bot_id}",
            file_unique_id=f"AQAD{number:06d}",
            data=bytes(data),
            path=f"{folder}/file_{number}{extension}",
            name=name,
            mime_type=mime_type or ("image/jpeg" if folder == "photos" else None),
            declared_size=declared_size,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.path] = stored
        return stored


# --------------------------------------------------------------------------------------------
# Module helpers
# --------------------------------------------------------------------------------------------

_COMMAND = re.compile(r"/[a-zA-Z0-9_]{1,32}(?:@[a-zA-Z0-9_]{3,32})?(?![a-zA-Z0-9_@])")


def _command_entities(text: str) -> list[JSON]:
    match = _COMMAND.match(text)
    if match is None:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_length(match.group(0))}]


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise _bad("can't parse inline keyboard button: Text must be a String")
    if "callback_data" in button:
        data = button["callback_data"]
        size = len(data.encode("utf-8")) if isinstance(data, str) else 0
        if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
            raise _bad("BUTTON_DATA_INVALID")
        return
    actions = (
        "url",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
        "web_app",
    )
    if not any(key in button for key in actions):
        raise _bad("text buttons are unallowed in the inline keyboard")


def _same_markup(new: JSON | None, current: JSON | None) -> bool:
    def normal(markup: JSON | None) -> Any:
        if not markup or not markup.get("inline_keyboard"):
            return None
        return markup.get("inline_keyboard")

    return bool(normal(new) == normal(current))


def _set_markup(message: JSON, markup: JSON | None) -> None:
    if markup is not None and markup.get("inline_keyboard"):
        message["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
    else:
        message.pop("reply_markup", None)


def _attach(message: JSON, markup: JSON | None, reply: JSON | None) -> None:
    # Only inline keyboards are part of a Message; reply keyboards just show in the client.
    _set_markup(message, markup)
    if reply is not None:
        message["reply_to_message"] = reply


def _window_wait(times: deque[float], now: float, count: int, seconds: float) -> float:
    recent = [moment for moment in times if moment > now - seconds]
    if len(recent) < count:
        return 0.0
    return recent[len(recent) - count] + seconds - now


def _checked(text: str, entities: list[JSON]) -> list[JSON]:
    """Entities a test gives for a user's message, checked as a Telegram client would make
    them: a type, and offset/length (UTF-16) within the text."""
    size = utf16_length(text)
    for entity in entities:
        offset, length = entity.get("offset"), entity.get("length")
        if not isinstance(entity.get("type"), str):
            raise ValueError(f"entity without a type: {entity!r}")
        if not isinstance(offset, int) or not isinstance(length, int) or length <= 0:
            raise ValueError(f"entity needs integer offset and positive length: {entity!r}")
        if offset < 0 or offset + length > size:
            raise ValueError(f"entity {entity!r} lies outside the text ({size} UTF-16 units)")
    return copy.deepcopy(entities)


def _photo_size(stored: _StoredFile, width: int, height: int) -> JSON:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
        "width": width,
        "height": height,
    }


def _document(stored: _StoredFile) -> JSON:
    return _media_object("document", stored)


def _media_object(kind: str, stored: _StoredFile) -> JSON:
    """The Bot API object (Document, Voice, Audio, Video, Animation, VideoNote, Sticker)."""
    media: JSON = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
    }
    if kind in ("voice", "audio", "video", "animation", "video_note"):
        media["duration"] = 3
    if kind in ("video", "animation"):
        media.update(width=640, height=360)
    if kind == "video_note":
        media["length"] = 240
    if kind == "sticker":
        media.update(
            type="regular",
            width=512,
            height=512,
            is_animated=stored.mime_type == "application/x-tgsticker",
            is_video=stored.mime_type == "video/webm",
            emoji="👍",
        )
        return media
    if stored.name and kind in ("document", "audio", "video", "animation"):
        media["file_name"] = stored.name
    if stored.mime_type and kind != "video_note":
        media["mime_type"] = stored.mime_type
    return media


_MEDIA_KINDS: dict[str, tuple[str, str, str]] = {
    # kind: (folder of its file_path, default extension, default MIME type)
    "photo": ("photos", ".jpg", "image/jpeg"),
    "document": ("documents", "", "application/octet-stream"),
    "voice": ("voice", ".oga", "audio/ogg"),
    "audio": ("music", ".mp3", "audio/mpeg"),
    "video": ("videos", ".mp4", "video/mp4"),
    "animation": ("animations", ".mp4", "video/mp4"),
    "video_note": ("video_notes", ".mp4", "video/mp4"),
    "sticker": ("stickers", ".webp", "image/webp"),
}
_CAPTIONED_KINDS = ("photo", "document", "voice", "audio", "video", "animation")
_FILE_ID_PREFIXES = {
    "document": "BQAC",
    "voice": "AwAC",
    "audio": "CQAC",
    "video": "BAAC",
    "animation": "CgAC",
    "video_note": "DQAC",
    "sticker": "CAAC",
}


def _extension(filename: str) -> str:
    dot = filename.rfind(".")
    if dot <= 0 or not re.fullmatch(r"\.[A-Za-z0-9]{1,8}", filename[dot:]):
        return ""
    return filename[dot:]


def _fault_error(fault: _Fault) -> ApiError:
    if fault.kind == "429":
        return ApiError(
            429,
            f"Too Many Requests: retry after {fault.retry_after}",
            retry_after=fault.retry_after,
        )
    if fault.kind == "500":
        return ApiError(500, "Internal Server Error")
    if fault.kind == "502":
        return ApiError(502, "Bad Gateway")
    if fault.kind == "403":
        return ApiError(403, "Forbidden: bot was blocked by the user")
    return ApiError(400, "Bad Request: injected fault")


def _error_response(error: ApiError) -> web.Response:
    body: JSON = {"ok": False, "error_code": error.code, "description": error.description}
    if error.retry_after is not None:
        body["parameters"] = {"retry_after": error.retry_after}
    return web.json_response(body, status=error.code)


def _administrator(user: JSON, *, can_delete: bool = True, can_invite: bool = False) -> JSON:
    """ChatMemberAdministrator with every field the Bot API gives: may delete messages
    (``can_delete``), may invite users (``can_invite``)."""
    rights = [
        "can_manage_chat",
        "can_delete_messages",
        "can_manage_video_chats",
        "can_restrict_members",
        "can_promote_members",
        "can_change_info",
        "can_invite_users",
        "can_post_stories",
        "can_edit_stories",
        "can_delete_stories",
    ]
    data: JSON = {"status": "administrator", "user": user, "can_be_edited": False}
    data.update(
        {
            "is_anonymous": False,
            **{right: False for right in rights},
            "can_delete_messages": can_delete,
            "can_invite_users": can_invite,
        }
    )
    return data


def _restricted(user: JSON) -> JSON:
    """ChatMemberRestricted with every field the Bot API gives: a member who may not send."""
    rights = [
        "can_change_info",
        "can_invite_users",
        "can_pin_messages",
        "can_send_messages",
        "can_send_polls",
        "can_send_other_messages",
        "can_add_web_page_previews",
        "can_manage_topics",
        "can_send_audios",
        "can_send_documents",
        "can_send_photos",
        "can_send_videos",
        "can_send_video_notes",
        "can_send_voice_notes",
        "can_edit_tag",
        "can_react_to_messages",
    ]
    data: JSON = {"status": "restricted", "user": user, "is_member": True, "until_date": 0}
    data.update({right: False for right in rights})
    return data
