"""Neutral inbound events as the inbox stores them, for transports that translate an event
before it is handled (Matrix translates during its sync, while it has the room's state).

Each event is a JSON object with its ``kind`` and ``version`` beside its fields, checked
field by field when it is read back: a row this version cannot read raises
:class:`IncomingError`, and the inbox sets it aside.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, assert_never

from bot.stored_json import StoredFields
from bot.types import (
    ChoicePicked,
    Command,
    Incoming,
    MediaKind,
    MediaReceived,
    MessageDeleted,
    MessageEdited,
    Origin,
    Platform,
    PresenceChanged,
    Role,
    Span,
    TextMessage,
    Unrelayable,
    UnrelayableKind,
    VoteCast,
)

VERSION = 1
"""The version of every kind's fields; a change to one kind's fields raises it."""


class IncomingError(ValueError):
    """A stored event this version cannot read (unknown kind or version, a malformed field)."""


# -- writing --------------------------------------------------------------------------------


def to_json(event: Incoming) -> dict[str, Any]:
    """The event as a JSON object, with its ``kind`` and ``version``, for the inbox."""
    fields: dict[str, Any]
    match event:
        case TextMessage():
            kind = "text"
            fields = {
                "text": event.text,
                "message_id": event.message_id,
                "formatting": _spans_json(event.formatting),
                "reply_to": event.reply_to,
            }
        case Command():
            kind = "command"
            fields = {"name": event.name, "args": list(event.args), "message_id": event.message_id}
        case ChoicePicked():
            kind = "choice"
            fields = {"value": event.value, "message_id": event.message_id}
        case MessageEdited():
            kind = "edit"
            fields = {
                "message_id": event.message_id,
                "text": event.text,
                "formatting": _spans_json(event.formatting),
            }
        case MessageDeleted():
            kind = "deletion"
            fields = {"message_id": event.message_id}
        case MediaReceived():
            kind = "media"
            fields = {
                "media_kind": event.kind.value,
                "file_ref": event.file_ref,
                "caption": event.caption,
                "filename": event.filename,
                "content_type": event.content_type,
                "size": event.size,
                "message_id": event.message_id,
                "caption_formatting": _spans_json(event.caption_formatting),
                "reply_to": event.reply_to,
            }
        case VoteCast():
            kind = "vote"
            fields = {
                "poll_id": event.poll_id,
                "options": list(event.options),
                "sent_at": None if event.sent_at is None else event.sent_at.isoformat(),
            }
        case PresenceChanged():
            kind = "presence"
            fields = {"present": event.present}
        case Unrelayable():
            kind = "unrelayable"
            fields = {"unrelayable_kind": event.kind.value, "message_id": event.message_id}
        case _:
            assert_never(event)
    return {"kind": kind, "version": VERSION, "origin": _origin_json(event.origin), **fields}


def _origin_json(origin: Origin) -> dict[str, Any]:
    return {
        "platform": origin.platform.value,
        "room_id": origin.room_id,
        "user_id": origin.user_id,
        "is_direct": origin.is_direct,
        "display_name": origin.display_name,
        "language_hint": origin.language_hint,
        "trusted_role": origin.trusted_role.value if origin.trusted_role else None,
        "exposed": origin.exposed,
        "encrypted": origin.encrypted,
    }


def _spans_json(spans: tuple[Span, ...]) -> list[list[Any]]:
    return [[span.start, span.end, span.kind.value, span.value] for span in spans]


# -- reading --------------------------------------------------------------------------------


def from_json(data: Mapping[str, Any]) -> Incoming:
    """The event an inbox row holds; raises :class:`IncomingError` when it cannot be read."""
    kind, version = data.get("kind"), data.get("version")
    read = _READERS.get(kind) if isinstance(kind, str) else None
    if read is None:
        known = ", ".join(sorted(_READERS))
        raise IncomingError(f"unknown incoming kind {kind!r} (this version reads {known})")
    if type(version) is not int or version != VERSION:
        raise IncomingError(
            f"incoming kind {kind!r} version {version!r} is not one this version reads ({VERSION})"
        )
    fields = _Fields(data, str(kind))
    return read(fields, fields.origin("origin"))


class _Fields(StoredFields):
    error = IncomingError

    def origin(self, name: str) -> Origin:
        fields = self.nested(name)
        role = fields.named("trusted_role", Role) if fields.has("trusted_role") else None
        return Origin(
            platform=fields.named("platform", Platform),
            room_id=fields.text("room_id"),
            user_id=fields.text("user_id"),
            is_direct=fields.flag("is_direct"),
            display_name=fields.optional_text("display_name"),
            language_hint=fields.optional_text("language_hint"),
            trusted_role=role,
            # Stored before rooms were told apart by their privacy: not exposed.
            exposed=fields.flag("exposed") if fields.has("exposed") else False,
            # Stored before rooms were told apart by their encryption: not known.
            encrypted=fields.flag("encrypted") if fields.has("encrypted") else None,
        )


def _read_text(fields: _Fields, origin: Origin) -> TextMessage:
    return TextMessage(
        origin,
        fields.text("text"),
        fields.optional_text("message_id"),
        fields.spans("formatting"),
        fields.optional_text("reply_to"),
    )


def _read_command(fields: _Fields, origin: Origin) -> Command:
    return Command(
        origin, fields.text("name"), fields.texts("args"), fields.optional_text("message_id")
    )


def _read_choice(fields: _Fields, origin: Origin) -> ChoicePicked:
    return ChoicePicked(origin, fields.text("value"), fields.optional_text("message_id"))


def _read_edit(fields: _Fields, origin: Origin) -> MessageEdited:
    return MessageEdited(
        origin, fields.text("message_id"), fields.text("text"), fields.spans("formatting")
    )


def _read_deletion(fields: _Fields, origin: Origin) -> MessageDeleted:
    return MessageDeleted(origin, fields.text("message_id"))


def _read_media(fields: _Fields, origin: Origin) -> MediaReceived:
    return MediaReceived(
        origin,
        fields.named("media_kind", MediaKind),
        fields.text("file_ref"),
        caption=fields.text("caption"),
        filename=fields.optional_text("filename"),
        content_type=fields.optional_text("content_type"),
        size=fields.optional_integer("size"),
        message_id=fields.optional_text("message_id"),
        caption_formatting=fields.spans("caption_formatting"),
        reply_to=fields.optional_text("reply_to"),
    )


def _read_vote(fields: _Fields, origin: Origin) -> VoteCast:
    sent = fields.optional_text("sent_at")  # absent from events stored before it was kept
    try:
        sent_at = None if sent is None else datetime.fromisoformat(sent)
    except ValueError as error:
        raise IncomingError(f"{fields.where}: field 'sent_at' is not a time") from error
    if sent_at is not None and sent_at.tzinfo is None:
        raise IncomingError(f"{fields.where}: field 'sent_at' has no time zone")
    return VoteCast(origin, fields.text("poll_id"), fields.texts("options"), sent_at)


def _read_presence(fields: _Fields, origin: Origin) -> PresenceChanged:
    return PresenceChanged(origin, fields.flag("present"))


def _read_unrelayable(fields: _Fields, origin: Origin) -> Unrelayable:
    return Unrelayable(
        origin,
        fields.named("unrelayable_kind", UnrelayableKind),
        fields.optional_text("message_id"),
    )


_READERS: dict[str, Callable[[_Fields, Origin], Incoming]] = {
    "text": _read_text,
    "command": _read_command,
    "choice": _read_choice,
    "edit": _read_edit,
    "deletion": _read_deletion,
    "media": _read_media,
    "vote": _read_vote,
    "presence": _read_presence,
    "unrelayable": _read_unrelayable,
}
