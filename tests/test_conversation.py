"""The conversation engine on its own: no storage, no event loop, no transport."""

from __future__ import annotations

import pytest

from bot.choosing import by_part, typed_number
from bot.conversation import (
    BACK,
    CANCEL,
    EDIT_PREFIX,
    REVIEW,
    SKIP,
    SUBMIT,
    Conversation,
    ConversationEngine,
    ConversationState,
    InLanguage,
    InvalidAnswer,
    PickedAnswer,
    Step,
    TypedAnswer,
)
from bot.transports.console import parse_line
from bot.types import (
    Choice,
    ChoicePicked,
    Lines,
    Literal,
    Message,
    Origin,
    Platform,
    RenderedChoice,
    TextMessage,
)


def _label(label: Message | Literal) -> str:
    return label.text if isinstance(label, Literal) else label.key


def parse_count(text: str) -> int:
    if not text.isdigit():
        raise InvalidAnswer("test.not_a_number")
    return int(text)


COLOURS = (Choice("red", Literal("Red")), Choice("blue", Literal("Blue")))

SURVEY = Conversation(
    name="survey",
    title="test.title",
    steps=(
        Step("name", prompt="test.name", label="test.name_label", parse=str.strip),
        Step("colour", prompt="test.colour", label="test.colour_label", choices=COLOURS),
        Step(
            "count",
            prompt="test.count",
            label="test.count_label",
            parse=parse_count,
            optional=True,
        ),
    ),
    submit=lambda context, answers: [],
)


@pytest.fixture
def engine() -> ConversationEngine:
    return ConversationEngine(_label)


def keys(reply_text: object) -> list[str]:
    assert isinstance(reply_text, Lines)
    return [item.key for item in reply_text.items if isinstance(item, Message)]


def answer_all(engine: ConversationEngine) -> ConversationState:
    state = engine.start(SURVEY).state
    for given in (TypedAnswer("Ana"), PickedAnswer("blue"), TypedAnswer("12")):
        assert state is not None
        state = engine.handle(SURVEY, state, given).state
    assert state is not None
    return state


def test_start_asks_the_first_question(engine: ConversationEngine) -> None:
    outcome = engine.start(SURVEY)
    assert outcome.state == ConversationState("survey", "name")
    assert "test.name" in keys(outcome.replies[0].text)


def test_each_answer_is_kept_and_moves_to_the_next_step(engine: ConversationEngine) -> None:
    state = engine.start(SURVEY).state
    assert state is not None
    state = engine.handle(SURVEY, state, TypedAnswer("  Ana ")).state
    assert state is not None
    assert state.step == "colour"
    assert state.answers == {"name": "Ana"}
    assert state.trail == ("name",)


def test_choice_step_offers_its_choices_and_cancel(engine: ConversationEngine) -> None:
    state = ConversationState("survey", "colour", {"name": "Ana"}, ("name",))
    reply = engine.prompt(SURVEY, state)
    assert [choice.value for choice in reply.choices] == ["red", "blue", BACK, CANCEL]


def test_typed_label_picks_the_matching_choice(engine: ConversationEngine) -> None:
    state = ConversationState("survey", "colour", {"name": "Ana"}, ("name",))
    outcome = engine.handle(SURVEY, state, TypedAnswer("BLUE"))
    assert outcome.state is not None
    assert outcome.state.answers["colour"] == "blue"


def test_choice_not_offered_is_refused_and_changes_nothing(engine: ConversationEngine) -> None:
    state = ConversationState("survey", "colour", {"name": "Ana"}, ("name",))
    outcome = engine.handle(SURVEY, state, PickedAnswer("green"))
    assert outcome.state == state
    assert keys(outcome.replies[0].text)[0] == "conversation.choice_not_offered"


def test_invalid_answer_is_explained_and_the_question_repeated(
    engine: ConversationEngine,
) -> None:
    state = ConversationState("survey", "count", {"name": "Ana", "colour": "red"}, ("name",))
    outcome = engine.handle(SURVEY, state, TypedAnswer("many"))
    assert outcome.state == state
    assert keys(outcome.replies[0].text)[:2] == ["test.not_a_number", "conversation.progress"]


def test_back_returns_to_the_previous_question_keeping_answers(
    engine: ConversationEngine,
) -> None:
    state = ConversationState("survey", "colour", {"name": "Ana"}, ("name",))
    outcome = engine.handle(SURVEY, state, PickedAnswer(BACK))
    assert outcome.state is not None
    assert outcome.state.step == "name"
    assert outcome.state.answers == {"name": "Ana"}
    assert "conversation.current_answer" in keys(outcome.replies[0].text)


