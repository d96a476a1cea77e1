"""Urgent alerts that no coordinator could receive: ``store.urgent_alerts``.

A report filed as urgent whose coordinators the bot cannot write to keeps its alert here,
made in the unit of work that files the report. It waits until someone who may receive it
writes to the bot; :meth:`UrgentAlertStore.claim` then marks it delivered to that member,
once, in the unit of work that queues the alert to them. Withdrawing the report drops it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import CaseReport, WaitingUrgentAlert
from storage.units import Area
from storage.validation import check_int


@dataclass(frozen=True, slots=True)
class WaitingAlert:
    """An urgent report's alert nobody has received yet: its case, its group, since when."""

    case_id: int
    working_group_id: int
    since: datetime


class UrgentAlertStore(Area):
    """The urgent alerts waiting for a coordinator (``store.urgent_alerts``)."""

    def keep(self, case_id: int) -> None:
        """Keep the alert of report ``case_id`` until someone can receive it."""
        check_int("case id", case_id, minimum=1)
        now = self._now()

        def keep_in(session: Session) -> None:
            if session.get(WaitingUrgentAlert, case_id) is None:
                session.add(WaitingUrgentAlert(case_id=case_id, created_at=now))

        self._run(keep_in)

    def waiting(self, group_ids: Sequence[int] | None = None) -> list[WaitingAlert]:
        """The alerts not yet delivered, oldest first: of ``group_ids``, or of every group."""
        return self._run(_waiting_in, None if group_ids is None else tuple(group_ids))

    def claim(self, case_id: int, member_id: int) -> bool:
        """Mark the alert delivered to ``member_id`` now; False when it is no longer waiting
        (someone else got it first, or the report was withdrawn). Of two members writing at
        once, one gets it: the update takes the row only while it is undelivered."""
        check_int("case id", case_id, minimum=1)
        check_int("member id", member_id, minimum=1)
        now = self._now()

        def claim_in(session: Session) -> bool:
            taken = session.execute(
                update(WaitingUrgentAlert)
                .where(
                    WaitingUrgentAlert.case_id == case_id,
                    WaitingUrgentAlert.delivered_at.is_(None),
                )
                .values(delivered_at=now, delivered_to_member_id=member_id)
            )
            return bool(getattr(taken, "rowcount", 0))

        return self._run(claim_in)


def _waiting_in(session: Session, group_ids: tuple[int, ...] | None) -> list[WaitingAlert]:
    query = (
        select(
            WaitingUrgentAlert.case_id, CaseReport.working_group_id, WaitingUrgentAlert.created_at
        )
        .join(CaseReport, CaseReport.id == WaitingUrgentAlert.case_id)
        .where(WaitingUrgentAlert.delivered_at.is_(None))
        .order_by(WaitingUrgentAlert.created_at, WaitingUrgentAlert.case_id)
    )
    if group_ids is not None:
        query = query.where(CaseReport.working_group_id.in_(group_ids))
    return [
        WaitingAlert(case_id, group_id, since)
        for case_id, group_id, since in session.execute(query)
    ]
