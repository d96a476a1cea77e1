"""The ``CAUCUS_*`` environment variables: which file to read, and the values that override it.

Secrets belong in the environment rather than in the file; a variable that is set wins over
the file's value. Both the settings schema and its error lines name these variables.
"""

from __future__ import annotations

ENV_PREFIX = "CAUCUS_"
ENV_CONFIG = f"{ENV_PREFIX}CONFIG"
ENV_DATABASE_URL = f"{ENV_PREFIX}DATABASE_URL"
ENV_TELEGRAM_TOKEN = f"{ENV_PREFIX}TELEGRAM_TOKEN"
ENV_TELEGRAM_WEBHOOK_SECRET = f"{ENV_PREFIX}TELEGRAM_WEBHOOK_SECRET"
ENV_MATRIX_ACCESS_TOKEN = f"{ENV_PREFIX}MATRIX_ACCESS_TOKEN"
ENV_MATRIX_PASSWORD = f"{ENV_PREFIX}MATRIX_PASSWORD"
ENV_MATRIX_PICKLE_KEY = f"{ENV_PREFIX}MATRIX_PICKLE_KEY"
ENV_ENCRYPTION_KEYS = f"{ENV_PREFIX}ENCRYPTION_KEYS"

ENV_SECRETS: dict[tuple[str, str], str] = {
    ("telegram", "token"): ENV_TELEGRAM_TOKEN,
    ("telegram", "webhook_secret"): ENV_TELEGRAM_WEBHOOK_SECRET,
    ("matrix", "access_token"): ENV_MATRIX_ACCESS_TOKEN,
    ("matrix", "password"): ENV_MATRIX_PASSWORD,
    ("matrix", "pickle_key"): ENV_MATRIX_PICKLE_KEY,
}
"""Secrets read from the environment, per TOML section: (section, key) -> variable."""
