"""Connecting one person's accounts: the one-time codes, and the wrong tries counted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime


class ConnectCode(Base):
    """A code a member asked for with ``/connect``, to type from another account. Only a
    keyed digest of it is kept, never the code; it is deleted when used."""

    __tablename__ = "connect_codes"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    """HMAC-SHA256 of the code (hex), keyed by the installation's secret."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ConnectFailure(Base):
    """A wrong code typed from one account: at most a few an hour are tried."""

    __tablename__ = "connect_failures"
    __table_args__ = (
        Index("ix_connect_failures_identity_id_at", "identity_id", "at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
