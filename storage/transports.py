"""What transports keep for themselves: ``store.transports``.

Long callback values (a button's data too long for the platform, stood in for by a
number), the chats the bot can no longer write to, and named values kept between runs
(Matrix's sync token).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.types import Platform
from storage.errors import StorageError
from storage.models import CallbackPayload, TransportState, UnreachableChat
from storage.units import Area
from storage.upserts import insert_unless_present, upsert
from storage.validation import MAX_ID, REASON_LENGTH, check_int, check_text, truncated_text


class TransportStore(Area):
    """The transports' own state (``store.transports``)."""

    def callback_token(self, value: str) -> int:
        """A small number standing for ``value`` (a button's callback data too long to send).

        The same value always gets the same token, even when two callers ask at once.
        """
        if not isinstance(value, str):
            raise TypeError(f"callback value must be a string, not {type(value).__name__}")
        return self._run(_callback_token, value, self._now())

    def callback_value(self, token: int) -> str | None:
        """The value a token stands for, or ``None`` for a token never handed out."""
        check_int("callback token", token, minimum=-(2**63))
        if not 1 <= token <= MAX_ID:
            return None
        return self._run(_callback_value, token)

    def mark_unreachable(self, platform: Platform, chat_id: str, reason: str) -> None:
        """Note that the bot cannot write to the chat; again, only the reason changes.

        ``reason`` is cut to 255 characters.
        """
        platform = Platform(platform)
        check_text("chat id", chat_id, 255)
        reason = truncated_text("reason", reason, REASON_LENGTH)
        self._run(_mark_unreachable, platform, chat_id, reason, self._now())

    def clear_unreachable(self, platform: Platform, chat_id: str) -> bool:
        """The chat can be written to again; True if it was marked unreachable."""
        platform = Platform(platform)
        check_text("chat id", chat_id, 255)
        return self._run(_clear_unreachable, platform, chat_id)

    def is_unreachable(self, platform: Platform, chat_id: str) -> bool:
        platform = Platform(platform)
        return self._read(_is_unreachable, platform, chat_id)

    def unreachable_chats(self, platform: Platform) -> list[tuple[str, str]]:
        """``(chat id, reason)`` of the platform's unreachable chats, in the order marked."""
        platform = Platform(platform)
        return self._run(_unreachable_chats, platform)

    def state(self, platform: Platform, name: str) -> str | None:
        """A named value the transport kept, or ``None`` if it never set one."""
        platform = Platform(platform)
        check_text("state name", name, 64)
        return self._run(_state, platform, name)

    def set_state(self, platform: Platform, name: str, value: str) -> None:
        """Keep a named value of a transport (Matrix's sync token), replacing the old one."""
        platform = Platform(platform)
        check_text("state name", name, 64)
        check_text("state value", value, 2**20, allow_empty=True)
        self._run(_set_state, platform, name, value, self._now())


def _callback_digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _callback_token(session: Session, value: str, now: datetime) -> int:
    digest = _callback_digest(value)
    insert_unless_present(
        session,
        CallbackPayload,
        {"value": value, "digest": digest, "created_at": now},
        ("digest",),
    )
    token, stored = session.execute(
        select(CallbackPayload.id, CallbackPayload.value).where(CallbackPayload.digest == digest)
    ).one()
    if stored != value:
        raise StorageError(f"callback payloads {token} and {value[:40]!r}... share a digest")
    return int(token)


def _callback_value(session: Session, token: int) -> str | None:
    return session.scalar(select(CallbackPayload.value).where(CallbackPayload.id == token))


def _mark_unreachable(
    session: Session, platform: Platform, chat_id: str, reason: str, now: datetime
) -> None:
    upsert(
        session,
        UnreachableChat,
        {"platform": platform.value, "chat_id": chat_id, "reason": reason, "since": now},
        ("platform", "chat_id"),
        ("reason",),  # ``since`` stays: the chat has been unreachable since then
    )


def _clear_unreachable(session: Session, platform: Platform, chat_id: str) -> bool:
    statement = (
        delete(UnreachableChat)
        .where(UnreachableChat.platform == platform.value, UnreachableChat.chat_id == chat_id)
        .returning(UnreachableChat.id)
    )
    return bool(session.scalars(statement).all())


def _is_unreachable(session: Session, platform: Platform, chat_id: str) -> bool:
    found = session.scalar(
        select(UnreachableChat.id).where(
            UnreachableChat.platform == platform.value, UnreachableChat.chat_id == chat_id
        )
    )
    return found is not None


def _unreachable_chats(session: Session, platform: Platform) -> list[tuple[str, str]]:
    rows = session.execute(
        select(UnreachableChat.chat_id, UnreachableChat.reason)
        .where(UnreachableChat.platform == platform.value)
        .order_by(UnreachableChat.id)
    )
    return [(chat_id, reason) for chat_id, reason in rows]


def _state(session: Session, platform: Platform, name: str) -> str | None:
    return session.scalar(
        select(TransportState.value).where(
            TransportState.platform == platform.value, TransportState.name == name
        )
    )


def _set_state(session: Session, platform: Platform, name: str, value: str, now: datetime) -> None:
    upsert(
        session,
        TransportState,
        {"platform": platform.value, "name": name, "value": value, "updated_at": now},
        ("platform", "name"),
        ("value", "updated_at"),
    )
