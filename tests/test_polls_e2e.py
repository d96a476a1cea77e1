"""A poll's journey over real servers, on one database (the rules are tested over both in
test_polls.py and test_polls_voting.py): a coordinator sets a poll up on the console; it
goes out as Telegram's own poll to the group's chat (the Bot API emulator) and as a Matrix
poll to two rooms on a real Synapse, one of them encrypted. Three members vote on Telegram
and three on Matrix, one person on both through connected accounts; they change and take
back their votes. Closed from the console, the tally counts five voters, each once, and the
results go to every room the poll went to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.context import HandlerStore
from bot.types import Platform
from handlers.polls.labels import start_key
from handlers.polls.results import current_tally
from storage import Store
from storage.polls import PollState
from tests.harness.bridge_harness import BridgeBot, register_bot, write_bridge_config
from tests.harness.chat import console_chats
from tests.harness.databases import Backend
from tests.harness.matrix_harness import MatrixChat, MatrixMember, matrix_section
from tests.harness.synapse_server import SynapseServer
from tests.harness.telegram_emulator import BotApiEmulator
from tests.harness.telegram_harness import (
    USER_IDS,
    TelegramChat,
    TelegramGroup,
    make_token,
    telegram_section,
)
from tests.test_accounts_e2e import BothPlatforms, code_in
from tests.test_polls import post_poll

GROUP_CHAT = -1004321
POLL_END = "org.matrix.msc3381.poll.end"
TIMEOUT = 30.0


async def until(check: Callable[[], object], what: str, timeout: float = TIMEOUT) -> None:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never: {what}")
        await asyncio.sleep(0.05)


def config_text(emulator: BotApiEmulator, synapse: SynapseServer, bot, rooms: list[str]) -> str:  # type: ignore[no-untyped-def]
    listed = ", ".join(f'"{room}"' for room in rooms)
    return (
        'data_dir = "data"\n\n'
        "[[working_groups]]\n"
        'slug = "cawg"\n'
        'name = "Corporate Accountability"\n'
        'languages = ["en"]\n'
        f"telegram_chats = [{GROUP_CHAT}]\n"
        f"matrix_rooms = [{listed}]\n"
        'coordinators = ["console:local"]\n\n'
        "[limits]\nprivate_messages_per_minute = 10000\n\n"
        + telegram_section(emulator, "polling")
        + "\n"
        + matrix_section(synapse, bot)
    )


@pytest.mark.backends(Backend.SQLITE)
async def test_a_console_poll_is_voted_on_telegram_and_matrix_and_counts_each_person_once(
    tmp_path: Path, database_url: str, synapse: SynapseServer
) -> None:
    async with BotApiEmulator(make_token()) as emulator:
        bot_user = await register_bot(synapse)
        bo = await MatrixMember.create(synapse, "Bo")
        dee = await MatrixMember.create(synapse, "Dee")
        eve = await MatrixMember.create(synapse, "Eve", encrypted=True)
        members = (bo, dee, eve)
        try:
            plain, _ = await asyncio.gather(
                bo.open_group_room([dee.user_id, bot_user.user_id], wait_for=[dee.user_id]),
                dee.accept_invite(bo.user_id),
            )
            secret_room = await eve.open_group_room(
                [bot_user.user_id], encrypted=True, name="CAWG (encrypted)", wait_for=[]
            )
            TelegramGroup(emulator, GROUP_CHAT, "CAWG")
            text = config_text(emulator, synapse, bot_user, [plain, secret_room])
            config, _ = write_bridge_config(tmp_path, database_url, text, emulator, bot_user)
            bot = BridgeBot(config)
            services = await bot.start()
            try:
                await journey(
                    emulator, synapse, bot, services, config, bo, dee, eve, plain, secret_room
                )
            finally:
                await bot.stop()
        finally:
            for member in members:
                await member.close()


async def journey(  # type: ignore[no-untyped-def]
    emulator, synapse, bot, services, config, bo, dee, eve, plain, secret_room
) -> None:
    store = bot.store
    bot_id = bot_user_id(bot)
    group = TelegramGroup(emulator, GROUP_CHAT)  # made before the bot started
    for member, room in ((bo, plain), (dee, plain), (eve, secret_room)):
        await member.wait_until(
            lambda m=member, r=room: m.has_joined(r, bot_id), what="the bot to join", room_id=room
        )
    eve.trust_on_first_use()

    # One person, Carla, on Telegram ("boss") and Matrix (Eve): her accounts connected.
    both = BothPlatforms(bot)
    carla = TelegramChat(emulator, both, "boss")  # type: ignore[arg-type]
    code = code_in(await carla.send("/connect"))
    direct = await eve.open_direct_room(bot_id, encrypted=False)
    await MatrixChat(eve, both, direct).send(f"!connect {code}")  # type: ignore[arg-type]
    telegram_ids = {name: USER_IDS[name] for name in ("ana", "local", "boss")}
    on = {
        name: member_of(store, Platform.TELEGRAM, str(user)) for name, user in telegram_ids.items()
    } | {
        member.user_id: store.members.for_identity(
            Platform.MATRIX, member.user_id, language="en"
        ).id
        for member in (bo, dee, eve)
    }
    assert on["boss"] == on[eve.user_id]
    cawg = store.groups.by_slug("cawg")
    assert cawg is not None
    for member_id in set(on.values()):
        store.joining.add_member(member_id, cawg.id)

    # The coordinator sets the poll up on the console; it waits in the outboxes.
    async with console_chats(config, store) as chats:
        posted = await post_poll(chats("local"))
        assert "#1" in posted
        for platform in (Platform.TELEGRAM, Platform.MATRIX):
            services.wake(platform)
        await until(
            lambda: (
                len(store.posts.rooms_of(start_key(1))) == 3
                and all(room.message_id for room in store.posts.rooms_of(start_key(1)))
            ),
            "the poll delivered to the three rooms",
        )
        starts = {room.room_id: room.message_id for room in store.posts.rooms_of(start_key(1))}
        [native] = group.polls()
        assert not native["is_anonymous"] and native["close_date"]
        voters = {name: group.member(name) for name in telegram_ids}

        def counted() -> dict[str, tuple[int, ...]]:
            return {vote.voter: vote.choices for vote in store.polls.votes(1)}

        async def settled(expected: dict[int, tuple[int, ...]]) -> None:
            wanted = {f"member:{member_id}": choices for member_id, choices in expected.items()}
            await until(lambda: counted() == wanted, f"the votes {wanted} (have {counted()})")

        poll_id = str(native["id"])
        voters["ana"].vote(poll_id, 0)
        voters["ana"].vote(poll_id, 1)  # changed
        voters["local"].vote(poll_id, 0)
        voters["local"].vote(poll_id)  # taken back
        voters["boss"].vote(poll_id, 2)
        await settled({on["ana"]: (1,), on["boss"]: (2,)})
        voters["local"].vote(poll_id, 2)  # and cast again
        await bo.send_poll_response(plain, starts[plain], ["1"])
        await dee.send_poll_response(plain, starts[plain], ["0"], stable=True)
        await dee.send_poll_response(plain, starts[plain], ["2"], stable=True)  # changed
        await settled(
            {on["ana"]: (1,), on["boss"]: (2,), on["local"]: (2,), on[bo.user_id]: (1,)}
            | {on[dee.user_id]: (2,)}
        )
        # Carla again, on Matrix in the encrypted room: her latest vote, counted once.
        await eve.send_poll_response(secret_room, starts[secret_room], ["0"])
        final = {
            on["ana"]: (1,),
            on["boss"]: (0,),
            on["local"]: (2,),
            on[bo.user_id]: (1,),
            on[dee.user_id]: (2,),
        }
        await settled(final)

        closed = await chats("local").send("/closepoll 1")
        for platform in (Platform.TELEGRAM, Platform.MATRIX):
            services.wake(platform)
        record = store.polls.get(1)
        assert record is not None and record.state is PollState.CLOSED, closed
        tally = current_tally(HandlerStore.of(store), record)
        assert (tally.voters, tally.counts) == (5, (1, 2, 2))

    # Telegram stopped its poll once; every room got the results, with the picture.
    await until(lambda: group.polls()[0]["is_closed"], "Telegram's poll stopped")
    stops = [request for request in emulator.requests if request.method == "stopPoll"]
    assert len(stops) == 1
    await until(
        lambda: any(sent.kind == "photo" for sent in group.bot_posts()),
        "the results picture on Telegram "
        + repr([(sent.kind, (sent.text or "")[:80]) for sent in group.bot_posts()]),
    )
    for member, room in ((bo, plain), (eve, secret_room)):
        [end] = await member.wait_for_events(room, POLL_END, bot_id)
        assert end["content"]["m.relates_to"]["event_id"] == starts[room]
        await member.wait_until(
            lambda m=member, r=room: any(
                post.msgtype == "m.image" for post in m.posts(r, sender=bot_id)
            ),
            what="the results picture on Matrix",
            room_id=room,
        )
    await until(bot.idle, "every message delivered")
    assert stops == [request for request in emulator.requests if request.method == "stopPoll"]


def member_of(store: Store, platform: Platform, user_id: str) -> int:
    return store.members.for_identity(platform, user_id, language="en").id


def bot_user_id(bot: BridgeBot) -> str:
    assert bot.config.matrix is not None
    return bot.config.matrix.user_id
