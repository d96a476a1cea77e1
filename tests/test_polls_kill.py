"""A poll across a ``kill -9``: the real ``caucus run`` on Telegram (the project's Bot API
emulator) posts the poll and counts a vote, is killed before the deadline and started again
after it; the poll closes once, Telegram's poll is stopped once and the results are posted
once.

SQLite only: closing once under racing connections is tested on both databases in
test_storage_polls.py, the scheduler's claiming in test_scheduler.py.
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
from handlers.polls import create
from storage import Store, WorkingGroupSpec
from storage.polls import (
    BallotKind,
    PollFields,
    PollKind,
    PollState,
    QuorumKind,
    ResultsShown,
    VotersAre,
)
from tests.harness.console_process import BotProcess
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import USER_IDS, TelegramGroup, make_token, telegram_section

CATALOGS = Catalogs.load()
GROUP = -1007777
LEAD = timedelta(seconds=10)
"""How far ahead of now the deadline falls: time for the first run to post, count and die."""
TG = Platform.TELEGRAM


def post_poll(
    store: Store,
    config: AppConfig,
    *,
    rooms: tuple[tuple[Platform, str], ...],
    lead: timedelta = LEAD,
    ballot: BallotKind = BallotKind.OPEN,
    options: tuple[str, ...] = ("Yes", "No"),
) -> int:
    """A poll of cawg set up as ``/poll`` does: stored, its close scheduled, its posts queued
    (for Telegram), its deadline ``lead`` from now."""
    cawg = store.groups.by_slug("cawg")
    assert cawg is not None
    coordinator = store.members.for_identity(TG, str(USER_IDS["coord"]), language="en")
    registry = build_registry()
    context = Context(
        origin=Origin(TG, str(USER_IDS["coord"]), str(USER_IDS["coord"]), is_direct=True),
        member=coordinator,
        role=Role.COORDINATOR,
        roles=store.groups.roles_of(coordinator.id),
        working_group=None,
        store=HandlerStore.of(store),
        registry=registry,
        config=config,
        languages=CATALOGS.languages,
    )
    fields = PollFields(
        working_group_id=cawg.id,
        question="Do we send a delegation to the Forum?",
        options=options,
        kind=PollKind.SIMPLE,
        max_selections=1,
        ballot=ballot,
        voters=VotersAre.MEMBERS,
        results=ResultsShown.AFTER_CLOSE,
        quorum=QuorumKind.NONE,
        quorum_value=0,
        deadline=store.now() + lead,
        time_zone="UTC",
        remind_before=None,
        rooms=rooms,
    )
    planners = {TG: lambda item: PLANNING[TG].parts(item, store.transports.callback_token)}
    with store.transaction():
        record = store.polls.create(fields, coordinator.id)
        create.schedule(context, record)
        posts = [
            CATALOGS.render_reply(reply, "en", reply.to.platform, reply.to.room_id)
            for reply in create.room_posts(context, record, cawg)
            if reply.to is not None
        ]
        queue_replies(store, posts, planners)
    return record.id


@pytest.mark.e2e  # the bot runs as a process of its own, killed with SIGKILL
async def test_a_poll_whose_deadline_passed_while_the_bot_was_killed_closes_once_after_restart(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with BotApiEmulator(make_token()) as emulator:
        group = TelegramGroup(emulator, GROUP, "CAWG")
        ana = group.member("ana")
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
                        "cawg",
                        "Corporate Accountability",
                        ("en",),
                        ((TG, str(GROUP)),),
                        (),
                        (),
                    )
                ],
                [],
                default_language="en",
            )
            poll = post_poll(store, config, rooms=((TG, str(GROUP)),))
            cawg = store.groups.by_slug("cawg")
            assert cawg is not None
            voter = store.members.for_identity(TG, str(ana.user_id), language="en")
            store.joining.add_member(voter.id, cawg.id)

            # Killed before the deadline: the poll went out and Ana's vote was counted.
            second = BotProcess(config_path, sqlite_url, secrets=token)
            try:
                await emulator.wait_for(lambda: bool(group.polls()), timeout=30)
                ana.vote(str(group.polls()[0]["id"]), 0)
                await emulator.wait_for(lambda: bool(store.polls.votes(poll)), timeout=30)
            finally:
                second.kill_hard()
            record = store.polls.get(poll)
            assert record is not None and record.state is PollState.OPEN
            assert not group.polls()[0]["is_closed"]

            wait = (record.fields.deadline - store.now()).total_seconds() + 1
            await asyncio.sleep(max(wait, 0))

            def stops() -> int:
                return sum(request.method == "stopPoll" for request in emulator.requests)

            def results() -> list[str]:
                """The results: the picture, with the text as its caption when it fits."""
                return [
                    sent.kind
                    for sent in group.bot_posts()
                    if sent.kind != "poll" and "Do we send a delegation" in sent.shown
                ]

            third = BotProcess(config_path, sqlite_url, secrets=token)
            try:
                await emulator.wait_for(lambda: stops() >= 1 and len(results()) >= 1, timeout=30)
                await asyncio.sleep(1.5)  # time for a second copy to show up
            finally:
                third.kill_hard()
            assert stops() == 1
            assert group.polls()[0]["is_closed"]
            assert results() == ["photo"]
            closed = store.polls.get(poll)
            assert closed is not None and closed.state is PollState.CLOSED
            done = store.scheduled.get(f"poll:{poll}:close")
            assert done is not None and done.state.value == "done"
