"""Outgoing items as the outbox stores them: every kind round-trips through JSON, a stored item
is checked when it is read back, rows of the version before typed items still read, and
references to earlier outbox messages resolve."""

from __future__ import annotations

import json
from typing import Any

import pytest

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
    RelayedDeletion,
    RelayedEdit,
    RelayedMedia,
    RelayedNote,
    RelayedText,
    outbox_references,
    with_references,
)
from bot.outgoing_json import from_json, to_json
from bot.types import Media, MediaKind, Outgoing, Platform, RenderedChoice, RichText, Span, SpanKind

ANA = Author("Ana (Telegram)", "0123456789abcdef")
RICH = RichText("hi <all> 😀", (Span(0, 2, SpanKind.BOLD), Span(3, 8, SpanKind.LINK, "https://x")))

EVERY_KIND: list[OutgoingItem] = [
    BotMessage(
        "Which language?",
        (RenderedChoice("lang:es", "Español"), RenderedChoice("#12", "\u200fالعربية")),
        (Media("cases.csv", "text/csv", b"id,country\n\x00\xff"),),
    ),
    BotMessage(""),
    RelayedText(ANA, Platform.TELEGRAM, RICH, OutboxRef(7), joinable=False),
    RelayedText(ANA, Platform.MATRIX, RichText(""), MessageRef("$event:x", shared=True)),
    RelayedNote(ANA, Platform.TELEGRAM, "a file too large: big.zip (25.0 MB)", MessageRef("10")),
    RelayedMedia(
        author=ANA,
        origin=Platform.MATRIX,
        kind=MediaKind.VOICE,
        source=FileSource(Platform.MATRIX, '{"url": "mxc://h/a"}', None, "audio/ogg", 2048),
        caption=RICH,
        unavailable_note="a file that cannot be shown",
    ),
    RelayedEdit(
        author=ANA,
        edited_header="Ana (Telegram), edited",
        origin=Platform.TELEGRAM,
        rich=RICH,
        target=OutboxRef(3),
        of_caption=True,
        copy_parts=2,
    ),
    RelayedEdit(ANA, "Ana, edited", Platform.TELEGRAM, RICH, target=None),
    RelayedDeletion(OutboxRef(4), "Ana deleted a message."),
    RelayedDeletion(None, ""),
    LegacyRelay({"relay": "delete", "target": {"outbox": 4}}),
    BotMessage("Chosen so far (1): Water", keeps_choices=True),
    PollStart(
        "Poll 7: Join the campaign?\n1. Yes\n2. No\n3. \u0631\u0628\u0645\u0627",
        "Join the campaign?",
        ("Yes", "No", "\u0631\u0628\u0645\u0627"),
        ("poll:7:0", "poll:7:1", "poll:7:2"),
        max_selections=2,
        disclosed=False,
        closes_at="2027-01-15T17:00:00+00:00",
    ),
    BotEdit(OutboxRef(12), "Results so far: Yes 2, No 1"),
    PollEnd(MessageRef("$poll:x"), "The poll has ended."),
]


@pytest.mark.parametrize("item", EVERY_KIND, ids=lambda item: type(item).__name__)
def test_every_kind_reads_back_as_it_was_stored_through_json_text(item: OutgoingItem) -> None:
    stored = json.dumps(to_json(item), ensure_ascii=False, sort_keys=True)
    assert from_json(json.loads(stored)) == item


def test_a_stored_item_names_its_kind_and_version() -> None:
    stored = to_json(RelayedDeletion(OutboxRef(4), "gone"))
    assert (stored["kind"], stored["version"]) == ("relayed_deletion", 1)
    assert stored["target"] == {"outbox": 4}


def test_a_reply_becomes_a_bot_message_with_its_choices_and_files() -> None:
    media = (Media("a.pdf", "application/pdf", b"%PDF"),)
    choices = (RenderedChoice("yes", "Yes"),)
    reply = Outgoing(Platform.MATRIX, "!r:x", "Sure?", "ar", True, choices, media)
    assert BotMessage.of(reply) == BotMessage("Sure?", choices, media)


