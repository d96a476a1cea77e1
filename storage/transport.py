"""What transports keep for themselves: long callback values, unreachable chats, named state.

These functions run inside a store transaction.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.types import Platform
from storage.errors import StorageError
from storage.models import CallbackPayload, TransportState, UnreachableChat
from storage.upserts import insert_unless_present, upsert


def callback_digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def callback_token_in(session: Session, value: str, now: datetime) -> int:
    digest = callback_digest(value)
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


def callback_value_in(session: Session, token: int) -> str | None:
    return session.scalar(select(CallbackPayload.value).where(CallbackPayload.id == token))


def mark_unreachable_in(
    session: Session, platform: Platform, chat_id: str, reason: str, now: datetime
) -> None:
    upsert(
        session,
        UnreachableChat,
        {"platform": platform.value, "chat_id": chat_id, "reason": reason, "since": now},
        ("platform", "chat_id"),
        ("reason",),  # ``since`` stays: the chat has been unreachable since then
    )


def clear_unreachable_in(session: Session, platform: Platform, chat_id: str) -> bool:
    statement = (
        delete(UnreachableChat)
        .where(UnreachableChat.platform == platform.value, UnreachableChat.chat_id == chat_id)
        .returning(UnreachableChat.id)
    )
    return bool(session.scalars(statement).all())


def is_unreachable_in(session: Session, platform: Platform, chat_id: str) -> bool:
    found = session.scalar(
        select(UnreachableChat.id).where(
            UnreachableChat.platform == platform.value, UnreachableChat.chat_id == chat_id
        )
    )
    return found is not None


def unreachable_chats_in(session: Session, platform: Platform) -> list[tuple[str, str]]:
    rows = session.execute(
        select(UnreachableChat.chat_id, UnreachableChat.reason)
        .where(UnreachableChat.platform == platform.value)
        .order_by(UnreachableChat.id)
    )
    return [(chat_id, reason) for chat_id, reason in rows]


def get_transport_state_in(session: Session, platform: Platform, name: str) -> str | None:
    return session.scalar(
        select(TransportState.value).where(
            TransportState.platform == platform.value, TransportState.name == name
        )
    )


def set_transport_state_in(
    session: Session, platform: Platform, name: str, value: str, now: datetime
) -> None:
    upsert(
        session,
        TransportState,
        {"platform": platform.value, "name": name, "value": value, "updated_at": now},
        ("platform", "name"),
        ("value", "updated_at"),
    )
