"""Joint statements' storage on SQLite and PostgreSQL: a statement is opened and found by
its groups; a correction keeps the edition and a change of substance starts one; a
version's hash covers its document; a signature stands, waits and is confirmed, and is
refused for a stale text, after the deadline and after the close; an organization signs
once through any signatory, even when two sign at the same moment; a decline over a
signature changes nothing; declines and withdrawals are recorded with who and when, and
every answer is kept in the history; translations go out of date; questions are answered
once; a statement closes once and is published once closed; a member's data are exported
and erased (an organization's signature stays); two members merged who both signed keep
the answer given last; and migration 0023 goes down and up."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from datetime import datetime, timedelta

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from bot.types import Platform
from storage import Store, WorkingGroupSpec
from storage.database import alembic_config
from storage.merging import merge_members_in
from storage.statement_records import (
    Answer,
    AnswerOutcome,
    Change,
    ListOrder,
    SignatureEvent,
    StatementFields,
    StatementFile,
    StatementRecord,
    StatementState,
    WhoSigns,
    member_signer,
    organization_signer,
    version_hash,
)
from storage.statements import VersionChanged
from tests.harness.clock import Clock
from tests.test_storage import head_revision

CONSOLE = Platform.CONSOLE
TEXT = "We, the undersigned organizations, call on the company to stop."
SIGNED, DECLINED, WITHDRAWN = Answer.SIGNED, Answer.DECLINED, Answer.WITHDRAWN


def a_group(store: Store, slug: str = "cawg") -> int:
    store.groups.sync_configured([WorkingGroupSpec(slug, slug.upper())], [], default_language="en")
    group = store.groups.by_slug(slug)
    assert group is not None
    return group.id


def a_member(store: Store, name: str) -> int:
    return store.members.for_identity(CONSOLE, name, language="en").id


def fields_for(store: Store, group: int, **changes: object) -> StatementFields:
    fields = StatementFields(
        working_group_id=group,
        title="Stop the dam",
        language="en",
        deadline=store.now() + timedelta(days=3),
        who_signs=WhoSigns.GROUP,
        individuals=True,
        list_order=ListOrder.COUNTRY,
        rooms=(("telegram", "-1001"), ("matrix", "!room:example.org")),
        time_zone="America/Lima",
        remind_hours_before=(48, 6),
    )
    return dataclasses.replace(fields, **changes)  # type: ignore[arg-type]


def a_statement(store: Store, text: str = TEXT, **changes: object) -> StatementRecord:
    return store.statements.open(fields_for(store, a_group(store), **changes), text, None, None)


def answer(
    store: Store,
    statement: StatementRecord | int,
    signer: str,
    member: int,
    given: Answer,
    *,
    text_hash: str | None = None,
    now: datetime | None = None,
) -> AnswerOutcome:
    """``member``'s answer for ``signer``, for the current text unless ``text_hash``."""
    record = store.statements.get(statement if isinstance(statement, int) else statement.id)
    assert record is not None
    return store.statements.answer(
        record.id,
        signer=signer,
        member_id=member,
        answer=given,
        text_hash=record.current.text_hash if text_hash is None else text_hash,
        now=store.now() if now is None else now,
    )


def current(store: Store, statement: int) -> int:
    """The statement's current version number, as a coordinator starts from it."""
    record = store.statements.get(statement)
    assert record is not None
    return record.current.number


def revise(store: Store, statement: int, text: str, change: Change) -> StatementRecord:
    record = store.statements.revise(
        statement, text, None, change, None, expected_version=current(store, statement)
    )
    assert record is not None
    return record


# -- statements and versions ------------------------------------------------------------------