@pytest.mark.parametrize(
    ("stored", "complaint"),
    [
        ({"kind": "poll_begin", "version": 1}, "unknown outgoing kind 'poll_begin'"),
        (
            {**to_json(EVERY_KIND[-3]), "choice_values": ["poll:7:0"]},
            "1 choice values for 3 options",
        ),
        ({"kind": 5, "version": 1}, "unknown outgoing kind 5"),
        ({"kind": "relayed_deletion", "version": 2, "fallback": ""}, "version 2"),
        ({"kind": "relayed_deletion", "fallback": ""}, "version None"),
        ({"kind": "relayed_deletion", "version": "1", "fallback": ""}, "version '1'"),
        ({"kind": "relayed_deletion", "version": 1, "target": None}, "'fallback' is missing"),
        (
            {"kind": "relayed_deletion", "version": 1, "target": None, "fallback": 3},
            "'fallback' is not text",
        ),
        (
            {**to_json(EVERY_KIND[2]), "joinable": 1},
            "relayed_text: field 'joinable' is not true or false",
        ),
        ({**to_json(EVERY_KIND[2]), "origin": "irc"}, "field 'origin' is no Platform"),
        (
            {**to_json(EVERY_KIND[2]), "reply_to": {"outbox": True}},
            "field 'outbox' is not a whole number",
        ),
        (
            {**to_json(EVERY_KIND[2]), "rich": {"text": "x", "spans": [[0, 1, "bold"]]}},
            "a span is not",
        ),
        (
            {**to_json(EVERY_KIND[2]), "rich": {"text": "x", "spans": [[0, 1, "blink", ""]]}},
            "is no SpanKind",
        ),
        ({**to_json(EVERY_KIND[0]), "choices": [["only a value"]]}, "a choice is not"),
        (
            {**to_json(EVERY_KIND[0]), "media": [{"filename": "a", "content_type": "b"}]},
            "'data' is missing",
        ),
        (
            {
                **to_json(EVERY_KIND[0]),
                "media": [{"filename": "a", "content_type": "b", "data": "not base64!"}],
            },
            "'data' is not base64",
        ),
        ({"n": 1}, "none of an earlier version's shapes"),
    ],
)
def test_an_item_this_version_cannot_read_is_a_clear_error(
    stored: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(OutgoingError) as raised:
        from_json(stored)
    assert complaint in str(raised.value)


# -- rows queued by the version before typed items --------------------------------------------


def test_an_earlier_versions_reply_reads_as_a_planned_bot_message() -> None:
    assert from_json({"text": "hello", "choices": [["#5", "Yes"]]}) == BotMessage(
        "hello", (RenderedChoice("#5", "Yes"),)
    )
    assert from_json({"text": "notice"}) == BotMessage("notice")
    telegram_file = {
        "caption": "Your export",
        "file": {"filename": "a.csv", "content_type": "text/csv", "data": "YSxi"},
        "choices": [],
    }
    media = (Media("a.csv", "text/csv", b"a,b"),)
    assert from_json(telegram_file) == BotMessage("Your export", (), media)
    matrix_file = {"file": {"filename": None, "content_type": None, "data": "YSxi"}}
    assert from_json(matrix_file) == BotMessage(
        "", (), (Media("file", "application/octet-stream", b"a,b"),)
    )


def test_an_earlier_versions_relayed_message_is_kept_as_it_was_rendered() -> None:
    stored = {"relay": "text", "html": "<b>Ana</b>: hi", "reply_to": {"outbox": 9}}
    item = from_json(stored)
    assert item == LegacyRelay(stored)
    assert to_json(item) == stored


def test_references_to_earlier_messages_resolve_to_the_platforms_ids_or_to_none() -> None:
    text = RelayedText(ANA, Platform.TELEGRAM, RICH, OutboxRef(7))
    assert outbox_references(text) == (7,)
    assert with_references(text, {7: MessageRef("70", shared=True)}) == RelayedText(
        ANA, Platform.TELEGRAM, RICH, MessageRef("70", shared=True)
    )
    assert with_references(text, {7: None}) == RelayedText(ANA, Platform.TELEGRAM, RICH, None)
    known = RelayedDeletion(MessageRef("5"), "x")
    assert outbox_references(known) == () and with_references(known, {}) == known
    edit = RelayedEdit(ANA, "edited", Platform.MATRIX, RICH, OutboxRef(3))
    assert with_references(edit, {3: MessageRef("$e")}) == RelayedEdit(
        ANA, "edited", Platform.MATRIX, RICH, MessageRef("$e")
    )
    results = BotEdit(OutboxRef(8), "Yes 3")
    assert outbox_references(results) == (8,)
    assert with_references(results, {8: None}) == BotEdit(None, "Yes 3")
    end = PollEnd(OutboxRef(9), "ended")
    assert with_references(end, {9: MessageRef("$p")}) == PollEnd(MessageRef("$p"), "ended")
    start = PollStart("q", "q", ("a", "b"), ("v:0", "v:1"))
    assert outbox_references(start) == () and with_references(start, {}) == start
    assert outbox_references(BotMessage("hi")) == ()


def test_an_earlier_versions_references_resolve_as_that_version_had_them() -> None:
    legacy = LegacyRelay(
        {"relay": "edit", "target": {"outbox": 3}, "reply_to": {"outbox": 4}, "html": "x"}
    )
    assert outbox_references(legacy) == (4, 3)
    resolved = with_references(legacy, {3: MessageRef("30", shared=True), 4: None})
    assert resolved == LegacyRelay(
        {
            "relay": "edit",
            "target": {"message": "30", "shared": True},
            "reply_to": None,
            "html": "x",
        }
    )
