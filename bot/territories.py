"""Countries for case reports: find one from what a member typed, name it, place it in a region.

Names come from Babel's CLDR territory names, so a member may type a country in any language
the caller passes, in part, without accents, in any case, with or without the Arabic article.
Regions follow UN M49, with the Americas split into Latin America and the Caribbean and
Northern America; Babel ships no containment data, so the table is kept here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from babel import Locale

_NOT_PLACES = frozenset({"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"})
"""CLDR's two-letter groupings and pseudo-locales: no case happens "in" them."""

_PARTS_OF_COUNTRIES: Mapping[str, str] = {
    "AC": "SH",  # Ascension Island
    "CP": "FR",  # Clipperton Island
    "CQ": "GG",  # Sark
    "DG": "IO",  # Diego Garcia
    "EA": "ES",  # Ceuta & Melilla
    "IC": "ES",  # Canary Islands
    "TA": "SH",  # Tristan da Cunha
}
"""CLDR codes that ISO 3166-1 only reserves; their names find the country they belong to."""


@cache
def _cldr_names(language: str) -> Mapping[str, str]:
    """CLDR territory names in one language, codes as keys (macro-regions included)."""
    names: Mapping[str, str] = Locale.parse(language.replace("-", "_")).territories
    return names


COUNTRY_CODES: tuple[str, ...] = tuple(
    sorted(
        code
        for code in _cldr_names("en")
        if len(code) == 2
        and code.isascii()
        and code.isalpha()
        and code not in _NOT_PLACES
        and code not in _PARTS_OF_COUNTRIES
    )
)
"""ISO 3166-1 alpha-2 codes of countries and territories (with Kosovo, XK), sorted."""

_COUNTRY_SET = frozenset(COUNTRY_CODES)


class Region(StrEnum):
    """UN M49 world region, for statistics; the Americas are split as M49 splits them."""

    AFRICA = "africa"
    LATIN_AMERICA_CARIBBEAN = "latin_america_caribbean"
    NORTHERN_AMERICA = "northern_america"
    ASIA = "asia"
    EUROPE = "europe"
    OCEANIA = "oceania"
    OTHER = "other"


_REGION_MEMBERS: Mapping[Region, str] = {
    Region.AFRICA: (
        "DZ EG EH LY MA SD TN"  # Northern Africa
        " BI DJ ER ET IO KE KM MG MU MW MZ RE RW SC SO SS TF TZ UG YT ZM ZW"  # Eastern
        " AO CD CF CG CM GA GQ ST TD"  # Middle
        " BW LS NA SZ ZA"  # Southern
        " BF BJ CI CV GH GM GN GW LR ML MR NE NG SH SL SN TG"  # Western
    ),
    Region.LATIN_AMERICA_CARIBBEAN: (
        "AG AI AW BB BL BQ BS CU CW DM DO GD GP HT JM KN KY LC MF MQ MS PR SX TC TT VC VG VI"
        " BZ CR GT HN MX NI PA SV"  # Central America
        " AR BO BR BV CL CO EC FK GF GS GY PE PY SR UY VE"  # South America
    ),
    Region.NORTHERN_AMERICA: "BM CA GL PM US",
    Region.ASIA: (
        "KG KZ TJ TM UZ"  # Central
        " CN HK JP KP KR MN MO TW"  # Eastern
        " BN ID KH LA MM MY PH SG TH TL VN"  # South-eastern
        " AF BD BT IN IR LK MV NP PK"  # Southern
        " AE AM AZ BH CY GE IL IQ JO KW LB OM PS QA SA SY TR YE"  # Western
    ),
    Region.EUROPE: (
        "BG BY CZ HU MD PL RO RU SK UA"  # Eastern
        " AX DK EE FI FO GB GG IE IM IS JE LT LV NO SE SJ"  # Northern
        " AD AL BA ES GI GR HR IT ME MK MT PT RS SI SM VA XK"  # Southern
        " AT BE CH DE FR LI LU MC NL"  # Western
    ),
    Region.OCEANIA: (
        "AU CC CX HM NF NZ"  # Australia and New Zealand
        " FJ NC PG SB VU"  # Melanesia
        " FM GU KI MH MP NR PW UM"  # Micronesia
        " AS CK NU PF PN TK TO TV WF WS"  # Polynesia
    ),
}