def test_a_statement_is_opened_and_read_back_with_every_field_and_its_document(
    store: Store,
) -> None:
    group, ana = a_group(store), a_member(store, "ana")
    fields = fields_for(store, group)
    document = StatementFile("letter.pdf", "application/pdf", b"%PDF-1.7\x00\xff binary")
    opened = store.statements.open(fields, "Summary: stop the dam.", document, ana)
    assert opened == store.statements.get(opened.id)
    assert opened.fields == fields
    assert (opened.state, opened.created_by, opened.closed_at, opened.published_url) == (
        StatementState.OPEN,
        ana,
        None,
        None,
    )
    version = opened.current
    assert (version.number, version.edition, version.change, version.file) == (
        1,
        1,
        Change.ORIGINAL,
        document,
    )
    assert version.text_hash == version_hash("Summary: stop the dam.", document.data)
    assert store.statements.get(opened.id + 1) is None


def test_a_groups_statements_are_the_open_ones_and_those_closed_lately_newest_first(
    clocked_store: Store, clock: Clock
) -> None:
    store = clocked_store
    ours, theirs = a_group(store, "cawg"), a_group(store, "legal")
    old = store.statements.open(fields_for(store, ours), TEXT, None, None).id
    store.statements.close(old)
    clock.advance(days=10)
    lately = store.statements.open(fields_for(store, ours), TEXT, None, None).id
    store.statements.close(lately)
    clock.advance(minutes=1)
    still_open = store.statements.open(fields_for(store, ours), TEXT, None, None).id
    other = store.statements.open(fields_for(store, theirs), TEXT, None, None).id
    since = clock.now - timedelta(days=1)
    assert [s.id for s in store.statements.of_groups([ours], closed_since=since)] == [
        still_open,
        lately,
    ]
    assert [s.id for s in store.statements.of_groups(None, closed_since=since)] == [
        other,
        still_open,
        lately,
    ]
    assert store.statements.of_groups([], closed_since=since) == []


def test_a_correction_keeps_the_edition_and_a_change_of_substance_starts_one(
    store: Store,
) -> None:
    statement = a_statement(store).id
    corrected = revise(store, statement, TEXT + " Now.", Change.CORRECTION)
    changed = revise(store, statement, "We call for a moratorium.", Change.SUBSTANCE)
    again = revise(store, statement, "We call for a moratorium!", Change.CORRECTION)
    assert [(v.number, v.change, v.edition) for v in store.statements.versions(statement)] == [
        (1, Change.ORIGINAL, 1),
        (2, Change.CORRECTION, 1),
        (3, Change.SUBSTANCE, 3),
        (4, Change.CORRECTION, 3),
    ]
    assert (corrected.current.number, changed.current.number) == (2, 3)
    assert again == store.statements.get(statement)
    with pytest.raises(ValueError):
        store.statements.revise(
            statement, "We call for a moratorium!", None, Change.SUBSTANCE, 1, expected_version=4
        )
    store.statements.close(statement)
    too_late = store.statements.revise(
        statement, "Too late.", None, Change.CORRECTION, None, expected_version=4
    )
    assert too_late is None
    assert len(store.statements.versions(statement)) == 4


def test_a_versions_hash_covers_its_document_and_a_new_document_alone_is_a_new_version(
    store: Store,
) -> None:
    summary = "Summary: stop the dam."
    letter = StatementFile("letter.pdf", "application/pdf", b"%PDF-1.7 first")
    opened = store.statements.open(fields_for(store, a_group(store)), summary, letter, None)
    assert opened.current.text_hash == version_hash(summary, letter.data)
    assert version_hash(summary, None) == hashlib.sha256(summary.encode()).hexdigest()
    assert (
        len({version_hash(summary, None), version_hash(summary, b""), opened.current.text_hash})
        == 3
    )
    renamed = StatementFile("carta.pdf", "application/pdf", letter.data)
    with pytest.raises(ValueError):
        store.statements.revise(
            opened.id, summary, renamed, Change.CORRECTION, None, expected_version=1
        )
    amended = StatementFile("letter.pdf", "application/pdf", b"%PDF-1.7 amended")
    revised = store.statements.revise(
        opened.id, summary, amended, Change.SUBSTANCE, None, expected_version=1
    )
    assert revised is not None
    assert (revised.current.number, revised.current.file) == (2, amended)
    assert revised.current.text_hash == version_hash(summary, amended.data)
    # The same text without its document is a change too.
    bare = store.statements.revise(
        opened.id, summary, None, Change.CORRECTION, None, expected_version=2
    )
    assert bare is not None and bare.current.text_hash == version_hash(summary, None)


