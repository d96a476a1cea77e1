"""Members and their platform identities. These functions run inside a store transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.types import Platform
from storage.errors import NotFoundError
from storage.models import Identity, Member, Membership
from storage.records import IdentityRecord, MemberRecord


def member_record(member: Member) -> MemberRecord:
    return MemberRecord(
        id=member.id,
        language=member.language,
        time_zone=member.time_zone,
        display_name=member.display_name,
        organization=member.organization,
        created_at=member.created_at,
        last_seen_at=member.last_seen_at,
    )


def member_for_identity_in(
    session: Session,
    platform: Platform,
    user_id: str,
    *,
    language: str,
    now: datetime,
    touch: bool = True,
    direct_room: str | None = None,
) -> Member:
    """The member behind an identity, created with ``language`` if the identity is new.

    With ``touch``, ``last_seen_at`` moves forward to ``now`` (never backwards). Two
    transactions creating the same identity at once collide on the unique constraint; the
    store then retries, and the retry finds the winner's row.
    """
    identity = find_identity(session, platform, user_id)
    if identity is not None:
        member = session.get_one(Member, identity.member_id)
        if touch and member.last_seen_at < now:
            member.last_seen_at = now
        if direct_room is not None and identity.direct_room_id != direct_room:
            identity.direct_room_id = direct_room
        return member
    member = Member(
        language=language,
        time_zone=None,
        display_name=None,
        organization=None,
        created_at=now,
        last_seen_at=now,
    )
    session.add(member)
    session.flush()
    session.add(
        Identity(
            platform=Platform(platform).value,
            user_id=user_id,
            member_id=member.id,
            created_at=now,
            direct_room_id=direct_room,
        )
    )
    session.flush()
    return member


def find_identity(session: Session, platform: Platform, user_id: str) -> Identity | None:
    return session.scalars(
        select(Identity).where(
            Identity.platform == Platform(platform).value, Identity.user_id == user_id
        )
    ).one_or_none()


def existing_member(session: Session, member_id: int) -> Member:
    member = session.get(Member, member_id)
    if member is None:
        raise NotFoundError(f"no member with id {member_id}")
    return member


def identities_of_in(session: Session, member_id: int) -> list[IdentityRecord]:
    identities = session.scalars(
        select(Identity).where(Identity.member_id == member_id).order_by(Identity.id)
    )
    return [IdentityRecord(Platform(row.platform), row.user_id) for row in identities]


def direct_rooms_of_in(session: Session, member_id: int) -> list[tuple[Platform, str]]:
    rows = session.scalars(
        select(Identity).where(Identity.member_id == member_id).order_by(Identity.id)
    )
    found = [(Platform(row.platform), _private_room(row)) for row in rows]
    return [(platform, room) for platform, room in found if room is not None]


def _private_room(identity: Identity) -> str | None:
    """The direct room the member last wrote to the bot from. (A Telegram user's private
    chat has the user's id, but one who never wrote cannot be written to: not guessed.)"""
    return identity.direct_room_id


def coordinators_of_in(session: Session, working_group_id: int) -> list[int]:
    rows = session.scalars(
        select(Membership.member_id)
        .where(
            Membership.working_group_id == working_group_id,
            Membership.role.in_(("coordinator", "admin")),
        )
        .order_by(Membership.member_id)
    )
    return list(rows)
