"""What the bot does, one module per capability, written against the neutral types only."""

from __future__ import annotations

from bot.registry import Registry
from handlers import (
    accounts,
    audit,
    cases,
    consultations,
    core,
    health,
    imports,
    joining,
    links,
    members,
    mydata,
    organizations,
    outbox,
    polls,
    profile,
    statements,
)

CAPABILITIES = (
    core,
    profile,
    mydata,
    accounts,
    members,
    organizations,
    joining,
    audit,
    links,
    outbox,
    health,
    cases,
    consultations,
    imports,
    polls,
    statements,
)
"""Every capability module; each exposes ``register(registry)``."""


def register_all(registry: Registry) -> None:
    for capability in CAPABILITIES:
        capability.register(registry)