_REGIONS: Mapping[str, Region] = {
    code: region for region, members in _REGION_MEMBERS.items() for code in members.split()
}

_ALIASES: Mapping[str, tuple[str, ...]] = {
    "US": (
        "USA",
        "US",
        "U.S.",
        "U.S.A.",
        "United States of America",
        "EEUU",
        "EE.UU.",
        "Estados Unidos de América",
        "États-Unis d'Amérique",
        "Estados Unidos da América",
    ),
    "GB": (
        "UK",
        "U.K.",
        "Great Britain",
        "Britain",
        "Gran Bretaña",
        "Grande-Bretagne",
        "Grã-Bretanha",
        "England",
        "Scotland",
        "Wales",
    ),
    "CD": (
        "Congo Kinshasa",
        "DRC",
        "RDC",
        "DR Congo",
        "Democratic Republic of the Congo",
        "Democratic Republic of Congo",
        "République démocratique du Congo",
        "República Democrática do Congo",
        "Zaire",
    ),
    "CG": ("Congo Brazzaville", "Republic of the Congo", "República del Congo"),
    "CI": ("Ivory Coast", "Costa de Marfil", "Côte d'Ivoire"),
    "MM": ("Burma",),
    "CZ": ("Czech Republic", "República Checa", "République tchèque", "República Tcheca"),
    "TR": ("Turkey", "Türkiye"),
    "PS": (
        "Palestine",
        "State of Palestine",
        "Palestina",
        "فلسطين",
        "Gaza",
        "West Bank",
        "Cisjordania",
        "Cisjordanie",
        "غزة",
        "الضفة الغربية",
    ),
    "KR": ("South Korea", "Republic of Korea"),
    "KP": ("North Korea", "DPRK"),
    "RU": ("Russia", "Russian Federation"),
    "IR": ("Iran", "Persia"),
    "SY": ("Syria",),
    "BO": ("Bolivia",),
    "VE": ("Venezuela",),
    "TZ": ("Tanzania",),
    "VN": ("Vietnam", "Viet Nam"),
    "LA": ("Laos",),
    "NL": ("Holland",),
    "SZ": ("Swaziland",),
    "TL": ("East Timor",),
    "VA": ("Holy See",),
}
"""Common names CLDR keeps only as variants, which Babel does not expose."""

_CONJUNCTION: Mapping[str, str] = {"en": "and", "es": "y", "fr": "et", "pt": "e", "ar": "و"}
"""What a member types for CLDR's "&" (``Bosnia & Herzegovina``)."""

