"""Consultations (calls for input, nominations, sessions, registrations), members'
subscriptions to their alerts, and who plans to contribute to a joint submission."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime

KINDS = ("call_for_input", "nomination", "session", "registration", "other")
STATES = ("draft", "published", "withdrawn", "closed")
SUBSCRIPTION_KINDS = ("topic", "region", "country", "group", "all")
INTENTS = ("contribute", "interested")


def _among(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"


class Consultation(Base):
    """One consultation. Lists (topics, regions, countries, working group ids, reminder
    offsets in days) are kept as JSON text; ``source_uid`` is an importer's key (unique)."""

    __tablename__ = "consultations"
    __table_args__ = (
        CheckConstraint(_among("kind", KINDS), name="kind"),
        CheckConstraint(_among("state", STATES), name="state"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str | None] = mapped_column(Text())
    link: Mapped[str | None] = mapped_column(String(500))
    submit_how: Mapped[str | None] = mapped_column(String(500))
    languages: Mapped[str | None] = mapped_column(String(200))
    length_limit: Mapped[str | None] = mapped_column(String(200))
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    time_zone: Mapped[str | None] = mapped_column(String(64))
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    topics: Mapped[str] = mapped_column(Text())
    regions: Mapped[str] = mapped_column(Text())
    countries: Mapped[str] = mapped_column(Text())
    working_groups: Mapped[str] = mapped_column(Text())
    reminder_days: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16), index=True)
    source_uid: Mapped[str | None] = mapped_column(String(500), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ConsultationSubscription(Base):
    """A member's wish for alerts of one topic, region, country, group, or all
    (``value`` empty); ``opted_out``: a group's member who wants none of its alerts."""

    __tablename__ = "consultation_subscriptions"
    __table_args__ = (
        CheckConstraint(_among("kind", SUBSCRIPTION_KINDS), name="kind"),
        UniqueConstraint("member_id", "kind", "value"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(64))
    opted_out: Mapped[bool] = mapped_column(Boolean())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConsultationContribution(Base):
    """A member's answer to an alert: they plan to contribute, or are interested."""

    __tablename__ = "consultation_contributions"
    __table_args__ = (CheckConstraint(_among("intent", INTENTS), name="intent"),)

    consultation_id: Mapped[int] = mapped_column(
        ForeignKey("consultations.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    intent: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
