"""Case reports in bulk, for a working group's coordinators: exports and statistics.

``/export`` sends the group's reports as CSV and JSON, honouring each report's choices:
reports kept for internal review and rejected ones stay out, and names (the reporting
organization, links) are withheld unless the reporter allowed publication with names.
``/casestats`` answers with the summary a collective report opens with.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from bot.context import Context, UserError
from bot.registry import Registry
from bot.territories import Region, territory_name
from bot.types import Command, CommandRef, Lines, Literal, Media, Message, Reply, Role, Territory
from handlers import case_options as options
from handlers.case_review import coordinated_groups
from storage import WorkingGroupRecord
from storage.case_records import CaseDetail, CaseStatus

log = logging.getLogger(__name__)

WITHHELD = "[withheld]"
TOP_COUNTRIES = 15
EXPORTED_PUBLICATION = ("network", "anonymous", "named")

COLUMNS = (
    "number",
    "status",
    "submitted",
    "urgent",
    "country",
    "country_name",
    "region",
    "locality",
    "sector",
    "rights",
    "started",
    "ongoing",
    "title",
    "reporter",
    "organization",
    "companies",
    "affected",
    "affected_count",
    "affected_groups",
    "narrative",
    "state_role",
    "steps_taken",
    "steps_outcome",
    "remedy",
    "links",
    "evidence_files",
    "publication",
    "names_withheld",
)


def register(registry: Registry) -> None:
    registry.command(
        "export", export_cases, help_key="help.export", role=Role.COORDINATOR, direct_only=True
    )
    registry.command(
        "casestats",
        case_statistics,
        help_key="help.casestats",
        role=Role.COORDINATOR,
        direct_only=True,
    )


def chosen_group(context: Context, args: Sequence[str], command: str) -> WorkingGroupRecord:
    """The group named by slug, or the only one the member coordinates."""
    allowed = coordinated_groups(context)
    groups = {group.id: group for group in context.store.groups.all()}
    if len(args) > 1:
        raise UserError("cases.group_usage", command=CommandRef(command))
    if args:
        group = context.store.groups.by_slug(args[0].lower())
        if group is None:
            raise UserError(
                "members.no_such_group", slug=Literal(args[0]), groups=CommandRef("groups")
            )
        if group.id not in allowed:
            log.info(
                "case_access_refused what=%s group=%d member=%d",
                command,
                group.id,
                context.member.id,
            )
            raise UserError("cases.not_coordinator_of", group=Literal(group.name))
        return group
    if len(allowed) == 1:
        return groups[allowed[0]]
    if not allowed:
        raise UserError("cases.no_groups_coordinated")
    raise UserError(
        "cases.which_group",
        command=CommandRef(command),
        slugs=Literal(", ".join(groups[group_id].slug for group_id in allowed)),
    )


# -- export ---------------------------------------------------------------------------------


def _joined(values: Any) -> str:
    return "; ".join(str(value) for value in values) if isinstance(values, list) else ""


def _companies(values: Any) -> str:
    parts = []
    for company in values if isinstance(values, list) else []:
        if isinstance(company, dict):
            country = company.get("country") or ""
            parts.append(f"{company.get('name', '')} ({company.get('role', '')}, {country})")
    return "; ".join(parts)


def export_row(detail: CaseDetail) -> dict[str, Any]:
    """One report as exported: option keys, not texts, so a spreadsheet can count them."""
    summary, contents = detail.summary, detail.contents
    named = contents.get("publication") == "named" and contents.get("naming") == "public"
    stored_files = sum(1 for attachment in detail.attachments if attachment.status == "stored")
    return {
        "number": summary.id,
        "status": summary.status.value,
        "submitted": summary.submitted_at.isoformat(),
        "urgent": summary.urgent,
        "country": summary.country,
        "country_name": territory_name(summary.country, "en"),
        "region": options.region_key(summary.country),
        "locality": contents.get("locality") or "",
        "sector": summary.sector,
        "rights": list(summary.rights),
        "started": summary.started,
        "ongoing": summary.ongoing,
        "title": summary.title,
        "reporter": contents.get("reporter") or "",
        "organization": (contents.get("organization") or "") if named else WITHHELD,
        "companies": contents.get("companies") or [],
        "affected": contents.get("affected") or "",
        "affected_count": contents.get("affected_count"),
        "affected_groups": contents.get("affected_groups") or [],
        "narrative": contents.get("narrative") or "",
        "state_role": contents.get("state_role") or [],
        "steps_taken": contents.get("steps_taken") or [],
        "steps_outcome": contents.get("steps_outcome") or "",
        "remedy": contents.get("remedy") or "",
        "links": (contents.get("links") or []) if named else [],
        "evidence_files": stored_files,
        "publication": contents.get("publication") or "",
        "names_withheld": not named,
    }


def _cell(value: Any) -> str:
    """A CSV cell; text a spreadsheet would run as a formula is quoted with an apostrophe."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(rows: Sequence[Mapping[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for row in rows:
        flat = dict(row)
        flat["companies"] = _companies(row["companies"])
        for name in ("rights", "affected_groups", "state_role", "steps_taken", "links"):
            flat[name] = _joined(row[name])
        writer.writerow([_cell(flat[name]) for name in COLUMNS])
    # A byte-order mark, so that spreadsheets read accents and Arabic as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_json(group: WorkingGroupRecord, rows: Sequence[Mapping[str, Any]]) -> bytes:
    document = {"working_group": group.slug, "reports": list(rows)}
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


