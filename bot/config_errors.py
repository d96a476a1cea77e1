"""Configuration errors: one line naming the file, the setting, what is wrong and the fix.

``file: key: what is wrong; fix: what to do`` is all a person starting the bot reads, so each
line says it in words, never pydantic's. :func:`rule` carries a check's own wording out of a
validator; :func:`from_validation` turns pydantic's error (a rule's, or its own type and
presence errors) into the line; the rest build the lines for a file that cannot be read or
has settings nobody knows. Secret and personal values never appear in a line, only their kind.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from bot.config_env import ENV_CONFIG, ENV_ENCRYPTION_KEYS, ENV_TELEGRAM_TOKEN

# Settings whose values are secret or personal: errors describe their type, never the value.
_PRIVATE_KEYS = frozenset(
    {
        "token",
        "webhook_secret",
        "webhook_url",
        "api_base_url",
        "access_token",
        "password",
        "pickle_key",
        "database_url",
        "url",
        "user_id",
        "admins",
        "coordinators",
        "encryption_keys",
    }
)


class ConfigError(Exception):
    """Raised for any bad configuration; ``str(err)`` is the single line to print."""

    line: str
    key: str | None

    def __init__(self, line: str, *, key: str | None = None) -> None:
        line = " ".join(line.splitlines())
        super().__init__(line)
        self.line = line
        self.key = key

    def __str__(self) -> str:
        return self.line


def rule(problem: str, fix: str, *, at: tuple[str | int, ...] = ()) -> PydanticCustomError:
    """A validation failure carrying its own wording; ``at`` extends the location."""
    return PydanticCustomError(
        "config_rule", "{problem}", {"problem": problem, "fix": fix, "at": at}
    )


# --------------------------------------------------------------------------- wording


def quote(value: str) -> str:
    """A value as a line shows it: in double quotes, cut at 40 characters."""
    if len(value) > 40:
        value = value[:39] + "…"
    return json.dumps(value, ensure_ascii=False)


def quoted_list(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(quote(value) for value in values)


def suggest(word: str, known: tuple[str, ...] | list[str]) -> str:
    """`` (did you mean "…"?)`` when ``word`` is close to a known one, else nothing."""
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f" (did you mean {quote(close[0])}?)" if close else ""


def kind_of(value: object) -> str:
    """What kind of TOML value it is, in words: said instead of a private value."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, datetime | date | time):
        return "a date/time"
    return "another type"


def got(value: object, reveal: bool) -> str:
    """`` (got …)`` for an error line; only the kind of value unless ``reveal``."""
    if isinstance(value, bool):
        return f" (got {'true' if value else 'false'})"
    if reveal and isinstance(value, str):
        return f" (got {quote(value)})"
    if reveal and isinstance(value, int | float):
        return f" (got {value})"
    if value is None:
        return ""
    return f" (got {kind_of(value)})"


# --------------------------------------------------------------------------- locations


