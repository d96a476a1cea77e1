"""Configuration: a TOML file plus ``CAUCUS_*`` environment secrets, validated into frozen models.

This is the settings schema (the models and their checks) and its loading. Every problem
becomes one :class:`ConfigError` whose text is a single line naming the file, the setting,
what is wrong and how to fix it; those lines are built in :mod:`bot.config_errors`, the
variables in :mod:`bot.config_env`. Secret values never appear in errors or reprs.
"""

from __future__ import annotations

import importlib.util
import os
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.config_env import (
    ENV_CONFIG,
    ENV_DATABASE_URL,
    ENV_ENCRYPTION_KEYS,
    ENV_MATRIX_ACCESS_TOKEN,
    ENV_MATRIX_PASSWORD,
    ENV_MATRIX_PICKLE_KEY,
    ENV_PREFIX,
    ENV_SECRETS,
    ENV_TELEGRAM_TOKEN,
    ENV_TELEGRAM_WEBHOOK_SECRET,
)
from bot.config_errors import (
    ConfigError,
    from_validation,
    got,
    invalid_toml,
    not_a_table,
    not_utf8,
    quote,
    quoted_list,
    rule,
    suggest,
    unknown_database_setting,
    unknown_setting,
    unreadable_file,
)
from bot.feed_fetch import url_problem
from bot.types import Platform
from locales import SUPPORTED_LANGUAGES
from storage.sealing import check_key

__all__ = [
    "DATABASE_SCHEMES",
    "DEFAULT_CONFIG_NAME",
    "DEMO_DATABASE",
    "DEMO_GROUP",
    "DEMO_OPERATOR",
    "ENV_CONFIG",
    "ENV_DATABASE_URL",
    "ENV_ENCRYPTION_KEYS",
    "ENV_MATRIX_ACCESS_TOKEN",
    "ENV_MATRIX_PASSWORD",
    "ENV_MATRIX_PICKLE_KEY",
    "ENV_PREFIX",
    "ENV_TELEGRAM_TOKEN",
    "ENV_TELEGRAM_WEBHOOK_SECRET",
    "KEY_FILE",
    "LOG_LEVELS",
    "AppConfig",
    "ConfigError",
    "Identity",
    "IdentityField",
    "MatrixConfig",
    "TelegramConfig",
    "WorkingGroupConfig",
    "default_config_path",
    "format_identity",
    "load_config",
    "parse_identity",
]

DEFAULT_CONFIG_NAME = "config.toml"
LOG_LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR")
KEY_FILE = "encryption.key"
"""The file in ``data_dir`` that holds the sealing key made when the first value is sealed."""
DATABASE_SCHEMES: tuple[str, ...] = ("sqlite://", "postgresql://", "postgresql+psycopg://")

# Without a configuration file the bot is tried out on the console: a demo working group,
# run by the console's operator, so that every command it lists works. It lives in a
# database of its own, so that a configuration file written later (whose database is
# data_dir/caucus.db) starts clean: groups are never deleted, and real members must never
# be offered the demo group.
DEMO_OPERATOR = "console:local"
"""The console's own member (``caucus run``'s terminal, its transport's ``DEFAULT_USER``),
the demo group's admin."""
DEMO_DATABASE = "demo.db"
"""The demo's SQLite file in ``data_dir``, used only when no configuration file is given."""
DEMO_GROUP: Mapping[str, Any] = {
    "slug": "demo",
    "name": "Demo working group",
    "languages": SUPPORTED_LANGUAGES,
    "coordinators": (DEMO_OPERATOR,),
    "admins": (DEMO_OPERATOR,),
}

_FROZEN = ConfigDict(extra="forbid", frozen=True)

DESCRIPTION_MAX = 500
"""The longest description of a working group, per language."""

_TELEGRAM_USER = re.compile(r"[1-9][0-9]{0,19}")
_MATRIX_USER = re.compile(r"@[^\s:]+:[A-Za-z0-9.\-]+(:[0-9]{1,5})?")
# Room ids of room version 12 and later name no server ("!" and a hash); aliases always do.
_MATRIX_ROOM = re.compile(
    r"#[^\s:]+:[A-Za-z0-9.\-]+(:[0-9]{1,5})?|![^\s:]+(:[A-Za-z0-9.\-]+(:[0-9]{1,5})?)?"
)
_CONSOLE_USER = re.compile(r"[\w.\-]+")
_SLUG = re.compile(r"[a-z0-9-]{2,32}")
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_\-]{1,256}")


