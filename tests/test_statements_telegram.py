"""Signing a statement on Telegram, through the real transport, inbox, router and store
against the Bot API emulator: a member who is not their organization's signatory presses a
forged ``statement:sign:...`` button and types ``/sign N TAG``, and nothing is recorded; a
signatory's press on the button the bot gave them signs. What the bot decides otherwise is
tested on the console (``tests/test_statements_signing.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.types import Platform
from handlers.statements.common import hash_tag
from storage import Store
from storage.statement_records import (
    Answer,
    ListOrder,
    StatementFields,
    StatementRecord,
    WhoSigns,
    organization_signer,
)
from tests.harness.features import said
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import (
    TelegramBot,
    TelegramChat,
    make_token,
    render,
    settle,
    telegram_config,
)

pytestmark = [pytest.mark.e2e, pytest.mark.backends("sqlite")]

GROUP_ID = -100700
GROUPS = f"""
data_dir = "data"

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en"]
telegram_chats = [{GROUP_ID}]
coordinators = ["telegram:1002"]
"""
TEXT = "We call on the State to protect land defenders."


@pytest.fixture
async def running(
    tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[BotApiEmulator, TelegramBot]]:
    async with BotApiEmulator(make_token()) as emulator:
        emulator.add_group(GROUP_ID, "CAWG")
        bot = TelegramBot(telegram_config(tmp_path, database_url, emulator, extra=GROUPS))
        await bot.start()
        try:
            yield emulator, bot
        finally:
            await bot.stop()


def set_up(store: Store, signatory: str, member: str) -> StatementRecord:
    """Red Étnica, whose signatory is ``signatory`` and whose other member is ``member``,
    both in cawg; statement 1 of cawg, open."""
    cawg = store.groups.by_slug("cawg")
    assert cawg is not None
    with store.transaction():
        red = store.organizations.add("Red Étnica de Mujeres", "CO", "union")
        for user, signs in ((signatory, True), (member, False)):
            member_id = store.members.for_identity(Platform.TELEGRAM, user, language="en").id
            store.joining.add_member(member_id, cawg.id)
            store.organizations.claim(member_id, red.id)
            store.organizations.decide(member_id, red.id, confirm=True)
            store.organizations.set_signatory(member_id, red.id, signs)
        fields = StatementFields(
            working_group_id=cawg.id,
            title="Protect land defenders",
            language="en",
            deadline=datetime.now(UTC) + timedelta(days=7),
            who_signs=WhoSigns.GROUP,
            individuals=False,
            list_order=ListOrder.ALPHABETICAL,
            rooms=(("telegram", str(GROUP_ID)),),
            time_zone="UTC",
        )
        return store.statements.open(fields, TEXT, None, None)


async def test_a_non_signatory_s_forged_press_and_typed_sign_record_nothing_and_a_signatory_signs(
    running: tuple[BotApiEmulator, TelegramBot],
) -> None:
    emulator, bot = running
    signatory = TelegramChat(emulator, bot, "local")
    member = TelegramChat(emulator, bot, "ana")
    await signatory.send("/start")
    await member.send("/start")
    record = await asyncio.to_thread(set_up, bot.store, signatory.user_label, member.user_label)
    data = f"statement:sign:{record.id}:{hash_tag(record.current.text_hash)}"
    refused = said("statements.sign.not_signatory", number=record.id)

    [shown] = emulator.sent(member.user_id)[-1:]
    before = len(emulator.sent(member.user_id))
    update = emulator.press_button(
        member.user_id, member.user_id, shown.message_id, data, strict=False
    )
    await settle(emulator, bot.store, update["update_id"])
    answered = render(emulator.sent(member.user_id)[before:])
    assert refused in answered
    typed = await member.send(f"/sign {record.id} {hash_tag(record.current.text_hash)}")
    assert refused in typed
    assert bot.store.statements.signatures(record.id) == []

    offered = await signatory.send(f"/sign {record.id}")
    assert TEXT in offered and bot.store.statements.signatures(record.id) == []
    signed = await signatory.pick("Sign")
    assert "Signed: statement #1 (version 1), for Red Étnica de Mujeres." in signed
    [signature] = bot.store.statements.signatures(record.id)
    assert signature.signer == organization_signer(1) and signature.answer is Answer.SIGNED
    assert (
        signature.member_id
        == bot.store.members.for_identity(Platform.TELEGRAM, "1001", language="en").id
    )


async def test_a_signatory_who_never_wrote_privately_declining_in_the_group_is_asked_to_write(
    running: tuple[BotApiEmulator, TelegramBot],
) -> None:
    emulator, bot = running
    signatory = TelegramChat(emulator, bot, "local")  # never wrote to the bot privately
    member = TelegramChat(emulator, bot, "ana")
    record = await asyncio.to_thread(set_up, bot.store, signatory.user_label, member.user_label)
    before = len(emulator.sent(GROUP_ID))
    update = emulator.send_text(signatory.user_id, f"/decline {record.id}", chat_id=GROUP_ID)
    await settle(emulator, bot.store, update["update_id"])
    await emulator.wait_for(lambda: len(emulator.sent(GROUP_ID)) > before, timeout=20)
    answered = render(emulator.sent(GROUP_ID)[before:])
    assert said("statements.sign.open_private_chat", command="/start") in answered
    assert "Protect land defenders" not in answered and "Red Étnica" not in answered
    assert bot.store.statements.signatures(record.id) == []
