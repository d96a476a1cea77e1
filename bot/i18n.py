"""Localized rendering of neutral replies from the gettext catalogs in ``locales/``.

Catalog entries use message ids as keys (``start.welcome``) and Python format fields
(``{name}``) as placeholders. An entry that states a count is a plural entry (``msgid``
and ``msgid_plural`` both the key, one ``msgstr[i]`` per form); the form for a count comes
from the catalog's ``Plural-Forms`` header, as gettext picks it. Rendering is a pure
function of a reply and a language.
"""

from __future__ import annotations

import gettext
import logging
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from bot.territories import territory_name
from bot.types import (
    Choice,
    CommandRef,
    Lines,
    Literal,
    Message,
    Outgoing,
    ParamValue,
    Platform,
    PollView,
    RenderedChoice,
    RenderedPoll,
    Reply,
    Territory,
    Text,
)
from locales import REFERENCE_LANGUAGE, RIGHT_TO_LEFT, SUPPORTED_LANGUAGES, catalog_path

log = logging.getLogger(__name__)

RLM = "\u200f"
"""Right-to-left mark: starts each line of a right-to-left reply so clients align it right."""
FSI = "\u2068"
PDI = "\u2069"
"""First-strong isolate and pop: keep a name or number from reordering the text around it."""

IDENTIFIERS = frozenset({"number"})
"""Placeholders whose whole numbers name something (case 1234, member 1234), shown
without the locale's grouping so that what a member reads is what they can type back."""

COMMAND_PREFIX: Mapping[Platform, str] = {
    Platform.CONSOLE: "/",
    Platform.TELEGRAM: "/",
    Platform.MATRIX: "!",
}


class MissingMessage(KeyError):
    """A catalog key that no catalog defines: a programming error, caught by the tests."""


Entry = str | tuple[str, ...]
"""A catalog text, or a plural entry's forms in the order its ``Plural-Forms`` numbers them."""

PluralRule = Callable[[int], int]
"""The index of the plural form a count takes in one language."""


def read_catalog(path: Path) -> dict[str, Entry]:
    """Read one ``.po`` file into ``{message id: text or plural forms}``; untranslated
    entries (and plural entries missing a form) are left out."""
    with path.open("rb") as handle:
        catalog = read_po(handle)
    entries: dict[str, Entry] = {}
    for message in catalog:
        key = message.id[0] if isinstance(message.id, tuple | list) else message.id
        if not key:
            continue
        if isinstance(message.string, tuple | list):
            forms = tuple(message.string)
            if len(forms) == catalog.num_plurals and all(forms):
                entries[key] = forms
        elif isinstance(message.string, str) and message.string:
            entries[key] = message.string
    return entries


def read_plural_forms(path: Path) -> tuple[int, str]:
    """The number of plural forms and the C expression choosing one, from the header."""
    with path.open("rb") as handle:
        catalog = read_po(handle)
    return catalog.num_plurals, catalog.plural_expr


def plural_rule(expression: str) -> PluralRule:
    """The gettext ``plural=`` expression as a function of the count."""
    return gettext.c2py(expression)


def placeholders(template: Entry) -> frozenset[str]:
    """The named fields a catalog text (or all forms of a plural entry) uses."""
    forms = (template,) if isinstance(template, str) else template
    return frozenset(
        field
        for form in forms
        for _, field, _, _ in string.Formatter().parse(form)
        if field is not None
    )


