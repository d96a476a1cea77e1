"""The conversation engine: guided, resumable, multi-step dialogues.

A conversation is declared as steps; the engine is pure (no storage, no I/O): it takes the
saved state and one answer and returns the new state and the replies. The router saves
the state after every answer, so a restart resumes at the same step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeAlias

from bot.types import Choice, CommandRef, Lines, Literal, Message, Reply, Role, Text

Json: TypeAlias = Any
"""An answer as stored: str, int, float, bool, None, or lists and dicts of those."""
Answers: TypeAlias = Mapping[str, Json]

BACK = "~back"
CANCEL = "~cancel"
SKIP = "~skip"
SUBMIT = "~submit"
EDIT_PREFIX = "~edit:"
REVIEW = "~review"
"""The pseudo-step where all answers are shown before submitting."""


class InvalidAnswer(Exception):
    """Raised by a step's parser: the answer is refused with this localized explanation."""

    def __init__(self, key: str, **params: str | int | Literal | Message) -> None:
        super().__init__(key)
        self.message = Message.of(key, **params)


@dataclass(frozen=True)
class Step:
    """One question: its prompt, how its answer is read and checked, and what comes next.

    ``parse`` reads free text (``None``: only the choices are accepted); a picked choice's
    value is the answer itself. ``show`` turns a stored answer into text for the review.
    ``next`` picks the following step from the answers so far (default: the next one).
    """

    name: str
    prompt: str
    label: str
    parse: Callable[[str], Json] | None = None
    choices: tuple[Choice, ...] | Callable[[Answers], tuple[Choice, ...]] = ()
    optional: bool = False
    show: Callable[[Json], Text] | None = None
    next: Callable[[Answers], str | None] | None = None

    def choices_for(self, answers: Answers) -> tuple[Choice, ...]:
        return self.choices(answers) if callable(self.choices) else self.choices

    def shown(self, value: Json, answers: Answers) -> Text:
        if value is None:
            return Message.of("conversation.not_answered")
        if self.show is not None:
            return self.show(value)
        for choice in self.choices_for(answers):
            if choice.value == value:
                return choice.label
        return Literal(str(value))


SubmitHandler: TypeAlias = Callable[[Any, Answers], Sequence[Reply]]
"""Called with the handler context and the answers once the member submits."""


@dataclass(frozen=True)
class Conversation:
    """A declared dialogue: its steps in order, who may hold it, and what submitting does."""

    name: str
    title: str
    steps: tuple[Step, ...]
    submit: SubmitHandler
    role: Role = Role.MEMBER
    review: bool = True

    def __post_init__(self) -> None:
        names = [step.name for step in self.steps]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"conversation {self.name}: step names must be unique and present")

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def has_step(self, name: str) -> bool:
        return any(step.name == name for step in self.steps)

    def following(self, step: Step, answers: Answers) -> str | None:
        if step.next is not None:
            return step.next(answers)
        index = self.steps.index(step)
        return self.steps[index + 1].name if index + 1 < len(self.steps) else None


@dataclass(frozen=True)
class ConversationState:
    """Where a member is in a conversation; everything in it is saved after each answer."""

    name: str
    step: str
    answers: Mapping[str, Json] = field(default_factory=dict)
    trail: tuple[str, ...] = ()
    editing: bool = False
    before_edit: Mapping[str, Json] | None = None
    """The answers as they were when the member chose to change one from the review."""

    def to_data(self) -> dict[str, Json]:
        return {
            "answers": dict(self.answers),
            "trail": list(self.trail),
            "editing": self.editing,
            "before_edit": None if self.before_edit is None else dict(self.before_edit),
        }

    @classmethod
    def from_data(cls, name: str, step: str, data: Mapping[str, Json]) -> ConversationState:
        return cls(
            name=name,
            step=step,
            answers=dict(data.get("answers", {})),
            trail=tuple(data.get("trail", ())),
            editing=bool(data.get("editing", False)),
            before_edit=data.get("before_edit"),
        )


@dataclass(frozen=True)
class TypedAnswer:
    text: str


@dataclass(frozen=True)
class PickedAnswer:
    value: str


Input: TypeAlias = TypedAnswer | PickedAnswer


@dataclass(frozen=True)
class Outcome:
    """The result of one answer: the state to save (``None``: the conversation ended)."""

    state: ConversationState | None
    replies: tuple[Reply, ...]
    submitted: Answers | None = None
    cancelled: bool = False


LabelOf: TypeAlias = Callable[[Message | Literal], str]
"""Renders a choice label in the member's language, so typed option text can pick it."""


