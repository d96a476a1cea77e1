"""A case report's history as its readers see it: every step, when, and who took it.

Coordinators of the report's group see which coordinator acted (name and member number);
its author sees "the coordinators", never a name, and "you" for their own steps.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.context import HandlerStore
from bot.moments import moment
from bot.types import Literal, Message
from storage.case_records import CaseDetail
from storage.records import MemberRecord

HISTORY_KEYS = {
    "question": "cases.history_question",
    "answer": "cases.history_answer",
}


def history_lines(
    detail: CaseDetail,
    coordinator: bool,
    names: Mapping[int, str | None],
    reader: MemberRecord,
) -> list[Message]:
    """Every step of the report's history, with its time (in the reader's language and time
    zone) and who took it. Coordinators see which coordinator acted; the author sees "the
    coordinators", never a name."""
    lines = []
    for event in detail.events:
        if event.kind in HISTORY_KEYS:
            key = HISTORY_KEYS[event.kind]
        elif event.kind == "status" and event.status is not None:
            key = "cases.history_reason" if event.text else "cases.history_status"
        else:
            continue
        lines.append(
            Message.of(
                key,
                date=Literal(moment(event.created_at, reader.language, reader.time_zone)),
                who=_actor(detail, event.actor_member_id, coordinator, names),
                status=Message.of(f"cases.status.{(event.status or detail.summary.status).value}"),
                text=Literal(event.text or ""),
            )
        )
    return lines


def _actor(
    detail: CaseDetail, member_id: int | None, coordinator: bool, names: Mapping[int, str | None]
) -> Message | Literal:
    if member_id is not None and member_id == detail.summary.author_member_id:
        return Message.of("cases.actor_author" if coordinator else "cases.actor_you")
    if not coordinator:
        return Message.of("cases.actor_coordinators")
    if member_id is None or member_id not in names:
        return Message.of("cases.actor_gone")
    name = names[member_id]
    if name:
        return Message.of("cases.actor_named", name=Literal(name), number=member_id)
    return Message.of("cases.actor_member", number=member_id)


def actor_names(store: HandlerStore, detail: CaseDetail) -> dict[int, str | None]:
    """The display names of the members who acted on the report (for its coordinators)."""
    names: dict[int, str | None] = {}
    for event in detail.events:
        if event.actor_member_id is not None and event.actor_member_id not in names:
            member = store.members.get(event.actor_member_id)
            if member is not None:
                names[member.id] = member.display_name
    return names
