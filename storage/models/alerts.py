"""Urgent alerts that no coordinator could receive when their report was filed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime


class WaitingUrgentAlert(Base):
    """An urgent report's alert kept until a coordinator (or failing them a network admin)
    next writes to the bot; then the one who got it and when. One per report."""

    __tablename__ = "waiting_urgent_alerts"
    __table_args__ = (Index("ix_waiting_urgent_alerts_delivered_at", "delivered_at"),)

    case_id: Mapped[int] = mapped_column(
        ForeignKey("case_reports.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_to_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )
