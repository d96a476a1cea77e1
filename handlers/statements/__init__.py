"""Joint statements: drafted by coordinators (:mod:`handlers.statements.create`), changed by
versions and translated (:mod:`handlers.statements.versions`), read
(:mod:`handlers.statements.views`), signed on by member organizations
(:mod:`handlers.statements.signing`, :mod:`handlers.statements.answering`,
:mod:`handlers.statements.forwarding`, :mod:`handlers.statements.reminders`,
:mod:`handlers.statements.questions`), closed and
their signatory list made ready to publish (:mod:`handlers.statements.closing`,
:mod:`handlers.statements.signatories`). What they share is
:mod:`handlers.statements.common`."""

from __future__ import annotations

from bot.registry import Registry
from handlers.statements import (
    answering,
    closing,
    create,
    questions,
    reminders,
    signatories,
    versions,
    views,
)


def register(registry: Registry) -> None:
    create.register(registry)
    views.register(registry)
    versions.register(registry)
    answering.register(registry)
    reminders.register(registry)
    questions.register(registry)
    closing.register(registry)
    signatories.register(registry)
