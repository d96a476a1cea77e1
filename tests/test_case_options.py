"""How the answers of a case report are read: dates, numbers, links, countries."""

from __future__ import annotations

from datetime import date

import pytest

from bot.conversation import Ambiguous, InvalidAnswer
from handlers.cases.options import (
    join_narrative,
    parse_count,
    parse_country,
    parse_link,
    parse_title,
    read_started,
)

TODAY = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("2021", "2021"),
        ("2021-06", "2021-06"),
        ("06/2021", "2021-06"),
        ("2021-6-5", "2021-06-05"),
        ("15/06/2021", "2021-06-15"),
        ("١٥/٠٦/٢٠٢١", "2021-06-15"),
        ("2026-12", "2026-12"),
        ("۱۵/۰۶/۲۰۲۱", "2021-06-15"),
    ],
)
def test_a_start_is_a_year_a_month_or_a_day(typed: str, stored: str) -> None:
    assert read_started(typed, today=TODAY) == stored


@pytest.mark.parametrize(
    ("language", "typed", "stored"),
    [
        ("en", "December 1984", "1984-12"),
        ("es", "3 de diciembre de 1984", "1984-12-03"),
        ("fr", "1er décembre 1984", "1984-12-01"),
        ("pt", "dez. ١٩٨٤", "1984-12"),
        ("ar", "٣ ديسمبر ١٩٨٤", "1984-12-03"),
    ],
)
def test_a_start_may_name_its_month(language: str, typed: str, stored: str) -> None:
    assert read_started(typed, language, TODAY) == stored


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("2027", "cases.date_in_future"),
        ("2026-12-02", "cases.date_in_future"),
        ("1899", "cases.date_too_early"),
        ("2021-13", "cases.bad_date"),
        ("31/02/2021", "cases.bad_date"),
        ("last spring", "cases.bad_date"),
        ("January 2027", "cases.date_in_future"),
        ("31 February 2021", "cases.bad_date"),
        ("June 1899", "cases.date_too_early"),
    ],
)
def test_a_start_in_the_future_or_unreadable_is_refused(typed: str, key: str) -> None:
    with pytest.raises(InvalidAnswer) as refused:
        read_started(typed, today=TODAY)
    assert refused.value.message.key == key


@pytest.mark.parametrize(
    ("typed", "number"), [("250", 250), ("about 1,200", 1200), ("1 200 000", 1200000)]
)
def test_a_count_takes_digit_groups(typed: str, number: int) -> None:
    assert parse_count(typed) == number


@pytest.mark.parametrize(
    "typed", ["many", "0", "99999999999", "200, 3 villages", "1.5 thousand", "-5"]
)
def test_a_count_that_is_no_number_of_people_is_refused(typed: str) -> None:
    with pytest.raises(InvalidAnswer):
        parse_count(typed)


def test_a_link_must_be_a_web_address() -> None:
    assert parse_link(" https://example.org/x ") == {"link": "https://example.org/x"}
    for typed in ("javascript:alert(1)", "example.org", "https://", "see https://x.org"):
        with pytest.raises(InvalidAnswer):
            parse_link(typed)


def test_a_country_is_found_in_any_language_and_several_are_offered() -> None:
    assert parse_country("Colombie") == "CO"
    assert parse_country("كولومبيا") == "CO"
    with pytest.raises(Ambiguous) as several:
        parse_country("congo")
    assert set(several.value.candidates) >= {"CG", "CD"}
    with pytest.raises(InvalidAnswer) as unknown:
        parse_country("Atlantis")
    assert unknown.value.message.key == "cases.unknown_country"


def test_a_title_is_one_line_of_reasonable_length() -> None:
    assert parse_title("  Spill   at the river ") == "Spill at the river"
    for typed in ("ab", "x" * 121, "two\nlines"):
        with pytest.raises(InvalidAnswer):
            parse_title(typed)


def test_the_narrative_is_joined_and_bounded() -> None:
    assert join_narrative(["One.", "Two."]) == "One.\n\nTwo."
    with pytest.raises(InvalidAnswer):
        join_narrative(["x" * 4000] * 6)
