"""Dates as members type them: "December 1984", "3 de diciembre de 1984", "ديسمبر ١٩٨٤".

Month names come from Babel (CLDR), wide and abbreviated, in the member's language and its
regional forms (Levantine "كانون الأول", Peruvian "setiembre"), and in English for every
member; case, accents and a closing dot do not matter, and digits may be in any script.
Pure functions: they read text and return numbers, and never check the calendar.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Literal

from babel.dates import get_month_names
from babel.localedata import locale_identifiers

from bot.choosing import folded

ENGLISH = "en"
_WIDTHS: tuple[Literal["wide", "abbreviated"], ...] = ("wide", "abbreviated")
_CONTEXTS: tuple[Literal["format", "stand-alone"], ...] = ("format", "stand-alone")
_REGIONAL = re.compile(r"^[a-z]{2,3}(?:_(?:[A-Z]{2}|\d{3}))?$")
"""A language, or a language in a region: not a script of its own (en_Dsrt, sr_Latn)."""
_SEPARATORS = re.compile(r"[\s,\u060c/\-]+")
_YEAR = re.compile(r"^(\d{4})\u0645?$")
"""Four digits; in Arabic a year may close with م (of the Common Era)."""
_DAY = re.compile(r"^(\d{1,2})(?:st|nd|rd|th|er|re|o|a|°)?$")
"""One or two digits, with an ordinal ending ("1st", "1er", "1º") if any."""
_FILLERS = frozenset({"de", "del", "of", "the", "in", "en", "em", "le", "el", "\u0641\u064a"})
"""Words around a date that say nothing of it ("3 de diciembre", "le 3 mai", "في مايو")."""


@dataclass(frozen=True)
class TypedDate:
    """A date as typed, with the month named: the year and month, and the day if given."""

    year: int
    month: int
    day: int | None = None


def ascii_digits(text: str) -> str:
    """``text`` with every decimal digit of any script (٣, ۳, ３) made an ASCII digit."""
    return "".join(
        str(value) if (value := unicodedata.decimal(character, None)) is not None else character
        for character in text
    )


@cache
def month_numbers(language: str) -> Mapping[str, int]:
    """Every month name a member of ``language`` may type, folded, to its number (1-12)."""
    languages = {ENGLISH, language.split("_")[0]}
    months: dict[str, set[int]] = {}
    for locale in sorted(locale_identifiers()):
        if not _REGIONAL.match(locale) or locale.split("_")[0] not in languages:
            continue
        for width in _WIDTHS:
            for context in _CONTEXTS:
                for number, name in get_month_names(width, context, locale).items():
                    months.setdefault(_name_key(name), set()).add(int(number))
    # A name two regions give to different months would read as neither.
    return {name: next(iter(numbers)) for name, numbers in months.items() if len(numbers) == 1}


def read_month_date(text: str, language: str) -> TypedDate | None:
    """The date ``text`` gives with a month name, with or without a day; ``None`` when it
    names no month, several, or holds anything more than a year and a day."""
    names = month_numbers(language)
    words = [word for word in _SEPARATORS.split(folded(ascii_digits(text))) if word]
    months: list[int] = []
    rest: list[str] = []
    index = 0
    while index < len(words):
        pair = " ".join(words[index : index + 2])
        if index + 1 < len(words) and _name_key(pair) in names:
            months.append(names[_name_key(pair)])  # "كانون الأول", in two words
            index += 2
        elif _name_key(words[index]) in names:
            months.append(names[_name_key(words[index])])
            index += 1
        else:
            rest.append(words[index].rstrip("."))
            index += 1
    if len(months) != 1:
        return None
    years: list[int] = []
    days: list[int] = []
    for word in rest:
        if word in _FILLERS or not word:
            continue
        if (year := _YEAR.match(word)) is not None:
            years.append(int(year.group(1)))
        elif (day := _DAY.match(word)) is not None:
            days.append(int(day.group(1)))
        else:
            return None
    if len(years) != 1 or len(days) > 1:
        return None
    return TypedDate(years[0], months[0], days[0] if days else None)


def _name_key(name: str) -> str:
    return folded(name).rstrip(".")
