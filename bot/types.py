"""Platform-neutral vocabulary shared by transports, the router, handlers and storage.

Nothing here imports a chat library or SQLAlchemy: transports translate platform updates
into these values, handlers answer with these values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum
from typing import Union


class Platform(StrEnum):
    """Where a member talks to the bot."""

    CONSOLE = "console"
    TELEGRAM = "telegram"
    MATRIX = "matrix"


class Role(Enum):
    """What a member may do; each role includes the ones below it."""

    MEMBER = "member"
    COORDINATOR = "coordinator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def includes(self, other: Role) -> bool:
        """True when a member holding this role may do what ``other`` may."""
        return self.rank >= other.rank

    @classmethod
    def highest(cls, roles: list[Role] | tuple[Role, ...]) -> Role:
        return max(roles, key=lambda role: role.rank, default=cls.MEMBER)


_ROLE_RANK = {Role.MEMBER: 0, Role.COORDINATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Origin:
    """Who sent an event, and where.

    ``language_hint`` is the language the platform reports for the user (Telegram's
    ``language_code``), used only to pick a new member's first language.
    ``trusted_role`` is honoured for the console alone, the operator's own terminal.
    ``exposed``: a room of the member and the bot alone that is nevertheless not private
    (anyone may join or read it, or someone else is invited): never a direct chat.
    ``encrypted``: on Matrix, whether the room is end-to-end encrypted, by its state
    (``m.room.encryption``); ``None`` where the platform has no such thing (a Telegram
    bot chat, the console).
    """

    platform: Platform
    room_id: str
    user_id: str
    is_direct: bool
    display_name: str | None = None
    language_hint: str | None = None
    trusted_role: Role | None = None
    exposed: bool = False
    encrypted: bool | None = None


class SpanKind(StrEnum):
    """A kind of formatting both platforms can show."""

    BOLD = "bold"
    ITALIC = "italic"
    UNDERLINE = "underline"
    STRIKE = "strike"
    CODE = "code"
    PRE = "pre"
    LINK = "link"
    QUOTE = "quote"
    SPOILER = "spoiler"
    MENTION = "mention"


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A formatted stretch ``text[start:end]`` (Python string indices, code points).

    ``value`` is the link's URL for LINK, the code's language ("" for none) for PRE, and
    for MENTION the person as ``"telegram:<user id>"`` or ``"matrix:<user id>"``.
    """

    start: int
    end: int
    kind: SpanKind
    value: str = ""


@dataclass(frozen=True, slots=True)
class RichText:
    """Text with its formatting, in neither platform's markup."""

    text: str
    spans: tuple[Span, ...] = ()


@dataclass(frozen=True, slots=True)
class TextMessage:
    """Free text a member typed; ``formatting`` and ``reply_to`` matter to the bridge."""

    origin: Origin
    text: str
    message_id: str | None = None
    formatting: tuple[Span, ...] = ()
    reply_to: str | None = None
    """The platform id of the message this one answers, in the same room."""

    @property
    def rich(self) -> RichText:
        return RichText(self.text, self.formatting)


@dataclass(frozen=True, slots=True)
class Command:
    """A command addressed to the bot, such as ``/help`` or ``!help``, with its arguments."""

    origin: Origin
    name: str
    args: tuple[str, ...] = ()
    message_id: str | None = None

    @property
    def argument_text(self) -> str:
        return " ".join(self.args)


@dataclass(frozen=True, slots=True)
class ChoicePicked:
    """A member picked one of the choices a reply offered (a button, a number, a reaction)."""

    origin: Origin
    value: str
    message_id: str | None = None


class MediaKind(StrEnum):
    PHOTO = "photo"
    DOCUMENT = "document"
    VOICE = "voice"
    AUDIO = "audio"
    VIDEO = "video"
    STICKER = "sticker"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class MessageEdited:
    """A member changed a message they had sent; ``text`` is the new text."""

    origin: Origin
    message_id: str
    text: str
    formatting: tuple[Span, ...] = ()

    @property
    def rich(self) -> RichText:
        return RichText(self.text, self.formatting)


@dataclass(frozen=True, slots=True)
class MessageDeleted:
    """A member (or a moderator) removed a message (a Matrix redaction)."""

    origin: Origin
    message_id: str


