"""What a case report says beyond its classification: the one place its parts are named.

The intake asks one question per field, named after it; the store seals the record at rest
as one JSON document whose keys are these names; the review shows the fields and the export
carries them as columns of the same names. The classification that statistics count
(country, sector, rights, when it started, whether it goes on, urgency) is not in here: it is
stored in the clear, in :class:`storage.case_records.NewCase` and ``CaseSummary``.

It lives in ``storage`` because the store takes it in and hands it out, and storage may not
import handlers; the case handlers import it from here, as they do the other case records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeAlias

Json: TypeAlias = Any
"""A value as the sealed JSON document holds it (str, int, None, lists and dicts of those)."""


@dataclass(frozen=True, slots=True)
class Company:
    """A company the report names, and its part in what happened (an option key)."""

    name: str
    role: str
    country: str | None = None
    """An ISO 3166 code, when the reporter knew it."""

    def to_data(self) -> dict[str, Json]:
        return {"name": self.name, "role": self.role, "country": self.country}

    @classmethod
    def from_data(cls, data: Mapping[str, Json]) -> Company:
        return cls(
            name=str(data.get("name") or ""),
            role=str(data.get("role") or ""),
            country=_text(data.get("country")),
        )

    @classmethod
    def all_from_data(cls, value: Json) -> tuple[Company, ...]:
        """The companies in a stored list (or a step's answer); anything else is skipped."""
        items = value if isinstance(value, list | tuple) else ()
        return tuple(cls.from_data(item) for item in items if isinstance(item, Mapping))


@dataclass(frozen=True, slots=True)
class CaseContents:
    """Everything confidential a report says, sealed at rest; readable only by its author
    and its working group's coordinators. Option fields hold option keys
    (``handlers.cases.options``); an unanswered question is ``None`` or empty."""

    reporter: str | None = None
    organization: str | None = None
    """The reporting organization; exported only with the reporter's leave to name it."""
    naming: str | None = None
    """Whether the reporter may be named: public, network, never."""
    title: str = ""
    locality: str | None = None
    companies: tuple[Company, ...] = ()
    affected: str | None = None
    affected_count: int | None = None
    affected_groups: tuple[str, ...] = ()
    narrative: str | None = None
    state_role: tuple[str, ...] = ()
    steps_taken: tuple[str, ...] = ()
    steps_outcome: str | None = None
    remedy: str | None = None
    publication: str | None = None
    """How far the report may be shared: internal, network, anonymous, named."""
    follow_up: str | None = None
    links: tuple[str, ...] = ()
    """Evidence given as web links (files are attachments of their own)."""
    language: str | None = None
    """The language the author wrote in."""
    channel: str | None = None
    """Where the author typed it: console, telegram, matrix_encrypted, or
    matrix_unencrypted (a Matrix room in the clear, by the author's explicit choice)."""

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(part.name for part in fields(cls))

    def to_data(self) -> dict[str, Json]:
        """The JSON document sealed at rest: every field under its own name."""
        return {name: _plain(getattr(self, name)) for name in self.field_names()}

    @classmethod
    def from_data(cls, data: Mapping[str, Json]) -> CaseContents:
        """Read a sealed document, or a report's answers: each field from the key of its name;
        other keys are ignored and missing ones left empty."""
        values = {
            part.name: _READERS[str(part.type)](data[part.name])
            for part in fields(cls)
            if part.name in data
        }
        return cls(**values)


def _text(value: Json) -> str | None:
    return None if value is None else str(value)


def _whole_number(value: Json) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _names(value: Json) -> tuple[str, ...]:
    return tuple(str(item) for item in value) if isinstance(value, list | tuple) else ()


def _plain(value: object) -> Json:
    if isinstance(value, Company):
        return value.to_data()
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


_READERS: dict[str, Callable[[Json], Json]] = {
    "str": lambda value: "" if value is None else str(value),
    "str | None": _text,
    "int | None": _whole_number,
    "tuple[str, ...]": _names,
    "tuple[Company, ...]": Company.all_from_data,
}
"""How a stored value is read, by the declared type of its field."""

_UNREADABLE = [part.name for part in fields(CaseContents) if str(part.type) not in _READERS]
if _UNREADABLE:  # a new field of a new type: say how to read it above
    raise TypeError(f"CaseContents fields of a type with no reader: {_UNREADABLE}")
