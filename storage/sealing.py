"""Encryption at rest: what members confide is sealed before it reaches the database.

A :class:`Sealer` holds one or more Fernet keys (AES-128-CBC with HMAC-SHA256, from the
``cryptography`` package): it seals with the first and opens with any, so a new key can be
put first and the old one kept until ``caucus rotate-key`` has re-sealed everything. A
sealer may also start with no key and a way to make one: the key is then made when the
first value is sealed, not before.

Sealed columns use :class:`SealedText` or :class:`SealedBytes`; their engine's sealer is
found on the engine's dialect (:func:`attach_sealer`), so the storage code reads and
writes plain values and nothing sealed can be written in the clear by mistake.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Callable, Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Dialect, LargeBinary, Text
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator

from storage.errors import StorageError

SEALED_PREFIX = "sealed:"
"""Marks a sealed text value; a text column without it was written before sealing."""


class BadKey(ValueError):
    """A configured key is not a Fernet key; the message says which one (by position)."""


def generate_key() -> str:
    """A new random key, as the configuration takes it (44 characters of URL-safe base64)."""
    return Fernet.generate_key().decode("ascii")


def check_key(key: str) -> str | None:
    """Why ``key`` is not usable, or ``None`` when it is."""
    try:
        raw = base64.urlsafe_b64decode(key.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return "is not URL-safe base64"
    if len(raw) != 32:
        return f"decodes to {len(raw)} bytes instead of 32"
    return None


class Sealer:
    """Seals with the first key, opens with any of them.

    With no keys but ``make_key``, the sealer has no key until the first value is sealed:
    ``make_key`` then makes (and keeps) one. Until then it opens nothing, since what is
    sealed needs the key it was sealed with."""

    def __init__(
        self,
        keys: Sequence[str],
        *,
        make_key: Callable[[], str] | None = None,
        find_key: Callable[[], str | None] | None = None,
    ) -> None:
        if not keys and make_key is None:
            raise ValueError("a sealer needs at least one key, or a way to make one")
        self._fernet: MultiFernet | None = _fernet_of(keys) if keys else None
        self._make_key = make_key
        self._find_key = find_key
        self._making = threading.Lock()

    @property
    def has_key(self) -> bool:
        """Whether a key is given or made (a sealer made when needed has none at first)."""
        return self._fernet is not None

    def _sealing(self) -> MultiFernet:
        if self._fernet is not None:
            return self._fernet
        with self._making:
            if self._fernet is None:
                assert self._make_key is not None
                self._fernet = _fernet_of([self._make_key()])
            return self._fernet

    def _opening(self) -> MultiFernet:
        if self._fernet is None and self._find_key is not None:
            # Another process on the same data (a command run beside the bot) may have
            # made the key since this one started: what it sealed needs that key.
            with self._making:
                if self._fernet is None and (found := self._find_key()) is not None:
                    self._fernet = _fernet_of([found])
        if self._fernet is None:
            raise StorageError("sealed data cannot be opened: no encryption key is given")
        return self._fernet

    def seal(self, data: bytes) -> bytes:
        return self._sealing().encrypt(data)

    def open(self, token: bytes) -> bytes:
        try:
            return self._opening().decrypt(token)
        except InvalidToken as error:
            raise StorageError(
                "sealed data cannot be opened with the configured keys "
                "(a key was removed before caucus rotate-key re-sealed it?)"
            ) from error

    def reseal(self, token: bytes) -> bytes:
        """The same data sealed with the first key (for key rotation)."""
        try:
            return self._opening().rotate(token)
        except InvalidToken as error:
            raise StorageError("sealed data cannot be opened with the configured keys") from error


def _fernet_of(keys: Sequence[str]) -> MultiFernet:
    for position, key in enumerate(keys):
        problem = check_key(key)
        if problem is not None:
            raise BadKey(f"key {position + 1} {problem}")
    return MultiFernet([Fernet(key.encode("ascii")) for key in keys])


def attach_sealer(engine: Engine, sealer: Sealer | None) -> None:
    """Make ``sealer`` the one the engine's sealed columns use."""
    engine.dialect.caucus_sealer = sealer  # type: ignore[attr-defined]


def _sealer_of(dialect: Dialect) -> Sealer | None:
    found = getattr(dialect, "caucus_sealer", None)
    return found if isinstance(found, Sealer) else None


def _required(dialect: Dialect) -> Sealer:
    sealer = _sealer_of(dialect)
    if sealer is None:
        raise StorageError("this store has no encryption key: confidential data cannot be kept")
    return sealer


class SealedText(TypeDecorator[str]):
    """Text sealed when the store has a key (else kept as it is, for tools and tests)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        sealer = _sealer_of(dialect)
        if value is None or sealer is None:
            return value
        return SEALED_PREFIX + sealer.seal(value.encode("utf-8")).decode("ascii")

    def process_result_value(self, value: Any | None, dialect: Dialect) -> str | None:
        if value is None or not str(value).startswith(SEALED_PREFIX):
            return value
        token = str(value).removeprefix(SEALED_PREFIX).encode("ascii")
        return _required(dialect).open(token).decode("utf-8")


class SealedBytes(TypeDecorator[bytes]):
    """Bytes that are always sealed: a store without a key refuses to write them."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        return _required(dialect).seal(bytes(value))

    def process_result_value(self, value: Any | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        return _required(dialect).open(bytes(value))
