"""The bot's own messages named for later replies to change: ``store.posts``.

A capability names a message it sends (``Reply.post``: ``poll:7:start``) so that a later
reply can edit it (live results), close it (a native poll) or recognise what answers it (a
Matrix poll response relates to the start event; a Telegram poll answer names only the
poll's id). The dispatcher records the post's first outbox row when it queues the message;
the outbox fills in the platform's ids when it is delivered (:mod:`storage.outbox`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.types import Platform
from storage.models import BotPost
from storage.outbox import supersede_pending_in
from storage.units import Area
from storage.upserts import insert_unless_present
from storage.validation import check_int, check_text

KEY_LIMIT = 100


@dataclass(frozen=True, slots=True)
class PostedRoom:
    """Where a post went: the room, and the platform's id of the message once delivered."""

    platform: Platform
    room_id: str
    message_id: str | None


class PostStore(Area):
    """Named messages of the bot (``store.posts``)."""

    def record(
        self, key: str, platform: Platform, room_id: str, outbox_id: int, *, replace: bool = False
    ) -> None:
        """``outbox_id`` (its first part) is the message posted as ``key`` in the room; a
        key already posted there keeps its message, unless ``replace`` (it never arrived,
        and this message stands in for it)."""
        check_text("post key", key, KEY_LIMIT)
        check_text("room id", room_id, 255)
        check_int("outbox id", outbox_id, minimum=1)
        now = self._now()

        def record_in(session: Session) -> None:
            inserted = insert_unless_present(
                session,
                BotPost,
                {
                    "key": key,
                    "platform": platform.value,
                    "room_id": room_id,
                    "outbox_id": outbox_id,
                    "created_at": now,
                },
                ["key", "platform", "room_id"],
            )
            if not inserted and replace:
                session.execute(
                    update(BotPost)
                    .where(
                        BotPost.key == key,
                        BotPost.platform == platform.value,
                        BotPost.room_id == room_id,
                    )
                    .values(
                        outbox_id=outbox_id, message_id=None, native_id=None, pending_edit_id=None
                    )
                )

        self._run(record_in)

    def outbox_id_of(self, key: str, platform: Platform, room_id: str) -> int | None:
        """The first outbox row of the message posted as ``key`` in the room, if any."""

        def outbox_id_in(session: Session) -> int | None:
            return session.scalar(
                select(BotPost.outbox_id).where(
                    BotPost.key == key,
                    BotPost.platform == platform.value,
                    BotPost.room_id == room_id,
                )
            )

        return self._read(outbox_id_in)

    def replace_pending_edit(
        self, key: str, platform: Platform, room_id: str, edit_outbox_id: int
    ) -> None:
        """``edit_outbox_id`` is the newest edit queued for the post; the one before it, if
        still waiting, is superseded: never sent, since the newer says all it would have."""
        check_int("outbox id", edit_outbox_id, minimum=1)
        self._run(_replace_pending_edit_in, key, platform, room_id, edit_outbox_id, self._now())

    def key_of_message(self, platform: Platform, room_id: str, message_id: str) -> str | None:
        """The post a delivered message is, found by the platform's id of it."""

        def key_in(session: Session) -> str | None:
            return session.scalar(
                select(BotPost.key)
                .where(
                    BotPost.platform == platform.value,
                    BotPost.room_id == room_id,
                    BotPost.message_id == message_id,
                )
                .limit(1)
            )

        return self._read(key_in)

    def key_of_native(self, platform: Platform, native_id: str) -> str | None:
        """The post that carries ``native_id`` (a Telegram poll's id)."""

        def key_in(session: Session) -> str | None:
            return session.scalar(
                select(BotPost.key)
                .where(BotPost.platform == platform.value, BotPost.native_id == native_id)
                .limit(1)
            )

        return self._read(key_in)

    def rooms_of(self, key: str) -> list[PostedRoom]:
        """Every room the post ``key`` went to, in the order it was queued."""

        def rooms_in(session: Session) -> list[PostedRoom]:
            rows = session.execute(
                select(BotPost.platform, BotPost.room_id, BotPost.message_id)
                .where(BotPost.key == key)
                .order_by(BotPost.id)
            )
            return [
                PostedRoom(Platform(platform), room, message) for platform, room, message in rows
            ]

        return self._read(rooms_in)


def _replace_pending_edit_in(
    session: Session,
    key: str,
    platform: Platform,
    room_id: str,
    edit_outbox_id: int,
    now: datetime,
) -> None:
    post = session.scalars(
        select(BotPost).where(
            BotPost.key == key, BotPost.platform == platform.value, BotPost.room_id == room_id
        )
    ).one_or_none()
    if post is None:
        return
    earlier = post.pending_edit_id
    if earlier is not None and earlier != edit_outbox_id:
        supersede_pending_in(session, earlier, now)
    post.pending_edit_id = edit_outbox_id
    session.flush()
