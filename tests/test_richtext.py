"""Formatting conversions between Telegram and Matrix (bot/richtext.py).

"Keeps the formatting" means: for r = from_telegram(...) (already normalized), reading back
what a writer produced gives normalize(r) minus the spans that writer cannot express (a
Telegram mention in Matrix, a Matrix mention in Telegram, a link with another scheme).
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.richtext import (
    MATRIX_LINK_SCHEMES,
    TELEGRAM_LINK_SCHEMES,
    escape,
    from_matrix_html,
    from_telegram,
    is_safe_url,
    normalize,
    to_matrix_html,
    to_telegram_entities,
    to_telegram_html,
)
from bot.richtext_html import link_target, read_matrix_html
from bot.types import RichText, Span, SpanKind
from tests.harness.telegram_emulator import parse_html

B, IT, U, S = SpanKind.BOLD, SpanKind.ITALIC, SpanKind.UNDERLINE, SpanKind.STRIKE
CODE, PRE, LINK, QUOTE = SpanKind.CODE, SpanKind.PRE, SpanKind.LINK, SpanKind.QUOTE
SPOILER, MENTION = SpanKind.SPOILER, SpanKind.MENTION


def telegram_round_trip(rich: RichText) -> RichText:
    """What Telegram makes of to_telegram_html(rich), read back (raises if it would reject)."""
    text, entities = parse_html(to_telegram_html(rich))
    assert text == rich.text
    return from_telegram(text, entities)


def matrix_round_trip(rich: RichText) -> RichText:
    return from_matrix_html(to_matrix_html(rich), rich.text)


def expressible_in_telegram(span: Span) -> bool:
    if span.kind is LINK:
        return is_safe_url(span.value, TELEGRAM_LINK_SCHEMES)
    return span.kind is not MENTION or span.value.startswith("telegram:")


def expressible_in_matrix(span: Span) -> bool:
    if span.kind is LINK:
        return is_safe_url(span.value, MATRIX_LINK_SCHEMES)
    return span.kind is not MENTION or re.fullmatch(r"matrix:@\S+:\S+", span.value) is not None


def keeping(rich: RichText, keep: Any) -> RichText:
    normal = normalize(rich)
    return normalize(RichText(normal.text, tuple(s for s in normal.spans if keep(s))))


def as_telegram_reads_it(rich: RichText) -> RichText:
    """A link to ``tg://user?id=N`` is read back as a mention of that Telegram user."""
    spans = []
    for span in keeping(rich, expressible_in_telegram).spans:
        user = re.fullmatch(r"tg://user\?id=([0-9]+)", span.value) if span.kind is LINK else None
        spans.append(Span(span.start, span.end, MENTION, f"telegram:{user[1]}") if user else span)
    return normalize(RichText(rich.text, tuple(spans)))


def as_matrix_reads_it(rich: RichText) -> RichText:
    """A link to a Matrix user's ``matrix.to`` address is read back as a mention (a pill)."""
    spans = []
    for span in keeping(rich, expressible_in_matrix).spans:
        target = link_target(span.value) if span.kind is LINK else None
        spans.append(Span(span.start, span.end, *target) if target else span)
    return normalize(RichText(rich.text, tuple(spans)))


# --------------------------------------------------------------------------------------------
# Telegram entities
# --------------------------------------------------------------------------------------------


def test_every_telegram_entity_kind_maps_to_a_span() -> None:
    text = "bold italic under strike code pre link quote spoil men"
    words = {word: text.index(word) for word in text.split()}

    def at(word: str, kind: str, **extra: Any) -> dict[str, Any]:
        return {"type": kind, "offset": words[word], "length": len(word), **extra}

    rich = from_telegram(
        text,
        [
            at("bold", "bold"),
            at("italic", "italic"),
            at("under", "underline"),
            at("strike", "strikethrough"),
            at("code", "code"),
            at("pre", "pre", language="python"),
            at("link", "text_link", url="https://example.org/"),
            at("quote", "expandable_blockquote"),
            at("spoil", "spoiler"),
            at("men", "text_mention", user={"id": 42, "is_bot": False, "first_name": "M"}),
        ],
    )
    assert {(rich.text[s.start : s.end], s.kind, s.value) for s in rich.spans} == {
        ("bold", B, ""),
        ("italic", IT, ""),
        ("under", U, ""),
        ("strike", S, ""),
        ("code", CODE, ""),
        ("pre", PRE, "python"),
        ("link", LINK, "https://example.org/"),
        ("quote", QUOTE, ""),
        ("spoil", SPOILER, ""),
        ("men", MENTION, "telegram:42"),
    }


