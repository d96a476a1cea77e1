"""Formatted text between Telegram and Matrix, as pure functions over :class:`RichText`.

Readers (``from_telegram``, ``from_matrix_html``) and writers (``to_telegram_html``,
``to_telegram_entities``, ``to_matrix_html``) all meet in the normalized form below, so a
message relayed one way and back keeps its text and its formatting.

Normalized form (``normalize``):

- spans are clipped to the text; empty spans, and links or mentions without a value, are
  dropped; kinds other than LINK, MENTION and PRE carry no value (""), and a PRE
  language is one word (its first);
- spans of the same kind and value that overlap or touch are merged (so quotes never nest);
- CODE and PRE hold no other formatting (Telegram forbids it): PRE spans claim their
  characters first, then CODE spans, each in order of position, so code spans never
  overlap; every other span loses the characters it shares with a code span, except a
  QUOTE that contains the whole code span;
- links and mentions never overlap: the one starting first (then the longer) keeps the
  characters it shares with a later one;
- spans are sorted.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Any
from urllib.parse import quote

from bot.richtext_html import is_safe_url, read_matrix_html
from bot.types import RichText, Span, SpanKind

__all__ = [
    "MATRIX_LINK_SCHEMES",
    "TELEGRAM_LINK_SCHEMES",
    "escape",
    "from_matrix_html",
    "from_telegram",
    "is_safe_url",
    "normalize",
    "to_matrix_html",
    "to_telegram_entities",
    "to_telegram_html",
]

TELEGRAM_LINK_SCHEMES = frozenset({"http", "https", "mailto", "tg"})
MATRIX_LINK_SCHEMES = frozenset({"http", "https", "mailto"})
MATRIX_TO_USER = "https://matrix.to/#/"

_CODE_KINDS = frozenset({SpanKind.CODE, SpanKind.PRE})
_ANCHOR_KINDS = frozenset({SpanKind.LINK, SpanKind.MENTION})
_TELEGRAM_SIMPLE = {
    "bold": SpanKind.BOLD,
    "italic": SpanKind.ITALIC,
    "underline": SpanKind.UNDERLINE,
    "strikethrough": SpanKind.STRIKE,
    "code": SpanKind.CODE,
    "blockquote": SpanKind.QUOTE,
    "expandable_blockquote": SpanKind.QUOTE,
    "spoiler": SpanKind.SPOILER,
}
_TELEGRAM_TYPE = {kind: name for name, kind in _TELEGRAM_SIMPLE.items() if "expandable" not in name}
_TELEGRAM_TAGS = {
    SpanKind.BOLD: "b",
    SpanKind.ITALIC: "i",
    SpanKind.UNDERLINE: "u",
    SpanKind.STRIKE: "s",
    SpanKind.CODE: "code",
    SpanKind.QUOTE: "blockquote",
    SpanKind.SPOILER: "tg-spoiler",
}
_MATRIX_TAGS = {
    SpanKind.BOLD: "b",
    SpanKind.ITALIC: "i",
    SpanKind.UNDERLINE: "u",
    SpanKind.STRIKE: "del",  # the Matrix spec's list of tags has no <s>
    SpanKind.CODE: "code",
    SpanKind.QUOTE: "blockquote",
}
_TELEGRAM_USER_LINK = re.compile(r"tg://user\?id=([0-9]{1,20})", re.IGNORECASE)
_TELEGRAM_MENTION = re.compile(r"telegram:([0-9]{1,20})")
_MATRIX_MENTION = re.compile(r"matrix:(@[^\s]+:[^\s]+)")

_NESTING_CLASS = {
    SpanKind.QUOTE: 0,
    SpanKind.LINK: 1,
    SpanKind.MENTION: 1,
    SpanKind.BOLD: 2,
    SpanKind.ITALIC: 2,
    SpanKind.UNDERLINE: 2,
    SpanKind.STRIKE: 2,
    SpanKind.SPOILER: 2,
    SpanKind.CODE: 3,
    SpanKind.PRE: 3,
}
"""Outer to inner: a quote holds links, links hold simple styles, code holds nothing."""


def escape(text: str) -> str:
    """Text made safe for either platform's HTML: it shows exactly as typed."""
    return html.escape(text, quote=False)


