"""A report's contents: one record whose field names the intake, the seal and the export share."""

from __future__ import annotations

import json

from handlers.cases.export import COLUMNS
from handlers.cases.intake import REPORT
from storage.case_contents import CaseContents, Company

FULL = CaseContents(
    reporter="organization",
    organization="Red de Acción",
    naming="public",
    title="River poisoned by the mine",
    locality="Vereda El Alto",
    companies=(Company("Minera Andina", "operator", "CA"), Company("Banco", "investor")),
    affected="Families downstream",
    affected_count=1200,
    affected_groups=("indigenous", "women"),
    narrative="It began with the spill.\n\nThen the fish died.",
    state_role=("permits",),
    steps_taken=("courts", "media_campaigns"),
    steps_outcome="The court has not ruled",
    remedy="Clean-up and compensation",
    publication="named",
    follow_up="yes",
    links=("https://example.org/evidence/1",),
    language="es",
)


def test_contents_read_back_from_their_sealed_document_as_they_were() -> None:
    document = json.dumps(FULL.to_data(), sort_keys=True)
    assert CaseContents.from_data(json.loads(document)) == FULL


def test_the_sealed_document_names_every_part_by_its_field() -> None:
    assert list(FULL.to_data()) == list(CaseContents.field_names())
    assert FULL.to_data()["companies"][1] == {"name": "Banco", "role": "investor", "country": None}


def test_a_document_missing_parts_reads_them_as_unanswered_and_ignores_strangers() -> None:
    read = CaseContents.from_data(
        {"title": "Spill", "affected_groups": None, "location": "somewhere", "affected_count": "x"}
    )
    assert read == CaseContents(title="Spill")


def test_every_part_of_a_report_but_its_links_and_language_is_asked_by_its_own_question() -> None:
    asked = {step.name for step in REPORT.steps}
    assert set(CaseContents.field_names()) - asked == {"links", "language"}


def test_every_shareable_part_of_a_report_is_exported_under_its_own_name() -> None:
    # How the reporter may be named, whether they want follow-up, and their language stay in.
    assert set(CaseContents.field_names()) - set(COLUMNS) == {"naming", "follow_up", "language"}