def test_detected_entities_are_ignored_because_their_text_is_in_the_message() -> None:
    entities = [
        {"type": kind, "offset": 0, "length": 4}
        for kind in ("mention", "hashtag", "cashtag", "bot_command", "url", "email")
    ]
    assert from_telegram("@bob #tag", entities) == RichText("@bob #tag")


def test_utf16_offsets_become_code_point_indices() -> None:
    # "😀" is two UTF-16 units: "bold" starts at unit 3, code point 2.
    rich = from_telegram("😀 bold", [{"type": "bold", "offset": 3, "length": 4}])
    assert rich.spans == (Span(2, 6, B),)
    assert to_telegram_entities(rich) == [{"type": "bold", "offset": 3, "length": 4}]


def test_bad_offsets_are_clipped_and_empty_or_malformed_entities_dropped() -> None:
    rich = from_telegram(
        "abc",
        [
            {"type": "bold", "offset": -2, "length": 4},
            {"type": "italic", "offset": 2, "length": 99},
            {"type": "underline", "offset": 7, "length": 1},
            {"type": "code", "offset": 1, "length": 0},
            {"type": "spoiler"},
            {"type": "text_link", "offset": 0, "length": 1},
            {"type": "text_mention", "offset": 0, "length": 1, "user": {}},
        ],
    )
    assert rich.spans == (Span(0, 2, B), Span(2, 3, IT))


def test_an_offset_inside_a_surrogate_pair_widens_the_span_to_the_whole_character() -> None:
    rich = from_telegram("a😀b", [{"type": "bold", "offset": 2, "length": 1}])
    assert rich.spans == (Span(1, 2, B),)


def test_a_tg_user_link_is_a_mention() -> None:
    rich = from_telegram(
        "Ann", [{"type": "text_link", "offset": 0, "length": 3, "url": "tg://user?id=7"}]
    )
    assert rich.spans == (Span(0, 3, MENTION, "telegram:7"),)


def test_entities_written_for_telegram_leave_out_what_it_cannot_show() -> None:
    rich = RichText(
        "ab cd ef gh",
        (
            Span(0, 2, PRE, "go"),
            Span(3, 5, LINK, "javascript:alert(1)"),
            Span(6, 8, MENTION, "matrix:@a:b"),
            Span(9, 11, MENTION, "telegram:5"),
        ),
    )
    assert to_telegram_entities(rich) == [
        {"type": "pre", "language": "go", "offset": 0, "length": 2},
        {"type": "text_mention", "user": {"id": 5}, "offset": 9, "length": 2},
    ]


# --------------------------------------------------------------------------------------------
# Telegram HTML
# --------------------------------------------------------------------------------------------


def test_telegram_html_escapes_text_and_uses_only_telegram_tags() -> None:
    rich = RichText(
        "x<y & code q s",
        (Span(0, 3, B), Span(6, 10, PRE, "c++"), Span(11, 12, QUOTE), Span(13, 14, SPOILER)),
    )
    assert to_telegram_html(rich) == (
        '<b>x&lt;y</b> &amp; <pre><code class="language-c++">code</code></pre> '
        "<blockquote>q</blockquote> <tg-spoiler>s</tg-spoiler>"
    )


def test_overlapping_spans_are_split_so_tags_nest() -> None:
    rich = RichText("abcdef", (Span(0, 4, B), Span(2, 6, IT)))
    assert to_telegram_html(rich) == "<b>ab<i>cd</i></b><i>ef</i>"
    assert telegram_round_trip(rich) == rich


