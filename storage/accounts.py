"""One person, several accounts (``store.accounts``): one-time codes that connect two
accounts into one member, the wrong tries counted per account, and splitting an account
off again.

A code is kept only as a digest the caller computes (keyed, so that the table cannot be
searched for it); it expires and is deleted when used. The merge itself is
:func:`storage.merging.merge_members_in`, in the same transaction as the code's use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.types import Platform
from storage.errors import NotFoundError
from storage.member_data import Json, MemberSection, add_section, plain
from storage.members import existing_member, find_identity
from storage.merging import MergeOutcome, merge_members_in, older_first
from storage.models import ConnectCode, ConnectFailure, Identity, Member
from storage.units import Area
from storage.validation import check_int, check_text

CODE_LIFETIME = timedelta(minutes=10)
WRONG_TRIES_PER_HOUR = 5
TRY_WINDOW = timedelta(hours=1)


class Redeemed(StrEnum):
    CONNECTED = "connected"
    WRONG = "wrong"
    """No such code, or expired, or used: counted against the account."""
    LOCKED = "locked"
    """Too many wrong tries within the hour: the code was not even looked at."""
    OWN_CODE = "own_code"
    """The code is this member's own: it is for the other account (not counted, kept)."""
    SAME_PLATFORM = "same_platform"
    """The code's owner has an account on this platform already: a code is typed on the
    other platform (not counted, kept)."""


@dataclass(frozen=True, slots=True)
class Redemption:
    status: Redeemed
    tries_left: int
    merge: MergeOutcome | None = None
    code_member_id: int | None = None
    """Whose code it was (the member who asked for it), when it was found."""


@dataclass(frozen=True, slots=True)
class Split:
    """An account split off its member into a new member of its own."""

    new_member_id: int
    accounts_left: int


class AccountStore(Area):
    """Codes, tries, connecting and disconnecting accounts (``store.accounts``)."""

    def issue_code(self, member_id: int, digest: str) -> datetime:
        """Keep a new code (its ``digest``) for ``member_id``, replacing the member's earlier
        ones; returns when it expires. Expired codes of anyone are deleted meanwhile."""
        check_int("member id", member_id, minimum=1)
        check_text("digest", digest, 64)
        now = self._now()
        return self._run(_issue_code, member_id, digest, now, now + CODE_LIFETIME)

    def tries_left(self, platform: Platform, user_id: str) -> int:
        """How many wrong codes this account may still type within the hour."""
        return self._read(_tries_left, Platform(platform), user_id, self._now())

    def redeem(self, platform: Platform, user_id: str, digest: str) -> Redemption:
        """The code ``digest`` typed from this account: connect the two members (the code
        is used up), or count a wrong try; refused unread after too many wrong tries."""
        check_text("user id", user_id, 255)
        check_text("digest", digest, 64)
        return self._run(_redeem, Platform(platform), user_id, digest, self._now())

    def void_code(self, digest: str) -> int | None:
        """Delete the code ``digest`` (seen by others); its owner's member id, or ``None``
        when no such code is waiting."""
        check_text("digest", digest, 64)
        return self._run(_void_code, digest)

    def split_off(self, member_id: int, platform: Platform, user_id: str) -> Split:
        """Move the member's account to a new member of its own (speaking the same language,
        in the same time zone); everything else stays. Raises :class:`NotFoundError` when
        the account is not the member's, ``ValueError`` for the member's last account."""
        check_int("member id", member_id, minimum=1)
        check_text("user id", user_id, 255)
        return self._run(_split_off, member_id, Platform(platform), user_id, self._now())


def _issue_code(
    session: Session, member_id: int, digest: str, now: datetime, expires_at: datetime
) -> datetime:
    existing_member(session, member_id)
    session.execute(
        delete(ConnectCode).where(
            (ConnectCode.member_id == member_id) | (ConnectCode.expires_at <= now)
        )
    )
    session.add(
        ConnectCode(member_id=member_id, digest=digest, created_at=now, expires_at=expires_at)
    )
    return expires_at


def _wrong_tries(session: Session, identity_id: int, now: datetime) -> int:
    counted = select(func.count()).where(
        ConnectFailure.identity_id == identity_id, ConnectFailure.at > now - TRY_WINDOW
    )
    return session.scalar(counted) or 0


