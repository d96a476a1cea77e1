"""The Matrix transport, on matrix-nio's ``AsyncClient``.

Receiving: the bot runs its own sync loop. Each event of a sync batch is translated while
the transport has the room's state (:mod:`bot.transports.matrix.events`; relayed messages,
notices and the bot's own events never become events) and stored in the inbox, keyed by its
event id, as the neutral event (:mod:`bot.incoming_json`); only when the whole batch is
stored is its ``next_batch`` token stored, so a crash replays the batch and the stored
events are recognized: nothing is lost, nothing answered twice. The inbox
(:mod:`bot.inbox`) hands the stored events over, with every other platform's, in one order,
read back by :meth:`MatrixTransport.read_inbound`. matrix-nio's own token store is off,
since it would save the token before the events are stored.

Undecryptable events: an encrypted event whose room key has not come is stored as
*waiting* (its encrypted source), which the inbox does not hand over; it is tried again
after each sync, and after a restart, and made ready as the neutral event once its key
comes, or as :class:`Unrelayable` ``UNDECRYPTABLE`` once given up.

Sending is :class:`bot.transports.matrix.sender.MatrixSender`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ContentRepositoryConfigResponse,
    ErrorResponse,
    InviteMemberEvent,
    LoginResponse,
    MatrixRoom,
    MegolmEvent,
    MessageDirection,
    ReactionEvent,
    RoomGetStateResponse,
    RoomInviteResponse,
    RoomMessagesResponse,
    SyncResponse,
    WhoamiResponse,
)
from nio.crypto import ENCRYPTION_ENABLED

from bot.backoff import Backoff
from bot.cleaning import clean_line
from bot.config import MatrixConfig
from bot.i18n import Catalogs
from bot.inbox import UnreadableEvent
from bot.incoming_json import IncomingError, from_json, to_json
from bot.media import MATRIX_UPLOAD_LIMIT
from bot.outbox import TransientFailure
from bot.ratelimit import SendLimiter, Window
from bot.registry import RESERVED_COMMANDS
from bot.room_checks import BotAccess, Invitation
from bot.transports import PlatformParts, TransportStartError, Wiring
from bot.transports.matrix import render
from bot.transports.matrix.events import read_typed, translate
from bot.transports.matrix.media import MatrixMediaSource
from bot.transports.matrix.payloads import MatrixPayload
from bot.transports.matrix.privacy import RoomState, why_not_private
from bot.transports.matrix.render import (
    message_content,
    pick_by_reaction,
    pick_numbered,
)
from bot.transports.matrix.sender import (
    CHOICES_STATE,
    INVITED_DIRECT_STATE,
    POLL_CHOICES_STATE,
    MatrixSender,
)
from bot.transports.planning import PLANNING
from bot.types import (
    ChoicePicked,
    Incoming,
    Message,
    Origin,
    Platform,
    TextMessage,
    Unrelayable,
    UnrelayableKind,
)
from storage import InboundRecord, Store

log = logging.getLogger(__name__)

SYNC_TIMEOUT_MS = 30_000
SYNC_FILTER = {"room": {"timeline": {"limit": 100}}}
"""Up to 100 events a room per sync; a longer gap is fetched with /messages."""
GAP_LIMIT = 5_000
JOIN_GRACE_MS = 60_000
SKEW_PRECISION_MS = 2_000
"""How far the homeserver's Date header may be from our clock by rounding and latency."""
SKEW_ROUNDING_MS = 1_000
"""How far a measured skew may be off: the Date header's whole seconds."""
SKEW_LOGGED_MS = 5_000
"""A difference between the homeserver's clock and ours worth a log line (and a new one
when it changes by as much again)."""
UNDECRYPTED_TRIES = 30
"""Syncs an undecryptable event waits for its room key before it is given up (and the
group's other rooms are told, as :class:`Unrelayable` ``UNDECRYPTABLE``)."""
WAITING_LIMIT = 1_000
"""Encrypted events waiting for their key that a restart takes up again (the oldest)."""
TOKEN_STATE = "next_batch"  # noqa: S105  (a state name, not a secret)
WARNED_STATE = "no-encryption-warned:"


