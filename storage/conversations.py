"""The open conversation of each member: ``store.conversations``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from storage.jsontext import decode_json_object, encode_json_object
from storage.members import existing_member
from storage.models import Conversation
from storage.records import ConversationRecord
from storage.units import Area
from storage.validation import check_text


class ConversationStore(Area):
    """Where each member is in a conversation with the bot (``store.conversations``)."""

    def load(self, member_id: int) -> ConversationRecord | None:
        """The member's open conversation, if any."""
        return self._run(_load, member_id)

    def save(self, member_id: int, name: str, step: str, data: Mapping[str, Any]) -> None:
        """Store the member's open conversation, replacing any other, committed on return.

        ``data`` must be JSON-serializable (tuples come back as lists). ``started_at`` is
        kept while the conversation keeps its name; ``updated_at`` becomes now.
        Raises :class:`NotFoundError` for an unknown member.
        """
        check_text("conversation name", name, 64)
        check_text("conversation step", step, 64)
        text = encode_json_object("conversation data", data)
        self._run(_save, member_id, name, step, text, self._now())

    def clear(self, member_id: int) -> None:
        """Forget the member's open conversation, if any."""
        self._run(_clear, member_id)


def _load(session: Session, member_id: int) -> ConversationRecord | None:
    row = session.get(Conversation, member_id)
    if row is None:
        return None
    data = decode_json_object(f"conversation data of member {row.member_id}", row.data)
    return ConversationRecord(row.name, row.step, data, row.started_at, row.updated_at)


def _save(session: Session, member_id: int, name: str, step: str, data: str, now: datetime) -> None:
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


def _clear(session: Session, member_id: int) -> None:
    session.execute(delete(Conversation).where(Conversation.member_id == member_id))
