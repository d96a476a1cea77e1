"""Storage of case reports: sealed at rest, counted, filtered, erased, re-sealed on rotation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from bot.types import Platform
from storage import KeysDoNotOpen, StorageError, Store, WorkingGroupSpec
from storage.case_contents import CaseContents
from storage.case_records import CaseFilter, CaseStatus, NewCase
from storage.database import normalize_url
from storage.sealing import BadKey, Sealer, generate_key
from tests.test_storage import head_revision

SECRET = "the manager's threat Zx81"


@pytest.fixture
def key() -> str:
    return generate_key()


@pytest.fixture
def sealed(database_url: str, key: str) -> Iterator[Store]:
    store = Store(database_url, sealer=Sealer([key]))
    store.upgrade()
    store.groups.sync_configured(
        [
            WorkingGroupSpec("cawg", "CAWG", ("en",), (), ((Platform.CONSOLE, "coord"),), ()),
            WorkingGroupSpec("land", "Land", ("en",), (), (), ()),
        ],
        [],
        default_language="en",
    )
    try:
        yield store
    finally:
        store.close()


def group_id(store: Store, slug: str) -> int:
    found = store.groups.by_slug(slug)
    assert found is not None
    return found.id


def report(store: Store, **overrides: object) -> int:
    author = store.members.for_identity(Platform.CONSOLE, "author", language="en")
    values: dict[str, object] = {
        "working_group_id": group_id(store, "cawg"),
        "author_member_id": author.id,
        "urgent": False,
        "country": "CO",
        "region": "latin_america_caribbean",
        "sector": "mining",
        "started": "2021",
        "ongoing": True,
        "rights": ("water", "health"),
        "contents": CaseContents(title="River", narrative=SECRET),
        "attachments": (("telegram", {"ref": "file-1", "filename": "photo.jpg"}),),
    }
    values.update(overrides)
    return store.cases.submit(NewCase(**values))  # type: ignore[arg-type]


def raw_rows(url: str) -> bytes:
    """Every case row as the database holds it, read around the store."""
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as connection:
            parts: list[bytes] = []
            for table in ("case_reports", "case_attachments", "case_events", "conversations"):
                for row in connection.execute(text(f"SELECT * FROM {table}")):
                    parts.extend(
                        bytes(value)
                        if isinstance(value, bytes | memoryview)
                        else str(value).encode()
                        for value in row
                    )
            return b"\n".join(parts)
    finally:
        engine.dispose()


def test_contents_attachments_and_drafts_are_sealed_at_rest(
    sealed: Store, database_url: str
) -> None:
    number = report(sealed)
    sealed.cases.set_status(number, CaseStatus.NEEDS_INFO, 1, f"question {SECRET}")
    member = sealed.members.for_identity(Platform.CONSOLE, "author", language="en")
    sealed.conversations.save(member.id, "report", "title", {"answers": {"narrative": SECRET}})
    stored = raw_rows(database_url)
    assert SECRET.encode() not in stored
    assert b"photo.jpg" not in stored
    assert b"mining" in stored  # the classification stays countable in the clear
    detail = sealed.cases.detail(number)
    assert detail is not None
    assert detail.contents.narrative == SECRET
    assert detail.events[-1].text == f"question {SECRET}"
    assert detail.attachments[0].filename == "photo.jpg"


def test_a_store_without_a_key_cannot_file_a_report(database_url: str) -> None:
    with Store(database_url) as plain:
        plain.upgrade()
        plain.groups.sync_configured(
            [WorkingGroupSpec("cawg", "CAWG", ("en",), (), (), ())], [], default_language="en"
        )
        with pytest.raises(StorageError, match="no encryption key"):
            report(plain)


def test_a_wrong_key_cannot_open_what_another_sealed(sealed: Store, database_url: str) -> None:
    number = report(sealed)
    with (
        Store(database_url, sealer=Sealer([generate_key()])) as stranger,
        pytest.raises(StorageError, match="cannot be opened"),
    ):
        stranger.cases.detail(number)


def test_rotation_reseals_everything_so_that_the_old_key_can_go(
    sealed: Store, database_url: str, key: str
) -> None:
    number = report(sealed)
    member = sealed.members.for_identity(Platform.CONSOLE, "author", language="en")
    sealed.conversations.save(member.id, "report", "title", {"answers": {"title": "Draft"}})
    sealed.outbox.enqueue([(Platform.TELEGRAM, "42", {"text": SECRET})])
    new = generate_key()
    with Store(database_url, sealer=Sealer([new, key])) as both:
        assert both.reseal_everything(batch=2) == 4  # contents, source, draft, outbox
    with Store(database_url, sealer=Sealer([new])) as only_new:
        detail = only_new.cases.detail(number)
        assert detail is not None
        assert detail.contents.narrative == SECRET
        conversation = only_new.conversations.load(member.id)
        assert conversation is not None
        assert conversation.data["answers"] == {"title": "Draft"}
        [queued] = only_new.outbox.pending(Platform.TELEGRAM)
        assert queued.payload == {"text": SECRET}


def test_a_key_made_when_needed_is_made_by_the_first_sealed_value_with_the_check_value(
    database_url: str,
) -> None:
    made: list[str] = []

    def make_key() -> str:
        made.append(generate_key())
        return made[-1]

    with Store(database_url, sealer=Sealer([], make_key=make_key)) as store:
        store.upgrade()
        store.check_keys()  # nothing sealed yet: no key, and no check value
        member = store.members.for_identity(Platform.CONSOLE, "author", language="en")
        assert made == []
        with store.transaction():
            store.conversations.save(member.id, "report", "title", {"answers": {}})
        store.conversations.save(member.id, "report", "country", {"answers": {}})
        assert len(made) == 1
    with (
        Store(database_url, sealer=Sealer([generate_key()])) as stranger,
        pytest.raises(KeysDoNotOpen),
    ):
        stranger.check_keys()  # the check value was sealed with the key made
    with Store(database_url, sealer=Sealer(made)) as again:
        again.check_keys()
        conversation = again.conversations.load(member.id)
        assert conversation is not None and conversation.step == "country"


def test_a_store_started_before_the_key_was_made_opens_what_another_sealed_with_it(
    database_url: str,
) -> None:
    # A standby bot (or a command beside the bot) started while no key existed yet: the
    # bot that took over must read what the first one sealed with the key it made.
    made: list[str] = []

    def make_key() -> str:
        made.append(generate_key())
        return made[-1]

    def find_key() -> str | None:
        return made[-1] if made else None

    with (
        Store(database_url, sealer=Sealer([], make_key=make_key, find_key=find_key)) as first,
        Store(database_url, sealer=Sealer([], make_key=make_key, find_key=find_key)) as second,
    ):
        first.upgrade()
        member = first.members.for_identity(Platform.CONSOLE, "author", language="en")
        first.conversations.save(member.id, "report", "title", {"answers": {"title": SECRET}})
        conversation = second.conversations.load(member.id)
        assert conversation is not None and conversation.data["answers"] == {"title": SECRET}
        assert len(made) == 1


def test_a_malformed_key_is_refused_with_its_position() -> None:
    with pytest.raises(BadKey, match="key 2"):
        Sealer([generate_key(), "not-a-key"])


def test_statistics_count_by_region_country_sector_and_right(sealed: Store) -> None:
    report(sealed)
    report(sealed, country="PE", rights=("water",))
    report(sealed, country="PH", region="asia", sector="agribusiness", rights=("food",))
    rejected = report(sealed, country="NG", region="africa")
    sealed.cases.set_status(rejected, CaseStatus.REJECTED, 1, "duplicate")
    report(sealed, working_group_id=group_id(sealed, "land"), country="BR")
    stats = sealed.cases.statistics([group_id(sealed, "cawg")], leave_out=[CaseStatus.REJECTED])
    assert stats.total == 3
    assert stats.countries == 3
    assert stats.by_region == (("latin_america_caribbean", 2), ("asia", 1))
    assert stats.by_sector == (("mining", 2), ("agribusiness", 1))
    assert stats.by_right == (("water", 2), ("food", 1), ("health", 1))
    everything = sealed.cases.statistics([group_id(sealed, "cawg")])
    assert everything.total == 4


def test_listing_filters_pages_and_stays_within_the_groups_asked(sealed: Store) -> None:
    cawg = group_id(sealed, "cawg")
    first = report(sealed)
    urgent = report(sealed, urgent=True, country="PE")
    report(sealed, working_group_id=group_id(sealed, "land"))
    found, total = sealed.cases.listed([cawg], CaseFilter(), limit=1)
    assert total == 2
    assert [summary.id for summary in found] == [urgent]
    found, _ = sealed.cases.listed([cawg], CaseFilter(), offset=1, limit=1)
    assert [summary.id for summary in found] == [first]
    found, total = sealed.cases.listed([cawg], CaseFilter(urgent=True))
    assert [summary.id for summary in found] == [urgent]
    found, total = sealed.cases.listed([cawg], CaseFilter(right="health", country="CO"))
    assert [summary.id for summary in found] == [first]
    assert sealed.cases.listed([], CaseFilter()) == ([], 0)


def test_withdrawing_erases_the_report_its_rights_files_and_history(
    sealed: Store, database_url: str
) -> None:
    number = report(sealed)
    [pending] = sealed.cases.pending_attachments("telegram")
    sealed.cases.store_attachment(pending.id, b"JPEG bytes of the river")
    assert sealed.cases.withdraw(number)
    assert sealed.cases.detail(number) is None
    assert not sealed.cases.withdraw(number)
    stored = raw_rows(database_url)
    assert stored == b""


def test_evidence_is_fetched_once_and_a_given_up_file_is_not_offered_again(
    sealed: Store,
) -> None:
    number = report(
        sealed,
        attachments=(
            ("telegram", {"ref": "a", "filename": "a.pdf"}),
            ("telegram", {"ref": "b", "filename": "b.pdf"}),
            ("matrix", {"ref": "mxc://x/c", "filename": "c.pdf"}),
        ),
    )
    first, second = sealed.cases.pending_attachments("telegram")
    assert first.source["ref"] == "a"
    sealed.cases.store_attachment(first.id, b"%PDF a")
    assert sealed.cases.attachment_failed(second.id, give_up=False) == 1
    assert [p.id for p in sealed.cases.pending_attachments("telegram")] == [second.id]
    sealed.cases.attachment_failed(second.id, give_up=True)
    assert sealed.cases.pending_attachments("telegram") == []
    [stored] = sealed.cases.attachment_files(number)
    assert stored.data == b"%PDF a"
    assert stored.info.filename == "a.pdf"
    assert [p.source["ref"] for p in sealed.cases.pending_attachments("matrix")] == ["mxc://x/c"]


@pytest.mark.empty_database
def test_the_case_migration_keeps_members_and_downgrades_cleanly(database_url: str) -> None:
    from alembic import command

    from storage.database import alembic_config

    with Store(database_url, sealer=Sealer([generate_key()])) as store:
        with store._engine.begin() as connection:
            command.upgrade(alembic_config(connection=connection), "0003")
        store.upgrade()
        assert store.current_revision() == head_revision()
        store.groups.sync_configured(
            [WorkingGroupSpec("cawg", "CAWG", ("en",), (), (), ())], [], default_language="en"
        )
        number = report(store)
        with store._engine.begin() as connection:
            command.downgrade(alembic_config(connection=connection), "0003")
        with store._engine.connect() as connection:
            tables = set(connection.dialect.get_table_names(connection))
            ids = connection.execute(text("SELECT id FROM identities")).scalars().all()
        assert not {t for t in tables if t.startswith("case_")}
        assert len(ids) == 1
        store.upgrade()
        assert store.cases.detail(number) is None
        assert store.cases.detail(report(store)) is not None
