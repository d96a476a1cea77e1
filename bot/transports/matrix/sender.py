"""Sending to Matrix: the bot's replies and the bridge's relayed messages.

:class:`MatrixSender` delivers the bot's replies as ``m.notice`` with an escaped HTML body
(a reply's files before it, as ``m.image`` or ``m.file``), and the bridge's relay payloads
(text, edit, delete, media; files through :mod:`bot.transports.matrix.media`), each under a
transaction id derived from the outbox row, so a retried send or redaction is the same
event to the homeserver.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

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
from bot.transports.matrix.render import edit_content, message_content, referenced, with_reply
from bot.types import Platform
from storage import Store

log = logging.getLogger(__name__)

CHOICES_STATE = "choices:"
"""Transport state naming the numbered choices last offered in a room."""


def transaction_id(outbox_key: str, payload: Mapping[str, Any]) -> str:
    """The same for every attempt at one outbox message, and unlikely to meet another's."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]
    return f"caucus.{outbox_key}.{digest}"


class MatrixSender:
    """Delivers outbox messages into Matrix rooms: the bot's own replies (``m.notice``) and
    relayed messages (``"relay"`` payloads: text, edit, delete, media), and the files of the
    bot's replies (``"file"`` payloads, with the data in base64).

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

    async def deliver(self, room_id: str, payload: Mapping[str, Any], key: str) -> str | None:
        tx_id = transaction_id(key, payload)
        relay = payload.get("relay")
        if relay is None and "file" in payload:
            # A file of the bot's own (an export): the text and any choices follow it.
            content = await self._file_content(room_id, payload["file"])
            return await self._send(room_id, content, tx_id)
        if relay is None:
            event_id = await self._send(room_id, message_content(payload), tx_id)
            # A number typed in this room now picks from these choices, or from none.
            choices = payload.get("choices") or []
            offered = json.dumps({"event": event_id, "choices": choices})
            await asyncio.to_thread(
                self._store.transports.set_state,
                Platform.MATRIX,
                CHOICES_STATE + room_id,
                offered if choices else "",
            )
            return event_id
        # Relayed messages leave the room's numbered choices as they are: not the bot's words.
        if relay == "delete":
            return await self._redact(room_id, referenced(payload.get("target")), tx_id)
        reply_to = referenced(payload.get("reply_to"))
        if relay == "text":
            content = with_reply(payload["content"], reply_to)
        elif relay == "edit":
            target = referenced(payload.get("target"))
            content = dict(payload["content"])
            if target is not None:
                content = edit_content(content, target)
        elif relay == "media":
            try:
                media = await relay_media_content(
                    self._client, room_id, payload, self.media_sources, self.upload_limit
                )
            except UploadRefused as refused:
                raise _delivery_error(refused.response) from refused
            except Exception as error:
                raise _send_failure(error) from error
            content = with_reply(media, reply_to)
        else:
            raise PermanentFailure(f"unknown relay payload {relay!r}")
        return await self._send(room_id, content, tx_id)

    async def _file_content(self, room_id: str, file: Mapping[str, Any]) -> dict[str, Any]:
        """An ``m.image`` or ``m.file`` event for a reply's file, uploaded for the room."""
        data = base64.b64decode(file["data"])
        filename = str(file.get("filename") or "file")
        content_type = str(file.get("content_type") or "application/octet-stream")
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
