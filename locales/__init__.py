"""Message catalogs: one gettext ``.po`` file per language, keyed by message id."""

from __future__ import annotations

from pathlib import Path

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "ar", "pt")
"""Languages every catalog key must exist in; English is the reference catalog."""

RIGHT_TO_LEFT: frozenset[str] = frozenset({"ar"})

REFERENCE_LANGUAGE = "en"

CATALOG_DIR = Path(__file__).resolve().parent


def catalog_path(language: str) -> Path:
    return CATALOG_DIR / f"{language}.po"
