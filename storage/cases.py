"""Case reports behind named queries: filing, reading, reviewing, counting, evidence.

:class:`CaseStore` is reached as ``store.cases``; like the store, each method is one
transaction (or joins the open unit of work) and hands out frozen records. Contents,
evidence and history texts are sealed by their column types (:mod:`storage.sealing`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, select, true, update
from sqlalchemy.orm import Session

from bot.types import Platform
from storage.case_contents import CaseContents
from storage.case_records import (
    AttachmentFile,
    AttachmentInfo,
    AttachmentStatus,
    CaseDetail,
    CaseEventRecord,
    CaseFilter,
    CaseStatistics,
    CaseStatus,
    CaseSummary,
    NewCase,
    PendingAttachment,
)
from storage.errors import NotFoundError
from storage.models import (
    CaseAttachment,
    CaseContent,
    CaseEvent,
    CaseReport,
    CaseRight,
    WaitingUrgentAlert,
)
from storage.outbox import drop_pending_for_case_in, files_waiting_in
from storage.units import Area
from storage.validation import check_aware, check_int, check_text

PAGE_LIMIT = 100
ATTACHMENT_LIMIT = 50 * 1024 * 1024


def _encode(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")


def _decode(data: bytes | None) -> Any:
    return None if data is None else json.loads(data.decode("utf-8"))


def _rights_of(session: Session, case_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    found: dict[int, list[str]] = {case_id: [] for case_id in case_ids}
    if case_ids:
        rows = session.execute(
            select(CaseRight.case_id, CaseRight.right)
            .where(CaseRight.case_id.in_(case_ids))
            .order_by(CaseRight.case_id, CaseRight.right)
        )
        for case_id, right in rows:
            found[case_id].append(right)
    return {case_id: tuple(rights) for case_id, rights in found.items()}


def _contents_of(session: Session, case_ids: Sequence[int]) -> dict[int, CaseContents]:
    found = {case_id: CaseContents() for case_id in case_ids}
    if case_ids:
        for row in session.scalars(select(CaseContent).where(CaseContent.case_id.in_(case_ids))):
            data = _decode(row.contents)
            found[row.case_id] = CaseContents.from_data(data if isinstance(data, dict) else {})
    return found


def _summary(row: CaseReport, rights: tuple[str, ...], contents: CaseContents) -> CaseSummary:
    return CaseSummary(
        id=row.id,
        working_group_id=row.working_group_id,
        author_member_id=row.author_member_id,
        status=CaseStatus(row.status),
        urgent=row.urgent,
        country=row.country,
        sector=row.sector,
        started=row.started,
        ongoing=row.ongoing,
        rights=rights,
        title=contents.title,
        submitted_at=row.submitted_at,
        updated_at=row.updated_at,
    )


def _attachment_info(row: CaseAttachment) -> AttachmentInfo:
    source = _decode(row.source) or {}
    return AttachmentInfo(
        id=row.id,
        status=AttachmentStatus(row.status),
        platform=row.platform,
        filename=source.get("filename"),
        content_type=source.get("content_type"),
        size=row.size if row.size is not None else source.get("size"),
    )


def _detail(session: Session, row: CaseReport) -> CaseDetail:
    contents = _contents_of(session, [row.id])[row.id]
    rights = _rights_of(session, [row.id])[row.id]
    attachments = session.scalars(
        select(CaseAttachment).where(CaseAttachment.case_id == row.id).order_by(CaseAttachment.id)
    )
    events = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == row.id).order_by(CaseEvent.id)
    )
    return CaseDetail(
        summary=_summary(row, rights, contents),
        contents=contents,
        attachments=tuple(_attachment_info(attachment) for attachment in attachments),
        events=tuple(
            CaseEventRecord(
                kind=event.kind,
                status=None if event.status is None else CaseStatus(event.status),
                actor_member_id=event.actor_member_id,
                text=None if event.text is None else event.text.decode("utf-8"),
                created_at=event.created_at,
            )
            for event in events
        ),
    )


def _existing(session: Session, case_id: int) -> CaseReport:
    row = session.get(CaseReport, case_id)
    if row is None:
        raise NotFoundError(f"no case report {case_id}")
    return row


def _move(session: Session, row: CaseReport, status: CaseStatus, now: datetime) -> None:
    """A report's new status, on the report and on its rights (which repeat it)."""
    row.status = status.value
    row.updated_at = now
    session.execute(
        update(CaseRight).where(CaseRight.case_id == row.id).values(status=status.value)
    )


