"""The fixed lists a case report is classified by, and how its answers are read.

Each option is a stable key (stored, exported, counted) whose text lives in ``locales/``
as ``cases.<list>.<key>``. Parsers here are pure: they take what a member typed and return
the stored value or raise :class:`InvalidAnswer` with a localized explanation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from bot.context import UserError
from bot.conversation import Ambiguous, InLanguage, InvalidAnswer, Json, strip_direction_marks
from bot.territories import find_territories, region_of
from bot.typed_dates import ENGLISH, ascii_digits, read_month_date
from bot.types import Choice, Lines, Literal, Message, Territory, Text
from locales import SUPPORTED_LANGUAGES
from storage.case_contents import Company

REPORTERS = ("affected_person", "community_member", "organization", "witness", "other")
NAMING = ("public", "network", "never")
COMPANY_ROLES = (
    "operator",
    "subsidiary",
    "supplier",
    "buyer",
    "contractor",
    "investor",
    "joint_venture",
    "state_owned",
    "other",
)
SECTORS = (
    "mining",
    "oil_gas",
    "agribusiness",
    "forestry",
    "dams_energy",
    "infrastructure",
    "manufacturing",
    "technology",
    "finance",
    "private_security",
    "water_services",
    "pharma_health",
    "tourism",
    "retail",
    "other",
)
RIGHTS = (
    "land_housing",
    "water",
    "food",
    "health",
    "environment",
    "labour",
    "indigenous_fpic",
    "life_security",
    "civic_space",
    "information",
    "women_gender",
    "cultural",
    "remedy",
    "other",
)
AFFECTED_GROUPS = (
    "indigenous",
    "women",
    "children",
    "workers",
    "peasants",
    "defenders",
    "migrants",
    "disabilities",
)
STATE_ROLES = ("permits", "security_forces", "failure_to_protect", "none_known")
STEPS_TAKEN = (
    "courts",
    "nhri",
    "oecd_ncp",
    "grievance",
    "un_special_procedures",
    "regional_bodies",
    "media_campaigns",
    "none",
)
PUBLICATION = ("internal", "network", "anonymous", "named")
MATRIX_ENCRYPTED = "matrix_encrypted"
MATRIX_UNENCRYPTED = "matrix_unencrypted"
CHANNELS = ("console", "telegram", MATRIX_ENCRYPTED, MATRIX_UNENCRYPTED)
"""Where a report was typed: the console, a Telegram bot chat (not end-to-end encrypted),
an end-to-end encrypted Matrix room, or one in the clear that the reporter chose."""
YES_NO = ("yes", "no")

LINE_MAX = 120
TITLE_MIN = 5
SHORT_TEXT_MAX = 1000
LONG_TEXT_MAX = 4000
NARRATIVE_MAX = 20000
LINK_MAX = 500
COUNT_MAX = 1_000_000_000
EARLIEST_YEAR = 1900


def option_key(kind: str, value: str) -> str:
    return f"cases.{kind}.{value}"


def choices(kind: str, values: Sequence[str]) -> tuple[Choice, ...]:
    return tuple(Choice(value, Message.of(option_key(kind, value))) for value in values)


def shown_option(kind: str) -> Callable[[Json], Text]:
    """Shows a stored option, or a list of them, with their texts."""

    def show(value: Json) -> Text:
        if isinstance(value, list):
            return Lines(
                tuple(
                    Message.of("conversation.bullet", item=Message.of(option_key(kind, str(item))))
                    for item in value
                )
            )
        return Message.of(option_key(kind, str(value)))

    return show


def characters(text: str) -> Message:
    """How long a text is, in words that follow the count ("1 character", "12 characters")."""
    return Message.counted("units.characters", len(text))


def one_line(text: str, limit: int = LINE_MAX, minimum: int = 1) -> str:
    if "\n" in text.strip():
        raise InvalidAnswer("cases.one_line")
    cleaned = " ".join(text.split())
    if len(cleaned) > limit:
        raise InvalidAnswer("cases.too_long", limit=limit, length=characters(cleaned))
    if len(cleaned) < minimum:
        raise InvalidAnswer("cases.too_short", minimum=minimum)
    return cleaned


def parse_title(text: str) -> Json:
    return one_line(text, LINE_MAX, TITLE_MIN)


def parse_line(text: str) -> Json:
    return one_line(text, LINE_MAX)


def text_up_to(limit: int) -> Callable[[str], Json]:
    def parse(text: str) -> Json:
        cleaned = text.strip()
        if len(cleaned) > limit:
            raise InvalidAnswer("cases.too_long", limit=limit, length=characters(cleaned))
        return cleaned

    return parse


def parse_country(text: str) -> Json:
    """A country named in any supported language, in part; several matches are offered."""
    found = find_territories(text, SUPPORTED_LANGUAGES, limit=8)
    if not found:
        raise InvalidAnswer("cases.unknown_country", typed=Literal(text[:60]))
    if len(found) == 1:
        return found[0]
    raise Ambiguous(found)


def parse_country_filter(text: str) -> str:
    """A country named in a command (``country=CO``, ``country=Colombia``): one, or refused."""
    found = find_territories(text.replace("_", " "), SUPPORTED_LANGUAGES, limit=8)
    if len(found) != 1:
        raise UserError("cases.filter_country", typed=Literal(text[:60]))
    return found[0]


def region_key(code: str) -> str:
    return region_of(code).value


def show_country(value: Json) -> Text:
    return Message.of("cases.country_name", country=Territory(str(value)))


_DIGITS = re.compile(r"(?<![\d.,-])(\d{1,3}(?:[.,\s\u00a0\u202f']\d{3})+|\d+)(?![\d.,]\d)")
"""One whole number: digits, or groups of three after a separator ("1,200", "1 200")."""


def show_people(value: Json) -> Text:
    """An answer to "about how many people", worded for its count and in the reader's
    number format ("800.000 personas")."""
    return Message.counted("cases.people_count", int(str(value)))


def parse_count(text: str) -> Json:
    """About how many people: a whole number, digit groups allowed ("1,200", "1 200")."""
    text = strip_direction_marks(text)
    found = _DIGITS.search(text)
    if found is None or len(_DIGITS.findall(text)) > 1:
        raise InvalidAnswer("cases.not_a_number")
    digits = re.sub(r"\D", "", found.group())
    number = int(digits) if digits else 0
    if not 1 <= number <= COUNT_MAX:
        raise InvalidAnswer("cases.not_a_number")
    return number


_DATE_FORMS = (
    (re.compile(r"^(\d{4})$"), ("year",)),
    (re.compile(r"^(\d{4})[-/.](\d{1,2})$"), ("year", "month")),
    (re.compile(r"^(\d{1,2})[-/.](\d{4})$"), ("month", "year")),
    (re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"), ("year", "month", "day")),
    (re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$"), ("day", "month", "year")),
)


def read_started(text: str, language: str = ENGLISH, today: date | None = None) -> Json:
    """When it began: a year, a month or a day, stored as "2024", "2024-03", "2024-03-15";
    in digits of any script, or with the month named in the member's language or English
    ("March 2024", "15 de marzo de 2024")."""
    cleaned = ascii_digits(strip_direction_marks(text)).strip()
    values: dict[str, int] | None = None
    for pattern, parts in _DATE_FORMS:
        match = pattern.match(cleaned)
        if match is not None:
            values = dict(zip(parts, (int(group) for group in match.groups()), strict=True))
            break
    if values is None and (named := read_month_date(cleaned, language)) is not None:
        values = {"year": named.year, "month": named.month}
        if named.day is not None:
            values["day"] = named.day
    if values is None:
        raise InvalidAnswer("cases.bad_date", example=Literal("2024-03"))
    year, month, day = values["year"], values.get("month"), values.get("day")
    try:
        earliest = date(year, month or 1, day or 1)
    except ValueError:
        raise InvalidAnswer("cases.bad_date", example=Literal("2024-03")) from None
    if year < EARLIEST_YEAR:
        raise InvalidAnswer("cases.date_too_early", year=EARLIEST_YEAR)
    if earliest > (today or datetime.now(UTC).date()):
        raise InvalidAnswer("cases.date_in_future")
    if day is not None:
        return earliest.isoformat()
    if month is not None:
        return f"{year:04d}-{month:02d}"
    return f"{year:04d}"


parse_started = InLanguage(read_started)
"""The step's parser: given the member's language by the conversation engine."""


def parse_link(text: str) -> Json:
    """Evidence typed as text must be a web link (files are sent as files)."""
    cleaned = strip_direction_marks(text).strip()
    if len(cleaned) > LINK_MAX or any(character.isspace() for character in cleaned):
        raise InvalidAnswer("cases.not_a_link")
    parts = urlsplit(cleaned)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InvalidAnswer("cases.not_a_link")
    return {"link": cleaned}


def join_narrative(pieces: list[Json]) -> Json:
    text = "\n\n".join(str(piece) for piece in pieces)
    if len(text) > NARRATIVE_MAX:
        raise InvalidAnswer("cases.too_long", limit=NARRATIVE_MAX, length=characters(text))
    return text


def show_narrative(value: Json) -> Text:
    text = str(value)
    if len(text) > 300:
        return Message.of("cases.shortened", text=Literal(text[:300]), length=characters(text))
    return Literal(text)


def show_evidence(value: Json) -> Text:
    items: list[Message | Literal] = []
    for piece in value if isinstance(value, list) else []:
        if isinstance(piece, dict) and "link" in piece:
            items.append(Message.of("conversation.bullet", item=Literal(str(piece["link"]))))
        elif isinstance(piece, dict) and isinstance(piece.get("file"), dict):
            name = piece["file"].get("filename") or piece["file"].get("kind") or "file"
            items.append(
                Message.of(
                    "conversation.bullet",
                    item=Message.of("cases.evidence_file", name=Literal(str(name))),
                )
            )
    return Lines(tuple(items)) if items else Message.of("conversation.not_answered")


def show_companies(value: Json) -> Text:
    return companies_shown(Company.all_from_data(value))


def companies_shown(companies: Sequence[Company]) -> Text:
    """The companies a report names, one per line, with their part and country."""
    items: list[Message | Literal] = []
    for company in companies:
        role = Message.of(option_key("company_role", company.role))
        line = (
            Message.of(
                "cases.company_line",
                name=Literal(company.name),
                role=role,
                country=Territory(company.country),
            )
            if company.country
            else Message.of(
                "cases.company_line_no_country",
                name=Literal(company.name),
                role=role,
            )
        )
        items.append(Message.of("conversation.bullet", item=line))
    return Lines(tuple(items)) if items else Message.of("conversation.not_answered")
