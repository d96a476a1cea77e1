"""``store.feeds`` and migration 0020 on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from storage import Store, WorkingGroupSpec
from storage.database import alembic_config
from tests.test_storage import head_revision


def _group(store: Store, slug: str) -> int:
    store.groups.sync_configured(
        [WorkingGroupSpec("cawg", "CAWG"), WorkingGroupSpec("land", "Land")],
        [],
        default_language="en",
    )
    group = store.groups.by_slug(slug)
    assert group is not None
    return group.id


def test_a_feed_is_one_per_group_and_url_and_configuring_it_again_keeps_its_state(
    store: Store,
) -> None:
    cawg, land = _group(store, "cawg"), _group(store, "land")
    url = "https://example.org/calls.rss"
    feed = store.feeds.configure(cawg, url)
    assert store.feeds.record_items(feed.id, ["a", "b", "a"], etag='"1"', last_modified=None) == [
        "a",
        "b",
    ]
    again = store.feeds.configure(cawg, url)
    assert (again.id, again.etag) == (feed.id, '"1"')
    other = store.feeds.configure(land, url)
    assert other.id != feed.id
    # Items are seen per feed: the other group's feed offers them too.
    assert store.feeds.record_items(other.id, ["a"], etag=None, last_modified=None) == ["a"]
    assert store.feeds.record_items(feed.id, ["b", "c"], etag=None, last_modified=None) == ["c"]
    assert [f.id for f in store.feeds.all()] == [feed.id, other.id]


def test_a_failure_is_to_be_reported_once_until_a_success(store: Store) -> None:
    feed = store.feeds.configure(_group(store, "cawg"), "https://example.org/a")
    assert store.feeds.record_failure(feed.id, "HTTP 500") is True
    assert store.feeds.record_failure(feed.id, "HTTP 502") is False
    store.feeds.record_unchanged(feed.id)
    assert store.feeds.record_failure(feed.id, "timed out") is True


def test_migration_0020_goes_down_and_up_again(store: Store) -> None:
    _group(store, "cawg")
    with store._engine.begin() as connection:
        command.downgrade(alembic_config(connection=connection), "0017")
    with store._engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    assert not tables & {"feeds", "feed_items_seen"}
    store.upgrade()
    assert store.current_revision() == head_revision()
    with store._engine.connect() as connection:
        assert {"feeds", "feed_items_seen"} <= set(inspect(connection).get_table_names())