def test_nothing_is_formatted_inside_code() -> None:
    rich = RichText("abcdef", (Span(0, 6, B), Span(2, 4, CODE), Span(1, 5, LINK, "https://e.org")))
    assert to_telegram_html(rich) == (
        '<b>a</b><a href="https://e.org"><b>b</b></a><code>cd</code>'
        '<a href="https://e.org"><b>e</b></a><b>f</b>'
    )


def test_a_quote_keeps_a_code_block_it_contains() -> None:
    rich = RichText("see:\ncode\n", (Span(0, 10, QUOTE), Span(5, 9, PRE)))
    assert to_telegram_html(rich) == "<blockquote>see:\n<pre>code</pre>\n</blockquote>"
    assert normalize(rich) == rich


def test_links_with_other_schemes_and_matrix_mentions_are_plain_text_in_telegram() -> None:
    rich = RichText(
        "js ftp bob ann",
        (
            Span(0, 2, LINK, "javascript:alert(1)"),
            Span(3, 6, LINK, "ftp://x"),
            Span(7, 10, MENTION, "matrix:@bob:example.org"),
            Span(11, 14, MENTION, "telegram:12"),
        ),
    )
    assert to_telegram_html(rich) == 'js ftp bob <a href="tg://user?id=12">ann</a>'


def test_link_attributes_are_escaped() -> None:
    rich = RichText("x", (Span(0, 1, LINK, 'https://e.org/?a=1&b="<2>"'),))
    html = to_telegram_html(rich)
    assert html == '<a href="https://e.org/?a=1&amp;b=&quot;&lt;2&gt;&quot;">x</a>'
    assert telegram_round_trip(rich) == rich


# --------------------------------------------------------------------------------------------
# Matrix HTML, written
# --------------------------------------------------------------------------------------------


def test_matrix_html_for_every_kind() -> None:
    rich = RichText(
        "b i u s c p l q z m\nend",
        (
            Span(0, 1, B),
            Span(2, 3, IT),
            Span(4, 5, U),
            Span(6, 7, S),
            Span(8, 9, CODE),
            Span(10, 11, PRE, "rust"),
            Span(12, 13, LINK, "https://e.org/?a&b"),
            Span(14, 15, QUOTE),
            Span(16, 17, SPOILER),
            Span(18, 19, MENTION, "matrix:@m:example.org"),
        ),
    )
    assert to_matrix_html(rich) == (
        "<b>b</b> <i>i</i> <u>u</u> <del>s</del> <code>c</code> "
        '<pre><code class="language-rust">p\n</code></pre> <a href="https://e.org/?a&amp;b">l</a> '
        "<blockquote>q</blockquote> <span data-mx-spoiler>z</span> "
        '<a href="https://matrix.to/#/@m:example.org">m</a><br>end'
    )


def test_newlines_stay_literal_inside_a_matrix_code_block() -> None:
    rich = RichText("a\nb\nc", (Span(2, 5, PRE),))
    assert to_matrix_html(rich) == "a<br><pre><code>b\nc\n</code></pre>"
    assert matrix_round_trip(rich) == rich


def test_telegram_mentions_and_unsafe_links_are_plain_text_in_matrix() -> None:
    rich = RichText("ann tg", (Span(0, 3, MENTION, "telegram:5"), Span(4, 6, LINK, "tg://x")))
    assert to_matrix_html(rich) == "ann tg"


# --------------------------------------------------------------------------------------------
# Matrix HTML, read (as Element and other clients send it)
# --------------------------------------------------------------------------------------------


def read(html: str, body: str = "body") -> tuple[str, set[tuple[str, SpanKind, str]]]:
    rich = from_matrix_html(html, body)
    return rich.text, {(rich.text[s.start : s.end], s.kind, s.value) for s in rich.spans}


def test_element_paragraphs_are_separated_by_an_empty_line_like_the_body() -> None:
    assert read("<p>a</p>\n<p>b</p>\n") == ("a\n\nb", set())


def test_line_breaks_and_source_newlines() -> None:
    assert read("a<br>b<br />\nc") == ("a\nb\nc", set())
    assert read("<b>x</b>\n<i>y</i>") == ("x y", {("x", B, ""), ("y", IT, "")})
    assert read("<div>one</div><div>two</div>") == ("one\ntwo", set())


