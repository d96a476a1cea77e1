"""The open conversation of each member. These functions run inside a store transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from storage.jsontext import decode_json_object, encode_json_object
from storage.members import existing_member
from storage.models import Conversation
from storage.records import ConversationRecord


def conversation_record(row: Conversation) -> ConversationRecord:
    data = decode_json_object(f"conversation data of member {row.member_id}", row.data)
    return ConversationRecord(row.name, row.step, data, row.started_at, row.updated_at)


def encode_conversation_data(data: Mapping[str, Any]) -> str:
    """JSON text of ``data``; tuples come back as lists, and keys must be strings."""
    return encode_json_object("conversation data", data)


def save_conversation_in(
    session: Session, member_id: int, name: str, step: str, data: str, now: datetime
) -> None:
    existing_member(session, member_id)
    row = session.get(Conversation, member_id)
    if row is None:
        session.add(
            Conversation(
                member_id=member_id,
                name=name,
                step=step,
                data=data,
                started_at=now,
                updated_at=now,
            )
        )
    else:
        if row.name != name:
            # Another conversation replaces the open one: it starts now.
            row.started_at = now
        row.name = name
        row.step = step
        row.data = data
        row.updated_at = now
    session.flush()
