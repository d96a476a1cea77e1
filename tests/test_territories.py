"""Finding, naming and placing the country of a case report."""

from __future__ import annotations

import pytest

from bot.territories import (
    COUNTRY_CODES,
    Region,
    find_territories,
    is_country,
    region_of,
    territory_name,
)

LANGUAGES = ("en", "es", "fr", "ar", "pt")


@pytest.mark.parametrize("typed", ["Colombia", "colombie", "كولومبيا", "Colômbia"])
def test_colombia_is_found_alone_in_any_language(typed: str) -> None:
    assert find_territories(typed, LANGUAGES) == ("CO",)


@pytest.mark.parametrize("typed", ["Brasil", "Brésil"])
def test_brazil_is_found_by_its_spanish_portuguese_and_french_names(typed: str) -> None:
    assert find_territories(typed, LANGUAGES) == ("BR",)


def test_congo_offers_both_congos() -> None:
    assert set(find_territories("congo", LANGUAGES)) == {"CG", "CD"}


def test_guinea_offers_every_guinea_with_guinea_itself_first() -> None:
    found = find_territories("guinea", LANGUAGES)
    assert found[0] == "GN"
    assert {"GN", "GQ", "GW", "PG"} <= set(found)


@pytest.mark.parametrize("typed", ["co", "CO", " Co "])
def test_an_iso_code_typed_alone_finds_only_that_country(typed: str) -> None:
    assert find_territories(typed, LANGUAGES) == ("CO",)


@pytest.mark.parametrize("typed", ["Peru", "Perú", "PÉROU", "perou"])
def test_case_and_accents_do_not_matter(typed: str) -> None:
    assert find_territories(typed, LANGUAGES) == ("PE",)


@pytest.mark.parametrize("typed", ["الأردن", "الاردن", "اردن", "الأُرْدُنّ"])
def test_arabic_hamza_harakat_and_article_do_not_matter(typed: str) -> None:
    assert find_territories(typed, LANGUAGES) == ("JO",)


def test_arabic_tatweel_is_ignored() -> None:
    assert find_territories("الأردـــن", LANGUAGES) == ("JO",)


@pytest.mark.parametrize("mark", ["\u200e", "\u200f", "\u202b", "\u202c", "\u2067", "\u2069"])
def test_direction_marks_are_ignored(mark: str) -> None:
    assert find_territories(f"{mark}الأردن{mark}", LANGUAGES) == ("JO",)
    assert find_territories(f"{mark}Jordan{mark}", LANGUAGES) == ("JO",)


def test_punctuation_and_extra_spaces_are_ignored() -> None:
    assert find_territories("  Guinea -- Bissau!! ", LANGUAGES) == ("GW",)


@pytest.mark.parametrize("typed", ["zz", "x", "", "   ", "!!", "\u200f"])
def test_nothing_is_found_for_noise_or_too_little_text(typed: str) -> None:
    assert find_territories(typed, LANGUAGES) == ()


def test_unknown_text_finds_nothing() -> None:
    assert find_territories("Atlantis", LANGUAGES) == ()


def test_names_starting_with_the_text_come_first() -> None:
    found = find_territories("mar", ("en",))
    assert set(found[:2]) == {"MQ", "MH"}


def test_a_word_start_comes_before_the_middle_of_a_word() -> None:
    found = find_territories("mar", ("en",))
    assert found.index("SM") < found.index("DK")


def test_shorter_names_come_first_within_a_rank() -> None:
    assert find_territories("nige", ("en",)) == ("NE", "NG")


