"""Matrix rendering and reading rules, as pure functions: message content, commands,
numbered choices and their keycap reactions."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

from bot.conversation import strip_direction_marks
from bot.types import Outgoing

COMMAND_PREFIX = "!"
KEYCAPS = (*(f"{n}\ufe0f\u20e3" for n in range(1, 10)), "\N{KEYCAP TEN}")
"""1️⃣ … 9️⃣ and 🔟: reacting with one picks that numbered choice."""

_COMMAND = re.compile(r"^!([A-Za-z0-9_]{1,32})(?:\s+(.*))?$", re.DOTALL)
_BARE = re.compile(r"^([A-Za-z0-9_]{1,32})(?:\s+(.*))?$", re.DOTALL)


def message_content(payload: Mapping[str, Any]) -> dict[str, Any]:
    """An ``m.notice`` with a plain ``body`` and an HTML ``formatted_body``.

    Every character of the text is escaped in the HTML, so a value typed by a member (a
    name with ``<b>`` or ``&``) shows as typed. Choices follow as a numbered list.
    """
    text = str(payload.get("text", ""))
    choices: Sequence[Sequence[str]] = payload.get("choices") or []
    lines = [f"{number}. {label}" for number, (_, label) in enumerate(choices, start=1)]
    body = text + ("\n\n" + "\n".join(lines) if lines else "")
    formatted = html.escape(text, quote=False).replace("\n", "<br>")
    if lines:
        items = "".join(f"<li>{html.escape(label, quote=False)}</li>" for _, label in choices)
        formatted += f"<ol>{items}</ol>"
    return {
        "msgtype": "m.notice",
        "body": body,
        "format": "org.matrix.custom.html",
        "formatted_body": formatted,
    }


def parse_command(
    text: str, *, direct: bool, known: frozenset[str]
) -> tuple[str, tuple[str, ...]] | None:
    """``!name args``; in a direct room also a bare ``name args`` for a known command."""
    stripped = text.strip()
    match = _COMMAND.match(stripped)
    if match is None and direct:
        bare = _BARE.match(stripped)
        if bare is not None and bare.group(1).lower() in known:
            match = bare
    if match is None:
        return None
    return match.group(1).lower(), tuple((match.group(2) or "").split())


def pick_choice(answer: str, choices: Sequence[Sequence[str]]) -> str | None:
    """The value of the choice a typed answer names: its number, or its label's text."""
    cleaned = strip_direction_marks(answer).strip()
    if cleaned.isascii() and cleaned.isdigit() and 1 <= int(cleaned) <= len(choices):
        return choices[int(cleaned) - 1][0]
    wanted = cleaned.casefold()
    for value, label in choices:
        if strip_direction_marks(label).strip().casefold() == wanted:
            return value
    return None


def pick_by_reaction(key: str, choices: Sequence[Sequence[str]]) -> str | None:
    """The value of the choice whose keycap emoji a member reacted with."""
    if key in KEYCAPS:
        index = KEYCAPS.index(key)
        if index < len(choices):
            return choices[index][0]
    return None


def referenced(ref: Any) -> str | None:
    """The event id of a resolved reference (``{"message": id}``), or None."""
    if isinstance(ref, Mapping):
        message = ref.get("message")
        if isinstance(message, str) and message:
            return message
    return None


def with_reply(content: Mapping[str, Any], reply_to: str | None) -> dict[str, Any]:
    """``content`` answering the event ``reply_to`` (a rich reply), when there is one."""
    answered = dict(content)
    if reply_to is not None:
        answered["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    return answered


def edit_content(content: Mapping[str, Any], target: str) -> dict[str, Any]:
    """An ``m.replace`` edit of ``target`` to ``content``, with the ``"* "`` fallback body
    for clients that do not show edits; every other key (the relay marker, ``m.mentions``,
    the sender's profile) stays at the top level too."""
    new = {key: value for key, value in content.items() if key != "m.relates_to"}
    edit: dict[str, Any] = {**new, "body": "* " + str(new.get("body", ""))}
    if isinstance(new.get("formatted_body"), str):
        edit["formatted_body"] = "* " + new["formatted_body"]
    edit["m.new_content"] = new
    edit["m.relates_to"] = {"rel_type": "m.replace", "event_id": target}
    return edit


def matrix_payloads(outgoing: Outgoing) -> list[dict[str, Any]]:
    """One reply as Matrix messages: each file as its own message (its data in base64,
    uploaded when it is sent), then the text with the choices as one message (a room event
    holds up to 64 KiB)."""
    payloads: list[dict[str, Any]] = [
        {
            "file": {
                "filename": media.filename,
                "content_type": media.content_type,
                "data": base64.b64encode(media.data).decode("ascii"),
            }
        }
        for media in outgoing.media
    ]
    if outgoing.text or outgoing.choices or not payloads:
        payloads.append(
            {
                "text": outgoing.text,
                "choices": [[choice.value, choice.label] for choice in outgoing.choices],
            }
        )
    return payloads
