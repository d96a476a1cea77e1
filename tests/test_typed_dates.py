"""Dates typed with a month's name, in each language the bot speaks, in English by anyone,
in any script's digits; what is not one date is not read as one."""

from __future__ import annotations

import pytest

from bot.typed_dates import TypedDate, ascii_digits, month_numbers, read_month_date
from locales import SUPPORTED_LANGUAGES


@pytest.mark.parametrize(
    ("language", "typed", "read"),
    [
        ("en", "December 1984", TypedDate(1984, 12)),
        ("en", "dec 1984", TypedDate(1984, 12)),
        ("en", "3 December 1984", TypedDate(1984, 12, 3)),
        ("en", "December 3rd, 1984", TypedDate(1984, 12, 3)),
        ("en", "Sept 2021", TypedDate(2021, 9)),
        ("es", "diciembre de 1984", TypedDate(1984, 12)),
        ("es", "DIC. 1984", TypedDate(1984, 12)),
        ("es", "3 de diciembre de 1984", TypedDate(1984, 12, 3)),
        ("es", "setiembre de 2020", TypedDate(2020, 9)),
        ("fr", "décembre 1984", TypedDate(1984, 12)),
        ("fr", "decembre 1984", TypedDate(1984, 12)),
        ("fr", "févr. 1984", TypedDate(1984, 2)),
        ("fr", "le 1er août 2019", TypedDate(2019, 8, 1)),
        ("pt", "dezembro de 1984", TypedDate(1984, 12)),
        ("pt", "Março de 2020", TypedDate(2020, 3)),
        ("pt", "1º de dez. de 1984", TypedDate(1984, 12, 1)),
        ("ar", "ديسمبر 1984", TypedDate(1984, 12)),
        ("ar", "ديسمبر ١٩٨٤", TypedDate(1984, 12)),
        ("ar", "٣ ديسمبر ١٩٨٤", TypedDate(1984, 12, 3)),
        ("ar", "ابريل ۲۰۲۱", TypedDate(2021, 4)),
        ("ar", "كانون الأول 1984", TypedDate(1984, 12)),
        ("ar", "في أيار 2020م", TypedDate(2020, 5)),
        ("ar", "\u200f3 December 1984\u200f", TypedDate(1984, 12, 3)),
    ],
)
def test_a_month_named_in_the_members_language_or_english_is_read(
    language: str, typed: str, read: TypedDate
) -> None:
    assert read_month_date(typed, language) == read


@pytest.mark.parametrize(
    ("language", "typed"),
    [
        ("en", "diciembre de 1984"),  # Spanish is not an English member's
        ("fr", "dezembro de 1984"),
        ("es", "December"),  # no year
        ("en", "May and June 2020"),
        ("en", "3 4 December 1984"),
        ("en", "December 1984 1985"),
        ("en", "in the spring"),
        ("en", "2020-05"),  # digits only: read by the numeric forms, not here
        ("es", "marzo de 123"),
    ],
)
def test_what_is_not_one_date_with_a_month_is_not_read(language: str, typed: str) -> None:
    assert read_month_date(typed, language) is None


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_every_month_has_names_in_each_language_and_in_english(language: str) -> None:
    names = month_numbers(language)
    assert set(names.values()) == set(range(1, 13))
    assert names["december"] == names["dec"] == 12  # English, for every member


def test_digits_of_any_script_become_ascii() -> None:
    assert ascii_digits("٣ ۳ ３ 3 x") == "3 3 3 3 x"
