"""Evidence files of case reports: fetched from Telegram (the Bot API emulator) and Matrix
(a real Synapse) by ``EvidenceFetcher`` and kept, sealed, in the database; and the bot's
own files (``Reply.media``, such as an export) delivered into Matrix rooms."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import Application

from bot.app import Services
from bot.evidence import EVIDENCE_LIMIT, EvidenceFetcher, FetchPolicy, download_limit
from bot.i18n import Catalogs
from bot.media import MediaSource
from bot.outbox import TransientFailure
from bot.outgoing import BotMessage
from bot.transports.matrix import render
from bot.transports.matrix.payloads import MatrixPayload
from bot.transports.matrix.transport import MatrixTransport
from bot.transports.telegram.events import translate_update
from bot.transports.telegram.media import TelegramMediaSource
from bot.types import Incoming, Media, MediaReceived, Outgoing, Platform
from storage import Store, WorkingGroupSpec
from storage.case_contents import CaseContents
from storage.case_records import AttachmentStatus, NewCase
from storage.sealing import Sealer, generate_key
from tests.harness.matrix_harness import MatrixMember, StoredEvents, matrix_config
from tests.harness.synapse_server import SynapseServer
from tests.harness.telegram_emulator import MB, BotApiEmulator
from tests.harness.telegram_harness import make_token, telegram_application, telegram_config

App = Application[Any, Any, Any, Any, Any, Any]
ANA = 1004
FAST = FetchPolicy(base_seconds=0.05, cap_seconds=0.2, poll_seconds=0.2)
"""Back-off in tenths of seconds, so that retries happen within a test."""
PDF = b"%PDF-1.7 the contract that was never honoured"
JPEG = b"\xff\xd8\xff\xe0 a photo of the spill"


# -- storage: a working group, a member and their reports -------------------------------------


def prepare(store: Store) -> None:
    store.upgrade()
    store.groups.sync_configured(
        [
            WorkingGroupSpec(
                slug="cawg", name="CAWG", languages=("en",), rooms=(), coordinators=(), admins=()
            )
        ],
        [],
        default_language="en",
    )


def open_sealed_store(database_url: str) -> Store:
    store = Store(database_url, sealer=Sealer([generate_key()]))
    prepare(store)
    return store


@pytest.fixture
def sealed_store(database_url: str) -> Iterator[Store]:
    store = open_sealed_store(database_url)
    try:
        yield store
    finally:
        store.close()


def evidence_source(event: MediaReceived) -> dict[str, Any]:
    """What the report conversation keeps of a file a member sent: the platform's reference."""
    return {
        "platform": event.origin.platform.value,
        "kind": event.kind.value,
        "ref": event.file_ref,
        "filename": event.filename,
        "content_type": event.content_type,
        "size": event.size,
    }


def file_report(store: Store, *sources: Mapping[str, Any]) -> int:
    """Submit a report with these evidence files; its number."""
    member = store.members.for_identity(Platform.TELEGRAM, "42", language="en")
    group = store.groups.by_slug("cawg")
    assert group is not None
    return store.cases.submit(
        NewCase(
            working_group_id=group.id,
            author_member_id=member.id,
            urgent=False,
            country="PE",
            region="americas",
            sector="mining",
            started="2024-03",
            ongoing=True,
            rights=("water",),
            contents=CaseContents(title="Spill at the river"),
            attachments=tuple((str(source["platform"]), source) for source in sources),
        )
    )


def statuses(store: Store, case_id: int) -> list[AttachmentStatus]:
    detail = store.cases.detail(case_id)
    assert detail is not None
    return [attachment.status for attachment in detail.attachments]


def stored_files(store: Store, case_id: int) -> list[bytes]:
    return [file.data for file in store.cases.attachment_files(case_id)]


async def wait_until(
    predicate: Callable[[], bool],
    what: str,
    within: float = 20.0,
) -> None:
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(predicate):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.05)


def settled(store: Store, case_id: int) -> Callable[[], bool]:
    return lambda: AttachmentStatus.PENDING not in statuses(store, case_id)


@asynccontextmanager
async def fetching(
    store: Store, sources: Mapping[Platform, MediaSource], policy: FetchPolicy = FAST
) -> AsyncIterator[EvidenceFetcher]:
    fetcher = EvidenceFetcher(store, sources, policy=policy)
    running = asyncio.create_task(fetcher.run())
    try:
        yield fetcher
    finally:
        fetcher.stop()
        await asyncio.wait_for(running, timeout=15)


# -- the policy --------------------------------------------------------------------------------


