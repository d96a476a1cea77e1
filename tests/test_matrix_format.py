"""Matrix rendering and reading rules as pure functions."""

from __future__ import annotations

from bot.transports.matrix.render import (
    KEYCAPS,
    message_content,
    parse_command,
    pick_by_reaction,
    pick_choice,
)

CHOICES = [["lang:en", "English"], ["lang:es", "Español"], ["lang:ar", "\u200fالعربية"]]
KNOWN = frozenset({"help", "start", "language"})


def test_markup_typed_by_a_member_is_literal_in_body_and_html() -> None:
    content = message_content({"text": "Name: <b>Tom</b> & Jerry", "choices": []})
    assert content["msgtype"] == "m.notice"
    assert content["body"] == "Name: <b>Tom</b> & Jerry"
    assert content["formatted_body"] == "Name: &lt;b&gt;Tom&lt;/b&gt; &amp; Jerry"


def test_choices_are_a_numbered_list_in_both_forms() -> None:
    content = message_content({"text": "Which language?", "choices": CHOICES})
    assert content["body"].endswith("1. English\n2. Español\n3. \u200fالعربية")
    assert content["formatted_body"].count("<li>") == 3


def test_bang_commands_are_read_anywhere() -> None:
    assert parse_command("!Help", direct=False, known=KNOWN) == ("help", ())
    assert parse_command("!language es", direct=False, known=KNOWN) == ("language", ("es",))


def test_bare_commands_only_in_a_direct_room_and_only_known_ones() -> None:
    assert parse_command("help", direct=True, known=KNOWN) == ("help", ())
    assert parse_command("help", direct=False, known=KNOWN) is None
    assert parse_command("hello", direct=True, known=KNOWN) is None


def test_a_number_or_a_label_picks_a_choice() -> None:
    assert pick_choice("2", CHOICES) == "lang:es"
    assert pick_choice(" español ", CHOICES) == "lang:es"
    assert pick_choice("العربية", CHOICES) == "lang:ar"
    assert pick_choice("4", CHOICES) is None
    assert pick_choice("²", CHOICES) is None


def test_a_keycap_reaction_picks_its_choice() -> None:
    assert pick_by_reaction(KEYCAPS[0], CHOICES) == "lang:en"
    assert pick_by_reaction(KEYCAPS[5], CHOICES) is None
    assert pick_by_reaction("\N{THUMBS UP SIGN}", CHOICES) is None
