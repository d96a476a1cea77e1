"""The conversation engine: guided, resumable, multi-step dialogues.

A conversation is declared as steps (:mod:`bot.conversation_steps`); the engine is pure
(no storage, no I/O): it takes the saved state and one answer and returns the new state
and the replies. The router saves the state after every answer, so a restart resumes at
the same step, with a half-given answer (choices toggled, messages gathered) kept too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TypeAlias

from bot.choosing import by_part, strip_direction_marks, typed_number, typed_numbers
from bot.cleaning import clean_answer, is_invisible
from bot.conversation_steps import (
    ADD,
    BACK,
    CANCEL,
    DONE,
    EDIT_PREFIX,
    LIST,
    MORE,
    REVIEW,
    SKIP,
    SUBMIT,
    Ambiguous,
    Answers,
    Conversation,
    ConversationState,
    InLanguage,
    Input,
    InvalidAnswer,
    Json,
    MediaAnswer,
    Outcome,
    PickedAnswer,
    Step,
    SubmitHandler,
    TypedAnswer,
)
from bot.types import Choice, CommandRef, Lines, Literal, Message, Reply

__all__ = [
    "ADD",
    "BACK",
    "CANCEL",
    "DONE",
    "EDIT_PREFIX",
    "LIST",
    "MORE",
    "REVIEW",
    "SKIP",
    "SUBMIT",
    "Ambiguous",
    "Answers",
    "Conversation",
    "ConversationEngine",
    "ConversationState",
    "InLanguage",
    "Input",
    "InvalidAnswer",
    "Json",
    "MediaAnswer",
    "Outcome",
    "PickedAnswer",
    "Step",
    "SubmitHandler",
    "TypedAnswer",
    "first_unanswered",
    "questions_asked",
    "strip_direction_marks",
    "typed_answer",
]


LabelOf: TypeAlias = Callable[[Message | Literal], str]
"""Renders a choice label in the member's language, so typed option text can pick it."""


