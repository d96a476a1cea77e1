"""Files on Matrix: fetching members' files for the other rooms, uploading relayed ones.

A member's file is named by its ``mxc://`` URL, or, in an encrypted room, by the JSON of the
event's ``file`` object (URL, AES key, IV, SHA-256 of the ciphertext): the ciphertext is
downloaded and decrypted here with matrix-nio's ``decrypt_attachment``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from nio import AsyncClient, ErrorResponse, UploadResponse
from nio.crypto.attachments import decrypt_attachment

from bot.media import MediaError, MediaSource, MediaTooLarge, MediaUnavailable
from bot.outbox import TransientFailure
from bot.transports.matrix.payloads import MatrixRelayFile
from bot.types import Platform

log = logging.getLogger(__name__)

DOWNLOAD_PATHS = ("/_matrix/client/v1/media/download", "/_matrix/media/v3/download")
"""Authenticated media (Matrix 1.11) first; the older path for homeservers without it."""
CHUNK = 64 * 1024
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=60)


def parse_ref(ref: str) -> tuple[str, Mapping[str, Any] | None]:
    """The ``mxc://`` URL of a file reference, and its decryption keys when it has some."""
    keys: Mapping[str, Any] | None = None
    url = ref
    if ref.startswith("{"):
        try:
            loaded = json.loads(ref)
        except ValueError as error:
            raise MediaUnavailable("unreadable file reference") from error
        if not isinstance(loaded, dict) or not isinstance(loaded.get("url"), str):
            raise MediaUnavailable("unreadable file reference")
        keys, url = loaded, loaded["url"]
    parts = urlsplit(url)
    if parts.scheme != "mxc" or not parts.netloc or not parts.path.strip("/"):
        raise MediaUnavailable("not an mxc:// URL")
    return url, keys


def decrypt(ciphertext: bytes, keys: Mapping[str, Any]) -> bytes:
    """The plaintext of an encrypted attachment; MediaUnavailable if it does not check out."""
    try:
        plain: bytes = decrypt_attachment(
            ciphertext, keys["key"]["k"], keys["hashes"]["sha256"], keys["iv"]
        )
    except Exception as error:  # nio's EncryptionError, or keys missing
        raise MediaUnavailable(f"cannot decrypt ({type(error).__name__})") from error
    return plain


def attach_upload(
    content: Mapping[str, Any], uri: str, keys: Mapping[str, Any] | None, size: int
) -> dict[str, Any]:
    """``content`` pointing at an uploaded file: ``url``, or ``file`` for an encrypted one."""
    attached = {key: value for key, value in content.items() if key not in ("url", "file")}
    info = dict(attached.get("info") or {})
    info.setdefault("size", size)
    attached["info"] = info
    if keys is None:
        attached["url"] = uri
    else:
        attached["file"] = {**keys, "url": uri}
    return attached


class MatrixMediaSource:
    """Downloads members' files from the bot's homeserver (a :class:`bot.media.MediaSource`)."""

    platform = Platform.MATRIX

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._session: aiohttp.ClientSession | None = None

    async def fetch(self, ref: str, max_bytes: int) -> bytes:
        url, keys = parse_ref(ref)
        parts = urlsplit(url)
        server, media_id = parts.netloc, parts.path.strip("/")
        try:
            data = await self._download(server, media_id, max_bytes)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TransientFailure(f"download: {type(error).__name__}") from error
        return data if keys is None else decrypt(data, keys)

    async def _download(self, server: str, media_id: str, max_bytes: int) -> bytes:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=DOWNLOAD_TIMEOUT)
        headers = {"Authorization": f"Bearer {self._client.access_token}"}
        for path in DOWNLOAD_PATHS:
            address = (
                f"{self._client.homeserver}{path}/{quote(server, safe='')}/"
                f"{quote(media_id, safe='')}?allow_redirect=true"
            )
            async with self._session.get(address, headers=headers) as response:
                if response.status in (404, 405) and path != DOWNLOAD_PATHS[-1]:
                    errcode = await _errcode(response)
                    if errcode in ("M_UNRECOGNIZED", ""):
                        continue  # no authenticated media on this homeserver
                    raise MediaUnavailable(f"404 {errcode}")
                _check_status(response.status, await _errcode(response))
                if response.content_length is not None and response.content_length > max_bytes:
                    raise MediaTooLarge(response.content_length)
                data = bytearray()
                async for chunk in response.content.iter_chunked(CHUNK):
                    data.extend(chunk)
                    if len(data) > max_bytes:
                        raise MediaTooLarge(response.content_length)
                return bytes(data)
        raise MediaUnavailable("no download path")  # pragma: no cover - the loop returns

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _errcode(response: aiohttp.ClientResponse) -> str:
    if response.status < 400:
        return ""
    try:
        answer = await response.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        return ""
    code = answer.get("errcode") if isinstance(answer, dict) else None
    return str(code or "")


def _check_status(status: int, errcode: str) -> None:
    if status < 400:
        return
    if status == 429 or status >= 500:
        raise TransientFailure(f"download: {status} {errcode}")
    raise MediaUnavailable(f"{status} {errcode}".strip())


class UploadRefused(Exception):
    """The homeserver refused an upload; ``response`` is nio's error response."""

    def __init__(self, response: ErrorResponse) -> None:
        super().__init__(str(response.status_code or "upload refused"))
        self.response = response


async def relay_media_content(
    client: AsyncClient,
    room_id: str,
    file: MatrixRelayFile,
    sources: Mapping[Platform, MediaSource],
    limit: int,
) -> dict[str, Any]:
    """A relayed file's message with the file uploaded (encrypted for an encrypted room),
    or its ``fallback`` message when the file cannot be had or is larger than ``limit`` (the
    homeserver's). Network trouble propagates; a refused upload is an :class:`UploadRefused`."""
    source = file.source
    fallback = dict(file.fallback)
    if source.size is not None and source.size > limit:
        return fallback
    media = sources.get(source.platform)
    if media is None:
        log.warning("media_source_missing platform=%s", source.platform)
        return fallback
    if client.rooms.get(room_id) is None:
        raise TransientFailure("not ready: room unknown")
    try:
        data = await media.fetch(source.ref, limit)
    except MediaError as error:
        log.info("media_not_relayed reason=%s", type(error).__name__)
        return fallback
    uploaded = await upload_for_room(
        client,
        room_id,
        data,
        content_type=source.content_type or "application/octet-stream",
        filename=source.filename or "file",
    )
    if uploaded is None:
        return fallback
    uri, keys = uploaded
    return attach_upload(file.content, uri, keys, len(data))


async def upload_for_room(
    client: AsyncClient, room_id: str, data: bytes, *, content_type: str, filename: str
) -> tuple[str, dict[str, Any] | None] | None:
    """Upload a file for a room, encrypted when the room is: its ``mxc://`` URL and, when
    encrypted, the keys for :func:`attach_upload`. ``None`` when the homeserver finds it too
    large; a refused upload is an :class:`UploadRefused`, network trouble propagates."""
    room = client.rooms.get(room_id)
    if room is None:
        raise TransientFailure("not ready: room unknown")
    uploaded, keys = await client.upload(
        lambda _limited, _timeouts: data,
        content_type=content_type,
        filename=filename,
        encrypt=bool(room.encrypted),
        filesize=len(data),
    )
    if isinstance(uploaded, UploadResponse):
        return str(uploaded.content_uri), keys
    status = uploaded.transport_response.status if uploaded.transport_response else 0
    if uploaded.status_code == "M_TOO_LARGE" or status == 413:
        return None
    raise UploadRefused(uploaded)
