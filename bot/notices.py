"""Private notices: a message to one member, or to a working group's coordinators, in each
private chat they have with the bot, in the reader's own language.

A notice is a :class:`~bot.types.Reply` addressed elsewhere (``to`` and ``language`` set),
so it goes out through the outbox with the answer to the event that caused it, in the same
unit of work. The caller decides what a notice says; this module only decides where it goes.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from bot.types import Origin, Platform, Reply, Text
from storage.groups import GroupStore
from storage.members import MemberStore


class Directory(Protocol):
    """Where members' private chats and groups' coordinators are found (the store, or the
    handlers' view of it)."""

    @property
    def members(self) -> MemberStore: ...

    @property
    def groups(self) -> GroupStore: ...


PRIVATE_PLATFORMS = (Platform.TELEGRAM, Platform.MATRIX)
"""Where a member can have a private chat with the bot that a notice reaches (not the console)."""

NOTICE_ROOM_PREFIX = "notices:"
"""Matrix notices are addressed to ``notices:<user id>``, not to a room: the sender finds,
or makes on first need, the private room the bot itself holds with that account. (A room a
member merely wrote from may have been made by anyone, and may not stay private.)"""


ENCRYPTED_NOTICE_PREFIX = "notices+e2e:"
"""Like :data:`NOTICE_ROOM_PREFIX`, for what may go only into an end-to-end encrypted room:
the bot's room with that account, made encrypted (again) if it is not."""


def notice_address(user_id: str, *, encrypted: bool = False) -> str:
    """Where a Matrix notice to ``user_id`` is queued (see :data:`NOTICE_ROOM_PREFIX`);
    ``encrypted``: only into an end-to-end encrypted room."""
    return (ENCRYPTED_NOTICE_PREFIX if encrypted else NOTICE_ROOM_PREFIX) + user_id


def notice_recipient(address: str) -> str | None:
    """The account a notice address names; ``None`` for a room id."""
    for prefix in (NOTICE_ROOM_PREFIX, ENCRYPTED_NOTICE_PREFIX):
        if address.startswith(prefix):
            return address[len(prefix) :]
    return None


def notice_needs_encryption(address: str) -> bool:
    """Whether a notice address asks for an end-to-end encrypted room."""
    return address.startswith(ENCRYPTED_NOTICE_PREFIX)


def notify_member(
    store: Directory, member_id: int, text: Text, *, enabled: Collection[Platform]
) -> list[Reply]:
    """The notice, confidential, to each account of the member on an ``enabled`` platform
    that has written to the bot privately: into that private chat on Telegram, into the
    bot's own room with them on Matrix; none for an unknown member or one who never wrote
    to the bot privately."""
    member = store.members.get(member_id)
    if member is None:
        return []
    notices = []
    for contact in store.members.direct_contacts_of(member_id):
        platform = contact.platform
        if platform not in PRIVATE_PLATFORMS or platform not in enabled:
            continue
        room = (
            notice_address(contact.user_id)
            if platform is Platform.MATRIX
            else contact.direct_room_id
        )
        notices.append(
            Reply(
                text,
                to=Origin(platform=platform, room_id=room, user_id=contact.user_id, is_direct=True),
                language=member.language,
                confidential=True,
            )
        )
    return notices


def notify_coordinators(
    store: Directory, working_group_id: int, text: Text, *, enabled: Collection[Platform]
) -> list[Reply]:
    """The notice to each coordinator of the working group (its coordinators and its own
    admins), as :func:`notify_member` sends it; an empty list when none can be reached."""
    notices: list[Reply] = []
    for member_id in store.groups.coordinators_of(working_group_id):
        notices.extend(notify_member(store, member_id, text, enabled=enabled))
    return notices