def _tries_left(session: Session, platform: Platform, user_id: str, now: datetime) -> int:
    identity = find_identity(session, platform, user_id)
    if identity is None:
        return WRONG_TRIES_PER_HOUR
    return max(0, WRONG_TRIES_PER_HOUR - _wrong_tries(session, identity.id, now))


def _redeem(
    session: Session, platform: Platform, user_id: str, digest: str, now: datetime
) -> Redemption:
    identity = find_identity(session, platform, user_id)
    if identity is None:
        raise NotFoundError(f"no {platform.value} account {user_id!r}")
    # Tries older than the window no longer count: forget them.
    session.execute(
        delete(ConnectFailure).where(
            ConnectFailure.identity_id == identity.id, ConnectFailure.at <= now - TRY_WINDOW
        )
    )
    wrong = _wrong_tries(session, identity.id, now)
    if wrong >= WRONG_TRIES_PER_HOUR:
        return Redemption(Redeemed.LOCKED, 0)
    code = session.scalars(
        select(ConnectCode).where(ConnectCode.digest == digest, ConnectCode.expires_at > now)
    ).one_or_none()
    if code is None:
        session.add(ConnectFailure(identity_id=identity.id, at=now))
        return Redemption(Redeemed.WRONG, WRONG_TRIES_PER_HOUR - wrong - 1)
    tries_left = WRONG_TRIES_PER_HOUR - wrong
    if code.member_id == identity.member_id:
        return Redemption(Redeemed.OWN_CODE, tries_left, code_member_id=code.member_id)
    code_member_id = code.member_id
    on_this_platform = session.scalar(
        select(func.count())
        .select_from(Identity)
        .where(Identity.member_id == code_member_id, Identity.platform == platform.value)
    )
    # The console is one terminal where the operator plays several people (/as): there two
    # console accounts may be joined, as a person's Telegram and Matrix accounts are.
    if on_this_platform and platform is not Platform.CONSOLE:
        return Redemption(Redeemed.SAME_PLATFORM, tries_left, code_member_id=code_member_id)
    kept, other = older_first(session, code_member_id, identity.member_id)
    # Used up: this code and any other of the two members, before anything moves.
    session.execute(delete(ConnectCode).where(ConnectCode.member_id.in_([kept, other])))
    outcome = merge_members_in(session, kept, other)
    return Redemption(Redeemed.CONNECTED, tries_left, outcome, code_member_id)


def _void_code(session: Session, digest: str) -> int | None:
    code = session.scalars(select(ConnectCode).where(ConnectCode.digest == digest)).one_or_none()
    if code is None:
        return None
    owner = code.member_id
    session.delete(code)
    return owner


def _split_off(
    session: Session, member_id: int, platform: Platform, user_id: str, now: datetime
) -> Split:
    member = existing_member(session, member_id)
    identity = find_identity(session, platform, user_id)
    if identity is None or identity.member_id != member_id:
        raise NotFoundError(f"no such {platform.value} account of member {member_id}")
    accounts = session.scalar(
        select(func.count()).select_from(Identity).where(Identity.member_id == member_id)
    )
    if not accounts or accounts < 2:
        raise ValueError("a member's last account cannot be split off")
    new = Member(
        language=member.language,
        time_zone=member.time_zone,
        display_name=None,
        organization=None,
        created_at=now,
        last_seen_at=now,
    )
    session.add(new)
    session.flush()
    identity.member_id = new.id
    return Split(new.id, accounts - 1)


__all__ = [
    "CODE_LIFETIME",
    "TRY_WINDOW",
    "WRONG_TRIES_PER_HOUR",
    "AccountStore",
    "Redeemed",
    "Redemption",
    "Split",
]


# -- the member's own data (/mydata, /forgetme) ---------------------------------------------


def _codes_of(session: Session, member_id: int) -> Json:
    """The member's unused connection codes, by when they expire (the code itself is kept
    only as a hash, which says nothing to its owner)."""
    query = select(ConnectCode.created_at, ConnectCode.expires_at).where(
        ConnectCode.member_id == member_id
    )
    return [
        {"made_at": plain(made), "expires_at": plain(expires)}
        for made, expires in session.execute(query)
    ]


# The failed tries hang on the accounts (identities): they go with them.
add_section(MemberSection("connection_codes", ("connect_codes.member_id",), _codes_of))
