"""Matrix rendering and reading rules as pure functions: planning outgoing items into events,
rendering them as payloads, rows of the version before, commands and choices."""

from __future__ import annotations

from typing import Any

import pytest

from bot.outgoing import (
    Author,
    BotMessage,
    FileSource,
    LegacyRelay,
    MessageRef,
    OutboxRef,
    OutgoingError,
    RelayedDeletion,
    RelayedEdit,
    RelayedMedia,
    RelayedText,
)
from bot.transports.matrix.payloads import (
    MatrixBotFile,
    MatrixEdit,
    MatrixMessage,
    MatrixNotice,
    MatrixPayload,
    MatrixRedaction,
    MatrixRelayFile,
)
from bot.transports.matrix.render import (
    KEYCAPS,
    PROFILE,
    RELAY_MARK,
    message_content,
    parse_command,
    parts,
    pick_by_reaction,
    pick_choice,
    relay_content,
    render,
)
from bot.types import Media, MediaKind, Outgoing, Platform, RenderedChoice, RichText

CHOICES = [["lang:en", "English"], ["lang:es", "Español"], ["lang:ar", "\u200fالعربية"]]
RENDERED = tuple(RenderedChoice(value, label) for value, label in CHOICES)
KNOWN = frozenset({"help", "start", "language"})
ANA = Author("Ana (Telegram)", "k1")


def no_tokens(value: str) -> int:
    raise AssertionError("Matrix stores no choice values")


def test_markup_typed_by_a_member_is_literal_in_body_and_html() -> None:
    content = message_content("Name: <b>Tom</b> & Jerry")
    assert content["msgtype"] == "m.notice"
    assert content["body"] == "Name: <b>Tom</b> & Jerry"
    assert content["formatted_body"] == "Name: &lt;b&gt;Tom&lt;/b&gt; &amp; Jerry"


def test_choices_are_a_numbered_list_in_both_forms() -> None:
    content = message_content("Which language?", RENDERED)
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


# -- planning and rendering outgoing items --------------------------------------------------------


def test_a_reply_with_files_becomes_its_text_then_one_matrix_message_per_file() -> None:
    csv = Media("cases.csv", "text/csv", b"id,country\n1,PE\n")
    reply = Outgoing(Platform.MATRIX, "!r:x", "Your export", "en", media=(csv,))
    text_part, file_part = parts(BotMessage.of(reply), no_tokens)
    assert render(file_part) == MatrixBotFile(csv)
    assert text_part == BotMessage("Your export")
    only_file = Outgoing(Platform.MATRIX, "!r:x", "", "en", media=(csv,))
    assert parts(BotMessage.of(only_file), no_tokens) == [BotMessage("", media=(csv,))]
    choices = (RenderedChoice("yes", "Yes"),)
    plain = Outgoing(Platform.MATRIX, "!r:x", "Sure?", "en", choices=choices)
    assert parts(BotMessage.of(plain), no_tokens) == [BotMessage("Sure?", choices)]
    assert render(BotMessage("Sure?", choices)) == MatrixNotice(
        message_content("Sure?", choices), (("yes", "Yes"),)
    )
    with pytest.raises(OutgoingError):
        render(BotMessage("Your export", media=(csv,)))


def test_relayed_text_carries_its_author_as_a_profile_and_in_the_text() -> None:
    text = RelayedText(ANA, Platform.TELEGRAM, RichText("<hi>"), MessageRef("$q"))
    (part,) = parts(text, no_tokens)
    payload = render(part)
    assert payload == MatrixMessage(relay_content(ANA, Platform.TELEGRAM, text.rich), "$q")
    assert isinstance(payload, MatrixMessage)
    content = payload.content
    assert content["body"] == "Ana (Telegram): <hi>"
    assert content["formatted_body"].endswith(": </strong>&lt;hi&gt;")
    assert content[PROFILE] == {"id": "k1", "displayname": "Ana (Telegram)", "has_fallback": True}
    assert content[RELAY_MARK] == {"platform": "telegram", "sender": "k1"}
    unresolved = render(RelayedText(ANA, Platform.TELEGRAM, RichText("x"), OutboxRef(3)))
    assert isinstance(unresolved, MatrixMessage) and unresolved.reply_to is None


