"""A consultation's reminder across a ``kill -9``: the real ``caucus run`` on Telegram (the
project's Bot API emulator), killed before the reminder's time and started again after it,
sends the reminder exactly once.

SQLite only: the scheduler's claiming is tested on both databases in test_scheduler.py.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import load_config
from bot.i18n import Catalogs
from bot.keys import sealer_for
from bot.types import Message, Platform
from handlers.consultations_alerts import REMINDER
from storage import Store, WorkingGroupSpec
from storage.consultations import ConsultationFields, ConsultationState, SubscriptionKind
from tests.harness.console_process import BotProcess
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import USER_IDS, make_token, telegram_section

CATALOGS = Catalogs.load()
LEAD = timedelta(seconds=6)
"""How far ahead of now the reminder falls due: time for the first run to start and die."""


@pytest.mark.e2e  # the bot runs as a process of its own, killed with SIGKILL
async def test_a_reminder_due_while_the_bot_was_killed_is_sent_once_after_the_restart(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with BotApiEmulator(make_token()) as emulator:
        ana = USER_IDS["ana"]
        emulator.add_user(ana, "Ana", language_code="en")
        config_path = tmp_path / "config.toml"
        config_path.write_text(
            'data_dir = "data"\n'
            '[[working_groups]]\nslug = "cawg"\nname = "Corporate Accountability"\n'
            'languages = ["en"]\n\n' + telegram_section(emulator, "polling"),
            "utf-8",
        )
        token = {"CAUCUS_TELEGRAM_TOKEN": emulator.token}
        config = load_config(config_path, env={"CAUCUS_DATABASE_URL": sqlite_url, **token})
        with Store(sqlite_url, sealer=sealer_for(config)) as store:
            store.upgrade()
            store.groups.sync_configured(
                [WorkingGroupSpec("cawg", "Corporate Accountability", ("en",), (), (), ())],
                [],
                default_language="en",
            )
            member = store.members.for_identity(
                Platform.TELEGRAM, str(ana), language="en", direct_room=str(ana)
            )
            store.consultations.subscribe(member.id, SubscriptionKind.ALL, "")
            due = store.now() + LEAD
            record = store.consultations.create(
                ConsultationFields(
                    title="Call for input on tailings dams",
                    deadline=due + timedelta(days=1),
                    time_zone="UTC",
                ),
                None,
            )
            store.consultations.set_state(record.id, ConsultationState.PUBLISHED)
            key = f"consultation:{record.id}:reminder:P1D"
            store.scheduled.schedule(
                key, REMINDER, due, {"consultation": record.id, "offset": "P1D"}
            )

            # Killed before the reminder's time: it is still to come.
            first = BotProcess(config_path, sqlite_url, secrets=token)
            try:
                emulator.send_text(ana, "/whoami")
                await emulator.wait_for(lambda: len(emulator.sent(ana)) >= 1, timeout=30)
            finally:
                first.kill_hard()
            assert len(emulator.sent(ana)) == 1

            wait = (due - store.now()).total_seconds() + 1
            await asyncio.sleep(max(wait, 0))
            reminder = CATALOGS.renderer("en", Platform.TELEGRAM).label(
                Message.of("consult.reminder", number=record.id, title=record.title)
            )[:30]

            def reminders() -> int:
                return sum(reminder in (m.plain_text or "") for m in emulator.sent(ana))

            second = BotProcess(config_path, sqlite_url, secrets=token)
            try:
                await emulator.wait_for(lambda: reminders() >= 1, timeout=30)
                await asyncio.sleep(1.5)  # time for a second copy to show up
            finally:
                second.kill_hard()
            assert reminders() == 1
            done = store.scheduled.get(key)
            assert done is not None and done.state.value == "done"