def test_a_revision_or_translation_of_a_version_no_longer_current_is_refused(
    store: Store,
) -> None:
    statement = a_statement(store).id
    revise(store, statement, "We call for a moratorium.", Change.SUBSTANCE)
    # Begun on version 1 before version 2 came in: neither lands on version 2.
    with pytest.raises(VersionChanged) as changed:
        store.statements.revise(
            statement, TEXT + " Now.", None, Change.CORRECTION, None, expected_version=1
        )
    assert changed.value.current == 2
    with pytest.raises(VersionChanged):
        store.statements.translate(statement, "es", "Nosotras...", None, None, expected_version=1)
    assert [v.number for v in store.statements.versions(statement)] == [1, 2]
    assert store.statements.translations(statement) == []


# -- signing ----------------------------------------------------------------------------------


def test_a_signature_stands_through_a_correction_and_waits_after_a_change_of_substance(
    store: Store,
) -> None:
    statement = a_statement(store)
    org = store.organizations.add("Red Étnica", "CO", "movement").id
    ana = a_member(store, "ana")
    signer = organization_signer(org)
    assert answer(store, statement, signer, ana, SIGNED) is AnswerOutcome.SIGNED
    assert answer(store, statement, signer, ana, SIGNED) is AnswerOutcome.ALREADY
    revise(store, statement.id, TEXT + " Now.", Change.CORRECTION)
    [signature] = store.statements.signatures(statement.id)
    assert (signature.version_number, signature.stands, signature.waiting) == (1, True, False)
    # The text shown before the correction is no longer the one signed for.
    stale = answer(store, statement, signer, ana, SIGNED, text_hash=statement.current.text_hash)
    assert stale is AnswerOutcome.STALE
    assert answer(store, statement, signer, ana, SIGNED) is AnswerOutcome.ALREADY
    revise(store, statement.id, "We call for a moratorium.", Change.SUBSTANCE)
    [signature] = store.statements.signatures(statement.id)
    assert (signature.answer, signature.stands, signature.waiting) == (SIGNED, False, True)
    assert answer(store, statement, signer, ana, SIGNED) is AnswerOutcome.CONFIRMED
    [signature] = store.statements.signatures(statement.id)
    assert (signature.version_number, signature.stands) == (3, True)
    assert signature.text_hash == version_hash("We call for a moratorium.", None)


def test_declining_over_a_signature_that_stands_or_waits_changes_nothing(store: Store) -> None:
    statement = a_statement(store)
    org = store.organizations.add("Red Étnica", "CO", "movement").id
    ana, ben = a_member(store, "ana"), a_member(store, "ben")
    signer = organization_signer(org)
    assert answer(store, statement, signer, ana, SIGNED) is AnswerOutcome.SIGNED
    signed = store.statements.signatures(statement.id)
    assert answer(store, statement, signer, ben, DECLINED) is AnswerOutcome.ALREADY_SIGNED
    assert store.statements.signatures(statement.id) == signed
    revise(store, statement.id, "We call for a moratorium.", Change.SUBSTANCE)
    waiting = store.statements.signatures(statement.id)
    assert waiting[0].waiting
    assert answer(store, statement, signer, ben, DECLINED) is AnswerOutcome.ALREADY_SIGNED
    assert store.statements.signatures(statement.id) == waiting
    assert [(e.member_id, e.answer) for e in store.statements.history(statement.id)] == [
        (ana, SIGNED)
    ]


def test_an_organization_signs_once_through_any_of_its_signatories(store: Store) -> None:
    statement = a_statement(store)
    org = store.organizations.add("Red Étnica", "CO", "movement").id
    ana, ben = a_member(store, "ana"), a_member(store, "ben")
    signer = organization_signer(org)
    assert answer(store, statement, signer, ana, SIGNED) is AnswerOutcome.SIGNED
    assert answer(store, statement, signer, ben, SIGNED) is AnswerOutcome.ALREADY
    assert answer(store, statement, member_signer(ben), ben, SIGNED) is AnswerOutcome.SIGNED
    assert [
        (s.signer, s.organization_id, s.member_id)
        for s in store.statements.signatures(statement.id)
    ] == [(signer, org, ana), (member_signer(ben), None, ben)]


