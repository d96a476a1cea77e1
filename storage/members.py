"""Members and their platform identities: ``store.members``.

:class:`MemberStore` answers the callers' questions; the functions beside it are the
queries it runs, of which :func:`member_for_identity_in` and :func:`existing_member` also
serve other areas inside their own transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.types import Platform
from storage.errors import NotFoundError
from storage.models import Identity, Member
from storage.records import DirectContact, IdentityRecord, MemberRecord
from storage.units import Area
from storage.validation import check_aware, check_optional_text, check_text


class MemberStore(Area):
    """Who is who: members, their accounts and where to reach them (``store.members``)."""

    def for_identity(
        self,
        platform: Platform,
        user_id: str,
        *,
        language: str,
        now: datetime | None = None,
        direct_room: str | None = None,
    ) -> MemberRecord:
        """The member behind a platform account, created (speaking ``language``) if new.

        Records that the member was seen at ``now``; ``last_seen_at`` never moves back.
        ``direct_room`` is the private chat the member wrote from, kept to reach them later.
        """
        check_text("user id", user_id, 255)
        check_text("language", language, 8)
        check_optional_text("direct room", direct_room, 255)
        when = self._now() if now is None else check_aware("now", now)
        return self._run(
            _seen_member,
            platform,
            user_id,
            language=language,
            now=when,
            direct_room=direct_room,
        )

    def get(self, member_id: int) -> MemberRecord | None:
        return self._run(_member_or_none, member_id)

    def set_language(self, member_id: int, language: str) -> MemberRecord:
        """Raises :class:`storage.NotFoundError` for an unknown member."""
        check_text("language", language, 8)
        return self._run(_set_language, member_id, language)

    def set_profile(
        self,
        member_id: int,
        *,
        display_name: str | None,
        organization: str | None,
        time_zone: str | None,
    ) -> MemberRecord:
        """Sets all three fields (``None`` clears one); raises :class:`NotFoundError`."""
        check_optional_text("display name", display_name, 255)
        check_optional_text("organization", organization, 255)
        check_optional_text("time zone", time_zone, 64)
        return self._run(_set_profile, member_id, display_name, organization, time_zone)

    def identities_of(self, member_id: int) -> list[IdentityRecord]:
        return self._run(_identities_of, member_id)

    def direct_contacts_of(self, member_id: int) -> list[DirectContact]:
        """The member's accounts that have written to the bot privately, each with that
        private room (on Matrix, where notices go is :meth:`notice_room` instead)."""
        return self._run(_direct_contacts_of, member_id)

    def never_wrote_privately(self, platform: Platform, user_ids: Sequence[str]) -> set[str]:
        """Which of these accounts have never written to the bot in a private chat."""
        platform = Platform(platform)
        for user_id in user_ids:
            check_text("user id", user_id, 255)
        return self._run(_never_wrote_privately, platform, list(user_ids))

    def notice_room(self, platform: Platform, user_id: str) -> str | None:
        """The private room the bot made with this account for notices, if any yet."""
        return self._run(_notice_room, Platform(platform), user_id)

    def set_notice_room(self, platform: Platform, user_id: str, room_id: str | None) -> None:
        """Remember (``None``: forget) the room the bot made with this account for notices;
        raises :class:`NotFoundError` for an account the bot has never met."""
        check_optional_text("notice room", room_id, 255)
        self._run(_set_notice_room, Platform(platform), user_id, room_id)

    def is_private_room(self, platform: Platform, room_id: str) -> bool:
        """Whether the room is some member's private chat with the bot (the one they write
        from, or the one the bot made for their notices)."""
        return self._run(_is_private_room, Platform(platform), room_id)


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


def existing_member(session: Session, member_id: int) -> Member:
    member = session.get(Member, member_id)
    if member is None:
        raise NotFoundError(f"no member with id {member_id}")
    return member


def _seen_member(
    session: Session,
    platform: Platform,
    user_id: str,
    *,
    language: str,
    now: datetime,
    direct_room: str | None,
) -> MemberRecord:
    return member_record(
        member_for_identity_in(
            session, platform, user_id, language=language, now=now, direct_room=direct_room
        )
    )


def find_identity(session: Session, platform: Platform, user_id: str) -> Identity | None:
    return session.scalars(
        select(Identity).where(
            Identity.platform == Platform(platform).value, Identity.user_id == user_id
        )
    ).one_or_none()


def _member_or_none(session: Session, member_id: int) -> MemberRecord | None:
    member = session.get(Member, member_id)
    return None if member is None else member_record(member)


def _set_language(session: Session, member_id: int, language: str) -> MemberRecord:
    member = existing_member(session, member_id)
    member.language = language
    return member_record(member)


def _set_profile(
    session: Session,
    member_id: int,
    display_name: str | None,
    organization: str | None,
    time_zone: str | None,
) -> MemberRecord:
    member = existing_member(session, member_id)
    member.display_name = display_name
    member.organization = organization
    member.time_zone = time_zone
    return member_record(member)


def _identities_of(session: Session, member_id: int) -> list[IdentityRecord]:
    identities = session.scalars(
        select(Identity).where(Identity.member_id == member_id).order_by(Identity.id)
    )
    return [IdentityRecord(Platform(row.platform), row.user_id) for row in identities]


def _direct_contacts_of(session: Session, member_id: int) -> list[DirectContact]:
    rows = session.scalars(
        select(Identity)
        .where(Identity.member_id == member_id, Identity.direct_room_id.is_not(None))
        .order_by(Identity.id)
    )
    return [
        DirectContact(Platform(row.platform), row.user_id, row.direct_room_id or "") for row in rows
    ]


def _notice_room(session: Session, platform: Platform, user_id: str) -> str | None:
    identity = find_identity(session, platform, user_id)
    return None if identity is None else identity.notice_room_id


def _set_notice_room(
    session: Session, platform: Platform, user_id: str, room_id: str | None
) -> None:
    identity = find_identity(session, platform, user_id)
    if identity is None:
        raise NotFoundError(f"no {platform.value} account {user_id!r}")
    identity.notice_room_id = room_id


def _is_private_room(session: Session, platform: Platform, room_id: str) -> bool:
    found = session.scalars(
        select(Identity.id)
        .where(
            Identity.platform == platform.value,
            or_(Identity.direct_room_id == room_id, Identity.notice_room_id == room_id),
        )
        .limit(1)
    ).first()
    return found is not None


def _never_wrote_privately(session: Session, platform: Platform, user_ids: list[str]) -> set[str]:
    wrote = set(
        session.scalars(
            select(Identity.user_id).where(
                Identity.platform == platform.value,
                Identity.user_id.in_(user_ids),
                Identity.direct_room_id.is_not(None),
            )
        )
    )
    return set(user_ids) - wrote
