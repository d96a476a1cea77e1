"""Errors raised by the store, so that callers need not know SQLAlchemy's."""

from __future__ import annotations


class StorageError(Exception):
    """The database could not do what was asked (unreachable, missing row, conflict)."""


class NotFoundError(StorageError):
    """A row the caller named (a member, by id) does not exist."""


class StorageUnavailable(StorageError):
    """The database could not be reached or was busy: the same work may succeed later."""


class KeysDoNotOpen(StorageError):
    """None of the configured keys opens what this database holds sealed."""