def test_two_signatories_signing_at_once_leave_one_signature(
    database_url: str, store: Store
) -> None:
    statement = a_statement(store)
    org = store.organizations.add("Red Étnica", "CO", "movement").id
    ana, ben = a_member(store, "ana"), a_member(store, "ben")
    signer = organization_signer(org)
    results: list[AnswerOutcome] = []
    with Store(database_url) as other:
        started = threading.Event()

        def sign_from_other() -> None:
            started.set()
            results.append(answer(other, statement.id, signer, ben, SIGNED))

        worker = threading.Thread(target=sign_from_other)
        with store.transaction():
            first = answer(store, statement.id, signer, ana, SIGNED)
            worker.start()  # the other connection waits for this transaction's lock
            started.wait()
            time.sleep(0.3)
        worker.join(timeout=30)
    assert (first, results) == (AnswerOutcome.SIGNED, [AnswerOutcome.ALREADY])
    assert [(s.signer, s.member_id) for s in store.statements.signatures(statement.id)] == [
        (signer, ana)
    ]
    assert [event.member_id for event in store.statements.history(statement.id)] == [ana]


def test_a_decline_and_a_withdrawal_are_recorded_with_who_and_when(
    clocked_store: Store, clock: Clock
) -> None:
    store = clocked_store
    statement = a_statement(store)
    org = store.organizations.add("Red Étnica", "CO", "movement").id
    ana, ben = a_member(store, "ana"), a_member(store, "ben")
    signer = organization_signer(org)
    first_hash = statement.current.text_hash
    revise(store, statement.id, "We call for a moratorium.", Change.SUBSTANCE)
    # Declining takes the text the member was shown, even an earlier one.
    assert answer(store, statement, signer, ana, DECLINED, text_hash=first_hash) is (
        AnswerOutcome.DECLINED
    )
    assert answer(store, statement, signer, ben, DECLINED) is AnswerOutcome.ALREADY_DECLINED
    [declined] = store.statements.signatures(statement.id)
    assert (declined.answer, declined.version_number, declined.stands) == (DECLINED, 1, False)
    assert answer(store, statement, signer, ana, WITHDRAWN) is AnswerOutcome.NOT_SIGNED
    assert answer(store, statement, signer, ana, SIGNED) is AnswerOutcome.SIGNED
    withdrawn_at = clock.advance(hours=1)
    assert answer(store, statement, signer, ben, WITHDRAWN, text_hash="") is (
        AnswerOutcome.WITHDRAWN
    )
    [withdrawn] = store.statements.signatures(statement.id)
    assert (withdrawn.answer, withdrawn.stands, withdrawn.member_id) == (WITHDRAWN, False, ana)
    assert (withdrawn.withdrawn_by, withdrawn.withdrawn_at) == (ben, withdrawn_at)
    assert answer(store, statement, signer, ben, WITHDRAWN) is AnswerOutcome.NOT_SIGNED
    assert store.statements.history(statement.id) == [
        SignatureEvent(statement.id, signer, ana, DECLINED, 1, statement.created_at),
        SignatureEvent(statement.id, signer, ana, SIGNED, 2, statement.created_at),
        SignatureEvent(statement.id, signer, ben, WITHDRAWN, 2, withdrawn_at),
    ]


def test_an_answer_after_the_deadline_or_the_close_is_refused(
    clocked_store: Store, clock: Clock
) -> None:
    store = clocked_store
    statement = a_statement(store, deadline=clock.now + timedelta(hours=1))
    ana = a_member(store, "ana")
    late = clock.now + timedelta(hours=1, seconds=1)
    signer = member_signer(ana)
    assert answer(store, statement, signer, ana, SIGNED, now=late) is AnswerOutcome.CLOSED
    store.statements.close(statement.id)
    assert answer(store, statement, signer, ana, SIGNED) is AnswerOutcome.CLOSED
    assert answer(store, statement, signer, ana, DECLINED) is AnswerOutcome.CLOSED
    assert store.statements.signatures(statement.id) == []
    assert store.statements.history(statement.id) == []