class ConversationEngine:
    """Moves a conversation forward one answer at a time; pure and synchronous."""

    def __init__(self, label_of: LabelOf, language: str = "en") -> None:
        self._label_of = label_of
        self._language = language

    def start(self, conversation: Conversation, answers: Answers | None = None) -> Outcome:
        """Begin at the first question, or, with answers already known (a working group
        chosen by the command), at the first question they leave open."""
        given = dict(answers or {})
        first = first_unanswered(conversation, given) if given else None
        state = ConversationState(
            name=conversation.name, step=first or conversation.steps[0].name, answers=given
        )
        return Outcome(state, (self.prompt(conversation, state),))

    # -- prompts --------------------------------------------------------------------------

    def prompt(self, conversation: Conversation, state: ConversationState) -> Reply:
        """The question the member is at, with its choices; shown again on resume."""
        if state.step == REVIEW:
            return self._review(conversation, state)
        step = conversation.step(state.step)
        asked = questions_asked(conversation, state)
        if step.name not in asked:
            asked = [s.name for s in conversation.steps]
        lines: list[Message | Literal] = [
            Message.of(
                "conversation.progress",
                title=Message.of(conversation.title),
                current=asked.index(step.name) + 1,
                total=len(asked),
            ),
            step.prompt_for(state.answers),
        ]
        if step.fields:
            return self._record_prompt(step, state, lines)
        if step.hint:
            lines.append(Message.of(step.hint))
        if step.name in state.answers and not step.multiple:
            current = state.answers.get(step.name)
            lines.append(
                Message.of(
                    "conversation.current_answer",
                    answer=step.shown(current, state.answers),
                )
            )
        if step.multiple:
            selected = _selection(step, state)
            lines.append(_chosen(step, selected, state.answers))
            choices = tuple(
                Choice(c.value, Message.of("conversation.choice_selected", label=c.label))
                if c.value in selected
                else c
                for c in step.choices_for(state.answers)
            )
            return self._with_controls(step, state, lines, (*choices, _done()))
        if step.gather:
            pieces = _pieces(state)
            lines.append(
                Message.of(
                    "conversation.gather_hint_media"
                    if step.accepts_media
                    else "conversation.gather_hint",
                    done=Message.of("conversation.done"),
                )
            )
            if pieces:
                lines.append(Message.of("conversation.gathered", count=len(pieces)))
            return self._with_controls(step, state, lines, (_done(),))
        choices = self._choices(step, state, state.answers)
        if _candidates(state):
            lines.append(Message.of("conversation.several_match", count=len(choices)))
        if choices:
            return self._with_controls(step, state, lines, choices)
        lines.append(_text_hint(step))
        return Reply(Lines(tuple(lines)))

    def _with_controls(
        self,
        step: Step,
        state: ConversationState,
        lines: list[Message | Literal],
        choices: tuple[Choice, ...],
    ) -> Reply:
        controls = list(choices)
        if step.optional and not step.fields:
            controls.append(Choice(SKIP, Message.of("conversation.skip")))
        if state.trail or state.editing:
            controls.append(Choice(BACK, Message.of("conversation.back")))
        if not any(choice.value == CANCEL for choice in controls):
            controls.append(Choice(CANCEL, Message.of("conversation.cancel")))
        return Reply(Lines(tuple(lines)), choices=tuple(controls))

    def _record_prompt(
        self, step: Step, state: ConversationState, lines: list[Message | Literal]
    ) -> Reply:
        record = _record(step, state)
        items: list[Json] = record["items"]
        if record["at"] == MORE:
            if items:
                lines.append(
                    Message.of(
                        "conversation.records_so_far",
                        count=len(items),
                        answer=step.shown(items, state.answers),
                    )
                )
            more: list[Choice] = []
            if len(items) < step.max_items:
                more.append(
                    Choice(ADD, Message.of("conversation.add_record", item=_item(step, None)))
                )
            if items:
                more.append(_done())
            return self._with_controls(step, state, lines, tuple(more))
        field = step.field(record["at"])
        lines.append(_item(step, len(items) + 1))
        lines.append(Message.of(field.prompt))
        if field.hint:
            lines.append(Message.of(field.hint))
        choices = self._choices(field, state, record["current"])
        if _candidates(state):
            lines.append(Message.of("conversation.several_match", count=len(choices)))
        if choices:
            if field.optional:
                choices = (*choices, Choice(SKIP, Message.of("conversation.skip")))
            return self._with_controls(step, state, lines, choices)
        lines.append(_text_hint(field))
        return Reply(Lines(tuple(lines)))

    # -- answers --------------------------------------------------------------------------

    def handle(
        self, conversation: Conversation, state: ConversationState, answer: Input
    ) -> Outcome:
        at_list = state.step != REVIEW and conversation.step(state.step).multiple
        if at_list and isinstance(answer, TypedAnswer):
            answer = self._numbered(conversation, state, answer)
        if isinstance(answer, PickedAnswer) and answer.value == CANCEL:
            return self.cancel()
        if state.step == REVIEW:
            if isinstance(answer, PickedAnswer) and answer.value == BACK:
                return self._back(conversation, state)
            return self._at_review(conversation, state, answer)
        step = conversation.step(state.step)
        if isinstance(answer, PickedAnswer) and answer.value == BACK and _candidates(state):
            # Back from the answers that matched ("congo": two countries) is this question
            # again, not the one before it.
            pending = {k: v for k, v in state.pending.items() if k != "candidates"}
            again = replace(state, pending=pending or None)
            return Outcome(again, (self.prompt(conversation, again),))
        if isinstance(answer, PickedAnswer) and answer.value == BACK:
            if step.fields:
                stepped = self._record_back(step, state)
                if stepped is not None:
                    return Outcome(stepped, (self.prompt(conversation, stepped),))
            return self._back(conversation, state)
        if isinstance(answer, MediaAnswer) and not step.accepts_media:
            return self._refuse(conversation, state, Message.of("conversation.file_not_expected"))
        if step.fields:
            return self._in_record(conversation, state, step, answer)
        if isinstance(answer, PickedAnswer) and answer.value == SKIP:
            if not step.optional:
                return self._refuse(conversation, state, Message.of("conversation.cannot_skip"))
            return self._advance(conversation, state, step, None)
        if step.multiple:
            return self._toggle(conversation, state, step, answer)
        if step.gather:
            return self._gather(conversation, state, step, answer)
        try:
            value = self._read(step, state, state.answers, answer)
        except Ambiguous as several:
            return self._offer(conversation, state, several)
        except InvalidAnswer as refusal:
            return self._refuse(conversation, state, refusal.message)
        return self._advance(conversation, state, step, value)

    def cancel(self) -> Outcome:
        return Outcome(None, (Reply(Message.of("conversation.cancelled")),), cancelled=True)

    def _choices(
        self, step: Step, state: ConversationState, answers: Answers
    ) -> tuple[Choice, ...]:
        offered = tuple(
            Choice(value, step.label_of(value, answers)) for value in _candidates(state)
        )
        return (*offered, *step.choices_for(answers))

    def _matching(self, choices: tuple[Choice, ...], text: str) -> str | None:
        wanted = strip_direction_marks(text).strip().casefold()
        for choice in choices:
            if self._label_of(choice.label).strip().casefold() == wanted:
                return choice.value
        return None

    def _matching_part(self, choices: tuple[Choice, ...], text: str) -> str | None:
        """The one choice whose label contains ``text`` ("manufacturing"), if only one does;
        only for questions that take nothing but their choices."""
        found = by_part([self._label_of(choice.label) for choice in choices], text)
        return None if found is None else choices[found].value

    def _read(self, step: Step, state: ConversationState, answers: Answers, answer: Input) -> Json:
        choices = self._choices(step, state, answers)
        if isinstance(answer, MediaAnswer):
            raise InvalidAnswer("conversation.file_not_expected")
        if isinstance(answer, PickedAnswer):
            if any(choice.value == answer.value for choice in choices):
                return answer.value
            raise InvalidAnswer("conversation.choice_not_offered")
        text = typed_answer(answer)
        matched = self._matching(choices, text)
        if matched is not None:
            return matched
        if step.parse is None:
            matched = self._matching_part(step.choices_for(answers), text)
            if matched is not None:
                return matched
            raise InvalidAnswer("conversation.pick_a_choice")
        return self._parse(step.parse, text)

    def _parse(self, parse: Callable[[str], Json], text: str) -> Json:
        if isinstance(parse, InLanguage):
            return parse.read(text, self._language)
        return parse(text)

    def _numbered(
        self, conversation: Conversation, state: ConversationState, answer: TypedAnswer
    ) -> Input:
        """A number typed at a multiple choice names a line of its whole list, the list the
        member last saw (after a pick only the choices so far are shown): an option, Done,
        Skip, Back or Cancel."""
        number = typed_number(answer.text)
        offered = self.prompt(conversation, state).choices
        if number is not None and 1 <= number <= len(offered):
            return PickedAnswer(offered[number - 1].value)
        return answer

    def _offer(
        self, conversation: Conversation, state: ConversationState, several: Ambiguous
    ) -> Outcome:
        pending = state.pending if isinstance(state.pending, dict) else {}
        offered = replace(state, pending={**pending, "candidates": list(several.candidates)})
        return Outcome(offered, (self.prompt(conversation, offered),))

    def _toggle(
        self, conversation: Conversation, state: ConversationState, step: Step, answer: Input
    ) -> Outcome:
        selected = _selection(step, state)
        choices = step.choices_for(state.answers)
        if isinstance(answer, TypedAnswer) and self._matching((_show_list(),), answer.text):
            answer = PickedAnswer(LIST)
        if isinstance(answer, PickedAnswer) and answer.value == LIST:
            return Outcome(state, (self.prompt(conversation, state),))
        if isinstance(answer, PickedAnswer) and answer.value == DONE:
            if not selected and not step.optional:
                return self._refuse(
                    conversation, state, Message.of("conversation.pick_at_least_one")
                )
            ordered = [choice.value for choice in choices if choice.value in selected]
            return self._advance(conversation, state, step, ordered or None)
        value: str | None
        numbers = typed_numbers(answer.text) if isinstance(answer, TypedAnswer) else None
        if numbers is not None and all(1 <= number <= len(choices) for number in numbers):
            # Several picks in one message, by the numbers they are shown with: each chosen.
            picked = [choices[number - 1].value for number in numbers]
            chosen = [
                *selected,
                *(value for value in dict.fromkeys(picked) if value not in selected),
            ]
            new_state = replace(state, pending=chosen)
            return Outcome(new_state, (self._picked(step, new_state),))
        if isinstance(answer, PickedAnswer):
            value = answer.value
        elif isinstance(answer, TypedAnswer):
            value = self._matching(choices, answer.text)
            if value is None and self._matching((_done(),), answer.text) is not None:
                return self._toggle(conversation, state, step, PickedAnswer(DONE))
            if value is None:
                value = self._matching_part(choices, answer.text)
        else:
            value = None
        if value is None or not any(choice.value == value for choice in choices):
            return self._refuse(conversation, state, Message.of("conversation.pick_a_choice"))
        toggled = [v for v in selected if v != value] if value in selected else [*selected, value]
        new_state = replace(state, pending=toggled)
        return Outcome(new_state, (self._picked(step, new_state),))

    def _picked(self, step: Step, state: ConversationState) -> Reply:
        """After a pick, what is chosen so far and how to go on; not the whole list again,
        whose numbers and buttons above still pick (so this reply offers no choices)."""
        return Reply(
            Lines(
                (
                    _chosen(step, _selection(step, state), state.answers),
                    Message.of(
                        "conversation.pick_more",
                        done=Message.of("conversation.done"),
                        list=Message.of("conversation.show_list"),
                    ),
                )
            ),
            keeps_choices=True,
        )

    def _gather(
        self, conversation: Conversation, state: ConversationState, step: Step, answer: Input
    ) -> Outcome:
        pieces = _pieces(state)
        if isinstance(answer, TypedAnswer) and self._matching((_done(),), answer.text):
            answer = PickedAnswer(DONE)
        if isinstance(answer, PickedAnswer):
            if answer.value != DONE:
                return self._refuse(
                    conversation, state, Message.of("conversation.choice_not_offered")
                )
            if not pieces:
                if state.answers.get(step.name) is not None:
                    # Back to it, or changing it from the review, and nothing new sent:
                    # what was given before stays.
                    return self._advance(conversation, state, step, state.answers[step.name])
                if step.optional:
                    return self._advance(conversation, state, step, None)
                return self._refuse(
                    conversation, state, Message.of("conversation.nothing_gathered")
                )
            try:
                value = step.finish(pieces) if step.finish is not None else pieces
            except InvalidAnswer as refusal:
                return self._refuse(conversation, state, refusal.message)
            return self._advance(conversation, state, step, value)
        if len(pieces) >= step.max_items:
            return self._refuse(
                conversation,
                state,
                Message.of("conversation.too_many_pieces", limit=step.max_items),
            )
        if isinstance(answer, MediaAnswer):
            piece: Json = answer.as_piece()
        else:
            try:
                text = typed_answer(answer)
                piece = self._parse(step.parse, text) if step.parse is not None else text
            except InvalidAnswer as refusal:
                return self._refuse(conversation, state, refusal.message)
        kept = replace(state, pending=[*pieces, piece])
        reply = Reply(
            Message.of(
                "conversation.piece_kept",
                count=len(pieces) + 1,
                done=Message.of("conversation.done"),
            ),
            choices=self._with_controls(step, kept, [], (_done(),)).choices,
        )
        return Outcome(kept, (reply,))

    def _in_record(
        self, conversation: Conversation, state: ConversationState, step: Step, answer: Input
    ) -> Outcome:
        record = _record(step, state)
        items: list[Json] = list(record["items"])
        if record["at"] == MORE:
            picked = answer.value if isinstance(answer, PickedAnswer) else None
            if isinstance(answer, TypedAnswer):
                more = (Choice(ADD, Message.of("conversation.add_record", item=_item(step, None))),)
                picked = self._matching((*more, _done()), answer.text)
            if picked == DONE and items:
                return self._advance(conversation, state, step, items)
            if picked == ADD and len(items) < step.max_items:
                started = {"items": items, "current": {}, "at": step.fields[0].name}
                new_state = replace(state, pending=started)
                return Outcome(new_state, (self.prompt(conversation, new_state),))
            return self._refuse(conversation, state, Message.of("conversation.pick_a_choice"))
        field = step.field(record["at"])
        current = dict(record["current"])
        if isinstance(answer, PickedAnswer) and answer.value == SKIP:
            if not field.optional:
                return self._refuse(conversation, state, Message.of("conversation.cannot_skip"))
            value: Json = None
        else:
            try:
                value = self._read(field, state, current, answer)
            except Ambiguous as several:
                return self._offer(conversation, state, several)
            except InvalidAnswer as refusal:
                return self._refuse(conversation, state, refusal.message)
        current[field.name] = value
        names = [sub.name for sub in step.fields]
        index = names.index(field.name)
        if index + 1 < len(names):
            pending = {"items": items, "current": current, "at": names[index + 1]}
        else:
            pending = {"items": [*items, current], "current": {}, "at": MORE}
        new_state = replace(state, pending=pending)
        return Outcome(new_state, (self.prompt(conversation, new_state),))

    def _record_back(self, step: Step, state: ConversationState) -> ConversationState | None:
        """Back inside a record: to its previous field, or from its first to the list."""
        record = _record(step, state)
        if record["at"] == MORE:
            return None
        names = [sub.name for sub in step.fields]
        index = names.index(record["at"])
        if index > 0:
            current = {k: v for k, v in record["current"].items() if k != names[index - 1]}
            return replace(
                state,
                pending={"items": record["items"], "current": current, "at": names[index - 1]},
            )
        if record["items"]:
            return replace(state, pending={"items": record["items"], "current": {}, "at": MORE})
        return None

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
            pending=None,
        )
        return Outcome(new_state, (self.prompt(conversation, new_state),))

    def _back(self, conversation: Conversation, state: ConversationState) -> Outcome:
        if state.editing:
            # Give up the change: every answer goes back to what the review showed.
            kept = state.answers if state.before_edit is None else state.before_edit
            new_state = replace(
                state,
                step=REVIEW,
                editing=False,
                answers=dict(kept),
                before_edit=None,
                pending=None,
            )
        elif state.trail:
            earlier = conversation.step(state.trail[-1])
            new_state = replace(
                state,
                step=earlier.name,
                trail=state.trail[:-1],
                pending=_resumed(earlier, state.answers),
            )
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
                step = conversation.step(name)
                pending = _resumed(step, state.answers)
                new_state = replace(
                    state,
                    step=name,
                    editing=True,
                    before_edit=dict(state.answers),
                    pending=pending,
                )
                return Outcome(new_state, (self.prompt(conversation, new_state),))
        if isinstance(answer, TypedAnswer):
            matched = self._matching(self._review_choices(conversation, state), answer.text)
            if matched is not None:
                return self._at_review(conversation, state, PickedAnswer(matched))
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
                        answer=shown,
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
            if step.name in state.answers and step.changeable
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


