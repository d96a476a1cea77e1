"""The keys that seal what members confide: the configured ones (``CAUCUS_ENCRYPTION_KEYS``
or ``encryption_keys``), else this installation's key file in ``data_dir``.

The key file is made only when the bot is about to seal its first value and no key is
configured: a start that fails, a bot that never stored anything, and a bot given its keys
in the environment leave no key file behind.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from bot.config import ENV_ENCRYPTION_KEYS, KEY_FILE, AppConfig, ConfigError
from storage.sealing import Sealer, check_key, generate_key


def sealer_for(config: AppConfig) -> Sealer:
    """The configured keys; without any, the key file's key, or (no file yet) a key made
    into the key file when the first value is sealed. Raises :class:`ConfigError` when the
    key file cannot be read or holds no key."""
    if config.encryption_keys:
        return Sealer([key.get_secret_value() for key in config.encryption_keys])
    path = config.data_dir / KEY_FILE
    key = read_key_file(config)
    if key is not None:
        return Sealer([key])
    return Sealer([], make_key=lambda: make_key_file(path), find_key=lambda: read_key_file(config))


def read_key_file(config: AppConfig) -> str | None:
    """The key in ``data_dir``'s key file, or ``None`` when there is no such file."""
    path = config.data_dir / KEY_FILE
    where = str(config.source) if config.source else "(built-in defaults)"
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not a key: not ASCII text"
        raise ConfigError(
            f"{where}: encryption_keys: cannot read {path} ({reason}); fix: make it a file the "
            f"bot's user can read, or give the key it holds in {ENV_ENCRYPTION_KEYS}",
            key="encryption_keys",
        ) from None
    problem = check_key(text.strip())
    if problem is not None:
        raise ConfigError(
            f"{where}: encryption_keys: {path} holds no key (its text {problem}); fix: put "
            f"back the file the bot made (one line of 44 characters), or give that key in "
            f"{ENV_ENCRYPTION_KEYS}",
            key="encryption_keys",
        )
    return text.strip()


def make_key_file(path: Path) -> str:
    """A new key, kept in ``path`` (readable by its user only, on disk before it seals
    anything); the key already there if another process made it first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    key = generate_key()
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return key


def key_file_notice(config: AppConfig) -> str | None:
    """The warning said at every start when data is (or will be) sealed with the key file,
    beside the data it protects; ``None`` when keys are configured."""
    path = config.key_file
    if path is None:
        return None
    made = "" if path.exists() else " (made when the first value is sealed)"
    return (
        f"confidential data is sealed with the key in {path}{made}, beside the data it "
        f"protects; fix: move it to the environment variable {ENV_ENCRYPTION_KEYS} and delete "
        "the file"
    )


def key_source(config: AppConfig, env: Mapping[str, str] | None = None) -> str:
    """Where the sealing keys come from, for ``caucus check-config`` (never the keys)."""
    count = len(config.encryption_keys)
    if count and (os.environ if env is None else env).get(ENV_ENCRYPTION_KEYS, "").strip():
        return f"{count} from {ENV_ENCRYPTION_KEYS}"
    if count:
        return f"{count} in the configuration file (better: {ENV_ENCRYPTION_KEYS})"
    path = config.data_dir / KEY_FILE
    if path.exists():
        return f"the key file {path}"
    return f"none yet ({path} is made when the first value is sealed)"