_ARABIC_LETTERS = str.maketrans(
    {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ی": "ي", "ة": "ه", "ـ": None}
)
_APOSTROPHES = frozenset("'’ʼ`´")
_ARABIC_ARTICLE = "ال"
_MIN_INSIDE_WORD = 3

_NAMED_AFTER_SOVEREIGN: Mapping[str, str] = {
    "BQ": "NL",  # Caribbean Netherlands, Pays-Bas caribéens
    "HK": "CN",  # Hong Kong SAR China
    "MO": "CN",  # Macao SAR China
    "UM": "US",  # Îles mineures éloignées des États-Unis
    "VI": "US",  # Îles Vierges des États-Unis
}
"""Territories whose names hold their sovereign's: typing "China" does not mean Hong Kong."""


def _normalize(text: str) -> str:
    """Fold case, accents, Arabic letter variants, direction marks and punctuation away."""
    decomposed = unicodedata.normalize("NFKD", text.casefold()).translate(_ARABIC_LETTERS)
    kept: list[str] = []
    for char in decomposed:
        category = unicodedata.category(char)
        if category in ("Mn", "Me", "Cf") or char in _APOSTROPHES:
            continue  # combining marks, harakat, bidi and zero-width controls
        kept.append(char if char.isalnum() else " ")
    return " ".join("".join(kept).split())


def _without_articles(key: str) -> str:
    """The key with each word's leading Arabic "ال" dropped, where a real word remains."""
    words = key.split(" ")
    return " ".join(
        word[len(_ARABIC_ARTICLE) :]
        if word.startswith(_ARABIC_ARTICLE) and len(word) > len(_ARABIC_ARTICLE) + 1
        else word
        for word in words
    )


def _keys(text: str) -> frozenset[str]:
    """The search keys of one name or query: normalized, and without Arabic articles."""
    key = _normalize(text)
    return frozenset({key, _without_articles(key)}) - {""}


def _spellings(name: str, language: str) -> Iterator[str]:
    """A CLDR name and the ways a member would write its "&" and "St."."""
    yield name
    if "&" in name:
        name = name.replace("&", f" {_CONJUNCTION.get(language, 'and')} ")
        yield name
    if language == "en" and "St. " in name:
        yield name.replace("St. ", "Saint ")


@dataclass(frozen=True)
class _Index:
    """Normalized names of every country in some languages, built once per language set."""

    entries: tuple[tuple[str, str], ...]
    """(key, code) pairs, one per distinct spelling."""
    exact: Mapping[str, frozenset[str]]
    """Key -> the codes that have exactly that name."""


@cache
def _index(languages: frozenset[str]) -> _Index:
    """Every spelling of every country in these languages, plus the alias table."""
    named: set[tuple[str, str]] = set()
    for language in sorted(languages):
        for code, name in _cldr_names(language).items():
            target = _PARTS_OF_COUNTRIES.get(code, code)
            if target in _COUNTRY_SET:
                for spelling in _spellings(name, language):
                    named.update((key, target) for key in _keys(spelling))
    for code, aliases in _ALIASES.items():
        for alias in aliases:
            named.update((key, code) for key in _keys(alias))
    exact: dict[str, set[str]] = {}
    for key, code in named:
        exact.setdefault(key, set()).add(code)
    return _Index(
        entries=tuple(sorted(named)),
        exact={key: frozenset(codes) for key, codes in exact.items()},
    )


def is_country(code: str) -> bool:
    """Is this an ISO 3166-1 alpha-2 code a case report may name?"""
    return code.upper() in _COUNTRY_SET


def territory_name(code: str, language: str) -> str:
    """The CLDR name of a country in a language, for showing a member what was chosen."""
    code = code.upper()
    if code not in _COUNTRY_SET:
        raise KeyError(code)
    return _cldr_names(language)[code]


def region_of(code: str) -> Region:
    """The M49 region a country's cases are counted under; OTHER for Antarctica or unknown."""
    return _REGIONS.get(code.upper(), Region.OTHER)


def _rank(query: str, key: str) -> int | None:
    """1 if the name starts with the query, 2 if a later word does, 3 if it is inside a word.

    Two letters inside a word ("zz" in Brazzaville) are noise, not a guess at a country.
    """
    if query not in key:
        return None
    if key.startswith(query):
        return 1
    if f" {query}" in key:
        return 2
    return 3 if len(query) >= _MIN_INSIDE_WORD else None


def _rank_beside_exact(query: str, key: str) -> int | None:
    """Like :func:`_rank`, but only for names that hold the query as whole words."""
    if query not in key:
        return None
    if not f"{key} ".startswith(f"{query} "):
        return 2 if f" {query} " in f" {key} " else None
    return 1


def find_territories(text: str, languages: Sequence[str], limit: int = 10) -> tuple[str, ...]:
    """Codes of the countries a member may mean, best first, at most ``limit`` of them.

    A whole name (or a bare ISO code) picks its country alone, unless that name is also part
    of other countries' names ("Congo", "Guinea", "Sudan"): those follow it as choices.
    Otherwise names starting with the text come before names merely containing it.
    """
    plain = _normalize(text)
    if limit <= 0 or len(plain) < 2:
        return ()
    if len(plain) == 2 and plain.isascii() and plain.upper() in _COUNTRY_SET:
        return (plain.upper(),)
    queries = frozenset({plain, _without_articles(plain)})
    index = _index(frozenset(languages))
    exact = frozenset[str]().union(*(index.exact.get(query, frozenset()) for query in queries))
    rank_of = _rank_beside_exact if exact else _rank
    best: dict[str, tuple[int, int]] = dict.fromkeys(exact, (0, 0))
    for key, code in index.entries:
        if _NAMED_AFTER_SOVEREIGN.get(code) in exact:
            continue
        for query in queries:
            rank = rank_of(query, key)
            if rank is not None and (rank, len(key)) < best.get(code, (4, 0)):
                best[code] = (rank, len(key))
    ranked = sorted(best, key=lambda code: (*best[code], code))
    return tuple(ranked[:limit])
