"""The consultation journey over real servers, on one database (the rules are tested over
both in tests/test_consultations.py): a coordinator describes and publishes a consultation
on Telegram, pressing the conversation's buttons; a member subscribed on Telegram is
alerted in Spanish, one subscribed on Matrix in French, each with the buttons to answer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.types import Platform
from storage.consultations import ConsultationState
from tests.harness.attentive_member import AttentiveMember
from tests.harness.bridge_harness import BridgeBot, register_bot, write_bridge_config
from tests.harness.features import first_line
from tests.harness.matrix_harness import matrix_section
from tests.harness.synapse_server import SynapseServer
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import make_token, telegram_section

COORDINATOR = 1002
MEMBER = 1001
TIMEOUT = 20.0


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(make_token()) as running:
        yield running


def button(emulator: BotApiEmulator, chat: int, label: str) -> tuple[int, str] | None:
    """The newest message's button with that label."""
    for message in reversed(emulator.sent(chat)):
        for row in (message.reply_markup or {}).get("inline_keyboard", []):
            for found in row:
                if found["text"] == label:
                    return message.message_id, found["callback_data"]
    return None


async def test_a_consultation_published_on_telegram_alerts_subscribers_on_both_platforms(
    tmp_path: Path, sqlite_url: str, synapse: SynapseServer, emulator: BotApiEmulator
) -> None:
    bot_user = await register_bot(synapse)
    ana = await AttentiveMember.create(synapse, "Ana")
    ana.inviter = bot_user.user_id
    config_text = (
        'data_dir = "data"\n\n'
        "[[working_groups]]\n"
        'slug = "cawg"\n'
        'name = "Corporate Accountability"\n'
        'languages = ["en"]\n'
        f'coordinators = ["telegram:{COORDINATOR}"]\n\n'
        + telegram_section(emulator, "polling")
        + "\n"
        + matrix_section(synapse, bot_user)
    )
    config, _ = write_bridge_config(tmp_path, sqlite_url, config_text, emulator, bot_user)
    bot = BridgeBot(config)
    await bot.start()
    store = bot.store
    try:
        emulator.add_user(COORDINATOR, "Coord")
        emulator.add_user(MEMBER, "Luis")
        for text in ("/language es", "/subscribe topic mining"):
            emulator.send_text(MEMBER, text)
        direct = await ana.open_direct_room(bot_user.user_id, encrypted=False)
        for text in ("!language fr", "!subscribe topic mining"):
            await ana.send_text(direct, text)
        emulator.send_text(COORDINATOR, "/start")
        await emulator.wait_for(lambda: bool(emulator.sent(COORDINATOR)), timeout=TIMEOUT)
        coordinator = store.members.for_identity(
            Platform.TELEGRAM, str(COORDINATOR), language="en"
        ).id

        def at(step: str, pending: Callable[[object], bool] = lambda _: True) -> Callable[[], bool]:
            def check() -> bool:
                state = store.conversations.load(coordinator)
                return state is not None and state.step == step and pending(state.data["pending"])

            return check

        async def typed(text: str, then: str) -> None:
            emulator.send_text(COORDINATOR, text)
            await emulator.wait_for(at(then), timeout=TIMEOUT)

        async def pressed(label: str, then: Callable[[], bool]) -> None:
            await emulator.wait_for(
                lambda: button(emulator, COORDINATOR, label) is not None, timeout=TIMEOUT
            )
            found = button(emulator, COORDINATOR, label)
            assert found is not None
            emulator.press_button(COORDINATOR, COORDINATOR, *found)
            await emulator.wait_for(then, timeout=TIMEOUT)

        await typed("/newconsultation", "title")
        await typed("Call for input on extractive industries", "issuer")
        await typed("OHCHR", "kind")
        await pressed("Call for input", at("summary"))
        for then in ("link", "submit_how", "languages", "length_limit", "deadline"):
            await typed("/skip", then)
        await typed("2027-01-15 17:00 Europe/Zurich", "sessions")
        await typed("/skip", "topics")
        await pressed("Mining", at("topics", lambda pending: "sector:mining" in str(pending)))
        await pressed("Done", at("regions"))
        await typed("/skip", "countries")
        await typed("/skip", "reminders")
        await typed("/skip", "publish")
        await pressed("Publish now", at("~review"))
        await pressed("Submit", lambda: store.conversations.load(coordinator) is None)

        record = store.consultations.get(1)
        assert record is not None and record.state is ConsultationState.PUBLISHED
        spanish = first_line("consult.alert", "es")
        await emulator.wait_for(
            lambda: any(spanish in message.plain_text for message in emulator.sent(MEMBER)),
            timeout=TIMEOUT,
        )
        alert = next(m for m in emulator.sent(MEMBER) if spanish in m.plain_text)
        assert alert.button_data == ["consult:contribute:1", "consult:interested:1"]
        french = first_line("consult.alert", "fr")
        await ana.wait_until(
            lambda: any(french in body for body in ana.bot_bodies()), what="the French alert"
        )
        # The coordinator is a member of the group: alerted too, in English.
        english = first_line("consult.alert")
        await emulator.wait_for(
            lambda: any(english in message.plain_text for message in emulator.sent(COORDINATOR)),
            timeout=TIMEOUT,
        )
    finally:
        await bot.stop()
        await ana.close()
