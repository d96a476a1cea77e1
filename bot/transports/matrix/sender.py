"""Sending to Matrix: the bot's replies and the bridge's relayed messages.

:class:`MatrixSender` delivers what :mod:`bot.transports.matrix.render` made of outbox items:
the bot's replies as ``m.notice`` (its files as ``m.image`` or ``m.file``), its polls' starts
and ends (MSC3381) and edits of its messages, and relayed messages, edits, redactions and
files (through :mod:`bot.transports.matrix.media`), each under a transaction id made of the
outbox's key, so a retried send or redaction is the same event to the homeserver.

Confidential items (a reply in a private chat, a notice: ``private`` set) go only into a
room still private between the bot and their reader, by the room's state fetched right
before sending (:mod:`bot.transports.matrix.privacy`); otherwise they are not sent, the
failure is recorded with its reason, and the room is told to open a new direct chat.
Notices (:func:`bot.notices.notice_address`) go to a room the bot itself makes with the
member on first need, kept in ``store.members``; they wait until the member has joined it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping
from typing import Any, assert_never

import aiohttp
from nio import (
    AsyncClient,
    ErrorResponse,
    LocalProtocolError,
    RoomCreateResponse,
    RoomGetStateResponse,
    RoomPreset,
    RoomRedactResponse,
    RoomSendResponse,
)

from bot.media import MATRIX_UPLOAD_LIMIT, MediaSource
from bot.notices import notice_needs_encryption, notice_recipient
from bot.outbox import DeliveryError, FloodControl, PermanentFailure, TransientFailure
from bot.transports.matrix.media import (
    UploadRefused,
    attach_upload,
    relay_media_content,
    upload_for_room,
)
from bot.transports.matrix.payloads import (
    MatrixBotFile,
    MatrixEdit,
    MatrixMessage,
    MatrixNotice,
    MatrixPayload,
    MatrixPollEnd,
    MatrixPollStart,
    MatrixRedaction,
    MatrixRelayFile,
    PrivateTo,
)
from bot.transports.matrix.privacy import NotPrivate, RoomState, state_from_events, why_not_private
from bot.transports.matrix.render import POLL_END, POLL_START, edit_content, with_reply
from bot.types import Media, Platform
from storage import Store

log = logging.getLogger(__name__)

CHOICES_STATE = "choices:"
"""Transport state naming the numbered choices last offered in a room."""
POLL_CHOICES_STATE = "poll-choices:"
"""Transport state naming, by a poll's start event, the choices a numbered reply to it picks."""
INVITED_DIRECT_STATE = "invited-direct:"
"""Transport state: what the bot's invitation to a room said of ``is_direct`` ("1"/"0")."""
WITHHELD_EVERY_SECONDS = 60.0
"""A room is told at most this often that confidential messages were withheld from it."""
MEGOLM = "m.megolm.v1.aes-sha2"


def transaction_id(outbox_key: str) -> str:
    """The same for every attempt at one outbox message (the key is), and unlikely to meet
    another's (the key holds a digest of what the message says)."""
    return f"caucus.{outbox_key}"


