"""A statement's signatory list as published (the paste text and the CSV), built from
values: no store, every language."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import UTC, datetime, timedelta

import pytest

from bot.i18n import FSI, PDI, RLM, Catalogs
from bot.territories import territory_name
from bot.types import Platform
from handlers.statements.signatories import Listed, signatory_csv, signatory_list
from storage.statement_records import ListOrder

LANGUAGES = ("en", "es", "fr", "ar", "pt")
SIGNED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
HASH = "ab" * 32


@pytest.fixture(scope="module")
def catalogs() -> Catalogs:
    return Catalogs.load()


def organization(name: str, country: str, minutes: int = 0) -> Listed:
    return Listed(name, country, "Ana", SIGNED + timedelta(minutes=minutes), 2, HASH)


def individual(name: str) -> Listed:
    return Listed(name, None, name, SIGNED, 2, HASH)


def rendered(catalogs: Catalogs, entries: list[Listed], order: ListOrder, language: str) -> str:
    text = signatory_list(entries, order=order, language=language)
    return catalogs.renderer(language, Platform.CONSOLE).text(text)


def many(organizations: int, countries: int) -> list[Listed]:
    codes = ["PE", "BR", "DE", "ES", "EG", "KE", "IN", "PH", "MX", "CO", "NG", "ZA", "FR"]
    codes += ["GB", "US", "AR", "CL", "BO", "EC", "GT", "HN", "NI", "SV", "PY", "UY"]
    return [organization(f"Org {n}", codes[n % countries]) for n in range(organizations)]


HEADINGS = {
    "en": "Signed by 37 organizations from 21 countries",
    "es": "Firmada por 37 organizaciones de 21 países",
    "fr": "Signée par 37 organisations de 21 pays",
    "pt": "Assinada por 37 organizações de 21 países",
}


@pytest.mark.parametrize("language", sorted(HEADINGS))
def test_heading_counts_organizations_and_their_countries(
    catalogs: Catalogs, language: str
) -> None:
    text = rendered(catalogs, many(37, 21), ListOrder.ALPHABETICAL, language)
    assert text.split("\n")[0] == HEADINGS[language]


@pytest.mark.parametrize(
    ("organizations", "countries", "english", "arabic"),
    [
        (1, 1, "1 organization from 1 country", ("منظمة واحدة", "دولة واحدة")),
        (2, 2, "2 organizations from 2 countries", ("منظمتان", "دولتين")),
        (3, 3, "3 organizations from 3 countries", ("منظمات", "دول")),
        (37, 21, "37 organizations from 21 countries", ("37", "منظمة", "21", "دولة")),
    ],
)
def test_heading_takes_each_languages_plural_forms(
    catalogs: Catalogs,
    organizations: int,
    countries: int,
    english: str,
    arabic: tuple[str, ...],
) -> None:
    entries = many(organizations, countries)
    assert rendered(catalogs, entries, ListOrder.ALPHABETICAL, "en").startswith(
        f"Signed by {english}"
    )
    heading = rendered(catalogs, entries, ListOrder.ALPHABETICAL, "ar").split("\n")[0]
    assert heading.startswith(RLM + "وقّعت عليه")
    for word in arabic:
        assert word in heading


def test_individuals_follow_the_organizations_and_are_counted_apart(catalogs: Catalogs) -> None:
    entries = [individual("Zoe Quispe"), organization("Red Andina", "PE"), individual("Ali Musa")]
    lines = rendered(catalogs, entries, ListOrder.ALPHABETICAL, "en").split("\n")
    assert lines == [
        "Signed by 1 organization from 1 country, and by 2 individuals in their own name",
        "",
        "Red Andina (Peru)",
        "",
        "In their own name:",
        "Ali Musa",
        "Zoe Quispe",
    ]


def test_alphabetical_order_sets_case_and_accents_aside(catalogs: Catalogs) -> None:
    names = ["Zeta Colectivo", "éco Justice", "Ñandú Red", "amnistía Local", "Ämter Netz"]
    entries = [organization(name, "PE") for name in names]
    lines = rendered(catalogs, entries, ListOrder.ALPHABETICAL, "es").split("\n")[2:]
    assert lines == [
        "amnistía Local (Perú)",
        "Ämter Netz (Perú)",
        "éco Justice (Perú)",
        "Ñandú Red (Perú)",
        "Zeta Colectivo (Perú)",
    ]


@pytest.mark.parametrize(
    ("language", "countries"),
    [
        ("en", ["EG", "DE", "ES"]),  # Egypt, Germany, Spain
        ("es", ["DE", "EG", "ES"]),  # Alemania, Egipto, España
        ("fr", ["DE", "EG", "ES"]),  # Allemagne, Égypte, Espagne
        ("pt", ["DE", "EG", "ES"]),  # Alemanha, Egito, Espanha
        ("ar", ["ES", "DE", "EG"]),  # إسبانيا، ألمانيا، مصر
    ],
)
def test_country_order_follows_the_countries_names_in_the_statements_language(
    catalogs: Catalogs, language: str, countries: list[str]
) -> None:
    entries = [
        organization("Beta", "DE"),
        organization("Gamma", "ES"),
        organization("alfa", "DE"),
        organization("Delta", "EG"),
    ]
    members = {"DE": ["alfa", "Beta"], "EG": ["Delta"], "ES": ["Gamma"]}
    shown = (lambda name: f"{FSI}{name}{PDI}") if language == "ar" else (lambda name: name)
    expected: list[str] = []
    for code in countries:
        expected.extend(("", shown(territory_name(code, language))))
        expected.extend(shown(name) for name in members[code])
    text = rendered(catalogs, entries, ListOrder.COUNTRY, language)
    assert [line.removeprefix(RLM) for line in text.split("\n")[1:]] == expected


NAMES = [
    "الشبكة العربية لحقوق الإنسان",
    "中国劳工通讯",
    "Правозащитный центр «Мемориал»",
    "मानवाधिकार जन निगरानी समिति",
    unicodedata.normalize("NFD", "Asociación Pro Derechos Humanos"),
    "Kituo cha Sheria / Legal & Human Rights Centre",
]


@pytest.mark.parametrize("language", LANGUAGES)
def test_names_in_any_script_are_kept_byte_for_byte(catalogs: Catalogs, language: str) -> None:
    entries = [organization(name, "KE", n) for n, name in enumerate(NAMES)]
    entries.append(individual("José Ñúñez"))
    for order in ListOrder:
        text = rendered(catalogs, entries, order, language)
        rows = list(csv.reader(io.StringIO(_csv_text(catalogs, entries, order, language))))
        for name in [*NAMES, "José Ñúñez"]:
            assert name.encode() in text.encode()
            assert name in [row[0] for row in rows]


def test_arabic_list_reads_right_to_left_with_each_name_isolated(catalogs: Catalogs) -> None:
    entries = [organization("Red Andina", "PE"), organization("مؤسسة الحق", "PS")]
    text = rendered(catalogs, entries, ListOrder.ALPHABETICAL, "ar")
    lines = [line for line in text.split("\n") if line]
    assert all(line.startswith(RLM) for line in lines)
    assert f"{FSI}Red Andina{PDI}" in text
    assert f"{FSI}مؤسسة الحق{PDI}" in text
    assert f"{FSI}بيرو{PDI}" in text
    assert text.count(FSI) == text.count(PDI)
    english = rendered(catalogs, entries, ListOrder.ALPHABETICAL, "en")
    assert not {RLM, FSI, PDI} & set(english)


def _csv_text(catalogs: Catalogs, entries: list[Listed], order: ListOrder, language: str) -> str:
    data = signatory_csv(entries, order=order, shown=catalogs.renderer(language, Platform.CONSOLE))
    assert data.startswith("\ufeff".encode())
    return data.decode("utf-8").removeprefix("\ufeff")


@pytest.mark.parametrize(
    ("language", "header", "country", "kind"),
    [
        ("en", "Name", "Peru", "organization"),
        ("es", "Nombre", "Perú", "organización"),
        ("fr", "Nom", "Pérou", "organisation"),
        ("ar", "الاسم", "بيرو", "منظمة"),
        ("pt", "Nome", "Peru", "organização"),
    ],
)
def test_csv_has_a_localized_header_and_one_row_per_signer_in_order(
    catalogs: Catalogs, language: str, header: str, country: str, kind: str
) -> None:
    entries = [organization("Red Andina", "PE", 5), individual("Ali Musa")]
    rows = list(csv.reader(io.StringIO(_csv_text(catalogs, entries, ListOrder.COUNTRY, language))))
    assert rows[0][0] == header
    assert len(rows[0]) == 8
    assert rows[1] == [
        "Red Andina",
        kind,
        "PE",
        country,
        "Ana",
        "2026-12-01T09:35:00+00:00",
        "2",
        HASH,
    ]
    assert rows[2][0] == "Ali Musa"
    assert rows[2][2:4] == ["", ""]
    assert not any(mark in "".join(rows[0]) for mark in (RLM, FSI, PDI))
