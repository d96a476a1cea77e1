"""``python -m bot`` runs the ``caucus`` command line."""

import sys

from bot.cli import main

sys.exit(main())
