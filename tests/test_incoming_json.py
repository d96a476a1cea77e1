"""The inbox's JSON for neutral events: every kind comes back as it went in, and a row this
version cannot read is refused with a reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, get_args

import pytest

from bot.incoming_json import IncomingError, from_json, to_json
from bot.types import (
    ChoicePicked,
    Command,
    Incoming,
    MediaKind,
    MediaReceived,
    MessageDeleted,
    MessageEdited,
    Origin,
    Platform,
    PresenceChanged,
    Role,
    Span,
    SpanKind,
    TextMessage,
    Unrelayable,
    UnrelayableKind,
    VoteCast,
)

ROOM = Origin(Platform.MATRIX, "!room:example.org", "@ana:example.org", False, "Ana")
DIRECT = Origin(Platform.CONSOLE, "console", "operator", True, None, "es", trusted_role=Role.ADMIN)
SPANS = (
    Span(0, 4, SpanKind.BOLD),
    Span(5, 9, SpanKind.LINK, "https://example.org/ü"),
    Span(10, 12, SpanKind.MENTION, "matrix:@bo:example.org"),
)

EVERY_KIND: list[Incoming] = [
    TextMessage(ROOM, "bold link @bo ✓", "$text", SPANS, reply_to="$earlier"),
    TextMessage(DIRECT, "plain"),
    Command(ROOM, "poll", ("close", "3"), "$command"),
    Command(DIRECT, "help"),
    ChoicePicked(ROOM, "yes", "$reaction"),
    ChoicePicked(DIRECT, "no"),
    MessageEdited(ROOM, "$text", "new words", SPANS[:1]),
    MessageDeleted(ROOM, "$text"),
    MediaReceived(
        ROOM,
        MediaKind.PHOTO,
        '{"url": "mxc://example.org/abc", "key": {"k": "secret"}}',
        caption="a photo",
        filename="photo.jpg",
        content_type="image/jpeg",
        size=12_345,
        message_id="$photo",
        caption_formatting=(Span(2, 7, SpanKind.ITALIC),),
        reply_to="$text",
    ),
    MediaReceived(ROOM, MediaKind.OTHER, "mxc://example.org/x"),
    VoteCast(ROOM, "poll-1", ("0", "2")),
    VoteCast(ROOM, "$start", (), datetime(2027, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)),
    PresenceChanged(ROOM, present=False),
    Unrelayable(ROOM, UnrelayableKind.UNDECRYPTABLE, "$secret"),
    Unrelayable(ROOM, UnrelayableKind.LOCATION),
]


@pytest.mark.parametrize("event", EVERY_KIND, ids=lambda event: type(event).__name__)
def test_every_kind_comes_back_as_it_was_stored(event: Incoming) -> None:
    stored = json.loads(json.dumps(to_json(event)))  # as the database gives it back
    assert from_json(stored) == event
    assert stored["version"] == 1


def test_every_kind_of_incoming_event_is_covered() -> None:
    assert {type(event) for event in EVERY_KIND} == set(get_args(Incoming))


def _stored(**changes: Any) -> dict[str, Any]:
    return {**to_json(EVERY_KIND[0]), **changes}


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({}, "unknown incoming kind None"),
        (_stored(kind="telepathy"), "unknown incoming kind 'telepathy'"),
        (_stored(version=2), "version 2 is not one this version reads"),
        (_stored(version=True), "version True"),
        (_stored(text=5), "field 'text' is not text"),
        (_stored(origin={"platform": "fax"}), "field 'platform' is no Platform"),
        (_stored(formatting=[[0, 1, "blink", ""]]), "field 'kind' is no SpanKind"),
        (_stored(formatting=[[0, 1]]), "a span is not"),
        ({k: v for k, v in _stored().items() if k != "origin"}, "field 'origin' is missing"),
    ],
)
def test_a_row_this_version_cannot_read_is_refused_with_a_reason(
    row: dict[str, Any], reason: str
) -> None:
    with pytest.raises(IncomingError, match=reason):
        from_json(row)


def test_a_vote_stored_before_its_time_was_kept_reads_without_one() -> None:
    row = to_json(VoteCast(ROOM, "p", ("1",)))
    del row["sent_at"]
    assert from_json(row) == VoteCast(ROOM, "p", ("1",))


@pytest.mark.parametrize("sent_at", ["yesterday", "2027-01-02T03:04:05"])
def test_a_vote_whose_time_is_not_an_aware_time_is_refused(sent_at: str) -> None:
    row = {**to_json(VoteCast(ROOM, "p", ("1",))), "sent_at": sent_at}
    with pytest.raises(IncomingError, match="sent_at"):
        from_json(row)


def test_a_vote_with_options_that_are_not_texts_is_refused() -> None:
    row = {**to_json(VoteCast(ROOM, "p", ("1",))), "options": [1]}
    with pytest.raises(IncomingError, match="not a list of texts"):
        from_json(row)