# --------------------------------------------------------------------------------------------
# Normalization
# --------------------------------------------------------------------------------------------


def normalize(rich: RichText) -> RichText:
    """The canonical form of ``rich`` (see the module docstring for the rules)."""
    size = len(rich.text)
    clipped: list[Span] = []
    for span in rich.spans:
        start, end = max(0, min(span.start, size)), max(0, min(span.end, size))
        value = span.value if span.kind in _ANCHOR_KINDS else ""
        if span.kind is SpanKind.PRE:
            value = next(iter(span.value.split()), "")
        if start < end and (value or span.kind not in _ANCHOR_KINDS):
            clipped.append(Span(start, end, span.kind, value))
    merged = _merge_same(clipped)
    pre = _first_come([s for s in merged if s.kind is SpanKind.PRE], ([], []))
    code = sorted(pre + _first_come([s for s in merged if s.kind is SpanKind.CODE], _areas(pre)))
    code_areas = _areas(code)
    anchors = _first_come([s for s in merged if s.kind in _ANCHOR_KINDS], code_areas)
    others: list[Span] = []
    for span in merged:
        if span.kind not in _CODE_KINDS and span.kind not in _ANCHOR_KINDS:
            others.extend(_subtract(span, code_areas, span.kind is SpanKind.QUOTE))
    return RichText(rich.text, tuple(sorted(code + anchors + others)))


def _merge_same(spans: Iterable[Span]) -> list[Span]:
    result: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.kind, s.value, s.start, s.end)):
        last = result[-1] if result else None
        if last and (last.kind, last.value) == (span.kind, span.value) and span.start <= last.end:
            result[-1] = Span(last.start, max(last.end, span.end), span.kind, span.value)
        else:
            result.append(span)
    return result


_Areas = tuple[list[int], list[int]]
"""Disjoint stretches of text in order: their starts and their ends."""


def _areas(spans: list[Span]) -> _Areas:
    ordered = sorted(spans)
    return [s.start for s in ordered], [s.end for s in ordered]


def _first_come(spans: list[Span], taken: _Areas) -> list[Span]:
    """Each span in order of position keeps what no earlier span (nor ``taken``) holds."""
    result: list[Span] = []
    reach = 0
    for span in sorted(spans, key=lambda s: (s.start, -s.end, s.value)):
        if max(span.start, reach) < span.end:
            rest = Span(max(span.start, reach), span.end, span.kind, span.value)
            result.extend(_subtract(rest, taken))
        reach = max(reach, span.end)
    return result


def _subtract(span: Span, areas: _Areas, spare_contained: bool = False) -> list[Span]:
    """``span`` without ``areas`` (except those it contains whole, if ``spare_contained``)."""
    starts, ends = areas
    pieces: list[Span] = []
    cursor = span.start
    index = bisect_right(ends, span.start)
    while index < len(starts) and starts[index] < span.end:
        start, end = starts[index], ends[index]
        index += 1
        if spare_contained and span.start <= start and end <= span.end:
            continue
        if cursor < start:
            pieces.append(Span(cursor, start, span.kind, span.value))
        cursor = max(cursor, end)
    if cursor < span.end:
        pieces.append(Span(cursor, span.end, span.kind, span.value))
    return pieces


# --------------------------------------------------------------------------------------------
# Telegram
# --------------------------------------------------------------------------------------------


def _utf16_positions(text: str) -> list[int]:
    """``positions[i]`` is the UTF-16 offset of code point ``i`` (and of the end, at len)."""
    positions = [0]
    total = 0
    for char in text:
        total += 2 if ord(char) > 0xFFFF else 1
        positions.append(total)
    return positions