class MatrixStartError(TransportStartError):
    """The bot cannot start on Matrix."""


def pickle_key_problem(config: MatrixConfig) -> str | None:
    """Why the transport would refuse to start for want of a pickle key (one line with the
    fix), or ``None``; ``caucus check-config`` reports the same."""
    if ENCRYPTION_ENABLED and config.pickle_key is None:
        return (
            "matrix.pickle_key: is required to keep the encryption keys safe; fix: set "
            "CAUCUS_MATRIX_PICKLE_KEY to a long random string (and keep it)"
        )
    return None


def room_state(room: MatrixRoom, is_direct: bool | None) -> RoomState:
    """What the privacy rule reads of a room, as the sync left nio's view of it."""
    return RoomState(
        join_rule=str(room.join_rule),
        history_visibility=str(room.history_visibility),
        # nio's ``users`` holds the invited too.
        joined=frozenset(room.users) - frozenset(room.invited_users),
        invited=frozenset(room.invited_users),
        is_direct=is_direct,
    )


class MatrixTransport:
    """Syncs with the homeserver and stores room events, translated, in the inbox; reads
    them back from it (:meth:`read_inbound`)."""

    platform = Platform.MATRIX

    def __init__(
        self,
        config: MatrixConfig,
        store: Store,
        inbox_wake: Callable[[], None],
        *,
        catalogs: Catalogs,
        known_commands: frozenset[str],
        configured_rooms: frozenset[str],
        default_language: str,
        warn: Callable[[str], None],
    ) -> None:
        self._config = config
        self._store = store
        self._inbox_wake = inbox_wake
        self._catalogs = catalogs
        self._known_commands = known_commands
        self._configured_rooms = configured_rooms
        # Rooms of working groups, by the configuration or by /link: never direct rooms.
        self._group_rooms = configured_rooms
        self._default_language = default_language
        self._warn = warn
        self._encryption = ENCRYPTION_ENABLED
        self._stopping = asyncio.Event()
        self._caught_up = False
        self._joined_at: dict[str, int] = {}
        self._started_ms = 0
        # The homeserver's clock minus ours (its answers' Date), so that our moments
        # (start, join) compare with its timestamps whatever the skew; logged when it is large.
        self._skew_ms = 0
        self._logged_skew_ms = 0
        self._undecrypted: list[tuple[str, MegolmEvent, int]] = []
        # What each invitation said of is_direct (kept in the store too), by room.
        self._invited_direct: dict[str, bool | None] = {}
        config.store_path.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(
            config.homeserver,
            config.user_id,
            device_id=config.device_id,
            store_path=str(config.store_path),
            config=AsyncClientConfig(
                # The outbox and the sync loop retry on their own terms.
                max_limit_exceeded=0,
                max_timeouts=0,
                request_timeout=SYNC_TIMEOUT_MS / 1000 + 30,
                encryption_enabled=self._encryption,
                store_sync_tokens=False,
                pickle_key=(
                    config.pickle_key.get_secret_value() if config.pickle_key else "unused"
                ),
            ),
        )
        self.sender = MatrixSender(self.client, store, config.device_trust)
        self.media_source = MatrixMediaSource(self.client)
        """Members' files, for the senders that relay them to other rooms."""
        self.sender.media_sources[Platform.MATRIX] = self.media_source
        self.user_id = config.user_id

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in (reusing the device and its keys) and catch up with the rooms' state."""
        # The first start's history ends here: anything sent once start() returns is new.
        self._started_ms = int(time.time() * 1000)
        if (problem := pickle_key_problem(self._config)) is not None:
            raise MatrixStartError(problem, configuration=True)
        try:
            await self._login()
        except (aiohttp.ClientError, TimeoutError) as error:
            await self.client.close()
            raise MatrixStartError(
                f"matrix: cannot reach the homeserver ({type(error).__name__}); fix: check "
                "matrix.homeserver and the network connection"
            ) from error
        if self._encryption and self.client.should_upload_keys:
            await self.client.keys_upload()
        self.sender.upload_limit = await self._upload_limit()
        fingerprint = ""
        if self._encryption and self.client.olm is not None:
            # Public: members compare it when they verify the bot's device by hand.
            fingerprint = self.client.olm.account.identity_keys["ed25519"]
        log.info(
            "matrix_connected device=%s encryption=%s fingerprint=%s",
            self.client.device_id,
            self._encryption,
            fingerprint,
        )

    async def _login(self) -> None:
        config = self._config
        if config.access_token is not None:
            token = config.access_token.get_secret_value()
            device_id = config.device_id
            if device_id is None:
                self.client.access_token = token
                who = await self.client.whoami()
                if not isinstance(who, WhoamiResponse):
                    raise self._refused(who)
                device_id = who.device_id
            if device_id is None:
                raise MatrixStartError(
                    "matrix.device_id: the homeserver names no device for this token; fix: "
                    "set matrix.device_id to the device the token was issued for",
                    configuration=True,
                )
            self.client.restore_login(config.user_id, device_id, token)
            who = await self.client.whoami()
            if not isinstance(who, WhoamiResponse):
                raise self._refused(who)
            return
        assert config.password is not None
        session = _session_file(config.store_path)
        saved = _read_session(session)
        if saved is not None and saved.get("user_id") == config.user_id:
            self.client.restore_login(config.user_id, saved["device_id"], saved["access_token"])
            who = await self.client.whoami()
            if isinstance(who, WhoamiResponse):
                return
            if getattr(who, "status_code", None) != "M_UNKNOWN_TOKEN":
                # A new login would make a new device (new keys members must trust again).
                raise MatrixStartError(
                    f"matrix: the homeserver did not confirm the saved session "
                    f"({getattr(who, 'status_code', 'error')}); fix: start again when the "
                    "homeserver is up"
                )
        response = await self.client.login(
            config.password.get_secret_value(), device_name="Caucus bot"
        )
        if not isinstance(response, LoginResponse):
            raise self._refused(response)
        _write_session(
            session,
            {
                "user_id": config.user_id,
                "device_id": response.device_id,
                "access_token": response.access_token,
            },
        )

    def _refused(self, response: Any) -> MatrixStartError:
        code = getattr(response, "status_code", "") or "error"
        key = "matrix.access_token" if self._config.access_token else "matrix.password"
        return MatrixStartError(
            f"{key}: the homeserver refused the login ({code}); fix: check {key} and "
            "matrix.user_id",
            configuration=True,
        )

    async def _upload_limit(self) -> int:
        """The homeserver's largest upload (its content repository configuration)."""
        try:
            config = await self.client.content_repository_config()
        except Exception:  # the default will do: the limit only spares a futile upload
            config = None
        size = getattr(config, "upload_size", None)
        limit = size if isinstance(config, ContentRepositoryConfigResponse) and size else None
        log.info("matrix_upload_limit bytes=%s", limit or "unknown")
        return int(limit or MATRIX_UPLOAD_LIMIT)

    @property
    def caught_up(self) -> bool:
        """Once the first sync after start (what happened while the bot was away) is stored."""
        return self._caught_up

    def stop(self) -> None:
        self._stopping.set()

    async def close(self) -> None:
        await self.media_source.close()
        await self.client.close()

    # -- the sync loop ----------------------------------------------------------------------

    async def run(self) -> None:
        """Sync and store events until :meth:`stop`, retrying visibly when the server is away."""
        token = await asyncio.to_thread(self._store.transports.state, Platform.MATRIX, TOKEN_STATE)
        await self._reload_undecrypted()
        first = True
        backoff = Backoff(
            "matrix: sync", notice=self._warn, stopping=self._stopping, platform=Platform.MATRIX
        )
        # On the very first start the rooms' history is not answered: events from before
        # this moment are skipped (by their server timestamps, since the homeserver may
        # hand a fresh client a cached initial sync, whose follow-ups then carry history).
        history_before_ms = self._started_ms if token is None else 0
        while not self._stopping.is_set():
            try:
                response = await self._sync_unless_stopped(token, first=first)
                if response is None:
                    return
            except Exception as error:  # network, or nio's own processing of the answer
                response = None
                reason = type(error).__name__
            else:
                reason = (
                    ""
                    if isinstance(response, SyncResponse)
                    else str(getattr(response, "status_code", "error"))
                )
            if not isinstance(response, SyncResponse):
                await backoff.pause(reason)
                continue
            self._measure_skew(response)
            try:
                await self._after_sync()
                await self._retry_undecrypted()
                translated = await self._translate_batch(
                    response,
                    answer_timeline=token is not None,
                    history_before_ms=history_before_ms,
                    since=token,
                )
                await asyncio.to_thread(self._store_batch, translated, response.next_batch)
            except Exception as error:
                # Nothing of the batch is lost: its token is not stored, so it comes again.
                await backoff.pause(f"storing it: {type(error).__name__}")
                continue
            if translated:
                self._inbox_wake()
            backoff.succeeded()
            token = response.next_batch
            first = False
            self._caught_up = True

    async def _sync_unless_stopped(self, token: str | None, *, first: bool) -> Any:
        """One sync, abandoned when the transport stops (a long poll lasts 30 s)."""
        sync = asyncio.create_task(
            self.client.sync(
                timeout=0 if first else SYNC_TIMEOUT_MS,
                since=token,
                full_state=first,
                sync_filter=SYNC_FILTER,
            )
        )
        stopping = asyncio.create_task(self._stopping.wait())
        await asyncio.wait([sync, stopping], return_when=asyncio.FIRST_COMPLETED)
        if not sync.done():
            # Nothing of an unfinished sync was handled or stored: abandoning it is safe.
            sync.cancel()
            await asyncio.gather(sync, return_exceptions=True)
            return None
        stopping.cancel()
        return sync.result()

    def _measure_skew(self, response: SyncResponse) -> None:
        """Read the homeserver's clock from its answer's Date header (to the second)."""
        transport = getattr(response, "transport_response", None)
        date = transport.headers.get("Date") if transport is not None else None
        if not date:
            return
        try:
            server_ms = int(parsedate_to_datetime(date).timestamp() * 1000)
        except (TypeError, ValueError):
            return
        # Date is whole seconds, sent just before the answer came: half a second's rounding,
        # and a difference within that precision is no skew at all.
        skew = server_ms + 500 - int(time.time() * 1000)
        self._skew_ms = skew if abs(skew) >= SKEW_PRECISION_MS else 0
        if abs(self._skew_ms - self._logged_skew_ms) >= SKEW_LOGGED_MS:
            self._logged_skew_ms = self._skew_ms
            log.warning("matrix_clock_skew homeserver_ahead_s=%+.0f", self._skew_ms / 1000)

    async def _after_sync(self) -> None:
        """Keep end-to-end encryption working: keys, sessions, trust."""
        if not self._encryption or self.client.olm is None:
            return
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        if self.client.should_claim_keys:
            await self.client.keys_claim(self.client.get_users_for_key_claiming())
        await self.client.send_to_device_messages()
        if self._config.device_trust == "on-first-use":
            for room in self.client.rooms.values():
                if not room.encrypted:
                    continue
                for user_id in room.users:
                    for device in self.client.device_store.active_user_devices(user_id):
                        if not device.verified and not device.blacklisted:
                            self.client.verify_device(device)

    async def _gap(self, room_id: str, start: str | None, since: str) -> list[Any]:
        """The events between the previous sync token and a limited timeline's start."""
        found: list[Any] = []
        cursor = start
        while cursor is not None and len(found) < GAP_LIMIT:
            page = await self.client.room_messages(
                room_id, start=cursor, end=since, direction=MessageDirection.back, limit=100
            )
            if not isinstance(page, RoomMessagesResponse):
                # Storing the token now would skip the gap for good: retry the batch.
                raise TransientFailure(f"gap fetch failed: {page.status_code}")
            if not page.chunk:
                break
            found.extend(page.chunk)
            if page.end in (None, cursor):
                break
            cursor = page.end
        if len(found) >= GAP_LIMIT:
            self._warn(f"matrix: more than {GAP_LIMIT} events missed in one room; older skipped")
        log.info("matrix_gap_filled events=%d", len(found))
        return list(reversed(found))

    async def _retry_undecrypted(self) -> None:
        """Make ready the waiting events whose room key has arrived since they came, and
        those given up on."""
        waiting, self._undecrypted = self._undecrypted, []
        for room_id, event, tries in waiting:
            room = self.client.rooms.get(room_id)
            try:
                decrypted = self.client.decrypt_event(event)
            except Exception:
                decrypted = None
            if room is None or decrypted is None or isinstance(decrypted, MegolmEvent):
                if tries + 1 < UNDECRYPTED_TRIES:
                    self._undecrypted.append((room_id, event, tries + 1))
                elif room is None:  # the bot left the room: nobody to tell
                    await self._settle_waiting(event.event_id)
                else:
                    # The other rooms are told that a message here could not be read.
                    log.warning("matrix_undecryptable_given_up session=%s", event.session_id[:8])
                    origin = await self._origin(room, event.sender)
                    unreadable = Unrelayable(origin, UnrelayableKind.UNDECRYPTABLE, event.event_id)
                    await self._make_ready(unreadable, event.event_id)
                continue
            incoming = await self._translate(room, decrypted)
            if incoming is not None:
                await self._make_ready(incoming, event.event_id)
            else:  # nothing to act on (a notice, a relayed message): no longer waiting
                await self._settle_waiting(event.event_id)

    async def _reload_undecrypted(self) -> None:
        """Encrypted events still waiting for their key when the bot last stopped."""
        for record in await asyncio.to_thread(
            self._store.inbox.waiting, Platform.MATRIX, WAITING_LIMIT
        ):
            source, room_id = record.payload.get("event"), record.payload.get("room_id")
            if not isinstance(source, dict) or not isinstance(room_id, str):
                # An event of a batch the sync replays (kept by the version before, without
                # its content): the replay fills it in.
                continue
            try:
                event = MegolmEvent.from_dict(source)
            except Exception:
                event = None
            if isinstance(event, MegolmEvent):
                self._undecrypted.append((room_id, event, 0))
            else:
                log.warning("matrix_waiting_event_unreadable key=%s", record.key)
                await self._settle_waiting(record.key)

    def _store_batch(self, translated: list[tuple[Incoming, str]], token: str) -> None:
        """Keep a sync's translated events in the inbox (each once) and the token after
        them, in one unit of work: one commit a sync, and the token never moves past an
        event that is not stored."""
        with self._store.transaction():
            for incoming, event_id in translated:
                payload = to_json(incoming)
                direct = incoming.origin.is_direct
                if not self._store.inbox.record(
                    Platform.MATRIX, event_id, None, payload, direct=direct
                ):
                    # Kept before: handled or pending already (nothing changes), or still
                    # waiting (a replayed batch brings an event whose key has come meanwhile).
                    self._store.inbox.make_ready(Platform.MATRIX, event_id, payload)
            self._store.transports.set_state(Platform.MATRIX, TOKEN_STATE, token)

    async def _make_ready(self, incoming: Incoming, event_id: str) -> None:
        """A waiting event can now be handled: as ``incoming``."""
        await asyncio.to_thread(
            self._store.inbox.make_ready, Platform.MATRIX, event_id, to_json(incoming)
        )
        self._inbox_wake()

    async def _settle_waiting(self, event_id: str) -> None:
        """A waiting event turned out to need nothing: it no longer waits (unless it was
        made ready meanwhile, by a replayed batch: then the inbox hands it over)."""
        await asyncio.to_thread(self._store.inbox.settle_waiting, Platform.MATRIX, event_id)

    async def read_inbound(self, record: InboundRecord) -> Incoming | None:
        """A stored event, translated when it arrived, as the neutral event it is."""
        try:
            return from_json(record.payload)
        except IncomingError as error:
            raise UnreadableEvent(str(error)) from error

    async def _translate_batch(
        self,
        response: SyncResponse,
        *,
        answer_timeline: bool,
        history_before_ms: int,
        since: str | None = None,
    ) -> list[tuple[Incoming, str]]:
        """A sync's timeline events as neutral events with their ids, oldest first per room;
        invitations are answered on the way."""
        translated: list[tuple[Incoming, str]] = []
        links = await asyncio.to_thread(self._store.rooms.links)
        self._group_rooms = self._configured_rooms | frozenset(
            link.room_id for link in links if link.platform is Platform.MATRIX
        )
        for room_id, invite in response.rooms.invite.items():
            await self._on_invite(room_id, invite.invite_state)
        if not answer_timeline:
            return translated
        for room_id, joined in response.rooms.join.items():
            room = self.client.rooms.get(room_id)
            if room is None:
                continue
            events = list(joined.timeline.events)
            if joined.timeline.limited and since is not None:
                # More happened than one sync carries: fetch the gap, oldest first.
                events = await self._gap(room_id, joined.timeline.prev_batch, since) + events
            # Our moments on the homeserver's clock, which stamped the events. A measured skew
            # is known only to within a second (the Date header is whole seconds), so then
            # the first start's cutoff moves back by as much: a message sent just after the
            # start, read against a cutoff that came out late, would be taken for history.
            joined_at = self._joined_at.get(room_id, 0) + self._skew_ms
            margin = SKEW_ROUNDING_MS if self._skew_ms else 0
            started_at = history_before_ms + self._skew_ms - margin if history_before_ms else 0
            for event in events:
                stamp = getattr(event, "server_timestamp", 0)
                if stamp < started_at or stamp < joined_at:
                    continue  # history: from before the first start, or before the join
                incoming = await self._translate(room, event)
                if incoming is not None:
                    translated.append((incoming, event.event_id))
        return translated

    # -- invitations ------------------------------------------------------------------------

    async def _on_invite(self, room_id: str, state: Sequence[Any]) -> None:
        invites = [
            event
            for event in state
            if isinstance(event, InviteMemberEvent)
            and event.state_key == self.user_id
            and event.membership == "invite"
        ]
        if not invites:
            return
        # Room ids no longer name a server (room version 12), so the inviter's server counts.
        server = str(invites[-1].sender).partition(":")[2]
        # Where the member's client said whether this is a direct chat, it is remembered:
        # a room invited to as "not direct" is never a private chat.
        said = invites[-1].content.get("is_direct")
        if isinstance(said, bool):
            self._invited_direct[room_id] = said
            await asyncio.to_thread(
                self._store.transports.set_state,
                Platform.MATRIX,
                INVITED_DIRECT_STATE + room_id,
                "1" if said else "0",
            )
        if room_id in self._group_rooms or server in self._config.join_invites_from:
            # What was said in the room before the invitation is history; a minute's grace
            # covers messages typed while the invitation travelled.
            self._joined_at[room_id] = int(time.time() * 1000) - JOIN_GRACE_MS
            joined = await self.client.join(room_id)
            log.info("matrix_invite_accepted ok=%s", not isinstance(joined, ErrorResponse))
            room = self.client.rooms.get(room_id)
            if room is not None and room.encrypted and not self._encryption:
                await self._warn_no_encryption(room_id)
        else:
            await self.client.room_leave(room_id)
            log.info("matrix_invite_declined server=%s", server)

    async def _warn_no_encryption(self, room_id: str) -> None:
        name = WARNED_STATE + room_id
        if await asyncio.to_thread(self._store.transports.state, Platform.MATRIX, name):
            return
        text = self._catalogs.renderer(self._default_language, Platform.MATRIX).text(
            Message.of("rooms.encryption_unavailable")
        )
        await self.client.room_send(
            room_id, "m.room.message", message_content(text), tx_id=f"caucus.{name}"
        )
        self._warn(
            "matrix: a room is end-to-end encrypted but encryption support is not installed; "
            "fix: pip install 'matrix-nio[e2e]' and restart"
        )
        await asyncio.to_thread(self._store.transports.set_state, Platform.MATRIX, name, "1")

    async def bot_access(self, room_id: str) -> BotAccess:
        """Whether the bot has joined ``room_id`` and may send messages there, by the room's
        state as the homeserver has it now (this process's sync may not have seen a join
        that just happened)."""
        response = await self.client.room_get_state(room_id)
        if not isinstance(response, RoomGetStateResponse):
            return BotAccess.NOT_MEMBER  # not in the room: its state is not the bot's to read
        membership: str | None = None
        levels: dict[str, Any] = {}
        for event in response.events:
            kind, key = event.get("type"), event.get("state_key")
            content = event.get("content") or {}
            if kind == "m.room.member" and key == self.user_id:
                membership = content.get("membership")
            elif kind == "m.room.power_levels" and key == "":
                levels = content
        if membership != "join":
            return BotAccess.NOT_MEMBER
        if levels and _power(levels, self.user_id) < _needed(levels, "m.room.message"):
            return BotAccess.CANNOT_SEND
        return BotAccess.READY

    async def invite(self, room_id: str, user_id: str) -> Invitation:
        """Invite the account ``user_id`` into ``room_id`` (the bot needs the power to)."""
        response = await self.client.room_invite(room_id, user_id)
        if not isinstance(response, RoomInviteResponse):
            log.info("matrix_invite_refused status=%s", getattr(response, "status_code", None))
            return Invitation()
        return Invitation(invited=True)

    def bot_link(self, payload: str) -> str | None:
        return None  # Matrix has no link that starts a chat with a command

    # -- translation ------------------------------------------------------------------------

    async def _origin(self, room: MatrixRoom, sender: str) -> Origin:
        """Who wrote where; a direct chat only when the room is private between the bot
        and ``sender`` (:mod:`bot.transports.matrix.privacy`) and no working group's."""
        direct = exposed = False
        # A room of two (or fewer, joined or invited) is a candidate; a larger one is not.
        if room.room_id not in self._group_rooms and len(room.users) <= 2:
            state = room_state(room, await self._invitation_said_direct(room.room_id))
            reason = why_not_private(state, self.user_id, sender)
            direct, exposed = reason is None, reason is not None
            if exposed:
                log.info("matrix_room_not_private reason=%s", reason)
        return Origin(
            platform=Platform.MATRIX,
            room_id=room.room_id,
            user_id=sender,
            is_direct=direct,
            display_name=clean_line(room.user_name(sender)) or None,
            exposed=exposed,
            # From the room's state as the sync left it (m.room.encryption), never a guess.
            encrypted=bool(room.encrypted),
        )

    async def _invitation_said_direct(self, room_id: str) -> bool | None:
        if room_id not in self._invited_direct:
            said = await asyncio.to_thread(
                self._store.transports.state, Platform.MATRIX, INVITED_DIRECT_STATE + room_id
            )
            self._invited_direct[room_id] = None if not said else said == "1"
        return self._invited_direct[room_id]

    async def _translate(self, room: MatrixRoom, event: Any) -> Incoming | None:
        sender = getattr(event, "sender", None)
        if sender is None or sender == self.user_id:
            return None  # the bot's own messages are never answered
        origin = await self._origin(room, sender)
        if isinstance(event, MegolmEvent):
            # Its key may arrive later: ask for it and try again after the next syncs.
            log.warning("matrix_undecryptable session=%s", event.session_id[:8])
            if self._encryption and self.client.olm is not None:
                with contextlib.suppress(Exception):
                    await self.client.request_room_key(event)
                # Kept as a waiting inbound event, so a restart still waits for its key.
                waiting = {"room_id": room.room_id, "event": event.source}
                kept = await asyncio.to_thread(
                    self._store.inbox.record,
                    Platform.MATRIX,
                    event.event_id,
                    None,
                    waiting,
                    waiting=True,
                )
                if kept:  # else it was kept before: it waits already, or is done with
                    self._undecrypted.append((room.room_id, event, 0))
            return None
        if isinstance(event, ReactionEvent):
            choices = await self._choices(room.room_id)
            if choices is None or choices[0] != event.reacts_to:
                offered = await self._poll_choices(event.reacts_to)
            else:
                offered = choices[1]
            value = pick_by_reaction(event.key, offered)
            return None if value is None else ChoicePicked(origin, value, event.event_id)
        source = getattr(event, "source", None)
        if not isinstance(source, dict):
            return None
        incoming = translate(origin, source)
        if isinstance(incoming, TextMessage) and source["content"].get("msgtype") == "m.text":
            if incoming.reply_to is not None:
                # A number in reply to the bot's poll votes (clients without polls).
                answers = await self._poll_choices(incoming.reply_to)
                value = pick_numbered(incoming.text, answers) if answers else None
                if value is not None:
                    return ChoicePicked(origin, value, incoming.message_id)
            choices = await self._choices(room.room_id)
            offered = choices[1] if choices is not None else []
            return read_typed(incoming, known=self._known_commands, choices=offered)
        return incoming

    async def _poll_choices(self, event_id: str) -> list[list[str]]:
        """The answers a numbered reply to the bot's poll ``event_id`` picks (none: no poll
        of the bot's, or one that has ended)."""
        saved = await asyncio.to_thread(
            self._store.transports.state, Platform.MATRIX, POLL_CHOICES_STATE + event_id
        )
        return [list(pair) for pair in json.loads(saved)] if saved else []

    async def _choices(self, room_id: str) -> tuple[str, list[list[str]]] | None:
        saved = await asyncio.to_thread(
            self._store.transports.state, Platform.MATRIX, CHOICES_STATE + room_id
        )
        if not saved:
            return None
        data = json.loads(saved)
        return str(data["event"]), [list(pair) for pair in data["choices"]]


