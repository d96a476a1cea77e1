"""A joint statement's journey over real servers, on one database (the rules are tested over
both in test_statements_*.py): a coordinator drafts it on Telegram (the Bot API emulator),
its text sent as a Markdown file; it is announced in the group's Telegram chat and Matrix
room (a real Synapse) and privately to each organization's signatories. Alpha's signatory
signs on Telegram, Beta's on Matrix, and Gamma's, one person with connected Telegram and
Matrix accounts, from Matrix; Delta's declines; a member of Beta who is not its signatory
cannot sign for it on Matrix; Beta withdraws. The text then changes in substance; Gamma
confirms again from Telegram. Closed by the coordinator, the list ready to publish names
exactly Gamma, and the CSV says the same.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.types import Message, Platform
from handlers.statements.common import count_key, hash_tag
from storage import Store
from storage.statement_records import Answer, StatementState, organization_signer
from tests.harness.bridge_harness import BridgeBot, register_bot, write_bridge_config
from tests.harness.databases import Backend
from tests.harness.features import CATALOGS, said
from tests.harness.matrix_harness import (
    MatrixChat,
    MatrixMember,
    find_choice,
    matrix_section,
)
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

GROUP_CHAT = -1005432
TIMEOUT = 30.0
TITLE = "Protect land defenders"
TEXT = (
    "# Joint statement\n\n"
    "We, the undersigned organizations, call on the State to protect land defenders."
)
AMENDED = TEXT + "\n\nWe also call for an independent inquiry into the attacks."
ORGANIZATIONS = {
    # name, country, signatory
    "alpha": ("Alpha Derechos", "CO", "ana"),
    "beta": ("Beta Rights Watch", "KE", "Bo"),
    "gamma": ("Gamma Justice", "FR", "carla"),
    "delta": ("جمعية دلتا للحقوق", "EG", "Dee"),
}


async def until(check: Callable[[], object], what: str, timeout: float = TIMEOUT) -> None:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never: {what}")
        await asyncio.sleep(0.05)


def config_text(emulator: BotApiEmulator, synapse: SynapseServer, bot, room: str) -> str:  # type: ignore[no-untyped-def]
    return (
        'data_dir = "data"\n\n'
        "[[working_groups]]\n"
        'slug = "cawg"\n'
        'name = "Corporate Accountability"\n'
        'languages = ["en"]\n'
        f"telegram_chats = [{GROUP_CHAT}]\n"
        f'matrix_rooms = ["{room}"]\n'
        f'coordinators = ["telegram:{USER_IDS["coord"]}"]\n\n'
        "[limits]\nprivate_messages_per_minute = 10000\n\n"
        + telegram_section(emulator, "polling")
        + "\n"
        + matrix_section(synapse, bot)
    )


def shown(message: Message) -> str:
    return CATALOGS.renderer("en", Platform.TELEGRAM).label(message)


@pytest.mark.backends(Backend.SQLITE)
async def test_a_statement_signed_on_both_platforms_and_changed_in_substance_lists_who_stands(
    tmp_path: Path, database_url: str, synapse: SynapseServer
) -> None:
    async with BotApiEmulator(make_token()) as emulator:
        bot_user = await register_bot(synapse)
        bo = await MatrixMember.create(synapse, "Bo")
        dee = await MatrixMember.create(synapse, "Dee")
        eve = await MatrixMember.create(synapse, "Eve")  # Carla on Matrix
        fay = await MatrixMember.create(synapse, "Fay")  # of Beta, not its signatory
        members = (bo, dee, eve, fay)
        try:
            room = await bo.open_group_room([bot_user.user_id], name="CAWG", wait_for=[])
            TelegramGroup(emulator, GROUP_CHAT, "CAWG")
            text = config_text(emulator, synapse, bot_user, room)
            config, _ = write_bridge_config(tmp_path, database_url, text, emulator, bot_user)
            bot = BridgeBot(config)
            await bot.start()
            try:
                await journey(emulator, bot, bo, dee, eve, fay, room)
            finally:
                await bot.stop()
        finally:
            for member in members:
                await member.close()


async def journey(  # type: ignore[no-untyped-def]
    emulator: BotApiEmulator, bot: BridgeBot, bo, dee, eve, fay, room: str
) -> None:
    store = bot.store
    both = BothPlatforms(bot)
    bot_id = both.user_id
    group = TelegramGroup(emulator, GROUP_CHAT)
    await bo.wait_until(lambda: bo.has_joined(room, bot_id), what="the bot to join", room_id=room)

    # Everyone writes to the bot privately once (a bot may not write first); Carla connects
    # her Telegram account ("boss") and her Matrix one (Eve).
    coord, ana, carla = (TelegramChat(emulator, both, name) for name in ("coord", "ana", "boss"))  # type: ignore[arg-type]
    for chat in (coord, ana):
        await chat.send("/start")
    code = code_in(await carla.send("/connect"))
    direct = {}
    for member in (bo, dee, eve, fay):
        direct[member.user_id] = await member.open_direct_room(bot_id, encrypted=False)
        chat = MatrixChat(member, both, direct[member.user_id])  # type: ignore[arg-type]
        await chat.send(f"!connect {code}" if member is eve else "!help")
    on = {
        "ana": member_of(store, Platform.TELEGRAM, str(USER_IDS["ana"])),
        "carla": member_of(store, Platform.TELEGRAM, str(USER_IDS["boss"])),
        "Bo": member_of(store, Platform.MATRIX, bo.user_id),
        "Dee": member_of(store, Platform.MATRIX, dee.user_id),
        "Fay": member_of(store, Platform.MATRIX, fay.user_id),
    }
    assert on["carla"] == member_of(store, Platform.MATRIX, eve.user_id)
    organization = await asyncio.to_thread(set_up_organizations, store, on)

    # The coordinator drafts the statement on Telegram, its text a Markdown file.
    await coord.send("/statement")
    await coord.send(TITLE)
    await coord.send_document(TEXT.encode("utf-8"), "statement.md", "text/markdown")
    await coord.pick(said("conversation.done"))
    await coord.pick("English")
    await coord.send("14d")
    await coord.pick(said("statements.create.who_group"))
    await coord.pick(said("statements.create.individuals_no"))
    await coord.pick(said("statements.create.order_alphabetical"))
    # Submitting reads the file through Telegram on the event loop while the dispatcher
    # waits: wait on the chat alone (the harness's settling would read the store on the loop).
    opened = "Statement #1 is open for signatures"
    press(emulator, USER_IDS["coord"], said("conversation.submit"))
    await until(
        lambda: any(opened in sent.shown for sent in emulator.sent(USER_IDS["coord"])),
        "the statement opened",
    )
    record = store.statements.get(1)
    assert record is not None and record.current.text == TEXT
    first_tag = hash_tag(record.current.text_hash)

    # Announced in both rooms, with the count edited in place later.
    await until(
        lambda: (
            len(store.posts.rooms_of(count_key(1))) == 2
            and all(posted.message_id for posted in store.posts.rooms_of(count_key(1)))
        ),
        "the count posted in the Telegram chat and the Matrix room",
    )
    assert any(TITLE in (sent.text or "") for sent in group.bot_posts())

    # Alpha signs on Telegram, with the button of its private request.
    await until(lambda: request_in(emulator, USER_IDS["ana"]), "Alpha's request on Telegram")
    ana._shown = [request_in(emulator, USER_IDS["ana"])]  # the request is what she answers
    signed = await ana.pick(said("statements.sign.button_sign"))
    assert "Alpha Derechos" in signed

    # On Matrix, private requests come in the bot's own room with each signatory.
    notices = {}
    for member in (bo, dee, eve):
        notices[member.user_id] = await member.accept_invite(bot_id)
    # Fay, of Beta but not its signatory, cannot sign for it: not by the command, not by the
    # sign button's value typed as it is, not by a number (she was offered only forwarding).
    fay_chat = MatrixChat(fay, both, direct[fay.user_id])  # type: ignore[arg-type]
    refused = await fay_chat.send(f"!sign 1 {first_tag}")
    assert said("statements.sign.not_signatory", number=1) in refused
    await fay_chat.send_silent(f"statement:sign:1:{first_tag}")
    await fay_chat.send_silent("2")
    beta = organization_signer(organization["beta"])
    assert [s.signer for s in store.statements.signatures(1)] == [
        organization_signer(organization["alpha"])
    ]
    assert beta not in {s.signer for s in store.statements.signatures(1)}

    await pick_in(bo, notices[bo.user_id], bot_id, said("statements.sign.button_sign"))
    await pick_in(eve, notices[eve.user_id], bot_id, said("statements.sign.button_sign"))
    await pick_in(dee, notices[dee.user_id], bot_id, said("statements.sign.button_decline"))

    def answers() -> dict[str, tuple[Answer, bool]]:
        return {s.signer: (s.answer, s.stands) for s in store.statements.signatures(1)}

    signed_by = {
        organization_signer(organization[name]): (Answer.SIGNED, True)
        for name in ("alpha", "beta", "gamma")
    } | {organization_signer(organization["delta"]): (Answer.DECLINED, False)}
    await until(lambda: answers() == signed_by, f"three signatures and a decline ({answers()})")
    assert organization_signer(organization["beta"]) in answers()
    assert [s.member_id for s in store.statements.signatures(1) if s.answer is Answer.SIGNED] == [
        on["ana"],
        on["Bo"],
        on["carla"],
    ]

    # Beta withdraws, from Bo's own chat with the bot.
    withdrawn = await MatrixChat(bo, both, direct[bo.user_id]).send("!withdrawsignature 1")  # type: ignore[arg-type]
    assert "Beta Rights Watch" in withdrawn
    [beta] = [
        s for s in store.statements.signatures(1) if s.organization_id == organization["beta"]
    ]
    assert (beta.answer, beta.withdrawn_by) == (Answer.WITHDRAWN, on["Bo"])

    # The text changes in substance: Alpha and Gamma are asked to confirm; Gamma does, on
    # Telegram this time.
    await coord.send("/editstatement 1")
    await coord.send(AMENDED)
    await coord.pick(said("conversation.done"))
    await coord.pick(said("statements.edit.substance"))
    await coord.pick(said("conversation.submit"))
    record = store.statements.get(1)
    assert record is not None and record.current.text == AMENDED
    await until(lambda: confirm_request_in(emulator, USER_IDS["boss"]), "Gamma asked on Telegram")
    carla._shown = [confirm_request_in(emulator, USER_IDS["boss"])]
    await carla.pick(said("statements.confirm.button_confirm"))
    gamma = organization_signer(organization["gamma"])
    alpha = organization_signer(organization["alpha"])
    await until(lambda: answers().get(gamma) == (Answer.SIGNED, True), "Gamma confirmed")
    assert answers()[alpha] == (Answer.SIGNED, False)  # waiting, not counted

    # Closed: the list names exactly the signatures that stand on the final text.
    before = len(emulator.sent(USER_IDS["coord"]))
    closed = await coord.send("/closestatement 1")
    assert shown(Message.of("statements.close.done", number=1)) in closed
    record = store.statements.get(1)
    assert record is not None and record.state is StatementState.CLOSED
    documents = [
        sent for sent in emulator.sent(USER_IDS["coord"])[before:] if sent.kind == "document"
    ]
    exported = {str(sent.filename): sent.file_bytes or b"" for sent in documents}
    [table] = [data for name, data in exported.items() if name.endswith(".csv")]
    rows = list(csv.reader(io.StringIO(table.decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == ["Gamma Justice"]
    listed = closed + "".join(
        data.decode("utf-8") for name, data in exported.items() if name.endswith(".txt")
    )
    assert "Gamma Justice" in listed
    for name in ("Alpha Derechos", "Beta Rights Watch", "جمعية دلتا للحقوق"):
        assert name not in listed.split("Gamma Justice", 1)[1]
    await until(lambda: "1" in final_count(group), "the Telegram count edited to its final figure")
    await until(bot.idle, "every message delivered")


def member_of(store: Store, platform: Platform, user_id: str) -> int:
    return store.members.for_identity(platform, user_id, language="en").id


def set_up_organizations(store: Store, on: dict[str, int]) -> dict[str, int]:
    """The four organizations with their signatories, and Fay a member of Beta who is not
    one; everyone a member of cawg."""
    cawg = store.groups.by_slug("cawg")
    assert cawg is not None
    ids: dict[str, int] = {}
    with store.transaction():
        for member_id in set(on.values()):
            store.joining.add_member(member_id, cawg.id)
        for key, (name, country, signatory) in ORGANIZATIONS.items():
            ids[key] = store.organizations.add(name, country, "ngo").id
            join(store, on[signatory], ids[key], signatory=True)
        join(store, on["Fay"], ids["beta"], signatory=False)
    return ids


def join(store: Store, member_id: int, organization_id: int, *, signatory: bool) -> None:
    store.organizations.claim(member_id, organization_id)
    store.organizations.decide(member_id, organization_id, confirm=True)
    store.organizations.set_signatory(member_id, organization_id, signatory)


def press(emulator: BotApiEmulator, user_id: int, label: str) -> None:
    """Press the button labelled ``label`` on the latest message that offers buttons."""
    offered = next(m for m in reversed(emulator.sent(user_id)) if m.reply_markup)
    data = next(
        button["callback_data"]
        for row in offered.reply_markup["inline_keyboard"]
        for button in row
        if button["text"] == label
    )
    emulator.press_button(user_id, user_id, offered.message_id, data)


def request_in(emulator: BotApiEmulator, user_id: int):  # type: ignore[no-untyped-def]
    """The bot's private request to sign, in the user's Telegram chat, once delivered."""
    for sent in reversed(emulator.sent(user_id)):
        buttons = [b for row in (sent.reply_markup or {}).get("inline_keyboard", []) for b in row]
        if any(b["callback_data"].startswith("statement:sign:") for b in buttons):
            return sent
    return None


def confirm_request_in(emulator: BotApiEmulator, user_id: int):  # type: ignore[no-untyped-def]
    for sent in reversed(emulator.sent(user_id)):
        buttons = [b for row in (sent.reply_markup or {}).get("inline_keyboard", []) for b in row]
        if any(b["callback_data"].startswith("statement:confirm:") for b in buttons):
            return sent
    return None


async def pick_in(member: MatrixMember, room_id: str, bot_id: str, label: str) -> None:
    """Answer the bot's latest numbered offer in ``room_id`` with the number of ``label``."""

    def offered() -> object:
        posts = [
            {"body": post.body, "event_id": post.event_id}
            for post in member.posts(room_id, sender=bot_id)
        ]
        return find_choice(posts, label)

    await member.wait_until(offered, what=f"the choice {label!r}", room_id=room_id)
    found = offered()
    assert isinstance(found, tuple)
    await member.send_text(room_id, str(found[1]))


def final_count(group: TelegramGroup) -> str:
    return " ".join(sent.shown for sent in group.bot_posts() if "#1" in sent.shown)