@dataclass(frozen=True, slots=True)
class MediaReceived:
    """A member sent a file; ``file_ref`` is the platform's handle to download it later
    (a Telegram file id; a Matrix ``mxc://`` URL, or for an encrypted file the JSON of its
    ``file`` object), read by that platform's :class:`MediaSource`."""

    origin: Origin
    kind: MediaKind
    file_ref: str
    caption: str = ""
    filename: str | None = None
    content_type: str | None = None
    size: int | None = None
    message_id: str | None = None
    caption_formatting: tuple[Span, ...] = ()
    reply_to: str | None = None

    @property
    def rich_caption(self) -> RichText:
        return RichText(self.caption, self.caption_formatting)


class UnrelayableKind(StrEnum):
    """Something a member posted that the bridge cannot carry to the other side."""

    UNDECRYPTABLE = "undecryptable"
    LOCATION = "location"
    POLL = "poll"
    CONTACT = "contact"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Unrelayable:
    """A member posted something the bridge cannot carry; the other rooms are told."""

    origin: Origin
    kind: UnrelayableKind
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class VoteCast:
    """A member answered a native poll (Telegram poll answers)."""

    origin: Origin
    poll_id: str
    """Telegram's poll id; on Matrix, the event id of the poll's start."""
    options: tuple[str, ...]
    """The chosen answers as the platform names them: Telegram's 0-based positions, or the
    Matrix answer ids, which the bot gives as the same strings (``"0"``, ``"1"``, ...).
    Empty: the voter took their vote back."""
    sent_at: datetime | None = None
    """When the platform says it was sent (Matrix ``origin_server_ts``); ``None`` on
    Telegram, whose answers carry no time and arrive in order."""


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """The bot was added to or removed from a room, or a member blocked or unblocked it.

    ``present`` tells whether the bot can now write into ``origin.room_id``.
    """

    origin: Origin
    present: bool


Incoming = Union[  # noqa: UP007  (a runtime alias)
    TextMessage,
    Command,
    ChoicePicked,
    MessageEdited,
    MessageDeleted,
    MediaReceived,
    VoteCast,
    PresenceChanged,
    Unrelayable,
]


ParamValue = Union[str, int, float, "Message", "Lines", "Literal", "CommandRef", "Territory"]


@dataclass(frozen=True, slots=True)
class CommandRef:
    """A command named inside a text; rendered with the platform's prefix (``/`` or ``!``)."""

    name: str


@dataclass(frozen=True, slots=True)
class Territory:
    """A country or territory (ISO 3166 code), named in the reader's language (CLDR)."""

    code: str


@dataclass(frozen=True, slots=True)
class Literal:
    """A value typed by a person (a name, an answer): shown as it is, never translated."""

    text: str


@dataclass(frozen=True, slots=True)
class Message:
    """Text to be said: a catalog key and the values for its placeholders.

    A parameter may itself be a ``Message``, rendered in the same language, so that a
    reply can be assembled from several catalog entries. ``count`` picks the form of a
    plural entry (``msgid_plural``) by the language's plural rule.
    """

    key: str
    params: tuple[tuple[str, ParamValue], ...] = ()
    count: int | None = None

    @classmethod
    def of(cls, key: str, **params: ParamValue) -> Message:
        return cls(key, tuple(sorted(params.items())))

    @classmethod
    def counted(cls, key: str, count: int, **params: ParamValue) -> Message:
        """A plural entry worded for ``count``, which its text shows as ``{count}``."""
        return cls(key, tuple(sorted({**params, "count": count}.items())), count)

    @property
    def param_map(self) -> Mapping[str, ParamValue]:
        return dict(self.params)


@dataclass(frozen=True, slots=True)
class Lines:
    """Several messages shown one per line (a help list, a review of answers)."""

    items: tuple[Message | Literal, ...]


Text = Union[Message, Lines, Literal]  # noqa: UP007


@dataclass(frozen=True, slots=True)
class Choice:
    """One option a member can pick; ``value`` comes back in :class:`ChoicePicked`."""

    value: str
    label: Message | Literal


