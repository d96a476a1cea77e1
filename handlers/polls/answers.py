"""How a coordinator's answers to ``/poll`` read: the question, the options (one per line or
one per message), a quorum, and the deadline: a date and time (``2027-01-15 17:00``, in the
group's time zone unless another is named), or a duration from now in any of the five
languages (``3d``, ``48h``, ``2 weeks``, ``3 días``, ``2 semaines``, ``١٠ أيام``)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.choosing import folded
from bot.conversation import InLanguage, InvalidAnswer, Json
from bot.typed_dates import ascii_digits, read_month_date
from bot.types import CommandRef, Lines, Literal, Message, Text
from handlers.cases.options import one_line
from handlers.consultations_rules import deadline_at, read_deadline

LONGEST = timedelta(days=90)
"""The furthest a poll's deadline may be."""
QUESTION_MAX = 300
OPTION_MAX = 100
OPTIONS_MIN, OPTIONS_MAX = 2, 12
"""How many options a simple poll has: Telegram's limits."""
VOTERS_MAX = 100_000

_UNITS: dict[str, timedelta] = {}
for _unit, _words in (
    (timedelta(hours=1), "h hr hrs hour hours hora horas heure heures ساعة ساعات ساعه"),
    (timedelta(days=1), "d day days dia dias jour jours j يوم ايام أيام يوما يومًا"),
    (
        timedelta(weeks=1),
        "w wk week weeks semana semanas semaine semaines sem اسبوع أسبوع اسابيع أسابيع",
    ),
):
    for _word in _words.split():
        _UNITS[folded(_word)] = _unit
_DUAL = {folded("يومين"): timedelta(days=2), folded("أسبوعين"): timedelta(weeks=2)}
"""Arabic's dual: "two days", "two weeks" in one word."""
_PAIR = re.compile(r"(\d{1,4})\s*([^\d\s]+)")


def read_duration(text: str) -> timedelta | None:
    """``3d``, ``48 h``, ``1 week 2 days``, ``2 semanas``; ``None`` when it is not one."""
    typed = folded(ascii_digits(text)).replace(",", " ")
    typed = re.sub(r"\b(et|and|y|e|و)\b", " ", typed)
    if typed in _DUAL:
        return _DUAL[typed]
    total = timedelta(0)
    end = 0
    for found in _PAIR.finditer(typed):
        if typed[end : found.start()].strip():
            return None
        unit = _UNITS.get(found.group(2).rstrip("."))
        if unit is None:
            return None
        total += int(found.group(1)) * unit
        end = found.end()
    if end == 0 or typed[end:].strip():
        return None
    return total


def read_poll_deadline(text: str, language: str = "en") -> Json:
    """The deadline as kept until the poll is made: ``{"after": seconds}`` from the moment
    it is posted, or ``{"local": "2027-01-15T17:00", "zone": None | "Europe/Zurich"}``
    (the month may be named in the coordinator's language: ``15 de enero de 2027 17:00``)."""
    duration = read_duration(text)
    if duration is not None:
        if not timedelta(hours=1) <= duration <= LONGEST:
            raise InvalidAnswer("polls.create.deadline_range", days=LONGEST.days)
        return {"after": int(duration.total_seconds())}
    try:
        return read_deadline(ascii_digits(text))
    except InvalidAnswer as refused:
        if refused.message.key == "consult.bad_zone":
            raise
        named = _named_month_deadline(text, language)
        if named is None:
            raise InvalidAnswer("polls.create.bad_deadline") from refused
        return named


_AT = frozenset(folded(word) for word in ("at", "a", "las", "la", "à", "às", "الساعة"))
"""Words before a time of day ("a las 17:00", "à 17h00")."""
_CLOCK = re.compile(r"(?:^|\s)(\d{1,2})[:h](\d{2})(?:\s|$)")


def _named_month_deadline(text: str, language: str) -> Json:
    """``15 de enero de 2027 17:00``, ``3 mars 2027``: a day, a named month and a year, and
    a time if any (a day alone means its last minute)."""
    typed = ascii_digits(text)
    clock = _CLOCK.search(typed)
    hour, minute = (int(clock.group(1)), int(clock.group(2))) if clock else (23, 59)
    if clock is not None:
        typed = typed[: clock.start()] + " " + typed[clock.end() :]
    words = [word for word in typed.split() if folded(word) not in _AT]
    found = read_month_date(" ".join(words), language)
    if found is None or found.day is None:
        return None
    try:
        moment = datetime(found.year, found.month, found.day, hour, minute)
    except ValueError:
        return None
    return {"local": moment.isoformat(timespec="minutes"), "zone": None}


READ_DEADLINE = InLanguage(read_poll_deadline)
"""The deadline step's parser: it is given the coordinator's language (month names)."""


def show_poll_deadline(value: Json) -> Text:
    if isinstance(value, dict) and "after" in value:
        hours = int(value["after"]) // 3600
        if hours % 24 == 0:
            return Message.counted("polls.create.in_days", hours // 24)
        return Message.counted("polls.create.in_hours", hours)
    if isinstance(value, dict):
        zone = value.get("zone")
        local = str(value.get("local", "")).replace("T", " ")
        return Literal(local + (f" ({zone})" if zone else ""))
    return Literal(str(value))


def deadline_of(value: dict[str, Any], *, now: datetime, zone: str) -> tuple[datetime, str]:
    """The deadline (aware, UTC) the answer gives, posted ``now``, and the zone it is shown
    in (the one typed, or the group's)."""
    if "after" in value:
        return (now + timedelta(seconds=int(value["after"]))).replace(second=0, microsecond=0), zone
    moment, zone_name = deadline_at(value, zone)
    return moment.astimezone(ZoneInfo("UTC")), zone_name


# -- the question, the options, the quorum ---------------------------------------------------


def read_question(text: str) -> Json:
    return one_line(text, QUESTION_MAX)


def read_option_lines(text: str) -> Json:
    """One message of options: one option, or several, one per line."""
    lines = [line for line in (" ".join(raw.split()) for raw in text.splitlines()) if line]
    if not lines:
        raise InvalidAnswer("conversation.empty_answer")
    for line in lines:
        if len(line) > OPTION_MAX:
            raise InvalidAnswer("polls.create.option_too_long", limit=OPTION_MAX)
    return lines


def finish_options(pieces: list[Json]) -> Json:
    options: list[str] = []
    for piece in pieces:
        options.extend(str(line) for line in (piece if isinstance(piece, list) else [piece]))
    if len({option.casefold() for option in options}) != len(options):
        raise InvalidAnswer("polls.create.duplicate_option", back=CommandRef("back"))
    if not OPTIONS_MIN <= len(options) <= OPTIONS_MAX:
        raise InvalidAnswer(
            "polls.create.option_count",
            least=OPTIONS_MIN,
            most=OPTIONS_MAX,
            back=CommandRef("back"),
        )
    return options


def show_options(value: Json) -> Text:
    return Lines(
        tuple(
            Message.of("polls.post.option", number=number, option=Literal(str(option)))
            for number, option in enumerate(value, start=1)
        )
    )


def _whole_number(text: str, *, most: int, key: str) -> int:
    typed = text.strip().removesuffix("%").strip()
    if not typed.isascii() or not typed.isdigit() or not 1 <= int(typed) <= most:
        raise InvalidAnswer(key, most=most)
    return int(typed)


def read_quorum_voters(text: str) -> Json:
    return _whole_number(text, most=VOTERS_MAX, key="polls.create.bad_quorum_voters")


def read_quorum_share(text: str) -> Json:
    return _whole_number(text, most=100, key="polls.create.bad_quorum_share")
