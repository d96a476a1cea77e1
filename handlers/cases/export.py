"""Case reports in bulk, for a working group's coordinators: exports and statistics.

``/export`` sends the group's reports as CSV and JSON, honouring each report's choices:
reports kept for internal review stay out, and names (the reporting organization, links) are
withheld unless the reporter allowed publication with names. A withheld value reads
``[withheld]`` (in JSON too, in place of a list), and only where the reporter gave one: an
empty field had none. By default only verified and published reports go out; the
coordinator may ask for one status, or ``all``; each row says its status.
``/casestats`` answers with the summary a collective report opens with.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields

from bot.context import Context, UserError
from bot.registry import Registry
from bot.territories import Region, territory_name
from bot.types import (
    Command,
    CommandRef,
    Lines,
    Literal,
    Media,
    Message,
    ParamValue,
    Reply,
    Role,
    Territory,
)
from handlers.cases import options
from handlers.cases.review import coordinated_groups
from storage import WorkingGroupRecord
from storage.case_contents import Company, Json
from storage.case_records import CaseDetail, CaseStatus

log = logging.getLogger(__name__)

WITHHELD = "[withheld]"
TOP_COUNTRIES = 15
EXPORTED_PUBLICATION = ("network", "anonymous", "named")
DEFAULT_STATUSES = (CaseStatus.VERIFIED, CaseStatus.PUBLISHED)
"""What ``/export`` sends unless asked for another status: reports the group stands behind."""
ALL_STATUSES = "all"


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


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One report as exported: option keys, not texts, so that a spreadsheet can count them.

    Its fields are the columns, in order; a column that carries a part of the report's
    contents has the name of that part (:class:`CaseContents`)."""

    number: int
    status: str
    submitted: str
    urgent: bool
    country: str
    country_name: str
    region: str
    locality: str
    sector: str
    rights: tuple[str, ...]
    started: str
    ongoing: bool
    title: str
    reporter: str
    organization: str
    companies: tuple[Company, ...]
    affected: str
    affected_count: int | None
    affected_groups: tuple[str, ...]
    narrative: str
    state_role: tuple[str, ...]
    steps_taken: tuple[str, ...]
    steps_outcome: str
    remedy: str
    links: tuple[str, ...] | str
    """The links, or :data:`WITHHELD` in their place."""
    evidence_files: int
    publication: str
    names_withheld: bool
    channel: str
    """Where the author typed the report (``matrix_unencrypted``: in the clear, chosen)."""

    def to_data(self) -> dict[str, Json]:
        """The row as the JSON export holds it: lists as lists, companies as objects."""
        return {name: _plain(getattr(self, name)) for name in COLUMNS}

    def cells(self) -> list[str]:
        """The row as the CSV export holds it: lists joined with "; ", one line per report."""
        return [_cell(_flat(getattr(self, name))) for name in COLUMNS]


COLUMNS = tuple(column.name for column in fields(ExportRow))


def _plain(value: object) -> Json:
    if isinstance(value, tuple):
        return [_company(item) if isinstance(item, Company) else item for item in value]
    return value


def _company(company: Company) -> dict[str, Json]:
    """A company as an object whose keys are in alphabetical order, as exports have had them."""
    return dict(sorted(company.to_data().items()))


def _flat(value: object) -> object:
    if isinstance(value, tuple):
        return "; ".join(
            f"{item.name} ({item.role}, {item.country or ''})"
            if isinstance(item, Company)
            else str(item)
            for item in value
        )
    return value


def export_row(detail: CaseDetail) -> ExportRow:
    summary, contents = detail.summary, detail.contents
    named = contents.publication == "named" and contents.naming == "public"
    stored_files = sum(1 for attachment in detail.attachments if attachment.status == "stored")
    return ExportRow(
        number=summary.id,
        status=summary.status.value,
        submitted=summary.submitted_at.isoformat(),
        urgent=summary.urgent,
        country=summary.country,
        country_name=territory_name(summary.country, "en"),
        region=options.region_key(summary.country),
        locality=contents.locality or "",
        sector=summary.sector,
        rights=summary.rights,
        started=summary.started,
        ongoing=summary.ongoing,
        title=summary.title,
        reporter=contents.reporter or "",
        organization=(contents.organization or "") if named else _withheld(contents.organization),
        companies=contents.companies,
        affected=contents.affected or "",
        affected_count=contents.affected_count,
        affected_groups=contents.affected_groups,
        narrative=contents.narrative or "",
        state_role=contents.state_role,
        steps_taken=contents.steps_taken,
        steps_outcome=contents.steps_outcome or "",
        remedy=contents.remedy or "",
        links=contents.links if named else (_withheld(contents.links) or ()),
        evidence_files=stored_files,
        publication=contents.publication or "",
        names_withheld=not named,
        channel=contents.channel or "",
    )


