"""Telling a voter privately, and deciding whether what they cast may count: shared by
open ballots (:mod:`handlers.polls.voting`), secret ballots (:mod:`handlers.polls.secret`)
and blocks (:mod:`handlers.polls.blocks`)."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.context import Context
from bot.notices import notice_address, notify_member
from bot.types import Message, Origin, Platform, Reply, Text
from handlers.polls.results import voter_key_of
from storage.polls import PollRecord, PollState, VotersAre

log = logging.getLogger(__name__)


def privately(context: Context, text: Text) -> list[Reply]:
    """``text`` for the voter's eyes only: where they wrote from when that is a private
    chat (a Telegram poll answer comes from one), else in the bot's private room with them
    (a Matrix poll response comes from the group room), else their private chats."""
    origin = context.origin
    if origin.is_direct:
        return [Reply(text, confidential=True)]
    if origin.platform is Platform.MATRIX:
        room = notice_address(origin.user_id)
        to = Origin(Platform.MATRIX, room, origin.user_id, is_direct=True)
        return [Reply(text, to=to, language=context.member.language, confidential=True)]
    return notify_member(
        context.store, context.member.id, text, enabled=context.config.enabled_platforms
    )


def said_once(
    context: Context, record: PollRecord, what: str, text: Text, *, once: bool = True
) -> list[Reply]:
    """``text`` privately, the first time only (``what``: ``late``, ``not_member``); every
    time when not ``once`` (an answer to a member's own request)."""
    if not once or context.store.polls.note_once(record.id, context.member.id, what):
        return privately(context, text)
    return []


def late(context: Context, record: PollRecord, *, once: bool = True) -> list[Reply]:
    log.info("poll_vote_late poll=%d member=%d", record.id, context.member.id)
    text = Message.of("polls.vote.late", number=record.id)
    return said_once(context, record, "late", text, once=once)


def admitted(
    context: Context, record: PollRecord, cast_at: datetime, *, once: bool = True
) -> tuple[str | None, list[Reply]]:
    """Whose vote the member casts now (their voter key), or ``None`` and what they are
    told (once, unless not ``once``): the poll is closed or past its deadline, or they may
    not vote in it."""
    if record.state is PollState.CLOSED or cast_at > record.fields.deadline:
        return None, late(context, record, once=once)
    voter = voter_key_of(context.store, record, context.member.id)
    if voter is None:
        log.info("poll_vote_not_counted poll=%d member=%d", record.id, context.member.id)
        key = (
            "polls.vote.not_signatory"
            if record.fields.voters is VotersAre.ORGANIZATIONS
            else "polls.vote.not_member"
        )
        text = Message.of(key, number=record.id)
        return None, said_once(context, record, "not_member", text, once=once)
    return voter, []
