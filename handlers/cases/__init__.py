"""Case reports: the confidential intake of an alleged abuse, its review, exports and counts.

- :mod:`handlers.cases.intake`: ``/report``, the guided, resumable conversation that files one.
- :mod:`handlers.cases.review`: who may read a report, the review workflow, the author's side.
- :mod:`handlers.cases.export`: a working group's reports in bulk, exports and statistics.
- :mod:`handlers.cases.urgent`: urgent alerts that waited for a coordinator to write.
- :mod:`handlers.cases.options`: the fixed lists a report is classified by, and its parsers.
"""

from __future__ import annotations

from bot.registry import Registry
from handlers.cases import export, intake, review, urgent


def register(registry: Registry) -> None:
    intake.register(registry)
    review.register(registry)
    export.register(registry)
    urgent.register(registry)
