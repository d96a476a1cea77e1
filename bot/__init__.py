"""Caucus: the running program (command line, configuration, neutral core, transports)."""

__version__ = "0.1.0"
