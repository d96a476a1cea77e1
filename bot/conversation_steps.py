"""What a guided conversation is made of: its steps, its saved state, the answers it takes.

Plain values only; :mod:`bot.conversation` is the engine that moves through them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from bot.types import Choice, Lines, Literal, Message, ParamValue, Reply, Role, Text

Json: TypeAlias = Any
"""An answer as stored: str, int, float, bool, None, or lists and dicts of those."""
Answers: TypeAlias = Mapping[str, Json]

BACK = "~back"
CANCEL = "~cancel"
SKIP = "~skip"
SUBMIT = "~submit"
DONE = "~done"
"""Ends a step that takes several answers: a multiple choice, gathered messages, records."""
ADD = "~add"
"""In a step of records (companies): start one more."""
EDIT_PREFIX = "~edit:"
REVIEW = "~review"
"""The pseudo-step where all answers are shown before submitting."""
MORE = "~more"
"""Inside a step of records: between two records, asking for another or done."""
LIST = "~list"
"""In a multiple choice: show the whole list again (after a pick only the choice so far is)."""


class InvalidAnswer(Exception):
    """Raised by a step's parser: the answer is refused with this localized explanation."""

    def __init__(self, key: str, **params: ParamValue) -> None:
        super().__init__(key)
        self.message = Message.of(key, **params)


class Ambiguous(InvalidAnswer):
    """Raised by a parser when the answer fits several values: they are offered as choices."""

    def __init__(self, candidates: Sequence[str], key: str = "conversation.several_match") -> None:
        super().__init__(key, count=len(candidates))
        self.candidates = tuple(candidates)


@dataclass(frozen=True)
class InLanguage:
    """A step's parser that reads free text in the member's language (a month's name in a
    date); called with the text alone, it reads English."""

    read: Callable[[str, str], Json]

    def __call__(self, text: str) -> Json:
        return self.read(text, "en")


def keyed_choices(keys: Mapping[Any, str]) -> tuple[Choice, ...]:
    """A step's choices from ``{value: catalog key}``: each value offered under its label."""
    return tuple(Choice(str(value), Message.of(key)) for value, key in keys.items())


@dataclass(frozen=True)
class Step:
    """One question: its prompt, how its answer is read and checked, and what comes next.

    ``parse`` reads free text (``None``: only the choices are accepted; an
    :class:`InLanguage` parser is given the member's language); a picked choice's value is
    the answer itself. ``show`` turns a stored answer into text for the review.
    ``next`` picks the following step from the answers so far (default: the next one).

    A step may take several answers before it is done:

    - ``multiple``: its choices are toggled on and off; the answer is the list picked.
    - ``gather``: every message sent is kept (``parse`` checks each; with
      ``accepts_media`` files count too) until the member is done; ``finish`` turns the
      pieces into the answer (default: the list of pieces).
    - ``fields``: the answer is a list of records (up to ``max_items``), each asked field
      by field; ``item_label`` names one record ("Company {number}").
    """

    name: str
    prompt: str
    label: str
    parse: Callable[[str], Json] | None = None
    choices: tuple[Choice, ...] | Callable[[Answers], tuple[Choice, ...]] = ()
    optional: bool = False
    show: Callable[[Json], Text] | None = None
    next: Callable[[Answers], str | None] | None = None
    multiple: bool = False
    gather: bool = False
    accepts_media: bool = False
    finish: Callable[[list[Json]], Json] | None = None
    fields: tuple[Step, ...] = ()
    item_label: str = ""
    max_items: int = 20
    hint: str = ""
    """An extra line under the prompt (what is accepted, an example)."""
    changeable: bool = True
    """Offered for change at the review (consent is not: withdrawing it is cancelling)."""
    prompt_params: Callable[[Answers], Mapping[str, ParamValue]] | None = None
    """The prompt's placeholders from the answers so far (the working group consent names)."""

    def prompt_for(self, answers: Answers) -> Message:
        params = self.prompt_params(answers) if self.prompt_params is not None else {}
        return Message.of(self.prompt, **params)

    def choices_for(self, answers: Answers) -> tuple[Choice, ...]:
        return self.choices(answers) if callable(self.choices) else self.choices

    def shown(self, value: Json, answers: Answers) -> Text:
        if value is None:
            return Message.of("conversation.not_answered")
        if self.show is not None:
            return self.show(value)
        if isinstance(value, list):
            return _bullets(self.label_of(item, answers) for item in value)
        return self.label_of(value, answers)

    def label_of(self, value: Json, answers: Answers) -> Message | Literal:
        """How one value reads in a list of choices or of answers."""
        for choice in self.choices_for(answers):
            if choice.value == value:
                return choice.label
        if self.show is not None:
            shown = self.show(value)
            if isinstance(shown, Message | Literal):
                return shown
        return Literal(str(value))

    def field(self, name: str) -> Step:
        for sub in self.fields:
            if sub.name == name:
                return sub
        raise KeyError(name)


def _bullets(labels: Iterable[Message | Literal]) -> Text:
    items = tuple(Message.of("conversation.bullet", item=label) for label in labels)
    return Lines(items) if items else Message.of("conversation.none_selected")


SubmitHandler: TypeAlias = Callable[[Any, Answers], Sequence[Reply]]
"""Called with the handler context and the answers once the member submits."""

FileCheck: TypeAlias = Callable[[Any, "ConversationState", "MediaAnswer"], Message | None]
"""Called with the handler context, the conversation so far and a file just sent."""


@dataclass(frozen=True)
class Conversation:
    """A declared dialogue: its steps in order, who may hold it, and what submitting does."""

    name: str
    title: str
    steps: tuple[Step, ...]
    submit: SubmitHandler
    role: Role = Role.MEMBER
    review: bool = True
    check_file: FileCheck | None = None
    """Asked before a file is taken as an answer: a refusal (the file is not kept) or None."""

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
    """Where a member is in a conversation; everything in it is saved after each answer.

    ``pending`` is the unfinished answer of the current step: choices toggled so far,
    messages gathered, records begun, or the candidates offered for an ambiguous answer.
    """

    name: str
    step: str
    answers: Mapping[str, Json] = field(default_factory=dict)
    trail: tuple[str, ...] = ()
    editing: bool = False
    before_edit: Mapping[str, Json] | None = None
    """The answers as they were when the member chose to change one from the review."""
    pending: Json = None

    def to_data(self) -> dict[str, Json]:
        return {
            "answers": dict(self.answers),
            "trail": list(self.trail),
            "editing": self.editing,
            "before_edit": None if self.before_edit is None else dict(self.before_edit),
            "pending": self.pending,
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
            pending=data.get("pending"),
        )


@dataclass(frozen=True)
class TypedAnswer:
    text: str


@dataclass(frozen=True)
class PickedAnswer:
    value: str


@dataclass(frozen=True)
class MediaAnswer:
    """A file sent while a step that accepts files is asked; kept as a reference."""

    platform: str
    kind: str
    file_ref: str
    filename: str | None = None
    content_type: str | None = None
    size: int | None = None

    def as_piece(self) -> dict[str, Json]:
        return {
            "file": {
                "platform": self.platform,
                "kind": self.kind,
                "ref": self.file_ref,
                "filename": self.filename,
                "content_type": self.content_type,
                "size": self.size,
            }
        }


Input: TypeAlias = TypedAnswer | PickedAnswer | MediaAnswer


@dataclass(frozen=True)
class Outcome:
    """The result of one answer: the state to save (``None``: the conversation ended)."""

    state: ConversationState | None
    replies: tuple[Reply, ...]
    submitted: Answers | None = None
    cancelled: bool = False