def from_telegram(text: str, entities: Sequence[Mapping[str, Any]]) -> RichText:
    """Text and Bot API message entities (UTF-16 offsets) as normalized rich text.

    Entities Telegram detects by itself (mentions by username, hashtags, URLs, ...) are left
    out: their text is in the message. Offsets out of range are clipped.
    """
    positions = _utf16_positions(text)
    total = positions[-1]
    spans: list[Span] = []
    for entity in entities:
        try:
            kind_value = _span_kind_of(entity)
            offset, length = int(entity["offset"]), int(entity["length"])
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        if kind_value is None:
            continue
        first = max(0, min(offset, total))
        last = max(first, min(offset + length, total))
        start = bisect_right(positions, first) - 1
        end = bisect_left(positions, last)
        spans.append(Span(start, end, *kind_value))
    return normalize(RichText(text, tuple(spans)))


def _span_kind_of(entity: Mapping[str, Any]) -> tuple[SpanKind, str] | None:
    kind = entity.get("type")
    if kind in _TELEGRAM_SIMPLE:
        return _TELEGRAM_SIMPLE[kind], ""
    if kind == "pre":
        return SpanKind.PRE, str(entity.get("language") or "")
    if kind == "text_link":
        url = entity.get("url")
        if not isinstance(url, str) or not url:
            return None
        user = _TELEGRAM_USER_LINK.fullmatch(url)
        if user:
            return SpanKind.MENTION, f"telegram:{int(user.group(1))}"
        return SpanKind.LINK, url
    if kind == "text_mention":
        user_id = entity["user"]["id"]
        if isinstance(user_id, bool) or not isinstance(user_id, int | str):
            return None
        return SpanKind.MENTION, f"telegram:{int(user_id)}"
    return None


def to_telegram_entities(rich: RichText) -> list[dict[str, Any]]:
    """Bot API message entities (UTF-16 offsets) for ``rich``, normalized first.

    Links with a scheme Telegram would not open and mentions of Matrix users are left out.
    """
    rich = normalize(rich)
    positions = _utf16_positions(rich.text)
    entities: list[dict[str, Any]] = []
    for span in rich.spans:
        entity: dict[str, Any]
        if span.kind in _TELEGRAM_TYPE:
            entity = {"type": _TELEGRAM_TYPE[span.kind]}
        elif span.kind is SpanKind.PRE:
            entity = {"type": "pre", **({"language": span.value} if span.value else {})}
        elif span.kind is SpanKind.LINK and is_safe_url(span.value, TELEGRAM_LINK_SCHEMES):
            entity = {"type": "text_link", "url": span.value}
        elif span.kind is SpanKind.MENTION and (user := _TELEGRAM_MENTION.fullmatch(span.value)):
            entity = {"type": "text_mention", "user": {"id": int(user.group(1))}}
        else:
            continue
        offset = positions[span.start]
        entities.append({**entity, "offset": offset, "length": positions[span.end] - offset})
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return entities


def to_telegram_html(rich: RichText) -> str:
    """Telegram HTML (``parse_mode=HTML``) for ``rich``: escaped, properly nested, with
    only the tags Telegram accepts and nothing inside code."""
    return _render(normalize(rich), _telegram_tags, lambda text, in_pre: escape(text))


def _telegram_tags(span: Span) -> tuple[str, str] | None:
    if span.kind in _TELEGRAM_TAGS:
        return f"<{_TELEGRAM_TAGS[span.kind]}>", f"</{_TELEGRAM_TAGS[span.kind]}>"
    if span.kind is SpanKind.PRE:
        if not span.value:
            return "<pre>", "</pre>"
        language = html.escape(span.value, quote=True)
        return f'<pre><code class="language-{language}">', "</code></pre>"
    if span.kind is SpanKind.LINK and is_safe_url(span.value, TELEGRAM_LINK_SCHEMES):
        return f'<a href="{html.escape(span.value, quote=True)}">', "</a>"
    if span.kind is SpanKind.MENTION and (user := _TELEGRAM_MENTION.fullmatch(span.value)):
        return f'<a href="tg://user?id={int(user.group(1))}">', "</a>"
    return None


# --------------------------------------------------------------------------------------------
# Matrix
# --------------------------------------------------------------------------------------------


def to_matrix_html(rich: RichText) -> str:
    """Safe ``org.matrix.custom.html`` for ``rich``: escaped, properly nested, line breaks
    as ``<br>`` (kept as they are inside code blocks)."""
    return _render(normalize(rich), _matrix_tags, _matrix_text)


