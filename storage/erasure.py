"""A member's own data: exported whole (``/mydata``) and erased whole (``/forgetme``), as
``store.member_data``.

Erasing goes by :mod:`storage.member_data`'s sections, the list of every column that refers
to a member: each section erases (or unlinks) its rows, then the member row goes and the
foreign keys delete or set NULL the rest. What refers to a member by name or account
rather than by a key is scrubbed here too: the inbox's raw events, the outbox's queued
messages (a relayed message carries its author's name), the chats the bot could not
reach, long callback values. All of it in the caller's unit of work.

On SQLite a deleted row's bytes are overwritten (``secure_delete``, :mod:`storage.database`),
and once an erasure commits the write-ahead log is checkpointed and truncated, so that no
older copy of a page lingers in it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, event, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from storage.errors import NotFoundError, StorageError
from storage.member_data import (
    Forgetting,
    Json,
    export_in,
    member_references,
    sections,
    unaccounted_references,
    unerased_references,
)
from storage.models import (
    Base,
    CallbackPayload,
    CaseReport,
    Identity,
    InboundEvent,
    Member,
    Membership,
    OutboxMessage,
    UnreachableChat,
)
from storage.outbox import EMPTY_PAYLOAD, FAILED, PENDING
from storage.units import Area
from storage.validation import check_int

log = logging.getLogger(__name__)

FORGOTTEN_REASON = "the member asked to be forgotten"
_ERASED = "caucus_member_erased"
"""Set in a session's ``info`` by an erasure, or by anything else whose earlier states must
not outlive its unit of work (a secret vote): after its commit, SQLite's log is truncated."""


def truncate_log_after_commit(session: Session) -> None:
    """Once the unit of work ``session`` belongs to commits, SQLite's write-ahead log is
    checkpointed and truncated: its frames, which hold the pages as they were written
    (a handled event before its payload was forgotten, rows side by side as they were
    inserted), leave the disk."""
    session.info[_ERASED] = True


_NAME_KEYS = ("display_name", "username", "full_name", "name")
"""Where a platform's raw event names the account that sent it."""


@dataclass(frozen=True, slots=True)
class Erased:
    """What an erasure did, in numbers (for the member's farewell and the audit log)."""

    reports_withdrawn: int
    reports_kept: int
    memberships: int
    accounts: int


class MemberDataStore(Area):
    """A member's own data as a whole (``store.member_data``)."""

    def export(self, member_id: int) -> dict[str, Json]:
        """Everything stored about the member, by section; unsealed for them."""
        check_int("member id", member_id, minimum=1)
        return self._read(export_in, member_id)

    def named_in_configuration(self, member_id: int) -> bool:
        """Whether the configuration file gives the member a role: it names their account,
        which the next start would bring back (an admin must take it out first)."""
        check_int("member id", member_id, minimum=1)
        return self._read(_named_in_configuration, member_id)

    def erase(self, member_id: int, *, keep_reports: bool) -> Erased:
        """Erase the member: accounts, profile, memberships, conversation; their reports
        withdrawn or (``keep_reports``) kept without a link to them; every trace of their
        accounts and names in the inbox, the outbox and the transports' tables. Raises
        :class:`NotFoundError` for an unknown member, :class:`StorageError` when some table
        refers to members without a section that says how to erase it."""
        check_int("member id", member_id, minimum=1)
        return self._run(erase_member_in, member_id, keep_reports, self._now())

    def traces(self, needles: Iterable[str]) -> list[str]:
        """Where any of ``needles`` still occurs: ``"table.column"`` of each text or sealed
        column holding one, read unsealed, in every table (a check after an erasure)."""
        wanted = tuple(needle for needle in needles if needle)
        return self._read(traces_in, wanted)


# -- erasing --------------------------------------------------------------------------------


def erase_member_in(session: Session, member_id: int, keep_reports: bool, now: datetime) -> Erased:
    missing = unaccounted_references() + unerased_references()
    if missing:
        raise StorageError(f"no member data section says how to erase {missing}")
    member = session.get(Member, member_id)
    if member is None:
        raise NotFoundError(f"no member {member_id}")
    identities = list(session.scalars(select(Identity).where(Identity.member_id == member_id)))
    accounts = tuple((row.platform, row.user_id) for row in identities)
    rooms = _rooms_of_their_own(session, member_id, identities)
    names = {name for name in (member.display_name,) if name}
    names.update(_names_in_inbox(session, accounts))
    forgetting = Forgetting(
        member_id=member_id,
        keep_reports=keep_reports,
        accounts=accounts,
        rooms=rooms,
        names=tuple(sorted(names)),
        now=now,
    )
    reports = len(
        session.scalars(select(CaseReport.id).where(CaseReport.author_member_id == member_id)).all()
    )
    memberships = len(
        session.scalars(select(Membership.id).where(Membership.member_id == member_id)).all()
    )
    for section in sections():
        if section.erase is not None:
            section.erase(session, forgetting)
    _scrub_inbox(session, forgetting)
    _scrub_outbox(session, forgetting)
    _scrub_transports(session, forgetting)
    session.delete(member)
    session.flush()
    _check_nothing_refers(session, member_id)
    truncate_log_after_commit(session)
    log.info("member_erased member=%d kept_reports=%s", member_id, keep_reports)
    return Erased(
        reports_withdrawn=0 if keep_reports else reports,
        reports_kept=reports if keep_reports else 0,
        memberships=memberships,
        accounts=len(accounts),
    )


def _named_in_configuration(session: Session, member_id: int) -> bool:
    configured = select(Membership.id).where(
        Membership.member_id == member_id, Membership.source == CONFIGURED
    )
    return session.scalar(configured.limit(1)) is not None


CONFIGURED = "config"


def _rooms_of_their_own(
    session: Session, member_id: int, identities: list[Identity]
) -> tuple[tuple[str, str], ...]:
    """Their private chats with the bot (on Telegram a private chat's id is the account's),
    leaving out any another member writes from too (the console's one room)."""
    rooms = {(row.platform, row.user_id) for row in identities}
    rooms.update((row.platform, row.direct_room_id) for row in identities if row.direct_room_id)
    rooms.update((row.platform, row.notice_room_id) for row in identities if row.notice_room_id)
    ids = sorted({room_id for _, room_id in rooms})
    shared: set[tuple[str, str]] = set()
    for column in (Identity.direct_room_id, Identity.notice_room_id):
        others = select(Identity.platform, column).where(
            Identity.member_id != member_id, column.in_(ids)
        )
        shared.update((platform, str(room)) for platform, room in session.execute(others))
    return tuple(sorted(room for room in rooms if room not in shared))


def _check_nothing_refers(session: Session, member_id: int) -> None:
    """After the member row is gone, no column refers to it (the list the sections cover)."""
    for reference in member_references():
        table_name, column = reference.split(".")
        table = Base.metadata.tables[table_name]
        left = session.scalar(select(table.c[column]).where(table.c[column] == member_id).limit(1))
        if left is not None:
            raise StorageError(f"{reference} still refers to an erased member")


def _unhandled_events(session: Session) -> Iterator[InboundEvent]:
    """Events not yet handled (a handled event's payload is already ``{}``)."""
    yield from session.scalars(select(InboundEvent).where(InboundEvent.handled_at.is_(None)))


def _names_in_inbox(session: Session, accounts: tuple[tuple[str, str], ...]) -> set[str]:
    """The names the member's platforms gave them, in the raw events still in the inbox
    (the event that asked for the erasure among them)."""
    ids = {user_id for _, user_id in accounts}
    names: set[str] = set()
    for inbound in _unhandled_events(session):
        for found in _objects(json.loads(inbound.payload)):
            if any(str(value) in ids for value in found.values() if isinstance(value, str | int)):
                names.update(_names_of(found))
    return names


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from _objects(item)


def _names_of(found: dict[str, Any]) -> set[str]:
    """A whole name (a first name alone only when there is no other: "Ana" would match
    "Canada" in every queued message)."""
    names = {str(found[key]).strip() for key in _NAME_KEYS if isinstance(found.get(key), str)}
    first, last = found.get("first_name"), found.get("last_name")
    whole = " ".join(part for part in (first, last) if isinstance(part, str) and part)
    names.add(whole.strip())
    return {name for name in names if name}


def _mentions(text: str, needles: tuple[str, ...]) -> bool:
    return any(needle in text for needle in needles)


_SENDER_KEYS = ("from", "sender", "user")
"""Where a raw event names who sent it: Telegram's ``from`` object, Matrix's ``sender``."""
_ID_KEYS = ("id", "user_id", "sender", "state_key")
_REDACTED_NAME = ""
_REDACTED_ID = "forgotten"


def _sent_by(payload: Any, ids: set[str]) -> bool:
    """Whether the raw event was sent by one of ``ids``: its own sender, not a message it
    quotes or answers (those are nested deeper, under ``reply_to_message`` and the like)."""
    if not isinstance(payload, dict):
        return False
    for top in (payload, *(value for value in payload.values() if isinstance(value, dict))):
        for key in _SENDER_KEYS:
            sender = top.get(key)
            if isinstance(sender, dict):
                sender = sender.get("id")
            if sender is not None and str(sender) in ids:
                return True
    return False