@dataclass(frozen=True, slots=True)
class StoredFile:
    """An evidence file kept with case report ``case_id``, sent by reference to
    ``reader_member_id``: the outbox reads it, and checks again that the reader may have
    it, only when it is sent (nothing goes once the report is withdrawn)."""

    case_id: int
    attachment_id: int
    reader_member_id: int


@dataclass(frozen=True, slots=True)
class Media:
    """A file to send with a reply (used by later capabilities: exports, relayed media).

    With ``stored``, ``data`` is empty until the outbox reads the file, just before sending.
    """

    filename: str
    content_type: str
    data: bytes = field(repr=False)
    stored: StoredFile | None = None


@dataclass(frozen=True, slots=True)
class PollView:
    """A question offered as the platform's own poll where it has one (Telegram, Matrix),
    and as numbered choices elsewhere (the console; Matrix clients without polls, whose
    members answer with an option's number).

    ``choice_values``: one per option, what a pick by number or button sends back
    (:class:`ChoicePicked`). ``disclosed``: the platform may show the results as they come.
    ``closes_at``: aware UTC; the platform closes the poll itself then, where it can.
    """

    question: Text
    options: tuple[Message | Literal, ...]
    choice_values: tuple[str, ...]
    max_selections: int = 1
    disclosed: bool = True
    closes_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RenderedPoll:
    """A :class:`PollView` in one language."""

    question: str
    options: tuple[str, ...]
    choice_values: tuple[str, ...]
    max_selections: int
    disclosed: bool
    closes_at: datetime | None


@dataclass(frozen=True, slots=True)
class Reply:
    """What the bot says back: localized text, optional choices, optional media.

    ``to`` addresses another room or member; ``None`` answers where the event came from.
    ``language`` renders it for a reader other than the one who asked (a notice to them).
    ``confidential``: for its reader's eyes only (a notice; every answer in a private chat
    is too): sent only into a room still private between the bot and that reader.
    """

    text: Text
    choices: tuple[Choice, ...] = ()
    media: tuple[Media, ...] = ()
    to: Origin | None = None
    language: str | None = None
    cases: tuple[int, ...] = ()
    """The case reports whose contents it carries: withdrawing one takes it back unsent."""
    confidential: bool = False
    keeps_choices: bool = False
    """Offers no choices of its own and leaves the ones offered before it standing (what a
    member picks after a pick still picks from the list above)."""
    poll: PollView | None = None
    """Sent as the platform's own poll; ``text`` introduces it and is what a client without
    polls shows instead."""
    post: str | None = None
    """Names this message in its room (``"poll:7:results"``) for later replies to change."""
    edits: str | None = None
    """This reply's text replaces that of the message posted as ``edits`` in the same room
    (sent as a new message, which becomes that post, where there is none). A newer edit of
    a message replaces one still waiting to be sent."""
    ends_poll: str | None = None
    """Closes the native poll posted as ``ends_poll`` in the same room; ``text`` says so
    where the platform shows an end (Matrix)."""


@dataclass(frozen=True, slots=True)
class RenderedChoice:
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A reply rendered into one language, ready for a transport to format and send.

    ``private_to``: the account a confidential reply is for; it goes only into a room
    private between the bot and that account, and ``withheld_note`` is said instead where
    the room no longer is."""

    platform: Platform
    room_id: str
    text: str
    language: str
    right_to_left: bool = False
    choices: tuple[RenderedChoice, ...] = ()
    media: tuple[Media, ...] = ()
    cases: tuple[int, ...] = ()
    private_to: str | None = None
    withheld_note: str = ""
    keeps_choices: bool = False
    """See :class:`Reply`: the room's numbered choices stay the ones offered before."""
    poll: RenderedPoll | None = None
    post: str | None = None
    edits: str | None = None
    ends_poll: str | None = None
    """See :class:`Reply`."""

    @property
    def offered_choices(self) -> tuple[RenderedChoice, ...]:
        """What a member may pick by number: the choices, or a poll's options where the
        platform shows no poll of its own."""
        if self.poll is not None and not self.choices:
            return tuple(
                RenderedChoice(value, label)
                for value, label in zip(self.poll.choice_values, self.poll.options, strict=True)
            )
        return self.choices