def _matrix_text(text: str, in_pre: bool) -> str:
    return escape(text) if in_pre else escape(text).replace("\n", "<br>")


def _matrix_tags(span: Span) -> tuple[str, str] | None:
    if span.kind in _MATRIX_TAGS:
        return f"<{_MATRIX_TAGS[span.kind]}>", f"</{_MATRIX_TAGS[span.kind]}>"
    if span.kind is SpanKind.SPOILER:
        return "<span data-mx-spoiler>", "</span>"
    if span.kind is SpanKind.PRE:
        # Element ends a code block with a newline; from_matrix_html removes one.
        language = html.escape(span.value, quote=True)
        opening = f'<pre><code class="language-{language}">' if span.value else "<pre><code>"
        return opening, "\n</code></pre>"
    if span.kind is SpanKind.LINK and is_safe_url(span.value, MATRIX_LINK_SCHEMES):
        return f'<a href="{html.escape(span.value, quote=True)}">', "</a>"
    if span.kind is SpanKind.MENTION and (user := _MATRIX_MENTION.fullmatch(span.value)):
        href = MATRIX_TO_USER + quote(user.group(1), safe="@:/=+!$")
        return f'<a href="{html.escape(href, quote=True)}">', "</a>"
    return None


def from_matrix_html(formatted_body: str | None, body: str) -> RichText:
    """Rich text from a Matrix message's ``formatted_body`` (sanitized: unknown markup is
    reduced to its text, replies' ``<mx-reply>`` fallback removed), else from ``body``."""
    plain = RichText(_replace_lone_surrogates(body))
    if not formatted_body:
        return plain
    try:
        rich = read_matrix_html(formatted_body)
    except Exception:  # a sanitizer must never fail a message: keep the plain body
        return plain
    if not rich.text.strip() and plain.text.strip():
        return plain
    return normalize(RichText(_replace_lone_surrogates(rich.text), rich.spans))


def _replace_lone_surrogates(text: str) -> str:
    return re.sub("[\ud800-\udfff]", "\ufffd", text)


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def _render(
    rich: RichText,
    tags_for: Callable[[Span], tuple[str, str] | None],
    text_for: Callable[[str, bool], str],
) -> str:
    """Markup for normalized ``rich``: spans are split where needed so tags nest, in the
    order of ``_NESTING_CLASS`` (quote outermost, code innermost)."""
    tagged = [(span, tags) for span in rich.spans if (tags := tags_for(span)) is not None]
    starting: dict[int, list[tuple[Span, tuple[str, str]]]] = {}
    for entry in tagged:
        starting.setdefault(entry[0].start, []).append(entry)
    bounds = sorted({0, len(rich.text)} | {s.start for s, _ in tagged} | {s.end for s, _ in tagged})
    out: list[str] = []
    stack: list[tuple[Span, tuple[str, str]]] = []
    active: list[tuple[Span, tuple[str, str]]] = []  # a few: same-kind spans never overlap
    for start, end in pairwise(bounds):
        new = starting.get(start, [])
        active = [entry for entry in active if entry[0].end > start] + new
        keep = next((i for i, entry in enumerate(stack) if entry not in active), len(stack))
        if new:
            lowest = min(_NESTING_CLASS[s.kind] for s, _ in new)
            keep = next(
                (i for i, (s, _) in enumerate(stack[:keep]) if _NESTING_CLASS[s.kind] > lowest),
                keep,
            )
        out.extend(tags[1] for _, tags in reversed(stack[keep:]))
        reopened = [entry for entry in stack[keep:] if entry in active]
        del stack[keep:]
        for entry in sorted(
            reopened + new, key=lambda e: (_NESTING_CLASS[e[0].kind], -e[0].end, e[0])
        ):
            out.append(entry[1][0])
            stack.append(entry)
        in_pre = any(s.kind is SpanKind.PRE for s, _ in stack)
        out.append(text_for(rich.text[start:end], in_pre))
    out.extend(tags[1] for _, tags in reversed(stack))
    return "".join(out)
