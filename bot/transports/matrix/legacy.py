"""Relayed messages queued for Matrix before outgoing items were typed, as today's payloads.

That version stored the payload itself (``{"relay": "text" | "edit" | "delete" | "media",
...}``, its references resolved by the outbox like today's); its replies read as
:class:`bot.outgoing.BotMessage` parts. Such rows are delivered or given up within days of the
upgrade; this module can go in the release after.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.outgoing import FileSource, OutgoingError
from bot.transports.matrix.payloads import (
    MatrixEdit,
    MatrixMessage,
    MatrixPayload,
    MatrixRedaction,
    MatrixRelayFile,
)
from bot.types import Platform


def legacy_payload(payload: Mapping[str, Any]) -> MatrixPayload:
    """The relay payload an earlier version stored, as today's; :class:`OutgoingError` if it
    is none of that version's shapes."""
    relay = payload.get("relay")
    try:
        if relay == "text":
            return MatrixMessage(dict(payload["content"]), _event_id(payload.get("reply_to")))
        if relay == "edit":
            return MatrixEdit(dict(payload["content"]), _event_id(payload.get("target")))
        if relay == "delete":
            return MatrixRedaction(_event_id(payload.get("target")))
        if relay == "media":
            source = payload["source"]
            return MatrixRelayFile(
                source=FileSource(
                    platform=Platform(source["platform"]),
                    ref=str(source["ref"]),
                    filename=source.get("filename"),
                    content_type=source.get("content_type"),
                    size=source.get("size"),
                ),
                content=dict(payload["content"]),
                fallback=dict(payload["fallback"]),
                reply_to=_event_id(payload.get("reply_to")),
            )
    except (KeyError, TypeError, ValueError) as error:
        raise OutgoingError(
            f"an earlier version's Matrix payload cannot be read ({type(error).__name__})"
        ) from error
    raise OutgoingError(f"an earlier version's Matrix payload of unknown kind {relay!r}")


def _event_id(ref: Any) -> str | None:
    """The event id of a resolved reference (``{"message": id}``), or None."""
    message = ref.get("message") if isinstance(ref, Mapping) else None
    return message if isinstance(message, str) and message else None
