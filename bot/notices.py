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


def notify_member(
    store: Directory, member_id: int, text: Text, *, enabled: Collection[Platform]
) -> list[Reply]:
    """The notice in each private chat the member has with the bot on an ``enabled``
    platform; none for an unknown member or one who never wrote to the bot privately."""
    member = store.members.get(member_id)
    if member is None:
        return []
    return [
        Reply(
            text,
            to=Origin(platform=platform, room_id=room, user_id="", is_direct=True),
            language=member.language,
        )
        for platform, room in store.members.direct_rooms_of(member_id)
        if platform in PRIVATE_PLATFORMS and platform in enabled
    ]


def notify_coordinators(
    store: Directory, working_group_id: int, text: Text, *, enabled: Collection[Platform]
) -> list[Reply]:
    """The notice to each coordinator of the working group (its coordinators and its own
    admins), as :func:`notify_member` sends it; an empty list when none can be reached."""
    notices: list[Reply] = []
    for member_id in store.groups.coordinators_of(working_group_id):
        notices.extend(notify_member(store, member_id, text, enabled=enabled))
    return notices
