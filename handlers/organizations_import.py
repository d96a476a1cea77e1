"""``/orgimport``: a network admin pastes the list of organizations as CSV (name, country,
kind, website); the bot answers with a dry run (what would be added, updated, left
unchanged, and each refused line with its number and why) and applies it only when asked.

The pasted text is kept between the dry run and the choice to apply it; applying reads it
against the organizations as they are then, so a change made meanwhile is not undone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.choosing import folded
from bot.context import Context, UserError
from bot.conversation import Answers, Conversation, InvalidAnswer, Json, Step
from bot.file_reads import FileUnreadable
from bot.registry import Registry
from bot.types import (
    Choice,
    ChoicePicked,
    Command,
    CommandRef,
    Lines,
    Literal,
    Message,
    Platform,
    Reply,
    Role,
)
from handlers.organizations_fields import (
    FieldProblem,
    parse_country,
    parse_kind,
    parse_name,
    parse_website,
)
from storage.organizations import IMPORT_MAX, OrganizationRecord, name_key

IMPORT_CHOICE = "orgimport"
HEADER = ("name", "country", "kind", "website")
MAX_LINES = 2000
SHOWN_LINES = 40
"""Lines of the dry run listed one by one; the rest are counted."""


@dataclass(frozen=True)
class ImportRow:
    line: int
    name: str
    country: str
    kind: str
    website: str | None


@dataclass
class ImportPlan:
    """What applying a CSV would do, line by line."""

    added: list[ImportRow] = field(default_factory=list)
    updated: list[tuple[ImportRow, int]] = field(default_factory=list)
    unchanged: list[ImportRow] = field(default_factory=list)
    refused: list[tuple[int, Message]] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return len(self.added) + len(self.updated)


def _delimiter(text: str) -> str:
    """Spreadsheets set to many languages write ``;`` between fields."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return ";" if first.count(";") > first.count(",") else ","


def plan_import(
    text: str, existing: Sequence[OrganizationRecord], languages: Sequence[str]
) -> ImportPlan:
    """Read the CSV against the organizations there are: nothing is changed here."""
    plan = ImportPlan()
    by_key = {name_key(organization.name): organization for organization in existing}
    seen: dict[str, int] = {}
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    rows: list[tuple[int, list[str]]] = []
    try:
        ended = 0  # a quoted field may span lines: a record is numbered by its first line
        for record in reader:
            rows.append((ended + 1, record))
            ended = reader.line_num
    except csv.Error:
        plan.refused.append((ended + 1, Message.of("orgs.line_unreadable")))
    for line, cells in rows:
        cells = [cell.strip() for cell in cells]
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            continue
        if line == 1 and tuple(folded(cell) for cell in cells) == HEADER[: len(cells)]:
            continue
        if not 3 <= len(cells) <= 4:
            plan.refused.append((line, Message.of("orgs.line_columns", columns=len(cells))))
            continue
        try:
            row = ImportRow(
                line,
                parse_name(cells[0]),
                parse_country(cells[1], languages),
                parse_kind(cells[2]),
                parse_website(cells[3] if len(cells) == 4 else ""),
            )
        except FieldProblem as problem:
            plan.refused.append((line, problem.message))
            continue
        key = name_key(row.name)
        if key in seen:
            plan.refused.append((line, Message.of("orgs.line_repeats", first=seen[key])))
            continue
        seen[key] = line
        before = by_key.get(key)
        if before is None:
            plan.added.append(row)
        elif (before.name, before.country, before.kind, before.website) == (
            row.name,
            row.country,
            row.kind,
            row.website,
        ):
            plan.unchanged.append(row)
        else:
            plan.updated.append((row, before.id))
    return plan


def _summary(key: str, plan: ImportPlan) -> Message:
    return Message.of(
        key,
        added=Message.counted("orgs.count_added", len(plan.added)),
        updated=Message.counted("orgs.count_updated", len(plan.updated)),
        unchanged=Message.counted("orgs.count_unchanged", len(plan.unchanged)),
        refused=Message.counted("orgs.count_refused", len(plan.refused)),
    )


def _plan_lines(plan: ImportPlan) -> list[Message | Literal]:
    listed: list[Message | Literal] = []
    listed.extend(
        Message.of("orgs.import_added_line", line=row.line, name=Literal(row.name))
        for row in plan.added
    )
    listed.extend(
        Message.of("orgs.import_updated_line", line=row.line, name=Literal(row.name), number=number)
        for row, number in plan.updated
    )
    listed.extend(
        Message.of("orgs.import_refused_line", line=line, reason=reason)
        for line, reason in plan.refused
    )
    if len(listed) > SHOWN_LINES:
        more = len(listed) - SHOWN_LINES
        listed = [*listed[:SHOWN_LINES], Message.counted("orgs.import_more", more)]
    return listed