class ConversationEngine:
    """Moves a conversation forward one answer at a time; pure and synchronous."""

    def __init__(self, label_of: LabelOf) -> None:
        self._label_of = label_of

    def start(self, conversation: Conversation) -> Outcome:
        state = ConversationState(name=conversation.name, step=conversation.steps[0].name)
        return Outcome(state, (self.prompt(conversation, state),))

    def prompt(self, conversation: Conversation, state: ConversationState) -> Reply:
        """The question the member is at, with its choices; shown again on resume."""
        if state.step == REVIEW:
            return self._review(conversation, state)
        step = conversation.step(state.step)
        position = [s.name for s in conversation.steps].index(step.name) + 1
        lines: list[Message | Literal] = [
            Message.of(
                "conversation.progress",
                title=Message.of(conversation.title),
                current=position,
                total=len(conversation.steps),
            ),
            Message.of(step.prompt),
        ]
        current = state.answers.get(step.name)
        if step.name in state.answers:
            lines.append(
                Message.of(
                    "conversation.current_answer",
                    answer=_as_param(step.shown(current, state.answers)),
                )
            )
        choices = step.choices_for(state.answers)
        if choices:
            controls = list(choices)
            if step.optional:
                controls.append(Choice(SKIP, Message.of("conversation.skip")))
            if state.trail or state.editing:
                controls.append(Choice(BACK, Message.of("conversation.back")))
            controls.append(Choice(CANCEL, Message.of("conversation.cancel")))
            return Reply(Lines(tuple(lines)), choices=tuple(controls))
        hint = "conversation.text_hint_optional" if step.optional else "conversation.text_hint"
        lines.append(
            Message.of(
                hint,
                back=CommandRef("back"),
                cancel=CommandRef("cancel"),
                skip=CommandRef("skip"),
            )
        )
        return Reply(Lines(tuple(lines)))

    def handle(
        self, conversation: Conversation, state: ConversationState, answer: Input
    ) -> Outcome:
        if isinstance(answer, PickedAnswer) and answer.value == CANCEL:
            return self.cancel()
        if isinstance(answer, PickedAnswer) and answer.value == BACK:
            return self._back(conversation, state)
        if state.step == REVIEW:
            return self._at_review(conversation, state, answer)
        step = conversation.step(state.step)
        if isinstance(answer, PickedAnswer) and answer.value == SKIP:
            if not step.optional:
                return self._refuse(conversation, state, Message.of("conversation.cannot_skip"))
            return self._advance(conversation, state, step, None)
        try:
            value = self._read(step, state.answers, answer)
        except InvalidAnswer as refusal:
            return self._refuse(conversation, state, refusal.message)
        return self._advance(conversation, state, step, value)

    def cancel(self) -> Outcome:
        return Outcome(None, (Reply(Message.of("conversation.cancelled")),), cancelled=True)

    def _read(self, step: Step, answers: Answers, answer: Input) -> Json:
        choices = step.choices_for(answers)
        if isinstance(answer, PickedAnswer):
            if any(choice.value == answer.value for choice in choices):
                return answer.value
            raise InvalidAnswer("conversation.choice_not_offered")
        text = strip_direction_marks(answer.text).strip()
        wanted = text.casefold()
        for choice in choices:
            if self._label_of(choice.label).strip().casefold() == wanted:
                return choice.value
        if step.parse is None:
            raise InvalidAnswer("conversation.pick_a_choice")
        if not text:
            raise InvalidAnswer("conversation.empty_answer")
        return step.parse(text)

    def _advance(
        self, conversation: Conversation, state: ConversationState, step: Step, value: Json
    ) -> Outcome:
        answers = {**state.answers, step.name: value}
        following = conversation.following(step, answers)
        # An edit from the review goes back to the review, unless the new answer opens a
        # step that has never been answered (a branch); then the dialogue continues there.
        if state.editing and (following is None or following in answers):
            following = None
        answers = _drop_unreachable(conversation, answers)
        if following is None:
            if not conversation.review:
                return Outcome(None, (), submitted=answers)
            following = REVIEW
        # Changing an answer from the review leaves the way back through the steps as it was.
        trail = state.trail if state.editing else (*state.trail, step.name)
        done_editing = following == REVIEW
        new_state = replace(
            state,
            step=following,
            answers=answers,
            trail=trail,
            editing=state.editing and not done_editing,
            before_edit=None if done_editing else state.before_edit,
        )
        return Outcome(new_state, (self.prompt(conversation, new_state),))

    def _back(self, conversation: Conversation, state: ConversationState) -> Outcome:
        if state.editing:
            # Give up the change: every answer goes back to what the review showed.
            kept = state.answers if state.before_edit is None else state.before_edit
            new_state = replace(
                state, step=REVIEW, editing=False, answers=dict(kept), before_edit=None
            )
        elif state.trail:
            new_state = replace(state, step=state.trail[-1], trail=state.trail[:-1])
        else:
            return self._refuse(conversation, state, Message.of("conversation.nothing_before"))
        return Outcome(new_state, (self.prompt(conversation, new_state),))

    def _at_review(
        self, conversation: Conversation, state: ConversationState, answer: Input
    ) -> Outcome:
        if isinstance(answer, PickedAnswer) and answer.value == SUBMIT:
            missing = first_unanswered(conversation, state.answers)
            if missing is not None:
                new_state = replace(state, step=missing, editing=False, before_edit=None)
                return Outcome(new_state, (self.prompt(conversation, new_state),))
            return Outcome(None, (), submitted=dict(state.answers))
        if isinstance(answer, PickedAnswer) and answer.value.startswith(EDIT_PREFIX):
            name = answer.value.removeprefix(EDIT_PREFIX)
            if conversation.has_step(name) and name in state.answers:
                new_state = replace(state, step=name, editing=True, before_edit=dict(state.answers))
                return Outcome(new_state, (self.prompt(conversation, new_state),))
        if isinstance(answer, TypedAnswer):
            wanted = strip_direction_marks(answer.text).strip().casefold()
            for choice in self._review_choices(conversation, state):
                if self._label_of(choice.label).strip().casefold() == wanted:
                    return self._at_review(conversation, state, PickedAnswer(choice.value))
        return self._refuse(conversation, state, Message.of("conversation.pick_a_choice"))

    def _review(self, conversation: Conversation, state: ConversationState) -> Reply:
        lines: list[Message | Literal] = [
            Message.of("conversation.review", title=Message.of(conversation.title))
        ]
        for step in conversation.steps:
            if step.name in state.answers:
                shown = step.shown(state.answers[step.name], state.answers)
                lines.append(
                    Message.of(
                        "conversation.review_line",
                        label=Message.of(step.label),
                        answer=_as_param(shown),
                    )
                )
        return Reply(Lines(tuple(lines)), choices=self._review_choices(conversation, state))

    def _review_choices(
        self, conversation: Conversation, state: ConversationState
    ) -> tuple[Choice, ...]:
        edits = tuple(
            Choice(
                EDIT_PREFIX + step.name,
                Message.of("conversation.change", label=Message.of(step.label)),
            )
            for step in conversation.steps
            if step.name in state.answers
        )
        return (
            Choice(SUBMIT, Message.of("conversation.submit")),
            *edits,
            Choice(CANCEL, Message.of("conversation.cancel")),
        )

    def _refuse(
        self, conversation: Conversation, state: ConversationState, why: Message
    ) -> Outcome:
        prompt = self.prompt(conversation, state)
        items = prompt.text.items if isinstance(prompt.text, Lines) else (prompt.text,)
        text = Lines((why, *(item for item in items if not isinstance(item, Lines))))
        return Outcome(state, (replace(prompt, text=text),))


_DIRECTION_MARKS = dict.fromkeys(
    map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)


def strip_direction_marks(text: str) -> str:
    """Drop bidi controls, which a member copying a right-to-left reply brings along."""
    return text.translate(_DIRECTION_MARKS)


def _as_param(shown: Text) -> Message | Literal | Lines:
    return shown


def first_unanswered(conversation: Conversation, answers: Answers) -> str | None:
    """The first step on the path the answers lead along that still needs an answer."""
    seen: set[str] = set()
    name: str | None = conversation.steps[0].name
    while name is not None and name not in seen:
        seen.add(name)
        step = conversation.step(name)
        if name not in answers:
            return None if step.optional else name
        name = conversation.following(step, answers)
    return None


def _drop_unreachable(conversation: Conversation, answers: dict[str, Json]) -> dict[str, Json]:
    """Forget answers to steps that a changed answer has branched away from."""
    reachable: set[str] = set()
    name: str | None = conversation.steps[0].name
    while name is not None and name not in reachable:
        reachable.add(name)
        if name not in answers:
            break
        name = conversation.following(conversation.step(name), answers)
    if any(step.next is not None for step in conversation.steps):
        return {key: value for key, value in answers.items() if key in reachable}
    return answers