def _dotted(loc: tuple[str | int, ...]) -> str:
    """``("working_groups", 1, "slug")`` -> ``working_groups[1].slug`` (file spelling)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = "database.url" if part == "database_url" and not text else part
            text += f".{name}" if text else name
    return text


def _pattern(loc: tuple[str | int, ...]) -> str:
    """The key with list positions erased and no trailing item: ``working_groups[].slug``."""
    while loc and isinstance(loc[-1], int):
        loc = loc[:-1]
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += "[]"
        else:
            name = "database.url" if part == "database_url" and not text else part
            text += f".{name}" if text else name
    return text


def _where(loc: tuple[str | int, ...]) -> str:
    """Where a key lives, for "add … under [telegram]" style fixes."""
    parent = loc[:-1]
    if not parent:
        return "at the top of the file, before any [section]"
    if parent[0] == "working_groups":
        return "in that [[working_groups]] entry"
    return f"under [{_dotted(parent)}]"


# An example value per setting, used in the "fix" part of type errors.
_EXAMPLES: dict[str, str] = {
    "data_dir": '"data"',
    "default_language": '"en"',
    "time_zone": '"UTC"',
    "log_level": '"INFO"',
    "admins": '["telegram:123456789", "matrix:@name:example.org"]',
    "encryption_keys": '["…"] (better: the environment variable ' + ENV_ENCRYPTION_KEYS + ")",
    "database.url": '"sqlite:///data/caucus.db"',
    "telegram.token": '"123456:ABC…"',
    "telegram.mode": '"polling"',
    "telegram.webhook_url": '"https://bot.example.org/telegram"',
    "telegram.webhook_listen": '"127.0.0.1"',
    "telegram.webhook_port": "8443",
    "telegram.webhook_secret": '"…"',
    "telegram.api_base_url": '"http://127.0.0.1:8081"',
    "matrix.homeserver": '"https://matrix.example.org"',
    "matrix.user_id": '"@caucus:example.org"',
    "matrix.access_token": '"…"',
    "matrix.password": '"…"',
    "matrix.device_id": '"CAUCUSBOT"',
    "matrix.store_path": '"data/matrix-store"',
    "matrix.pickle_key": '"…"',
    "working_groups[].slug": '"legal-aid"',
    "working_groups[].name": '"Legal aid"',
    "working_groups[].languages": '["en", "es"]',
    "working_groups[].telegram_chats": "[-1001234567890]",
    "working_groups[].matrix_rooms": '["!abcdef:example.org"]',
    "working_groups[].coordinators": '["telegram:123456789"]',
    "working_groups[].admins": '["matrix:@name:example.org"]',
    "working_groups[].description": '{ en = "Legal support for defenders", es = "…" }',
    "working_groups[].join": '"request"',
}

_MISSING_FIX: dict[str, str] = {
    "telegram.token": (
        f"set the environment variable {ENV_TELEGRAM_TOKEN} to the token from @BotFather "
        '(or token = "…" under [telegram])'
    ),
    "matrix.homeserver": 'add homeserver = "https://matrix.example.org" under [matrix]',
    "matrix.user_id": 'add user_id = "@caucus:example.org" (the bot\'s account) under [matrix]',
    "working_groups[].slug": (
        'add slug = "legal-aid" (2-32 lowercase letters, digits or dashes) to that group'
    ),
    "working_groups[].name": 'add name = "Legal aid" to that group',
}


# --------------------------------------------------------------------------- error lines


def _explain(
    error: ErrorDetails, known_keys: Mapping[str, Sequence[str]]
) -> tuple[tuple[str | int, ...], str, str]:
    """The location, problem and fix for pydantic's error, in this module's own words;
    ``known_keys`` lists the settings of each section (``""``, ``"telegram"``, ...)."""
    loc = tuple(error["loc"])
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    value: object = error.get("input")
    if kind == "config_rule":
        return loc + tuple(ctx.get("at", ())), str(ctx["problem"]), str(ctx["fix"])

    reveal = not any(isinstance(part, str) and part in _PRIVATE_KEYS for part in loc)
    leaf = next((part for part in reversed(loc) if isinstance(part, str)), "value")
    pattern = _pattern(loc)
    example = _EXAMPLES.get(pattern, "…")
    given = got(value, reveal)

    if kind == "missing":
        return loc, "is required", _MISSING_FIX.get(pattern, f"add {leaf} = … {_where(loc)}")
    if kind == "extra_forbidden":
        parent = _pattern(loc[:-1]) + ("[]" if len(loc) > 1 and isinstance(loc[-2], int) else "")
        known = known_keys.get(parent, ())
        close = difflib.get_close_matches(str(leaf), known, n=1, cutoff=0.6)
        if close:
            problem = f"unknown setting (did you mean {quote(close[0])}?)"
            return loc, problem, f"rename it to {close[0]}"
        return loc, "unknown setting", f"remove it (known here: {', '.join(known)})"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        if reveal and isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
            return (
                loc,
                f"must be a whole number{given}",
                f"remove the quotes around {value.strip()}",
            )
        return loc, f"must be a whole number{given}", f"write it without quotes: {leaf} = {example}"
    if kind in {"string_type", "path_type"}:
        return loc, f"must be text{given}", f'put the value in double quotes, e.g. {leaf} = "…"'
    if kind in {"tuple_type", "list_type"}:
        if reveal and isinstance(value, str):
            fix = f"write {leaf} = [{quote(value)}]"
        else:
            fix = f"write it as a list in square brackets, e.g. {leaf} = {example}"
        return loc, f"must be a list{given}", fix
    if kind == "dict_type" and pattern in _EXAMPLES:
        return loc, f"must be a table{given}", f"write it as {leaf} = {example}"
    if kind in {"model_type", "dict_type", "model_attributes_type"}:
        section = f"[[{leaf}]]" if isinstance(loc[-1], int) else f"[{_dotted(loc)}]"
        return loc, f"must be a table{given}", f"write it as a {section} section"
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        problem = f"must be one of {quoted_list(allowed)}{given}"
        return loc, problem, f"set {_dotted(loc)} = {' or '.join(quote(a) for a in allowed)}"
    if kind == "value_error":
        return loc, str(ctx.get("error", "is not valid")), "see config.example.toml"
    message = str(error["msg"])
    message = message.replace("Input should be", "must be").replace("Input ", "the value ")
    return loc, f"{message[:1].lower()}{message[1:]}{given}", "see config.example.toml"


def from_validation(
    exc: ValidationError,
    label: str,
    env_keys: Mapping[str, str],
    known_keys: Mapping[str, Sequence[str]],
) -> ConfigError:
    """The line for pydantic's first error; ``env_keys`` names the variable a value came from."""
    loc, problem, fix = _explain(exc.errors(include_url=False)[0], known_keys)
    key = _dotted(loc)
    shown = f"{key} (from {env_keys[key]})" if key in env_keys else key
    return ConfigError(f"{label}: {shown or 'config'}: {problem}; fix: {fix}", key=key)


