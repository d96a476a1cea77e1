"""Message catalogs: every language says every message with the same placeholders,
every key the code asks for exists, and right-to-left replies stay readable."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

import pytest
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from bot.i18n import Catalogs, Entry, placeholders, read_catalog
from bot.territories import Region
from bot.types import CommandRef, Lines, Literal, Message, Platform, Role, UnrelayableKind
from handlers.cases import options as case_options
from handlers.cases.intake import REPORT
from handlers.cases.review import NEEDS_TEXT
from locales import REFERENCE_LANGUAGE, SUPPORTED_LANGUAGES, catalog_path
from storage.case_records import AttachmentStatus, CaseStatus

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = (ROOT / "bot", ROOT / "handlers")

RLM = "\u200f"
FSI = "\u2068"
PDI = "\u2069"
ARABIC_LETTER = re.compile("[\u0621-\u064a]")
BIDI_CONTROLS = frozenset(
    "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)

PLURAL_FORMS = {language: get_plural(language).plural_forms for language in SUPPORTED_LANGUAGES}
"""What each header must declare: Babel's (CLDR's) rule, so es, fr and pt have a form for
exact millions ("1 000 000 de casos") and Arabic has six."""

TEMPLATE_PLACEHOLDERS = ("FIRST AUTHOR", "EMAIL@ADDRESS", "ORGANIZATION", "FULL NAME", "YEAR-")


# Keys built at run time from an enum value: f"role.{role.value}", f"platform.{...}".
def _case_report_keys() -> set[str]:
    """Keys the case-report modules build from their option lists, statuses and steps."""
    keys = {f"cases.status.{status.value}" for status in CaseStatus}
    keys |= {f"cases.now.{status.value}" for status in CaseStatus}
    keys |= {f"cases.region.{region.value}" for region in Region}
    keys |= {f"cases.attachment_{status.value}" for status in AttachmentStatus}
    keys |= {f"cases.status_needs_text_{status.value}" for status in NEEDS_TEXT}
    for kind, values in (
        ("reporter", case_options.REPORTERS),
        ("naming", case_options.NAMING),
        ("company_role", case_options.COMPANY_ROLES),
        ("sector", case_options.SECTORS),
        ("right", case_options.RIGHTS),
        ("affected_group", case_options.AFFECTED_GROUPS),
        ("state_role", case_options.STATE_ROLES),
        ("step_taken", case_options.STEPS_TAKEN),
        ("publication", case_options.PUBLICATION),
        ("yes_no", case_options.YES_NO),
        ("channel", case_options.CHANNELS),
        ("consent_platform", (*case_options.CHANNELS, "unknown")),
    ):
        keys |= {case_options.option_key(kind, value) for value in values}
    for step in REPORT.steps:
        for part in (step, *step.fields):
            keys |= {key for key in (part.prompt, part.label, part.hint) if key}
        if step.item_label:
            keys |= {step.item_label, step.item_label + "_one"}
    return keys


CASE_REPORT_KEYS = frozenset(_case_report_keys())

DYNAMIC_KEYS = frozenset(
    {f"role.{role.value}" for role in Role}
    | {f"platform.{platform.value}" for platform in Platform}
    | {f"bridge.unrelayable.{kind.value}" for kind in UnrelayableKind}
    | CASE_REPORT_KEYS
)
DYNAMIC_PREFIXES = ("role.", "platform.", "bridge.unrelayable.")

# A quoted catalog key; a pinned language (``"language.native_name@" + code``) is dropped.
_KEY = r"""(?P<quote>["'])(?P<key>[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)(?:@[a-z_]*)?(?P=quote)"""
KEY_USES = (
    re.compile(r"\bMessage\.of\(\s*" + _KEY),
    re.compile(r"\bMessage\.counted\(\s*" + _KEY),
    re.compile(r"\bInvalidAnswer\(\s*" + _KEY),
    re.compile(r"\bUserError\(\s*" + _KEY),
    re.compile(r"\b(?:prompt|label|title|help_key)\s*=\s*" + _KEY),
)
# Any quoted dotted literal, wherever it stands (a key picked by a conditional expression).
# The lookbehind skips f-strings and other prefixed literals.
QUOTED_KEY = re.compile(r"(?<![A-Za-z])" + _KEY)


# -- helpers ---------------------------------------------------------------------------


def catalog(language: str) -> dict[str, Entry]:
    return read_catalog(catalog_path(language))


def all_catalogs() -> dict[str, dict[str, Entry]]:
    return {language: catalog(language) for language in SUPPORTED_LANGUAGES}


def header_fields(path: Path) -> dict[str, str]:
    """The header entry (``msgid ""``) of a ``.po`` file, exactly as written in it."""
    text = path.read_text(encoding="utf-8")
    match = re.search(r'^msgid ""\nmsgstr ""\n((?:".*"\n)+)', text, re.MULTILINE)
    assert match is not None, f"{path.name} has no header entry"
    raw = "".join(ast.literal_eval(line) for line in match.group(1).splitlines())
    fields = {}
    for line in raw.splitlines():
        name, _, value = line.partition(":")
        fields[name.strip()] = value.strip()
    return fields


def source_texts() -> dict[str, str]:
    return {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
        for directory in SOURCE_DIRS
        for path in sorted(directory.rglob("*.py"))
    }


def keys_used(text: str) -> set[str]:
    """Catalog keys passed literally to Message.of, InvalidAnswer, UserError or a key keyword."""
    return {match["key"] for pattern in KEY_USES for match in pattern.finditer(text)}


def quoted_keys(text: str) -> set[str]:
    return {match["key"] for match in QUOTED_KEY.finditer(text)}


def describe(problems: dict[str, Iterable[str]]) -> str:
    return "\n".join(
        f"  {key}: {', '.join(sorted(where))}" for key, where in sorted(problems.items())
    )


@pytest.fixture(scope="module")
def catalogs() -> Catalogs:
    return Catalogs.load()


# -- catalog files ---------------------------------------------------------------------


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_every_catalog_parses(language: str) -> None:
    with catalog_path(language).open("rb") as handle:
        read_po(handle, abort_invalid=True)
    assert catalog(language), f"{language}.po has no translated entries"


def test_every_catalog_has_exactly_the_keys_of_every_other() -> None:
    entries = all_catalogs()
    every_key = set().union(*entries.values())
    missing = {
        key: [language for language, texts in entries.items() if key not in texts]
        for key in every_key
    }
    missing = {key: languages for key, languages in missing.items() if languages}
    assert not missing, "keys missing (or untranslated) in some catalogs:\n" + describe(missing)


def test_every_entry_keeps_the_same_placeholders_in_every_language() -> None:
    entries = all_catalogs()
    reference = entries[REFERENCE_LANGUAGE]
    mismatched = {}
    for key, english in reference.items():
        expected = placeholders(english)
        wrong = [
            f"{language} has {{{', '.join(sorted(placeholders(texts[key])))}}}"
            for language, texts in entries.items()
            if key in texts and placeholders(texts[key]) != expected
        ]
        if wrong:
            mismatched[f"{key} (en: {{{', '.join(sorted(expected))}}})"] = wrong
    assert not mismatched, "placeholders differ from English:\n" + describe(mismatched)


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_no_entry_is_empty(language: str) -> None:
    with catalog_path(language).open("rb") as handle:
        messages = [message for message in read_po(handle) if message.id]
    empty = [
        str(message.id)
        for message in messages
        if not all(
            isinstance(form, str) and form.strip()
            for form in ((message.string,) if isinstance(message.string, str) else message.string)
        )
    ]
    assert not empty, f"{language}.po has empty entries: {', '.join(empty)}"


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_each_header_names_its_language_and_declares_its_plural_forms(language: str) -> None:
    path = catalog_path(language)
    fields = header_fields(path)
    assert path.stem == language
    assert fields.get("Language") == language, f"{path.name} declares {fields.get('Language')!r}"
    assert fields.get("Plural-Forms") == PLURAL_FORMS[language], (
        f"{path.name} declares Plural-Forms {fields.get('Plural-Forms')!r}"
    )
    assert "charset=utf-8" in fields.get("Content-Type", "").lower(), f"{path.name} is not UTF-8"


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_headers_carry_no_template_placeholders(language: str) -> None:
    text = catalog_path(language).read_text(encoding="utf-8")
    header = text.split("\n\n", 1)[0]
    left = [placeholder for placeholder in TEMPLATE_PLACEHOLDERS if placeholder in header]
    assert not left, f"{language}.po header still has {left}"
    assert "#, fuzzy" not in header, f"{language}.po header is marked fuzzy"


def test_each_language_is_named_in_itself_differently() -> None:
    names = {
        language: catalog(language)["language.native_name"] for language in SUPPORTED_LANGUAGES
    }
    assert len(set(names.values())) == len(names), names
    for language, name in names.items():
        assert name == name[:1].upper() + name[1:], f"{language}: {name!r} is not capitalized"


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_bidi_controls_in_catalogs_are_balanced_isolates(language: str) -> None:
    for key, entry in catalog(language).items():
        for text in (entry,) if isinstance(entry, str) else entry:
            assert not (set(text) & BIDI_CONTROLS - {FSI, PDI}), f"{language} {key}: stray mark"
            assert text.count(FSI) == text.count(PDI), f"{language} {key}: unbalanced isolate"


# -- plural entries --------------------------------------------------------------------


def plural_entries(language: str) -> dict[str, list[str]]:
    """Every plural entry of a catalog file with its forms as written, empty ones included."""
    with catalog_path(language).open("rb") as handle:
        messages = list(read_po(handle))
    return {
        str(message.id[0]): [str(form) for form in message.string]
        for message in messages
        if isinstance(message.id, tuple | list)
    }


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_every_plural_entry_has_every_form_its_language_needs(language: str) -> None:
    needed = get_plural(language).num_plurals
    entries = plural_entries(language)
    assert entries, f"{language}.po has no plural entries"
    wrong = {
        key: [f"{len(forms)} forms, {needed} needed"]
        for key, forms in entries.items()
        if len(forms) != needed or not all(form.strip() for form in forms)
    }
    assert not wrong, f"{language}.po plural entries lacking forms:\n" + describe(wrong)


def test_an_entry_is_plural_in_every_language_or_in_none() -> None:
    plural = {language: set(plural_entries(language)) for language in SUPPORTED_LANGUAGES}
    every = set().union(*plural.values())
    mismatched = {
        key: [language for language, keys in plural.items() if key not in keys]
        for key in every
        if not all(key in keys for keys in plural.values())
    }
    assert not mismatched, "plural entries missing as plural in:\n" + describe(mismatched)


def test_every_count_the_code_words_is_a_plural_entry() -> None:
    counted = re.compile(r"\bMessage\.counted\(\s*" + _KEY)
    plural = set(plural_entries(REFERENCE_LANGUAGE))
    used = {
        match["key"]: name
        for name, text in source_texts().items()
        for match in counted.finditer(text)
    }
    assert used, "no Message.counted call found"
    singular = {key: [name] for key, name in used.items() if key not in plural}
    assert not singular, "counted keys that are not plural entries:\n" + describe(singular)


# -- rendering -------------------------------------------------------------------------


def identity_reply() -> Lines:
    return Lines(
        (
            Message.of(
                "whoami.identity",
                number=1234,
                platform=Message.of("platform.telegram"),
                user=Literal("Ana María"),
            ),
            Message.of("whoami.name", name=Literal("Ana María")),
            Message.of("whoami.time_zone", time_zone=Literal("America/Lima")),
        )
    )


def test_arabic_reply_starts_every_line_right_to_left(catalogs: Catalogs) -> None:
    text = catalogs.renderer("ar", Platform.TELEGRAM).text(identity_reply())
    lines = text.split("\n")
    assert len(lines) == 3
    for line in lines:
        assert line.startswith(RLM), repr(line)
        assert ARABIC_LETTER.search(line), f"fell back to English: {line!r}"


def test_arabic_reply_isolates_each_interpolated_name_and_number(catalogs: Catalogs) -> None:
    text = catalogs.renderer("ar", Platform.TELEGRAM).text(identity_reply())
    first, second, third = text.split("\n")
    name = f"{FSI}Ana María{PDI}"
    number = f"{FSI}{format_decimal(1234, locale='ar', group_separator=False)}{PDI}"
    assert name in first
    assert number in first
    assert name in second
    assert f"{FSI}America/Lima{PDI}" in third
    assert text.count("Ana María") == text.count(name), "a name was left unisolated"
    assert text.count(FSI) == text.count(PDI)


def test_arabic_reply_isolates_a_single_line_message(catalogs: Catalogs) -> None:
    renderer = catalogs.renderer("ar", Platform.TELEGRAM)
    text = renderer.text(Message.of("whoami.name", name=Literal("Ana María")))
    assert text.startswith(RLM)
    assert f"{FSI}Ana María{PDI}" in text
    assert "\n" not in text


def test_arabic_reply_isolates_a_command(catalogs: Catalogs) -> None:
    renderer = catalogs.renderer("ar", Platform.TELEGRAM)
    text = renderer.text(Message.of("router.free_text_hint", help=CommandRef("help")))
    assert text.startswith(RLM)
    assert f"{FSI}/help{PDI}" in text


def test_english_reply_has_no_bidi_marks(catalogs: Catalogs) -> None:
    text = catalogs.renderer("en", Platform.TELEGRAM).text(identity_reply())
    assert not set(text) & BIDI_CONTROLS, repr(text)
    assert "Ana María" in text
    assert "member no. 1234," in text  # a member's number is a name: never grouped


@pytest.mark.parametrize(
    ("platform", "shown", "not_shown"),
    [(Platform.TELEGRAM, "/help", "!help"), (Platform.MATRIX, "!help", "/help")],
)
def test_command_is_shown_with_the_platform_prefix(
    catalogs: Catalogs, platform: Platform, shown: str, not_shown: str
) -> None:
    text = catalogs.renderer("en", platform).text(
        Message.of("router.free_text_hint", help=CommandRef("help"))
    )
    assert shown in text
    assert not_shown not in text


# -- keys used by the code -------------------------------------------------------------


def test_key_scan_reads_multiline_calls_and_keywords_but_not_f_strings() -> None:
    sample = """
        Message.of("a.one")
        Message.of(
            "a.two", x=1
        )
        raise InvalidAnswer("a.three", limit=2)
        raise UserError(
            "a.four",
        )
        Step("x", prompt="a.five", label="a.six")
        Conversation(title="a.seven")
        registry.command("x", handler, help_key="a.eight")
        Message.of("a.nine@" + code)
        Message.of(f"a.{dynamic}")
        Message.of(f"a.ten")
        Message.of(step.prompt)
    """
    numbers = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
    assert keys_used(sample) == {f"a.{n}" for n in numbers}


def test_every_key_the_code_uses_exists_in_english() -> None:
    english = catalog(REFERENCE_LANGUAGE)
    missing: dict[str, list[str]] = {}
    for name, text in source_texts().items():
        for key in keys_used(text):
            if key not in english:
                missing.setdefault(key, []).append(name)
    assert not missing, "keys used in the code but missing in en.po:\n" + describe(missing)


def test_every_quoted_key_in_a_catalog_namespace_exists_in_english() -> None:
    # Catches keys chosen by a conditional expression before being passed to Message.of.
    english = catalog(REFERENCE_LANGUAGE)
    namespaces = {key.split(".", 1)[0] for key in english}
    missing: dict[str, list[str]] = {}
    for name, text in source_texts().items():
        for key in quoted_keys(text):
            if key.split(".", 1)[0] in namespaces and key not in english:
                missing.setdefault(key, []).append(name)
    assert not missing, "quoted keys in the code but missing in en.po:\n" + describe(missing)


def test_keys_built_at_run_time_exist_in_english() -> None:
    english = catalog(REFERENCE_LANGUAGE)
    expected = {
        "role.member",
        "role.coordinator",
        "role.admin",
        "platform.console",
        "platform.telegram",
        "platform.matrix",
    }
    missing = sorted((DYNAMIC_KEYS | expected) - set(english))
    assert CASE_REPORT_KEYS, "the case-report keys were not collected"
    assert not missing, f"keys built from Role/Platform missing in en.po: {missing}"


def test_every_english_key_is_used_by_the_code() -> None:
    sources = source_texts()
    literal = set().union(*(quoted_keys(text) for text in sources.values()))
    everything = "\n".join(sources.values())
    unused = []
    for key in catalog(REFERENCE_LANGUAGE):
        if key in literal:
            continue
        if key in CASE_REPORT_KEYS:
            continue
        prefix = next((p for p in DYNAMIC_PREFIXES if key.startswith(p)), None)
        if prefix is not None and f'f"{prefix}{{' in everything and key in DYNAMIC_KEYS:
            continue
        unused.append(key)
    assert not unused, f"keys in en.po that no code uses (remove them or use them): {unused}"
