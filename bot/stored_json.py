"""Typed reading of JSON the bot stored itself (inbox events, outbox items): each field is
checked for its type, and a failure names the kind and the field."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any, ClassVar, Self, TypeVar

from bot.types import Span, SpanKind

_Named = TypeVar("_Named", bound=Enum)


class StoredFields:
    """Typed access to a stored object's fields; subclasses name the error they raise and add
    readers for their own nested values."""

    error: ClassVar[type[ValueError]] = ValueError

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self.data = data
        self.where = where

    def has(self, name: str) -> bool:
        """Whether the field is there and not null."""
        return self.data.get(name) is not None

    def _get(self, name: str, kind: type, what: str) -> Any:
        if name not in self.data:
            raise self.error(f"{self.where}: field {name!r} is missing")
        value = self.data[name]
        # JSON's true and false are no numbers here, though Python's bool is an int.
        if type(value) is not kind:
            raise self.error(f"{self.where}: field {name!r} is not {what}")
        return value

    def text(self, name: str) -> str:
        value: str = self._get(name, str, "text")
        return value

    def optional_text(self, name: str) -> str | None:
        return self.text(name) if self.has(name) else None

    def integer(self, name: str) -> int:
        value: int = self._get(name, int, "a whole number")
        return value

    def optional_integer(self, name: str) -> int | None:
        return self.integer(name) if self.has(name) else None

    def flag(self, name: str) -> bool:
        value: bool = self._get(name, bool, "true or false")
        return value

    def entries(self, name: str) -> list[Any]:
        value: list[Any] = self._get(name, list, "a list")
        return value

    def texts(self, name: str) -> tuple[str, ...]:
        entries = self.entries(name)
        if not all(type(entry) is str for entry in entries):
            raise self.error(f"{self.where}: field {name!r} is not a list of texts")
        return tuple(entries)

    def nested(self, name: str) -> Self:
        value: Mapping[str, Any] = self._get(name, dict, "an object")
        return type(self)(value, f"{self.where}.{name}")

    def optional_nested(self, name: str) -> Self | None:
        return self.nested(name) if self.has(name) else None

    def named(self, name: str, enum: type[_Named]) -> _Named:
        """A member of ``enum`` stored by its value."""
        value = self.text(name)
        try:
            return enum(value)
        except ValueError:
            raise self.error(f"{self.where}: field {name!r} is no {enum.__name__}") from None

    def tuple_entry(self, name: str, entry: Any, noun: str, names: tuple[str, ...]) -> Self:
        """One entry of the list field ``name``, stored as a list for brevity (a span as
        ``[start, end, kind, value]``), read as named fields."""
        if not (isinstance(entry, list) and len(entry) == len(names)):
            raise self.error(f"{self.where}.{name}: a {noun} is not [{', '.join(names)}]")
        return type(self)(dict(zip(names, entry, strict=True)), f"{self.where}.{name}")

    def spans(self, name: str) -> tuple[Span, ...]:
        """Formatting spans, each stored as ``[start, end, kind, value]``."""
        spans = []
        for entry in self.entries(name):
            span = self.tuple_entry(name, entry, "span", ("start", "end", "kind", "value"))
            spans.append(
                Span(
                    span.integer("start"),
                    span.integer("end"),
                    span.named("kind", SpanKind),
                    span.text("value"),
                )
            )
        return tuple(spans)