def test_spaces_are_kept_exactly() -> None:
    assert read("  two  spaces <b> x </b>  ") == ("  two  spaces  x   ", {(" x ", B, "")})


def test_tables_are_read_row_by_row() -> None:
    html = "<table><tr><td>a</td><td>b</td></tr>\n<tr><th>c</th><td>d</td></tr></table>"
    assert read(html) == ("a b\nc d", set())


def test_whitespace_between_blocks_is_ignored() -> None:
    assert read("<p>a</p>  <p>b</p>\n  <div>c</div>") == ("a\n\nb\n\nc", set())


def test_lists_get_markers() -> None:
    html = (
        '<ul>\n<li>one</li>\n<li>two<ol start="3">\n<li>x</li>\n<li><p>y</p></li>\n</ol></li>\n'
        "</ul>\n"
    )
    assert read(html)[0] == "• one\n• two\n  3. x\n  4. y"


def test_element_code_block_with_language() -> None:
    html = '<pre><code class="language-python">def f():\n    return 1\n</code></pre>\n'
    assert read(html) == ("def f():\n    return 1", {("def f():\n    return 1", PRE, "python")})


def test_code_block_between_paragraphs() -> None:
    text, spans = read("<p>before</p>\n<pre><code>x = 1\n</code></pre>\n<p>after</p>\n")
    assert text == "before\n\nx = 1\n\nafter"
    assert spans == {("x = 1", PRE, "")}


def test_inline_formatting_tags_and_aliases() -> None:
    html = (
        "<strong>a</strong><b>b</b><em>c</em><i>d</i><u>e</u><ins>f</ins>"
        "<del>g</del><s>h</s><strike>j</strike><code>k</code><h2>T</h2>"
    )
    text, spans = read(html)
    assert text == "abcdefghjk\n\nT"
    assert spans == {
        ("ab", B, ""),
        ("cd", IT, ""),
        ("ef", U, ""),
        ("ghj", S, ""),
        ("k", CODE, ""),
        ("T", B, ""),
    }


def test_spoilers_and_quotes() -> None:
    html = (
        '<blockquote>\n<p>said</p>\n</blockquote>\n<p><span data-mx-spoiler="why">hidden</span></p>'
    )
    assert read(html) == ("said\n\nhidden", {("said", QUOTE, ""), ("hidden", SPOILER, "")})


def test_pills_become_mentions_and_room_links_stay_links() -> None:
    html = (
        '<a href="https://matrix.to/#/@alice:example.org">Alice</a> '
        '<a href="https://matrix.to/#/%40bob%3Aexample.org?via=x">Bob</a> '
        '<a href="https://matrix.to/#/#room:example.org">room</a>'
    )
    assert read(html)[1] == {
        ("Alice", MENTION, "matrix:@alice:example.org"),
        ("Bob", MENTION, "matrix:@bob:example.org"),
        ("room", LINK, "https://matrix.to/#/#room:example.org"),
    }


def test_nested_quotes_become_one_quote() -> None:
    assert read("<blockquote>a<blockquote>b</blockquote>c</blockquote>") == (
        "abc",
        {("abc", QUOTE, "")},
    )


def test_matrix_uri_user_links_are_mentions() -> None:
    assert read('<a href="matrix:u/carol:example.org?action=chat">Carol</a>')[1] == {
        ("Carol", MENTION, "matrix:@carol:example.org")
    }


def test_only_safe_links_are_kept() -> None:
    html = (
        '<a href="javascript:alert(1)">a</a><a href="data:text/html,x">b</a><a>c</a>'
        '<a href="mailto:x@y.z">d</a><a href="http://e.org">e</a>'
    )
    assert read(html) == ("abcde", {("d", LINK, "mailto:x@y.z"), ("e", LINK, "http://e.org")})


def test_reply_fallback_is_removed() -> None:
    html = (
        '<mx-reply><blockquote><a href="https://matrix.to/#/!r:x/$e">In reply to</a> '
        '<a href="https://matrix.to/#/@a:x">@a:x</a><br>original</blockquote></mx-reply>'
        "my <b>answer</b>"
    )
    assert read(html) == ("my answer", {("answer", B, "")})