def test_the_back_off_starts_at_5_seconds_doubles_and_stops_at_10_minutes() -> None:
    policy = FetchPolicy()
    assert [policy.delay(attempt) for attempt in (1, 2, 3, 4)] == [5.0, 10.0, 20.0, 40.0]
    assert policy.delay(8) == 600.0 and policy.delay(19) == 600.0
    assert (policy.max_attempts, policy.poll_seconds) == (20, 30.0)


def test_telegram_files_are_fetched_up_to_20_mb_and_others_up_to_50() -> None:
    assert download_limit(Platform.TELEGRAM) == 20 * MB
    assert download_limit(Platform.MATRIX) == EVIDENCE_LIMIT == 50 * MB


# -- Telegram ----------------------------------------------------------------------------------


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(make_token()) as running:
        running.add_user(ANA, "Ana")
        yield running


@pytest.fixture
async def application(emulator: BotApiEmulator) -> AsyncIterator[App]:
    app = telegram_application(emulator)
    async with app:
        yield app


@pytest.fixture
def telegram(application: App) -> dict[Platform, MediaSource]:
    return {Platform.TELEGRAM: TelegramMediaSource(application.bot)}


def sent_in_private(application: App, update: dict[str, Any]) -> dict[str, Any]:
    """The evidence source of a file a member sent the bot in their private chat."""
    event = translate_update(Update.de_json(update, application.bot), "caucus_test_bot")
    assert isinstance(event, MediaReceived) and event.origin.is_direct
    return evidence_source(event)


