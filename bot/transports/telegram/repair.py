"""What to send again when Telegram refuses a text the bot can mend, as pure functions.

Two of Telegram's 400 answers are the bot's own doing and can be mended once: "can't parse
entities" (the HTML is broken: it is sent again as plain text, what a member would have
read) and "message is too long" (more than 4,096 units after parsing: it is sent again cut
in parts, its formatting cut with it). Anything else is refused for good.
"""

from __future__ import annotations

import re
from enum import StrEnum
from html.parser import HTMLParser

from bot.richtext import to_telegram_html
from bot.transports.telegram.render import MESSAGE_LIMIT, split_rich, split_text
from bot.types import RichText, Span, SpanKind


class Repair(StrEnum):
    """How a refused text is sent again; the value names Telegram's refusal in a reason."""

    PLAIN = "can't parse entities"
    SPLIT = "message is too long"


_TAGS = {
    "b": SpanKind.BOLD,
    "strong": SpanKind.BOLD,
    "i": SpanKind.ITALIC,
    "em": SpanKind.ITALIC,
    "u": SpanKind.UNDERLINE,
    "ins": SpanKind.UNDERLINE,
    "s": SpanKind.STRIKE,
    "strike": SpanKind.STRIKE,
    "del": SpanKind.STRIKE,
    "code": SpanKind.CODE,
    "pre": SpanKind.PRE,
    "a": SpanKind.LINK,
    "blockquote": SpanKind.QUOTE,
    "tg-spoiler": SpanKind.SPOILER,
    "span": SpanKind.SPOILER,
}
_MENTION_LINK = re.compile(r"tg://user\?id=([0-9]{1,20})")


def repair_for(refusal: str) -> Repair | None:
    """The repair a 400's description calls for, if the bot can make one."""
    lowered = refusal.lower()
    return next((repair for repair in Repair if repair.value in lowered), None)


def refusal_reason(refusal: str) -> str:
    """A 400's description fit for a log line and the outbox's record: Telegram's words,
    without the details that quote what the message said (a tag, an entity)."""
    repair = repair_for(refusal)
    return repair.value if repair is not None else refusal


def mended(html: str, repair: Repair, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The texts to send in its place: plain text (``Repair.PLAIN``, no parse mode), or HTML
    parts within ``limit`` (``Repair.SPLIT``); none when nothing visible is left."""
    rich = read_telegram_html(html)
    if repair is Repair.PLAIN:
        return [piece for piece in split_text(rich.text, limit) if piece.strip()]
    return [to_telegram_html(piece) for piece in split_rich(rich, limit) if piece.text.strip()]


def read_telegram_html(source: str) -> RichText:
    """Telegram HTML as rich text, leniently: what Telegram would not parse is read as a
    browser would, unknown tags reduced to their text."""
    reader = _Reader()
    reader.feed(source)
    reader.close()
    return reader.result()


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._text: list[str] = []
        self._length = 0
        self._open: list[tuple[str, int, SpanKind, str]] = []
        self._spans: list[Span] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kind = _TAGS.get(tag)
        if kind is None:
            return
        attributes = {name: value or "" for name, value in attrs}
        value = ""
        if kind is SpanKind.LINK:
            value = attributes.get("href", "")
            mention = _MENTION_LINK.fullmatch(value)
            if mention is not None:
                kind, value = SpanKind.MENTION, f"telegram:{mention.group(1)}"
        elif tag == "code" and self._open and self._open[-1][0] == "pre":
            # <pre><code class="language-x">: the language of the pre block around it
            name, start, pre, _ = self._open.pop()
            language = attributes.get("class", "").removeprefix("language-")
            self._open.append((name, start, pre, language))
            return
        self._open.append((tag, self._length, kind, value))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            name, start, kind, value = self._open[index]
            if name == tag:
                del self._open[index]
                if self._length > start:
                    self._spans.append(Span(start, self._length, kind, value))
                return

    def handle_data(self, data: str) -> None:
        self._text.append(data)
        self._length += len(data)

    def result(self) -> RichText:
        for _, start, kind, value in self._open:  # never closed: up to the end
            if self._length > start:
                self._spans.append(Span(start, self._length, kind, value))
        self._open.clear()
        return RichText("".join(self._text), tuple(sorted(self._spans)))