@dataclass(frozen=True)
class Catalogs:
    """All loaded catalogs; English is the fallback when a language lacks a key."""

    entries: Mapping[str, Mapping[str, Entry]]
    plurals: Mapping[str, PluralRule]

    @classmethod
    def load(cls, languages: Iterable[str] = SUPPORTED_LANGUAGES) -> Catalogs:
        paths = {language: catalog_path(language) for language in languages}
        return cls(
            {language: read_catalog(path) for language, path in paths.items()},
            {language: plural_rule(read_plural_forms(path)[1]) for language, path in paths.items()},
        )

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.entries)

    def template(self, language: str, key: str, count: int | None = None) -> str:
        """The text of ``key`` in ``language``; ``key@xx`` takes it from language ``xx``.

        The ``@`` form names a language in itself (``language.native_name@ar``). A plural
        entry needs ``count`` and gives the form the language's rule picks for it.
        """
        key, _, pinned = key.partition("@")
        if pinned:
            language = pinned
        found = self.entries.get(language, {}).get(key)
        if found is None:
            found = self.entries.get(REFERENCE_LANGUAGE, {}).get(key)
            if found is None:
                raise MissingMessage(key)
            log.warning("catalog_fallback language=%s key=%s", language, key)
            language = REFERENCE_LANGUAGE
        if isinstance(found, str):
            return found
        if count is None:
            raise MissingMessage(f"{key}: a plural entry needs a count (Message.counted)")
        return found[self.plural_form(language, count)]

    def plural_form(self, language: str, count: int) -> int:
        """The index of the form ``count`` takes in ``language``'s plural entries."""
        return self.plurals[language](abs(count))

    def renderer(self, language: str, platform: Platform) -> Renderer:
        return Renderer(self, language, platform)

    def render_reply(
        self,
        reply: Reply,
        language: str,
        platform: Platform,
        room_id: str,
        *,
        private_to: str | None = None,
    ) -> Outgoing:
        """``private_to``: the account a confidential reply is for (see :class:`Outgoing`);
        it carries, in the same language, what is said instead where the room is no longer
        private."""
        renderer = self.renderer(language, platform)
        return Outgoing(
            platform=platform,
            room_id=room_id,
            text=renderer.text(reply.text),
            language=language,
            right_to_left=renderer.right_to_left,
            choices=tuple(renderer.choice(choice) for choice in reply.choices),
            media=reply.media,
            cases=reply.cases,
            private_to=private_to,
            withheld_note=(
                "" if private_to is None else renderer.text(Message.of("privacy.withheld"))
            ),
            keeps_choices=reply.keeps_choices,
            poll=None if reply.poll is None else renderer.poll(reply.poll),
            post=reply.post,
            edits=reply.edits,
            ends_poll=reply.ends_poll,
        )


@dataclass(frozen=True)
class Renderer:
    """Renders neutral texts into one language for one platform."""

    catalogs: Catalogs
    language: str
    platform: Platform

    @property
    def right_to_left(self) -> bool:
        return self.language in RIGHT_TO_LEFT

    def text(self, text: Text) -> str:
        body = self._inline(text)
        if not self.right_to_left:
            return body
        return "\n".join(RLM + line if line else line for line in body.split("\n"))

    def choice(self, choice: Choice) -> RenderedChoice:
        return RenderedChoice(value=choice.value, label=self.text(choice.label))

    def poll(self, poll: PollView) -> RenderedPoll:
        """A poll's question and options as the platform shows them: plain text, one line
        each (a native poll has no formatting)."""
        return RenderedPoll(
            question=self._inline(poll.question),
            options=tuple(self._inline(option) for option in poll.options),
            choice_values=poll.choice_values,
            max_selections=poll.max_selections,
            disclosed=poll.disclosed,
            closes_at=poll.closes_at,
        )

    def label(self, label: Message | Literal) -> str:
        """The plain text of a choice label, for matching what a member typed."""
        return self._inline(label)

    def _inline(self, text: Text) -> str:
        if isinstance(text, Literal):
            return text.text
        if isinstance(text, Lines):
            return "\n".join(self._inline(item) for item in text.items)
        template = self.catalogs.template(self.language, text.key, text.count)
        values = {name: self._value(value, name) for name, value in text.params}
        try:
            return template.format_map(values)
        except (KeyError, IndexError, ValueError) as error:
            raise MissingMessage(f"{text.key}: bad placeholder {error}") from error

    def _value(self, value: ParamValue, name: str = "") -> str:
        if isinstance(value, Message | Lines):
            return self._inline(value)
        if isinstance(value, CommandRef):
            shown = COMMAND_PREFIX[self.platform] + value.name
        elif isinstance(value, Territory):
            try:
                shown = territory_name(value.code, self.language)
            except KeyError:  # a code CLDR no longer names: shown as stored
                shown = value.code
        elif isinstance(value, Literal):
            shown = value.text
        elif isinstance(value, bool):
            shown = str(value)
        elif isinstance(value, int) and name in IDENTIFIERS:
            # A case or member number is a name, typed back as it is shown: never grouped.
            shown = format_decimal(value, locale=self.language, group_separator=False)
        elif isinstance(value, int | float):
            shown = format_decimal(value, locale=self.language)
        else:
            shown = value
        return self._isolate(shown)

    def _isolate(self, shown: str) -> str:
        # In a right-to-left reply a Latin name or a number would otherwise pull the
        # punctuation around it to the wrong side; isolates keep each value in place.
        return f"{FSI}{shown}{PDI}" if self.right_to_left else shown
