"""The router: sends each neutral event to the member's open conversation or to a command.

It is synchronous and does no network I/O: transports call :meth:`Router.handle` (on one
worker thread, so events are handled one at a time and in order) and send what it returns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from bot.bridge import Bridge, installation_secret
from bot.cleaning import clean_line
from bot.config import AppConfig
from bot.context import Context, HandlerStore, UserError
from bot.conversation import (
    BACK,
    CANCEL,
    SKIP,
    Conversation,
    ConversationEngine,
    ConversationState,
    Input,
    MediaAnswer,
    Outcome,
    PickedAnswer,
    TypedAnswer,
)
from bot.file_reads import FileReads
from bot.i18n import Catalogs
from bot.logs import raised_at
from bot.private_limit import PrivateLimit, Verdict
from bot.registry import CommandSpec, Elsewhere, Registry
from bot.room_checks import RoomChecks
from bot.types import (
    ChoicePicked,
    Command,
    CommandRef,
    Incoming,
    Literal,
    MediaReceived,
    Message,
    MessageDeleted,
    MessageEdited,
    Origin,
    Outgoing,
    Platform,
    PresenceChanged,
    Reply,
    Role,
    TextMessage,
    Unrelayable,
    VoteCast,
)
from storage import MemberRecord, StorageUnavailable, Store

log = logging.getLogger(__name__)

CONTROL_COMMANDS = {"back": BACK, "cancel": CANCEL, "skip": SKIP}
RELAYED = (TextMessage, MediaReceived, MessageEdited, MessageDeleted, Unrelayable)
"""What members post in a group room, which the bridge carries to the group's other rooms."""
# What a member sends of their own accord. A tap on a choice the bot offered is not counted:
# a reporter ticking a long list of options must never be told to slow down.
LIMITED = (TextMessage, Command, MediaReceived)
"""What a member sends the bot in a private chat, counted against their rate."""
WRITTEN = (TextMessage, Command, MediaReceived, ChoicePicked)
"""What counts as a member writing to the bot (for what the bot owes them until they do)."""


def _rate_limited(event: Incoming) -> bool:
    """Whether the event counts against its member's rate: what they send in a private chat
    on a chat platform. The console is the operator's own terminal, fed by a script as often
    as by hand (``printf … | make run``): it is never limited."""
    origin = event.origin
    return (
        origin.is_direct and origin.platform is not Platform.CONSOLE and isinstance(event, LIMITED)
    )


FORGET_IDLE_EVERY = 1000
"""Events between two sweeps of the rate windows of members gone quiet."""


def _media_answer(event: MediaReceived) -> MediaAnswer:
    return MediaAnswer(
        platform=event.origin.platform.value,
        kind=event.kind.value,
        file_ref=event.file_ref,
        filename=clean_line(event.filename) or None,
        content_type=event.content_type,
        size=event.size,
    )


def pick_language(hint: str | None, supported: Sequence[str], default: str) -> str:
    """A new member's first language: the platform's, when we speak it, else the default."""
    if hint:
        base = hint.replace("_", "-").split("-")[0].lower()
        if base in supported:
            return base
    return default