def test_a_signer_that_is_neither_an_organization_nor_the_member_is_refused(
    store: Store,
) -> None:
    statement = a_statement(store)
    ana, ben = a_member(store, "ana"), a_member(store, "ben")
    for forged in (member_signer(ben), "organization:x", "gone:1", "organization:01"):
        with pytest.raises(ValueError):
            answer(store, statement, forged, ana, SIGNED)
    assert store.statements.signatures(statement.id) == []


# -- translations, questions, closing -----------------------------------------------------------


def test_a_translation_replaces_the_earlier_one_and_goes_out_of_date_with_a_new_version(
    store: Store,
) -> None:
    statement = a_statement(store).id
    ana = a_member(store, "ana")
    store.statements.translate(statement, "es", "Nosotras...", None, ana, expected_version=1)
    document = StatementFile("carta.odt", "application/vnd.oasis.opendocument.text", b"PK\x03")
    spanish = store.statements.translate(
        statement, "es", "Nosotras, las...", document, None, expected_version=1
    )
    assert spanish is not None and spanish.current and spanish.file == document
    store.statements.translate(statement, "fr", "Nous...", None, ana, expected_version=1)
    revise(store, statement, TEXT + " Now.", Change.CORRECTION)
    assert [
        (t.language, t.text, t.version_number, t.current, t.created_by)
        for t in store.statements.translations(statement)
    ] == [("es", "Nosotras, las...", 1, False, None), ("fr", "Nous...", 1, False, ana)]
    assert store.statements.translations(statement)[0].file == document
    with pytest.raises(ValueError):
        store.statements.translate(statement, "en", "Same language.", None, ana, expected_version=2)
    store.statements.close(statement)
    assert store.statements.translate(statement, "ar", "نحن", None, ana, expected_version=2) is None


def test_the_statements_an_organization_answered_are_those_it_signed_declined_or_withdrew_from(
    store: Store,
) -> None:
    signed, declined, withdrawn, unanswered = (a_statement(store) for _ in range(4))
    org = store.organizations.add("Red Étnica", "CO", "movement").id
    other = store.organizations.add("Otra", "PE", "movement").id
    ana = a_member(store, "ana")
    answer(store, signed, organization_signer(org), ana, SIGNED)
    answer(store, declined, organization_signer(org), ana, DECLINED)
    answer(store, withdrawn, organization_signer(org), ana, SIGNED)
    answer(store, withdrawn, organization_signer(org), ana, WITHDRAWN)
    answer(store, unanswered, member_signer(ana), ana, SIGNED)
    assert store.statements.answered_by_organization(org) == [
        signed.id,
        declined.id,
        withdrawn.id,
    ]
    assert store.statements.answered_by_organization(other) == []


def test_a_question_is_answered_once(clocked_store: Store, clock: Clock) -> None:
    store = clocked_store
    statement = a_statement(store).id
    ana, coordinator = a_member(store, "ana"), a_member(store, "coordinator")
    first = store.statements.ask(statement, ana, "Who else signs?")
    second = store.statements.ask(statement, ana, "¿Hasta cuándo?")
    answered_at = clock.advance(minutes=5)
    replied = store.statements.reply_to_question(first.id, coordinator, "Forty so far.")
    assert replied == dataclasses.replace(
        first, answer="Forty so far.", answered_by=coordinator, answered_at=answered_at
    )
    assert store.statements.reply_to_question(first.id, coordinator, "Fifty.") is None
    assert store.statements.question(first.id) == replied
    assert store.statements.questions(statement) == [replied, second]
    assert store.statements.questions(statement, open_only=True) == [second]