def test_scripts_styles_and_unknown_tags_are_reduced_to_text() -> None:
    html = '<script>alert(1)</script><style>p{}</style><font color="red">red</font><img alt=":)" src="mxc://x/y"><x-y>z</x-y>'
    assert read(html) == ("red:)z", set())


def test_html_entities_are_decoded() -> None:
    assert read("&lt;b&gt; &amp; &quot; &#x1F600; &eacute;")[0] == '<b> & " 😀 é'


def test_plain_body_is_used_without_formatted_body() -> None:
    assert from_matrix_html(None, "*plain*") == RichText("*plain*")
    assert from_matrix_html("", "x") == RichText("x")


def test_an_empty_result_falls_back_to_the_body() -> None:
    assert from_matrix_html("<mx-reply>only a reply fallback", "answer") == RichText("answer")


# --------------------------------------------------------------------------------------------
# Injection: what a member types shows literally on the other side
# --------------------------------------------------------------------------------------------

TYPED = 'I wrote <b>bold</b> &amp; </a> <a href="x"> &lt; &#65; <tg-spoiler>'


def test_markup_typed_in_telegram_shows_literally_in_matrix_and_back() -> None:
    rich = from_telegram(TYPED, [])
    html = to_matrix_html(rich)
    assert "<b>" not in html and "</a>" not in html
    assert from_matrix_html(html, TYPED) == RichText(TYPED)
    assert parse_html(to_telegram_html(rich)) == (TYPED, [])


def test_markup_typed_in_matrix_shows_literally_in_telegram() -> None:
    formatted = escape(TYPED)  # what a client sends for literal text
    rich = from_matrix_html(formatted, TYPED)
    assert rich == RichText(TYPED)
    assert parse_html(to_telegram_html(rich)) == (TYPED, [])


# --------------------------------------------------------------------------------------------
# Normalization
# --------------------------------------------------------------------------------------------


def test_normalize_merges_touching_and_nested_spans_of_the_same_kind() -> None:
    rich = RichText(
        "abcdefgh",
        (Span(4, 6, B), Span(0, 2, B), Span(2, 3, B), Span(1, 8, QUOTE), Span(2, 4, QUOTE)),
    )
    assert normalize(rich).spans == (Span(0, 3, B), Span(1, 8, QUOTE), Span(4, 6, B))


def test_normalize_clips_and_drops_empty_spans_and_empty_links() -> None:
    rich = RichText("abc", (Span(-3, 2, B), Span(2, 9, IT), Span(2, 2, U), Span(0, 3, LINK, "")))
    assert normalize(rich).spans == (Span(0, 2, B), Span(2, 3, IT))


def test_normalize_gives_code_blocks_precedence_and_keeps_links_apart() -> None:
    rich = RichText(
        "0123456789",
        (
            Span(2, 6, CODE),
            Span(4, 8, PRE, "x"),
            Span(0, 10, B),
            Span(0, 3, LINK, "https://a"),
            Span(1, 5, LINK, "https://b"),
            Span(3, 10, QUOTE),
        ),
    )
    assert normalize(rich).spans == (
        Span(0, 2, B),
        Span(0, 2, LINK, "https://a"),
        Span(2, 4, CODE),
        Span(4, 8, PRE, "x"),
        Span(4, 10, QUOTE),
        Span(8, 10, B),
    )


def test_normalize_keeps_values_only_where_they_mean_something() -> None:
    rich = RichText("ab", (Span(0, 1, B, "junk"), Span(1, 2, PRE, "python extra")))
    assert normalize(rich).spans == (Span(0, 1, B), Span(1, 2, PRE, "python"))


def test_escape_leaves_quotes_alone() -> None:
    assert escape('<a href="x">&') == '&lt;a href="x"&gt;&amp;'


def test_normalize_is_idempotent_on_an_example() -> None:
    rich = RichText(
        "abcdef", (Span(0, 6, QUOTE), Span(1, 3, PRE), Span(2, 5, QUOTE), Span(0, 4, B))
    )
    assert normalize(normalize(rich)) == normalize(rich)


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

