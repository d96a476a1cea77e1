"""What the store hands out and takes in for case reports: frozen values, no SQLAlchemy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from storage.case_contents import CaseContents


class CaseStatus(StrEnum):
    """Where a report is in the coordinators' review."""

    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    NEEDS_INFO = "needs_info"
    VERIFIED = "verified"
    PUBLISHED = "published"
    ARCHIVED = "archived"
    REJECTED = "rejected"


class AttachmentStatus(StrEnum):
    PENDING = "pending"
    """Known by the platform's reference; the file is still to be fetched."""
    STORED = "stored"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class NewCase:
    """A report as submitted: the classification in the clear, everything else in
    ``contents`` (sealed), the evidence files by their platform references."""

    working_group_id: int
    author_member_id: int
    urgent: bool
    country: str
    region: str
    sector: str
    started: str
    ongoing: bool
    rights: tuple[str, ...]
    contents: CaseContents
    attachments: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    """``(platform, source)`` per file; ``source`` holds the reference, name and type."""


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """One report as a list shows it: the classification and its title."""

    id: int
    working_group_id: int
    author_member_id: int
    status: CaseStatus
    urgent: bool
    country: str
    sector: str
    started: str
    ongoing: bool
    rights: tuple[str, ...]
    title: str
    submitted_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    id: int
    status: AttachmentStatus
    platform: str
    filename: str | None
    content_type: str | None
    size: int | None


@dataclass(frozen=True, slots=True)
class CaseEventRecord:
    kind: str
    """"status", "question" or "answer"."""
    status: CaseStatus | None
    actor_member_id: int | None
    text: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CaseDetail:
    """One report in full, contents opened: what its author and its coordinators read."""

    summary: CaseSummary
    contents: CaseContents
    attachments: tuple[AttachmentInfo, ...]
    events: tuple[CaseEventRecord, ...]


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """Which reports a coordinator lists; ``None`` leaves a criterion open."""

    status: CaseStatus | None = None
    country: str | None = None
    sector: str | None = None
    right: str | None = None
    urgent: bool | None = None


@dataclass(frozen=True, slots=True)
class CaseStatistics:
    """The counts a collective report opens with; each list is (key, count), largest first."""

    total: int
    countries: int
    by_region: tuple[tuple[str, int], ...]
    by_country: tuple[tuple[str, int], ...]
    by_sector: tuple[tuple[str, int], ...]
    by_right: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class PendingAttachment:
    """An evidence file still to be fetched from its platform."""

    id: int
    case_id: int
    platform: str
    source: Mapping[str, Any] = field(repr=False)
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class AttachmentFile:
    info: AttachmentInfo
    case_id: int
    data: bytes = field(repr=False)
