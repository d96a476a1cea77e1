"""Scaffold: replaced by its owner's module (see /work/tools/STATEMENTS-SPEC.md)."""

from __future__ import annotations

from bot.registry import Registry


def register(registry: Registry) -> None:
    del registry