class Router:
    """Dispatches events to handlers, enforces roles, saves conversation state."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        catalogs: Catalogs,
        config: AppConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._handler_store = HandlerStore.of(store)
        self._registry = registry
        self._catalogs = catalogs
        self._config = config
        self.room_checks = RoomChecks()
        """The running platforms' answers about rooms (filled when the transports start)."""
        self.file_reads = FileReads()
        """The running platforms' downloads, for handlers (filled when they start)."""
        self._bridge = Bridge(
            store,
            catalogs,
            config.enabled_platforms,
            config.default_language,
            installation_secret(config.data_dir),
        )
        self._clock = clock
        self._limit = PrivateLimit(config.limits.private_messages_per_minute)
        self._since_sweep = 0

    def handle(self, event: Incoming) -> list[Outgoing]:
        context = self._context(event.origin)
        kind = type(event).__name__
        if _rate_limited(event):
            verdict = self._rate_verdict(context)
            if verdict is Verdict.DROP:
                return []  # handled: recorded as such, never run again nor queued
            if verdict is Verdict.SLOW_DOWN:
                owed = self._owed(context, event)
                return self._render(context, [*owed, Reply(Message.of("router.slow_down"))])
        owed = self._owed(context, event)
        try:
            # A refused or failed request changes nothing: its writes are undone.
            with self._store.savepoint():
                replies = self._dispatch(context, event)
        except UserError as refusal:
            replies = [Reply(refusal.message)]
        except StorageUnavailable:
            raise  # the event is tried again later, not answered with an error now
        except Exception as error:
            # Ids and the code location only: an exception's message may quote what the
            # member typed, so neither it nor the traceback's values are logged.
            log.error(
                "handler_failed event=%s platform=%s member=%s error=%s at=%s",
                kind,
                event.origin.platform,
                context.member.id,
                type(error).__name__,
                raised_at(error),
            )
            replies = [Reply(Message.of("router.internal_error"))]
        return self._render(context, [*owed, *replies])

    def _owed(self, context: Context, event: Incoming) -> list[Reply]:
        """What the capabilities owed this member until they wrote privately, said first;
        each hook in a savepoint of its own, so that one failing takes nothing else down."""
        if not (event.origin.is_direct and isinstance(event, WRITTEN)):
            return []
        owed: list[Reply] = []
        for hook in self._registry.private_message_hooks():
            try:
                with self._store.savepoint():
                    owed.extend(hook(context))
            except StorageUnavailable:
                raise
            except Exception as error:
                log.error(
                    "private_hook_failed platform=%s member=%s error=%s at=%s",
                    event.origin.platform,
                    context.member.id,
                    type(error).__name__,
                    raised_at(error),
                )
        return owed

    def apology(self, origin: Origin) -> list[Outgoing]:
        """Said when an event could not be handled at all; needs no database."""
        if not origin.is_direct:
            return []
        reply = Reply(Message.of("router.internal_error"))
        language = self._config.default_language
        return [self._catalogs.render_reply(reply, language, origin.platform, origin.room_id)]

    def pending_prompt(self, origin: Origin) -> list[Outgoing]:
        """The open conversation's current question, to show again when a member returns."""
        context = self._context(origin)
        found = self._open_conversation(context)
        if found is None:
            return []
        conversation, state = found
        if not context.role.includes(conversation.role):
            return []
        replies = [
            Reply(
                Message.of(
                    "conversation.resuming",
                    title=Message.of(conversation.title),
                    cancel=CommandRef("cancel"),
                )
            ),
            self._engine(context).prompt(conversation, state),
        ]
        return self._render(context, self._in_its_place(context, conversation, state, replies))

    @property
    def dropped_messages(self) -> int:
        """Private messages dropped over the rate since start (for admins and tests)."""
        return self._limit.dropped_total

    def _rate_verdict(self, context: Context) -> Verdict:
        now = self._clock()
        self._since_sweep += 1
        if self._since_sweep >= FORGET_IDLE_EVERY:
            self._since_sweep = 0
            self._limit.forget_idle(now)
        verdict, lifted = self._limit.verdict(context.member.id, now)
        if lifted is not None:
            log.info("private_limit_lifted member=%d dropped=%d", lifted.member_id, lifted.dropped)
        if verdict is Verdict.SLOW_DOWN:
            log.warning(
                "private_limit_reached member=%d per_minute=%d",
                context.member.id,
                self._config.limits.private_messages_per_minute,
            )
        return verdict

    # -- dispatch -------------------------------------------------------------------------

    def _dispatch(self, context: Context, event: Incoming) -> Sequence[Reply]:
        if isinstance(event, RELAYED) and not context.origin.is_direct:
            # A linked room's conversation goes to the group's other rooms, and only there.
            if context.working_group is not None:
                self._bridge.relay(context.working_group, event)
            return []
        if isinstance(event, Command):
            return self._on_command(context, event)
        if isinstance(event, ChoicePicked):
            return self._on_choice(context, event)
        if isinstance(event, TextMessage):
            return self._on_text(context, event)
        if isinstance(event, MediaReceived):
            found = self._open_conversation(context) if context.origin.is_direct else None
            if found is not None:
                conversation, state = found
                media = _media_answer(event)
                if conversation.check_file is not None:
                    refusal = conversation.check_file(context, state, media)
                    if refusal is not None:
                        return [Reply(refusal)]  # the file is not kept; nothing changes
                return self._answer(context, conversation, state, media)
            return [Reply(Message.of("router.media_hint", help=CommandRef("help")))]
        if isinstance(event, PresenceChanged):
            return self._on_presence(context, event)
        if isinstance(event, VoteCast):
            handler = self._registry.vote_handler
            return [] if handler is None else handler(context, event)
        if isinstance(event, MessageEdited | MessageDeleted | Unrelayable):
            # Edits and deletions in a private chat matter to nobody.
            return []
        raise TypeError(f"unknown event {type(event).__name__}")

    def _on_presence(self, context: Context, event: PresenceChanged) -> Sequence[Reply]:
        origin = event.origin
        if not event.present:
            self._store.transports.mark_unreachable(
                origin.platform, origin.room_id, "bot removed or blocked"
            )
            dropped = self._store.outbox.drop_pending_for_room(
                origin.platform, origin.room_id, "bot removed or blocked"
            )
            log.info(
                "room_unreachable platform=%s member=%s dropped=%d",
                origin.platform,
                context.member.id,
                dropped,
            )
            return []
        self._store.transports.clear_unreachable(origin.platform, origin.room_id)
        if origin.is_direct:
            return []
        if context.working_group is not None:
            return [
                Reply(
                    Message.of(
                        "router.bot_joined_group",
                        group=Literal(context.working_group.name),
                        help=CommandRef("help"),
                    )
                )
            ]
        return [Reply(Message.of("router.bot_joined_unlinked_room", help=CommandRef("help")))]

    def _on_command(self, context: Context, command: Command) -> Sequence[Reply]:
        # A command's words are kept (an answer to a coordinator) or shown (a room id):
        # cleaned like a name; a word of nothing visible is no word.
        words = tuple(word for word in map(clean_line, command.args) if word)
        command = replace(command, args=words)
        control = CONTROL_COMMANDS.get(command.name)
        if control is not None:
            found = self._open_conversation(context) if context.origin.is_direct else None
            if found is None:
                return [Reply(Message.of("router.no_conversation", help=CommandRef("help")))]
            return self._answer(context, *found, PickedAnswer(control))
        spec = self._registry.find_command(command.name)
        if spec is None or not spec.available_on(context.origin.platform):
            return [
                Reply(
                    Message.of(
                        "router.unknown_command",
                        command=CommandRef(command.name),
                        help=CommandRef("help"),
                    )
                )
            ]
        if spec.with_arguments is not None and command.args:
            return spec.with_arguments(context, command)
        if spec.direct_only and not context.origin.is_direct:
            said = list(spec.typed_in_public(context, command)) if spec.typed_in_public else []
            if context.origin.exposed:
                # The member may take it for a private chat: say why it is not one.
                refusal = Message.of("privacy.room_not_private", command=CommandRef(spec.name))
                return [*said, Reply(refusal)]
            # Before the role: in a group room the role is that group's, and the hint to
            # ask in private shows nothing of what the command would.
            key = spec.group_hint or "router.direct_only"
            return [*said, Reply(Message.of(key, command=CommandRef(spec.name)))]
        if not context.role.includes(spec.role):
            return [self._refusal(context, spec.name, spec.role)]
        if spec.conversation is not None:
            return self._begin(context, spec, spec.conversation, command)
        assert spec.handler is not None
        return spec.handler(context, command)

    def _on_choice(self, context: Context, picked: ChoicePicked) -> Sequence[Reply]:
        found_choice = self._registry.find_choice(picked.value)
        if found_choice is not None:
            choice, payload = found_choice
            if not context.role.includes(choice.role):
                return [self._refusal(context, choice.prefix, choice.role)]
            if choice.starts is not None:
                return self._begin_from_choice(context, choice.starts, payload)
            assert choice.handler is not None
            return choice.handler(context, picked, payload)
        found = self._open_conversation(context) if context.origin.is_direct else None
        if found is None:
            return [Reply(Message.of("router.choice_expired", help=CommandRef("help")))]
        return self._answer(context, *found, PickedAnswer(picked.value))

    def _begin_from_choice(self, context: Context, name: str, payload: str) -> Sequence[Reply]:
        """A button that begins the conversation of command ``name``, as ``/name`` typed
        with the payload's parts, where the command itself may be used."""
        spec = self._registry.find_command(name)
        if spec is None or spec.conversation is None:
            raise ValueError(f"choice begins {name!r}, which is no conversation")
        command_ref = CommandRef(spec.name)
        if not spec.available_on(context.origin.platform):
            return [Reply(Message.of("router.direct_only", command=command_ref))]
        if not context.origin.is_direct:
            key = "privacy.room_not_private" if context.origin.exposed else "router.direct_only"
            return [Reply(Message.of(key, command=command_ref))]
        if not context.role.includes(spec.role):
            return [self._refusal(context, spec.name, spec.role)]
        # The press's parts are read as typed words are (a typed command's arguments).
        args = tuple(word for word in map(clean_line, payload.split(":")) if word)
        command = Command(context.origin, name, args)
        return self._begin(context, spec, spec.conversation, command, anew=True)

    def _on_text(self, context: Context, message: TextMessage) -> Sequence[Reply]:
        if not context.origin.is_direct:
            return []  # group chat is the members' conversation, not addressed to the bot
        found = self._open_conversation(context)
        if found is None:
            return [Reply(Message.of("router.free_text_hint", help=CommandRef("help")))]
        return self._answer(context, *found, TypedAnswer(message.text))

    # -- conversations --------------------------------------------------------------------

    def _begin(
        self,
        context: Context,
        spec: CommandSpec,
        conversation: Conversation,
        command: Command,
        *,
        anew: bool = False,
    ) -> Sequence[Reply]:
        """Begin ``conversation``, or, when one is open, show where it stands. ``anew`` (a
        button that begins it for one thing, a question about statement 7): the same
        conversation left open for another (statement 5) begins again for this one."""
        engine = self._engine(context)
        found = self._open_conversation(context)
        if found is not None and anew and found[0].name == conversation.name:
            name = conversation.name
            log.info("conversation_restarted name=%s member=%s", name, context.member.id)
            found = None
        if found is not None:
            open_conversation, state = found
            key = (
                "conversation.continuing"
                if open_conversation.name == conversation.name
                else "conversation.other_open"
            )
            note = Message.of(
                key, title=Message.of(open_conversation.title), cancel=CommandRef("cancel")
            )
            replies = [Reply(note), engine.prompt(open_conversation, state)]
            return self._in_its_place(context, open_conversation, state, replies)
        known = spec.prepare(context, command) if spec.prepare is not None else None
        outcome = engine.start(conversation, known)
        self._save(context, outcome)
        log.info("conversation_started name=%s member=%s", conversation.name, context.member.id)
        assert outcome.state is not None
        return self._in_its_place(context, conversation, outcome.state, outcome.replies)

    def _answer(
        self,
        context: Context,
        conversation: Conversation,
        state: ConversationState,
        answer: Input,
    ) -> Sequence[Reply]:
        if not context.role.includes(conversation.role):
            # The member lost the role since starting: the conversation cannot go on.
            self._store.conversations.clear(context.member.id)
            return [self._refusal(context, conversation.name, conversation.role)]
        elsewhere = self._elsewhere(context, conversation, state)
        if elsewhere is not None and answer != PickedAnswer(CANCEL):
            # Not held here: nothing of the answer is taken (cancelling is, anywhere).
            log.info(
                "conversation_elsewhere name=%s member=%s", conversation.name, context.member.id
            )
            return [Reply(elsewhere.note)]
        outcome = self._engine(context).handle(conversation, state, answer)
        if outcome.submitted is not None:
            replies = list(conversation.submit(context, outcome.submitted))
            self._store.conversations.clear(context.member.id)
            log.info(
                "conversation_submitted name=%s member=%s", conversation.name, context.member.id
            )
            return replies
        self._save(context, outcome)
        if outcome.cancelled:
            log.info(
                "conversation_cancelled name=%s member=%s", conversation.name, context.member.id
            )
        if outcome.state is None:
            return outcome.replies
        return self._in_its_place(context, conversation, outcome.state, outcome.replies)

    def _elsewhere(
        self, context: Context, conversation: Conversation, state: ConversationState
    ) -> Elsewhere | None:
        guard = self._registry.guard_of(conversation.name)
        return guard(context, state) if guard is not None else None

    def _in_its_place(
        self,
        context: Context,
        conversation: Conversation,
        state: ConversationState,
        replies: Sequence[Reply],
    ) -> Sequence[Reply]:
        """The conversation's replies where it may be held: here, or (its guard says) the
        note here and its questions in the room the guard names."""
        elsewhere = self._elsewhere(context, conversation, state)
        if elsewhere is None:
            return replies
        moved: list[Reply] = []
        if elsewhere.to is not None:
            there = [Reply(elsewhere.greeting)] if elsewhere.greeting is not None else []
            moved = [
                replace(reply, to=elsewhere.to, confidential=True)
                for reply in (*there, *replies)
                if reply.to is None
            ]
        return [
            Reply(elsewhere.note),
            *moved,
            *(reply for reply in replies if reply.to is not None),
        ]

    def _save(self, context: Context, outcome: Outcome) -> None:
        if outcome.state is None:
            self._store.conversations.clear(context.member.id)
        else:
            state = outcome.state
            self._store.conversations.save(
                context.member.id, state.name, state.step, state.to_data()
            )

    def _open_conversation(self, context: Context) -> tuple[Conversation, ConversationState] | None:
        record = self._store.conversations.load(context.member.id)
        if record is None:
            return None
        conversation = self._registry.find_conversation(record.name)
        state = ConversationState.from_data(record.name, record.step, record.data)
        if conversation is None or not (
            state.step.startswith("~") or conversation.has_step(state.step)
        ):
            # A conversation removed or reshaped by an upgrade cannot be resumed safely.
            log.warning("conversation_dropped name=%s member=%s", record.name, context.member.id)
            self._store.conversations.clear(context.member.id)
            return None
        return conversation, state

    def _engine(self, context: Context) -> ConversationEngine:
        renderer = self._catalogs.renderer(context.member.language, context.origin.platform)
        return ConversationEngine(renderer.label, context.member.language)

    # -- context and rendering ------------------------------------------------------------

    def _context(self, origin: Origin) -> Context:
        supported = self._catalogs.languages
        member = self._store.members.for_identity(
            origin.platform,
            origin.user_id,
            language=pick_language(origin.language_hint, supported, self._config.default_language),
            direct_room=origin.room_id if origin.is_direct else None,
        )
        group = (
            None
            if origin.is_direct
            else self._store.groups.for_room(origin.platform, origin.room_id)
        )
        roles = self._store.groups.roles_of(member.id)
        role = roles.role_for(group.id if group else None)
        if origin.platform is Platform.CONSOLE and origin.trusted_role is not None:
            role = origin.trusted_role
        return Context(
            origin=origin,
            member=member,
            role=role,
            roles=roles,
            working_group=group,
            store=self._handler_store,
            registry=self._registry,
            config=self._config,
            languages=supported,
            room_checks=self.room_checks,
            file_reads=self.file_reads,
        )

    def _refusal(self, context: Context, what: str, needed: Role) -> Reply:
        log.info(
            "refused what=%s member=%s role=%s needed=%s",
            what,
            context.member.id,
            context.role.value,
            needed.value,
        )
        return Reply(Message.of("router.not_allowed", role=Message.of(f"role.{needed.value}")))

    def _render(self, context: Context, replies: Sequence[Reply]) -> list[Outgoing]:
        # Read the language again: the handler may just have changed it.
        member: MemberRecord | None = self._store.members.get(context.member.id)
        language = member.language if member is not None else context.member.language
        rendered = []
        for reply in replies:
            to = reply.to or context.origin
            chosen = reply.language or language
            # What the bot says in a private chat is for that member alone, like a notice.
            confidential = reply.confidential or (reply.to is None and context.origin.is_direct)
            rendered.append(
                self._catalogs.render_reply(
                    reply,
                    chosen,
                    to.platform,
                    to.room_id,
                    private_to=to.user_id if confidential else None,
                )
            )
        return rendered
