"""The ``caucus`` command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import __version__
from bot.config import KEY_FILE, AppConfig, ConfigError, default_config_path, load_config
from bot.config_env import ENV_ENCRYPTION_KEYS
from bot.logs import configure_logging
from bot.types import Platform

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2

DESCRIPTION = """\
Caucus coordinates a human-rights network's working groups over Telegram and Matrix: it
bridges each working group's Telegram groups and Matrix rooms into one conversation,
answers members on both platforms (and in this terminal), knows one person across their
accounts, the network's member organizations and their signatories, who belongs to which
working group and with what role (every change in an audit log), takes confidential case
reports of business-related human-rights abuses for the coordinators to review, export and
count, alerts subscribers of consultations (typed in, or imported from calendars and feeds)
and reminds them before the deadlines through a durable scheduler, runs the groups' polls
as one ballot across both platforms (each platform's own poll, or a secret ballot voted in
private chats; closed at the deadline with the results as text and a chart), collects
organizations' signatures on joint statements (versions, translations, reminders, the
signatory list ready to publish), and delivers
every message through a durable outbox. What members confide is encrypted at rest; each member
can export or erase their own data.

With no configuration file, `caucus run` is a demo: it chats with you in this terminal
(the console transport), you being the admin and coordinator of a demo working group,
and keeps its data in SQLite under ./data/ (demo.db; exports in ./data/exports/). With a
configuration file there is no demo; with a [telegram] or [matrix] section in it, the bot
serves those platforms instead. The configuration file is read from --config,
else $CAUCUS_CONFIG, else ./config.toml when it exists; config.example.toml documents every
setting. One bot serves a database at a time: a second `caucus run` on the same database
waits as a standby and takes over within seconds when the first stops or dies."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="caucus",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"caucus {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="start the bot (brings the database schema up to date first)",
        description=(
            "Start the bot. The database schema is brought up to date first. While another"
            " instance serves the same database, this one waits as a standby (exit 1 if it"
            " loses the database's lock while serving)."
        ),
    )
    run.add_argument("--config", type=Path, metavar="PATH", help="configuration file")
    run.add_argument(
        "--console",
        action="store_true",
        help="chat in this terminal even when Telegram or Matrix is configured",
    )

    check = commands.add_parser(
        "check-config",
        help="validate a configuration file and exit (0: valid, 2: not)",
        description="Validate a configuration file; print one line naming any problem.",
    )
    check.add_argument("path", nargs="?", type=Path, metavar="PATH", help="configuration file")

    database = commands.add_parser("db", help="database maintenance")
    database_commands = database.add_subparsers(dest="db_command", metavar="ACTION")
    upgrade = database_commands.add_parser(
        "upgrade", help="apply pending schema migrations and exit"
    )
    upgrade.add_argument("--config", type=Path, metavar="PATH", help="configuration file")

    commands.add_parser(
        "keygen",
        help="print a new encryption key (for CAUCUS_ENCRYPTION_KEYS)",
        description=(
            "Print a new random key for sealing confidential data (case reports, drafts, "
            "messages waiting in the outbox). Put it first in CAUCUS_ENCRYPTION_KEYS; keep "
            "older keys after it until `caucus rotate-key` has re-sealed everything."
        ),
    )
    rotate = commands.add_parser(
        "rotate-key",
        help="re-seal all confidential data with the first configured key and exit",
        description=(
            "Re-seal every sealed value with the first key of CAUCUS_ENCRYPTION_KEYS (or "
            "encryption_keys), reading each with whichever configured key sealed it. Run it "
            "with the bot stopped, after putting a new key first; afterwards the old keys "
            "can be removed."
        ),
    )
    rotate.add_argument("--config", type=Path, metavar="PATH", help="configuration file")
    return parser


def _load(path: Path | None) -> AppConfig:
    chosen = path if path is not None else default_config_path()
    return load_config(chosen)


def _fail(line: str, code: int) -> int:
    print(f"caucus: {line}", file=sys.stderr)
    return code


def _database_error(config: AppConfig, error: Exception) -> int:
    where = config.source.name if config.source else "(no configuration file)"
    return _fail(
        f"{where}: database.url: cannot open the database ({type(error).__name__}: "
        f"{_first_line(error)}); fix: check database.url or CAUCUS_DATABASE_URL",
        EXIT_CONFIG,
    )


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else "no detail"


def _where(config: AppConfig) -> str:
    return str(config.source) if config.source else "(built-in defaults)"


def command_run(path: Path | None, *, console: bool) -> int:
    config = _load(path)
    platforms = () if console else config.enabled_platforms
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        log_file = None if platforms else config.data_dir / "caucus.log"
        configure_logging(config.log_level, log_file=log_file)
    except OSError as error:
        return _fail(
            f"{_where(config)}: data_dir: cannot use {config.data_dir} ({error.strerror}); "
            "fix: point data_dir at a folder the bot may create and write",
            EXIT_CONFIG,
        )
    from bot.app import run_console, run_services
    from bot.transports import TransportStartError
    from storage import KeysDoNotOpen, StorageError
    from storage.instance_lock import InstanceLockLost

    try:
        if platforms:
            asyncio.run(run_services(config))
        else:
            asyncio.run(run_console(config))
    except InstanceLockLost as error:
        return _fail(f"{error}; stopped serving (a supervisor may start it again)", EXIT_FAILURE)
    except KeysDoNotOpen as error:
        return _fail(_keys_do_not_open(config, error), EXIT_CONFIG)
    except StorageError as error:
        return _database_error(config, error)
    except TransportStartError as error:
        return _fail(f"{_where(config)}: {error}", EXIT_CONFIG if error.configuration else 1)
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK


def _keys_do_not_open(config: AppConfig, error: Exception) -> str:
    key_file = config.key_file
    if key_file is not None and not key_file.exists():
        problem = (
            f"the data in this database is sealed, but no key is configured and {key_file} is gone"
        )
    else:
        problem = str(error)
    return (
        f"{_where(config)}: encryption_keys: {problem}; fix: give the key it was sealed with "
        f"in {ENV_ENCRYPTION_KEYS} (the newest first, older ones after it), or put back "
        f"{config.data_dir / KEY_FILE} if the bot made that key"
    )


def command_check_config(path: Path | None) -> int:
    config = _load(path)
    from bot.app import platform_problems

    problems = [f"{_where(config)}: {problem}" for problem in platform_problems(config)]
    checked = _check_keys(config, problems)
    for problem in problems:
        print(f"caucus: {problem}", file=sys.stderr)
    if problems:
        return EXIT_CONFIG
    source = str(config.source) if config.source else "built-in defaults (no configuration file)"
    platforms = ", ".join(p.value for p in config.enabled_platforms) or Platform.CONSOLE.value
    backend = config.database_url.split(":")[0]
    print(
        f"{source}: valid; transports: {platforms}; "
        f"working groups: {len(config.working_groups)}; database: {backend}; "
        f"encryption keys: {checked}"
    )
    return EXIT_OK


def _check_keys(config: AppConfig, problems: list[str]) -> str:
    """Add to ``problems`` the key problems `caucus run` would refuse: a key file that cannot
    be read, keys that do not open the sealed data. Only reads (no key file, database or
    schema is made); says where the keys come from and whether the database was checked."""
    from bot.keys import key_source, sealer_for
    from storage import KeysDoNotOpen, StorageError, Store, database_exists

    try:
        sealer = sealer_for(config)
    except ConfigError as error:
        problems.append(str(error))
        return "unusable"
    source = key_source(config)
    try:
        if not database_exists(config.database_url):
            return f"{source} (no database yet)"
        with Store(config.database_url, sealer=sealer) as store:
            store.check_keys(read_only=True)
    except KeysDoNotOpen as error:
        problems.append(_keys_do_not_open(config, error))
        return "unusable"
    except StorageError as error:
        # The database may be out of reach from here (a build machine): not a key problem.
        return f"{source} (not checked: cannot open the database, {type(error).__name__})"
    return f"{source} (checked against the database)"


def command_db_upgrade(path: Path | None) -> int:
    config = _load(path)
    configure_logging(config.log_level)
    from storage import StorageError, Store

    try:
        store = Store(config.database_url)
        try:
            store.upgrade()
            print(f"database schema at revision {store.current_revision()}")
        finally:
            store.close()
    except StorageError as error:
        return _database_error(config, error)
    return EXIT_OK


def command_keygen() -> int:
    from storage.sealing import generate_key

    print(generate_key())
    return EXIT_OK


def command_rotate_key(path: Path | None) -> int:
    config = _load(path)
    configure_logging(config.log_level)
    from bot.keys import sealer_for
    from storage import StorageError, Store

    sealer = sealer_for(config)
    if not sealer.has_key:
        return _fail(
            f"{_where(config)}: encryption_keys: no key is configured and {config.key_file} "
            f"does not exist, so there is no key to rotate; fix: give the keys in "
            f"{ENV_ENCRYPTION_KEYS} (the new one first, then the one the data was sealed with)",
            EXIT_CONFIG,
        )
    try:
        with Store(config.database_url, sealer=sealer) as store:
            store.upgrade()
            count = store.reseal_everything()
    except StorageError as error:
        if "cannot be opened" in str(error):
            return _fail(
                f"{_where(config)}: encryption_keys: {error}; fix: list every key still in use "
                "after the new one, then run caucus rotate-key again",
                EXIT_CONFIG,
            )
        return _database_error(config, error)
    keys = len(config.encryption_keys) or 1
    print(f"re-sealed {count} values with key 1 of {keys}; older keys may now be removed")
    return EXIT_OK


OWNER_ONLY_UMASK = 0o077
"""Everything the bot creates (data_dir, the database and its journal, logs, keys, the Matrix
store) is its user's alone, whatever umask it was started with."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    os.umask(OWNER_ONLY_UMASK)
    try:
        if args.command == "run":
            return command_run(args.config, console=args.console)
        if args.command == "check-config":
            return command_check_config(args.path)
        if args.command == "db" and args.db_command == "upgrade":
            return command_db_upgrade(args.config)
        if args.command == "keygen":
            return command_keygen()
        if args.command == "rotate-key":
            return command_rotate_key(args.config)
    except ConfigError as error:
        return _fail(str(error), EXIT_CONFIG)
    parser.print_help()
    return EXIT_OK if args.command is None else EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