def test_a_caption_edit_follows_as_an_answer_and_a_text_edit_replaces() -> None:
    edit = RelayedEdit(ANA, "Ana, edited", Platform.TELEGRAM, RichText("new"), MessageRef("$c"))
    (replacing,) = parts(edit, no_tokens)
    assert render(replacing) == MatrixEdit(
        relay_content(ANA, Platform.TELEGRAM, RichText("new")), "$c"
    )
    caption = RelayedEdit(
        ANA, "Ana, edited", Platform.TELEGRAM, RichText("new"), MessageRef("$c"), of_caption=True
    )
    (answer,) = parts(caption, no_tokens)
    assert answer == RelayedText(
        Author("Ana, edited", "k1"), Platform.TELEGRAM, RichText("new"), MessageRef("$c"), False
    )
    assert render(RelayedDeletion(MessageRef("$c"), "gone")) == MatrixRedaction("$c")


def test_a_relayed_file_is_named_typed_and_has_a_fallback() -> None:
    voice = RelayedMedia(
        author=ANA,
        origin=Platform.TELEGRAM,
        kind=MediaKind.VOICE,
        source=FileSource(Platform.TELEGRAM, "file-id", None, "audio/ogg", 300),
        caption=RichText(""),
        unavailable_note="a voice message that cannot be relayed",
    )
    payload = render(voice)
    assert isinstance(payload, MatrixRelayFile)
    assert payload.source == FileSource(Platform.TELEGRAM, "file-id", "voice.ogg", "audio/ogg", 300)
    assert (payload.content["msgtype"], payload.content["body"]) == (
        "m.audio",
        "Ana (Telegram): voice.ogg",
    )
    assert payload.content["info"] == {"mimetype": "audio/ogg", "size": 300}
    assert "org.matrix.msc3245.voice" in payload.content
    assert payload.fallback["body"] == "Ana (Telegram): a voice message that cannot be relayed"


# -- rows queued by the version before typed items ------------------------------------------------

CONTENT = {"msgtype": "m.text", "body": "Ana: hi", RELAY_MARK: {"platform": "telegram"}}


@pytest.mark.parametrize(
    ("stored", "payload"),
    [
        (
            {"relay": "text", "content": CONTENT, "reply_to": {"message": "$q"}},
            MatrixMessage(CONTENT, "$q"),
        ),
        ({"relay": "edit", "target": None, "content": CONTENT}, MatrixEdit(CONTENT, None)),
        ({"relay": "delete", "target": {"message": "$q"}}, MatrixRedaction("$q")),
        (
            {
                "relay": "media",
                "kind": "photo",
                "source": {"platform": "telegram", "ref": "f", "filename": "a.jpg", "size": None},
                "content": CONTENT,
                "reply_to": None,
                "fallback": CONTENT,
            },
            MatrixRelayFile(FileSource(Platform.TELEGRAM, "f", "a.jpg"), CONTENT, CONTENT),
        ),
    ],
)
def test_a_relayed_message_queued_before_the_upgrade_is_sent_as_that_version_stored_it(
    stored: dict[str, Any], payload: MatrixPayload
) -> None:
    assert render(LegacyRelay(stored)) == payload


def test_an_unreadable_earlier_payload_is_a_clear_error() -> None:
    with pytest.raises(OutgoingError, match="unknown kind 'poll'"):
        render(LegacyRelay({"relay": "poll"}))
    with pytest.raises(OutgoingError, match="KeyError"):
        render(LegacyRelay({"relay": "media", "content": {}}))
