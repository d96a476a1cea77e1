"""Who signed a statement: ``/signatories N`` (the current list; its group's coordinators
also see declines, waiting signatures, withdrawals and open questions) and
``/signatories N csv`` (coordinators: the list to paste and the CSV now); and the list as it
is published, the text pasted under the statement and the CSV, built by pure functions from
values (:func:`signatory_list`, :func:`signatory_csv`), in the statement's language.

The list holds the signatures that stand (signed for a version of the current edition); a
waiting signature is not published. Organizations are sorted by name (case and accents
aside) or by country (the country's name in the statement's language, then the name);
individuals follow the organizations, by name. Names are kept exactly as they were typed:
a name in any script reaches the list byte for byte (the renderer only isolates it in a
right-to-left list, so it does not reorder the text around it).
"""

from __future__ import annotations

import csv
import functools
import io
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.context import Context, HandlerStore, UserError
from bot.i18n import Catalogs, Renderer
from bot.moments import moment
from bot.registry import Registry
from bot.territories import territory_name
from bot.types import (
    Command,
    CommandRef,
    Lines,
    Literal,
    Media,
    Message,
    Platform,
    Reply,
    Territory,
)
from handlers.statements.common import (
    TEXT_IN_MESSAGE,
    NotSigner,
    coordinates,
    find,
    signing_of,
)
from storage.organizations import OrganizationRecord, name_key
from storage.statement_records import (
    Answer,
    ListOrder,
    SignatureRecord,
    StatementRecord,
    organization_of_signer,
)

log = logging.getLogger(__name__)

CSV_WORD = "csv"


def register(registry: Registry) -> None:
    registry.command("signatories", signatories_command, help_key="help.signatories")


@dataclass(frozen=True, slots=True)
class Listed:
    """One standing signature as the list shows it."""

    name: str
    """The organization's name, or an individual's own (``""`` when they gave none)."""
    country: str | None
    """The organization's ISO 3166 code; ``None`` for an individual."""
    signed_by: str | None
    """The name of who signed for it (``None`` when they gave none or erased their data)."""
    signed_at: datetime
    version_number: int
    text_hash: str
    member_number: int | None = None
    """An individual's member number, shown as "a member (#N)" when they gave no name."""
    signed_by_number: int | None = None
    """The number of the member who signed (``None`` once they erased their data)."""

    @property
    def is_organization(self) -> bool:
        return self.country is not None


def person(name: str | None, number: int | None) -> Message | Literal:
    """A member as a list names them: their name; "a member (#N)" when they gave none;
    "a member no longer known" only once the signature lost its member (erased data)."""
    if name:
        return Literal(name)
    if number is not None:
        return Message.of("statements.list.a_member", number=number)
    return Message.of("statements.list.unknown_signer")


def listed_name(entry: Listed) -> Message | Literal:
    """An organization's name, or an individual as :func:`person` names them."""
    return person(entry.name, entry.member_number)


def country_name(code: str, language: str) -> str:
    """The country as readers of ``language`` name it; an unknown code as it is stored."""
    try:
        return territory_name(code, language)
    except KeyError:
        return code


def in_order(entries: Iterable[Listed], order: ListOrder, language: str) -> list[Listed]:
    """Organizations in the statement's order, then individuals by name."""

    def by_name(entry: Listed) -> tuple[str, str]:
        return (name_key(entry.name), entry.name)

    organizations = [entry for entry in entries if entry.is_organization]
    individuals = sorted((entry for entry in entries if not entry.is_organization), key=by_name)
    if order is ListOrder.COUNTRY:
        organizations.sort(
            key=lambda entry: (
                name_key(country_name(entry.country or "", language)),
                *by_name(entry),
            )
        )
    else:
        organizations.sort(key=by_name)
    return [*organizations, *individuals]


def heading(entries: Sequence[Listed]) -> Message:
    """ "Signed by 37 organizations from 21 countries" (and the individuals, when any)."""
    organizations = [entry for entry in entries if entry.is_organization]
    countries = {entry.country for entry in organizations}
    individuals = len(entries) - len(organizations)
    by_organizations = Message.counted("statements.list.organizations", len(organizations))
    from_countries = Message.counted("statements.list.countries", len(countries))
    by_individuals = Message.counted("statements.list.individuals", individuals)
    if individuals and not organizations:
        return Message.of("statements.list.heading_individuals", individuals=by_individuals)
    if individuals:
        return Message.of(
            "statements.list.heading_with_individuals",
            organizations=by_organizations,
            countries=from_countries,
            individuals=by_individuals,
        )
    return Message.of(
        "statements.list.heading", organizations=by_organizations, countries=from_countries
    )


