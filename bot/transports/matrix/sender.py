"""Sending to Matrix: the bot's replies and the bridge's relayed messages.

:class:`MatrixSender` delivers what :mod:`bot.transports.matrix.render` made of outbox items:
the bot's replies as ``m.notice`` (its files as ``m.image`` or ``m.file``), relayed messages,
edits, redactions and files (through :mod:`bot.transports.matrix.media`), each under a
transaction id made of the outbox's key, so a retried send or redaction is the same event
to the homeserver.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any, assert_never

import aiohttp
from nio import (
    AsyncClient,
    ErrorResponse,
    LocalProtocolError,
    RoomRedactResponse,
    RoomSendResponse,
)

from bot.media import MATRIX_UPLOAD_LIMIT, MediaSource
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
    MatrixRedaction,
    MatrixRelayFile,
)
from bot.transports.matrix.render import edit_content, with_reply
from bot.types import Media, Platform
from storage import Store

log = logging.getLogger(__name__)

CHOICES_STATE = "choices:"
"""Transport state naming the numbered choices last offered in a room."""


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

    def room_kind(self, room_id: str) -> str:
        return "room"

    async def deliver(self, room_id: str, payload: MatrixPayload, key: str) -> str | None:
        tx_id = transaction_id(key)
        content: Mapping[str, Any]
        match payload:
            case MatrixNotice():
                event_id = await self._send(room_id, payload.content, tx_id)
                # A number typed in this room now picks from these choices, or from none.
                choices = [list(choice) for choice in payload.choices]
                offered = json.dumps({"event": event_id, "choices": choices})
                await asyncio.to_thread(
                    self._store.transports.set_state,
                    Platform.MATRIX,
                    CHOICES_STATE + room_id,
                    offered if choices else "",
                )
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

    async def _send(self, room_id: str, content: Mapping[str, Any], tx_id: str) -> str:
        try:
            response = await self._client.room_send(
                room_id,
                "m.room.message",
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
