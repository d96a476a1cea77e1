"""The bot on Matrix in a test: the real bot (``bot.app.Services``) and real members
(matrix-nio clients, with real Olm/Megolm when the room is encrypted) on a real Synapse.

Pieces, from the outside in:

* :func:`start_synapse_sync` / :func:`stop_synapse_sync` (or :func:`synapse_session`) run the
  homeserver of :mod:`synapse_server` for a synchronous, session-scoped pytest fixture. The
  server is a subprocess, independent of event loops, so every test's loop may use it.
* :func:`matrix_config` registers a fresh bot account (admin, rate limits lifted) and returns
  the bot's :class:`~bot.config.AppConfig`; :class:`MatrixBot` starts and stops the bot on it
  and keeps the neutral events its inbox read from Matrix (``events``), as the router got them.
* :class:`MatrixMember` is one test member: a nio ``AsyncClient`` of its own, syncing only
  when asked (short long-polls), keeping a running timeline per room.
* :class:`MatrixChat` drives a member's direct room with the bot through the shared
  :class:`chat.Chat` protocol, waiting for each answer with :func:`settle`.
* For the bridge, a member also opens group rooms (:meth:`MatrixMember.open_group_room`),
  posts what Element posts (``send_formatted``, ``reply``, ``send_emote``, ``edit``,
  ``redact``, ``send_media`` for every file kind with encrypted uploads in encrypted rooms,
  ``send_location``, ``send_poll``, ``send_poll_response``, ``send_undecryptable``) and reads
  a room as a client shows it: :meth:`MatrixMember.posts` / :meth:`MatrixMember.wait_for_posts`
  give :class:`PostedMessage` values (latest edit applied, redactions marked, profile, reply
  target, relay marker; poll starts among them), :meth:`MatrixMember.events_of_type` the
  events of one type (a poll's end), and :meth:`MatrixMember.download` a file's bytes,
  decrypted.

When is the bot done with a member's event (:func:`settle`)? There is no store getter for a
single inbound row, so "settled" is read from the outside, in this order:

1. the member has seen at least one message from the bot after its event (in its own
   timeline, built from its syncs);
2. *then* the bot's store is idle: ``store.inbox.pending(Platform.MATRIX)`` and
   ``store.outbox.pending(Platform.MATRIX)`` are both empty;
3. *then* the member syncs once more, and every bot message after its event is decrypted.

The order is what makes it sound. The bot handles an event and queues all of its replies in
one transaction, so a reply seen in (1) means the event was fully handled before (2); the
store idle in (2) means every reply was delivered to the server before (3) began, so the
sync of (3) returns them all. (Checking "idle" before any reply is seen would not do: the
bot may not have received the event yet, or may have delivered one reply of two just before
the final sync.) For an event the bot does not answer (``expect_reply=False``) nothing can
be observed, so it counts as settled once the store has been idle, with no bot message
after the event, for ``quiet`` seconds.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import html
import re
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from nio import (
    AsyncClient,
    AsyncClientConfig,
    EncryptionError,
    Event,
    JoinResponse,
    MegolmEvent,
    MemoryDownloadResponse,
    RoomCreateResponse,
    RoomPreset,
    RoomRedactResponse,
    RoomSendResponse,
    SyncResponse,
    UploadResponse,
)
from nio.crypto.attachments import decrypt_attachment

from bot.config import AppConfig, load_config
from bot.conversation import strip_direction_marks
from bot.inbox import InboundRecord, InboxReader
from bot.ratelimit import SendLimiter, Window
from bot.types import Incoming, Platform
from storage import Store
from tests.harness.synapse_server import RegisteredUser, SynapseServer, start_synapse

if TYPE_CHECKING:
    from bot.app import Services

T = TypeVar("T")

MEGOLM = "m.megolm.v1.aes-sha2"
KEYCAPS = (*(f"{n}\ufe0f\u20e3" for n in range(1, 10)), "\N{KEYCAP TEN}")
"""The reaction that picks choice ``n`` is ``KEYCAPS[n - 1]``: 1️⃣ … 9️⃣, 🔟."""

POLL_MS = 300
"""How long one member sync may wait on the server for news (a long-poll returns early)."""
SYNC_FILTER: dict[str, Any] = {"room": {"timeline": {"limit": 100}}}
"""Synapse cuts an incremental timeline at 10 events by default; a member must miss none."""
REPLY_TIMEOUT = 30.0
QUIET_SECONDS = 1.0
RELAY_MARKER = "org.caucus.relay"
PROFILE_KEYS = ("com.beeper.per_message_profile", "m.per_message_profile")
"""Where a message names its sender's per-message profile (MSC4144, unstable then stable)."""
VOICE_KEY = "org.matrix.msc3245.voice"
POLL_START = "org.matrix.msc3381.poll.start"
POLL_RESPONSE = "org.matrix.msc3381.poll.response"
POLL_END = "org.matrix.msc3381.poll.end"
MEDIA_MSGTYPES = {
    "image": "m.image",
    "file": "m.file",
    "audio": "m.audio",
    "voice": "m.audio",
    "video": "m.video",
}
"""The kinds :meth:`MatrixMember.send_media` sends as ``m.room.message``; ``"sticker"`` is
an ``m.sticker`` event."""

_CHOICE_LINE = re.compile(r"^\s*(\d+)\.\s+(.*?)\s*$")


class MatrixHarnessError(AssertionError):
    """Something a test waited for did not happen; the message says what was seen."""


# -- the homeserver, for synchronous (session-scoped) fixtures -------------------------------