def test_back_on_the_first_question_is_refused(engine: ConversationEngine) -> None:
    state = ConversationState("survey", "name")
    outcome = engine.handle(SURVEY, state, PickedAnswer(BACK))
    assert outcome.state == state
    assert keys(outcome.replies[0].text)[0] == "conversation.nothing_before"


def test_optional_step_can_be_skipped(engine: ConversationEngine) -> None:
    state = ConversationState("survey", "count", {"name": "Ana", "colour": "red"}, ("name",))
    outcome = engine.handle(SURVEY, state, PickedAnswer(SKIP))
    assert outcome.state is not None
    assert outcome.state.step == REVIEW
    assert outcome.state.answers["count"] is None


def test_required_step_cannot_be_skipped(engine: ConversationEngine) -> None:
    state = ConversationState("survey", "name")
    outcome = engine.handle(SURVEY, state, PickedAnswer(SKIP))
    assert outcome.state == state
    assert keys(outcome.replies[0].text)[0] == "conversation.cannot_skip"


def test_last_answer_leads_to_a_review_of_all_answers(engine: ConversationEngine) -> None:
    state = answer_all(engine)
    assert state.step == REVIEW
    review = engine.prompt(SURVEY, state)
    assert keys(review.text).count("conversation.review_line") == 3
    values = [choice.value for choice in review.choices]
    assert values[0] == SUBMIT
    assert values[-1] == CANCEL
    assert f"{EDIT_PREFIX}colour" in values


def test_edit_from_review_changes_one_answer_and_returns_to_review(
    engine: ConversationEngine,
) -> None:
    state = answer_all(engine)
    editing = engine.handle(SURVEY, state, PickedAnswer(EDIT_PREFIX + "colour")).state
    assert editing is not None
    assert editing.step == "colour"
    assert editing.editing
    back_at_review = engine.handle(SURVEY, editing, PickedAnswer("red")).state
    assert back_at_review is not None
    assert back_at_review.step == REVIEW
    assert back_at_review.answers == {"name": "Ana", "colour": "red", "count": 12}


def test_back_while_editing_returns_to_review_unchanged(engine: ConversationEngine) -> None:
    state = answer_all(engine)
    editing = engine.handle(SURVEY, state, PickedAnswer(EDIT_PREFIX + "name")).state
    assert editing is not None
    outcome = engine.handle(SURVEY, editing, PickedAnswer(BACK))
    assert outcome.state is not None
    assert outcome.state.step == REVIEW
    assert outcome.state.answers == state.answers


def test_submit_from_review_hands_over_every_answer(engine: ConversationEngine) -> None:
    state = answer_all(engine)
    outcome = engine.handle(SURVEY, state, PickedAnswer(SUBMIT))
    assert outcome.state is None
    assert outcome.submitted == {"name": "Ana", "colour": "blue", "count": 12}


def test_cancel_ends_the_conversation_and_keeps_nothing(engine: ConversationEngine) -> None:
    state = answer_all(engine)
    outcome = engine.handle(SURVEY, state, PickedAnswer(CANCEL))
    assert outcome.state is None
    assert outcome.cancelled
    assert outcome.submitted is None


def test_state_survives_a_round_trip_through_its_stored_form(
    engine: ConversationEngine,
) -> None:
    state = answer_all(engine)
    restored = ConversationState.from_data(state.name, state.step, state.to_data())
    assert restored == state


def branching_conversation() -> Conversation:
    return Conversation(
        name="branch",
        title="test.title",
        steps=(
            Step(
                "kind",
                prompt="test.kind",
                label="test.kind_label",
                choices=(Choice("org", Literal("Org")), Choice("person", Literal("Person"))),
                next=lambda answers: "org_name" if answers.get("kind") == "org" else "done",
            ),
            Step(
                "org_name",
                prompt="test.org",
                label="test.org_label",
                parse=str.strip,
                next=lambda answers: "done",
            ),
            Step("done", prompt="test.done", label="test.done_label", parse=str.strip),
        ),
        submit=lambda context, answers: [],
    )


def test_changed_branch_forgets_answers_of_the_abandoned_path(
    engine: ConversationEngine,
) -> None:
    conversation = branching_conversation()
    state = engine.start(conversation).state
    for given in (PickedAnswer("org"), TypedAnswer("Acme"), TypedAnswer("yes")):
        assert state is not None
        state = engine.handle(conversation, state, given).state
    assert state is not None
    assert state.answers == {"kind": "org", "org_name": "Acme", "done": "yes"}
    editing = engine.handle(conversation, state, PickedAnswer(EDIT_PREFIX + "kind")).state
    assert editing is not None
    changed = engine.handle(conversation, editing, PickedAnswer("person")).state
    assert changed is not None
    assert changed.step == REVIEW
    assert changed.answers == {"kind": "person", "done": "yes"}


