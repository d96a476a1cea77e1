"""Steps that take several answers before they are done, on the engine alone: multiple
choices, gathered messages and files, records of several fields, ambiguous answers."""

from __future__ import annotations

import pytest

from bot.conversation import (
    ADD,
    BACK,
    DONE,
    MORE,
    REVIEW,
    SKIP,
    Ambiguous,
    Conversation,
    ConversationEngine,
    ConversationState,
    Input,
    InvalidAnswer,
    MediaAnswer,
    Outcome,
    PickedAnswer,
    Step,
    TypedAnswer,
)
from bot.types import Choice, Lines, Literal, Message


def _label(label: Message | Literal) -> str:
    return label.text if isinstance(label, Literal) else label.key


def parse_place(text: str) -> str:
    places = {"springfield": ("SPR-IL", "SPR-MA"), "paris": ("PAR",)}
    found = places.get(text.casefold())
    if found is None:
        raise InvalidAnswer("test.unknown_place")
    if len(found) > 1:
        raise Ambiguous(found)
    return found[0]


def link(text: str) -> dict[str, str]:
    if not text.startswith("https://"):
        raise InvalidAnswer("test.not_a_link")
    return {"link": text}


COLOURS = tuple(Choice(c, Literal(c.title())) for c in ("red", "green", "blue"))

FORM = Conversation(
    name="form",
    title="test.title",
    steps=(
        Step(
            "colours",
            prompt="test.colours",
            label="test.colours_label",
            choices=COLOURS,
            multiple=True,
        ),
        Step("place", prompt="test.place", label="test.place_label", parse=parse_place),
        Step(
            "people",
            prompt="test.people",
            label="test.people_label",
            fields=(
                Step("name", prompt="test.person_name", label="test.person_name_label", parse=str),
                Step(
                    "colour",
                    prompt="test.person_colour",
                    label="test.person_colour_label",
                    choices=COLOURS,
                ),
                Step(
                    "place",
                    prompt="test.person_place",
                    label="test.person_place_label",
                    parse=parse_place,
                    optional=True,
                ),
            ),
            item_label="test.person",
            max_items=2,
        ),
        Step(
            "story",
            prompt="test.story",
            label="test.story_label",
            gather=True,
            finish=lambda pieces: " / ".join(pieces),
            max_items=3,
        ),
        Step(
            "evidence",
            prompt="test.evidence",
            label="test.evidence_label",
            parse=link,
            gather=True,
            accepts_media=True,
            optional=True,
        ),
    ),
    submit=lambda context, answers: [],
)


@pytest.fixture
def engine() -> ConversationEngine:
    return ConversationEngine(_label)


def at(step: str, **answers: object) -> ConversationState:
    return ConversationState("form", step, dict(answers), trail=tuple(answers))


def go(engine: ConversationEngine, state: ConversationState, *given: Input) -> Outcome:
    outcome = Outcome(state, ())
    for answer in given:
        assert outcome.state is not None
        outcome = engine.handle(FORM, outcome.state, answer)
    return outcome


def keys(outcome: Outcome) -> list[str]:
    text = outcome.replies[0].text
    items = text.items if isinstance(text, Lines) else (text,)
    return [item.key for item in items if isinstance(item, Message)]


def round_trip(state: ConversationState) -> ConversationState:
    return ConversationState.from_data(state.name, state.step, state.to_data())


# -- multiple choice ----------------------------------------------------------------------


def test_picks_toggle_and_done_keeps_them_in_the_order_offered(engine: ConversationEngine) -> None:
    outcome = go(
        engine,
        at("colours"),
        PickedAnswer("blue"),
        PickedAnswer("red"),
        PickedAnswer("green"),
        PickedAnswer("green"),
        PickedAnswer(DONE),
    )
    assert outcome.state is not None
    assert outcome.state.answers["colours"] == ["red", "blue"]
    assert outcome.state.step == "place"


def test_the_choices_picked_so_far_survive_a_restart(engine: ConversationEngine) -> None:
    outcome = go(engine, at("colours"), PickedAnswer("blue"))
    assert outcome.state is not None
    restored = round_trip(outcome.state)
    assert restored.pending == ["blue"]
    labels = [c.label for c in engine.prompt(FORM, restored).choices]
    assert Message.of("conversation.choice_selected", label=Literal("Blue")) in labels