def _failure(label: str, key: str, problem: str, fix: str) -> ConfigError:
    """The line for a problem found before validation, at ``key`` of the file ``label``."""
    return ConfigError(f"{label}: {key}: {problem}; fix: {fix}", key=key)


def unreadable_file(label: str, exc: OSError) -> ConfigError:
    """The file is missing, a directory, or not readable by the bot's user."""
    if isinstance(exc, FileNotFoundError):
        return ConfigError(
            f"{label}: file not found; fix: copy config.example.toml there, "
            f"or point {ENV_CONFIG} at the right file"
        )
    if isinstance(exc, IsADirectoryError):
        return ConfigError(
            f"{label}: is a directory, not a file; fix: give the path of the .toml file itself"
        )
    if isinstance(exc, PermissionError):
        return ConfigError(
            f"{label}: cannot be read (permission denied); fix: let the bot's user read it"
        )
    reason = exc.strerror or type(exc).__name__
    return ConfigError(f"{label}: cannot be read ({reason}); fix: check the path and permissions")


def not_utf8(label: str, data: bytes, exc: UnicodeDecodeError) -> ConfigError:
    line = data[: exc.start].count(b"\n") + 1
    return ConfigError(
        f"{label}: line {line}: is not UTF-8 text; fix: save the file with UTF-8 encoding"
    )


def invalid_toml(label: str, exc: tomllib.TOMLDecodeError) -> ConfigError:
    message = str(exc)
    found = re.search(r"\s*\(at (line \d+, column \d+|end of document)\)", message)
    where = found.group(1) if found else "somewhere"
    reason = message[: found.start()] if found else message
    reason = reason[:1].lower() + reason[1:]
    return ConfigError(
        f"{label}: {where}: invalid TOML ({reason}); fix: correct the syntax there "
        '(text in "double quotes", lists in [brackets], each [section] only once)'
    )


def unknown_setting(label: str, key: str, known: Sequence[str]) -> ConfigError:
    """A key at the top of the file that no setting has: a near miss, or the ones known."""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        hint = f" (did you mean {quote(close[0])}?)"
        return _failure(label, key, f"unknown setting{hint}", f"rename it to {close[0]}")
    return _failure(label, key, "unknown setting", f"remove it (known: {', '.join(known)})")


def unknown_database_setting(label: str, key: str) -> ConfigError:
    hint = ' (did you mean "url"?)' if suggest(key, ["url"]) else ""
    return _failure(label, f"database.{key}", f"unknown setting{hint}", "use only url = …")


def not_a_table(label: str, key: str, value: object) -> ConfigError:
    return _failure(label, key, f"must be a table (got {kind_of(value)})", f"write [{key}]")