def _withheld(value: object) -> str:
    """What stands for a value the reporter did not allow to be shared: nothing if there was
    none, so that "withheld" never claims a value that does not exist."""
    return WITHHELD if value else ""


_EXPOSED_FORMULA = re.compile(r"(^|[,;\t\r\n])([ \t\r\n]*)(?=[=+\-@])")
"""A formula's first character where a spreadsheet may start a cell: at the start, or after
any separator it may be told to split on (comma, semicolon, tab) or a line break, spaces
it may trim in between."""


def _cell(value: object) -> str:
    """A CSV cell in which no spreadsheet finds a formula to run, whatever separator it
    splits on: an apostrophe goes before each formula character that could start a cell."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return ""
    text = _EXPOSED_FORMULA.sub(r"\1\2'", str(value))
    return "'" + text if text[:1] in ("\t", "\r") else text


def to_csv(rows: Sequence[ExportRow]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(row.cells())
    # A byte-order mark, so that spreadsheets read accents and Arabic as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_json(
    group: WorkingGroupRecord, statuses: Sequence[CaseStatus], rows: Sequence[ExportRow]
) -> bytes:
    document = {
        "working_group": group.slug,
        "statuses": [status.value for status in statuses],
        "reports": [row.to_data() for row in rows],
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


_STATUS_WORDS = {ALL_STATUSES, *(status.value for status in CaseStatus)}


def export_statuses(args: Sequence[str]) -> tuple[tuple[CaseStatus, ...], list[str]]:
    """``[GROUP] [STATUS | all | status=…]`` into the statuses asked for and the group's
    slug, if given; anything else (two filters, two groups, an unknown status) is answered
    with the usage."""
    statuses: tuple[CaseStatus, ...] | None = None
    rest: list[str] = []
    for arg in args:
        key, equals, value = arg.partition("=")
        if equals and key.lower() != "status":
            raise _export_usage()
        wanted = (value if equals else arg).lower()
        if wanted in _STATUS_WORDS:
            if statuses is not None:
                raise _export_usage()
            statuses = tuple(CaseStatus) if wanted == ALL_STATUSES else (CaseStatus(wanted),)
        elif equals or rest:
            raise _export_usage()
        else:
            rest.append(arg)
    return statuses or DEFAULT_STATUSES, rest


def _export_usage() -> UserError:
    return UserError(
        "cases.export_usage",
        command=CommandRef("export"),
        statuses=Literal(", ".join(status.value for status in CaseStatus)),
    )


def _statuses_named(statuses: Sequence[CaseStatus]) -> Message:
    if tuple(statuses) == DEFAULT_STATUSES:
        return Message.of("cases.export_statuses_default")
    if len(statuses) > 1:
        return Message.of("cases.export_statuses_all")
    return Message.of(f"cases.status.{statuses[0].value}")


def export_cases(context: Context, command: Command) -> Sequence[Reply]:
    """``/export [GROUP] [STATUS | all]``: the group's shareable reports as CSV and JSON."""
    statuses, rest = export_statuses(command.args)
    group = chosen_group(context, rest, "export")
    details = context.store.cases.exported(group.id)
    with_status = [detail for detail in details if detail.summary.status in statuses]
    rows = [
        export_row(detail)
        for detail in with_status
        if detail.contents.publication in EXPORTED_PUBLICATION
    ]
    other_status = len(details) - len(with_status)
    internal = len(with_status) - len(rows)
    log.info(
        "case_export group=%d member=%d statuses=%s rows=%d other_status=%d internal=%d",
        group.id,
        context.member.id,
        ",".join(status.value for status in statuses),
        len(rows),
        other_status,
        internal,
    )
    counts: dict[str, ParamValue] = {
        "group": Literal(group.name),
        "statuses": _statuses_named(statuses),
        "other_status": Message.counted("cases.export_other_status", other_status),
        "internal": Message.counted("cases.export_internal", internal),
    }
    if not rows:
        return [Reply(Message.of("cases.export_none", command=CommandRef("export"), **counts))]
    stamp = context.store.now().date().isoformat()
    name = f"cases-{group.slug}-{stamp}"
    return [
        Reply(
            Message.counted("cases.export_done", len(rows), **counts),
            media=(
                Media(f"{name}.csv", "text/csv", to_csv(rows)),
                Media(f"{name}.json", "application/json", to_json(group, statuses, rows)),
            ),
            cases=tuple(row.number for row in rows),  # withdrawing one takes it back
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
        Message.counted(
            "cases.stats_header",
            stats.total,
            group=Literal(group.name),
            countries=Message.counted("cases.countries_count", stats.countries),
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
            Message.counted(
                "cases.stats_more_countries",
                len(rest),
                cases=sum(count for _, count in rest),
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