def _session_file(store_path: Path) -> Path:
    return store_path / "session.json"


def _read_session(path: Path) -> dict[str, str] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_session(path: Path, session: Mapping[str, str]) -> None:
    """The access token a password login earned, readable by the bot's user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(dict(session), handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def matrix_limiter() -> SendLimiter:
    """Matrix has no published limits; stay well inside a homeserver's defaults."""
    return SendLimiter((Window(10, 1.0),), {"room": (Window(5, 1.0),)})


def build(wiring: Wiring, limiter: SendLimiter | None = None) -> PlatformParts[MatrixPayload]:
    """The Matrix transport of this process, with what its outbox needs."""
    config = wiring.config
    assert config.matrix is not None
    known = frozenset(
        spec.name for spec in wiring.registry.commands() if spec.available_on(Platform.MATRIX)
    ) | frozenset(RESERVED_COMMANDS)
    transport = MatrixTransport(
        config.matrix,
        wiring.store,
        wiring.inbox_wake,
        catalogs=wiring.catalogs,
        known_commands=known,
        configured_rooms=frozenset(
            room for group in config.working_groups for room in group.matrix_rooms
        ),
        default_language=config.default_language,
        warn=wiring.warn,
    )
    store = wiring.store
    return PlatformParts(
        transport=transport,
        planner=lambda item: PLANNING[Platform.MATRIX].parts(item, store.transports.callback_token),
        render=render.render,
        limiter=limiter or matrix_limiter(),
        reader=transport,
        probe=transport,
    )


def _power(levels: dict[str, Any], user_id: str) -> int:
    """A user's power level in a room's ``m.room.power_levels`` content."""
    users = levels.get("users") or {}
    return _level(users.get(user_id, levels.get("users_default", 0)))


def _needed(levels: dict[str, Any], event_type: str) -> int:
    """The power level a message event of ``event_type`` needs."""
    events = levels.get("events") or {}
    return _level(events.get(event_type, levels.get("events_default", 0)))


def _level(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
