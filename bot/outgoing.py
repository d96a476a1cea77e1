"""Outgoing items: what the bot owes a room, as typed values, before any platform renders it.

The router's replies (already in one language) and the bridge's relayed messages become
these values; nothing before the outbox builds a platform's payload. On the way out:

1. when an item is queued, its platform's render module cuts it into the parts that platform
   sends as one message each (``parts``: a long text on Telegram, each file of a reply on
   Matrix); each part is an outbox row of its own, stored as
   :func:`bot.outgoing_json.to_json` makes it (the item's fields, its ``kind`` and its
   ``version``);
2. when a row is sent, the outbox worker reads it back (:func:`bot.outgoing_json.from_json`),
   makes its references to earlier rows the platform's message ids (:func:`with_references`),
   and the render module turns it into the payload its sender delivers (``render``).

Each kind is a frozen dataclass here with a ``KIND`` and ``VERSION``, a member of
:data:`OutgoingItem`, a case in :mod:`bot.outgoing_json` (writing and reading) and in each
platform's ``parts`` and ``render``; those match every kind with ``assert_never``, so mypy
names each place a new kind is missing. A change to a kind's fields raises its ``VERSION``
and keeps a reader of the old one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union, assert_never

from bot.types import Media, MediaKind, Outgoing, Platform, RenderedChoice, RichText


class OutgoingError(ValueError):
    """A stored item that cannot be read (an unknown kind or version, a field missing or of
    the wrong type) or that its platform cannot render; the message says which and why."""


# -- references -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxRef:
    """An earlier outbox message, by its row id: the outbox worker makes it the platform's
    message id (a :class:`MessageRef`), or nothing when that message was never delivered."""

    outbox_id: int


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A message by the platform's own id, in the room the item goes to.

    ``shared`` when several relayed messages were delivered as this one (a merged burst):
    it may be answered, but not rewritten or deleted.
    """

    message_id: str
    shared: bool = False


Ref = Union[OutboxRef, MessageRef]  # noqa: UP007  (a runtime alias)


# -- the parts of items ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Author:
    """Who wrote a relayed message, as the other side shows them.

    ``header`` is the localized "name (platform)" line; ``key`` tells authors apart without
    naming them (a keyed digest of the platform and user id).
    """

    header: str
    key: str


@dataclass(frozen=True, slots=True)
class FileSource:
    """Where a relayed file is fetched from when it is sent: the platform it was posted on
    and that platform's handle to it (see :attr:`bot.types.MediaReceived.file_ref`)."""

    platform: Platform
    ref: str
    filename: str | None = None
    content_type: str | None = None
    size: int | None = None


# -- the kinds ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BotMessage:
    """What the bot says in its own name: text in one language, choices to pick from, files
    (a reply, a notice). Planned into parts, one file or one text each.

    ``private_to``: confidential, for that account alone (see :class:`bot.types.Outgoing`);
    a platform whose rooms can stop being private sends it only into a room still private
    between the bot and that account, and says ``withheld_note`` there instead. (Absent
    from rows stored before: those were not marked.)"""

    KIND: ClassVar[str] = "bot_message"
    VERSION: ClassVar[int] = 1

    text: str
    choices: tuple[RenderedChoice, ...] = ()
    media: tuple[Media, ...] = ()
    cases: tuple[int, ...] = ()
    """The case reports whose contents it carries (every part of it carries them too)."""
    private_to: str | None = None
    withheld_note: str = ""
    keeps_choices: bool = False
    """Leaves the room's numbered choices as they were (see :class:`bot.types.Reply`)."""

    @classmethod
    def of(cls, outgoing: Outgoing) -> BotMessage:
        return cls(
            outgoing.text,
            outgoing.choices,
            outgoing.media,
            outgoing.cases,
            outgoing.private_to,
            outgoing.withheld_note,
            outgoing.keeps_choices,
        )


@dataclass(frozen=True, slots=True)
class RelayedText:
    """A member's words carried into another room, after their ``author``'s name.

    ``origin`` is the platform they were written on. ``joinable``: the outbox may send it
    joined with the same author's next relayed texts when the room is over its limit (never
    a reply, nor the rest of one cut in parts).
    """

    KIND: ClassVar[str] = "relayed_text"
    VERSION: ClassVar[int] = 1

    author: Author
    origin: Platform
    rich: RichText
    reply_to: Ref | None = None
    joinable: bool = True


@dataclass(frozen=True, slots=True)
class RelayedNote:
    """Something said in a member's name that is not their words (a file left behind)."""

    KIND: ClassVar[str] = "relayed_note"
    VERSION: ClassVar[int] = 1

    author: Author
    origin: Platform
    note: str
    reply_to: Ref | None = None


@dataclass(frozen=True, slots=True)
class RelayedMedia:
    """A member's file carried into another room, fetched from ``source`` when it is sent;
    ``unavailable_note`` is said instead when it cannot be had or is too large then."""

    KIND: ClassVar[str] = "relayed_media"
    VERSION: ClassVar[int] = 1

    author: Author
    origin: Platform
    kind: MediaKind
    source: FileSource
    caption: RichText
    unavailable_note: str
    reply_to: Ref | None = None