def _resumed(step: Step, answers: Answers) -> Json:
    """The unfinished answer a step starts from when the member returns to it: the records
    and the files already given, to add to (nothing else is kept half-given)."""
    saved = answers.get(step.name)
    if not isinstance(saved, list):
        return None
    if step.fields:
        return {"items": list(saved), "current": {}, "at": MORE}
    if step.gather and step.accepts_media:
        return list(saved)
    return None


def _done() -> Choice:
    return Choice(DONE, Message.of("conversation.done"))


def _show_list() -> Choice:
    return Choice(LIST, Message.of("conversation.show_list"))


def _chosen(step: Step, selected: list[str], answers: Answers) -> Message:
    """What a multiple choice holds so far, in the order of its list; "none yet" if nothing."""
    if not selected:
        return Message.of("conversation.chosen_none")
    ordered = [c.value for c in step.choices_for(answers) if c.value in selected]
    return Message.of(
        "conversation.chosen_so_far",
        count=len(ordered),
        answer=step.shown(ordered, answers),
    )


def _item(step: Step, number: int | None) -> Message:
    if number is None:
        return Message.of(step.item_label + "_one")
    return Message.of(step.item_label, number=number)


def _text_hint(step: Step) -> Message:
    hint = "conversation.text_hint_optional" if step.optional else "conversation.text_hint"
    return Message.of(
        hint, back=CommandRef("back"), cancel=CommandRef("cancel"), skip=CommandRef("skip")
    )