def export_cases(context: Context, command: Command) -> Sequence[Reply]:
    """``/export [GROUP]``: the group's shareable reports as CSV and JSON files."""
    group = chosen_group(context, command.args, "export")
    details = context.store.cases.exported(group.id)
    rows = [
        export_row(detail)
        for detail in details
        if detail.summary.status is not CaseStatus.REJECTED
        and detail.contents.get("publication") in EXPORTED_PUBLICATION
    ]
    left_out = len(details) - len(rows)
    log.info(
        "case_export group=%d member=%d rows=%d left_out=%d",
        group.id,
        context.member.id,
        len(rows),
        left_out,
    )
    if not rows:
        return [
            Reply(Message.of("cases.export_empty", group=Literal(group.name), left_out=left_out))
        ]
    stamp = context.store.now().date().isoformat()
    name = f"cases-{group.slug}-{stamp}"
    return [
        Reply(
            Message.of(
                "cases.export_ready",
                group=Literal(group.name),
                count=len(rows),
                left_out=left_out,
            ),
            media=(
                Media(f"{name}.csv", "text/csv", to_csv(rows)),
                Media(f"{name}.json", "application/json", to_json(group, rows)),
            ),
        )
    ]


# -- statistics -----------------------------------------------------------------------------


def case_statistics(context: Context, command: Command) -> Sequence[Reply]:
    """``/casestats [GROUP]``: N cases in M countries, by region, country, sector and right."""
    group = chosen_group(context, command.args, "casestats")
    stats = context.store.cases.statistics([group.id], leave_out=[CaseStatus.REJECTED])
    if stats.total == 0:
        return [Reply(Message.of("cases.stats_none", group=Literal(group.name)))]
    lines: list[Message | Literal] = [
        Message.of(
            "cases.stats_header",
            group=Literal(group.name),
            total=stats.total,
            countries=stats.countries,
        ),
        Message.of("cases.stats_by_region"),
    ]
    lines.extend(
        Message.of("cases.stats_line", what=Message.of(f"cases.region.{key}"), count=count)
        for key, count in stats.by_region
        if key in {region.value for region in Region}
    )
    lines.append(Message.of("cases.stats_by_country"))
    lines.extend(
        Message.of("cases.stats_line", what=Territory(code), count=count)
        for code, count in stats.by_country[:TOP_COUNTRIES]
    )
    if len(stats.by_country) > TOP_COUNTRIES:
        rest = stats.by_country[TOP_COUNTRIES:]
        lines.append(
            Message.of(
                "cases.stats_more_countries",
                countries=len(rest),
                count=sum(count for _, count in rest),
            )
        )
    lines.append(Message.of("cases.stats_by_sector"))
    lines.extend(
        Message.of(
            "cases.stats_line", what=Message.of(options.option_key("sector", key)), count=count
        )
        for key, count in stats.by_sector
        if key in options.SECTORS
    )
    lines.append(Message.of("cases.stats_by_right"))
    lines.extend(
        Message.of(
            "cases.stats_line", what=Message.of(options.option_key("right", key)), count=count
        )
        for key, count in stats.by_right
        if key in options.RIGHTS
    )
    return [Reply(Lines(tuple(lines)))]
