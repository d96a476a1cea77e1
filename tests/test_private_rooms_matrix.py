"""A Matrix room that only looks private, on a real Synapse: a stranger makes a public,
world-readable room, invites the bot and a coordinator, and leaves. Nothing confidential is
posted there, neither at the coordinator's request nor by the outbox later; a notice goes to
a room the bot itself made with the coordinator."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

from nio import RoomCreateResponse, RoomMessagesResponse, RoomPreset
from sqlalchemy import select

from bot.i18n import Catalogs
from bot.notices import notice_address
from bot.outgoing import BotMessage
from bot.outgoing_json import to_json
from bot.types import Platform
from storage import DeliveryStatus
from storage.models import OutboxMessage
from tests.harness.case_intake import ReportAnswers, case_number, fill_report, text
from tests.harness.features import LazyMatrixChat
from tests.harness.matrix_harness import (
    REPLY_TIMEOUT,
    MatrixBot,
    MatrixChat,
    MatrixMember,
    matrix_config,
    unique_localpart,
)
from tests.harness.synapse_server import SynapseServer

MX = Platform.MATRIX
CATALOGS = Catalogs.load()


def fragment(key: str) -> str:
    """The longest stretch of the English text without a placeholder."""
    return max(re.split(r"\{[^}]*\}", CATALOGS.template("en", key)), key=len).strip()


async def public_world_readable_room(stranger: MatrixMember, invite: list[str]) -> str:
    created = await stranger.client.room_create(
        name="Caucus",
        preset=RoomPreset.public_chat,
        invite=invite,
        initial_state=[
            {
                "type": "m.room.history_visibility",
                "state_key": "",
                "content": {"history_visibility": "world_readable"},
            }
        ],
    )
    assert isinstance(created, RoomCreateResponse), created
    return str(created.room_id)


async def bodies_read_by(member: MatrixMember, room_id: str) -> list[str]:
    """Every message body in the room's history, as ``member`` can page through it now."""
    await member.sync(0)
    page = await member.client.room_messages(room_id, start="", limit=500)
    assert isinstance(page, RoomMessagesResponse), page
    return [str(getattr(event, "body", "")) for event in page.chunk]


async def test_a_room_a_stranger_made_gets_nothing_confidential_and_notices_go_to_the_bots_room(
    tmp_path: Path, sqlite_url: str, synapse: SynapseServer
) -> None:
    # One journey over the real server, on one database: the storage is tested on both in
    # tests/test_private_rooms.py.
    cora = await MatrixMember.create(synapse, "Cora")
    eve = await MatrixMember.create(synapse, "Eve")
    extra = f"""
[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en"]
coordinators = ["matrix:{cora.user_id}"]
"""
    bot = MatrixBot(await matrix_config(tmp_path, sqlite_url, synapse, extra=extra))
    await bot.start()
    ana = LazyMatrixChat(synapse, bot, unique_localpart("ana"), encrypted=False)
    try:
        # The coordinator's own direct chat: where they talk to the bot.
        own = MatrixChat(cora, bot, await cora.open_direct_room(bot.user_id, encrypted=False))
        await own.send("!help")
        answers = ReportAnswers(marker="Pv4")
        await fill_report(ana, "en", answers)
        # The notice: in a room the bot made (invite-only, history from joining), once joined.
        accepting = asyncio.create_task(cora.accept_invite(bot.user_id))
        number = case_number(await ana.pick(text("conversation.submit")))
        notices = await accepting
        assert notices != own.room_id
        made = cora.client.rooms[notices]
        assert (made.join_rule, made.history_visibility) == ("invite", "joined")
        notice = await cora.wait_until(
            lambda: next(
                (e for e in cora.timeline(notices) if str(number) in str(e.get("body"))), None
            ),
            what="the new report's notice",
            room_id=notices,
        )
        assert fragment("cases.new_report_notice") in str(notice["body"])
        assert bot.store.members.notice_room(MX, cora.user_id) == notices

        # A stranger's public, world-readable room, with the bot and the coordinator alone.
        lure = await public_world_readable_room(eve, [bot.user_id, cora.user_id])
        await cora.accept_invite(eve.user_id)
        await eve.wait_until(lambda: eve.has_joined(lure, bot.user_id), what="the bot's join")
        await eve.client.room_leave(lure)
        await cora.wait_until(
            lambda: eve.user_id not in cora.client.rooms[lure].users, what="Eve's leave"
        )
        asked = MatrixChat(cora, bot, lure)
        refusal = await asked.send(f"!case {number}")
        assert fragment("privacy.room_not_private") in refusal

        # Something confidential queued for that room anyway is withheld when it is sent.
        (queued,) = bot.store.outbox.enqueue(
            [(MX, lure, to_json(BotMessage(f"{answers.title}", private_to=cora.user_id,
                                           withheld_note="withheld: open a new direct chat")))]
        )  # fmt: skip
        assert bot.service is not None
        bot.service.wake(MX)
        deadline = time.monotonic() + REPLY_TIMEOUT
        while bot.store.outbox.targets([queued])[queued].status is DeliveryStatus.PENDING:
            assert time.monotonic() < deadline, "the confidential message is still pending"
            await asyncio.sleep(0.2)
        assert bot.store.outbox.targets([queued])[queued].status is DeliveryStatus.FAILED
        with bot.store._sessions.begin() as session:
            reason = session.scalar(
                select(OutboxMessage.failure_reason).where(OutboxMessage.id == queued)
            )
        assert reason is not None and "not private" in reason and "join_rule" in reason

        def withheld_note_shown() -> bool:
            return any("open a new direct chat" in str(e.get("body")) for e in cora.timeline(lure))

        await cora.wait_until(withheld_note_shown, what="the withheld note", room_id=lure)

        # Eve comes back and reads the whole history: nothing confidential is in it.
        await eve.client.join(lure)
        seen = "\n".join(await bodies_read_by(eve, lure))
        assert fragment("privacy.room_not_private") in seen
        for secret in [answers.title, *answers.secrets()]:
            assert secret not in seen
        assert not bot.store.members.is_private_room(MX, lure)
        # Every notice the coordinator is owed goes to the bot's room, not to where they wrote.
        assert notice_address(cora.user_id) not in (lure, own.room_id)
    finally:
        await ana.close()
        await cora.close()
        await eve.close()
        await bot.stop()
