"""What transports keep for themselves: long callback values, unreachable chats,
named state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime
from storage.sealing import SealedText


class CallbackPayload(Base):
    """A button's callback value too long for the platform, stood in for by its ``id``."""

    __tablename__ = "callback_payloads"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    # sha256 of the value, hex: the unique key (an index on the value itself could be huge).
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UnreachableChat(Base):
    """A chat the bot cannot write to (the member blocked it, the group is gone)."""

    __tablename__ = "unreachable_chats"
    __table_args__ = (
        UniqueConstraint("platform", "chat_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(255))
    since: Mapped[datetime] = mapped_column(UTCDateTime())


class TransportState(Base):
    """A named value a transport keeps between runs (Matrix's sync token)."""

    __tablename__ = "transport_state"
    __table_args__ = (
        UniqueConstraint("platform", "name"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SealCheck(Base):
    """A known value sealed the first time the store was opened with a key: at every start
    the configured keys must open it, or the bot stops before it fails on every read."""

    __tablename__ = "seal_check"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sealed: Mapped[str] = mapped_column(SealedText())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
