"""The consultations' storage on SQLite and PostgreSQL: two members merged keep one
subscription per subject (the wish made last) and one answer per consultation (planning to
contribute over interest); a member's export holds their subscriptions and answers; and
migration 0019 goes down and up again."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory

from bot.types import Platform
from storage import Store
from storage.consultations import (
    ConsultationDraft,
    Intent,
    SubscriptionKind,
    SubscriptionRecord,
)
from storage.database import alembic_config
from storage.merging import merge_members_in
from tests.harness.clock import Clock
from tests.test_storage import head_revision

CONSOLE = Platform.CONSOLE


def test_merged_members_keep_the_latest_wish_and_the_stronger_answer(
    clocked_store: Store, clock: Clock
) -> None:
    store = clocked_store
    older = store.members.for_identity(CONSOLE, "older", language="en").id
    newer = store.members.for_identity(CONSOLE, "newer", language="es").id
    consultation, _ = store.consultations.create_draft(ConsultationDraft("A call", source_uid="x"))
    store.consultations.subscribe(newer, SubscriptionKind.GROUP, "1")
    clock.advance(minutes=1)
    store.consultations.unsubscribe(older, SubscriptionKind.GROUP, "1", opt_out=True)
    store.consultations.subscribe(older, SubscriptionKind.TOPIC, "sector:mining")
    store.consultations.subscribe(newer, SubscriptionKind.TOPIC, "sector:mining")
    store.consultations.answer(consultation.id, older, Intent.INTERESTED)
    store.consultations.answer(consultation.id, newer, Intent.CONTRIBUTE)
    with store._sessions.begin() as session:
        merge_members_in(session, older, newer)
    assert sorted(store.consultations.subscriptions_of(older), key=repr) == sorted(
        [
            SubscriptionRecord(SubscriptionKind.GROUP, "1", opted_out=True),
            SubscriptionRecord(SubscriptionKind.TOPIC, "sector:mining", opted_out=False),
        ],
        key=repr,
    )
    assert store.consultations.contributions(consultation.id).contribute == (older,)


def test_a_members_export_holds_their_subscriptions_and_answers(store: Store) -> None:
    member = store.members.for_identity(CONSOLE, "ana", language="en").id
    consultation, _ = store.consultations.create_draft(ConsultationDraft("A call"))
    store.consultations.subscribe(member, SubscriptionKind.COUNTRY, "CO")
    store.consultations.answer(consultation.id, member, Intent.CONTRIBUTE)
    exported = store.member_data.export(member)
    assert [row["value"] for row in exported["consultation_subscriptions"]] == ["CO"]
    assert [row["intent"] for row in exported["consultation_contributions"]] == ["contribute"]


def test_migration_0019_goes_down_and_up_again(store: Store) -> None:
    revision = ScriptDirectory.from_config(alembic_config()).get_revision("0019")
    assert revision is not None
    store.consultations.create_draft(ConsultationDraft("A call", source_uid="again"))
    with store._engine.begin() as connection:
        command.downgrade(alembic_config(connection=connection), str(revision.down_revision))
        tables = set(connection.dialect.get_table_names(connection))
    assert not tables & {
        "consultations",
        "consultation_subscriptions",
        "consultation_contributions",
    }
    store.upgrade()
    assert store.current_revision() == head_revision()
    assert store.consultations.create_draft(ConsultationDraft("A call", source_uid="again"))[1]