SPECIAL_CHARACTERS = [
    *"ab <>&\"';#/=\n\t\r",
    "😀",
    "👍🏽",
    "𝔸",
    "مرحبا",
    "\u200f",
    "é",
    "&amp;",
    "<b>",
    "</a>",
    "&lt;",
]
texts = st.lists(
    st.one_of(
        st.sampled_from(SPECIAL_CHARACTERS),
        st.characters(exclude_categories=("Cs",)),
    ),
    max_size=24,
).map("".join)
URLS = [
    "https://example.org/a?b=1&c=2",
    'http://x.y/"q"<\'>',
    "mailto:someone@example.org",
    "tg://resolve?domain=caucus",
    "tg://user?id=77",
    "ftp://example.org",
    "javascript:alert(1)",
    "https://matrix.to/#/@alice:example.org",
]
LANGUAGES = ["", "python", "c++", 'we"ird<x>']
ENTITY_TYPES = [
    "bold",
    "italic",
    "underline",
    "strikethrough",
    "code",
    "pre",
    "text_link",
    "text_mention",
    "blockquote",
    "expandable_blockquote",
    "spoiler",
    "mention",
    "hashtag",
    "url",
    "custom_emoji",
]


def utf16_offsets(text: str) -> list[int]:
    offsets = [0]
    for char in text:
        offsets.append(offsets[-1] + (2 if ord(char) > 0xFFFF else 1))
    return offsets


entity_drafts = st.lists(
    st.tuples(
        st.integers(0, 40),
        st.integers(0, 40),
        st.sampled_from(ENTITY_TYPES),
        st.sampled_from(LANGUAGES),
        st.sampled_from(URLS),
        st.integers(1, 2**40),
    ),
    max_size=6,
)


def telegram_message(text: str, drafts: list[tuple[int, int, str, str, str, int]]) -> Any:
    """Text and entities with valid UTF-16 offsets (never inside a surrogate pair)."""
    offsets = utf16_offsets(text)
    entities = []
    for one, other, kind, language, url, user_id in drafts:
        first, last = sorted((offsets[one % len(offsets)], offsets[other % len(offsets)]))
        entity: dict[str, Any] = {"type": kind, "offset": first, "length": last - first}
        if kind == "pre":
            entity["language"] = language
        elif kind == "text_link":
            entity["url"] = url
        elif kind == "text_mention":
            entity["user"] = {"id": user_id, "is_bot": False, "first_name": "X"}
        entities.append(entity)
    return text, entities


telegram_messages = st.builds(telegram_message, texts, entity_drafts)
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(telegram_messages)
def test_telegram_to_matrix_and_back_keeps_text_and_formatting(
    message: tuple[str, list[dict[str, Any]]],
) -> None:
    text, entities = message
    rich = from_telegram(text, entities)
    assert rich.text == text
    assert normalize(rich) == rich
    in_matrix = matrix_round_trip(rich)
    assert in_matrix == as_matrix_reads_it(rich)
    assert telegram_round_trip(in_matrix) == as_telegram_reads_it(in_matrix)


@PROPERTY
@given(telegram_messages)
def test_telegram_html_and_entities_round_trip(message: tuple[str, list[dict[str, Any]]]) -> None:
    text, entities = message
    rich = from_telegram(text, entities)
    expected = as_telegram_reads_it(rich)
    assert telegram_round_trip(rich) == expected
    assert from_telegram(text, to_telegram_entities(rich)) == expected


span_kinds = st.sampled_from(list(SpanKind))
span_values = st.sampled_from(["", *URLS, "python", "telegram:5", "matrix:@a:b.c", "matrix:@x y:z"])


span_drafts = st.builds(Span, st.integers(-2, 30), st.integers(-2, 30), span_kinds, span_values)
rich_texts = st.builds(
    lambda text, spans: RichText(text, tuple(spans)), texts, st.lists(span_drafts, max_size=8)
)


@PROPERTY
@given(rich_texts)
def test_any_rich_text_renders_to_html_both_platforms_read_back(rich: RichText) -> None:
    normal = normalize(rich)
    assert normalize(normal) == normal
    assert telegram_round_trip(rich) == as_telegram_reads_it(rich)
    assert matrix_round_trip(rich) == as_matrix_reads_it(rich)


