"""Telegram's rendering rules as pure functions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.transports.telegram.render import (
    CALLBACK_LIMIT,
    MESSAGE_LIMIT,
    decode_callback,
    encode_callback,
    escape_html,
    payloads_for,
    split_text,
    utf16_length,
)
from bot.types import Media, Outgoing, Platform, RenderedChoice


def outgoing(text: str, **kwargs: object) -> Outgoing:
    return Outgoing(Platform.TELEGRAM, "42", text, "en", **kwargs)  # type: ignore[arg-type]


def test_html_in_member_text_is_escaped() -> None:
    assert escape_html("<b>Tom & Jerry</b>") == "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;"


def test_short_text_stays_whole() -> None:
    assert split_text("hello") == ["hello"]


def test_long_text_splits_on_paragraphs_first() -> None:
    paragraph = "word " * 300
    text = "\n\n".join([paragraph.strip()] * 4)
    pieces = split_text(text)
    assert len(pieces) == 2
    assert all(piece.count("\n\n") == 1 for piece in pieces)


def test_a_long_line_splits_between_words() -> None:
    pieces = split_text("abc " * 2000)
    assert all(utf16_length(piece) <= MESSAGE_LIMIT for piece in pieces)
    assert all(not piece.startswith("bc") for piece in pieces)


def test_text_is_measured_in_utf16_units_like_telegram() -> None:
    emoji = "\N{EARTH GLOBE AMERICAS}" * 3000  # two UTF-16 units each
    pieces = split_text(emoji)
    assert len(pieces) == 2
    assert all(utf16_length(piece) <= MESSAGE_LIMIT for piece in pieces)


@given(st.text(min_size=0, max_size=12000))
def test_splitting_loses_nothing_and_respects_the_limit(text: str) -> None:
    pieces = split_text(text, limit=300)
    assert all(utf16_length(piece) <= 300 for piece in pieces)
    joined = "".join(pieces)
    stripped = text.replace("\n", "").replace(" ", "")
    assert joined.replace("\n", "").replace(" ", "") == stripped


def test_short_callback_values_are_sent_as_they_are() -> None:
    assert encode_callback("lang:es", lambda value: 1 / 0) == "lang:es"  # type: ignore[return-value, arg-type]


def test_long_callback_values_go_through_storage_and_come_back() -> None:
    stored: dict[int, str] = {}

    def token_for(value: str) -> int:
        stored[len(stored) + 1] = value
        return len(stored)

    value = "~edit:" + "\u0639" * 40  # 80 bytes of Arabic
    data = encode_callback(value, token_for)
    assert len(data.encode()) <= CALLBACK_LIMIT
    assert decode_callback(data, stored.get) == value


def test_malformed_token_data_reads_as_expired() -> None:
    assert decode_callback("#²", lambda token: "x") is None
    assert decode_callback("#" + "9" * 40, lambda token: "x") is None


def test_a_value_that_looks_like_a_token_is_itself_stored() -> None:
    data = encode_callback("#12", lambda value: 5)
    assert data == "#5"


def test_choices_ride_on_the_last_piece_of_a_long_reply() -> None:
    text = "\n\n".join(["x" * 3000] * 3)
    choice = RenderedChoice("lang:es", "Español")
    payloads = payloads_for(outgoing(text, choices=(choice,)), lambda value: 1)
    assert len(payloads) == 3
    assert [bool(p["choices"]) for p in payloads] == [False, False, True]


def test_short_text_with_a_file_becomes_its_caption() -> None:
    media = Media("cases.csv", "text/csv", b"a,b\n")
    payloads = payloads_for(outgoing("Your export", media=(media,)), lambda value: 1)
    assert len(payloads) == 1
    assert payloads[0]["caption"] == "Your export"


def test_text_too_long_for_a_caption_follows_the_file() -> None:
    media = Media("cases.csv", "text/csv", b"a,b\n")
    payloads = payloads_for(outgoing("y" * 1500, media=(media,)), lambda value: 1)
    assert [("file" in p, "text" in p) for p in payloads] == [(True, False), (False, True)]