def test_only_the_given_languages_are_searched() -> None:
    assert find_territories("Allemagne", ("en",)) == ()
    assert find_territories("Allemagne", ("fr",)) == ("DE",)


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("USA", "US"),
        ("United States of America", "US"),
        ("EEUU", "US"),
        ("EE.UU.", "US"),
        ("UK", "GB"),
        ("Great Britain", "GB"),
        ("Congo Kinshasa", "CD"),
        ("DRC", "CD"),
        ("RDC", "CD"),
        ("Ivory Coast", "CI"),
        ("Burma", "MM"),
        ("Czech Republic", "CZ"),
        ("Turkey", "TR"),
        ("Türkiye", "TR"),
        ("Palestine", "PS"),
        ("South Korea", "KR"),
        ("North Korea", "KP"),
        ("Russia", "RU"),
        ("Iran", "IR"),
        ("Syria", "SY"),
        ("Bolivia", "BO"),
        ("Venezuela", "VE"),
        ("Tanzania", "TZ"),
        ("Vietnam", "VN"),
        ("Laos", "LA"),
    ],
)
def test_common_alternative_names_find_their_country(typed: str, code: str) -> None:
    assert find_territories(typed, LANGUAGES) == (code,)


def test_a_country_is_not_confused_with_its_territories_named_after_it() -> None:
    assert find_territories("China", LANGUAGES) == ("CN",)
    assert find_territories("États-Unis", LANGUAGES) == ("US",)


def test_ampersand_and_saint_may_be_written_out() -> None:
    assert find_territories("Bosnia and Herzegovina", ("en",)) == ("BA",)
    assert find_territories("Saint Lucia", ("en",)) == ("LC",)


def test_a_part_of_a_country_finds_that_country() -> None:
    assert find_territories("Canarias", ("es",)) == ("ES",)


def test_limit_is_honoured() -> None:
    assert len(find_territories("an", LANGUAGES)) == 10
    assert len(find_territories("an", LANGUAGES, limit=3)) == 3
    assert find_territories("guinea", LANGUAGES, limit=1) == ("GN",)
    assert find_territories("guinea", LANGUAGES, limit=0) == ()


def test_country_codes_are_sorted_two_letter_codes() -> None:
    assert list(COUNTRY_CODES) == sorted(set(COUNTRY_CODES))
    assert all(len(code) == 2 and code.isalpha() and code.isupper() for code in COUNTRY_CODES)


def test_groupings_and_pseudo_regions_are_not_countries() -> None:
    for code in ("001", "150", "419", "EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"):
        assert not is_country(code)


def test_kosovo_and_ordinary_countries_are_countries() -> None:
    assert is_country("XK")
    assert is_country("CO")
    assert is_country("co")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_country_has_a_name_in_every_language(language: str) -> None:
    for code in COUNTRY_CODES:
        assert territory_name(code, language).strip()


def test_every_country_finds_itself_by_its_own_name() -> None:
    for language in LANGUAGES:
        for code in COUNTRY_CODES:
            assert code in find_territories(territory_name(code, language), (language,))


def test_territory_name_is_the_cldr_name_in_that_language() -> None:
    assert territory_name("DE", "en") == "Germany"
    assert territory_name("DE", "es") == "Alemania"
    assert territory_name("DE", "fr") == "Allemagne"
    assert territory_name("DE", "ar") == "ألمانيا"
    assert territory_name("DE", "pt") == "Alemanha"


@pytest.mark.parametrize("code", ["QQ", "EU", "001", ""])
def test_territory_name_of_an_unknown_code_is_a_key_error(code: str) -> None:
    with pytest.raises(KeyError):
        territory_name(code, "en")


def test_every_country_but_antarctica_has_a_region() -> None:
    without = [code for code in COUNTRY_CODES if region_of(code) is Region.OTHER]
    assert without == ["AQ"]


@pytest.mark.parametrize(
    ("code", "region"),
    [
        ("NG", Region.AFRICA),
        ("MX", Region.LATIN_AMERICA_CARIBBEAN),
        ("US", Region.NORTHERN_AMERICA),
        ("PH", Region.ASIA),
        ("ES", Region.EUROPE),
        ("FJ", Region.OCEANIA),
        ("AQ", Region.OTHER),
    ],
)
def test_region_of_follows_un_m49(code: str, region: Region) -> None:
    assert region_of(code) is region


def test_region_of_an_unknown_code_is_other() -> None:
    assert region_of("ZZ") is Region.OTHER