class MatrixSender:
    """Delivers rendered payloads (:mod:`bot.transports.matrix.payloads`) into Matrix rooms:
    the bot's own replies (``m.notice``) and files, and relayed messages, edits, redactions
    and files.

    ``media_sources`` are where relayed files are fetched from, by the platform they come
    from; the transport puts its own in, the app adds the other platforms'."""

    platform = Platform.MATRIX

    def __init__(self, client: AsyncClient, store: Store, trust: str) -> None:
        self._client = client
        self._store = store
        self._ignore_unverified = trust == "unverified"
        self.media_sources: dict[Platform, MediaSource] = {}
        self.upload_limit = MATRIX_UPLOAD_LIMIT
        """The homeserver's upload limit, asked at start."""
        self._withheld_told: dict[str, float] = {}

    def room_kind(self, room_id: str) -> str:
        return "room"

    async def deliver(self, room_id: str, payload: MatrixPayload, key: str) -> str | None:
        tx_id = transaction_id(key)
        recipient = notice_recipient(room_id)
        if recipient is None:
            if isinstance(payload, MatrixNotice | MatrixBotFile) and payload.private is not None:
                await self._check_private(room_id, payload.private, tx_id)
            return await self._deliver_into(room_id, payload, tx_id)
        # A notice: into the bot's own room with the member, checked there, once joined.
        room_id = await self._notice_room(recipient, encrypted=notice_needs_encryption(room_id))
        try:
            return await self._deliver_into(room_id, payload, tx_id)
        except PermanentFailure as refusal:
            if not refusal.unreachable:
                raise
            # That room is gone to the bot, not the member: the next try makes another.
            await asyncio.to_thread(
                self._store.members.set_notice_room, Platform.MATRIX, recipient, None
            )
            raise TransientFailure(f"notice room lost: {refusal.reason}") from refusal

    async def _deliver_into(self, room_id: str, payload: MatrixPayload, tx_id: str) -> str | None:
        content: Mapping[str, Any]
        match payload:
            case MatrixNotice():
                event_id = await self._send(room_id, payload.content, tx_id)
                if not payload.keeps_choices:  # else what was offered before still picks
                    await self._offer_choices(room_id, event_id, payload.choices)
                return event_id
            case MatrixPollStart():
                # Encrypted in an encrypted room, like any event (nio's room_send).
                event_id = await self._send(room_id, payload.content, tx_id, POLL_START)
                # A client without polls shows the text: its members answer by replying to
                # it with a number (or by a keycap reaction on it). The room's own numbered
                # choices stay as they were: a "2" said in the conversation is no vote.
                await self._offer_poll_choices(event_id, payload.choices)
                return event_id
            case MatrixPollEnd():
                event_id = await self._send(room_id, payload.content, tx_id, POLL_END)
                await self._offer_poll_choices(payload.start, ())
                return event_id
            # Relayed messages and the bot's files leave the room's numbered choices as they are.
            case MatrixBotFile():
                # A file of the bot's own (an export): the text and any choices follow it.
                content = await self._file_content(room_id, payload.media)
            case MatrixRedaction():
                return await self._redact(room_id, payload.target, tx_id)
            case MatrixMessage():
                content = with_reply(payload.content, payload.reply_to)
            case MatrixEdit():
                content = payload.content
                if payload.target is not None:
                    content = edit_content(content, payload.target)
            case MatrixRelayFile():
                try:
                    media = await relay_media_content(
                        self._client, room_id, payload, self.media_sources, self.upload_limit
                    )
                except UploadRefused as refused:
                    raise _delivery_error(refused.response) from refused
                except Exception as error:
                    raise _send_failure(error) from error
                content = with_reply(media, payload.reply_to)
            case _:
                assert_never(payload)
        return await self._send(room_id, content, tx_id)

    async def _offer_choices(
        self, room_id: str, event_id: str, choices: tuple[tuple[str, str], ...]
    ) -> None:
        """A number typed in the room (or a keycap on ``event_id``) now picks from
        ``choices``, or from none."""
        listed = [list(choice) for choice in choices]
        offered = json.dumps({"event": event_id, "choices": listed}) if listed else ""
        await asyncio.to_thread(
            self._store.transports.set_state, Platform.MATRIX, CHOICES_STATE + room_id, offered
        )

    async def _offer_poll_choices(
        self, event_id: str, choices: tuple[tuple[str, str], ...]
    ) -> None:
        """A reply to the poll ``event_id`` with a number (or a keycap reaction on it) now
        picks from ``choices``; none once the poll has ended."""
        listed = json.dumps([list(choice) for choice in choices]) if choices else ""
        await asyncio.to_thread(
            self._store.transports.set_state, Platform.MATRIX, POLL_CHOICES_STATE + event_id, listed
        )

    # -- privacy ------------------------------------------------------------------------

    async def _check_private(self, room_id: str, private: PrivateTo, tx_id: str) -> None:
        """Raises :class:`PermanentFailure` (after telling the room) unless the room is
        private between the bot and the reader, as its state is now."""
        reason: NotPrivate | None
        if await asyncio.to_thread(self._store.groups.for_room, Platform.MATRIX, room_id):
            reason = NotPrivate.GROUP
        else:
            state = await self._room_state(room_id, bot_made=False)
            if state is None:
                raise PermanentFailure("403 the bot is not in the room", unreachable=True)
            reason = why_not_private(state, self._bot, private.user_id)
        if reason is None:
            return
        log.warning("confidential_withheld reason=%s", reason.value)
        await self._tell_withheld(room_id, private.withheld, tx_id)
        raise PermanentFailure(f"withheld: the room is not private ({reason.value})")

    async def _tell_withheld(self, room_id: str, content: Mapping[str, Any], tx_id: str) -> None:
        """Ask the member, in their language, to open a new direct chat (once a minute)."""
        now = time.monotonic()
        if not content or now - self._withheld_told.get(room_id, -1e9) < WITHHELD_EVERY_SECONDS:
            return
        self._withheld_told[room_id] = now
        try:
            await self._send(room_id, content, f"{tx_id}.withheld")
        except Exception as error:  # the confidential part stays unsent either way
            log.warning("withheld_note_failed error=%s", type(error).__name__)

    @property
    def _bot(self) -> str:
        return str(self._client.user_id)

    async def _room_state(self, room_id: str, *, bot_made: bool) -> RoomState | None:
        """The room's state as the homeserver has it now; ``None`` when the bot cannot read
        it (not, or no longer, in the room)."""
        try:
            response = await self._client.room_get_state(room_id)
        except Exception as error:
            raise _send_failure(error) from error
        if not isinstance(response, RoomGetStateResponse):
            status = _http_status(response)
            if response.status_code in ("M_FORBIDDEN", "M_NOT_FOUND") or status in (403, 404):
                return None
            raise _delivery_error(response)
        is_direct: bool | None = True
        if not bot_made:
            said = await asyncio.to_thread(
                self._store.transports.state, Platform.MATRIX, INVITED_DIRECT_STATE + room_id
            )
            is_direct = None if not said else said == "1"
        return state_from_events(response.events, is_direct)

    async def _notice_room(self, user_id: str, *, encrypted: bool = False) -> str:
        """The private room the bot holds with ``user_id`` for notices, once they have
        joined it; made (and the wait begun) when there is none, or none still private, or
        (``encrypted``) none end-to-end encrypted."""
        stored = await asyncio.to_thread(self._store.members.notice_room, Platform.MATRIX, user_id)
        if stored is not None:
            state = await self._room_state(stored, bot_made=True)
            reason = (
                NotPrivate.ABSENT
                if state is None
                else why_not_private(state, self._bot, user_id, invited_is_enough=True)
            )
            if reason is None:
                assert state is not None
                if encrypted and not state.encrypted:
                    # Private, but in the clear: from now on notices go to a new, encrypted
                    # room (the member keeps this one, where nothing more is said).
                    log.info("notice_room_replaced reason=unencrypted")
                elif user_id in state.joined:
                    return stored
                else:
                    raise TransientFailure("waiting for the member to join the notice room")
            else:
                # Not to be used again: the next notice makes a new room.
                await asyncio.to_thread(
                    self._store.members.set_notice_room, Platform.MATRIX, user_id, None
                )
                with contextlib.suppress(Exception):
                    await self._client.room_leave(stored)
                log.warning("notice_room_abandoned reason=%s", reason.value)
                if reason is NotPrivate.ABSENT:
                    # They left or declined it: one invitation per notice, not one per retry.
                    raise PermanentFailure("the member left the notice room")
        room_id = await self._create_notice_room(user_id, encrypted=encrypted)
        await asyncio.to_thread(
            self._store.members.set_notice_room, Platform.MATRIX, user_id, room_id
        )
        raise TransientFailure("made a notice room; waiting for the member to join it")

    async def _create_notice_room(self, user_id: str, *, encrypted: bool = False) -> str:
        """A direct, invite-only room with the member, whose history starts for each at
        joining; end-to-end encrypted when asked (``encrypted``) or when the bot knows the
        member's devices (their client encrypts)."""
        if encrypted and self._client.olm is None:
            raise PermanentFailure("an encrypted room is needed and encryption is unavailable")
        initial_state: list[dict[str, Any]] = [
            {
                "type": "m.room.history_visibility",
                "state_key": "",
                "content": {"history_visibility": "joined"},
            }
        ]
        if encrypted or (
            self._client.olm is not None
            and list(self._client.device_store.active_user_devices(user_id))
        ):
            initial_state.append(
                {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}
            )
        try:
            response = await self._client.room_create(
                is_direct=True,
                preset=RoomPreset.private_chat,
                invite=[user_id],
                initial_state=initial_state,
            )
        except Exception as error:
            raise _send_failure(error) from error
        if not isinstance(response, RoomCreateResponse):
            raise _delivery_error(response)
        log.info("notice_room_made encrypted=%s", len(initial_state) > 1)
        return str(response.room_id)

    async def _file_content(self, room_id: str, media: Media) -> dict[str, Any]:
        """An ``m.image`` or ``m.file`` event for a reply's file, uploaded for the room."""
        data, filename, content_type = media.data, media.filename, media.content_type
        if len(data) > self.upload_limit:
            raise PermanentFailure(f"file too large for the homeserver ({len(data)} bytes)")
        try:
            uploaded = await upload_for_room(
                self._client, room_id, data, content_type=content_type, filename=filename
            )
        except UploadRefused as refused:
            raise _delivery_error(refused.response) from refused
        except Exception as error:
            raise _send_failure(error) from error
        if uploaded is None:
            raise PermanentFailure(f"file too large for the homeserver ({len(data)} bytes)")
        uri, keys = uploaded
        content = {
            "msgtype": "m.image" if content_type.startswith("image/") else "m.file",
            "body": filename,
            "filename": filename,
            "info": {"mimetype": content_type},
        }
        return attach_upload(content, uri, keys, len(data))

    async def _send(
        self,
        room_id: str,
        content: Mapping[str, Any],
        tx_id: str,
        event_type: str = "m.room.message",
    ) -> str:
        try:
            response = await self._client.room_send(
                room_id,
                event_type,
                dict(content),
                tx_id=tx_id,
                ignore_unverified_devices=self._ignore_unverified,
            )
        except Exception as error:
            raise _send_failure(error) from error
        if isinstance(response, RoomSendResponse):
            return str(response.event_id)
        raise _delivery_error(response)

    async def _redact(self, room_id: str, target: str | None, tx_id: str) -> str | None:
        if target is None:
            return None
        try:
            response = await self._client.room_redact(room_id, target, tx_id=tx_id)
        except Exception as error:
            raise _send_failure(error) from error
        if isinstance(response, RoomRedactResponse):
            return str(response.event_id)
        if response.status_code == "M_NOT_FOUND":
            return None  # nothing left to delete
        raise _delivery_error(response)


def _send_failure(error: Exception) -> DeliveryError:
    if isinstance(error, DeliveryError):
        return error
    if isinstance(error, aiohttp.ClientError | TimeoutError):
        return TransientFailure(f"connection: {type(error).__name__}")
    if isinstance(error, LocalProtocolError):
        # The room is unknown to the client: not joined (yet), or left.
        return TransientFailure(f"not ready: {type(error).__name__}")
    # nio's encryption errors: try again after a sync
    return TransientFailure(f"send failed: {type(error).__name__}")


def _http_status(response: ErrorResponse) -> int:
    return response.transport_response.status if response.transport_response else 0


def _delivery_error(response: ErrorResponse) -> Exception:
    code = str(response.status_code or "")
    status = _http_status(response)
    if code == "M_LIMIT_EXCEEDED" or status == 429:
        seconds = (getattr(response, "retry_after_ms", None) or 5000) / 1000
        return FloodControl("M_LIMIT_EXCEEDED", seconds)
    if code == "M_FORBIDDEN" or status == 403:
        return PermanentFailure(f"403 {code}", unreachable=True)
    if status >= 500 or status == 0:
        return TransientFailure(f"{status} {code}")
    return PermanentFailure(f"{status} {code}")