TAGS = [
    *[
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "del",
        "s",
        "strike",
        "code",
        "pre",
        "a",
        "blockquote",
        "span",
        "p",
        "div",
        "h1",
        "h3",
        "li",
        "ol",
        "ul",
    ],
    *[
        "tr",
        "td",
        "table",
        "hr",
        "br",
        "img",
        "mx-reply",
        "script",
        "style",
        "font",
        "sup",
        "details",
        "summary",
        "tg-spoiler",
        "x-y",
    ],
]
ATTRIBUTES = [
    "",
    ' href="https://example.org/?a=1&amp;b=2"',
    ' href="javascript:alert(1)"',
    " href='https://matrix.to/#/@bob:example.org'",
    " href=https://matrix.to/#/%23room:example.org",
    ' class="language-python"',
    " data-mx-spoiler",
    ' data-mx-spoiler="a &quot;reason&quot;"',
    ' alt="an &lt;image&gt;" src="mxc://x/y"',
    ' start="7"',
    " title='it\"s'",
    ' x="unclosed',
]
FRAGMENTS = [
    *SPECIAL_CHARACTERS,
    "&#x1F600;",
    "&#0;",
    "&#xD800;",
    "&bogus;",
    "&amp",
    "\n",
    "  ",
    "<",
    ">",
    "</",
    "<!-- comment -->",
    "<!--",
    "<![CDATA[x]]>",
    "<!doctype html>",
    "<?php echo 1 ?>",
    "<b",
    "< b>",
    "</ b>",
]
tag_soup = st.lists(
    st.one_of(
        st.sampled_from(FRAGMENTS),
        st.characters(exclude_categories=("Cs",)),
        st.builds(lambda t, a: f"<{t}{a}>", st.sampled_from(TAGS), st.sampled_from(ATTRIBUTES)),
        st.builds(lambda t: f"</{t}>", st.sampled_from(TAGS)),
        st.builds(lambda t, a: f"<{t}{a}/>", st.sampled_from(TAGS), st.sampled_from(ATTRIBUTES)),
    ),
    max_size=30,
).map("".join)


@PROPERTY
@given(tag_soup, st.sampled_from(["", "body", "  "]))
def test_any_matrix_html_becomes_telegram_html_telegram_accepts(soup: str, body: str) -> None:
    read_matrix_html(soup)  # the parser itself copes, without the fallback to the body
    rich = from_matrix_html(soup, body)
    assert normalize(rich) == rich
    assert not any(0xD800 <= ord(char) <= 0xDFFF for char in rich.text)
    assert telegram_round_trip(rich) == as_telegram_reads_it(rich)
    assert matrix_round_trip(rich) == rich


@pytest.mark.parametrize(
    "soup",
    [
        "<",
        "<b",
        "</b>",
        "<a href='x",
        "<pre><pre>x\n</pre>",
        "<mx-reply>",
        "&",
        "<li></ol>",
        "\x00",
    ],
)
def test_malformed_matrix_html_never_raises(soup: str) -> None:
    rich = from_matrix_html(soup, "fallback")
    parse_html(to_telegram_html(rich))


@PROPERTY
@given(st.text(max_size=60), st.text(max_size=10))
def test_any_string_is_read_without_error(formatted: str, body: str) -> None:
    rich = from_matrix_html(formatted, body)
    assert normalize(rich) == rich
    parse_html(to_telegram_html(rich))


def test_a_maximal_matrix_event_is_converted_quickly() -> None:
    soups = [
        "".join(
            f"<b>x</b> <code>c</code> <a href='https://e.org/{i}'>l</a> <i>y</i>"
            for i in range(900)
        ),
        "<ul><li>" * 6000 + "x",
        "<b><i>" * 6000 + "</x>" * 6000,
        "<b>" + "a<code>c</code>" * 4000,
    ]
    started = time.perf_counter()
    for soup in soups:
        assert len(soup.encode()) <= 65_536  # the largest Matrix event
        rich = from_matrix_html(soup, "")
        to_telegram_html(rich)
        to_matrix_html(rich)
    assert time.perf_counter() - started < 10
