"""Signing across ``kill -9``: the real ``caucus run`` on Telegram (the project's Bot API
emulator) announces a statement; Alpha's signatory presses "Sign" and the bot is killed at
once; started again, it records the signature once. The reminder to Beta, which has not
answered, goes out; the bot is killed once its delivery is recorded, and started again, it
does not send it again. Alpha, which signed, is never reminded.

SQLite only: one signature per organization under racing connections is tested on both
databases in test_storage_statements.py, the scheduler's claiming in test_scheduler.py.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import build_registry
from bot.config import AppConfig, load_config
from bot.context import Context, HandlerStore
from bot.i18n import Catalogs
from bot.keys import sealer_for
from bot.queueing import queue_replies
from bot.transports.planning import PLANNING
from bot.types import Origin, Platform, Role
from handlers.statements import common, signing
from storage import Store, WorkingGroupSpec
from storage.statement_records import (
    Answer,
    ListOrder,
    StatementFields,
    WhoSigns,
    organization_signer,
)
from tests.harness.console_process import BotProcess
from tests.harness.telegram_emulator import BotApiEmulator, SentMessage
from tests.harness.telegram_harness import USER_IDS, TelegramGroup, make_token, telegram_section

CATALOGS = Catalogs.load()
GROUP = -1007788
LEAD = timedelta(seconds=12)
"""How far ahead of now the reminder falls: time for the first runs to announce and sign."""
TG = Platform.TELEGRAM
TEXT = "We, the undersigned organizations, call on the State to protect land defenders."


def open_statement(store: Store, config: AppConfig) -> tuple[int, dict[str, int]]:
    """Alpha (Ana signs for it) and Beta ("boss" signs for it) in cawg, and statement 1 of
    cawg opened as ``/statement`` opens it: stored, its close and its reminder (an hour before
    the deadline, due ``LEAD`` from now) scheduled, its messages queued for Telegram."""
    cawg = store.groups.by_slug("cawg")
    assert cawg is not None
    coordinator = store.members.for_identity(TG, str(USER_IDS["coord"]), language="en")
    context = Context(
        origin=Origin(TG, str(USER_IDS["coord"]), str(USER_IDS["coord"]), is_direct=True),
        member=coordinator,
        role=Role.COORDINATOR,
        roles=store.groups.roles_of(coordinator.id),
        working_group=None,
        store=HandlerStore.of(store),
        registry=build_registry(),
        config=config,
        languages=CATALOGS.languages,
    )
    organizations: dict[str, int] = {}
    planners = {TG: lambda item: PLANNING[TG].parts(item, store.transports.callback_token)}
    with store.transaction():
        for key, name, user in (("alpha", "Alpha Derechos", "ana"), ("beta", "Beta", "boss")):
            member = store.members.for_identity(TG, str(USER_IDS[user]), language="en")
            store.joining.add_member(member.id, cawg.id)
            organizations[key] = store.organizations.add(name, "CO", "ngo").id
            store.organizations.claim(member.id, organizations[key])
            store.organizations.decide(member.id, organizations[key], confirm=True)
            store.organizations.set_signatory(member.id, organizations[key], True)
        fields = StatementFields(
            working_group_id=cawg.id,
            title="Protect land defenders",
            language="en",
            deadline=store.now() + timedelta(hours=1) + LEAD,
            who_signs=WhoSigns.GROUP,
            individuals=False,
            list_order=ListOrder.ALPHABETICAL,
            rooms=((TG.value, str(GROUP)),),
            time_zone="UTC",
            remind_hours_before=(1,),
        )
        record = store.statements.open(fields, TEXT, None, coordinator.id)
        common.schedule_work(context.store, record)
        posts = [
            CATALOGS.render_reply(reply, "en", reply.to.platform, reply.to.room_id)
            for reply in signing.announce(context, record)
            if reply.to is not None
        ]
        queue_replies(store, posts, planners)
    return record.id, organizations


def request_of(emulator: BotApiEmulator, user_id: int) -> SentMessage | None:
    for sent in emulator.sent(user_id):
        if any(data.startswith("statement:sign:") for data in sent.button_data):
            return sent
    return None


def reminders(emulator: BotApiEmulator, user_id: int) -> int:
    return sum(sent.shown.startswith("Reminder:") for sent in emulator.sent(user_id))


@pytest.mark.e2e  # the bot runs as a process of its own, killed with SIGKILL
async def test_a_signature_pressed_as_the_bot_is_killed_counts_once_and_no_reminder_repeats(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with BotApiEmulator(make_token()) as emulator:
        TelegramGroup(emulator, GROUP, "CAWG")
        ana, boss = USER_IDS["ana"], USER_IDS["boss"]
        for user, name in ((ana, "Ana"), (boss, "Boss")):
            emulator.add_user(user, name)
        config_path = tmp_path / "config.toml"
        config_path.write_text(
            'data_dir = "data"\n'
            '[[working_groups]]\nslug = "cawg"\nname = "Corporate Accountability"\n'
            f'languages = ["en"]\ntelegram_chats = [{GROUP}]\n'
            f'coordinators = ["telegram:{USER_IDS["coord"]}"]\n\n'
            + telegram_section(emulator, "polling"),
            "utf-8",
        )
        token = {"CAUCUS_TELEGRAM_TOKEN": emulator.token}
        config = load_config(config_path, env={"CAUCUS_DATABASE_URL": sqlite_url, **token})

        with Store(sqlite_url, sealer=sealer_for(config)) as store:
            store.upgrade()
            store.groups.sync_configured(
                [
                    WorkingGroupSpec(
                        "cawg", "Corporate Accountability", ("en",), ((TG, str(GROUP)),), (), ()
                    )
                ],
                [],
                default_language="en",
            )

            # Both signatories write to the bot first (a bot may not write first).
            first = BotProcess(config_path, sqlite_url, secrets=token)
            try:
                for user in (ana, boss):
                    emulator.send_text(user, "/start")
                await emulator.wait_for(
                    lambda: all(emulator.sent(user) for user in (ana, boss)), timeout=30
                )
            finally:
                first.kill_hard()
            statement, organizations = open_statement(store, config)
            alpha = organization_signer(organizations["alpha"])

            # Ana presses "Sign"; the bot is killed at that moment.
            second = BotProcess(config_path, sqlite_url, secrets=token)
            try:
                await emulator.wait_for(lambda: request_of(emulator, ana) is not None, timeout=30)
                request = request_of(emulator, ana)
                assert request is not None
                [sign] = [d for d in request.button_data if d.startswith("statement:sign:")]
                emulator.press_button(ana, ana, request.message_id, sign)
            finally:
                second.kill_hard()

            # Started again: the signature is recorded, and the reminder goes to Beta alone;
            # killed again the moment it is delivered.
            third = BotProcess(config_path, sqlite_url, secrets=token)
            try:
                await emulator.wait_for(
                    lambda: bool(store.statements.signatures(statement)), timeout=30
                )
                await emulator.wait_for(lambda: reminders(emulator, boss) >= 1, timeout=60)
                # Once its delivery is recorded: Telegram has no idempotency key, so a kill
                # between Telegram's acceptance and the record may repeat that one message
                # (the outbox's documented limit, not the scheduler's).
                await emulator.wait_for(lambda: not store.outbox.pending(TG), timeout=30)
            finally:
                third.kill_hard()

            fourth = BotProcess(config_path, sqlite_url, secrets=token)
            try:
                await asyncio.sleep(4)  # time for a second reminder, were it owed
            finally:
                fourth.kill_hard()

            [signature] = store.statements.signatures(statement)
            assert (signature.signer, signature.answer, signature.stands) == (
                alpha,
                Answer.SIGNED,
                True,
            )
            assert len(store.statements.history(statement)) == 1
            assert reminders(emulator, boss) == 1
            assert reminders(emulator, ana) == 0
            done = store.scheduled.get(common.reminder_key(statement, 1))
            assert done is not None and done.state.value == "done"