def test_a_statement_closes_once_and_is_published_only_when_closed(
    clocked_store: Store, clock: Clock
) -> None:
    store = clocked_store
    statement = a_statement(store).id
    assert store.statements.publish(statement, "https://example.org/a") is None
    closed = store.statements.close(statement)
    assert closed is not None
    assert (closed.state, closed.closed_at) == (StatementState.CLOSED, clock.now)
    assert store.statements.close(statement) is None
    store.statements.publish(statement, "https://example.org/a")
    published = store.statements.publish(statement, "https://example.org/b")
    assert published is not None and published.published_url == "https://example.org/b"
    assert store.statements.get(statement) == published


def test_a_notice_is_noted_once_per_member_statement_and_kind(store: Store) -> None:
    statement = a_statement(store).id
    ana, ben = a_member(store, "ana"), a_member(store, "ben")
    assert store.statements.note_once(statement, ana, "reminder:72")
    assert not store.statements.note_once(statement, ana, "reminder:72")
    assert store.statements.note_once(statement, ana, "reminder:24")
    assert store.statements.note_once(statement, ben, "reminder:72")


# -- a member's data ----------------------------------------------------------------------------


def test_an_erased_members_own_signature_and_questions_go_and_their_organizations_stays(
    store: Store,
) -> None:
    statement = a_statement(store)
    org = store.organizations.add("Red Étnica", "CO", "movement").id
    ana, ben = a_member(store, "ana"), a_member(store, "ben")
    other = a_statement(store)
    answer(store, statement, organization_signer(org), ana, SIGNED)
    answer(store, other, member_signer(ana), ana, SIGNED)
    answer(store, other, member_signer(ben), ben, DECLINED)
    store.statements.ask(statement.id, ana, "Ana asks about Ana's village")
    store.statements.note_once(statement.id, ana, "reminder:72")
    exported = store.member_data.export(ana)
    assert [
        (row["statement"], row["for_organization"]) for row in exported["statement_signatures"]
    ] == [(statement.id, org), (other.id, None)]
    assert len(exported["statement_answers"]) == 2
    assert [row["text"] for row in exported["statement_questions"]] == [
        "Ana asks about Ana's village"
    ]
    assert [row["what"] for row in exported["statement_notices"]] == ["reminder:72"]
    store.member_data.erase(ana, keep_reports=True)
    [kept] = store.statements.signatures(statement.id)
    assert (kept.signer, kept.member_id, kept.stands) == (organization_signer(org), None, True)
    assert [s.signer for s in store.statements.signatures(other.id)] == [member_signer(ben)]
    assert [e.signer for e in store.statements.history(other.id)] == [member_signer(ben)]
    assert store.statements.questions(statement.id) == []


def test_two_members_merged_who_both_signed_in_their_own_name_keep_the_answer_given_last(
    clocked_store: Store, clock: Clock
) -> None:
    store = clocked_store
    statement = a_statement(store)
    older, newer = a_member(store, "older"), a_member(store, "newer")
    answer(store, statement, member_signer(older), older, SIGNED)
    clock.advance(minutes=1)
    answer(store, statement, member_signer(newer), newer, DECLINED)
    with store._sessions.begin() as session:
        merge_members_in(session, older, newer)
    [signature] = store.statements.signatures(statement.id)
    assert (signature.signer, signature.answer) == (member_signer(older), DECLINED)
    assert answer(store, statement, member_signer(older), older, SIGNED) is AnswerOutcome.SIGNED


# -- migration ------------------------------------------------------------------------------------


def test_migration_0023_goes_down_and_up_again(store: Store) -> None:
    revision = ScriptDirectory.from_config(alembic_config()).get_revision("0023")
    assert revision is not None
    a_statement(store)
    with store._engine.begin() as connection:
        command.downgrade(alembic_config(connection=connection), str(revision.down_revision))
        tables = set(connection.dialect.get_table_names(connection))
    assert not {table for table in tables if table.startswith("statement")}
    store.upgrade()
    assert store.current_revision() == head_revision()
    assert a_statement(store).state is StatementState.OPEN