def _redact_references(value: Any, ids: set[str]) -> bool:
    """Blank, in place, every object of the event that stands for one of ``ids`` (the
    account a reply quotes, a member a room event names): its names and its id. Whether
    anything was blanked."""
    changed = False
    for found in list(_objects(value)):
        if not any(str(found.get(key)) in ids for key in _ID_KEYS if key in found):
            continue
        for key in (*_NAME_KEYS, "first_name", "last_name", "displayname"):
            if key in found:
                found[key] = _REDACTED_NAME
        for key in _ID_KEYS:
            if key in found and str(found[key]) in ids:
                found[key] = 0 if isinstance(found[key], int) else _REDACTED_ID
        changed = True
    return changed


def _scrub_inbox(session: Session, forgetting: Forgetting) -> None:
    """Events still unhandled that they sent are settled unread: their payload goes (the
    one being handled now too; its handling is already under way). Others' events are
    someone else's words and are kept, handled as usual; where one quotes or names their
    account (a reply to them), that account's id and names are blanked in it."""
    ids = {user_id for _, user_id in forgetting.accounts}
    for inbound in _unhandled_events(session):
        payload = json.loads(inbound.payload)
        if _sent_by(payload, ids):
            inbound.payload = EMPTY_PAYLOAD
            inbound.handled_at = forgetting.now
            inbound.waiting = False
        elif _redact_references(payload, ids):
            inbound.payload = json.dumps(payload, ensure_ascii=False)


def _scrub_outbox(session: Session, forgetting: Forgetting) -> None:
    """Messages to their private chats go, sent or not; messages still queued elsewhere that
    are theirs or the bot's words about them (a relayed message of theirs, a notice naming
    them) are given up, wiped. Another member's relayed message that merely mentions their
    name is that member's words: it is kept."""
    rooms = [
        (OutboxMessage.platform == platform) & (OutboxMessage.room_id == room_id)
        for platform, room_id in forgetting.rooms
    ]
    if rooms:
        session.execute(delete(OutboxMessage).where(or_(*rooms)))
    needles = forgetting.needles()
    pending = session.scalars(select(OutboxMessage).where(OutboxMessage.status == PENDING))
    named = [row.id for row in pending if _is_about_them(row.payload, needles)]
    if named:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(named))
            .values(status=FAILED, failure_reason=FORGOTTEN_REASON, payload=EMPTY_PAYLOAD)
        )


def _is_about_them(payload_text: str, needles: tuple[str, ...]) -> bool:
    if not _mentions(payload_text, needles):
        return False
    try:
        payload = json.loads(payload_text)
    except ValueError:
        return True
    if not isinstance(payload, dict) or not str(payload.get("kind", "")).startswith("relayed"):
        return True  # the bot's own words (a notice, a reply): about them
    author = payload.get("author")
    header = author.get("header", "") if isinstance(author, dict) else ""
    return isinstance(header, str) and _mentions(header, needles)


def _scrub_transports(session: Session, forgetting: Forgetting) -> None:
    """Their chats the bot could not reach, and long callback values naming them."""
    chats = [
        (UnreachableChat.platform == platform) & (UnreachableChat.chat_id == room_id)
        for platform, room_id in forgetting.rooms
    ]
    if chats:
        session.execute(delete(UnreachableChat).where(or_(*chats)))
    needles = forgetting.needles()
    if needles:  # kept in the clear: searched by the database
        value = CallbackPayload.value
        naming = or_(*(value.contains(needle, autoescape=True) for needle in needles))
        session.execute(delete(CallbackPayload).where(naming))


# -- checking -------------------------------------------------------------------------------


def traces_in(session: Session, needles: tuple[str, ...]) -> list[str]:
    """Every text or sealed column, in every table, read unsealed, searched for needles."""
    found: list[str] = []
    if not needles:
        return found
    for table in Base.metadata.sorted_tables:
        columns = list(table.columns)
        for row in session.execute(select(table)):
            for column, value in zip(columns, row, strict=True):
                text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                if isinstance(text, str) and _mentions(text, needles):
                    found.append(f"{table.name}.{column.name}")
    return sorted(set(found))


# -- after the commit --------------------------------------------------------------------------


def truncate_log_after_erasure(sessions: sessionmaker[Session], engine: Engine) -> None:
    """On SQLite, once a unit that erased a member commits, checkpoint the write-ahead log
    into the database file and truncate it: its old frames still held the erased rows."""
    if engine.dialect.name != "sqlite":
        return

    def truncate(session: Session) -> None:
        # A savepoint's release is a commit too: the mark waits for the unit's own commit.
        if session.in_nested_transaction() or not session.info.pop(_ERASED, False):
            return
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy = cursor.fetchone()
            cursor.close()
        finally:
            connection.close()
        if busy and busy[0]:
            log.warning("erasure_log_not_truncated reason=busy")

    def forget(session: Session) -> None:
        if not session.in_nested_transaction():
            session.info.pop(_ERASED, None)

    event.listen(sessions, "after_commit", truncate)
    event.listen(sessions, "after_rollback", forget)
