"""What one member may ask of the bot: a private chat's rate, evidence bytes, the files
queued for a chat, and what a withdrawn report leaves in the outbox (nothing).

The real services are built (store, router, dispatcher, inbox, both transports' planning)
on both databases, not started: events are put in the inbox as the transports store them,
so no server is needed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.app import Services
from bot.case_delivery import opened_for_sending
from bot.config import ConfigError, load_config
from bot.conversation import ConversationState
from bot.incoming_json import to_json
from bot.outgoing import BotMessage
from bot.outgoing_json import from_json
from bot.types import (
    ChoicePicked,
    Command,
    Incoming,
    MediaKind,
    MediaReceived,
    Origin,
    Platform,
    TextMessage,
)
from storage import OutboxRecord
from storage.case_contents import CaseContents
from storage.case_records import NewCase
from tests.harness.chat import ConsoleChat
from tests.harness.features import said

TG = Platform.TELEGRAM
MX = Platform.MATRIX
GROUP_ROOM = "!group:example.org"
GROUP_CHAT = "-1001"

CONFIG = f"""
[telegram]
mode = "polling"
api_base_url = "http://127.0.0.1:1"

[matrix]
homeserver = "http://127.0.0.1:1"
user_id = "@caucus:example.org"
device_id = "CAUCUS"

