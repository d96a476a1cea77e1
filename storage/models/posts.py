"""The bot's own messages named for later replies to change (a poll, its live results)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime


class BotPost(Base):
    """A message the bot queued under ``key`` (``poll:7:start``) in one room.

    ``outbox_id`` is its first outbox part; ``message_id`` and ``native_id`` are filled
    when it is delivered (the platform's message id, and the id of what the message carries,
    a Telegram poll's id, which that poll's answers name). ``pending_edit_id``: the outbox
    row of the last edit queued for it, superseded by a newer one while still waiting.
    Rooms are group rooms or private chats; no member is referred to."""

    __tablename__ = "bot_posts"
    __table_args__ = (
        UniqueConstraint("key", "platform", "room_id"),
        Index("ix_bot_posts_platform_native_id", "platform", "native_id"),
        Index("ix_bot_posts_platform_room_id_message_id", "platform", "room_id", "message_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(100))
    platform: Mapped[str] = mapped_column(String(16))
    room_id: Mapped[str] = mapped_column(String(255))
    outbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox.id", ondelete="SET NULL"), index=True
    )
    message_id: Mapped[str | None] = mapped_column(String(255))
    native_id: Mapped[str | None] = mapped_column(String(255))
    pending_edit_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
