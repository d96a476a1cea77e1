"""Reading Matrix ``org.matrix.custom.html`` into rich text: a sanitizing parser.

Known formatting becomes spans; every other tag is reduced to its text (the contents of
``script``, ``style`` and the ``<mx-reply>`` reply fallback are dropped). Outside ``pre``
a newline in the source is only whitespace, as in a browser: a line break comes from
``<br>`` or from block tags (paragraphs and headings are separated by an empty line, as in
the ``body`` Element sends with them; list items get "• " or "1. " markers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

from bot.types import RichText, Span, SpanKind

_UNSAFE_URL_CHARACTER = re.compile(r"[\s\x00-\x1f\x7f]")
_MATRIX_LINK_SCHEMES = frozenset({"http", "https", "mailto"})
_SIMPLE = {
    "b": SpanKind.BOLD,
    "strong": SpanKind.BOLD,
    "i": SpanKind.ITALIC,
    "em": SpanKind.ITALIC,
    "u": SpanKind.UNDERLINE,
    "ins": SpanKind.UNDERLINE,
    "del": SpanKind.STRIKE,
    "s": SpanKind.STRIKE,
    "strike": SpanKind.STRIKE,
    "code": SpanKind.CODE,
    "blockquote": SpanKind.QUOTE,
    **{f"h{level}": SpanKind.BOLD for level in range(1, 7)},
}
_PARAGRAPHS = frozenset({"p", *(f"h{level}" for level in range(1, 7))})
_BLOCKS = frozenset(
    {"div", "li", "ol", "ul", "tr", "table", "dl", "dt", "dd", "details", "summary", "hr"}
)
_VOID = frozenset(
    {"br", "img", "hr", "wbr", "input", "meta", "link", "area", "base", "col", "embed"}
    | {"param", "source", "track"}
)
_MAX_INDENT = 8  # list levels indented; deeper ones are not indented further
_DROPPED = frozenset({"mx-reply", "script", "style"})
_LEADING_SPACE = re.compile(r"^[ \t\n\r\f]*")
_TRAILING_SPACE = re.compile(r"[ \t\n\r\f]*$")


def is_safe_url(url: str, schemes: frozenset[str]) -> bool:
    """True for a URL with one of ``schemes`` and no spaces or control characters."""
    if not url or _UNSAFE_URL_CHARACTER.search(url):
        return False
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return False
    return scheme in schemes


def link_target(href: str) -> tuple[SpanKind, str] | None:
    """A Matrix link as a span: a ``matrix.to`` (or ``matrix:u/``) user link is a mention."""
    try:
        parts = urlsplit(href)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    user = ""
    if scheme in ("http", "https") and parts.netloc.lower() == "matrix.to":
        user = unquote(parts.fragment.lstrip("/").split("?", 1)[0])
    elif scheme == "matrix" and parts.path.startswith("u/"):
        user = "@" + unquote(parts.path[2:])
    if user.startswith("@") and ":" in user and not _UNSAFE_URL_CHARACTER.search(user):
        return SpanKind.MENTION, f"matrix:{user}"
    if is_safe_url(href, _MATRIX_LINK_SCHEMES):
        return SpanKind.LINK, href
    return None


def read_matrix_html(source: str) -> RichText:
    """The text and spans of ``source`` (not yet normalized)."""
    reader = _Reader()
    reader.feed(source)
    reader.close()
    return reader.result()


@dataclass(slots=True)
class _Element:
    tag: str
    start: int
    kind: SpanKind | None = None
    value: str = ""
    counter: int = 0


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._length = 0
        self._tail = ""  # the last two characters written
        self._spans: list[Span] = []
        self._open: list[_Element] = []
        self._open_count: dict[str, int] = {}  # how many elements of each tag are open
        self._lists: list[_Element] = []  # the open ol and ul elements
        self._dropping = 0
        self._in_pre = 0
        self._pending_breaks = 0  # line breaks owed before the next text
        self._pending_space = ""  # a newline-bearing space, written only before more text
        self._marker_end = -1  # where the last list marker ended (a line start)

    # -- output ------------------------------------------------------------------------------

    def _owed_newlines(self) -> int:
        return max(0, self._pending_breaks - len(self._tail) + len(self._tail.rstrip("\n")))

    def _write(self, text: str) -> None:
        """Write ``text`` after the breaks or space owed; ``""`` writes only a pending space."""
        if self._dropping or not (text or self._pending_space):
            return
        prefix = "\n" * self._owed_newlines() if self._pending_breaks else self._pending_space
        self._pending_breaks, self._pending_space = 0, ""
        text = prefix + text
        self._parts.append(text)
        self._length += len(text)
        self._tail = (self._tail + text)[-2:]

    def _at_line_start(self) -> bool:
        return self._length in (0, self._marker_end) or self._tail.endswith("\n")

    def _request_break(self, lines: int) -> None:
        if self._dropping:
            return
        self._pending_space = ""
        if self._length not in (0, self._marker_end):
            self._pending_breaks = max(self._pending_breaks, lines)

    def _remove_final_newline(self, since: int) -> None:
        if self._length <= since or not self._tail.endswith("\n"):
            return
        self._parts[-1] = self._parts[-1][:-1]
        if not self._parts[-1]:
            self._parts.pop()
        self._length -= 1
        self._tail = "".join(self._parts[-2:])[-2:]
        # Only spans closed since the last write can end past the removed newline.
        index = len(self._spans) - 1
        while index >= 0 and self._spans[index].end > self._length:
            span = self._spans[index]
            self._spans[index] = Span(
                min(span.start, self._length), self._length, span.kind, span.value
            )
            index -= 1

    # -- parser events -----------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag in _VOID:
            self._void(tag, attributes)
            return
        if tag in _PARAGRAPHS or tag in _BLOCKS:
            self._request_break(2 if tag in _PARAGRAPHS else 1)
        element = _Element(tag, self._length)
        if tag in _DROPPED:
            self._dropping += 1
        elif tag == "pre":
            self._in_pre += 1
            element.kind, element.value = SpanKind.PRE, _language(attributes)
        elif tag == "code" and self._open and self._open[-1].tag == "pre":
            self._open[-1].value = _language(attributes) or self._open[-1].value
        elif tag in _SIMPLE:
            element.kind = _SIMPLE[tag]
        elif tag == "a":
            target = link_target(attributes.get("href", ""))
            if target:
                element.kind, element.value = target
        elif tag == "span" and "data-mx-spoiler" in attributes:
            element.kind = SpanKind.SPOILER
        elif tag in ("ol", "ul"):
            element.counter = _start_number(attributes.get("start", "")) - 1
            self._lists.append(element)
        elif tag == "li":
            self._list_marker()
        elif tag in ("td", "th") and not (self._at_line_start() or self._pending_breaks):
            self._write(" ")
        if element.kind is not None:
            if self._pending_space and not self._pending_breaks:
                self._write("")  # a span starting here starts after the pending space
            element.start = self._length + (self._owed_newlines() if self._pending_breaks else 0)
        self._open.append(element)
        self._open_count[tag] = self._open_count.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        """Close the innermost open ``tag`` and whatever is still open inside it."""
        if self._open_count.get(tag):
            while True:
                element = self._open.pop()
                self._close(element)
                if element.tag == tag:
                    return

    def handle_data(self, data: str) -> None:
        if self._dropping:
            return
        if self._in_pre:
            self._write(data)
            return
        if "\n" not in data:
            if not (self._pending_breaks and data.isspace()):  # between blocks: ignored
                self._write(data)
            return
        leading = _LEADING_SPACE.match(data).group(0)  # type: ignore[union-attr]
        if len(leading) == len(data):
            if not (self._at_line_start() or self._pending_breaks):
                self._pending_space = data.replace("\n", " ")
            return
        trailing = _TRAILING_SPACE.search(data).group(0)  # type: ignore[union-attr]
        core = data[len(leading) : len(data) - len(trailing)]
        if "\n" in leading and (self._at_line_start() or self._pending_breaks):
            leading = ""
        if "\n" in trailing:
            self._write((leading + core).replace("\n", " "))
            self._pending_space = trailing.replace("\n", " ")
        else:
            self._write((leading + core + trailing).replace("\n", " "))

    def result(self) -> RichText:
        while self._open:
            self._close(self._open.pop())
        return RichText("".join(self._parts), tuple(self._spans))

    # -- helpers -----------------------------------------------------------------------------

    def _close(self, element: _Element) -> None:
        self._open_count[element.tag] -= 1
        if element.tag in ("ol", "ul"):
            self._lists.pop()
        if element.tag in _DROPPED:
            self._dropping -= 1
        elif element.tag == "pre":
            self._in_pre -= 1
            if not self._in_pre:
                self._remove_final_newline(element.start)
        if element.kind is not None and not self._dropping:
            self._spans.append(Span(element.start, self._length, element.kind, element.value))
        if element.tag in _PARAGRAPHS or element.tag in _BLOCKS:
            self._request_break(2 if element.tag in _PARAGRAPHS else 1)

    def _void(self, tag: str, attributes: dict[str, str]) -> None:
        if tag == "br":
            self._pending_space = ""
            self._write("\n")
        elif tag == "hr":
            self._request_break(1)
        elif tag == "img":
            self._write(attributes.get("alt", ""))

    def _list_marker(self) -> None:
        if self._dropping:
            return
        marker = "• "
        if self._lists and self._lists[-1].tag == "ol":
            self._lists[-1].counter += 1
            marker = f"{self._lists[-1].counter}. "
        self._write("  " * min(max(0, len(self._lists) - 1), _MAX_INDENT) + marker)
        self._marker_end = self._length


def _language(attributes: dict[str, str]) -> str:
    for name in attributes.get("class", "").split():
        if name.startswith("language-"):
            return name[len("language-") :]
    return ""


def _start_number(value: str) -> int:
    value = value.strip()
    if value.isascii() and value.lstrip("-").isdigit() and len(value) < 10:
        return int(value)
    return 1