[[working_groups]]
slug = "cawg"
name = "CAWG"
telegram_chats = [{GROUP_CHAT}]
matrix_rooms = ["{GROUP_ROOM}"]
coordinators = ["matrix:@coord:example.org"]
"""

ServicesFactory = Callable[..., Services]


@pytest.fixture
async def open_services(tmp_path: Path, database_url: str) -> AsyncIterator[ServicesFactory]:
    opened: list[Services] = []

    def open_one(limits: str = "") -> Services:
        path = tmp_path / "config.toml"
        text = f'data_dir = "{tmp_path / "data"}"\n' + CONFIG + limits
        path.write_text(text, encoding="utf-8")
        config = load_config(
            path,
            env={
                "CAUCUS_DATABASE_URL": database_url,
                "CAUCUS_TELEGRAM_TOKEN": "123456:test-token",
                "CAUCUS_MATRIX_ACCESS_TOKEN": "unused",
                "CAUCUS_MATRIX_PICKLE_KEY": "a pickle key long enough to be one",
            },
        )
        services = Services(config, warn=lambda line: None)
        opened.append(services)
        return services

    try:
        yield open_one
    finally:
        for services in opened:
            await services.stop()


def direct(user_id: str) -> Origin:
    # Encrypted: a report is taken only there on Matrix (or after the member chose otherwise).
    return Origin(MX, f"!dm-{user_id}", user_id, True, "Bo", encrypted=True)


def in_group(user_id: str) -> Origin:
    return Origin(MX, GROUP_ROOM, user_id, False, "Bo")


def stored(services: Services, key: str, event: Incoming) -> None:
    """What the Matrix transport stores for a translated event of its sync."""
    assert services.store.inbox.record(MX, key, None, to_json(event))


def texts_to(services: Services, platform: Platform, room_id: str) -> list[str]:
    return [
        str(record.payload.get("text", ""))
        for record in services.store.outbox.pending(platform)
        if record.room_id == room_id
    ]


# -- a private chat's rate ------------------------------------------------------------------


async def test_a_member_over_the_rate_is_told_once_and_the_rest_is_dropped_not_queued(
    open_services: ServicesFactory,
) -> None:
    services = open_services()
    ana, bo = direct("@ana:example.org"), direct("@bo:example.org")
    for number in range(30):
        stored(services, f"$ana-{number}", Command(ana, "help"))
    stored(services, "$bo", Command(bo, "help"))

    assert await services.inbox.drain() == 31

    answers = texts_to(services, MX, ana.room_id)
    slow_down = said("router.slow_down")
    assert len(answers) == 21  # twenty answers to /help, then one "slow down"
    assert answers[-1] == slow_down
    assert answers.count(slow_down) == 1
    assert texts_to(services, MX, bo.room_id) != []  # another member is not held back
    assert services.store.inbox.pending(MX) == []  # every dropped message is handled

    # Handled means handled: after a restart nothing dropped is run again.
    await services.stop()
    again = open_services()
    assert await again.inbox.drain() == 0
    assert len(texts_to(again, MX, ana.room_id)) == 21


async def test_group_messages_are_never_dropped_however_many(
    open_services: ServicesFactory,
) -> None:
    services = open_services()
    ana = in_group("@ana:example.org")
    for number in range(40):
        stored(services, f"$g-{number}", TextMessage(ana, f"line {number}"))

    assert await services.inbox.drain() == 40

    relayed = services.store.outbox.pending(TG)
    assert len([record for record in relayed if record.room_id == GROUP_CHAT]) == 40


async def test_the_rate_is_configurable(open_services: ServicesFactory) -> None:
    services = open_services("\n[limits]\nprivate_messages_per_minute = 3\n")
    ana = direct("@ana:example.org")
    for number in range(6):
        stored(services, f"$ana-{number}", TextMessage(ana, f"hello {number}"))

    assert await services.inbox.drain() == 6

    answers = texts_to(services, MX, ana.room_id)
    assert len(answers) == 4 and answers[-1] == said("router.slow_down")


async def test_the_console_the_operators_own_terminal_is_never_limited(
    tmp_path: Path, database_url: str
) -> None:
    """A script piped into `make run` types far faster than a person: all of it is read."""
    path = tmp_path / "config.toml"
    path.write_text("[limits]\nprivate_messages_per_minute = 3\n", encoding="utf-8")
    chat = ConsoleChat(load_config(path, env={"CAUCUS_DATABASE_URL": database_url}))
    try:
        answers = [await chat.send("/whoami") for _ in range(6)]
    finally:
        await chat.close()
    assert said("router.slow_down") not in "".join(answers)
    assert all("local" in answer for answer in answers)


# -- evidence sent by reference, and what /withdraw takes back -------------------------------

EVIDENCE = b"%PDF-1.4 the evidence itself, never in an outbox row"
ANA = "@ana:example.org"
COORD = "@coord:example.org"


def file_report(services: Services, author: str = ANA, files: int = 2) -> tuple[int, list[int]]:
    """A submitted report of ``author`` with its evidence files fetched and kept."""
    store = services.store
    member = store.members.for_identity(MX, author, language="en", direct_room=None)
    group = store.groups.all()[0]
    number = store.cases.submit(
        NewCase(
            working_group_id=group.id,
            author_member_id=member.id,
            urgent=False,
            country="CO",
            region="latin_america_caribbean",
            sector="mining",
            started="2024",
            ongoing=True,
            rights=("water",),
            contents=CaseContents(title="Secret title", publication="network"),
            attachments=tuple(
                (MX.value, {"ref": f"mxc://x/{index}", "filename": f"e{index}.pdf", "size": 10})
                for index in range(files)
            ),
        )
    )
    kept = []
    for pending in store.cases.pending_attachments(MX.value):
        assert store.cases.store_attachment(pending.id, EVIDENCE)
        kept.append(pending.id)
    return number, kept


def pending_of(services: Services, room_id: str) -> list[OutboxRecord]:
    return [record for record in services.store.outbox.pending(MX) if record.room_id == room_id]


async def test_casefiles_queues_references_not_bytes_and_not_twice(
    open_services: ServicesFactory,
) -> None:
    services = open_services()
    number, kept = file_report(services)
    coord = direct(COORD)
    stored(services, "$files-1", Command(coord, "casefiles", (str(number),)))
    stored(services, "$files-2", Command(coord, "casefiles", (str(number),)))

    assert await services.inbox.drain() == 2

    rows = pending_of(services, coord.room_id)
    files = [row for row in rows if row.payload.get("media")]
    assert len(files) == len(kept)  # the second /casefiles queued no copy
    for row in files:
        (media,) = row.payload["media"]
        assert "data" not in media and media["stored"]["case"] == number
    assert rows[-1].payload["text"] == said("cases.files_already_queued", number=number)

    # When its turn comes, the outbox reads the file, the reader still allowed.
    opened = opened_for_sending(services.store, from_json(files[0].payload))
    assert isinstance(opened, BotMessage) and opened.media[0].data == EVIDENCE


async def test_withdraw_takes_back_every_pending_copy_of_the_report(
    open_services: ServicesFactory,
) -> None:
    services = open_services()
    number, _ = file_report(services)
    other, _ = file_report(services, files=0)
    coord, ana = direct(COORD), direct(ANA)
    stored(services, "$case", Command(coord, "case", (str(number),)))
    stored(services, "$list", Command(coord, "cases"))
    stored(services, "$files", Command(coord, "casefiles", (str(number),)))
    stored(services, "$export", Command(coord, "export", ("all",)))
    stored(services, "$other", Command(coord, "case", (str(other),)))
    assert await services.inbox.drain() == 5
    # What the outbox worker may already hold in memory, read before the withdrawal.
    held = pending_of(services, coord.room_id)
    assert any("Secret title" in str(row.payload) for row in held)
    assert any(".csv" in str(row.payload.get("media")) for row in held)  # the export

    stored(services, "$withdraw", ChoicePicked(ana, f"casewithdraw:{number}"))
    assert await services.inbox.drain() == 1

    left = pending_of(services, coord.room_id)
    assert [row.payload.get("cases") for row in left if row.payload.get("cases")] == [[other]]
    for row in held:
        opened = opened_for_sending(services.store, from_json(row.payload))
        carried = row.payload.get("cases") or []
        assert (opened is None) == (number in carried), row.payload.get("text")
    status = services.store.outbox.status(MX, since=services.store.now())
    assert status.failed == len(held) - len(left)


# -- evidence quotas -------------------------------------------------------------------------

SMALL_QUOTAS = """
[limits]
evidence_bytes_per_report = 1048576
evidence_bytes_per_member_per_day = 2097152
"""


def at_evidence_step(services: Services, user_id: str) -> None:
    """The member's report draft, at the evidence question (as a resumed draft is)."""
    member = services.store.members.for_identity(MX, user_id, language="en", direct_room=None)
    state = ConversationState(name="report", step="evidence", answers={})
    services.store.conversations.save(member.id, "report", "evidence", state.to_data())


