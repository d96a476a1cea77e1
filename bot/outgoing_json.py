"""Outgoing items as the outbox stores them: JSON objects with the item's ``kind`` and
``version`` beside its fields, checked field by field when they are read back.

Rows the version before typed items queued hold no ``kind``: its replies read as the
:class:`~bot.outgoing.BotMessage` parts they are, its relayed messages as
:class:`~bot.outgoing.LegacyRelay`.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Mapping
from typing import Any, assert_never

from bot.outgoing import (
    Author,
    BotEdit,
    BotMessage,
    FileSource,
    LegacyRelay,
    MessageRef,
    OutboxRef,
    OutgoingError,
    OutgoingItem,
    PollEnd,
    PollStart,
    Ref,
    RelayedDeletion,
    RelayedEdit,
    RelayedMedia,
    RelayedNote,
    RelayedText,
)
from bot.stored_json import StoredFields
from bot.types import (
    Media,
    MediaKind,
    Platform,
    RenderedChoice,
    RichText,
    StoredFile,
)

log = logging.getLogger(__name__)

# -- writing --------------------------------------------------------------------------------


def to_json(item: OutgoingItem) -> dict[str, Any]:
    """The item as a JSON object, with its ``kind`` and ``version``, for the outbox."""
    fields: dict[str, Any]
    match item:
        case BotMessage():
            fields = {
                "text": item.text,
                "choices": [[choice.value, choice.label] for choice in item.choices],
                "media": [_media_json(media) for media in item.media],
            }
            if item.cases:
                # Read by the outbox's index too (storage.outbox), for /withdraw.
                fields["cases"] = list(item.cases)
            if item.private_to is not None:
                fields["private_to"] = item.private_to
                fields["withheld_note"] = item.withheld_note
            if item.keeps_choices:  # absent (false) in rows stored before
                fields["keeps_choices"] = True
        case RelayedText():
            fields = {
                "author": _author_json(item.author),
                "origin": item.origin.value,
                "rich": _rich_json(item.rich),
                "reply_to": _ref_json(item.reply_to),
                "joinable": item.joinable,
            }
        case RelayedNote():
            fields = {
                "author": _author_json(item.author),
                "origin": item.origin.value,
                "note": item.note,
                "reply_to": _ref_json(item.reply_to),
            }
        case RelayedMedia():
            fields = {
                "author": _author_json(item.author),
                "origin": item.origin.value,
                "media_kind": item.kind.value,
                "source": _source_json(item.source),
                "caption": _rich_json(item.caption),
                "unavailable_note": item.unavailable_note,
                "reply_to": _ref_json(item.reply_to),
            }
        case RelayedEdit():
            fields = {
                "author": _author_json(item.author),
                "edited_header": item.edited_header,
                "origin": item.origin.value,
                "rich": _rich_json(item.rich),
                "target": _ref_json(item.target),
                "of_caption": item.of_caption,
                "copy_parts": item.copy_parts,
            }
        case RelayedDeletion():
            fields = {"target": _ref_json(item.target), "fallback": item.fallback}
        case PollStart():
            fields = {
                "text": item.text,
                "question": item.question,
                "options": list(item.options),
                "choice_values": list(item.choice_values),
                "max_selections": item.max_selections,
                "disclosed": item.disclosed,
                "closes_at": item.closes_at,
            }
        case BotEdit() | PollEnd():
            fields = {"target": _ref_json(item.target), "text": item.text}
        case LegacyRelay():
            return dict(item.payload)
        case _:
            assert_never(item)
    return {"kind": item.KIND, "version": item.VERSION, **fields}


def _author_json(author: Author) -> dict[str, Any]:
    return {"header": author.header, "key": author.key}


def _rich_json(rich: RichText) -> dict[str, Any]:
    return {
        "text": rich.text,
        "spans": [[span.start, span.end, span.kind.value, span.value] for span in rich.spans],
    }


def _ref_json(ref: Ref | None) -> dict[str, Any] | None:
    match ref:
        case None:
            return None
        case OutboxRef():
            return {"outbox": ref.outbox_id}
        case MessageRef():
            return {"message": ref.message_id, "shared": ref.shared}
        case _:
            assert_never(ref)


def _media_json(media: Media) -> dict[str, Any]:
    if media.stored is not None:
        # A reference, never the bytes: the outbox reads the file when it sends it.
        stored = media.stored
        return {
            "filename": media.filename,
            "content_type": media.content_type,
            "stored": {
                "case": stored.case_id,
                "attachment": stored.attachment_id,
                "reader": stored.reader_member_id,
            },
        }
    return {
        "filename": media.filename,
        "content_type": media.content_type,
        "data": base64.b64encode(media.data).decode("ascii"),
    }


def _source_json(source: FileSource) -> dict[str, Any]:
    return {
        "platform": source.platform.value,
        "ref": source.ref,
        "filename": source.filename,
        "content_type": source.content_type,
        "size": source.size,
    }


# -- reading --------------------------------------------------------------------------------


def from_json(data: Mapping[str, Any]) -> OutgoingItem:
    """The item an outbox row holds, also one an earlier version queued (without ``kind``).

    Raises :class:`OutgoingError` for an unknown kind or version or a malformed field.
    """
    if "kind" not in data:
        return _read_earlier(data)
    kind, version = data.get("kind"), data.get("version")
    reader = _READERS.get(kind) if isinstance(kind, str) else None
    if reader is None:
        known = ", ".join(sorted(_READERS))
        raise OutgoingError(f"unknown outgoing kind {kind!r} (this version reads {known})")
    expected, read = reader
    if type(version) is not int or version != expected:
        raise OutgoingError(
            f"outgoing kind {kind!r} version {version!r} is not one this version reads ({expected})"
        )
    return read(_Fields(data, str(kind)))


def _read_earlier(data: Mapping[str, Any]) -> OutgoingItem:
    """A row of the version before typed items: a relayed message as it was rendered for its
    platform, or one part of a reply (its text and choices, or one file with its caption),
    which is exactly a planned :class:`BotMessage` (a Telegram part's choice values were
    already callback data, as planning makes them)."""
    if "relay" in data:
        return LegacyRelay(dict(data))
    fields = _Fields(data, "earlier reply")
    choices = fields.choices("choices") if data.get("choices") is not None else ()
    if "file" in data:
        file = fields.nested("file")
        media = Media(
            file.optional_text("filename") or "file",
            file.optional_text("content_type") or "application/octet-stream",
            file.binary("data"),
        )
        caption = fields.optional_text("caption") or ""
        return BotMessage(caption, choices, (media,))
    if "text" in data:
        return BotMessage(fields.text("text"), choices)
    raise OutgoingError("a stored item with no kind, and none of an earlier version's shapes")


class _Fields(StoredFields):
    error = OutgoingError

    def platform(self, name: str) -> Platform:
        return self.named(name, Platform)

    def media_kind(self, name: str) -> MediaKind:
        return self.named(name, MediaKind)

    def author(self, name: str) -> Author:
        fields = self.nested(name)
        return Author(header=fields.text("header"), key=fields.text("key"))

    def rich(self, name: str) -> RichText:
        fields = self.nested(name)
        return RichText(fields.text("text"), fields.spans("spans"))

    def ref(self, name: str) -> Ref | None:
        fields = self.optional_nested(name)
        if fields is None:
            return None
        if fields.has("outbox"):
            return OutboxRef(fields.integer("outbox"))
        return MessageRef(fields.text("message"), fields.flag("shared"))

    def choices(self, name: str) -> tuple[RenderedChoice, ...]:
        choices = []
        for entry in self.entries(name):
            choice = self.tuple_entry(name, entry, "choice", ("value", "label"))
            choices.append(RenderedChoice(choice.text("value"), choice.text("label")))
        return tuple(choices)

    def media(self, name: str) -> tuple[Media, ...]:
        files = []
        for index, entry in enumerate(self.entries(name)):
            if not isinstance(entry, dict):
                raise OutgoingError(f"{self.where}.{name}: file {index} is not an object")
            media = _Fields(entry, f"{self.where}.{name}[{index}]")
            if media.has("stored"):
                ref = media.nested("stored")
                stored = StoredFile(
                    ref.integer("case"), ref.integer("attachment"), ref.integer("reader")
                )
                files.append(Media(media.text("filename"), media.text("content_type"), b"", stored))
                continue
            files.append(
                Media(media.text("filename"), media.text("content_type"), media.binary("data"))
            )
        return tuple(files)

    def case_numbers(self, name: str) -> tuple[int, ...]:
        if not self.has(name):
            return ()
        numbers = []
        for entry in self.entries(name):
            if type(entry) is not int:
                raise OutgoingError(f"{self.where}.{name}: {entry!r} is not a case number")
            numbers.append(entry)
        return tuple(numbers)

    def binary(self, name: str) -> bytes:
        try:
            return base64.b64decode(self.text(name), validate=True)
        except binascii.Error:
            raise OutgoingError(f"{self.where}: field {name!r} is not base64") from None

    def source(self, name: str) -> FileSource:
        fields = self.nested(name)
        return FileSource(
            platform=fields.platform("platform"),
            ref=fields.text("ref"),
            filename=fields.optional_text("filename"),
            content_type=fields.optional_text("content_type"),
            size=fields.optional_integer("size"),
        )


def _read_bot_message(fields: _Fields) -> BotMessage:
    private_to = fields.optional_text("private_to") if fields.has("private_to") else None
    return BotMessage(
        fields.text("text"),
        fields.choices("choices"),
        fields.media("media"),
        fields.case_numbers("cases"),
        private_to=private_to,
        withheld_note=fields.text("withheld_note") if private_to is not None else "",
        keeps_choices=fields.has("keeps_choices") and fields.flag("keeps_choices"),
    )


def _read_relayed_text(fields: _Fields) -> RelayedText:
    return RelayedText(
        author=fields.author("author"),
        origin=fields.platform("origin"),
        rich=fields.rich("rich"),
        reply_to=fields.ref("reply_to"),
        joinable=fields.flag("joinable"),
    )


def _read_relayed_note(fields: _Fields) -> RelayedNote:
    return RelayedNote(
        author=fields.author("author"),
        origin=fields.platform("origin"),
        note=fields.text("note"),
        reply_to=fields.ref("reply_to"),
    )


def _read_relayed_media(fields: _Fields) -> RelayedMedia:
    return RelayedMedia(
        author=fields.author("author"),
        origin=fields.platform("origin"),
        kind=fields.media_kind("media_kind"),
        source=fields.source("source"),
        caption=fields.rich("caption"),
        unavailable_note=fields.text("unavailable_note"),
        reply_to=fields.ref("reply_to"),
    )


def _read_relayed_edit(fields: _Fields) -> RelayedEdit:
    return RelayedEdit(
        author=fields.author("author"),
        edited_header=fields.text("edited_header"),
        origin=fields.platform("origin"),
        rich=fields.rich("rich"),
        target=fields.ref("target"),
        of_caption=fields.flag("of_caption"),
        copy_parts=fields.integer("copy_parts"),
    )


def _read_relayed_deletion(fields: _Fields) -> RelayedDeletion:
    return RelayedDeletion(target=fields.ref("target"), fallback=fields.text("fallback"))


def _read_poll_start(fields: _Fields) -> PollStart:
    options = fields.texts("options")
    values = fields.texts("choice_values")
    if len(values) != len(options):
        raise OutgoingError(
            f"{fields.where}: {len(values)} choice values for {len(options)} options"
        )
    return PollStart(
        text=fields.text("text"),
        question=fields.text("question"),
        options=options,
        choice_values=values,
        max_selections=fields.integer("max_selections"),
        disclosed=fields.flag("disclosed"),
        closes_at=fields.optional_text("closes_at"),
    )


def _read_bot_edit(fields: _Fields) -> BotEdit:
    return BotEdit(target=fields.ref("target"), text=fields.text("text"))


def _read_poll_end(fields: _Fields) -> PollEnd:
    return PollEnd(target=fields.ref("target"), text=fields.text("text"))


_READERS: Mapping[str, tuple[int, Callable[[_Fields], OutgoingItem]]] = {
    BotMessage.KIND: (BotMessage.VERSION, _read_bot_message),
    RelayedText.KIND: (RelayedText.VERSION, _read_relayed_text),
    RelayedNote.KIND: (RelayedNote.VERSION, _read_relayed_note),
    RelayedMedia.KIND: (RelayedMedia.VERSION, _read_relayed_media),
    RelayedEdit.KIND: (RelayedEdit.VERSION, _read_relayed_edit),
    RelayedDeletion.KIND: (RelayedDeletion.VERSION, _read_relayed_deletion),
    PollStart.KIND: (PollStart.VERSION, _read_poll_start),
    BotEdit.KIND: (BotEdit.VERSION, _read_bot_edit),
    PollEnd.KIND: (PollEnd.VERSION, _read_poll_end),
}
"""Each kind this version reads: the version it writes, and how to read that version."""