def _filtered(group_ids: Sequence[int], chosen: CaseFilter) -> Any:
    query = select(CaseReport).where(CaseReport.working_group_id.in_(group_ids))
    if chosen.status is not None:
        query = query.where(CaseReport.status == chosen.status.value)
    if chosen.country is not None:
        query = query.where(CaseReport.country == chosen.country)
    if chosen.sector is not None:
        query = query.where(CaseReport.sector == chosen.sector)
    if chosen.urgent is not None:
        query = query.where(CaseReport.urgent == chosen.urgent)
    if chosen.right is not None:
        query = query.where(
            CaseReport.id.in_(select(CaseRight.case_id).where(CaseRight.right == chosen.right))
        )
    return query


def _counted(rows: Iterable[Any]) -> tuple[tuple[str, int], ...]:
    pairs = [(str(key), int(count)) for key, count in rows]
    return tuple(sorted(pairs, key=lambda pair: (-pair[1], pair[0])))


class CaseStore(Area):
    """The case-report queries of one :class:`storage.Store` (``store.cases``)."""

    def submit(self, new: NewCase) -> int:
        """File a report with its evidence references; its number (the reference) back."""
        for name, value, limit in (
            ("country", new.country, 2),
            ("region", new.region, 32),
            ("sector", new.sector, 32),
            ("started", new.started, 10),
        ):
            check_text(name, value, limit)
        for right in new.rights:
            check_text("right", right, 32)
        now = self._now()

        def work(session: Session) -> int:
            row = CaseReport(
                working_group_id=new.working_group_id,
                author_member_id=new.author_member_id,
                status=CaseStatus.SUBMITTED.value,
                urgent=new.urgent,
                country=new.country,
                region=new.region,
                sector=new.sector,
                started=new.started,
                ongoing=new.ongoing,
                submitted_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            session.add(CaseContent(case_id=row.id, contents=_encode(new.contents.to_data())))
            session.add_all(
                CaseRight(
                    case_id=row.id,
                    right=right,
                    working_group_id=new.working_group_id,
                    status=row.status,
                )
                for right in sorted(set(new.rights))
            )
            session.add_all(
                CaseAttachment(
                    case_id=row.id,
                    platform=platform,
                    status=AttachmentStatus.PENDING.value,
                    source=_encode(dict(source)),
                    data=None,
                    size=None,
                    attempts=0,
                    created_at=now,
                )
                for platform, source in new.attachments
            )
            session.add(
                CaseEvent(
                    case_id=row.id,
                    kind="status",
                    status=CaseStatus.SUBMITTED.value,
                    actor_member_id=new.author_member_id,
                    text=None,
                    created_at=now,
                )
            )
            session.flush()
            return row.id

        return self._run(work)

    def summary(self, case_id: int) -> CaseSummary | None:
        def work(session: Session) -> CaseSummary | None:
            row = session.get(CaseReport, case_id)
            if row is None:
                return None
            rights = _rights_of(session, [row.id])[row.id]
            return _summary(row, rights, _contents_of(session, [row.id])[row.id])

        return self._run(work)

    def detail(self, case_id: int) -> CaseDetail | None:
        """The report in full, its contents opened; ``None`` for an unknown number."""

        def work(session: Session) -> CaseDetail | None:
            row = session.get(CaseReport, case_id)
            return None if row is None else _detail(session, row)

        return self._run(work)

    def listed(
        self, group_ids: Sequence[int], chosen: CaseFilter, *, offset: int = 0, limit: int = 10
    ) -> tuple[list[CaseSummary], int]:
        """A page of the groups' reports matching ``chosen``, newest first, and how many
        match in all."""
        check_int("offset", offset, minimum=0)
        check_int("limit", limit, minimum=1, maximum=PAGE_LIMIT)
        if not group_ids:
            return [], 0

        def work(session: Session) -> tuple[list[CaseSummary], int]:
            query = _filtered(group_ids, chosen)
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = list(
                session.scalars(query.order_by(CaseReport.id.desc()).offset(offset).limit(limit))
            )
            ids = [row.id for row in rows]
            rights, contents = _rights_of(session, ids), _contents_of(session, ids)
            summaries = [_summary(row, rights[row.id], contents[row.id]) for row in rows]
            return summaries, int(total)

        return self._run(work)

    def of_author(self, member_id: int) -> list[CaseSummary]:
        """The member's own reports, newest first."""

        def work(session: Session) -> list[CaseSummary]:
            rows = list(
                session.scalars(
                    select(CaseReport)
                    .where(CaseReport.author_member_id == member_id)
                    .order_by(CaseReport.id.desc())
                )
            )
            ids = [row.id for row in rows]
            rights, contents = _rights_of(session, ids), _contents_of(session, ids)
            return [_summary(row, rights[row.id], contents[row.id]) for row in rows]

        return self._run(work)

    def set_status(
        self, case_id: int, status: CaseStatus, actor_member_id: int, text: str | None
    ) -> None:
        """Move a report to ``status``, recorded in its history with the reason or question."""
        now = self._now()

        def work(session: Session) -> None:
            row = _existing(session, case_id)
            _move(session, row, CaseStatus(status), now)
            session.add(
                CaseEvent(
                    case_id=case_id,
                    kind="question" if status is CaseStatus.NEEDS_INFO else "status",
                    status=row.status,
                    actor_member_id=actor_member_id,
                    text=None if text is None else text.encode("utf-8"),
                    created_at=now,
                )
            )

        self._run(work)

    def add_answer(self, case_id: int, author_member_id: int, text: str) -> None:
        """Attach the author's answer to a question, and put the report back under review."""
        now = self._now()

        def work(session: Session) -> None:
            row = _existing(session, case_id)
            _move(session, row, CaseStatus.UNDER_REVIEW, now)
            session.add(
                CaseEvent(
                    case_id=case_id,
                    kind="answer",
                    status=row.status,
                    actor_member_id=author_member_id,
                    text=text.encode("utf-8"),
                    created_at=now,
                )
            )

        self._run(work)

    def withdraw(self, case_id: int) -> bool:
        """Erase a report with its evidence and history, and give up every message still
        waiting in the outbox that carries anything of it, and its urgent alert still
        waiting for a coordinator; False if there was none."""

        def work(session: Session) -> bool:
            drop_pending_for_case_in(session, case_id, "the report was withdrawn")
            for table in (CaseRight, CaseContent, CaseAttachment, CaseEvent, WaitingUrgentAlert):
                session.execute(delete(table).where(table.case_id == case_id))
            gone = session.execute(delete(CaseReport).where(CaseReport.id == case_id))
            return bool(getattr(gone, "rowcount", 0))

        return self._run(work)

    def statistics(
        self, group_ids: Sequence[int], *, leave_out: Sequence[CaseStatus] = ()
    ) -> CaseStatistics:
        """Counts over the groups' reports (those with a status in ``leave_out`` aside)."""
        excluded = [status.value for status in leave_out]

        def work(session: Session) -> CaseStatistics:
            scope = and_(
                CaseReport.working_group_id.in_(group_ids),
                CaseReport.status.not_in(excluded) if excluded else true(),
            )

            def grouped(column: Any) -> tuple[tuple[str, int], ...]:
                return _counted(
                    session.execute(
                        select(column, func.count()).where(scope).group_by(column)
                    ).all()
                )

            by_country = grouped(CaseReport.country)
            by_right = _counted(
                session.execute(
                    select(CaseRight.right, func.count())
                    .where(
                        CaseRight.working_group_id.in_(group_ids),
                        CaseRight.status.not_in(excluded) if excluded else true(),
                    )
                    .group_by(CaseRight.right)
                ).all()
            )
            return CaseStatistics(
                total=sum(count for _, count in by_country),
                countries=len(by_country),
                by_region=grouped(CaseReport.region),
                by_country=by_country,
                by_sector=grouped(CaseReport.sector),
                by_right=by_right,
            )

        return self._run(work)

    def exported(self, group_id: int) -> list[CaseDetail]:
        """Every report of the group in full, oldest first, for an export."""

        def work(session: Session) -> list[CaseDetail]:
            rows = session.scalars(
                select(CaseReport)
                .where(CaseReport.working_group_id == group_id)
                .order_by(CaseReport.id)
            )
            return [_detail(session, row) for row in rows]

        return self._run(work)

    # -- evidence ---------------------------------------------------------------------

    def pending_attachments(self, platform: str, limit: int = 20) -> list[PendingAttachment]:
        """Evidence files of the platform still to be fetched, oldest first."""

        def work(session: Session) -> list[PendingAttachment]:
            rows = session.scalars(
                select(CaseAttachment)
                .where(
                    CaseAttachment.status == AttachmentStatus.PENDING.value,
                    CaseAttachment.platform == platform,
                )
                .order_by(CaseAttachment.id)
                .limit(limit)
            )
            return [
                PendingAttachment(
                    id=row.id,
                    case_id=row.case_id,
                    platform=row.platform,
                    source=_decode(row.source) or {},
                    attempts=row.attempts,
                )
                for row in rows
            ]

        return self._run(work)

    def store_attachment(self, attachment_id: int, data: bytes) -> bool:
        """Keep a fetched evidence file (sealed); False when its report was withdrawn
        meanwhile, and nothing is kept."""

        def work(session: Session) -> bool:
            row = session.get(CaseAttachment, attachment_id)
            if row is None:
                return False
            row.data = bytes(data)
            row.size = len(data)
            row.status = AttachmentStatus.STORED.value
            return True

        return self._run(work)

    def attachment_failed(self, attachment_id: int, *, give_up: bool) -> int:
        """Count a failed fetch; with ``give_up`` the file is marked failed for good."""

        def work(session: Session) -> int:
            row = session.get(CaseAttachment, attachment_id)
            if row is None:
                return 0
            row.attempts += 1
            if give_up:
                row.status = AttachmentStatus.FAILED.value
            return row.attempts

        return self._run(work)

    def attachment_files(self, case_id: int) -> list[AttachmentFile]:
        """The stored evidence files of a report, opened."""

        def work(session: Session) -> list[AttachmentFile]:
            return [
                AttachmentFile(_attachment_info(row), row.case_id, row.data or b"")
                for row in _stored_attachments(session, case_id)
            ]

        return self._run(work)

    def stored_files(self, case_id: int) -> list[AttachmentInfo]:
        """The report's stored evidence files, described, without their bytes."""

        def work(session: Session) -> list[AttachmentInfo]:
            return [_attachment_info(row) for row in _stored_attachments(session, case_id)]

        return self._run(work)

    def stored_file(self, case_id: int, attachment_id: int) -> AttachmentFile | None:
        """One stored evidence file of the report, opened; ``None`` when it (or the report)
        is gone."""

        def work(session: Session) -> AttachmentFile | None:
            row = session.get(CaseAttachment, attachment_id)
            if (
                row is None
                or row.case_id != case_id
                or row.status != AttachmentStatus.STORED.value
                or row.data is None
            ):
                return None
            return AttachmentFile(_attachment_info(row), row.case_id, row.data)

        return self._run(work)

    def existing(self, case_ids: Sequence[int]) -> set[int]:
        """Which of the reports still exist (not withdrawn)."""
        if not case_ids:
            return set()

        def work(session: Session) -> set[int]:
            rows = session.scalars(select(CaseReport.id).where(CaseReport.id.in_(case_ids)))
            return set(rows)

        return self._run(work)

    def files_waiting(
        self, platform: Platform, room_id: str, attachment_ids: Sequence[int]
    ) -> set[int]:
        """Which of the evidence files already have a copy waiting in the outbox for the room."""
        return self._run(files_waiting_in, platform, room_id, attachment_ids)

    def evidence_bytes(self, case_id: int, *, leave_out: int | None = None) -> int:
        """The bytes of the report's evidence files, kept or still to be fetched (their
        declared size), failed ones aside; ``leave_out`` an attachment id not counted."""

        def work(session: Session) -> int:
            rows = session.scalars(
                select(CaseAttachment).where(
                    CaseAttachment.case_id == case_id,
                    CaseAttachment.status != AttachmentStatus.FAILED.value,
                )
            )
            return sum(_bytes_of(row) for row in rows if row.id != leave_out)

        return self._run(work)

    def evidence_bytes_of_author(
        self, member_id: int, since: datetime, *, leave_out: int | None = None
    ) -> int:
        """The bytes of evidence sent since ``since`` with the member's reports (as
        :meth:`evidence_bytes` counts them)."""
        check_aware("since", since)

        def work(session: Session) -> int:
            rows = session.scalars(
                select(CaseAttachment)
                .join(CaseReport, CaseReport.id == CaseAttachment.case_id)
                .where(
                    CaseReport.author_member_id == member_id,
                    CaseAttachment.created_at >= since,
                    CaseAttachment.status != AttachmentStatus.FAILED.value,
                )
            )
            return sum(_bytes_of(row) for row in rows if row.id != leave_out)

        return self._run(work)

    def author_of_attachment(self, attachment_id: int) -> int | None:
        """The member whose report the evidence file came with."""

        def work(session: Session) -> int | None:
            return session.scalar(
                select(CaseReport.author_member_id)
                .join(CaseAttachment, CaseAttachment.case_id == CaseReport.id)
                .where(CaseAttachment.id == attachment_id)
            )

        return self._run(work)


def _bytes_of(row: CaseAttachment) -> int:
    if row.size is not None:
        return row.size
    declared = (_decode(row.source) or {}).get("size")
    return declared if type(declared) is int and declared > 0 else 0


def _stored_attachments(session: Session, case_id: int) -> list[CaseAttachment]:
    """A report's stored evidence files, in the order they came."""
    return list(
        session.scalars(
            select(CaseAttachment)
            .where(
                CaseAttachment.case_id == case_id,
                CaseAttachment.status == AttachmentStatus.STORED.value,
            )
            .order_by(CaseAttachment.id)
        )
    )
