"""Members and their platform identities. These functions run inside a store transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.types import Platform
from storage.errors import NotFoundError
from storage.models import Identity, Member
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
