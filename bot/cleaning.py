"""What a member types, cleaned before the bot keeps it or shows it to anyone.

A display name, an answer or a command's words may carry characters a reader never sees
but a screen obeys: control characters (a newline that fakes a second sender in a relayed
header, a terminal escape), and bidirectional overrides and isolates that turn the text
after them around ("Ana (Telegram)" shown as something else). They are taken out here, at
the one place text enters the bot. What right-to-left scripts need inside their words is
kept: the direction marks (LRM, RLM, ALM) and the joiners (ZWJ, ZWNJ).

An answer made of nothing visible (spaces, zero-width characters, marks) is no answer:
:func:`is_invisible` tells the conversation engine to refuse it.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["clean_answer", "clean_line", "is_invisible"]

LINE_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
"""Characters that end a line somewhere (besides ``\\n``): each becomes one newline."""

_DIRECTION_OVERRIDES = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
"""Embeddings, overrides and isolates (LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI)."""
_DEPRECATED_FORMAT = "".join(map(chr, range(0x206A, 0x2070)))
"""Deprecated format characters (symmetric swapping, digit shapes): never meant to be typed."""

_REMOVED = dict.fromkeys(
    [
        *(code for code in range(0x20) if chr(code) not in "\n\t"),
        *range(0x7F, 0xA0),
        *map(ord, _DIRECTION_OVERRIDES),
        *map(ord, _DEPRECATED_FORMAT),
    ]
)
_TO_NEWLINE = {ord(char): "\n" for char in LINE_BREAKS}
_TO_SPACE = {ord(char): " " for char in "\t\n" + LINE_BREAKS}

_EDGES = " \t\n\u00a0\u200b\u200e\u200f\u061c\u2060\ufeff"
"""Trimmed at both ends of an answer: spaces, and marks that say nothing at an edge."""

_BLANK_LETTERS = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f\u2800\u3164\uffa0"
    + "".join(map(chr, range(0xFE00, 0xFE10)))
)
"""Characters that are letters or marks to Unicode yet show nothing (fillers, blanks,
variation selectors, the combining grapheme joiner)."""
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
_SPACES = re.compile(r"\s+")


def _without_controls(text: str) -> str:
    return text.replace("\r\n", "\n").translate(_TO_NEWLINE).translate(_REMOVED)


def clean_answer(text: str) -> str:
    """An answer as kept: line breaks of every kind made ``\\n`` (a one-line question's
    parser refuses them), tabs made spaces, every other control character and every
    direction override or isolate taken out, and the ends trimmed."""
    kept = _without_controls(text).replace("\t", " ")
    return kept.strip(_EDGES)


def clean_line(text: str | None) -> str:
    """A display name, a file name or a command's word, on one line: breaks and runs of
    spaces made one space, controls and direction overrides taken out; ``""`` when nothing
    visible is left."""
    if not text:
        return ""
    one_line = text.replace("\r\n", "\n").translate(_TO_SPACE).translate(_REMOVED)
    name = _SPACES.sub(" ", one_line).strip(_EDGES)
    return "" if is_invisible(name) else name


def is_invisible(text: str) -> bool:
    """True when nothing in ``text`` shows: only spaces, controls, format characters
    (zero-width spaces and joiners, direction marks, the byte-order mark) or blank letters."""
    return all(
        char in _BLANK_LETTERS or unicodedata.category(char) in _INVISIBLE_CATEGORIES
        for char in text
    )