def _resolve(path: Path, info: ValidationInfo) -> Path:
    """Make ``path`` absolute against the validation context's ``base_dir`` (else the cwd)."""
    path = path.expanduser()
    if path.is_absolute():
        return path
    context = info.context
    base = context.get("base_dir") if isinstance(context, Mapping) else None
    return Path(os.path.abspath(Path(base or Path.cwd()) / path))


def _url_problem(value: str, schemes: tuple[str, ...]) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        wanted = " or ".join(f"{scheme}://" for scheme in schemes)
        return f"must be a URL starting with {wanted}"
    return None


def _port_problem(value: str) -> bool:
    """Whether a server URL names a port that is no port (``host:notaport``, ``host:99999``)."""
    try:
        port = urlsplit(value).port
    except ValueError:
        return True
    return port == 0


# --------------------------------------------------------------------------- identities


class Identity(BaseModel):
    """A person on one platform, written ``telegram:123456789`` or ``matrix:@ana:example.org``."""

    model_config = _FROZEN

    platform: Platform
    user_id: str

    @model_validator(mode="after")
    def _check_user_id(self) -> Identity:
        problem = _identity_problem(self.platform, self.user_id)
        if problem is not None:
            raise ValueError(problem)
        return self


def _identity_problem(platform: Platform, user_id: str) -> str | None:
    if platform is Platform.TELEGRAM and not _TELEGRAM_USER.fullmatch(user_id):
        return 'a Telegram user id is a positive number, like "telegram:123456789"'
    if platform is Platform.MATRIX and not _MATRIX_USER.fullmatch(user_id):
        return 'a Matrix user id looks like "matrix:@name:example.org"'
    if platform is Platform.CONSOLE and not _CONSOLE_USER.fullmatch(user_id):
        return 'a console identity is one word, like "console:local"'
    return None


def parse_identity(text: str) -> Identity:
    """Read ``platform:user_id``; raises ValueError with a readable message (no input echoed)."""
    if not isinstance(text, str):
        raise ValueError('an identity is a string like "telegram:123456789"')
    text = text.strip()
    platform_name, separator, user_id = text.partition(":")
    if text.startswith("@"):
        raise ValueError('a Matrix id needs the "matrix:" prefix, like "matrix:@name:example.org"')
    if text.isdigit():
        raise ValueError('a Telegram id needs the "telegram:" prefix, like "telegram:123456789"')
    if not separator:
        raise ValueError(
            'an identity is "platform:user id", like "telegram:123456789" or '
            '"matrix:@name:example.org"'
        )
    try:
        platform = Platform(platform_name.strip().lower())
    except ValueError:
        names = ", ".join(f'"{p.value}"' for p in Platform)
        raise ValueError(f'the part before ":" must be one of {names}') from None
    problem = _identity_problem(platform, user_id)
    if problem is not None:
        raise ValueError(problem)
    return Identity(platform=platform, user_id=user_id)


def format_identity(identity: Identity) -> str:
    """The ``platform:user_id`` text that :func:`parse_identity` reads back."""
    return f"{identity.platform.value}:{identity.user_id}"


def _identity_input(value: object) -> object:
    """Let identity fields take the ``platform:user_id`` strings written in the file."""
    if isinstance(value, Identity):
        return value
    fix = 'write it as "telegram:<user id>", "matrix:@name:server" or "console:<word>"'
    if not isinstance(value, str):
        raise rule(f"must be a string like {quote('telegram:123456789')}{got(value, False)}", fix)
    try:
        return parse_identity(value)
    except ValueError as exc:
        raise rule(str(exc), fix) from None


IdentityField = Annotated[Identity, BeforeValidator(_identity_input)]


# --------------------------------------------------------------------------- sections


def _secret_text(value: SecretStr) -> str:
    return value.get_secret_value()


