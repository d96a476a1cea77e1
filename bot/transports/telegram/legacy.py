"""Relayed messages queued for Telegram before outgoing items were typed, as today's payloads.

That version stored the payload itself (``{"relay": "text" | "edit" | "delete" | "media",
...}``, its references resolved by the outbox like today's); its replies read as
:class:`bot.outgoing.BotMessage` parts. Such rows are delivered or given up within days of the
upgrade; this module can go in the release after.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.outgoing import FileSource, OutgoingError
from bot.transports.telegram.payloads import (
    TelegramDeletion,
    TelegramEdit,
    TelegramPayload,
    TelegramRelayFile,
    TelegramText,
)
from bot.types import MediaKind, Platform


def legacy_payload(payload: Mapping[str, Any]) -> TelegramPayload:
    """The relay payload an earlier version stored, as today's; :class:`OutgoingError` if it
    is none of that version's shapes."""
    relay = payload.get("relay")
    try:
        if relay == "text":
            return TelegramText(payload["html"], reply_to=_message_id(payload.get("reply_to")))
        if relay == "edit":
            return TelegramEdit(
                target=_message_id(payload.get("target")),
                html=payload["html"],
                fallback_html=payload["fallback_html"],
                shared=_shared(payload.get("target")),
            )
        if relay == "delete":
            return TelegramDeletion(
                target=_message_id(payload.get("target")),
                fallback_html=payload["fallback_html"],
                shared=_shared(payload.get("target")),
            )
        if relay == "media":
            source = payload["source"]
            return TelegramRelayFile(
                kind=MediaKind(payload["kind"]),
                source=FileSource(
                    platform=Platform(source["platform"]),
                    ref=str(source["ref"]),
                    filename=source.get("filename"),
                    content_type=source.get("content_type"),
                    size=source.get("size"),
                ),
                caption_html=payload.get("html") or "",
                fallback_html=payload["fallback_html"],
                reply_to=_message_id(payload.get("reply_to")),
            )
    except (KeyError, TypeError, ValueError) as error:
        raise OutgoingError(
            f"an earlier version's Telegram payload cannot be read ({type(error).__name__})"
        ) from error
    raise OutgoingError(f"an earlier version's Telegram payload of unknown kind {relay!r}")


def _message_id(ref: Any) -> int | None:
    value = ref.get("message") if isinstance(ref, Mapping) else None
    if value is None or not str(value).lstrip("-").isdigit():
        return None
    return int(value)


def _shared(ref: Any) -> bool:
    return isinstance(ref, Mapping) and bool(ref.get("shared"))
