"""What the bot does, one module per capability, written against the neutral types only."""

from __future__ import annotations

from bot.registry import Registry
from handlers import cases, core, health, links, members, mydata, outbox, profile

CAPABILITIES = (core, profile, mydata, members, links, outbox, health, cases)
"""Every capability module; each exposes ``register(registry)``."""


def register_all(registry: Registry) -> None:
    for capability in CAPABILITIES:
        capability.register(registry)