def _candidates(state: ConversationState) -> tuple[str, ...]:
    pending = state.pending
    if isinstance(pending, dict) and isinstance(pending.get("candidates"), list):
        return tuple(str(value) for value in pending["candidates"])
    return ()


def _selection(step: Step, state: ConversationState) -> list[str]:
    if isinstance(state.pending, list):
        return [str(value) for value in state.pending]
    current = state.answers.get(step.name)
    return [str(value) for value in current] if isinstance(current, list) else []


def _pieces(state: ConversationState) -> list[Json]:
    return list(state.pending) if isinstance(state.pending, list) else []


def _record(step: Step, state: ConversationState) -> dict[str, Json]:
    pending = state.pending
    if isinstance(pending, dict) and "at" in pending:
        return {
            "items": list(pending.get("items", [])),
            "current": dict(pending.get("current", {})),
            "at": pending["at"],
        }
    return {"items": [], "current": {}, "at": step.fields[0].name}


def typed_answer(answer: TypedAnswer) -> str:
    """The text of a typed answer as it is kept (:func:`bot.cleaning.clean_answer`);
    refused when nothing in it shows."""
    text = clean_answer(answer.text)
    if is_invisible(text):
        raise InvalidAnswer(
            "conversation.invisible_answer" if answer.text else "conversation.empty_answer"
        )
    return text


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


def questions_asked(conversation: Conversation, state: ConversationState) -> list[str]:
    """The questions this member is asked, in order, as far as the answers so far tell:
    along the way the answers lead (a branch not taken does not count), from the first one
    asked (a question the command answered before it, the only working group, does not)."""
    path: list[str] = []
    name: str | None = conversation.steps[0].name
    while name is not None and name not in path:
        path.append(name)
        name = conversation.following(conversation.step(name), state.answers)
    first = state.trail[0] if state.trail else state.step
    return path[path.index(first) :] if first in path else path


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
        # Keys that are no step's (what the command knew before the first question) stay.
        return {
            key: value
            for key, value in answers.items()
            if key in reachable or not conversation.has_step(key)
        }
    return answers
