"""Where a report is typed on Matrix, over a real Synapse: in a room that is not end-to-end
encrypted the bot first says the homeserver keeps everything typed there in the clear and
offers to go on in an encrypted direct chat, which it makes; nothing of the report is taken
in the clear unless the member chooses so, and that choice is recorded with the report,
shown to coordinators in /case N and in the export."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.types import Platform
from handlers.cases.export import export_row
from tests.harness.case_intake import ReportAnswers, case_number, consent, fill_report, text
from tests.harness.features import LazyMatrixChat
from tests.harness.matrix_harness import (
    MatrixBot,
    MatrixChat,
    MatrixMember,
    find_choice,
    matrix_config,
    unique_localpart,
)
from tests.harness.synapse_server import SynapseServer

MX = Platform.MATRIX
GROUP = "Corporate Accountability"


async def test_a_report_begun_in_a_room_in_the_clear_moves_to_an_encrypted_chat_or_stays_by_choice(
    tmp_path: Path, sqlite_url: str, synapse: SynapseServer
) -> None:
    # One journey over the real server, on one database: the consent's wording is tested
    # on the console over both in tests/test_cases_rules.py.
    cora = await MatrixMember.create(synapse, "Cora")
    ana = await MatrixMember.create(synapse, "Ana", encrypted=True)
    extra = f"""
[[working_groups]]
slug = "cawg"
name = "{GROUP}"
languages = ["en"]
coordinators = ["matrix:{cora.user_id}"]

[limits]
private_messages_per_minute = 10000
"""
    bot = MatrixBot(await matrix_config(tmp_path, sqlite_url, synapse, extra=extra))
    await bot.start()
    ben = LazyMatrixChat(synapse, bot, unique_localpart("ben"), encrypted=False)
    try:
        own = MatrixChat(cora, bot, await cora.open_direct_room(bot.user_id, encrypted=False))
        await own.send("!help")

        # Ana writes from a direct room in the clear (her client could encrypt; the room does not).
        plain = MatrixChat(ana, bot, await ana.open_direct_room(bot.user_id, encrypted=False))
        asked = await plain.send("!report")
        assert text("cases.channel_clear") in asked
        assert GROUP not in asked and text("cases.ask_reporter") not in asked

        # She chooses the encrypted chat: the bot makes it, invites her, and goes on there.
        found = find_choice(plain.shown, text("cases.channel_move"))
        assert found is not None
        picked = await ana.send_text(plain.room_id, str(found[1]))
        safe = await ana.accept_invite(bot.user_id)
        made = ana.client.rooms[safe]
        assert made.encrypted and made.join_rule == "invite"
        there = await ana.wait_for_posts(safe, bot.user_id, count=2)
        assert all(post.original.get("msgtype") == "m.notice" for post in there)
        assert text("cases.continued_encrypted") in str(there[0].body)
        assert consent(group=GROUP, channel="matrix_encrypted") in str(there[1].body)
        told = await ana.wait_for_posts(plain.room_id, bot.user_id, after=picked)
        assert text("cases.continue_encrypted", report="!report", cancel="!cancel") in str(
            told[0].body
        )
        assert GROUP not in str(told[0].body)

        # An answer typed in the clear room is not taken: only the pointer to the other room.
        refused = await plain.send(text("cases.consent_agree"))
        assert text("cases.continue_encrypted", report="!report", cancel="!cancel") in refused
        assert text("cases.ask_reporter") not in refused

        # The report goes on, and is filed, in the encrypted chat.
        moved = LazyMatrixChat.in_room(synapse, bot, MatrixChat(ana, bot, safe))
        answers = ReportAnswers(marker="Sf3")
        transcript = await fill_report(moved, "en", answers)
        assert consent(group=GROUP, channel="matrix_encrypted") in transcript.said["start"]
        accepting = asyncio.create_task(cora.accept_invite(bot.user_id))
        first = case_number(await moved.pick(text("conversation.submit")))
        await accepting
        bot_said_in_clear = "\n".join(
            str(post.body) for post in ana.posts(plain.room_id, bot.user_id)
        )
        for secret in [answers.title, *answers.secrets()]:
            assert secret not in bot_said_in_clear
        assert bot.store.members.notice_room(MX, ana.user_id) == safe

        # Ben, in a room in the clear, chooses to go on there: explicitly, and recorded.
        staying = ReportAnswers(marker="Cl9")
        said = await fill_report(ben, "en", staying)
        assert text("cases.channel_clear") in said.said["start"]
        assert consent(group=GROUP, channel="matrix_unencrypted") in said.said["channel"]
        second = case_number(await ben.pick(text("conversation.submit")))

        shown = await own.send(f"!case {second}")
        assert staying.title in shown
        assert text("cases.channel.matrix_unencrypted") in shown
        shown_first = await own.send(f"!case {first}")
        assert text("cases.channel.matrix_encrypted") in shown_first
        rows = {
            number: export_row(detail)
            for number in (first, second)
            if (detail := bot.store.cases.detail(number)) is not None
        }
        assert rows[first].channel == "matrix_encrypted"
        assert rows[second].channel == "matrix_unencrypted"
    finally:
        await ben.close()
        await ana.close()
        await cora.close()
        await bot.stop()