def test_done_with_nothing_picked_is_refused(engine: ConversationEngine) -> None:
    outcome = go(engine, at("colours"), PickedAnswer(DONE))
    assert outcome.state == at("colours")
    assert keys(outcome)[0] == "conversation.pick_at_least_one"


def test_a_typed_label_toggles_like_a_pick(engine: ConversationEngine) -> None:
    outcome = go(engine, at("colours"), TypedAnswer("GREEN"), TypedAnswer("conversation.done"))
    assert outcome.state is not None
    assert outcome.state.answers["colours"] == ["green"]


# -- ambiguous answers --------------------------------------------------------------------


def test_an_ambiguous_answer_offers_its_candidates_and_one_can_be_picked(
    engine: ConversationEngine,
) -> None:
    offered = go(engine, at("place", colours=["red"]), TypedAnswer("Springfield"))
    assert offered.state is not None
    assert [c.value for c in offered.replies[0].choices][:2] == ["SPR-IL", "SPR-MA"]
    assert "conversation.several_match" in keys(offered)
    picked = go(engine, round_trip(offered.state), PickedAnswer("SPR-MA"))
    assert picked.state is not None
    assert picked.state.answers["place"] == "SPR-MA"
    assert picked.state.pending is None


def test_back_from_the_candidates_asks_the_same_question_again(
    engine: ConversationEngine,
) -> None:
    offered = go(engine, at("place", colours=["red"]), TypedAnswer("Springfield"))
    assert offered.state is not None
    back = go(engine, round_trip(offered.state), PickedAnswer(BACK))
    assert back.state is not None
    assert back.state.step == "place"
    assert back.state.pending is None
    assert back.state.answers["colours"] == ["red"]
    assert "conversation.several_match" not in keys(back)


def test_a_candidate_never_offered_cannot_be_picked(engine: ConversationEngine) -> None:
    outcome = go(engine, at("place", colours=["red"]), PickedAnswer("SPR-IL"))
    assert keys(outcome)[0] == "conversation.choice_not_offered"


# -- records ------------------------------------------------------------------------------


def person(engine: ConversationEngine, state: ConversationState, name: str) -> Outcome:
    return go(engine, state, TypedAnswer(name), PickedAnswer("red"), PickedAnswer(SKIP))


def test_records_are_asked_field_by_field_and_collected(engine: ConversationEngine) -> None:
    start = at("people", colours=["red"], place="PAR")
    first = person(engine, start, "Ana")
    assert first.state is not None
    assert first.state.pending["at"] == MORE
    second = go(engine, first.state, PickedAnswer(ADD), TypedAnswer("Bo"), PickedAnswer("blue"))
    assert second.state is not None
    ambiguous = go(engine, second.state, TypedAnswer("springfield"), PickedAnswer("SPR-IL"))
    assert ambiguous.state is not None
    assert ADD not in [c.value for c in ambiguous.replies[0].choices]  # two is the most
    done = go(engine, ambiguous.state, PickedAnswer(DONE))
    assert done.state is not None
    assert done.state.answers["people"] == [
        {"name": "Ana", "colour": "red", "place": None},
        {"name": "Bo", "colour": "blue", "place": "SPR-IL"},
    ]
    assert done.state.step == "story"


def test_back_inside_a_record_returns_to_its_previous_field(engine: ConversationEngine) -> None:
    outcome = go(engine, at("people", colours=["red"], place="PAR"), TypedAnswer("Ana"))
    assert outcome.state is not None
    back = go(engine, outcome.state, PickedAnswer(BACK))
    assert back.state is not None
    assert back.state.step == "people"
    assert back.state.pending["at"] == "name"
    assert "test.person_name" in keys(back)


def test_a_record_half_given_survives_a_restart(engine: ConversationEngine) -> None:
    outcome = go(engine, at("people", colours=["red"], place="PAR"), TypedAnswer("Ana"))
    assert outcome.state is not None
    restored = round_trip(outcome.state)
    assert "test.person_colour" in keys(Outcome(restored, (engine.prompt(FORM, restored),)))


# -- gathered messages and files ----------------------------------------------------------


