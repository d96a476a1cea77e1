"""How a typed answer names one of the choices offered: its number in any script's digits,
its label, or a part of its label that no other choice shares.

Members type numbers in the digits of their language (Arabic-Indic ٣, Persian ۳, full-width
３) and the word they remember ("manufacturing" for "Manufacturing and extraction"); both
should pick what they mean, in every transport and in the conversation engine alike.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

_DIRECTION_MARKS = dict.fromkeys(
    map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)
SHORTEST_PART = 3
"""A part of a label shorter than this picks nothing: too many labels contain it."""


def strip_direction_marks(text: str) -> str:
    """Drop bidi controls, which a member copying a right-to-left reply brings along."""
    return text.translate(_DIRECTION_MARKS)


def typed_number(text: str) -> int | None:
    """The whole number ``text`` is, in any script's decimal digits; else ``None``."""
    cleaned = strip_direction_marks(text).strip()
    if not cleaned or len(cleaned) > 6:
        return None
    digits = []
    for character in cleaned:
        value = unicodedata.decimal(character, None)
        if value is None:
            return None
        digits.append(str(value))
    return int("".join(digits))


def typed_numbers(text: str) -> list[int] | None:
    """The numbers of several picks typed in one message ("8, 4, 13", "8 4 13", "٨، ٤"), in
    any script's digits; ``None`` unless the message is only numbers."""
    pieces = re.split(r"[\s,;\u060c]+", strip_direction_marks(text).strip())
    numbers = [typed_number(piece) for piece in pieces if piece]
    if not numbers or any(number is None for number in numbers):
        return None
    return [number for number in numbers if number is not None]


def folded(text: str) -> str:
    """``text`` for comparing: case, accents and direction marks set aside."""
    decomposed = unicodedata.normalize("NFKD", strip_direction_marks(text).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


def by_part(labels: Sequence[str], text: str) -> int | None:
    """The index of the one label ``text`` is part of (at least three letters); ``None``
    when no label or several contain it."""
    wanted = folded(text)
    if len(wanted) < SHORTEST_PART:
        return None
    found = [index for index, label in enumerate(labels) if wanted in folded(label)]
    return found[0] if len(found) == 1 else None