async def test_a_telegram_file_of_a_report_is_fetched_and_stored_as_sent(
    emulator: BotApiEmulator,
    application: App,
    telegram: dict[Platform, MediaSource],
    sealed_store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    document = sent_in_private(
        application, emulator.send_document(ANA, PDF, "contract.pdf", "application/pdf")
    )
    photo = sent_in_private(application, emulator.send_photo(ANA, JPEG))
    case_id = file_report(sealed_store, document, photo)
    caplog.set_level(logging.INFO, logger="bot.evidence")
    async with fetching(sealed_store, telegram) as fetcher:
        fetcher.wake()
        await wait_until(settled(sealed_store, case_id), "the report's files fetched")
    assert stored_files(sealed_store, case_id) == [PDF, JPEG]
    detail = sealed_store.cases.detail(case_id)
    assert detail is not None
    assert [(a.filename, a.size) for a in detail.attachments] == [
        ("contract.pdf", len(PDF)),
        (None, len(JPEG)),
    ]
    [first, second] = detail.attachments
    assert f"evidence_stored case={case_id} attachment={first.id} bytes={len(PDF)}" in caplog.text
    assert f"evidence_stored case={case_id} attachment={second.id} bytes={len(JPEG)}" in (
        caplog.text
    )
    assert "contract.pdf" not in caplog.text and document["ref"] not in caplog.text


async def test_files_too_large_or_unknown_fail_for_good_and_the_next_is_still_stored(
    emulator: BotApiEmulator,
    application: App,
    telegram: dict[Platform, MediaSource],
    sealed_store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    huge = sent_in_private(
        application,
        emulator.send_document(ANA, b"x", "video.mp4", "video/mp4", declared_size=21 * MB),
    )
    # Telegram says this one is 21 MB, but the conversation kept no size: getFile refuses it.
    unsized = sent_in_private(
        application,
        emulator.send_document(ANA, b"y", "archive.zip", "application/zip", declared_size=21 * MB),
    ) | {"size": None}
    unknown = {**huge, "ref": "AgACAgIAAxk-no-such-file", "size": 10}
    good = sent_in_private(application, emulator.send_document(ANA, PDF, "c.pdf", "x/pdf"))
    case_id = file_report(sealed_store, huge, unsized, unknown, good)
    caplog.set_level(logging.INFO, logger="bot.evidence")
    async with fetching(sealed_store, telegram) as fetcher:
        fetcher.wake()
        await wait_until(settled(sealed_store, case_id), "every file settled")
    assert statuses(sealed_store, case_id) == [
        AttachmentStatus.FAILED,
        AttachmentStatus.FAILED,
        AttachmentStatus.FAILED,
        AttachmentStatus.STORED,
    ]
    assert stored_files(sealed_store, case_id) == [PDF]
    asked = [call.params.get("file_id") for call in emulator.methods_called("getFile")]
    assert huge["ref"] not in asked  # known too large by its size: never asked for
    detail = sealed_store.cases.detail(case_id)
    assert detail is not None
    ids = [attachment.id for attachment in detail.attachments]
    for ident, reason in zip(ids, ("MediaTooLarge", "MediaTooLarge", "MediaUnavailable")):
        assert f"evidence_failed case={case_id} attachment={ident} reason={reason}" in caplog.text
    assert "video.mp4" not in caplog.text and "archive.zip" not in caplog.text


async def test_a_transient_failure_is_retried_with_back_off_and_then_stored(
    emulator: BotApiEmulator,
    application: App,
    telegram: dict[Platform, MediaSource],
    sealed_store: Store,
) -> None:
    document = sent_in_private(application, emulator.send_document(ANA, PDF, "c.pdf", "x/pdf"))
    case_id = file_report(sealed_store, document)
    emulator.inject_fault("500", methods=["getFile"], times=2)
    async with fetching(sealed_store, telegram) as fetcher:
        fetcher.wake()
        await wait_until(settled(sealed_store, case_id), "the file stored after retries")
    assert stored_files(sealed_store, case_id) == [PDF]
    answers = [call.status for call in emulator.methods_called("getFile")]
    assert answers == [500, 500, 200]
    times = [call.time for call in emulator.methods_called("getFile")]
    # Each wait is at least its back-off, the second twice the first; a busy machine (tests
    # in parallel) can only lengthen a wait, so only lower bounds are checked.
    assert times[1] - times[0] >= FAST.delay(1) * 0.9
    assert times[2] - times[1] >= FAST.delay(2) * 0.9
    assert statuses(sealed_store, case_id) == [AttachmentStatus.STORED]


async def test_a_file_failing_every_time_is_given_up_after_the_last_attempt(
    emulator: BotApiEmulator,
    application: App,
    telegram: dict[Platform, MediaSource],
    sealed_store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stuck = sent_in_private(application, emulator.send_document(ANA, b"a", "a.txt", "t/p"))
    case_id = file_report(sealed_store, stuck)
    emulator.inject_fault("502", methods=["getFile"])
    policy = FetchPolicy(base_seconds=0.02, cap_seconds=0.05, max_attempts=4, poll_seconds=0.2)
    caplog.set_level(logging.INFO, logger="bot.evidence")
    async with fetching(sealed_store, telegram, policy) as fetcher:
        fetcher.wake()
        await wait_until(settled(sealed_store, case_id), "the file given up")
    assert statuses(sealed_store, case_id) == [AttachmentStatus.FAILED]
    assert len(emulator.methods_called("getFile")) == 4
    assert "reason=TransientFailure" in caplog.text
    assert caplog.text.count("evidence_retry ") == 3


async def test_the_services_fetch_evidence_and_resume_after_a_restart(
    tmp_path: Path, database_url: str, emulator: BotApiEmulator, application: App
) -> None:
    """Services start the fetcher with every platform's source; a file still failing when
    they stop is fetched after the next start, from what the database holds."""
    config = telegram_config(
        tmp_path,
        database_url,
        emulator,
        extra='data_dir = "data"\n\n[[working_groups]]\nslug = "cawg"\nname = "CAWG"\n',
    )
    document = sent_in_private(application, emulator.send_document(ANA, PDF, "c.pdf", "x/pdf"))
    emulator.inject_fault("500", methods=["getFile"])
    services = Services(config, evidence_policy=FAST)
    await services.start()
    try:
        store = services.store
        case_id = file_report(store, document)
        services.wake(Platform.TELEGRAM)  # as a submit's reply being queued does
        await wait_until(lambda: len(emulator.methods_called("getFile")) >= 2, "retries")
        assert statuses(store, case_id) == [AttachmentStatus.PENDING]
    finally:
        began = time.monotonic()
        await services.stop()
    assert time.monotonic() - began < 5  # a fetcher waiting to retry stops at once
    emulator.clear_faults()
    again = Services(config, evidence_policy=FetchPolicy(poll_seconds=0.2))
    await again.start()
    try:
        store = again.store
        await wait_until(settled(store, case_id), "the file fetched after the restart")
        assert stored_files(store, case_id) == [PDF]
    finally:
        await again.stop()


# -- Matrix ------------------------------------------------------------------------------------


@dataclass
class MatrixBotRoom:
    """The bot's Matrix transport (running, no router) in a direct room with a member."""

    transport: MatrixTransport
    member: MatrixMember
    room_id: str
    store: Store
    events: list[Incoming] = field(default_factory=list)

    async def event_for(self, event_id: str, within: float = 30) -> Incoming:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for event in self.events:
                if getattr(event, "message_id", None) == event_id:
                    return event
            await asyncio.sleep(0.05)
        raise AssertionError(f"the transport never read {event_id}: {self.events}")

    async def deliver(self, payload: MatrixPayload, key: str) -> str | None:
        """As the outbox does: again after a transient failure (keys may be on their way)."""
        deadline = time.monotonic() + 30
        while True:
            try:
                return await self.transport.sender.deliver(self.room_id, payload, key)
            except TransientFailure:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)


@pytest.fixture
async def matrix(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str, synapse: SynapseServer
) -> AsyncIterator[MatrixBotRoom]:
    encrypted = bool(getattr(request, "param", False))
    config = await matrix_config(tmp_path, database_url, synapse)
    assert config.matrix is not None
    store = open_sealed_store(database_url)
    events: list[Incoming] = []

    stored = StoredEvents(store)
    events = stored.events
    transport = MatrixTransport(
        config.matrix,
        store,
        stored.wake,
        catalogs=Catalogs.load(),
        known_commands=frozenset({"help"}),
        configured_rooms=frozenset(),
        default_language="en",
        warn=lambda line: None,
    )
    await transport.start()
    running = asyncio.create_task(transport.run())
    reading = asyncio.create_task(stored.run(transport))
    member = await MatrixMember.create(synapse, "Alice", encrypted=encrypted)
    try:
        room_id = await member.open_direct_room(transport.user_id, encrypted=encrypted)
        yield MatrixBotRoom(transport, member, room_id, store, events)
    finally:
        transport.stop()
        await running
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)
        await transport.close()
        await member.close()
        store.close()


ENCRYPTION = pytest.mark.parametrize(
    "matrix", [False, True], ids=["plain", "encrypted"], indirect=True
)


@ENCRYPTION
async def test_a_matrix_file_of_a_report_is_fetched_and_stored_as_sent(
    matrix: MatrixBotRoom,
) -> None:
    member, room = matrix.member, matrix.room_id
    sent = await member.send_media(
        room, "file", PDF, filename="contract.pdf", content_type="application/pdf"
    )
    photo = await member.send_media(
        room, "image", JPEG, filename="s.jpg", content_type="image/jpeg"
    )
    events = [await matrix.event_for(sent), await matrix.event_for(photo)]
    assert all(isinstance(event, MediaReceived) and event.origin.is_direct for event in events)
    sources = [evidence_source(event) for event in events if isinstance(event, MediaReceived)]
    assert sources[0]["ref"].startswith("{" if member.encrypted else "mxc://")
    gone = {**sources[0], "ref": f"mxc://{member.server.server_name}/nosuchmedia"}
    case_id = file_report(matrix.store, gone, *sources)
    async with fetching(matrix.store, {Platform.MATRIX: matrix.transport.media_source}) as fetcher:
        fetcher.wake()
        await wait_until(settled(matrix.store, case_id), "the Matrix files fetched")
    assert statuses(matrix.store, case_id) == [
        AttachmentStatus.FAILED,
        AttachmentStatus.STORED,
        AttachmentStatus.STORED,
    ]
    assert stored_files(matrix.store, case_id) == [PDF, JPEG]


@ENCRYPTION
async def test_a_reply_with_files_reaches_the_matrix_room_as_file_events(
    matrix: MatrixBotRoom,
) -> None:
    member, room = matrix.member, matrix.room_id
    bot_id = matrix.transport.user_id
    mark = await member.send_text(room, "/export")
    await matrix.event_for(mark)
    exported = json.dumps([{"id": 1, "country": "PE"}]).encode()
    reply = Outgoing(
        Platform.MATRIX,
        room,
        "Your export: 1 report",
        "en",
        media=(
            Media("cases.csv", "text/csv", b"id,country\r\n1,PE\r\n"),
            Media("cases.json", "application/json", exported),
            Media("chart.jpg", "image/jpeg", JPEG),
        ),
    )
    # Planned and rendered as the dispatcher and the outbox do (test_matrix_format.py
    # checks the planning itself).
    planned = render.parts(BotMessage.of(reply), lambda value: 0)
    payloads = [render.render(part) for part in planned]
    delivered = [
        await matrix.deliver(payload, f"7{index}") for index, payload in enumerate(payloads)
    ]
    assert await matrix.deliver(payloads[0], "70") == delivered[0]  # a retry: the same event
    posts = await member.wait_for_posts(room, bot_id, after=mark, count=4)
    assert [post.event_id for post in posts] == delivered
    text_post, csv_post, json_post, image_post = posts
    assert [post.msgtype for post in posts] == ["m.notice", "m.file", "m.file", "m.image"]
    for post, name, data in (
        (csv_post, "cases.csv", b"id,country\r\n1,PE\r\n"),
        (json_post, "cases.json", exported),
        (image_post, "chart.jpg", JPEG),
    ):
        assert (post.body, post.content["filename"]) == (name, name)
        assert post.content["info"]["size"] == len(data)
        assert ("file" in post.content, "url" in post.content) == (
            member.encrypted,
            not member.encrypted,
        )
        assert await member.download(post) == data
    assert csv_post.content["info"]["mimetype"] == "text/csv"
    assert text_post.body == "Your export: 1 report"