def a_file(user_id: str, number: int, size: int) -> MediaReceived:
    return MediaReceived(
        direct(user_id), MediaKind.DOCUMENT, f"mxc://x/{number}", filename="e.pdf", size=size
    )


def kept_pieces(services: Services, user_id: str) -> int:
    member = services.store.members.for_identity(MX, user_id, language="en", direct_room=None)
    record = services.store.conversations.load(member.id)
    assert record is not None
    pending = record.data.get("pending")
    return len(pending) if isinstance(pending, list) else 0


async def test_a_file_past_the_reports_evidence_quota_is_refused_and_not_kept(
    open_services: ServicesFactory,
) -> None:
    services = open_services(SMALL_QUOTAS)
    at_evidence_step(services, ANA)
    stored(services, "$f1", a_file(ANA, 1, 600_000))
    stored(services, "$f2", a_file(ANA, 2, 600_000))

    assert await services.inbox.drain() == 2

    answers = texts_to(services, MX, direct(ANA).room_id)
    assert answers[-1] == said("cases.evidence_report_full", limit=1)
    assert kept_pieces(services, ANA) == 1


async def test_a_file_past_the_members_daily_evidence_quota_is_refused(
    open_services: ServicesFactory,
) -> None:
    services = open_services(SMALL_QUOTAS)
    member = services.store.members.for_identity(MX, ANA, language="en", direct_room=None)
    group = services.store.groups.all()[0]
    services.store.cases.submit(  # a report sent earlier today, its 900 KB still to fetch
        NewCase(
            working_group_id=group.id,
            author_member_id=member.id,
            urgent=False,
            country="CO",
            region="latin_america_caribbean",
            sector="mining",
            started="2024",
            ongoing=True,
            rights=(),
            contents=CaseContents(title="Earlier"),
            attachments=((MX.value, {"ref": "mxc://x/9", "size": 900_000}),) * 2,
        )
    )
    at_evidence_step(services, ANA)
    stored(services, "$f1", a_file(ANA, 1, 600_000))

    assert await services.inbox.drain() == 1

    answers = texts_to(services, MX, direct(ANA).room_id)
    assert answers[-1] == said("cases.evidence_member_full", limit=2)
    assert kept_pieces(services, ANA) == 0


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("private_messages_per_minute = 0", "limits.private_messages_per_minute"),
        ("evidence_bytes_per_report = 10", "limits.evidence_bytes_per_report"),
    ],
)
def test_a_bad_limit_stops_the_bot_at_start_naming_the_key(
    tmp_path: Path, line: str, key: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[limits]\n{line}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert f": {key}: must be from " in str(info.value) and "; fix: " in str(info.value)
