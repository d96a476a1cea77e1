"""Configuration loading: defaults, environment secrets, and one-line errors for every mistake."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import (
    ENV_PREFIX,
    AppConfig,
    ConfigError,
    Identity,
    default_config_path,
    format_identity,
    load_config,
    parse_identity,
)
from bot.types import Platform
from storage.sealing import generate_key

EXAMPLE = Path(__file__).parents[1] / "config.example.toml"

TELEGRAM = '[telegram]\ntoken = "123456:file-token"\n'
MATRIX = '[matrix]\nhomeserver = "https://matrix.example.org"\nuser_id = "@bot:example.org"\n'


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> AppConfig:
    return load_config(write(tmp_path, text), env=env or {})


def error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, env)
    line = str(info.value)
    assert line == info.value.line
    assert "\n" not in line
    assert "Traceback" not in line
    assert "; fix: " in line
    return line


def group(slug: str = "legal", name: str = "Legal aid", extra: str = "") -> str:
    return f'[[working_groups]]\nslug = "{slug}"\nname = "{name}"\n{extra}'


# --------------------------------------------------------------------------- defaults


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = load_config(None, env={}, base_dir=tmp_path)
    assert config.source is None
    assert config.data_dir == tmp_path / "data"
    assert config.data_dir.is_absolute()
    assert config.database_url == f"sqlite:///{tmp_path / 'data' / 'demo.db'}"
    assert config.default_language == "en"
    assert config.time_zone == "UTC"
    assert config.log_level == "INFO"
    assert config.telegram is None
    assert config.matrix is None
    assert config.enabled_platforms == ()
    assert config.admins == ()


def test_without_a_file_the_console_operator_runs_a_demo_group(tmp_path: Path) -> None:
    (demo,) = load_config(None, env={}, base_dir=tmp_path).working_groups
    operator = Identity(platform=Platform.CONSOLE, user_id="local")
    assert (demo.slug, demo.name) == ("demo", "Demo working group")
    assert demo.coordinators == (operator,)
    assert demo.admins == (operator,)
    assert demo.telegram_chats == () and demo.matrix_rooms == ()


def test_any_file_even_an_empty_one_has_no_demo_and_its_own_database(tmp_path: Path) -> None:
    config = load(tmp_path, "")
    assert config.working_groups == ()
    assert config.database_url == f"sqlite:///{tmp_path / 'data' / 'caucus.db'}"


def test_defaults_use_cwd_without_base_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config(None, env={}).data_dir == tmp_path / "data"


def test_example_file_loads() -> None:
    config = load_config(EXAMPLE, env={})
    assert config.source == EXAMPLE.absolute()
    assert config.enabled_platforms == ()
    assert config.data_dir == EXAMPLE.parent / "data"
    assert config.database_url.startswith("sqlite:///")


def test_example_file_sections_are_valid_when_uncommented(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    uncommented = re.sub(r"(?m)^# (?=\[|[a-z_]+ = )", "", text)
    assert "[telegram]" in uncommented.splitlines()
    config = load(tmp_path, uncommented)
    assert config.enabled_platforms == (Platform.TELEGRAM, Platform.MATRIX)
    assert len(config.working_groups) == 1


def test_example_comments_every_setting() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^(# )?[a-z_]+ = ", line) and not line.startswith("# # "):
            previous = lines[index - 1]
            assert previous.startswith("#") and not re.match(r"^# [a-z_]+ = ", previous), line


def test_relative_paths_follow_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)
    path = write(
        folder,
        'data_dir = "state"\n[database]\nurl = "sqlite:///db/x.db"\n'
        + MATRIX
        + 'access_token = "tok"\n',
    )
    config = load_config(path, env={})
    assert config.data_dir == folder / "state"
    assert config.database_url == f"sqlite:///{folder / 'db' / 'x.db'}"
    assert config.matrix is not None
    assert config.matrix.store_path == folder / "state" / "matrix-store"


def test_absolute_sqlite_url_is_kept(tmp_path: Path) -> None:
    absolute = load(tmp_path, '[database]\nurl = "sqlite:////var/lib/caucus.db"\n')
    assert absolute.database_url == "sqlite:////var/lib/caucus.db"


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_is_refused(tmp_path: Path, url: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert "database.url" in str(caught.value)
    assert "in-memory" in str(caught.value)


def test_full_config(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        'default_language = "es"\ntime_zone = "America/Bogota"\nlog_level = "debug"\n'
        'admins = ["telegram:42", "matrix:@ana:example.org", "console:local"]\n'
        + TELEGRAM
        + 'mode = "webhook"\nwebhook_url = "https://bot.example.org/tg"\nwebhook_port = 8080\n'
        + 'webhook_secret = "hook-secret"\n'
        + MATRIX
        + 'password = "pw"\ndevice_id = "DEV"\n'
        + group(
            extra='languages = ["es", "en"]\ntelegram_chats = [-100123]\n'
            'matrix_rooms = ["!room:example.org", "#legal:example.org"]\n'
            'coordinators = ["telegram:7"]\n'
        )
        + group("press", "Press", "telegram_chats = [-100456]\n"),
    )
    assert config.log_level == "DEBUG"
    assert config.enabled_platforms == (Platform.TELEGRAM, Platform.MATRIX)
    assert config.admins[1] == Identity(platform=Platform.MATRIX, user_id="@ana:example.org")
    assert config.telegram is not None
    assert config.telegram.token.get_secret_value() == "123456:file-token"
    assert config.telegram.webhook_port == 8080
    assert config.matrix is not None
    assert config.matrix.password == SecretStr("pw")
    legal, press = config.working_groups
    assert legal.languages == ("es", "en")
    assert legal.matrix_rooms == ("!room:example.org", "#legal:example.org")
    assert legal.coordinators == (Identity(platform=Platform.TELEGRAM, user_id="7"),)
    assert press.languages == ("en",)


def test_config_is_frozen(tmp_path: Path) -> None:
    config = load_config(None, env={}, base_dir=tmp_path)
    with pytest.raises(ValueError):
        config.log_level = "DEBUG"


# --------------------------------------------------------------------------- environment


def test_env_supplies_missing_telegram_token(tmp_path: Path) -> None:
    config = load(tmp_path, "[telegram]\n", {"CAUCUS_TELEGRAM_TOKEN": "999:env-token"})
    assert config.telegram is not None
    assert config.telegram.token.get_secret_value() == "999:env-token"


def test_env_token_wins_over_file(tmp_path: Path) -> None:
    config = load(tmp_path, TELEGRAM, {"CAUCUS_TELEGRAM_TOKEN": "999:env-token"})
    assert config.telegram is not None
    assert config.telegram.token.get_secret_value() == "999:env-token"


def test_env_token_alone_does_not_enable_telegram(tmp_path: Path) -> None:
    config = load(tmp_path, "", {"CAUCUS_TELEGRAM_TOKEN": "999:env-token"})
    assert config.telegram is None


def test_env_matrix_secrets(tmp_path: Path) -> None:
    env = {
        "CAUCUS_MATRIX_ACCESS_TOKEN": "syt_env",
        "CAUCUS_MATRIX_PICKLE_KEY": "pickle",
        "CAUCUS_TELEGRAM_WEBHOOK_SECRET": "hook-secret",
    }
    config = load(tmp_path, TELEGRAM + MATRIX, env)
    assert config.matrix is not None
    assert config.matrix.access_token == SecretStr("syt_env")
    assert config.matrix.pickle_key == SecretStr("pickle")
    assert config.telegram is not None
    assert config.telegram.webhook_secret == SecretStr("hook-secret")


def test_env_database_url_overrides(tmp_path: Path) -> None:
    url = "postgresql+psycopg://caucus@db/caucus"
    config = load(tmp_path, '[database]\nurl = "sqlite:///x.db"\n', {"CAUCUS_DATABASE_URL": url})
    assert config.database_url == url


def test_empty_env_values_are_ignored(tmp_path: Path) -> None:
    config = load(tmp_path, TELEGRAM, {"CAUCUS_TELEGRAM_TOKEN": "", "CAUCUS_DATABASE_URL": " "})
    assert config.telegram is not None
    assert config.telegram.token.get_secret_value() == "123456:file-token"
    assert config.database_url.startswith("sqlite:///")


def test_bad_env_database_url_names_the_variable_not_the_value(tmp_path: Path) -> None:
    line = error(tmp_path, "", {"CAUCUS_DATABASE_URL": "mysql://user:hunter2@db/x"})
    assert "database.url (from CAUCUS_DATABASE_URL)" in line
    assert "hunter2" not in line


def test_secrets_never_in_repr(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[database]\nurl = "postgresql://caucus:dbpass-secret@db/caucus"\n'
        + TELEGRAM
        + 'webhook_secret = "hooksecret"\n'
        + MATRIX
        + 'password = "matrixpass"\npickle_key = "picklekey"\n',
    )
    for text in (repr(config), str(config), repr(config.telegram), repr(config.matrix)):
        for secret in ("file-token", "hooksecret", "matrixpass", "picklekey", "dbpass-secret"):
            assert secret not in text


@pytest.mark.parametrize(
    ("text", "env"),
    [
        ('[telegram]\ntoken = "has space-secret"\n', {}),
        ("[telegram]\ntoken = 987654321\n", {}),
        ("[telegram]\n", {"CAUCUS_TELEGRAM_TOKEN": "bad token-secret"}),
        (TELEGRAM + 'webhook_secret = "no spaces allowed-secret"\n', {}),
        (MATRIX + 'password = "pw-secret"\naccess_token = "tok-secret"\n', {}),
        (MATRIX + "password = 5\n", {}),
        ('[database]\nurl = "oracle://u:pw-secret@h/db"\n', {}),
        (TELEGRAM + 'mode = "webhook"\nwebhook_url = "http://h/123:tok-secret"\n', {}),
    ],
)
def test_secrets_never_in_errors(tmp_path: Path, text: str, env: dict[str, str]) -> None:
    line = error(tmp_path, text, env)
    assert "-secret" not in line
    assert "987654321" not in line


# --------------------------------------------------------------------------- file problems


def test_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "missing.toml", env={})
    assert str(info.value).startswith(f"{tmp_path / 'missing.toml'}: file not found; fix: ")


def test_file_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path, env={})


def test_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'log_level = "INFO"\nname = "caf\xe9"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert "line 2: is not UTF-8 text" in str(info.value)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'\xef\xbb\xbflog_level = "ERROR"\n')
    assert load_config(path, env={}).log_level == "ERROR"


def test_malformed_toml_gives_line_number(tmp_path: Path) -> None:
    line = error(tmp_path, 'log_level = "INFO"\ntime_zone = UTC\n')
    assert "config.toml: line 2, column 13: invalid TOML (invalid value)" in line


def test_duplicate_section_is_malformed(tmp_path: Path) -> None:
    line = error(tmp_path, TELEGRAM + TELEGRAM)
    assert "invalid TOML" in line


# --------------------------------------------------------------------------- unknown keys


def test_unknown_top_level_key_suggests(tmp_path: Path) -> None:
    line = error(tmp_path, 'timezone = "UTC"\n')
    assert line == (
        f'{tmp_path / "config.toml"}: timezone: unknown setting (did you mean "time_zone"?); '
        "fix: rename it to time_zone"
    )


def test_unknown_top_level_key_without_suggestion(tmp_path: Path) -> None:
    line = error(tmp_path, "colour = 1\n")
    assert ": colour: unknown setting; fix: remove it (known: data_dir," in line


def test_appconfig_only_fields_are_not_file_keys(tmp_path: Path) -> None:
    assert ": database_url: unknown setting" in error(tmp_path, 'database_url = "sqlite://"\n')
    assert ": source: unknown setting" in error(tmp_path, 'source = "x"\n')


def test_unknown_key_in_telegram(tmp_path: Path) -> None:
    line = error(tmp_path, TELEGRAM + "webhook_prot = 1\n")
    assert ': telegram.webhook_prot: unknown setting (did you mean "webhook_port"?)' in line


def test_unknown_key_in_working_group(tmp_path: Path) -> None:
    line = error(tmp_path, group() + group("press", "Press", "cordinators = []\n"))
    assert ': working_groups[1].cordinators: unknown setting (did you mean "coordinators"?)' in line


def test_unknown_key_in_database(tmp_path: Path) -> None:
    line = error(tmp_path, '[database]\nuri = "sqlite://"\n')
    assert ': database.uri: unknown setting (did you mean "url"?)' in line


# --------------------------------------------------------------------------- missing values


def test_missing_telegram_token(tmp_path: Path) -> None:
    line = error(tmp_path, '[telegram]\nmode = "polling"\n')
    assert ": telegram.token: is required; fix: " in line
    assert "CAUCUS_TELEGRAM_TOKEN" in line


def test_missing_matrix_homeserver(tmp_path: Path) -> None:
    line = error(tmp_path, '[matrix]\nuser_id = "@bot:example.org"\npassword = "x"\n')
    assert ": matrix.homeserver: is required; fix: add homeserver = " in line


def test_missing_working_group_name(tmp_path: Path) -> None:
    line = error(tmp_path, '[[working_groups]]\nslug = "legal"\n')
    assert ": working_groups[0].name: is required; fix: add name = " in line


# --------------------------------------------------------------------------- wrong types


def test_port_not_a_number(tmp_path: Path) -> None:
    line = error(tmp_path, TELEGRAM + 'webhook_port = "eighty"\n')
    assert ': telegram.webhook_port: must be a whole number (got "eighty"); fix: ' in line


def test_port_number_in_quotes(tmp_path: Path) -> None:
    line = error(tmp_path, TELEGRAM + 'webhook_port = "8080"\n')
    assert "fix: remove the quotes around 8080" in line


def test_languages_not_a_list(tmp_path: Path) -> None:
    line = error(tmp_path, group(extra='languages = "en"\n'))
    expected = ': working_groups[0].languages: must be a list (got "en"); fix: write languages'
    assert f'{expected} = ["en"]' in line


def test_string_expected(tmp_path: Path) -> None:
    line = error(tmp_path, "log_level = 3\n")
    assert ": log_level: must be text (got 3)" in line


def test_section_must_be_a_table(tmp_path: Path) -> None:
    line = error(tmp_path, 'telegram = "yes"\n')
    assert ": telegram: must be a table" in line
    assert "[telegram]" in line


def test_chat_id_must_be_a_number(tmp_path: Path) -> None:
    line = error(tmp_path, group(extra='telegram_chats = ["-100123"]\n'))
    assert ": working_groups[0].telegram_chats[0]: must be a whole number" in line


def test_mode_literal(tmp_path: Path) -> None:
    line = error(tmp_path, TELEGRAM + 'mode = "push"\n')
    assert line.endswith(
        ': telegram.mode: must be one of "polling", "webhook" (got "push"); '
        'fix: set telegram.mode = "polling" or "webhook"'
    )


# --------------------------------------------------------------------------- bad values


def test_unknown_default_language(tmp_path: Path) -> None:
    line = error(tmp_path, 'default_language = "de"\n')
    assert ': default_language: unknown language "de"' in line


def test_unknown_group_language(tmp_path: Path) -> None:
    line = error(tmp_path, group(extra='languages = ["en", "ptt"]\n'))
    assert ': working_groups[0].languages[1]: unknown language "ptt" (did you mean "pt"?)' in line


def test_empty_group_languages(tmp_path: Path) -> None:
    assert ": working_groups[0].languages: is empty" in error(
        tmp_path, group(extra="languages = []\n")
    )


def test_unknown_time_zone(tmp_path: Path) -> None:
    line = error(tmp_path, 'time_zone = "Europe/Pari"\n')
    assert ': time_zone: unknown time zone "Europe/Pari" (did you mean "Europe/Paris"?)' in line


def test_unknown_log_level(tmp_path: Path) -> None:
    assert ': log_level: unknown log level "loud"' in error(tmp_path, 'log_level = "loud"\n')


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        ("telegram:abc", "a Telegram user id is a positive number"),
        ("telegram:-5", "a Telegram user id is a positive number"),
        ("matrix:ana", "a Matrix user id looks like"),
        ("@ana:example.org", 'needs the "matrix:" prefix'),
        ("123456", 'needs the "telegram:" prefix'),
        ("signal:ana", 'the part before ":" must be one of'),
        ("nobody", 'an identity is "platform:user id"'),
    ],
)
def test_bad_identity(tmp_path: Path, identity: str, expected: str) -> None:
    line = error(tmp_path, f'admins = ["console:local", "{identity}"]\n')
    assert ": admins[1]: " in line
    assert expected in line


def test_bad_identity_in_group(tmp_path: Path) -> None:
    line = error(tmp_path, group(extra="coordinators = [42]\n"))
    assert ": working_groups[0].coordinators[0]: must be a string like" in line


def test_bad_database_scheme(tmp_path: Path) -> None:
    line = error(tmp_path, '[database]\nurl = "mysql://db/caucus"\n')
    assert ': database.url: must start with "sqlite://", "postgresql://"' in line


@pytest.mark.parametrize("port", ["notaport", "99999", "-1"])
def test_a_database_url_with_a_bad_port_is_one_line_without_the_password(
    tmp_path: Path, port: str
) -> None:
    line = error(tmp_path, f'[database]\nurl = "postgresql://u:pw-secret@host:{port}/db"\n')
    assert ": database.url: the port is not a number from 1 to 65535" in line
    assert "pw-secret" not in line
    env_line = error(
        tmp_path, "", {"CAUCUS_DATABASE_URL": f"postgresql://u:pw-secret@host:{port}/db"}
    )
    assert "database.url (from CAUCUS_DATABASE_URL)" in env_line
    assert "pw-secret" not in env_line


def test_postgresql_without_its_driver_says_which_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As on an installation made without the postgresql extra: the module cannot be found.
    monkeypatch.setitem(sys.modules, "psycopg", None)
    line = error(tmp_path, '[database]\nurl = "postgresql://caucus@db.example.org/caucus"\n')
    assert ": database.url: PostgreSQL needs the psycopg driver, which is not installed" in line
    assert "'.[postgresql]'" in line


def test_webhook_without_url(tmp_path: Path) -> None:
    line = error(tmp_path, TELEGRAM + 'mode = "webhook"\n')
    assert ': telegram.webhook_url: is required when mode = "webhook"' in line


def test_webhook_without_secret(tmp_path: Path) -> None:
    line = error(
        tmp_path, TELEGRAM + 'mode = "webhook"\nwebhook_url = "https://bot.example.org/tg"\n'
    )
    assert ': telegram.webhook_secret: is required when mode = "webhook"' in line
    assert "CAUCUS_TELEGRAM_WEBHOOK_SECRET" in line


def test_webhook_url_must_be_https(tmp_path: Path) -> None:
    line = error(tmp_path, TELEGRAM + 'mode = "webhook"\nwebhook_url = "http://bot.example.org"\n')
    assert ": telegram.webhook_url: must be a URL starting with https://" in line


def test_port_out_of_range(tmp_path: Path) -> None:
    assert ": telegram.webhook_port: must be a port number from 1 to 65535" in error(
        tmp_path, TELEGRAM + "webhook_port = 70000\n"
    )


def test_bad_slug(tmp_path: Path) -> None:
    line = error(tmp_path, group(slug="Legal Aid"))
    assert ": working_groups[0].slug: must be 2-32 lowercase letters, digits or dashes" in line


def test_duplicate_slug(tmp_path: Path) -> None:
    line = error(tmp_path, group() + group(name="Other"))
    assert ': working_groups[1].slug: "legal" is already used by working_groups[0]' in line


def test_duplicate_chat_across_groups(tmp_path: Path) -> None:
    text = group(extra="telegram_chats = [-1]\n") + group(
        "press", "P", "telegram_chats = [-2, -1]\n"
    )
    line = error(tmp_path, text)
    assert ": working_groups[1].telegram_chats[1]: chat -1 is already in working_groups[0]" in line


def test_duplicate_room_across_groups(tmp_path: Path) -> None:
    rooms = 'matrix_rooms = ["!a:example.org"]\n'
    line = error(tmp_path, group(extra=rooms) + group("press", "P", rooms))
    assert ": working_groups[1].matrix_rooms[0]: room " in line


def test_duplicate_chat_within_a_group(tmp_path: Path) -> None:
    line = error(tmp_path, group(extra="telegram_chats = [-1, -1]\n"))
    assert ": working_groups[0].telegram_chats[1]: chat -1 is listed twice" in line


def test_bad_room_id(tmp_path: Path) -> None:
    line = error(tmp_path, group(extra='matrix_rooms = ["general"]\n'))
    assert ': working_groups[0].matrix_rooms[0]: "general" is not a Matrix room id' in line


def test_a_room_id_of_room_version_12_names_no_server(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(group(extra='matrix_rooms = ["!dIba-kmgl00rnH71d3zSP1WihSNX5QeBOJKKNW"]\n'))
    (only,) = load_config(path, env={}).working_groups
    assert only.matrix_rooms == ("!dIba-kmgl00rnH71d3zSP1WihSNX5QeBOJKKNW",)


def test_matrix_both_login_secrets(tmp_path: Path) -> None:
    line = error(tmp_path, MATRIX + 'password = "a"\n', {"CAUCUS_MATRIX_ACCESS_TOKEN": "b"})
    assert ": matrix: access_token and password are both set" in line
    for name in ("matrix.access_token", "matrix.password"):
        assert name in line
    for name in ("CAUCUS_MATRIX_ACCESS_TOKEN", "CAUCUS_MATRIX_PASSWORD"):
        assert name in line


def test_matrix_neither_login_secret(tmp_path: Path) -> None:
    line = error(tmp_path, MATRIX)
    assert ": matrix: needs access_token or password" in line
    for name in ("matrix.access_token", "matrix.password"):
        assert name in line
    for name in ("CAUCUS_MATRIX_ACCESS_TOKEN", "CAUCUS_MATRIX_PASSWORD"):
        assert name in line


def test_matrix_user_id_and_homeserver(tmp_path: Path) -> None:
    bad_user = MATRIX.replace("@bot:example.org", "bot") + 'password = "x"\n'
    assert ": matrix.user_id: must be a Matrix user id" in error(tmp_path, bad_user)
    bad_server = MATRIX.replace("https://", "") + 'password = "x"\n'
    assert ": matrix.homeserver: must be a URL" in error(tmp_path, bad_server)


# --------------------------------------------------------------------------- identities & paths


def test_identity_round_trip() -> None:
    for text in ("telegram:123456789", "matrix:@ana:example.org", "console:local"):
        assert format_identity(parse_identity(text)) == text
    assert parse_identity("Matrix:@ana:example.org:8448").platform is Platform.MATRIX


def test_parse_identity_raises_value_error() -> None:
    with pytest.raises(ValueError, match="positive number"):
        parse_identity("telegram:ana")
    with pytest.raises(ValueError):
        parse_identity("console:")


def test_identity_is_validated_on_construction() -> None:
    with pytest.raises(ValueError):
        Identity(platform=Platform.TELEGRAM, user_id="not-a-number")


def test_default_config_path_prefers_env(tmp_path: Path) -> None:
    env = {f"{ENV_PREFIX}CONFIG": str(tmp_path / "elsewhere.toml")}
    assert default_config_path(env, cwd=tmp_path) == tmp_path / "elsewhere.toml"
    with pytest.raises(ConfigError, match="file not found"):
        load_config(default_config_path(env, cwd=tmp_path), env={})


def test_default_config_path_uses_cwd_file(tmp_path: Path) -> None:
    assert default_config_path({}, cwd=tmp_path) is None
    write(tmp_path, "")
    assert default_config_path({}, cwd=tmp_path) == tmp_path / "config.toml"


def test_encryption_keys_come_from_the_environment_newest_first(tmp_path: Path) -> None:
    new, old = generate_key(), generate_key()
    config = load(tmp_path, 'data_dir = "data"\n', {"CAUCUS_ENCRYPTION_KEYS": f"{new}, {old}"})
    assert [key.get_secret_value() for key in config.encryption_keys] == [new, old]
    assert new not in repr(config)


def test_a_malformed_encryption_key_names_its_position_and_the_fix_but_not_itself(
    tmp_path: Path,
) -> None:
    line = error(
        tmp_path,
        'data_dir = "data"\n',
        {"CAUCUS_ENCRYPTION_KEYS": f"{generate_key()},not-a-real-key"},
    )
    assert "encryption_keys" in line
    assert "key 2" in line
    assert "caucus keygen" in line
    assert "not-a-real-key" not in line


def test_the_key_file_is_named_with_its_fix_at_every_start_not_only_the_first(
    tmp_path: Path,
) -> None:
    from bot.keys import key_file_notice, make_key_file

    config = load(
        tmp_path,
        'data_dir = "data"\n[telegram]\ntoken = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"\n',
        {},
    )
    assert config.key_file == tmp_path / "data" / "encryption.key"
    before = key_file_notice(config)  # the first value sealed will make it
    assert before is not None and "made when the first value is sealed" in before
    assert not config.key_file.exists()
    make_key_file(config.key_file)
    after = key_file_notice(config)  # made before: still worth saying
    for line in (before, after):
        assert line is not None
        assert str(config.key_file) in line and "CAUCUS_ENCRYPTION_KEYS" in line
    keyed = config.model_copy(update={"encryption_keys": (SecretStr(generate_key()),)})
    assert keyed.key_file is None
    assert key_file_notice(keyed) is None


def test_each_start_names_the_configured_people_on_telegram_the_bot_cannot_write_to(
    tmp_path: Path, database_url: str
) -> None:
    from bot.app import open_store, warn_unreached

    config = load(
        tmp_path,
        'data_dir = "data"\nadmins = ["telegram:1001", "matrix:@root:example.org"]\n'
        '[telegram]\ntoken = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"\n'
        + group(extra='coordinators = ["telegram:1002", "telegram:1003"]\n'),
        {"CAUCUS_DATABASE_URL": database_url},
    )
    store = open_store(config)
    try:
        # The second coordinator has written to the bot in a private chat.
        store.members.for_identity(Platform.TELEGRAM, "1003", language="en", direct_room="1003")
        lines: list[str] = []
        warn_unreached(config, store, lines.append)
        assert [line.split(" ", 1)[0] for line in lines] == [
            "admins[0]",
            "working_groups[0].coordinators[0]",
        ]
        assert all("send /start" in line and "100" not in line for line in lines)
    finally:
        store.close()


GROUP = '[[working_groups]]\nslug = "cawg"\nname = "C"\nlanguages = ["es", "en"]\n'


def test_a_groups_description_per_language_and_its_way_of_joining_are_read(
    tmp_path: Path,
) -> None:
    text = GROUP + 'description = { es = " Casos " }\njoin = "open"\n\n'
    config = load(tmp_path, text + '[[working_groups]]\nslug = "legal"\nname = "L"\n')
    cawg, legal = config.working_groups
    assert dict(cawg.description) == {"es": "Casos"} and cawg.join == "open"
    assert dict(legal.description) == {} and legal.join == "request"


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (
            'join = "maybe"',
            ': working_groups[0].join: must be one of "request", "open" (got "maybe"); '
            'fix: set working_groups[0].join = "request" or "open"',
        ),
        (
            'description = "Cases"',
            ': working_groups[0].description: must be a table (got "Cases"); '
            "fix: write it as description = { en = ",
        ),
        (
            'description = { esp = "Casos" }',
            ': working_groups[0].description.esp: unknown language "esp" (did you mean "es"?)',
        ),
        ('description = { es = "  " }', ": working_groups[0].description.es: is empty; fix: "),
        (
            f'description = {{ en = "{"x" * 501}" }}',
            ": working_groups[0].description.en: is 501 characters long; fix: keep a "
            "description to 500 characters",
        ),
    ],
)
def test_a_bad_description_or_way_of_joining_names_the_key_and_the_fix(
    tmp_path: Path, setting: str, expected: str
) -> None:
    assert expected in error(tmp_path, GROUP + setting + "\n")
