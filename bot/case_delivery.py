"""What the outbox checks, just before sending, of a message carrying a case report.

A message queued with a report's contents names the report (:attr:`BotMessage.cases`); an
evidence file is queued as a reference (:class:`bot.types.StoredFile`), not its bytes.
When such a message's turn comes, the report must still exist, and each file is read then,
after checking again that its reader may have it (the report's author, or a coordinator of
its working group, as :mod:`handlers.cases.review` rules). Otherwise nothing is sent.
"""

from __future__ import annotations

import dataclasses

from bot.outgoing import BotMessage, OutgoingItem
from bot.types import Media, Role
from storage import Store


def may_read_case(store: Store, member_id: int, case_id: int) -> bool:
    """Whether the member may read the report: its author, or one of its group's
    coordinators and admins (never network admins or other groups' coordinators)."""
    summary = store.cases.summary(case_id)
    if summary is None:
        return False
    if summary.author_member_id == member_id:
        return True
    role = store.groups.roles_of(member_id).by_group.get(summary.working_group_id, Role.MEMBER)
    return role.includes(Role.COORDINATOR)


def opened_for_sending(store: Store, item: OutgoingItem) -> OutgoingItem | None:
    """The item as it may be sent now, its stored files read; ``None`` when something it
    carries is no longer there to send (the report withdrawn, a file deleted, the reader
    no longer allowed). Items carrying no report are returned as they are."""
    if not isinstance(item, BotMessage) or not item.cases:
        return item
    if store.cases.existing(list(item.cases)) != set(item.cases):
        return None
    opened: list[Media] = []
    for media in item.media:
        stored = media.stored
        if stored is None:
            opened.append(media)
            continue
        if stored.case_id not in item.cases or not may_read_case(
            store, stored.reader_member_id, stored.case_id
        ):
            return None
        found = store.cases.stored_file(stored.case_id, stored.attachment_id)
        if found is None:
            return None
        opened.append(dataclasses.replace(media, data=found.data, stored=None))
    return dataclasses.replace(item, media=tuple(opened))
