"""The bot on Matrix in a test: the real bot (``bot.app.MatrixService``) and real members
(matrix-nio clients, with real Olm/Megolm when the room is encrypted) on a real Synapse.

Pieces, from the outside in:

* :func:`start_synapse_sync` / :func:`stop_synapse_sync` (or :func:`synapse_session`) run the
  homeserver of :mod:`synapse_server` for a synchronous, session-scoped pytest fixture. The
  server is a subprocess, independent of event loops, so every test's loop may use it.
* :func:`matrix_config` registers a fresh bot account (admin, rate limits lifted) and returns
  the bot's :class:`~bot.config.AppConfig`; :class:`MatrixBot` starts and stops the bot on it.
* :class:`MatrixMember` is one test member: a nio ``AsyncClient`` of its own, syncing only
  when asked (short long-polls), keeping a running timeline per room.
* :class:`MatrixChat` drives a member's direct room with the bot through the shared
  :class:`chat.Chat` protocol, waiting for each answer with :func:`settle`.

When is the bot done with a member's event (:func:`settle`)? There is no store getter for a
single inbound row, so "settled" is read from the outside, in this order:

1. the member has seen at least one message from the bot after its event (in its own
   timeline, built from its syncs);
2. *then* the bot's store is idle: ``store.pending_inbound(Platform.MATRIX)`` and
   ``store.pending_outgoing(Platform.MATRIX)`` are both empty;
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
import contextlib
import re
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
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
    RoomCreateResponse,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
)
from synapse_server import RegisteredUser, SynapseServer, start_synapse

from bot.config import AppConfig, load_config
from bot.conversation import strip_direction_marks
from bot.ratelimit import SendLimiter, Window
from bot.types import Platform
from storage import Store

if TYPE_CHECKING:
    from bot.app import MatrixService

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
        self.service: MatrixService | None = None

    @property
    def user_id(self) -> str:
        assert self.config.matrix is not None
        return self.config.matrix.user_id

    async def start(self) -> MatrixService:
        from bot.app import MatrixService

        service = MatrixService(self.config, limiter=self._limiter(), warn=self.warnings.append)
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
        "encrypted": undecryptable or decrypted,
        "decrypted": decrypted,
        "verified": bool(getattr(event, "verified", False)),
        "undecryptable": undecryptable,
        "state": "state_key" in source,
        "content": content,
    }


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
        if encrypted and not self.encrypted:
            raise ValueError(f"{self.user_id} was created without encryption")
        initial_state = (
            [{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}]
            if encrypted
            else []
        )
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
        room = await self._room(room_id)
        if room.encrypted:
            self.trust_on_first_use()
        response = await self.client.room_send(
            room_id,
            "m.room.message",
            dict(content),
            ignore_unverified_devices=True,
        )
        if not isinstance(response, RoomSendResponse):
            raise MatrixHarnessError(f"{self.user_id} could not send to {room_id}: {response}")
        return str(response.event_id)

    async def send_text(self, room_id: str, text: str) -> str:
        """Send ``text`` as ``m.text``; return the event id."""
        return await self.send_message(room_id, {"msgtype": "m.text", "body": text})

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


# -- waiting for the bot ---------------------------------------------------------------------


def _store_idle(store: Store) -> bool:
    return not store.pending_inbound(Platform.MATRIX) and not store.pending_outgoing(
        Platform.MATRIX
    )


def _store_state(store: Store) -> str:
    inbound = [record.key for record in store.pending_inbound(Platform.MATRIX)]
    outgoing = store.pending_outgoing(Platform.MATRIX)
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
    """The latest reply offering a numbered choice whose label contains ``label``, and its
    number."""
    for reply in reversed(replies):
        for line in str(reply["body"] or "").splitlines():
            match = _CHOICE_LINE.match(line)
            if match is None:
                continue
            text = match.group(2)
            if label in text or label in strip_direction_marks(text):
                return reply, int(match.group(1))
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
    "MatrixBot",
    "MatrixChat",
    "MatrixHarnessError",
    "MatrixMember",
    "event_record",
    "fast_limiter",
    "find_choice",
    "matrix_config",
    "matrix_config_sync",
    "render",
    "settle",
    "start_synapse_sync",
    "stop_synapse_sync",
    "synapse_session",
    "unique_localpart",
]
