"""Where a report may be taken, by the router on SQLite and PostgreSQL: a report moved out
of a Matrix room in the clear takes nothing more there, and ``/report`` typed there again
sends its question to the encrypted chat again (a new invitation, if the first is gone).
The journey over a real Synapse is in tests/test_cases_matrix_encryption.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import build_router, group_specs
from bot.config import AppConfig, load_config
from bot.notices import notice_address
from bot.router import Router
from bot.types import ChoicePicked, Command, Incoming, Origin, Outgoing, Platform, TextMessage
from storage import Store
from tests.harness.case_intake import consent, text

MX = Platform.MATRIX
ANA = "@ana:x"
CLEAR = Origin(MX, "!clear:x", ANA, is_direct=True, encrypted=False)
SAFE = Origin(MX, "!safe:x", ANA, is_direct=True, encrypted=True)
CONFIG = """
data_dir = "data"

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en"]

[matrix]
homeserver = "http://127.0.0.1:9"
user_id = "@bot:x"
"""


@pytest.fixture
def router(tmp_path: Path, database_url: str) -> Iterator[tuple[Router, Store]]:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    env = {
        "CAUCUS_DATABASE_URL": database_url,
        "CAUCUS_MATRIX_ACCESS_TOKEN": "token",
        "CAUCUS_MATRIX_PICKLE_KEY": "pickle",
    }
    config: AppConfig = load_config(path, env=env)
    store = Store(config.database_url)
    store.upgrade()
    store.groups.sync_configured(group_specs(config), [], default_language="en")
    try:
        yield build_router(config, store), store
    finally:
        store.close()


def handle(setup: tuple[Router, Store], event: Incoming) -> list[Outgoing]:
    router, store = setup
    with store.transaction():
        return router.handle(event)


def step_of(store: Store) -> str | None:
    member = store.members.for_identity(MX, ANA, language="en")
    saved = store.conversations.load(member.id)
    return None if saved is None else saved.step


def test_a_report_moved_to_an_encrypted_chat_takes_nothing_in_the_clear_and_can_be_sent_again(
    router: tuple[Router, Store],
) -> None:
    _, store = router
    handle(router, Command(CLEAR, "report"))
    moved = handle(router, ChoicePicked(CLEAR, "matrix_encrypted"))
    safe_address = notice_address(ANA, encrypted=True)
    assert [out.room_id for out in moved] == [CLEAR.room_id, safe_address, safe_address]
    assert all(out.private_to == ANA for out in moved[1:])

    # Typed in the clear: refused with the pointer, and the draft stays at consent.
    refused = handle(router, TextMessage(CLEAR, text("cases.consent_agree")))
    assert [out.room_id for out in refused] == [CLEAR.room_id]
    assert text("cases.continue_encrypted", report="!report", cancel="!cancel") in refused[0].text
    assert step_of(store) == "consent"

    # /report there again: the question goes to the encrypted chat again, none of it here.
    again = handle(router, Command(CLEAR, "report"))
    here = [out for out in again if out.room_id == CLEAR.room_id]
    there = "\n".join(out.text for out in again if out.room_id == safe_address)
    assert len(here) == 1 and consent(channel="matrix_encrypted") not in here[0].text
    assert consent(channel="matrix_encrypted") in there

    # In the encrypted chat the report goes on.
    handle(router, ChoicePicked(SAFE, "yes"))
    assert step_of(store) == "reporter"