@dataclass(frozen=True, slots=True)
class RelayedEdit:
    """A member changed a relayed message: its copy ``target`` is to show ``rich`` instead.

    Where the copy cannot be rewritten, the new text follows as an answer to it, after
    ``edited_header`` ("name (platform), edited"). ``of_caption`` when the copy is a file
    with a caption; ``copy_parts`` is how many messages the copy was cut into.
    """

    KIND: ClassVar[str] = "relayed_edit"
    VERSION: ClassVar[int] = 1

    author: Author
    edited_header: str
    origin: Platform
    rich: RichText
    target: Ref | None
    of_caption: bool = False
    copy_parts: int = 1


@dataclass(frozen=True, slots=True)
class RelayedDeletion:
    """A member deleted a relayed message: its copy ``target`` goes too; where the platform
    will not delete it, ``fallback`` is said in answer to it instead."""

    KIND: ClassVar[str] = "relayed_deletion"
    VERSION: ClassVar[int] = 1

    target: Ref | None
    fallback: str


@dataclass(frozen=True, slots=True)
class PollStart:
    """A question as the platform's own poll (Telegram ``sendPoll``, a Matrix poll start).

    ``text`` introduces it and is what a client without polls shows (the question and the
    numbered options); ``choice_values`` are what a pick by number sends back, one per
    option. ``closes_at``: ISO 8601 in UTC, when the platform may close it by itself.
    """

    KIND: ClassVar[str] = "poll_start"
    VERSION: ClassVar[int] = 1

    text: str
    question: str
    options: tuple[str, ...]
    choice_values: tuple[str, ...]
    max_selections: int = 1
    disclosed: bool = True
    closes_at: str | None = None


@dataclass(frozen=True, slots=True)
class BotEdit:
    """The bot's own message ``target`` is to say ``text`` now (live results). ``None``: that
    message was never delivered, and the text goes as a new message."""

    KIND: ClassVar[str] = "bot_edit"
    VERSION: ClassVar[int] = 1

    target: Ref | None
    text: str


@dataclass(frozen=True, slots=True)
class PollEnd:
    """The bot's poll ``target`` closes; ``text`` says so where the platform shows an end
    (a Matrix poll end's fallback). ``None``: the poll never went out; nothing to close."""

    KIND: ClassVar[str] = "poll_end"
    VERSION: ClassVar[int] = 1

    target: Ref | None
    text: str


@dataclass(frozen=True, slots=True)
class LegacyRelay:
    """A relayed message queued before outgoing items were typed: the payload that version
    rendered for its platform and stored (``{"relay": ...}``, no ``kind``). Each render module
    still reads these; none are left once every row queued before the upgrade is delivered or
    given up (days). That version's replies read as :class:`BotMessage` parts."""

    payload: dict[str, Any] = field(hash=False)


OutgoingItem = Union[  # noqa: UP007  (a runtime alias)
    BotMessage,
    RelayedText,
    RelayedNote,
    RelayedMedia,
    RelayedEdit,
    RelayedDeletion,
    PollStart,
    BotEdit,
    PollEnd,
    LegacyRelay,
]


# -- references to earlier messages ---------------------------------------------------------

_LEGACY_REFERENCE_KEYS = ("reply_to", "target")


def outbox_references(item: OutgoingItem) -> tuple[int, ...]:
    """The ids of the earlier outbox messages the item refers to."""
    if isinstance(item, LegacyRelay):
        return tuple(
            value["outbox"]
            for key in _LEGACY_REFERENCE_KEYS
            if isinstance(value := item.payload.get(key), Mapping)
            and isinstance(value.get("outbox"), int)
        )
    return tuple(ref.outbox_id for _, ref in _references(item) if isinstance(ref, OutboxRef))


def with_references(item: OutgoingItem, found: Mapping[int, MessageRef | None]) -> OutgoingItem:
    """The item with its references to earlier outbox messages replaced by what ``found``
    says they became (a platform message, or ``None``: never delivered)."""
    match item:
        case RelayedText():
            return dataclasses.replace(item, reply_to=_resolved(item.reply_to, found))
        case RelayedNote():
            return dataclasses.replace(item, reply_to=_resolved(item.reply_to, found))
        case RelayedMedia():
            return dataclasses.replace(item, reply_to=_resolved(item.reply_to, found))
        case RelayedEdit():
            return dataclasses.replace(item, target=_resolved(item.target, found))
        case RelayedDeletion() | BotEdit() | PollEnd():
            return dataclasses.replace(item, target=_resolved(item.target, found))
        case BotMessage() | PollStart():
            return item
        case LegacyRelay():
            payload = dict(item.payload)
            for key in _LEGACY_REFERENCE_KEYS:
                value = payload.get(key)
                if isinstance(value, Mapping) and isinstance(value.get("outbox"), int):
                    resolved = found.get(value["outbox"])
                    payload[key] = None if resolved is None else _legacy_ref(resolved)
            return LegacyRelay(payload)
        case _:
            assert_never(item)


def _resolved(ref: Ref | None, found: Mapping[int, MessageRef | None]) -> Ref | None:
    return found.get(ref.outbox_id) if isinstance(ref, OutboxRef) else ref


def _references(item: OutgoingItem) -> list[tuple[str, Ref | None]]:
    match item:
        case RelayedText() | RelayedNote() | RelayedMedia():
            return [("reply_to", item.reply_to)]
        case RelayedEdit() | RelayedDeletion() | BotEdit() | PollEnd():
            return [("target", item.target)]
        case BotMessage() | PollStart() | LegacyRelay():
            return []
        case _:
            assert_never(item)


def _legacy_ref(ref: MessageRef) -> dict[str, Any]:
    return (
        {"message": ref.message_id, "shared": True} if ref.shared else {"message": ref.message_id}
    )
