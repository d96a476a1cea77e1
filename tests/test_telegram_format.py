"""Telegram's rendering rules as pure functions: text rules, planning outgoing items into
messages, rendering them as payloads, merging bursts, and rows of the version before."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.outgoing import (
    Author,
    BotMessage,
    FileSource,
    LegacyRelay,
    MessageRef,
    OutgoingError,
    OutgoingItem,
    RelayedText,
)
from bot.transports.telegram.payloads import (
    Button,
    TelegramDeletion,
    TelegramDocument,
    TelegramEdit,
    TelegramPayload,
    TelegramRelayFile,
    TelegramText,
)
from bot.transports.telegram.render import (
    CALLBACK_LIMIT,
    MESSAGE_LIMIT,
    decode_callback,
    encode_callback,
    escape_html,
    merge,
    parts,
    render,
    split_text,
    utf16_length,
)
from bot.types import Media, MediaKind, Outgoing, Platform, RenderedChoice, RichText


def outgoing(text: str, **kwargs: object) -> Outgoing:
    return Outgoing(Platform.TELEGRAM, "42", text, "en", **kwargs)  # type: ignore[arg-type]


def payloads_for(reply: Outgoing, token_for: Any) -> list[TelegramPayload]:
    """A reply as the Telegram messages the outbox sends: planned, then each part rendered."""
    return [render(part) for part in parts(BotMessage.of(reply), token_for)]


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
    assert [bool(p.buttons) for p in payloads] == [False, False, True]  # type: ignore[union-attr]
    assert payloads[-1] == TelegramText(
        "x" * 3000, buttons=(Button("lang:es", "Español"),), link_preview=False
    )


def test_short_text_with_a_file_becomes_its_caption() -> None:
    media = Media("cases.csv", "text/csv", b"a,b\n")
    payloads = payloads_for(outgoing("Your export", media=(media,)), lambda value: 1)
    assert len(payloads) == 1
    assert payloads[0] == TelegramDocument(media, "Your export")


def test_text_too_long_for_a_caption_comes_before_the_file_it_introduces() -> None:
    media = Media("cases.csv", "text/csv", b"a,b\n")
    payloads = payloads_for(outgoing("y" * 1500, media=(media,)), lambda value: 1)
    assert [type(p) for p in payloads] == [TelegramText, TelegramDocument]


def test_the_text_introducing_several_files_comes_before_them_with_its_choices() -> None:
    files = (Media("a.pdf", "application/pdf", b"%PDF"), Media("b.csv", "text/csv", b"a\n"))
    choice = RenderedChoice("ok", "OK")
    payloads = payloads_for(
        outgoing("Case 3: 2 evidence files follow.", media=files, choices=(choice,)),
        lambda value: 1,
    )
    assert payloads == [
        TelegramText(
            "Case 3: 2 evidence files follow.", buttons=(Button("ok", "OK"),), link_preview=False
        ),
        TelegramDocument(files[0], ""),
        TelegramDocument(files[1], ""),
    ]


def test_long_choice_values_become_stored_tokens_when_a_reply_is_planned() -> None:
    long_value = "~edit:" + "x" * 80
    stored: list[str] = []

    def token_for(value: str) -> int:
        stored.append(value)
        return 9

    choices = (RenderedChoice(long_value, "Edit"), RenderedChoice("ok", "OK"))
    (part,) = parts(BotMessage("Pick", choices), token_for)
    assert part == BotMessage("Pick", (RenderedChoice("#9", "Edit"), RenderedChoice("ok", "OK")))
    assert stored == [long_value]


def test_a_bot_message_with_markup_typed_by_a_member_shows_it_literally() -> None:
    assert render(BotMessage("<b>Tom</b> & Jerry")) == TelegramText(
        "&lt;b&gt;Tom&lt;/b&gt; &amp; Jerry", link_preview=False
    )
    with pytest.raises(OutgoingError):
        render(BotMessage("", media=(Media("a", "b", b""), Media("c", "d", b""))))


# -- merging a burst -----------------------------------------------------------------------------


def test_a_burst_from_one_sender_merges_until_someone_else_speaks() -> None:
    def text(sender: str, body: str) -> RelayedText:
        return RelayedText(Author(sender, sender), Platform.MATRIX, RichText(body))

    burst: list[OutgoingItem] = [text("a", "one"), text("a", "two"), text("b", "three")]
    burst.append(text("a", "four"))
    merged, count = merge(burst)
    assert count == 2 and merged == TelegramText("<b>a</b>: one\ntwo")
    reply = RelayedText(Author("a", "a"), Platform.MATRIX, RichText("x"), MessageRef("1"))
    assert merge([reply, *burst]) == (TelegramText("<b>a</b>: x", reply_to=1), 1)


def test_the_rest_of_a_reply_cut_in_parts_is_not_joined_with_what_follows() -> None:
    author = Author("Ana", "k")
    long = RelayedText(author, Platform.MATRIX, RichText("word " * 1000), MessageRef("1"))
    first, rest = parts(long, lambda value: 1)
    assert isinstance(first, RelayedText) and first.reply_to == MessageRef("1")
    assert isinstance(rest, RelayedText) and (rest.reply_to, rest.joinable) == (None, False)
    after = RelayedText(author, Platform.MATRIX, RichText("ok"))
    assert merge([rest, after])[1] == 1


# -- rows queued by the version before typed items ------------------------------------------------

ANAS_FILE = {"platform": "matrix", "ref": "mxc://h/a", "filename": None, "content_type": None}


@pytest.mark.parametrize(
    ("stored", "payload"),
    [
        (
            {"relay": "text", "html": "<b>Ana</b>: hi", "reply_to": {"message": "5"}},
            TelegramText("<b>Ana</b>: hi", reply_to=5),
        ),
        (
            {"relay": "text", "html": "<b>Ana</b>: hi", "merge": {"sender": "k"}},
            TelegramText("<b>Ana</b>: hi"),
        ),
        (
            {
                "relay": "edit",
                "target": {"message": "5", "shared": True},
                "html": "<b>Ana</b>: new",
                "fallback_html": "<b>Ana, edited</b>: new",
            },
            TelegramEdit(5, "<b>Ana</b>: new", "<b>Ana, edited</b>: new", shared=True),
        ),
        (
            {"relay": "delete", "target": None, "fallback_html": "gone"},
            TelegramDeletion(None, "gone"),
        ),
        (
            {
                "relay": "media",
                "kind": "photo",
                "source": {**ANAS_FILE, "size": 10},
                "html": "<b>Ana</b>",
                "reply_to": None,
                "fallback_html": "<b>Ana</b>: a file",
            },
            TelegramRelayFile(
                MediaKind.PHOTO,
                FileSource(Platform.MATRIX, "mxc://h/a", size=10),
                "<b>Ana</b>",
                "<b>Ana</b>: a file",
            ),
        ),
    ],
)
def test_a_relayed_message_queued_before_the_upgrade_renders_as_that_version_sent_it(
    stored: dict[str, Any], payload: TelegramPayload
) -> None:
    assert render(LegacyRelay(stored)) == payload


def test_an_unreadable_earlier_payload_is_a_clear_error() -> None:
    with pytest.raises(OutgoingError, match="unknown kind 'poll'"):
        render(LegacyRelay({"relay": "poll"}))
    with pytest.raises(OutgoingError, match="KeyError"):
        render(LegacyRelay({"relay": "text"}))


def test_mending_a_refused_text_keeps_what_the_member_would_read() -> None:
    from bot.richtext import to_telegram_html
    from bot.transports.telegram.repair import Repair, mended, read_telegram_html, repair_for

    html = (
        '<b>Ana</b>: <i>see</i> <a href="https://x.org/?a=1&amp;b=2">this</a> and '
        '<a href="tg://user?id=42">Bo</a>\n<pre><code class="language-py">x &lt; 1</code></pre>'
    )
    assert to_telegram_html(read_telegram_html(html)) == html
    assert mended("<b>5 <3 & <i>more", Repair.PLAIN) == ["5 <3 & more"]
    assert mended("<tag-of-a-name>  ", Repair.PLAIN) == []
    pieces = mended("<b>" + "a " * 3000 + "</b>", Repair.SPLIT)
    assert [piece[:3] for piece in pieces] == ["<b>", "<b>"]
    assert all(piece.endswith("</b>") for piece in pieces)
    assert repair_for("Bad Request: can't parse entities: Unsupported start tag") is Repair.PLAIN
    assert repair_for("Bad Request: message is too long") is Repair.SPLIT
    assert repair_for("Bad Request: chat not found") is None
