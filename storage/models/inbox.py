"""Inbound platform events, kept until handled."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime
from storage.sealing import SealedText


class InboundEvent(Base):
    """A raw platform event, stored before the platform is told it arrived.

    ``payload`` is JSON text, replaced by ``{}`` once the event is handled. A ``waiting``
    event is kept but not handed over until its transport makes it ready (a Matrix event
    waiting for its room key).
    """

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("platform", "key"),
        Index("ix_inbound_events_platform_handled_at_id", "platform", "handled_at", "id"),
        Index("ix_inbound_events_platform_sequence", "platform", "sequence"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    sequence: Mapped[int | None] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(255))
    payload: Mapped[str] = mapped_column(SealedText())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    waiting: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    direct: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    """From a private chat with the bot: handed over before group traffic."""