def _run_blocking(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from synchronous code, even under a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def start_synapse_sync(path: Path, **options: Any) -> SynapseServer:
    """:func:`synapse_server.start_synapse`, for synchronous code (``options`` passed on)."""
    return _run_blocking(lambda: start_synapse(path, **options))


def stop_synapse_sync(server: SynapseServer) -> None:
    _run_blocking(server.stop)


@contextlib.contextmanager
def synapse_session(path: Path, **options: Any) -> Iterator[SynapseServer]:
    """``with synapse_session(tmp) as server:`` a running Synapse, stopped on the way out."""
    server = start_synapse_sync(path, **options)
    try:
        yield server
    finally:
        stop_synapse_sync(server)


def unique_localpart(name: str) -> str:
    """``name`` made a valid, lowercase localpart and made unique on a shared server."""
    cleaned = re.sub(r"[^a-z0-9._=-]+", "-", name.lower()).strip("-") or "user"
    return f"{cleaned[:32]}-{secrets.token_hex(4)}"


# -- the bot ---------------------------------------------------------------------------------


def fast_limiter() -> SendLimiter:
    """Feature tests check behaviour, not pacing."""
    return SendLimiter((Window(1000, 0.001),), {})


def matrix_section(server: SynapseServer, bot: RegisteredUser) -> str:
    return (
        "[matrix]\n"
        f'homeserver = "{server.base_url}"\n'
        f'user_id = "{bot.user_id}"\n'
        f'device_id = "{bot.device_id}"\n'
        f'join_invites_from = ["{server.server_name}"]\n'
        'device_trust = "on-first-use"\n'
    )


async def matrix_config(
    tmp_path: Path,
    database_url: str,
    server: SynapseServer,
    *,
    extra: str = "",
    encrypted: bool = False,
) -> AppConfig:
    """A configuration for a fresh bot account on ``server``.

    The account (random localpart, server admin, message rate limits lifted) logs in with
    its access token and device; the pickle key is random. ``extra`` is TOML put before the
    ``[matrix]`` section (top-level keys, working groups); ``data_dir`` defaults to
    ``tmp_path/data``, so the bot's nio store is ``tmp_path/data/matrix-store``.
    ``encrypted`` changes nothing in the file: the bot always runs with its crypto store
    (bot/matrix.py requires the pickle key whenever encryption support is installed); whether
    messages are encrypted is up to the room. It is accepted so that fixtures can pass the
    room kind through."""
    del encrypted
    account = await server.register(unique_localpart("caucusbot"), admin=True, displayname="Caucus")
    await server.lift_rate_limits(account.user_id, account.access_token)
    return _write_config(
        tmp_path, database_url, extra + "\n" + matrix_section(server, account), account
    )


def _write_config(folder: Path, database_url: str, text: str, account: RegisteredUser) -> AppConfig:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(
        path,
        env={
            "CAUCUS_DATABASE_URL": database_url,
            "CAUCUS_MATRIX_ACCESS_TOKEN": account.access_token,
            "CAUCUS_MATRIX_PICKLE_KEY": secrets.token_urlsafe(32),
        },
    )


def matrix_config_sync(
    tmp_path: Path,
    database_url: str,
    server: SynapseServer,
    *,
    extra: str = "",
    encrypted: bool = False,
) -> AppConfig:
    """:func:`matrix_config` for synchronous fixtures."""
    return _run_blocking(
        lambda: matrix_config(tmp_path, database_url, server, extra=extra, encrypted=encrypted)
    )


class MatrixBot:
    """A running bot, stoppable and startable again on the same database and nio store."""

    def __init__(
        self,
        config: AppConfig,
        *,
        limiter: Callable[[], SendLimiter] = fast_limiter,
        warnings: list[str] | None = None,
    ) -> None:
        assert config.matrix is not None, "the configuration has no [matrix] section"
        self.config = config
        self._limiter = limiter
        self.warnings = warnings if warnings is not None else []
        self.service: Services | None = None
        self.events: list[Incoming] = []
        """The neutral events the bot's inbox read from Matrix, in order, across restarts:
        what the router was handed (a vote, a pick by number)."""

    @property
    def user_id(self) -> str:
        assert self.config.matrix is not None
        return self.config.matrix.user_id

    async def start(self) -> Services:
        from bot.app import Services

        service = Services(
            self.config, limiters={Platform.MATRIX: self._limiter()}, warn=self.warnings.append
        )
        transport = service.transports.get(Platform.MATRIX)
        if transport is not None:
            service.inbox.add_reader(Platform.MATRIX, _Watched(transport, self.events))
        await service.start()
        self.service = service
        return service

    async def stop(self) -> None:
        if self.service is not None:
            service, self.service = self.service, None
            await service.stop()

    @property
    def store(self) -> Store:
        assert self.service is not None, "the bot is not running"
        return self.service.store


class _Watched:
    """The transport's reading of stored events, each kept as it is handed to the router."""

    def __init__(self, reader: Any, seen: list[Incoming]) -> None:
        self._reader: InboxReader = reader
        self._seen = seen

    async def read_inbound(self, record: InboundRecord) -> Incoming | None:
        event = await self._reader.read_inbound(record)
        if event is not None:
            self._seen.append(event)
        return event


# -- a member --------------------------------------------------------------------------------


def event_record(event: Event) -> dict[str, Any]:
    """What a test reads of a room event (decrypted when nio could decrypt it)."""
    source: Mapping[str, Any] = event.source or {}
    content = source.get("content")
    content = content if isinstance(content, dict) else {}
    relates = content.get("m.relates_to")
    relates = relates if isinstance(relates, dict) else {}
    undecryptable = isinstance(event, MegolmEvent)
    decrypted = bool(getattr(event, "decrypted", False))
    replied = relates.get("m.in_reply_to")
    unsigned = source.get("unsigned")
    return {
        "event_id": event.event_id,
        "sender": event.sender,
        "type": source.get("type"),
        "msgtype": content.get("msgtype"),
        "body": content.get("body"),
        "format": content.get("format"),
        "formatted_body": content.get("formatted_body"),
        "relates_to": relates.get("event_id"),
        "rel_type": relates.get("rel_type"),
        "key": relates.get("key"),
        "in_reply_to": replied.get("event_id") if isinstance(replied, dict) else None,
        "redacts": source.get("redacts") or content.get("redacts"),
        "redacted": isinstance(unsigned, dict) and "redacted_because" in unsigned,
        "profile": _profile(content),
        "encrypted": undecryptable or decrypted,
        "decrypted": decrypted,
        "verified": bool(getattr(event, "verified", False)),
        "undecryptable": undecryptable,
        "state": "state_key" in source,
        "content": content,
    }


def _profile(content: Mapping[str, Any]) -> dict[str, Any] | None:
    for key in PROFILE_KEYS:
        profile = content.get(key)
        if isinstance(profile, dict):
            return profile
    return None


@dataclass
class PostedMessage:
    """A message as a member's client shows it: the latest edit (``m.replace`` by the same
    sender) applied, redactions marked. ``original`` is the content as first sent."""

    event_id: str
    sender: str
    type: str
    original: dict[str, Any]
    edits: list[dict[str, Any]] = field(default_factory=list)
    """The edit events' records (see :func:`event_record`), oldest first."""
    redacted_by: str | None = None
    """The redaction's event id ("" when the event came already redacted)."""
    undecryptable: bool = False

    @property
    def content(self) -> dict[str, Any]:
        """The current content: the latest edit's ``m.new_content``, else the original."""
        for edit in reversed(self.edits):
            new = edit["content"].get("m.new_content")
            if isinstance(new, dict):
                return new
        return self.original

    @property
    def redacted(self) -> bool:
        return self.redacted_by is not None

    @property
    def body(self) -> str | None:
        body = self.content.get("body")
        return body if isinstance(body, str) else None

    @property
    def formatted_body(self) -> str | None:
        formatted = self.content.get("formatted_body")
        return formatted if isinstance(formatted, str) else None

    @property
    def msgtype(self) -> str | None:
        msgtype = self.content.get("msgtype")
        return msgtype if isinstance(msgtype, str) else None

    @property
    def relates_to(self) -> dict[str, Any]:
        """The original's ``m.relates_to`` (``{}`` when none)."""
        relates = self.original.get("m.relates_to")
        return relates if isinstance(relates, dict) else {}

    @property
    def reply_to(self) -> str | None:
        """The event id this message answers (``m.in_reply_to``)."""
        replied = self.relates_to.get("m.in_reply_to")
        return replied.get("event_id") if isinstance(replied, dict) else None

    @property
    def profile(self) -> dict[str, Any] | None:
        """The per-message profile (MSC4144) the message shows its sender under."""
        return _profile(self.content) or _profile(self.original)

    @property
    def marker(self) -> Any:
        """The bridge's ``org.caucus.relay`` marker (None on a member's own message)."""
        return self.original.get(RELAY_MARKER)


def posted_messages(records: Sequence[Mapping[str, Any]]) -> list[PostedMessage]:
    """The messages among a room's event records (messages, stickers, poll starts, still
    undecryptable events, and what is left of redacted ones), with edits and redactions
    applied."""
    posts: dict[str, PostedMessage] = {}
    for record in records:
        if record["state"] or record["type"] in ("m.reaction", "m.room.redaction"):
            continue
        if record["rel_type"] == "m.replace" and not record["undecryptable"]:
            target = posts.get(str(record["relates_to"]))
            if target is not None and target.sender == record["sender"]:
                target.edits.append(dict(record))
            continue
        shown = record["type"] in ("m.room.message", "m.sticker", POLL_START)
        if not (shown or record["undecryptable"] or record["redacted"]):
            continue  # a redacted encrypted message keeps its type m.room.encrypted
        posts[record["event_id"]] = PostedMessage(
            event_id=record["event_id"],
            sender=record["sender"],
            type=str(record["type"]),
            original=dict(record["content"]),
            redacted_by="" if record["redacted"] else None,
            undecryptable=bool(record["undecryptable"]),
        )
    for record in records:
        if record["type"] == "m.room.redaction" and record["redacts"] in posts:
            posts[record["redacts"]].redacted_by = record["event_id"]
    return list(posts.values())


def _short(record: Mapping[str, Any]) -> str:
    what = record["msgtype"] or record["type"]
    if record["undecryptable"]:
        what = "UNDECRYPTABLE m.room.encrypted"
    text = record["body"] if record["body"] is not None else record["key"] or ""
    text = str(text).replace("\n", "⏎")
    if len(text) > 100:
        text = text[:97] + "..."
    return f"{record['event_id']} {record['sender']} {what}: {text}"


class MatrixMember:
    """A member on the homeserver, using a real matrix-nio client.

    Nothing runs in the background: the member syncs when a method waits for something
    (``sync``, ``wait_until``, ``messages_from`` and everything built on them), and every sync
    also does what nio's ``sync_forever`` would do between syncs for encryption (upload,
    query and claim keys, send to-device messages), trusts every device of every member of
    its encrypted rooms on first sight, and retries decrypting events whose key came late.
    """

    def __init__(
        self,
        server: SynapseServer,
        account: RegisteredUser,
        display_name: str,
        *,
        encrypted: bool = False,
        store_dir: Path | None = None,
    ) -> None:
        self.server = server
        self.account = account
        self.user_id = account.user_id
        self.display_name = display_name
        self.encrypted = encrypted
        self._owned_store: Path | None = None
        if encrypted and store_dir is None:
            store_dir = Path(tempfile.mkdtemp(prefix="nio-member-"))
            self._owned_store = store_dir
        if store_dir is not None:
            store_dir.mkdir(parents=True, exist_ok=True)
        self.store_dir = store_dir
        self.client = AsyncClient(
            server.base_url,
            account.user_id,
            device_id=account.device_id,
            store_path=str(store_dir) if encrypted else "",
            config=AsyncClientConfig(
                encryption_enabled=encrypted,
                store_sync_tokens=encrypted,
                pickle_key=secrets.token_urlsafe(24),
                request_timeout=30,
                max_timeouts=2,
                max_limit_exceeded=5,
            ),
        )
        # Loads (creates) the Olm account from the store when encrypted.
        self.client.restore_login(account.user_id, account.device_id, account.access_token)
        self._timelines: dict[str, list[Event]] = {}
        self._seen: set[str] = set()
        self._accepted: set[str] = set()
        self._started = False
        self.syncs = 0
        self.gaps: list[str] = []
        """Rooms whose timeline came ``limited`` (events skipped) in some sync."""

    @classmethod
    async def create(
        cls,
        server: SynapseServer,
        display_name: str,
        *,
        encrypted: bool = False,
        store_dir: Path | None = None,
        localpart: str | None = None,
    ) -> MatrixMember:
        """Register a member (a random localpart unless given), sign in and sync once."""
        account = await server.register(
            localpart or unique_localpart(display_name), displayname=display_name
        )
        member = cls(server, account, display_name, encrypted=encrypted, store_dir=store_dir)
        try:
            await member.sync(0)
        except BaseException:
            await member.close()
            raise
        return member

    @property
    def device_id(self) -> str:
        return self.account.device_id

    async def close(self) -> None:
        await self.client.close()
        if self._owned_store is not None:
            shutil.rmtree(self._owned_store, ignore_errors=True)
            self._owned_store = None

    # -- syncing -----------------------------------------------------------------------------

    async def sync(self, timeout_ms: int = POLL_MS) -> SyncResponse:
        """One sync (a long-poll of at most ``timeout_ms``), then the encryption chores."""
        client = self.client
        first = not self._started
        response = await client.sync(
            timeout=0 if first else timeout_ms,
            sync_filter=SYNC_FILTER,
            full_state=True if first else None,
        )
        if not isinstance(response, SyncResponse):
            raise MatrixHarnessError(f"{self.user_id}: sync failed: {response}")
        self._started = True
        self.syncs += 1
        for room_id, info in response.rooms.join.items():
            if info.timeline.limited and self.syncs > 1:
                self.gaps.append(room_id)
            timeline = self._timelines.setdefault(room_id, [])
            for event in info.timeline.events:
                if event.event_id and event.event_id not in self._seen:
                    self._seen.add(event.event_id)
                    timeline.append(event)
        if client.olm is not None:
            await self._encryption_chores()
        return response

    async def _encryption_chores(self) -> None:
        client = self.client
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()
        self.trust_on_first_use()
        self._retry_decryption()

    def trust_on_first_use(self) -> int:
        """Verify every not yet verified device of every member of our encrypted rooms."""
        client = self.client
        changed = 0
        for room in client.rooms.values():
            if not room.encrypted:
                continue
            for user_id in room.users:
                for device in client.device_store.active_user_devices(user_id):
                    if device.id == client.device_id and user_id == self.user_id:
                        continue
                    if not device.verified and not device.blacklisted:
                        client.verify_device(device)
                        changed += 1
        return changed

    def _retry_decryption(self) -> None:
        for room_id, timeline in self._timelines.items():
            for index, event in enumerate(timeline):
                if not isinstance(event, MegolmEvent):
                    continue
                event.room_id = room_id
                with contextlib.suppress(EncryptionError):
                    decrypted = self.client.decrypt_event(event)
                    if not isinstance(decrypted, MegolmEvent):
                        timeline[index] = decrypted

    async def wait_until(
        self,
        found: Callable[[], T | None],
        *,
        what: str,
        timeout: float = REPLY_TIMEOUT,  # noqa: ASYNC109 - bounds the whole wait
        room_id: str | None = None,
    ) -> T:
        """Sync until ``found()`` returns something other than None or False."""
        deadline = time.monotonic() + timeout
        while True:
            result = found()
            if result is not None and result is not False:
                return result
            if time.monotonic() > deadline:
                raise MatrixHarnessError(
                    f"{self.user_id} waited {timeout:g} s for {what}; " + self.describe(room_id)
                )
            await self.sync(POLL_MS)

    def describe(self, room_id: str | None = None, last: int = 15) -> str:
        """What this member has seen (of one room, or of all), for error messages."""
        rooms = [room_id] if room_id is not None else list(self._timelines)
        lines = [f"{self.syncs} syncs"]
        if self.gaps:
            lines.append(f"timeline gaps in {sorted(set(self.gaps))}")
        invited = list(self.client.invited_rooms)
        if invited:
            lines.append(f"pending invitations: {invited}")
        for room in rooms:
            records = self.timeline(room)
            members = ""
            nio_room = self.client.rooms.get(room)
            if nio_room is not None:
                joined = sorted(set(nio_room.users) - set(nio_room.invited_users))
                members = (
                    f" joined={joined} invited={sorted(nio_room.invited_users)} "
                    f"encrypted={nio_room.encrypted}"
                )
            lines.append(f"room {room}{members}, last {last} of {len(records)} events:")
            lines.extend("  " + _short(record) for record in records[-last:])
        return "\n".join(lines)

    # -- rooms -------------------------------------------------------------------------------

    def timeline(self, room_id: str) -> list[dict[str, Any]]:
        """Every event this member has seen in the room, in order."""
        return [event_record(event) for event in self._timelines.get(room_id, [])]

    def has_joined(self, room_id: str, user_id: str) -> bool:
        room = self.client.rooms.get(room_id)
        return room is not None and user_id in room.users and user_id not in room.invited_users

    def devices_of(self, user_id: str) -> list[Any]:
        """The devices nio knows for ``user_id`` (empty without encryption)."""
        if self.client.olm is None:
            return []
        return list(self.client.device_store.active_user_devices(user_id))

    def _encryption_state(self, encrypted: bool) -> list[dict[str, Any]]:
        """A new room's initial state: Megolm from the start when ``encrypted``."""
        if not encrypted:
            return []
        if not self.encrypted:
            raise ValueError(f"{self.user_id} was created without encryption")
        return [{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}]

    async def open_direct_room(
        self,
        other_user_id: str,
        *,
        encrypted: bool,
        timeout: float = REPLY_TIMEOUT,  # noqa: ASYNC109 - bounds the whole wait
    ) -> str:
        """Create a direct room, invite ``other_user_id`` and wait until they have joined.

        Encrypted: the room starts with ``m.room.encryption`` (Megolm) in its initial state,
        and this returns once the other side's device(s) are known and trusted (on first
        use), so the first message is shared with them."""
        initial_state = self._encryption_state(encrypted)
        response = await self.client.room_create(
            is_direct=True,
            preset=RoomPreset.trusted_private_chat,
            invite=[other_user_id],
            initial_state=initial_state,
        )
        if not isinstance(response, RoomCreateResponse):
            raise MatrixHarnessError(f"{self.user_id} could not create a room: {response}")
        room_id = response.room_id
        await self.wait_until(
            lambda: self.has_joined(room_id, other_user_id),
            what=f"{other_user_id} to join {room_id}",
            timeout=timeout,
            room_id=room_id,
        )
        if encrypted:
            await self.wait_until(
                lambda: self.devices_of(other_user_id),
                what=f"the device keys of {other_user_id}",
                timeout=timeout,
                room_id=room_id,
            )
            self.trust_on_first_use()
        return str(room_id)

    async def accept_invite(
        self,
        inviter: str | None = None,
        *,
        timeout: float = REPLY_TIMEOUT,  # noqa: ASYNC109 - bounds the whole wait
    ) -> str:
        """Wait for an invitation (from ``inviter``, if given), join and return the room id."""

        def invitation() -> str | None:
            for room_id, room in self.client.invited_rooms.items():
                if room_id in self._accepted:
                    continue
                if inviter is None or room.inviter == inviter:
                    return str(room_id)
            return None

        room_id = await self.wait_until(
            invitation, what=f"an invitation from {inviter or 'anyone'}", timeout=timeout
        )
        self._accepted.add(room_id)
        joined = await self.client.join(room_id)
        if not isinstance(joined, JoinResponse):
            raise MatrixHarnessError(f"{self.user_id} could not join {room_id}: {joined}")
        await self.wait_until(
            lambda: self.has_joined(room_id, self.user_id),
            what=f"its own join of {room_id}",
            timeout=timeout,
            room_id=room_id,
        )
        return room_id

    async def open_group_room(
        self,
        invite: Sequence[str],
        *,
        encrypted: bool = False,
        name: str | None = None,
        wait_for: Sequence[str] | None = None,
        timeout: float = REPLY_TIMEOUT,  # noqa: ASYNC109 - bounds the whole wait
    ) -> str:
        """Create a private group room, invite ``invite`` and wait until those of
        ``wait_for`` (all invited, by default) have joined (test members must
        :meth:`accept_invite` meanwhile; the bot joins by itself). Encrypted: Megolm from the
        start, and this returns once their devices are known and trusted."""
        initial_state = self._encryption_state(encrypted)
        response = await self.client.room_create(
            name=name,
            preset=RoomPreset.private_chat,
            invite=list(invite),
            initial_state=initial_state,
        )
        if not isinstance(response, RoomCreateResponse):
            raise MatrixHarnessError(f"{self.user_id} could not create a room: {response}")
        room_id = str(response.room_id)
        waiting = list(invite if wait_for is None else wait_for)
        await self.wait_until(
            lambda: all(self.has_joined(room_id, user) for user in waiting),
            what=f"{waiting} to join {room_id}",
            timeout=timeout,
            room_id=room_id,
        )
        if encrypted:
            await self.wait_until(
                lambda: all(self.devices_of(user) for user in waiting),
                what=f"the device keys of {waiting}",
                timeout=timeout,
                room_id=room_id,
            )
            self.trust_on_first_use()
        return room_id

    # -- sending -----------------------------------------------------------------------------

    async def _room(self, room_id: str) -> Any:
        if room_id not in self.client.rooms:
            await self.sync(0)
        room = self.client.rooms.get(room_id)
        if room is None:
            raise MatrixHarnessError(f"{self.user_id} is not in {room_id}")
        return room

    async def send_message(self, room_id: str, content: Mapping[str, Any]) -> str:
        """Send an ``m.room.message`` (nio encrypts it in an encrypted room); its event id."""
        return await self.send_event(room_id, "m.room.message", content)

    async def send_event(self, room_id: str, event_type: str, content: Mapping[str, Any]) -> str:
        """Send a room event of any type (encrypted in an encrypted room); its event id."""
        room = await self._room(room_id)
        if room.encrypted:
            self.trust_on_first_use()
        response = await self.client.room_send(
            room_id,
            event_type,
            dict(content),
            ignore_unverified_devices=True,
        )
        if not isinstance(response, RoomSendResponse):
            raise MatrixHarnessError(f"{self.user_id} could not send to {room_id}: {response}")
        return str(response.event_id)

    async def send_text(self, room_id: str, text: str) -> str:
        """Send ``text`` as ``m.text``; return the event id."""
        return await self.send_message(room_id, {"msgtype": "m.text", "body": text})

    async def send_formatted(
        self,
        room_id: str,
        body: str,
        formatted_body: str | None = None,
        *,
        msgtype: str = "m.text",
        reply_to: str | None = None,
        reply_fallback: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """Send text with an HTML ``formatted_body`` (``org.matrix.custom.html``), as
        ``msgtype``, optionally answering ``reply_to``: a rich reply (``m.in_reply_to``),
        with the legacy fallback (quoted ``> `` lines in ``body``, ``<mx-reply>`` in
        ``formatted_body``) when ``reply_fallback``. ``extra`` keys are added to the content.
        """
        content: dict[str, Any] = {"msgtype": msgtype, "body": body}
        if formatted_body is not None:
            content.update(format="org.matrix.custom.html", formatted_body=formatted_body)
        if reply_to is not None:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
            if reply_fallback:
                content.update(await self._reply_fallback(room_id, reply_to, body, formatted_body))
        content.update(extra or {})
        return await self.send_message(room_id, content)

    async def reply(
        self,
        room_id: str,
        event_id: str,
        body: str,
        formatted_body: str | None = None,
        *,
        fallback: bool = True,
    ) -> str:
        """Answer ``event_id`` (as Element does: with the legacy fallback, unless told not)."""
        return await self.send_formatted(
            room_id, body, formatted_body, reply_to=event_id, reply_fallback=fallback
        )

    async def send_emote(self, room_id: str, body: str, formatted_body: str | None = None) -> str:
        """``/me body``: an ``m.emote``."""
        return await self.send_formatted(room_id, body, formatted_body, msgtype="m.emote")

    async def _reply_fallback(
        self, room_id: str, event_id: str, body: str, formatted_body: str | None
    ) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            records = self.timeline(room_id)
            return next((record for record in records if record["event_id"] == event_id), None)

        quoted = find()
        if quoted is None:
            await self.sync(0)  # the quoted message may be this member's own, just sent
            quoted = find()
        sender = str(quoted["sender"]) if quoted else "@unknown:example.org"
        text = str(quoted["body"] or "") if quoted else "..."
        lines = text.split("\n") or [""]
        fallback_body = f"> <{sender}> {lines[0]}\n" + "".join(f"> {line}\n" for line in lines[1:])
        quote_html = (
            f'<mx-reply><blockquote><a href="https://matrix.to/#/{room_id}/{event_id}">'
            f'In reply to</a> <a href="https://matrix.to/#/{sender}">{html.escape(sender)}</a>'
            f"<br>{html.escape(text)}</blockquote></mx-reply>"
        )
        own_html = formatted_body if formatted_body is not None else html.escape(body)
        return {
            "body": f"{fallback_body}\n{body}",
            "format": "org.matrix.custom.html",
            "formatted_body": quote_html + own_html,
        }

    async def edit(
        self,
        room_id: str,
        event_id: str,
        body: str,
        formatted_body: str | None = None,
        *,
        msgtype: str = "m.text",
        new_content: Mapping[str, Any] | None = None,
    ) -> str:
        """Replace ``event_id`` (``m.replace``) with a new text, as Element does: ``"* "``
        fallback at the top level, the new content in ``m.new_content`` (``new_content``,
        when given, is used as it is, e.g. a media caption edit)."""
        new: dict[str, Any] = dict(new_content or {"msgtype": msgtype, "body": body})
        if new_content is None and formatted_body is not None:
            new.update(format="org.matrix.custom.html", formatted_body=formatted_body)
        content: dict[str, Any] = {**new, "body": f"* {new.get('body', body)}"}
        if isinstance(new.get("formatted_body"), str):
            content["formatted_body"] = f"* {new['formatted_body']}"
        content["m.new_content"] = new
        content["m.relates_to"] = {"rel_type": "m.replace", "event_id": event_id}
        return await self.send_message(room_id, content)

    async def redact(self, room_id: str, event_id: str, reason: str | None = None) -> str:
        """Redact (delete) an event; return the redaction's event id."""
        await self._room(room_id)
        response = await self.client.room_redact(room_id, event_id, reason=reason)
        if not isinstance(response, RoomRedactResponse):
            raise MatrixHarnessError(f"{self.user_id} could not redact {event_id}: {response}")
        return str(response.event_id)

    async def upload(
        self, data: bytes, *, content_type: str, filename: str, encrypt: bool = False
    ) -> tuple[str, dict[str, Any] | None]:
        """Upload a file; its ``mxc://`` URL and, when ``encrypt``, the ``file`` object
        (URL, key, IV, hashes) an encrypted room's event carries instead of ``url``."""
        response, keys = await self.client.upload(
            lambda _limited, _timeouts: data,
            content_type=content_type,
            filename=filename,
            encrypt=encrypt,
            filesize=len(data),
        )
        if not isinstance(response, UploadResponse):
            raise MatrixHarnessError(f"{self.user_id} could not upload {filename}: {response}")
        uri = str(response.content_uri)
        return uri, ({**keys, "url": uri} if keys is not None else None)

    async def send_media(
        self,
        room_id: str,
        kind: str,
        data: bytes,
        *,
        filename: str,
        content_type: str,
        caption: str | None = None,
        formatted_caption: str | None = None,
        reply_to: str | None = None,
        info: Mapping[str, Any] | None = None,
        encrypt: bool | None = None,
    ) -> str:
        """Upload ``data`` and send it as ``kind``: ``image``, ``file``, ``audio``, ``voice``
        (``m.audio`` marked ``org.matrix.msc3245.voice``), ``video`` or ``sticker`` (an
        ``m.sticker`` event). The upload is encrypted in an encrypted room (or as
        ``encrypt`` says). A caption goes in ``body`` next to ``filename`` (MSC2530)."""
        room = await self._room(room_id)
        if encrypt is None:
            encrypt = bool(room.encrypted)
        uri, file = await self.upload(
            data, content_type=content_type, filename=filename, encrypt=encrypt
        )
        content: dict[str, Any] = {
            "body": caption if caption is not None else filename,
            "info": {"mimetype": content_type, "size": len(data), **(info or {})},
        }
        if kind != "sticker":
            content["msgtype"] = MEDIA_MSGTYPES[kind]
            content["filename"] = filename
        if kind == "voice":
            content[VOICE_KEY] = {}
            content["org.matrix.msc1767.audio"] = {"duration": 1000, "waveform": [0, 512, 1024]}
        if formatted_caption is not None:
            content.update(format="org.matrix.custom.html", formatted_body=formatted_caption)
        if file is not None:
            content["file"] = file
        else:
            content["url"] = uri
        if reply_to is not None:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        event_type = "m.sticker" if kind == "sticker" else "m.room.message"
        return await self.send_event(room_id, event_type, content)

    async def send_location(
        self, room_id: str, body: str = "Big Ben", geo_uri: str = "geo:51.5008,0.1247"
    ) -> str:
        """Share a location (``m.location``, with the MSC3488 location too)."""
        return await self.send_message(
            room_id,
            {
                "msgtype": "m.location",
                "body": body,
                "geo_uri": geo_uri,
                "org.matrix.msc3488.location": {"uri": geo_uri, "description": body},
            },
        )

    async def send_poll(self, room_id: str, question: str, answers: Sequence[str]) -> str:
        """Start a poll as Element does (MSC3381, unstable prefix)."""
        options = [
            {"id": f"answer-{n}", "org.matrix.msc1767.text": answer}
            for n, answer in enumerate(answers, start=1)
        ]
        fallback = "\n".join([question, *(f"{n}. {a}" for n, a in enumerate(answers, start=1))])
        return await self.send_event(
            room_id,
            POLL_START,
            {
                POLL_START: {
                    "question": {"org.matrix.msc1767.text": question},
                    "kind": "org.matrix.msc3381.poll.disclosed",
                    "max_selections": 1,
                    "answers": options,
                },
                "org.matrix.msc1767.text": fallback,
            },
        )

    async def send_poll_response(
        self,
        room_id: str,
        poll_event_id: str,
        answer_ids: Sequence[str],
        *,
        stable: bool = False,
    ) -> str:
        """Answer a poll as a client does (encrypted in an encrypted room, the reference in
        the clear): the unstable shape Element sends, or (``stable``) ``m.poll.response``
        with ``m.selections``. No answer ids take the vote back."""
        relation = {"rel_type": "m.reference", "event_id": poll_event_id}
        if stable:
            content = {"m.relates_to": relation, "m.selections": list(answer_ids)}
            return await self.send_event(room_id, "m.poll.response", content)
        unstable = {"m.relates_to": relation, POLL_RESPONSE: {"answers": list(answer_ids)}}
        return await self.send_event(room_id, POLL_RESPONSE, unstable)

    async def send_undecryptable(self, room_id: str) -> str:
        """Send an ``m.room.encrypted`` event under a Megolm session nobody has the key of:
        no client (the bot included) can ever decrypt it."""

        def noise(size: int) -> str:
            return base64.b64encode(secrets.token_bytes(size)).decode().rstrip("=")

        content = {
            "algorithm": MEGOLM,
            "sender_key": noise(32),
            "ciphertext": noise(96),
            "session_id": noise(32),
            "device_id": self.device_id,
        }
        path = (
            f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/send/m.room.encrypted/"
            f"{uuid.uuid4().hex}"
        )
        answer = await self.server.request(
            "PUT", path, content, access_token=self.account.access_token
        )
        return str(answer["event_id"])

    async def react(
        self, room_id: str, event_id: str, key: str, *, encrypt: bool | None = None
    ) -> str:
        """Annotate ``event_id`` with ``key`` (an emoji); return the reaction's event id.

        ``encrypt=None`` does what Element does: encrypt the reaction in an encrypted room
        (``m.relates_to`` stays in the clear, as the spec wants). ``encrypt=False`` sends it
        in the clear, which is what nio's own ``room_send`` does with every ``m.reaction``."""
        room = await self._room(room_id)
        content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
        if encrypt is None:
            encrypt = bool(room.encrypted)
        if not encrypt:
            response = await self.client.room_send(room_id, "m.reaction", content)
            if not isinstance(response, RoomSendResponse):
                raise MatrixHarnessError(f"{self.user_id} could not react: {response}")
            return str(response.event_id)
        if not room.encrypted:
            raise ValueError(f"{room_id} is not encrypted")
        await self._ensure_group_session(room_id)
        event_type, encrypted = self.client.encrypt(room_id, "m.reaction", content)
        path = (
            f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/send/"
            f"{quote(event_type, safe='')}/{uuid.uuid4().hex}"
        )
        answer = await self.server.request(
            "PUT", path, encrypted, access_token=self.account.access_token
        )
        return str(answer["event_id"])

    async def _ensure_group_session(self, room_id: str) -> None:
        """What nio's ``room_send`` does before encrypting: members, keys, room key shared."""
        client = self.client
        assert client.olm is not None
        self.trust_on_first_use()
        room = client.rooms[room_id]
        if not room.members_synced:
            await client.joined_members(room_id)
            if client.should_query_keys:
                await client.keys_query()
            self.trust_on_first_use()
        if client.olm.should_share_group_session(room_id):
            await client.share_group_session(room_id, ignore_unverified_devices=True)

    # -- reading -----------------------------------------------------------------------------

    def events_after(
        self, room_id: str, event_id: str, sender: str | None = None
    ) -> list[dict[str, Any]] | None:
        """Non-state events after ``event_id`` (by ``sender``, if given); None while this
        member has not seen ``event_id`` itself."""
        records = self.timeline(room_id)
        for index, record in enumerate(records):
            if record["event_id"] == event_id:
                return [
                    later
                    for later in records[index + 1 :]
                    if not later["state"] and (sender is None or later["sender"] == sender)
                ]
        return None

    async def messages_from(
        self, user_id: str, room_id: str, since_event_id: str, *, sync: bool = True
    ) -> list[dict[str, Any]]:
        """``user_id``'s events after ``since_event_id``, decrypted where possible.

        Syncs once (without waiting) first unless ``sync=False``. Each is a dict with
        ``event_id``, ``sender``, ``type``, ``msgtype``, ``body``, ``formatted_body``,
        ``relates_to``/``key`` (reactions), ``decrypted``, ``undecryptable`` and ``content``."""
        if sync:
            await self.sync(0)
        return self.events_after(room_id, since_event_id, user_id) or []

    async def wait_for_messages(
        self,
        user_id: str,
        room_id: str,
        since_event_id: str,
        *,
        count: int = 1,
        timeout: float = REPLY_TIMEOUT,  # noqa: ASYNC109 - bounds the whole wait
    ) -> list[dict[str, Any]]:
        """Sync until ``count`` decrypted events of ``user_id`` follow ``since_event_id``."""

        def enough() -> list[dict[str, Any]] | None:
            records = self.events_after(room_id, since_event_id, user_id) or []
            if len(records) >= count and not any(r["undecryptable"] for r in records):
                return records
            return None

        return await self.wait_until(
            enough,
            what=f"{count} event(s) from {user_id} after {since_event_id}",
            timeout=timeout,
            room_id=room_id,
        )

    def events_of_type(
        self, room_id: str, event_type: str, sender: str | None = None
    ) -> list[dict[str, Any]]:
        """The room's events of ``event_type`` (by ``sender`` if given) this member has
        seen, decrypted ones by their own type (see :func:`event_record`)."""
        return [
            record
            for record in self.timeline(room_id)
            if record["type"] == event_type and (sender is None or record["sender"] == sender)
        ]

    async def wait_for_events(
        self,
        room_id: str,
        event_type: str,
        sender: str | None = None,
        *,
        count: int = 1,
        timeout: float = REPLY_TIMEOUT,  # noqa: ASYNC109 - bounds the whole wait
    ) -> list[dict[str, Any]]:
        """Sync until ``count`` events of ``event_type`` (by ``sender``) are there."""

        def enough() -> list[dict[str, Any]] | None:
            found = self.events_of_type(room_id, event_type, sender)
            return found if len(found) >= count else None

        return await self.wait_until(
            enough,
            what=f"{count} {event_type} event(s) from {sender or 'anyone'}",
            timeout=timeout,
            room_id=room_id,
        )

    def posts(
        self, room_id: str, sender: str | None = None, *, after: str | None = None
    ) -> list[PostedMessage]:
        """The room's messages as this member sees them now (see :class:`PostedMessage`),
        by ``sender`` if given, and only those after the event ``after`` if given."""
        # Edits and redactions of earlier messages apply whenever they came.
        posted = posted_messages(self.timeline(room_id))
        if after is not None:
            later = self.events_after(room_id, after)
            if later is None:
                return []
            kept = {record["event_id"] for record in later}
            posted = [post for post in posted if post.event_id in kept]
        return [post for post in posted if sender is None or post.sender == sender]

    async def wait_for_posts(
        self,
        room_id: str,
        sender: str | None = None,
        *,
        after: str | None = None,
        count: int = 1,
        until: Callable[[list[PostedMessage]], bool] | None = None,
        timeout: float = REPLY_TIMEOUT,  # noqa: ASYNC109 - bounds the whole wait
    ) -> list[PostedMessage]:
        """Sync until ``count`` messages (of ``sender``, after ``after``) are there, all
        decrypted, and ``until(messages)`` holds if given (an edit or a redaction seen)."""

        def ready() -> list[PostedMessage] | None:
            found = self.posts(room_id, sender, after=after)
            if len(found) < count or any(post.undecryptable for post in found):
                return None
            if until is not None and not until(found):
                return None
            return found

        return await self.wait_until(
            ready,
            what=f"{count} message(s) from {sender or 'anyone'} after {after}",
            timeout=timeout,
            room_id=room_id,
        )

    async def download(self, message: PostedMessage | Mapping[str, Any]) -> bytes:
        """The file of a media message (or content), decrypted when it was encrypted."""
        content = message.content if isinstance(message, PostedMessage) else message
        file = content.get("file")
        url = file["url"] if isinstance(file, dict) else content.get("url")
        if not isinstance(url, str):
            raise MatrixHarnessError(f"no file in {content}")
        response = await self.client.download(mxc=url)
        if not isinstance(response, MemoryDownloadResponse):
            raise MatrixHarnessError(f"{self.user_id} could not download {url}: {response}")
        data = bytes(response.body)
        if isinstance(file, dict):
            data = decrypt_attachment(data, file["key"]["k"], file["hashes"]["sha256"], file["iv"])
        return data


# -- the transport alone ---------------------------------------------------------------------


class StoredEvents:
    """Stands in for the router in tests of the Matrix transport alone: reads back the
    events the transport stored in the inbox, in order, marks each handled and keeps it
    (``events``). Give the transport :meth:`wake` as its ``inbox_wake``."""

    def __init__(self, store: Store) -> None:
        self.events: list[Incoming] = []
        self._store = store
        self._woken = asyncio.Event()

    def wake(self) -> None:
        self._woken.set()

    async def run(self, reader: InboxReader) -> None:
        """Read until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), timeout=1.0)
            self._woken.clear()
            for record in await asyncio.to_thread(self._store.inbox.pending, Platform.MATRIX):
                event = await reader.read_inbound(record)
                await asyncio.to_thread(self._store.inbox.mark_handled, Platform.MATRIX, record.key)
                if event is not None:
                    self.events.append(event)


# -- waiting for the bot ---------------------------------------------------------------------


def _store_idle(store: Store) -> bool:
    return not store.inbox.pending(Platform.MATRIX) and not store.outbox.pending(Platform.MATRIX)


def _store_state(store: Store) -> str:
    inbound = [record.key for record in store.inbox.pending(Platform.MATRIX)]
    outgoing = store.outbox.pending(Platform.MATRIX)
    return f"bot store: pending inbound {inbound}, pending outgoing {len(outgoing)}"


async def settle(
    member: MatrixMember,
    store: Store,
    room_id: str,
    event_id: str,
    bot_user_id: str,
    *,
    expect_reply: bool = True,
    timeout: float = REPLY_TIMEOUT,  # noqa: ASYNC109 - bounds the whole wait
    quiet: float = QUIET_SECONDS,
) -> list[dict[str, Any]]:
    """Wait until the bot is done with the member's event ``event_id``; return its replies.

    The rule (see the module docstring): a reply after the event has been seen, then the
    bot's store is idle, then one more sync; the replies are all decrypted. With
    ``expect_reply=False``: the store idle and no reply for ``quiet`` seconds (returns
    ``[]``), or the replies if some came after all. Raises :class:`MatrixHarnessError` after
    ``timeout`` seconds, with what was seen."""
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    while True:
        # A reply seen *before* the store is found idle proves the bot had handled the
        # event by then (it queues all of an event's replies in the handling transaction),
        # so idle means all of them were delivered, and the sync after it returns them all.
        answered = bool(member.events_after(room_id, event_id, bot_user_id))
        idle = _store_idle(store)
        await member.sync(0 if idle and answered else POLL_MS)
        replies = member.events_after(room_id, event_id, bot_user_id)
        decrypted = not any(reply["undecryptable"] for reply in replies or [])
        if answered and idle and decrypted:
            assert replies
            return replies
        now = time.monotonic()
        if not expect_reply and idle and replies == []:
            quiet_since = quiet_since if quiet_since is not None else now
            if now - quiet_since >= quiet:
                return []
        else:
            quiet_since = None
        if now > deadline:
            seen = "never saw its own event" if replies is None else f"{len(replies)} replies"
            raise MatrixHarnessError(
                f"the bot did not settle {event_id} within {timeout:g} s ({seen}); "
                f"{_store_state(store)}\n{member.describe(room_id)}"
            )


def render(replies: list[dict[str, Any]]) -> str:
    """What a member sees, like the console: each reply's body (it ends with the numbered
    choices), separated by a blank line."""
    if not replies:
        return ""
    return "\n\n".join(str(reply["body"] or "") for reply in replies) + "\n"


def find_choice(replies: list[dict[str, Any]], label: str) -> tuple[dict[str, Any], int] | None:
    """The latest reply offering a numbered choice labelled ``label`` (or, failing that,
    whose label contains it), and its number."""
    for reply in reversed(replies):
        offered = []
        for line in str(reply["body"] or "").splitlines():
            match = _CHOICE_LINE.match(line)
            if match is not None:
                offered.append((int(match.group(1)), strip_direction_marks(match.group(2))))
        for exact in (True, False):
            for number, text in offered:
                if (text.strip() == label) if exact else (label in text):
                    return reply, number
    return None


class MatrixChat:
    """One member in a direct room with the bot, typing, picking numbers or reacting."""

    def __init__(
        self,
        member: MatrixMember,
        bot: MatrixBot,
        room_id: str,
        *,
        timeout: float = REPLY_TIMEOUT,
    ) -> None:
        self.member = member
        self.bot = bot
        self.room_id = room_id
        self.timeout = timeout
        self.user_label = member.user_id
        self.shown: list[dict[str, Any]] = []
        self.last = ""

    @classmethod
    async def open(
        cls,
        server: SynapseServer,
        bot: MatrixBot,
        display_name: str,
        *,
        encrypted: bool = False,
        store_dir: Path | None = None,
        localpart: str | None = None,
    ) -> MatrixChat:
        """Register a member, open a direct room with the running bot and wait for its join."""
        member = await MatrixMember.create(
            server, display_name, encrypted=encrypted, store_dir=store_dir, localpart=localpart
        )
        try:
            room_id = await member.open_direct_room(bot.user_id, encrypted=encrypted)
        except BaseException:
            await member.close()
            raise
        return cls(member, bot, room_id)

    async def send(self, text: str) -> str:
        event_id = await self.member.send_text(self.room_id, text)
        return await self._answer_to(event_id)

    async def send_silent(self, text: str) -> str:
        """Send something the bot is expected not to answer; its answer if it does anyway."""
        event_id = await self.member.send_text(self.room_id, text)
        return await self._answer_to(event_id, expect_reply=False)

    async def pick(self, label: str) -> str:
        """Answer with the number of the offered choice whose label contains ``label``."""
        _, number = self._choice(label)
        return await self.send(str(number))

    async def pick_by_reaction(self, label: str) -> str:
        """React to the offering message with the keycap of the choice's number."""
        reply, number = self._choice(label)
        if not 1 <= number <= len(KEYCAPS):
            raise MatrixHarnessError(f"choice {number} has no keycap reaction")
        event_id = await self.member.react(self.room_id, reply["event_id"], KEYCAPS[number - 1])
        return await self._answer_to(event_id)

    async def pick_by_reaction_from(self, replies: list[dict[str, Any]], label: str) -> str:
        """React to an earlier offering message (one of ``replies``), not the latest."""
        found = find_choice(replies, label)
        if found is None:
            raise AssertionError(f"no choice labelled {label!r} in those replies")
        reply, number = found
        event_id = await self.member.react(self.room_id, reply["event_id"], KEYCAPS[number - 1])
        return await self._answer_to(event_id)

    async def resume(self) -> str:
        return ""

    async def close(self) -> None:
        await self.member.close()

    def _choice(self, label: str) -> tuple[dict[str, Any], int]:
        found = find_choice(self.shown, label)
        if found is None:
            raise AssertionError(f"no choice labelled {label!r} in:\n{self.last}")
        return found

    async def _answer_to(self, event_id: str, *, expect_reply: bool = True) -> str:
        self.shown = await settle(
            self.member,
            self.bot.store,
            self.room_id,
            event_id,
            self.bot.user_id,
            expect_reply=expect_reply,
            timeout=self.timeout,
        )
        self.last = render(self.shown)
        return self.last


__all__ = [
    "KEYCAPS",
    "MEDIA_MSGTYPES",
    "MatrixBot",
    "MatrixChat",
    "MatrixHarnessError",
    "MatrixMember",
    "PostedMessage",
    "event_record",
    "fast_limiter",
    "find_choice",
    "matrix_config",
    "matrix_config_sync",
    "posted_messages",
    "render",
    "settle",
    "start_synapse_sync",
    "stop_synapse_sync",
    "synapse_session",
    "unique_localpart",
]
