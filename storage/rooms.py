"""Rooms linked to working groups by command: ``store.rooms``.

The configuration file's rooms are synced by ``store.groups.sync_configured``; a link made
here never overrides one the configuration placed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.types import Platform
from storage.errors import NotFoundError
from storage.groups import COMMAND, CONFIG
from storage.models import Room, WorkingGroup
from storage.records import LinkOutcome, RoomLink
from storage.units import Area
from storage.validation import check_text


class RoomStore(Area):
    """Which rooms a working group talks in (``store.rooms``)."""

    def link(self, platform: Platform, room_id: str, working_group_id: int) -> LinkOutcome:
        """Link a room to a working group by command; a room the configuration places stays."""
        platform = Platform(platform)
        check_text("room id", room_id, 255)
        now = self._now()
        return self._run(_link, platform, room_id, working_group_id, now)

    def unlink(self, platform: Platform, room_id: str) -> LinkOutcome:
        """Remove a link made by command (a configured link is the file's to remove)."""
        platform = Platform(platform)
        check_text("room id", room_id, 255)
        return self._run(_unlink, platform, room_id)

    def links(self, working_group_id: int | None = None) -> list[RoomLink]:
        """The rooms linked to one working group, or to any with ``None``."""
        return self._run(_links, working_group_id)


def _room_link(room: Room) -> RoomLink:
    return RoomLink(
        Platform(room.platform), room.room_id, room.working_group_id, room.source == CONFIG
    )


def _room(session: Session, platform: Platform, room_id: str) -> Room | None:
    return session.scalars(
        select(Room).where(Room.platform == platform.value, Room.room_id == room_id)
    ).one_or_none()


def _link(
    session: Session, platform: Platform, room_id: str, working_group_id: int, now: datetime
) -> LinkOutcome:
    if session.get(WorkingGroup, working_group_id) is None:
        raise NotFoundError(f"no working group with id {working_group_id}")
    room = _room(session, platform, room_id)
    if room is None:
        session.add(
            Room(
                platform=platform.value,
                room_id=room_id,
                working_group_id=working_group_id,
                source=COMMAND,
                created_at=now,
            )
        )
        session.flush()
        return LinkOutcome.LINKED
    if room.working_group_id == working_group_id:
        return LinkOutcome.ALREADY_LINKED
    if room.source == CONFIG:
        return LinkOutcome.LINKED_ELSEWHERE
    room.working_group_id = working_group_id
    session.flush()
    return LinkOutcome.MOVED


def _unlink(session: Session, platform: Platform, room_id: str) -> LinkOutcome:
    room = _room(session, platform, room_id)
    if room is None:
        return LinkOutcome.NOT_LINKED
    if room.source == CONFIG:
        return LinkOutcome.CONFIGURED
    session.delete(room)
    session.flush()
    return LinkOutcome.UNLINKED


def _links(session: Session, working_group_id: int | None) -> list[RoomLink]:
    statement = select(Room).order_by(Room.working_group_id, Room.platform, Room.room_id)
    if working_group_id is not None:
        statement = statement.where(Room.working_group_id == working_group_id)
    return [_room_link(room) for room in session.scalars(statement)]
