"""Alembic's command line without an ``alembic.ini``.

    python -m storage.migrations -x url=sqlite:///caucus.db current
    python -m storage.migrations -x url=postgresql://... revision --autogenerate -m "..."

The URL comes from ``-x url=...`` or else the ``CAUCUS_DATABASE_URL`` environment variable.
"""

from __future__ import annotations

import os
import sys

from alembic.config import CommandLine

from storage.database import alembic_config


def main(argv: list[str] | None = None) -> int:
    command_line = CommandLine(prog="python -m storage.migrations")
    options = command_line.parser.parse_args(argv)
    if not hasattr(options, "cmd"):
        command_line.parser.print_help()
        return 2
    url = None
    for argument in options.x or ():
        key, _, value = argument.partition("=")
        if key == "url":
            url = value
    url = url or os.environ.get("CAUCUS_DATABASE_URL")
    config = alembic_config(url=url)
    config.cmd_opts = options
    command_line.run_cmd(config, options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
