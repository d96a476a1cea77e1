"""Where capabilities declare their commands, conversations and choice handlers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeAlias

from bot.conversation import Conversation, ConversationState
from bot.types import (
    ChoicePicked,
    Command,
    CommandRef,
    Message,
    Origin,
    Platform,
    Reply,
    Role,
    Text,
    VoteCast,
)
from storage.scheduled import ScheduledRecord

if TYPE_CHECKING:
    from bot.context import Context
    from bot.scheduler import ScheduledContext

CommandHandler: TypeAlias = Callable[["Context", Command], Sequence[Reply]]
Preparer: TypeAlias = Callable[["Context", Command], Mapping[str, Any]]
"""Run before a conversation starts: the answers already known (or a UserError)."""
ChoiceHandler: TypeAlias = Callable[["Context", ChoicePicked, str], Sequence[Reply]]
"""Called with the part of the choice value after its ``prefix:``."""
StartHandler: TypeAlias = Callable[["Context", Command, str], Sequence[Reply]]
"""Called for ``/start PREFIX-REST`` (a Telegram deep link's payload) with ``REST``."""
PrivateMessageHook: TypeAlias = Callable[["Context"], Sequence[Reply]]
"""Called whenever a member writes to the bot privately, before what they wrote is handled:
what it returns is said first (something the bot owed them until they wrote)."""

VoteHandler: TypeAlias = Callable[["Context", VoteCast], Sequence[Reply]]
"""Called with each answer to a native poll (see :meth:`Registry.on_vote`)."""
ScheduledHandler: TypeAlias = Callable[["ScheduledContext", ScheduledRecord], Sequence[Reply]]
"""Does one row of scheduled work when it falls due: the notices to queue (each addressed,
``Reply.to`` and ``language`` set), in the unit of work that marks the row done. It raises
:class:`NoLongerUseful` to skip work that came too late to matter (after a deadline)."""


class NoLongerUseful(Exception):
    """Raised by a scheduled handler: the work is no longer worth doing; the row is skipped
    with a log line. ``reason`` goes to the log and the row: plain words, no personal data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ScheduledKind:
    """A kind of scheduled work as registered: its handler, and how late it may still run
    (work due while the bot was down runs at start only within ``lateness``)."""

    kind: str
    handler: ScheduledHandler
    lateness: timedelta


@dataclass(frozen=True)
class Elsewhere:
    """A conversation that may not go on in the room a member wrote from: ``note`` is said
    there instead; its questions go to ``to`` (with ``greeting`` first), if given."""

    note: Text
    to: Origin | None = None
    greeting: Text | None = None


Guard: TypeAlias = Callable[["Context", ConversationState], Elsewhere | None]
"""Asked before a conversation takes an answer or shows a question, and after: where it
may not be held here, what to do instead (nothing of the answer is taken)."""

RESERVED_COMMANDS = frozenset({"back", "cancel", "skip"})
"""Answered by the router itself: they steer the member's open conversation."""


@dataclass(frozen=True)
class CommandSpec:
    """A command as registered: who may use it and the catalog key of its help line."""

    name: str
    help_key: str
    role: Role
    handler: CommandHandler | None = None
    conversation: Conversation | None = None
    direct_only: bool = False
    platforms: frozenset[Platform] | None = None
    prepare: Preparer | None = None
    group_hint: str | None = None
    """Said instead of the usual refusal when a direct-only command is typed in a group."""
    typed_in_public: CommandHandler | None = None
    """Run when a direct-only command is typed outside a private chat, before the refusal:
    what it says is said first (``/connect CODE`` voids the code everyone there has seen)."""
    with_arguments: CommandHandler | None = None
    """A conversation's command typed with arguments runs this instead, for any member and
    in any room (``/poll`` sets one up; ``/poll 7`` shows poll 7)."""

    def available_on(self, platform: Platform) -> bool:
        return self.platforms is None or platform in self.platforms


@dataclass(frozen=True)
class ChoiceSpec:
    prefix: str
    handler: ChoiceHandler | None
    role: Role
    starts: str | None = None
    """The conversation command a pick of this prefix begins (its handler is then ``None``)."""


class Registry:
    """The table the router dispatches on; filled once at start by ``handlers.register_all``."""

    def __init__(self) -> None:
        self._commands: dict[str, CommandSpec] = {}
        self._choices: dict[str, ChoiceSpec] = {}
        self._conversations: dict[str, Conversation] = {}
        self._private_message_hooks: list[PrivateMessageHook] = []
        self._start_payloads: dict[str, StartHandler] = {}
        self._scheduled: dict[str, ScheduledKind] = {}
        self._vote_handler: VoteHandler | None = None

        self._guards: dict[str, Guard] = {}

    def command(
        self,
        name: str,
        handler: CommandHandler,
        *,
        help_key: str,
        role: Role = Role.MEMBER,
        direct_only: bool = False,
        platforms: frozenset[Platform] | None = None,
        typed_in_public: CommandHandler | None = None,
    ) -> None:
        self._add(
            CommandSpec(
                name,
                help_key,
                role,
                handler,
                None,
                direct_only,
                platforms,
                typed_in_public=typed_in_public,
            ),
        )

    def conversation(
        self,
        conversation: Conversation,
        *,
        command: str,
        help_key: str,
        prepare: Preparer | None = None,
        group_hint: str | None = None,
        guard: Guard | None = None,
        with_arguments: CommandHandler | None = None,
    ) -> None:
        """Register a conversation, started (or resumed) by ``command`` in a direct chat.

        ``prepare`` supplies answers known before the first question (or refuses);
        ``group_hint`` is what the bot says when the command is typed in a group room;
        ``guard`` keeps it to the rooms where it may be held; ``with_arguments`` answers
        the command typed with arguments instead (any member, any room)."""
        if conversation.name in self._conversations:
            raise ValueError(f"conversation {conversation.name!r} registered twice")
        self._conversations[conversation.name] = conversation
        if guard is not None:
            self._guards[conversation.name] = guard
        self._add(
            CommandSpec(
                command,
                help_key,
                conversation.role,
                None,
                conversation,
                True,
                None,
                prepare,
                group_hint,
                with_arguments=with_arguments,
            )
        )

    def choice(self, prefix: str, handler: ChoiceHandler, *, role: Role = Role.MEMBER) -> None:
        """Route picked choices whose value starts with ``prefix:`` to ``handler``."""
        if prefix in self._choices or ":" in prefix or prefix.startswith("~"):
            raise ValueError(f"choice prefix {prefix!r} is taken or malformed")
        self._choices[prefix] = ChoiceSpec(prefix, handler, role)

    def choice_starts(self, prefix: str, command: str, *, role: Role = Role.MEMBER) -> None:
        """Route picked choices ``prefix:A[:B...]`` to the beginning of the conversation of
        ``command``, prepared as if ``/command A B`` had been typed: a button that opens a
        guided conversation (a question about statement A). Its prepare sees the arguments;
        the command's ``with_arguments`` handler is not called."""
        if prefix in self._choices or ":" in prefix or prefix.startswith("~"):
            raise ValueError(f"choice prefix {prefix!r} is taken or malformed")
        self._choices[prefix] = ChoiceSpec(prefix, None, role, starts=command)

    def start_payload(self, prefix: str, handler: StartHandler) -> None:
        """Route ``/start PREFIX-REST`` to ``handler`` with ``REST``: what a link such as
        ``t.me/<bot>?start=PREFIX-REST`` opens on Telegram."""
        if prefix in self._start_payloads or not prefix.isascii() or not prefix.isalpha():
            raise ValueError(f"start payload prefix {prefix!r} is taken or malformed")
        self._start_payloads[prefix] = handler

    def find_start_payload(self, payload: str) -> tuple[StartHandler, str] | None:
        prefix, separator, rest = payload.partition("-")
        handler = self._start_payloads.get(prefix) if separator else None
        return (handler, rest) if handler is not None else None

    def scheduled(self, kind: str, handler: ScheduledHandler, *, lateness: timedelta) -> None:
        """Do rows of scheduled work of ``kind`` with ``handler`` when they fall due
        (``store.scheduled.schedule(key, kind, due_at, target)``); a row found more than
        ``lateness`` past its time is skipped with a log line, not done."""
        if kind in self._scheduled or not kind or len(kind) > 64:
            raise ValueError(f"scheduled kind {kind!r} is taken or malformed")
        if lateness < timedelta(0):
            raise ValueError(f"lateness of {kind!r} must not be negative")
        self._scheduled[kind] = ScheduledKind(kind, handler, lateness)

    def scheduled_kind(self, kind: str) -> ScheduledKind | None:
        return self._scheduled.get(kind)

    def on_private_message(self, hook: PrivateMessageHook) -> None:
        """Call ``hook`` each time a member writes to the bot in a private chat."""
        self._private_message_hooks.append(hook)

    def private_message_hooks(self) -> tuple[PrivateMessageHook, ...]:
        return tuple(self._private_message_hooks)

    def on_vote(self, handler: VoteHandler) -> None:
        """Call ``handler`` with every answer to a native poll (one capability owns them)."""
        if self._vote_handler is not None:
            raise ValueError("native poll answers already have a handler")
        self._vote_handler = handler

    @property
    def vote_handler(self) -> VoteHandler | None:
        return self._vote_handler

    def _add(self, spec: CommandSpec) -> None:
        if spec.name in self._commands or spec.name in RESERVED_COMMANDS:
            raise ValueError(f"command {spec.name!r} registered twice or reserved")
        if not spec.name.isascii() or not spec.name.replace("_", "").isalnum():
            raise ValueError(f"command name {spec.name!r} must be ASCII letters and digits")
        self._commands[spec.name] = spec

    def check(self) -> None:
        """Refuse, once everything is registered, a button that begins a command that is no
        conversation: a mistake found at start, not at every press."""
        for choice in self._choices.values():
            if choice.starts is None:
                continue
            spec = self._commands.get(choice.starts)
            if spec is None or spec.conversation is None:
                raise ValueError(
                    f"choice {choice.prefix!r} begins {choice.starts!r}, which is no conversation"
                )

    def find_command(self, name: str) -> CommandSpec | None:
        return self._commands.get(name)

    def find_choice(self, value: str) -> tuple[ChoiceSpec, str] | None:
        prefix, separator, rest = value.partition(":")
        spec = self._choices.get(prefix) if separator else None
        return (spec, rest) if spec is not None else None

    def find_conversation(self, name: str) -> Conversation | None:
        return self._conversations.get(name)

    def guard_of(self, name: str) -> Guard | None:
        return self._guards.get(name)

    def commands(self) -> tuple[CommandSpec, ...]:
        return tuple(self._commands.values())

    def help_of(self, spec: CommandSpec) -> Message:
        """What a command does, as its help line says it; a help text may name another
        command (``{link}``), shown with the platform's own prefix."""
        named = {other.name: CommandRef(other.name) for other in self._commands.values()}
        return Message.of(spec.help_key, **named)

    def commands_for(self, role: Role, platform: Platform) -> tuple[CommandSpec, ...]:
        """The commands a member with ``role`` may use on ``platform``, in registration order."""
        return tuple(
            spec
            for spec in self._commands.values()
            if role.includes(spec.role) and spec.available_on(platform)
        )