def answered_branch(engine: ConversationEngine) -> tuple[Conversation, ConversationState]:
    conversation = branching_conversation()
    state = engine.start(conversation).state
    for given in (PickedAnswer("person"), TypedAnswer("yes")):
        assert state is not None
        state = engine.handle(conversation, state, given).state
    assert state is not None
    assert state.step == REVIEW
    return conversation, state


def test_back_from_a_branch_opened_by_an_edit_restores_the_reviewed_answers(
    engine: ConversationEngine,
) -> None:
    conversation, reviewed = answered_branch(engine)
    editing = engine.handle(conversation, reviewed, PickedAnswer(EDIT_PREFIX + "kind")).state
    assert editing is not None
    opened = engine.handle(conversation, editing, PickedAnswer("org")).state
    assert opened is not None
    assert opened.step == "org_name"
    back = engine.handle(conversation, opened, PickedAnswer(BACK)).state
    assert back is not None
    assert back.step == REVIEW
    assert back.answers == reviewed.answers


def test_submit_with_a_required_step_unanswered_asks_it_first(
    engine: ConversationEngine,
) -> None:
    conversation = branching_conversation()
    state = ConversationState("branch", REVIEW, {"kind": "org", "done": "yes"})
    outcome = engine.handle(conversation, state, PickedAnswer(SUBMIT))
    assert outcome.submitted is None
    assert outcome.state is not None
    assert outcome.state.step == "org_name"


def test_editing_does_not_lengthen_the_way_back(engine: ConversationEngine) -> None:
    state = answer_all(engine)
    editing = engine.handle(SURVEY, state, PickedAnswer(EDIT_PREFIX + "name")).state
    assert editing is not None
    reviewed = engine.handle(SURVEY, editing, TypedAnswer("Bea")).state
    assert reviewed is not None
    assert reviewed.trail == state.trail


def test_typed_review_label_with_spaces_and_direction_marks_is_understood(
    engine: ConversationEngine,
) -> None:
    state = answer_all(engine)
    outcome = engine.handle(SURVEY, state, TypedAnswer("  \u2068conversation.submit\u2069 "))
    assert outcome.submitted is not None


def test_a_part_of_one_label_picks_it_and_a_part_shared_or_too_short_does_not(
    engine: ConversationEngine,
) -> None:
    state = ConversationState("survey", "colour", {"name": "Ana"}, ("name",))
    picked = engine.handle(SURVEY, state, TypedAnswer("blu"))
    assert picked.state is not None and picked.state.answers["colour"] == "blue"
    for given in ("re", "e", "xyz"):  # too short, or in no label
        refused = engine.handle(SURVEY, state, TypedAnswer(given))
        assert refused.state == state
        assert keys(refused.replies[0].text)[0] == "conversation.pick_a_choice"


def test_a_number_in_any_scripts_digits_is_a_number() -> None:
    assert [typed_number(text) for text in ("3", "٣", "۳", "３", " 12 ", "\u200f٧")] == [
        3, 3, 3, 3, 12, 7,
    ]  # fmt: skip
    assert [typed_number(text) for text in ("", "3a", "٣.", "-1", "1 2")] == [None] * 5
    assert by_part(["Manufacturing and extraction", "Agriculture"], "MANUFACTURING") == 0
    assert by_part(["Água e saneamento", "Agua potable"], "agua") is None  # both: ambiguous
    assert by_part(["Água e saneamento", "Energia"], "agua") == 0  # accents set aside


def test_the_console_reads_a_choice_number_typed_in_arabic_digits() -> None:
    origin = Origin(Platform.CONSOLE, "console", "ana", True, "Ana")
    choices = (RenderedChoice("red", "Red"), RenderedChoice("blue", "Blue"))
    assert parse_line("٢", origin, choices) == ChoicePicked(origin, "blue")
    assert parse_line("۳", origin, choices) == TextMessage(origin, "۳")  # no third choice


RIGHTS = Conversation(
    name="rights",
    title="test.title",
    steps=(
        Step(
            "rights",
            prompt="test.rights",
            label="test.rights_label",
            choices=tuple(Choice(f"r{n}", Literal(f"Right {n}")) for n in range(1, 15)),
            multiple=True,
        ),
    ),
    submit=lambda context, answers: [],
)