def signatory_list(entries: Sequence[Listed], *, order: ListOrder, language: str) -> Lines:
    """The text to paste under the statement: the heading, then each organization (under
    its country's name when sorted by country), then the individuals."""
    lines: list[Message | Literal] = [heading(entries)]
    ordered = in_order(entries, order, language)
    current_country: str | None = None
    individuals_started = False
    for entry in ordered:
        if entry.country is None:
            if not individuals_started:
                lines.extend((Literal(""), Message.of("statements.list.individuals_heading")))
                individuals_started = True
            lines.append(Message.of("statements.list.individual", name=listed_name(entry)))
        elif order is ListOrder.COUNTRY:
            if entry.country != current_country:
                lines.extend(
                    (
                        Literal(""),
                        Message.of("statements.list.country", country=Territory(entry.country)),
                    )
                )
                current_country = entry.country
            lines.append(Message.of("statements.list.in_country", name=Literal(entry.name)))
        else:
            if len(lines) == 1:
                lines.append(Literal(""))
            lines.append(
                Message.of(
                    "statements.list.entry",
                    name=Literal(entry.name),
                    country=Territory(entry.country),
                )
            )
    return Lines(tuple(lines))


CSV_COLUMNS = (
    "statements.list.csv.name",
    "statements.list.csv.type",
    "statements.list.csv.country",
    "statements.list.csv.country_name",
    "statements.list.csv.signed_by",
    "statements.list.csv.signed_at",
    "statements.list.csv.version",
    "statements.list.csv.text_hash",
)
"""The CSV's columns, by the catalog keys of their headers."""


def signatory_csv(entries: Sequence[Listed], *, order: ListOrder, shown: Renderer) -> bytes:
    """The list as CSV (UTF-8 with a byte-order mark, so spreadsheets read every script),
    its header and country names in ``shown``'s language, times in UTC (ISO 8601)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(shown.label(Message.of(key)) for key in CSV_COLUMNS)
    organization = shown.label(Message.of("statements.list.csv.organization"))
    individual = shown.label(Message.of("statements.list.csv.individual"))
    for entry in in_order(entries, order, shown.language):
        signed_by = entry.signed_by or (
            shown.label(person(None, entry.signed_by_number)) if entry.signed_by_number else ""
        )
        writer.writerow(
            (
                entry.name if entry.is_organization else shown.label(listed_name(entry)),
                organization if entry.is_organization else individual,
                entry.country or "",
                country_name(entry.country, shown.language) if entry.country else "",
                signed_by,
                entry.signed_at.astimezone(UTC).isoformat(timespec="seconds"),
                entry.version_number,
                entry.text_hash,
            )
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# -- the list from the store -------------------------------------------------------------------


@functools.cache
def _catalogs() -> Catalogs:
    # The list goes as a file when long, and the CSV's words are text: both need the catalogs.
    return Catalogs.load()


def renderer(language: str) -> Renderer:
    return _catalogs().renderer(language, Platform.CONSOLE)


def _member_name(store: HandlerStore, member_id: int | None) -> str | None:
    member = store.members.get(member_id) if member_id is not None else None
    return member.display_name if member is not None else None


def _name_of(
    store: HandlerStore,
    signature: SignatureRecord,
    organizations: Mapping[int, OrganizationRecord],
) -> tuple[str, str | None] | None:
    """The signer's name (``""`` for an individual who gave none) and (an organization's)
    country; ``None`` for an organization removed since (its row is gone, and its name)."""
    organization_id = signature.organization_id or organization_of_signer(signature.signer)
    if organization_id is None:
        return (_member_name(store, signature.member_id) or "", None)
    organization = organizations.get(organization_id)
    if organization is None:
        return None
    return (organization.name, organization.country)


def listed(store: HandlerStore, signatures: Iterable[SignatureRecord]) -> list[Listed]:
    """The signatures as the list shows them (whatever their answer)."""
    organizations = {organization.id: organization for organization in store.organizations.all()}
    found: list[Listed] = []
    for signature in signatures:
        named = _name_of(store, signature, organizations)
        if named is None:
            log.info(
                "statement_list_signer_gone statement=%d signer=%s",
                signature.statement_id,
                signature.signer,
            )
            continue
        found.append(
            Listed(
                name=named[0],
                country=named[1],
                signed_by=_member_name(store, signature.member_id),
                signed_at=signature.answered_at,
                version_number=signature.version_number,
                text_hash=signature.text_hash,
                member_number=None if named[1] is not None else signature.member_id,
                signed_by_number=signature.member_id,
            )
        )
    return found


def standing(store: HandlerStore, record: StatementRecord) -> list[Listed]:
    """The signatures that stand on the statement's current edition: what is published."""
    return listed(store, (s for s in store.statements.signatures(record.id) if s.stands))


def export_replies(record: StatementRecord, entries: Sequence[Listed]) -> list[Reply]:
    """The list to paste (in the statement's language; as a file when long) with the CSV,
    as replies to whoever asked; a caller addresses them elsewhere with ``replace``."""
    language = record.fields.language
    order = record.fields.list_order
    text = signatory_list(entries, order=order, language=language)
    shown = renderer(language)
    stamp = f"statement-{record.id}-signatories"
    table = Media(f"{stamp}.csv", "text/csv", signatory_csv(entries, order=order, shown=shown))
    pasted = shown.text(text)
    if len(pasted) <= TEXT_IN_MESSAGE:
        return [Reply(text, media=(table,), language=language)]
    as_file = Media(f"{stamp}.txt", "text/plain", pasted.encode("utf-8"))
    return [Reply(Message.of("statements.list.in_file"), media=(as_file, table), language=language)]