def test_messages_are_gathered_until_done_and_joined(engine: ConversationEngine) -> None:
    outcome = go(engine, at("story"), TypedAnswer("One."), TypedAnswer("Two."))
    assert outcome.state is not None
    assert keys(outcome) == ["conversation.piece_kept"]
    done = go(engine, round_trip(outcome.state), PickedAnswer(DONE))
    assert done.state is not None
    assert done.state.answers["story"] == "One. / Two."


def test_more_pieces_than_a_step_takes_are_refused(engine: ConversationEngine) -> None:
    outcome = go(engine, at("story"), *(TypedAnswer(str(n)) for n in range(3)))
    refused = go(engine, outcome.state or at("story"), TypedAnswer("four"))
    assert keys(refused)[0] == "conversation.too_many_pieces"


def test_files_are_kept_as_references_where_a_step_accepts_them(
    engine: ConversationEngine,
) -> None:
    photo = MediaAnswer("telegram", "photo", "file-123", "river.jpg", "image/jpeg", 2048)
    outcome = go(engine, at("evidence"), photo, TypedAnswer("https://example.org/a"))
    done = go(engine, outcome.state or at("evidence"), PickedAnswer(DONE))
    assert done.state is not None
    assert done.state.step == REVIEW
    assert done.state.answers["evidence"] == [photo.as_piece(), {"link": "https://example.org/a"}]


def test_a_file_where_a_step_takes_none_is_refused(engine: ConversationEngine) -> None:
    photo = MediaAnswer("matrix", "image", "mxc://x/y")
    outcome = go(engine, at("story"), photo)
    assert keys(outcome)[0] == "conversation.file_not_expected"
    assert outcome.state == at("story")


def test_an_invalid_piece_is_refused_and_the_others_kept(engine: ConversationEngine) -> None:
    kept = go(engine, at("evidence"), TypedAnswer("https://example.org/a"))
    refused = go(engine, kept.state or at("evidence"), TypedAnswer("not a link"))
    assert keys(refused)[0] == "test.not_a_link"
    assert refused.state == kept.state


def test_done_without_pieces_skips_an_optional_gathering(engine: ConversationEngine) -> None:
    outcome = go(engine, at("evidence"), PickedAnswer(DONE))
    assert outcome.state is not None
    assert outcome.state.answers["evidence"] is None


def test_changing_gathered_pieces_from_the_review_and_adding_none_keeps_them(
    engine: ConversationEngine,
) -> None:
    state = ConversationState("form", REVIEW, {"story": "One.", "evidence": None})
    editing = go(engine, state, PickedAnswer("~edit:story"))
    assert editing.state is not None
    back = go(engine, editing.state, PickedAnswer(DONE))
    assert back.state is not None
    assert back.state.step == REVIEW
    assert back.state.answers["story"] == "One."


def test_back_to_the_evidence_keeps_its_files_to_add_to(engine: ConversationEngine) -> None:
    photo = MediaAnswer("telegram", "photo", "file-1", "a.jpg")
    given = go(engine, at("evidence"), photo, PickedAnswer(DONE))
    assert given.state is not None
    assert given.state.step == REVIEW
    edited = go(engine, given.state, PickedAnswer("~edit:evidence"), TypedAnswer("https://x.org"))
    done = go(engine, edited.state or given.state, PickedAnswer(DONE))
    assert done.state is not None
    assert done.state.answers["evidence"] == [photo.as_piece(), {"link": "https://x.org"}]


def test_back_to_gathered_messages_and_done_keeps_them(engine: ConversationEngine) -> None:
    told = go(engine, at("story"), TypedAnswer("One."), PickedAnswer(DONE))
    assert told.state is not None
    back = go(engine, told.state, PickedAnswer(BACK), PickedAnswer(DONE))
    assert back.state is not None
    assert back.state.answers["story"] == "One."
    assert back.state.step == "evidence"


def test_back_to_the_records_keeps_them(engine: ConversationEngine) -> None:
    first = person(engine, at("people", colours=["red"], place="PAR"), "Ana")
    listed = go(engine, first.state or at("people"), PickedAnswer(DONE))
    assert listed.state is not None
    back = go(engine, listed.state, PickedAnswer(BACK), PickedAnswer(DONE))
    assert back.state is not None
    assert back.state.answers["people"] == [{"name": "Ana", "colour": "red", "place": None}]