class TelegramConfig(BaseModel):
    """How to reach the Telegram Bot API: the bot token, and polling or webhook delivery."""

    model_config = _FROZEN

    token: SecretStr
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: StrictStr | None = None
    webhook_listen: StrictStr = "127.0.0.1"
    webhook_port: StrictInt = 8443
    webhook_secret: SecretStr | None = None
    api_base_url: StrictStr | None = None

    @field_validator("token")
    @classmethod
    def _check_token(cls, value: SecretStr) -> SecretStr:
        text = _secret_text(value)
        if not text.strip() or any(char.isspace() for char in text):
            raise rule(
                "is empty or contains spaces",
                f"set {ENV_TELEGRAM_TOKEN} to the exact token from @BotFather",
            )
        return value

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str | None) -> str | None:
        if value is not None and (problem := _url_problem(value, ("https",))):
            raise rule(
                f"{problem} (Telegram only delivers to HTTPS)",
                'set webhook_url = "https://bot.example.org/telegram"',
            )
        return value

    @field_validator("webhook_listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        if not value.strip():
            raise rule("is empty", 'set webhook_listen = "127.0.0.1" (or "0.0.0.0" for all)')
        return value.strip()

    @field_validator("webhook_port")
    @classmethod
    def _check_port(cls, value: int) -> int:
        if not 1 <= value <= 65535:
            raise rule(
                f"must be a port number from 1 to 65535 (got {value})", "set webhook_port = 8443"
            )
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _WEBHOOK_SECRET.fullmatch(_secret_text(value)):
            raise rule(
                "must be 1-256 characters of letters, digits, _ or -",
                f"set {ENV_TELEGRAM_WEBHOOK_SECRET} to a random value such as the output of "
                "`openssl rand -hex 32`",
            )
        return value

    @field_validator("api_base_url")
    @classmethod
    def _check_api_base_url(cls, value: str | None) -> str | None:
        if value is not None and (problem := _url_problem(value, ("http", "https"))):
            raise rule(problem, "remove api_base_url to use the real Telegram Bot API")
        return value

    @model_validator(mode="after")
    def _check_mode(self) -> TelegramConfig:
        if self.mode == "webhook" and self.webhook_url is None:
            raise rule(
                'is required when mode = "webhook"',
                'set webhook_url = "https://bot.example.org/telegram", or use mode = "polling"',
                at=("webhook_url",),
            )
        if self.mode == "webhook" and self.webhook_secret is None:
            # Without it anyone who finds the port can post updates as any member.
            raise rule(
                'is required when mode = "webhook"',
                "set the environment variable CAUCUS_TELEGRAM_WEBHOOK_SECRET to a random "
                "string of letters, digits, '-' and '_' (or webhook_secret under [telegram])",
                at=("webhook_secret",),
            )
        return self


class MatrixConfig(BaseModel):
    """How to log in to a Matrix homeserver: account, one login secret, and the crypto store."""

    model_config = _FROZEN

    homeserver: StrictStr
    user_id: StrictStr
    access_token: SecretStr | None = None
    password: SecretStr | None = None
    device_id: StrictStr | None = None
    store_path: Path = Path("data", "matrix-store")  # load_config puts it under data_dir
    pickle_key: SecretStr | None = None
    join_invites_from: tuple[StrictStr, ...] = ()
    device_trust: Literal["on-first-use", "unverified"] = "on-first-use"

    @field_validator("join_invites_from")
    @classmethod
    def _check_servers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for server in value:
            if not server or any(mark in server for mark in "/@!#: "):
                raise rule(
                    f"{quote(server)} is not a server name",
                    'list server names only, e.g. join_invites_from = ["example.org"]',
                )
        return value

    @field_validator("homeserver")
    @classmethod
    def _check_homeserver(cls, value: str) -> str:
        if problem := _url_problem(value, ("http", "https")):
            raise rule(problem, 'set homeserver = "https://matrix.example.org"')
        return value.rstrip("/")

    @field_validator("user_id")
    @classmethod
    def _check_user_id(cls, value: str) -> str:
        if not _MATRIX_USER.fullmatch(value):
            raise rule(
                "must be a Matrix user id like @name:server",
                'set user_id = "@caucus:example.org" (the bot\'s own account)',
            )
        return value

    @field_validator("device_id")
    @classmethod
    def _check_device_id(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise rule("is empty", "remove device_id to let the homeserver assign one")
        return value

    @field_validator("store_path")
    @classmethod
    def _resolve_store(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolve(value, info)

    @model_validator(mode="after")
    def _check_login(self) -> MatrixConfig:
        has_token = self.access_token is not None and bool(_secret_text(self.access_token))
        has_password = self.password is not None and bool(_secret_text(self.password))
        if has_token and has_password:
            raise rule(
                "access_token and password are both set, but exactly one is needed",
                f"keep matrix.access_token ({ENV_MATRIX_ACCESS_TOKEN}) and remove "
                f"matrix.password ({ENV_MATRIX_PASSWORD}), or the other way round",
            )
        if not has_token and not has_password:
            raise rule(
                "needs access_token or password to log in, and neither is set",
                f"set {ENV_MATRIX_ACCESS_TOKEN} (or matrix.access_token), "
                f"or {ENV_MATRIX_PASSWORD} (or matrix.password)",
            )
        return self


def _no_duplicates(values: tuple[Any, ...], what: str) -> None:
    seen: set[Any] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise rule(f"{what} {value} is listed twice", "remove the repeated entry", at=(index,))
        seen.add(value)


class WorkingGroupConfig(BaseModel):
    """One working group: its name, languages, the chats/rooms it lives in and who runs it."""

    model_config = _FROZEN

    slug: StrictStr
    name: StrictStr
    languages: tuple[StrictStr, ...] = ("en",)
    telegram_chats: tuple[StrictInt, ...] = ()
    matrix_rooms: tuple[StrictStr, ...] = ()
    coordinators: tuple[IdentityField, ...] = ()
    admins: tuple[IdentityField, ...] = ()
    description: Mapping[StrictStr, StrictStr] = {}
    """What the group does, per language code: shown by ``/groups`` in the member's
    language, or else in the group's first language."""
    join: Literal["request", "open"] = "request"
    """How a member joins with ``/join``: a request its coordinators approve ("request"),
    or at once ("open")."""
    feeds: tuple[StrictStr, ...] = ()
    """iCalendar, RSS or Atom feeds polled for the group (``[feeds]`` says how often):
    their new items are offered to the group's coordinators."""

    @field_validator("feeds")
    @classmethod
    def _check_feeds(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for index, url in enumerate(value):
            problem = url_problem(url)
            if problem is not None:
                raise rule(
                    f"{quote(url[:80])} {problem}",
                    'give the full address of the feed, e.g. feeds = ["https://example.org/events.ics"]',
                    at=(index,),
                )
        _no_duplicates(value, "feed")
        return value

    @field_validator("slug")
    @classmethod
    def _check_slug(cls, value: str) -> str:
        if not _SLUG.fullmatch(value):
            raise rule(
                f"must be 2-32 lowercase letters, digits or dashes (got {quote(value)})",
                'use a short id such as slug = "legal-aid"',
            )
        return value

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not value.strip():
            raise rule("is empty", 'give the group a name, e.g. name = "Legal aid"')
        return value.strip()

    @field_validator("description")
    @classmethod
    def _check_description(cls, value: Mapping[str, str]) -> Mapping[str, str]:
        for language, text in value.items():
            if language not in SUPPORTED_LANGUAGES:
                raise rule(
                    f"unknown language {quote(language)}{suggest(language, SUPPORTED_LANGUAGES)}",
                    f"key each description by a code from {quoted_list(SUPPORTED_LANGUAGES)}, "
                    'e.g. description = { en = "Legal aid for defenders" }',
                    at=(language,),
                )
            if not text.strip():
                raise rule(
                    "is empty",
                    "write what the group does in a sentence, or leave the language out",
                    at=(language,),
                )
            if len(text.strip()) > DESCRIPTION_MAX:
                raise rule(
                    f"is {len(text.strip())} characters long",
                    f"keep a description to {DESCRIPTION_MAX} characters",
                    at=(language,),
                )
        return MappingProxyType({language: text.strip() for language, text in value.items()})

    @field_validator("languages")
    @classmethod
    def _check_languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise rule("is empty", 'list at least one language, e.g. languages = ["en"]')
        for index, language in enumerate(value):
            if language not in SUPPORTED_LANGUAGES:
                raise rule(
                    f"unknown language {quote(language)}{suggest(language, SUPPORTED_LANGUAGES)}",
                    f"use codes from {quoted_list(SUPPORTED_LANGUAGES)}",
                    at=(index,),
                )
        return tuple(dict.fromkeys(value))

    @field_validator("telegram_chats")
    @classmethod
    def _check_chats(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        for index, chat in enumerate(value):
            if chat == 0:
                raise rule(
                    "0 is not a Telegram chat id",
                    "use the chat's id, e.g. -1001234567890 (the bot logs it when added)",
                    at=(index,),
                )
        _no_duplicates(value, "chat")
        return value

    @field_validator("matrix_rooms")
    @classmethod
    def _check_rooms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for index, room in enumerate(value):
            if not _MATRIX_ROOM.fullmatch(room):
                raise rule(
                    f"{quote(room)} is not a Matrix room id or alias",
                    'use the room id, "!…" (room settings, Advanced), or an alias, '
                    '"#alias:example.org"',
                    at=(index,),
                )
        _no_duplicates(value, "room")
        return value


MB = 1024 * 1024


class LimitsConfig(BaseModel):
    """How much one member may ask of the bot: messages in a private chat, evidence bytes.

    Bridged group messages are never limited (the outbox merges their bursts)."""

    model_config = _FROZEN

    private_messages_per_minute: StrictInt = 20
    """More than this in a minute in a private chat: one "slow down", the rest dropped."""
    evidence_bytes_per_report: StrictInt = 100 * MB
    evidence_bytes_per_member_per_day: StrictInt = 200 * MB

    @field_validator("private_messages_per_minute")
    @classmethod
    def _check_rate(cls, value: int) -> int:
        if not 1 <= value <= 10_000:
            raise rule(
                f"must be from 1 to 10000 (got {value})",
                "set private_messages_per_minute = 20, or more for a busy network",
            )
        return value

    @field_validator("evidence_bytes_per_report", "evidence_bytes_per_member_per_day")
    @classmethod
    def _check_bytes(cls, value: int) -> int:
        if not 1 * MB <= value <= 100_000 * MB:
            raise rule(
                f"must be from 1048576 (1 MB) to 104857600000 (100000 MB) (got {value})",
                "give a number of bytes, e.g. 104857600 for 100 MB",
            )
        return value


class SchedulerConfig(BaseModel):
    """How often the scheduler looks for due work (reminders, deadlines) besides waking at
    the next row's time."""

    model_config = _FROZEN

    poll_seconds: StrictInt = 30
    """Look for due work at least this often (work scheduled by another process shows up
    within it)."""

    lateness_hours: Mapping[StrictStr, StrictInt] = {}
    """Per kind of work (``"consultation.reminder"``), how many hours late it may still be
    done, in place of the lateness its capability registered."""

    @field_validator("lateness_hours")
    @classmethod
    def _check_lateness(cls, value: Mapping[str, int]) -> Mapping[str, int]:
        for kind, hours in value.items():
            if not kind or len(kind) > 64:
                raise rule(
                    f"names a kind of work of 1 to 64 characters (got {kind!r})",
                    'write e.g. lateness_hours = { "consultation.reminder" = 12 }',
                )
            if not 0 <= hours <= 8760:
                raise rule(
                    f"gives {kind} a lateness from 0 to 8760 hours (got {hours})",
                    'write e.g. lateness_hours = { "consultation.reminder" = 12 }',
                )
        return MappingProxyType(dict(value))

    @field_validator("poll_seconds")
    @classmethod
    def _check_poll(cls, value: int) -> int:
        if not 1 <= value <= 3600:
            raise rule(
                f"must be from 1 to 3600 seconds (got {value})",
                "set poll_seconds = 30",
            )
        return value


class FeedsConfig(BaseModel):
    """How the groups' configured feeds are polled and how much of one is read."""

    model_config = _FROZEN

    poll_minutes: StrictInt = 60
    """Minutes between two polls of a feed (a failing feed is tried again sooner)."""
    max_bytes: StrictInt = 2 * MB
    """A feed larger than this is not read (the fetch stops past it) and is reported."""
    timeout_seconds: StrictInt = 20
    allow_private_hosts: StrictBool = False
    """Whether ``/import`` may read an address on a private, loopback or link-local network
    (127.0.0.1, 10/8, 192.168/16, 169.254.169.254, ::1, fc00::/7): false, so that no member
    makes the bot reach the host's or the cloud's own services; true only for tests and a
    feed server on one's own network. Configured feeds are the operator's and always read."""

    @field_validator("poll_minutes")
    @classmethod
    def _check_minutes(cls, value: int) -> int:
        if not 5 <= value <= 7 * 24 * 60:
            raise rule(f"must be from 5 to 10080 (a week) (got {value})", "set poll_minutes = 60")
        return value

    @field_validator("max_bytes")
    @classmethod
    def _check_max_bytes(cls, value: int) -> int:
        if not 64 * 1024 <= value <= 50 * MB:
            raise rule(
                f"must be from 65536 (64 KB) to 52428800 (50 MB) (got {value})",
                "give a number of bytes, e.g. 2097152 for 2 MB",
            )
        return value

    @field_validator("timeout_seconds")
    @classmethod
    def _check_timeout(cls, value: int) -> int:
        if not 1 <= value <= 300:
            raise rule(f"must be from 1 to 300 (got {value})", "set timeout_seconds = 20")
        return value


class PollsConfig(BaseModel):
    """Working groups' polls (``/poll``)."""

    model_config = _FROZEN

    remind_hours_before: StrictInt = 24
    """Hours before a poll's deadline at which those who have not voted are reminded, once
    (0: no reminder)."""

    @field_validator("remind_hours_before")
    @classmethod
    def _check_remind(cls, value: int) -> int:
        if not 0 <= value <= 24 * 30:
            raise rule(
                f"must be from 0 (no reminder) to 720 (30 days) (got {value})",
                "set remind_hours_before = 24",
            )
        return value


class StatementsConfig(BaseModel):
    """Joint statements (``/statement``)."""

    model_config = _FROZEN

    remind_hours_before: tuple[StrictInt, ...] = (72, 24)
    """Hours before a statement's deadline at which organizations that have not answered
    are reminded, once each (empty: no reminder)."""

    @field_validator("remind_hours_before")
    @classmethod
    def _check_remind(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        fix = "set remind_hours_before = [72, 24]"
        if len(value) > 5:
            raise rule(f"takes at most 5 reminders (got {len(value)})", fix)
        for hours in value:
            if not 1 <= hours <= 24 * 30:
                raise rule(f"each must be from 1 to 720 (30 days) (got {hours})", fix)
        if len(set(value)) != len(value):
            raise rule("names the same hour twice", fix)
        return tuple(sorted(value, reverse=True))


class AppConfig(BaseModel):
    """The whole validated configuration the bot runs with."""

    model_config = _FROZEN

    source: Path | None = None
    data_dir: Path
    database_url: StrictStr = Field(repr=False)
    default_language: StrictStr = "en"
    time_zone: StrictStr = "UTC"
    log_level: StrictStr = "INFO"
    telegram: TelegramConfig | None = None
    matrix: MatrixConfig | None = None
    working_groups: tuple[WorkingGroupConfig, ...] = ()
    admins: tuple[IdentityField, ...] = ()
    limits: LimitsConfig = LimitsConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    feeds: FeedsConfig = FeedsConfig()
    polls: PollsConfig = PollsConfig()
    statements: StatementsConfig = StatementsConfig()
    encryption_keys: tuple[SecretStr, ...] = Field(default=(), repr=False)
    """Keys that seal confidential data at rest, newest first; none: a key file in data_dir."""

    @field_validator("encryption_keys")
    @classmethod
    def _check_encryption_keys(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        for position, key in enumerate(value):
            problem = check_key(key.get_secret_value().strip())
            if problem is not None:
                raise rule(
                    f"key {position + 1} {problem}",
                    "make a key with `caucus keygen` and put it first "
                    f'({ENV_ENCRYPTION_KEYS}="new,old" keeps old ones readable)',
                    at=(position,),
                )
        return tuple(SecretStr(key.get_secret_value().strip()) for key in value)

    @property
    def key_file(self) -> Path | None:
        """Where the sealing key is kept when no key is configured, made when the first value
        is sealed (beside the data it protects: worth a warning); ``None`` when keys are
        configured."""
        return None if self.encryption_keys else self.data_dir / KEY_FILE

    @property
    def database_kind(self) -> str:
        """ "sqlite" or "postgresql": the database's kind, never its address."""
        return "sqlite" if self.database_url.startswith("sqlite") else "postgresql"

    @property
    def enabled_platforms(self) -> tuple[Platform, ...]:
        """The chat networks that have a section, in a fixed order."""
        platforms: list[Platform] = []
        if self.telegram is not None:
            platforms.append(Platform.TELEGRAM)
        if self.matrix is not None:
            platforms.append(Platform.MATRIX)
        return tuple(platforms)

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any, info: ValidationInfo) -> Any:
        """Put the database and the Matrix store under data_dir unless set explicitly."""
        if not isinstance(data, Mapping) or not isinstance(data.get("data_dir"), str | Path):
            return data
        data_dir = _resolve(Path(data["data_dir"]), info)
        filled = dict(data)
        if filled.get("database_url") is None:
            filled["database_url"] = f"sqlite:///{data_dir / 'caucus.db'}"
        matrix = filled.get("matrix")
        if isinstance(matrix, Mapping) and "store_path" not in matrix:
            filled["matrix"] = {**matrix, "store_path": str(data_dir / "matrix-store")}
        return filled

    @field_validator("data_dir")
    @classmethod
    def _resolve_data_dir(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolve(value, info)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if not value.startswith(DATABASE_SCHEMES):
            scheme, separator, _ = value.partition("://")
            got = f" (got {quote(scheme + '://…')})" if separator and scheme.isascii() else ""
            raise rule(
                f"must start with {', '.join(quote(s) for s in DATABASE_SCHEMES)}{got}",
                'use url = "sqlite:///data/caucus.db" or "postgresql+psycopg://user@host/caucus"',
            )
        if not value.startswith("sqlite:") and _port_problem(value):
            # The URL may carry a password: say what is wrong, never the URL.
            raise rule(
                "the port is not a number from 1 to 65535",
                'write the port as digits, e.g. url = "postgresql://caucus@db.example.org:5432/'
                'caucus", or leave it out for 5432',
            )
        if value.startswith("postgresql") and importlib.util.find_spec("psycopg") is None:
            # psycopg is the postgresql extra's: a SQLite installation does without it.
            raise rule(
                "PostgreSQL needs the psycopg driver, which is not installed",
                "install the postgresql extra: .venv/bin/pip install -e '.[postgresql]' "
                "(or pip install 'caucus[postgresql]')",
            )
        if value.startswith("sqlite:") and (
            value.rstrip("/") in ("sqlite:", "sqlite:/") or ":memory:" in value
        ):
            # The router works on its own thread, and an in-memory database is per thread.
            raise rule(
                "an in-memory SQLite database cannot keep anything",
                'use a file, e.g. url = "sqlite:///data/caucus.db", or leave url unset',
            )
        if value.startswith("sqlite:///"):
            path_text, mark, query = value.removeprefix("sqlite:///").partition("?")
            if path_text and path_text != ":memory:" and not path_text.startswith("/"):
                path = _resolve(Path(path_text), info)
                value = f"sqlite:///{path}{mark}{query}"
        return value

    @field_validator("default_language")
    @classmethod
    def _check_language(cls, value: str) -> str:
        if value not in SUPPORTED_LANGUAGES:
            raise rule(
                f"unknown language {quote(value)}{suggest(value, SUPPORTED_LANGUAGES)}",
                f"set default_language to one of {quoted_list(SUPPORTED_LANGUAGES)}",
            )
        return value

    @field_validator("time_zone")
    @classmethod
    def _check_time_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zones = zoneinfo.available_timezones()
            by_lower = {zone.lower(): zone for zone in zones}
            close = by_lower.get(value.lower())
            hint = f" (did you mean {quote(close)}?)" if close else suggest(value, sorted(zones))
            raise rule(
                f"unknown time zone {quote(value)}{hint}",
                'use an IANA name such as "UTC", "Europe/Madrid" or "America/Bogota"',
            ) from None
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = {"WARN": "WARNING"}.get(value.upper(), value.upper())
        if level not in LOG_LEVELS:
            raise rule(
                f"unknown log level {quote(value)}",
                f"set log_level to one of {quoted_list(LOG_LEVELS)}",
            )
        return level

    @model_validator(mode="after")
    def _check_groups(self) -> AppConfig:
        slugs: dict[str, int] = {}
        chats: dict[int, int] = {}
        rooms: dict[str, int] = {}
        for index, group in enumerate(self.working_groups):
            if group.slug in slugs:
                raise rule(
                    f"{quote(group.slug)} is already used by working_groups[{slugs[group.slug]}]",
                    "give every working group its own slug",
                    at=("working_groups", index, "slug"),
                )
            slugs[group.slug] = index
            for position, chat in enumerate(group.telegram_chats):
                if chat in chats:
                    raise rule(
                        f"chat {chat} is already in working_groups[{chats[chat]}]",
                        "a chat belongs to one working group only: remove it from one of them",
                        at=("working_groups", index, "telegram_chats", position),
                    )
                chats[chat] = index
            for position, room in enumerate(group.matrix_rooms):
                if room in rooms:
                    raise rule(
                        f"room {quote(room)} is already in working_groups[{rooms[room]}]",
                        "a room belongs to one working group only: remove it from one of them",
                        at=("working_groups", index, "matrix_rooms", position),
                    )
                rooms[room] = index
        return self


# --------------------------------------------------------------------------- file keys

_FILE_KEYS: tuple[str, ...] = (
    "data_dir",
    "encryption_keys",
    "default_language",
    "time_zone",
    "log_level",
    "admins",
    "database",
    "telegram",
    "matrix",
    "working_groups",
    "limits",
    "scheduler",
    "feeds",
    "polls",
    "statements",
)

_SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "": _FILE_KEYS,
    "database": ("url",),
    "telegram": tuple(TelegramConfig.model_fields),
    "matrix": tuple(MatrixConfig.model_fields),
    "working_groups[]": tuple(WorkingGroupConfig.model_fields),
    "limits": tuple(LimitsConfig.model_fields),
    "scheduler": tuple(SchedulerConfig.model_fields),
    "feeds": tuple(FeedsConfig.model_fields),
    "polls": tuple(PollsConfig.model_fields),
    "statements": tuple(StatementsConfig.model_fields),
}
"""The settings each part of the file may hold, for "did you mean" in error lines."""


# --------------------------------------------------------------------------- loading


def _read_toml(path: Path, label: str) -> dict[str, Any]:
    """The parsed file, or a one-line ConfigError for missing, unreadable or malformed files."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise unreadable_file(label, exc) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise not_utf8(label, data, exc) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise invalid_toml(label, exc) from None


def _prepare(
    raw: Mapping[str, Any], env: Mapping[str, str], label: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """Map the file's layout onto AppConfig's fields and apply environment overrides.

    Returns the data to validate and, per dotted key, the variable a value came from.
    """
    data: dict[str, Any] = {}
    env_keys: dict[str, str] = {}
    for key, value in raw.items():
        if key not in _FILE_KEYS:
            raise unknown_setting(label, key, _FILE_KEYS)
        if key != "database":
            data[key] = value
    database = raw.get("database")
    if database is not None:
        if not isinstance(database, Mapping):
            raise not_a_table(label, "database", database)
        for key in database:
            if key != "url":
                raise unknown_database_setting(label, key)
        if "url" in database:
            data["database_url"] = database["url"]
    if env_url := env.get(ENV_DATABASE_URL, "").strip():
        data["database_url"] = env_url
        env_keys["database.url"] = ENV_DATABASE_URL
    if env_keys_text := env.get(ENV_ENCRYPTION_KEYS, "").strip():
        data["encryption_keys"] = [key for key in env_keys_text.split(",") if key.strip()]
        env_keys["encryption_keys"] = ENV_ENCRYPTION_KEYS
    for (section, key), variable in ENV_SECRETS.items():
        table = data.get(section)
        secret = env.get(variable, "").strip()
        if secret and isinstance(table, Mapping):
            data[section] = {**table, key: secret}
            env_keys[f"{section}.{key}"] = variable
    return data, env_keys


def load_config(
    path: Path | None, env: Mapping[str, str] | None = None, *, base_dir: Path | None = None
) -> AppConfig:
    """Read and validate the configuration; raise :class:`ConfigError` with one line if bad.

    ``path=None`` gives the built-in defaults: console only, the demo working group
    (:data:`DEMO_GROUP`) and SQLite in ``<base_dir>/data/demo.db``.
    Relative paths resolve against ``base_dir``, which defaults to the config file's directory
    (or the current directory when there is no file). ``env=None`` reads ``os.environ``.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    if path is None:
        label = "(built-in defaults)"
        raw: dict[str, Any] = {}
        base = Path(os.path.abspath(base_dir or Path.cwd()))
        source = None
    else:
        path = Path(path)
        label = str(path)
        raw = _read_toml(path, label)
        source = Path(os.path.abspath(path))
        base = Path(os.path.abspath(base_dir)) if base_dir is not None else source.parent
    data, env_keys = _prepare(raw, environ, label)
    data.setdefault("data_dir", "data")
    if path is None:
        demo_database = base / data["data_dir"] / DEMO_DATABASE
        data.setdefault("database_url", f"sqlite:///{demo_database}")
        data["working_groups"] = [DEMO_GROUP]
    data["source"] = source
    try:
        return AppConfig.model_validate(data, context={"base_dir": base})
    except ValidationError as exc:
        raise from_validation(exc, label, env_keys, _SECTION_KEYS) from None


def default_config_path(
    env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Path | None:
    """``$CAUCUS_CONFIG`` if set (existing or not), else ``./config.toml`` if present, else None."""
    environ: Mapping[str, str] = os.environ if env is None else env
    folder = cwd if cwd is not None else Path.cwd()
    if configured := environ.get(ENV_CONFIG, "").strip():
        chosen = Path(configured).expanduser()
        return chosen if chosen.is_absolute() else folder / chosen
    candidate = folder / DEFAULT_CONFIG_NAME
    return candidate if candidate.is_file() else None