# -- /signatories N ----------------------------------------------------------------------------


def signatories_command(context: Context, command: Command) -> list[Reply]:
    """``/signatories N [csv]``."""
    args = command.args
    if not args or len(args) > 2 or (len(args) == 2 and args[1].casefold() != CSV_WORD):
        raise UserError("statements.list.usage", command=CommandRef("signatories"))
    record = find(context, args[0])
    coordinator = coordinates(context, record)
    if not coordinator:
        refused = signing_of(context.store, record, context.member.id).refused
        if refused is NotSigner.NOT_MEMBER:
            raise UserError("statements.list.not_member", number=record.id)
    if len(args) == 2:
        if not coordinator:
            raise UserError("statements.list.csv_coordinators_only", number=record.id)
        if not context.origin.is_direct:
            raise UserError(
                "statements.list.csv_private_only",
                number=record.id,
                command=CommandRef("signatories"),
            )
        entries = standing(context.store, record)
        log.info(
            "statement_list_exported statement=%d member=%d signers=%d",
            record.id,
            context.member.id,
            len(entries),
        )
        return [
            Reply(Message.of("statements.list.export", number=record.id)),
            *export_replies(record, entries),
        ]
    log.info("statement_list_shown statement=%d member=%d", record.id, context.member.id)
    # In a group room everyone reads the answer: only what members see.
    shows_all = coordinator and context.origin.is_direct
    return [Reply(current_list(context, record, coordinator=shows_all))]


def current_list(context: Context, record: StatementRecord, *, coordinator: bool) -> Lines:
    """The list as a member reads it now, in their language and time zone."""
    store = context.store
    language = context.member.language
    zone = context.member.time_zone or context.config.time_zone

    def when(at: datetime) -> Literal:
        return Literal(moment(at, language, zone))

    def who(entry: Listed) -> Message | Literal:
        return person(entry.signed_by, entry.signed_by_number)

    signatures = store.statements.signatures(record.id)
    entries = in_order(
        listed(store, (s for s in signatures if s.stands)), record.fields.list_order, language
    )
    lines: list[Message | Literal] = [
        Message.of(
            "statements.list.title",
            number=record.id,
            title=Literal(record.fields.title),
            version=record.current.number,
        ),
        heading(entries) if entries else Message.of("statements.list.nobody"),
    ]
    for entry in entries:
        if entry.country is None:
            lines.append(
                Message.of(
                    "statements.list.detail_individual",
                    name=listed_name(entry),
                    when=when(entry.signed_at),
                    version=entry.version_number,
                )
            )
        else:
            lines.append(
                Message.of(
                    "statements.list.detail",
                    name=listed_name(entry),
                    country=Territory(entry.country),
                    who=who(entry),
                    when=when(entry.signed_at),
                    version=entry.version_number,
                )
            )
    if not coordinator:
        return Lines(tuple(lines))
    waiting = listed(store, (s for s in signatures if s.waiting))
    if waiting:
        lines.append(Message.counted("statements.list.waiting_header", len(waiting)))
        lines.extend(
            Message.of(
                "statements.list.waiting",
                name=listed_name(entry),
                version=entry.version_number,
                when=when(entry.signed_at),
            )
            for entry in waiting
        )
    declined = listed(store, (s for s in signatures if s.answer is Answer.DECLINED))
    if declined:
        lines.append(Message.counted("statements.list.declined_header", len(declined)))
        lines.extend(
            Message.of(
                "statements.list.declined",
                name=listed_name(entry),
                who=who(entry),
                when=when(entry.signed_at),
            )
            for entry in declined
        )
    withdrawn = [s for s in signatures if s.answer is Answer.WITHDRAWN]
    if withdrawn:
        lines.append(Message.counted("statements.list.withdrawn_header", len(withdrawn)))
        for signature in withdrawn:
            for entry in listed(store, [signature]):
                lines.append(
                    Message.of(
                        "statements.list.withdrawn",
                        name=listed_name(entry),
                        who=person(
                            _member_name(store, signature.withdrawn_by), signature.withdrawn_by
                        ),
                        when=when(signature.withdrawn_at or signature.answered_at),
                    )
                )
    questions = store.statements.questions(record.id, open_only=True)
    if questions:
        lines.append(
            Message.counted(
                "statements.list.questions_header",
                len(questions),
                command=CommandRef("answerquestion"),
            )
        )
        lines.extend(
            Message.of(
                "statements.list.question",
                number=question.id,
                who=person(_member_name(store, question.member_id), question.member_id),
                text=Literal(question.text),
            )
            for question in questions
        )
    return Lines(tuple(lines))