def register(registry: Registry) -> None:
    registry.conversation(IMPORT, command="orgimport", help_key="help.orgimport", prepare=_prepare)
    registry.choice(IMPORT_CHOICE, import_decided, role=Role.ADMIN)


def _prepare(context: Context, command: Command) -> Answers:
    if context.role_in(None) is not Role.ADMIN:
        raise UserError("orgs.network_admins_only")
    return {}


def parse_csv_piece(text: str) -> Json:
    if len(text) > IMPORT_MAX:
        raise InvalidAnswer("orgs.import_too_long", lines=MAX_LINES)
    return text


def _decoded(data: bytes) -> str:
    """A CSV file's text: UTF-8 (with or without a byte-order mark), else the Windows code
    page spreadsheets often save in."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise UserError("orgs.import_file_not_text") from None


def csv_text(context: Context, pieces: Json) -> str:
    """The CSV the admin gave: the messages pasted, and the files sent, in order."""
    parts: list[str] = []
    for piece in pieces if isinstance(pieces, list) else [pieces]:
        file = piece.get("file") if isinstance(piece, dict) else None
        if isinstance(file, dict):
            platform, ref = file.get("platform"), file.get("ref")
            if platform not in {p.value for p in Platform} or not isinstance(ref, str):
                raise UserError("orgs.import_file_unreadable")
            try:
                data = context.file_reads.read(Platform(str(platform)), ref, IMPORT_MAX)
            except FileUnreadable:
                raise UserError("orgs.import_file_unreadable") from None
            parts.append(_decoded(data))
        elif isinstance(piece, str):
            parts.append(piece)
    text = "\n".join(part.strip("\r\n") for part in parts)
    if len(text) > IMPORT_MAX or text.count("\n") >= MAX_LINES:
        raise UserError("orgs.import_too_long", lines=MAX_LINES)
    return text


def dry_run(context: Context, answers: Answers) -> Sequence[Reply]:
    """The conversation's end: what the CSV would change, and the choice to apply it."""
    if context.role_in(None) is not Role.ADMIN:
        raise UserError("orgs.network_admins_only")
    text = csv_text(context, answers["csv"])
    store = context.store.organizations
    plan = plan_import(text, store.all(), context.languages)
    lines: list[Message | Literal] = [_summary("orgs.import_dry_run", plan), *_plan_lines(plan)]
    if plan.changes == 0:
        lines.append(Message.of("orgs.import_nothing", command=CommandRef("orgimport")))
        return [Reply(Lines(tuple(lines)))]
    kept = store.keep_import(context.member.id, text)
    lines.append(Message.of("orgs.import_apply_question"))
    choices = (
        Choice(f"{IMPORT_CHOICE}:apply:{kept}", Message.of("orgs.import_apply")),
        Choice(f"{IMPORT_CHOICE}:drop:{kept}", Message.of("orgs.import_drop")),
    )
    return [Reply(Lines(tuple(lines)), choices=choices)]


def import_decided(context: Context, picked: ChoicePicked, payload: str) -> Sequence[Reply]:
    """Apply a dry run's CSV, or drop it."""
    if context.role_in(None) is not Role.ADMIN:
        raise UserError("orgs.network_admins_only")
    action, _, number = payload.partition(":")
    import_id = int(number) if number.isascii() and number.isdigit() else 0
    store = context.store.organizations
    text = store.take_import(import_id, context.member.id) if import_id > 0 else None
    if text is None or action not in ("apply", "drop"):
        raise UserError("orgs.import_gone", command=CommandRef("orgimport"))
    if action == "drop":
        return [Reply(Message.of("orgs.import_dropped"))]
    plan = plan_import(text, store.all(), context.languages)
    for row in plan.added:
        added = store.add(row.name, row.country, row.kind, row.website)
        context.store.audit.record(
            "organization.added",
            context.member.id,
            organization_id=added.id,
            detail={"import": import_id, "line": row.line},
        )
    for row, organization_id in plan.updated:
        store.update(organization_id, row.name, row.country, row.kind, row.website)
        context.store.audit.record(
            "organization.edited",
            context.member.id,
            organization_id=organization_id,
            detail={"import": import_id, "line": row.line},
        )
    return [Reply(_summary("orgs.import_applied", plan))]


IMPORT = Conversation(
    name="orgimport",
    title="orgs.import_title",
    steps=(
        Step(
            "csv",
            prompt="orgs.import_ask",
            label="orgs.import_label",
            parse=parse_csv_piece,
            hint="orgs.import_hint",
            gather=True,
            accepts_media=True,
            max_items=50,
        ),
    ),
    submit=dry_run,
    role=Role.ADMIN,
    review=False,
)