def test_several_picks_in_one_message_choose_each_by_its_number(
    engine: ConversationEngine,
) -> None:
    state = engine.start(RIGHTS).state
    assert state is not None
    for typed in ("8, 4, 13, 5", "8 4 13 5", "٨، ٤، ١٣، ٥"):
        outcome = engine.handle(RIGHTS, state, TypedAnswer(typed))
        assert outcome.state is not None and outcome.state.pending == ["r8", "r4", "r13", "r5"]
    chosen = engine.handle(RIGHTS, state, TypedAnswer("2, 3")).state
    assert chosen is not None
    again = engine.handle(RIGHTS, chosen, TypedAnswer("3 9")).state  # 3 stays chosen
    assert again is not None and again.pending == ["r2", "r3", "r9"]
    refused = engine.handle(RIGHTS, chosen, TypedAnswer("2, 99"))  # no choice 99: nothing
    assert refused.state == chosen
    assert keys(refused.replies[0].text)[0] == "conversation.pick_a_choice"


def test_after_a_pick_the_reply_holds_the_choices_so_far_and_no_list(
    engine: ConversationEngine,
) -> None:
    state = engine.start(RIGHTS).state
    assert state is not None
    assert "conversation.chosen_none" in keys(engine.prompt(RIGHTS, state).text)
    picked = engine.handle(RIGHTS, state, PickedAnswer("r2"))
    reply = picked.replies[0]
    assert keys(reply.text) == ["conversation.chosen_so_far", "conversation.pick_more"]
    assert reply.choices == ()
    assert picked.state is not None
    shown = engine.handle(RIGHTS, picked.state, TypedAnswer("conversation.show_list"))
    assert shown.state == picked.state
    assert "test.rights" in keys(shown.replies[0].text) and shown.replies[0].choices


def test_a_number_typed_after_a_pick_names_a_line_of_the_whole_list(
    engine: ConversationEngine,
) -> None:
    started = engine.start(RIGHTS).state
    assert started is not None
    state = engine.handle(RIGHTS, started, PickedAnswer("r2")).state
    assert state is not None
    # 14 options, then Done and Cancel: what the list showed.
    toggled = engine.handle(RIGHTS, state, TypedAnswer("2")).state
    assert toggled is not None and toggled.pending == []
    done = engine.handle(RIGHTS, state, TypedAnswer("١٥")).state
    assert done is not None and done.step == REVIEW and done.answers == {"rights": ["r2"]}
    assert engine.handle(RIGHTS, state, TypedAnswer("16")).cancelled


BRANCHING = Conversation(
    name="branching",
    title="test.title",
    steps=(
        Step("who", prompt="test.who", label="test.who_label", choices=COLOURS),
        Step(
            "name",
            prompt="test.name",
            label="test.name_label",
            parse=str.strip,
            next=lambda answers: "count" if answers.get("who") == "red" else "end",
        ),
        Step("count", prompt="test.count", label="test.count_label", parse=parse_count),
        Step("end", prompt="test.end", label="test.end_label", parse=str.strip),
    ),
    submit=lambda context, answers: [],
)


def progress_of(reply_text: object) -> tuple[object, object]:
    assert isinstance(reply_text, Lines)
    found = [m for m in reply_text.items if isinstance(m, Message)]
    params = dict(found[0].params)
    assert found[0].key == "conversation.progress"
    return params["current"], params["total"]


def test_question_numbers_follow_the_way_the_answers_lead(engine: ConversationEngine) -> None:
    started = engine.start(BRANCHING)
    assert progress_of(started.replies[0].text) == (1, 3)  # "count" only follows "red"
    assert started.state is not None
    blue = engine.handle(BRANCHING, started.state, PickedAnswer("blue"))
    assert progress_of(blue.replies[0].text) == (2, 3)
    assert blue.state is not None
    back = engine.handle(BRANCHING, blue.state, PickedAnswer(BACK)).state
    assert back is not None
    red = engine.handle(BRANCHING, back, PickedAnswer("red"))
    assert progress_of(red.replies[0].text) == (2, 4)  # a changed answer: the total follows
    known = engine.start(BRANCHING, {"who": "blue"})  # answered before the first question
    assert progress_of(known.replies[0].text) == (1, 2)


def test_a_parser_in_the_members_language_is_given_it() -> None:
    heard: list[str] = []

    def read(text: str, language: str) -> str:
        heard.append(language)
        return text

    asked = Conversation(
        name="asked",
        title="test.title",
        steps=(Step("when", prompt="p", label="l", parse=InLanguage(read)),),
        submit=lambda context, answers: [],
        review=False,
    )
    state = ConversationState("asked", "when")
    assert ConversationEngine(_label, "ar").handle(asked, state, TypedAnswer("x")).submitted
    assert ConversationEngine(_label).handle(asked, state, TypedAnswer("x")).submitted
    assert heard == ["ar", "en"]
