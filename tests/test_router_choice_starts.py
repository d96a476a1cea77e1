"""A button that begins a guided conversation (``registry.choice_starts``), through the real
router and store on SQLite and PostgreSQL, with a joint statement's "Ask a question" as the
example: pressed in a private chat it begins the conversation for what it names, and a second
press for another statement begins it anew for that one; pressed in a group room it begins
nothing; a prefix whose command is no conversation is refused when the bot starts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import build_registry, open_store
from bot.config import AppConfig, load_config
from bot.keys import sealer_for
from bot.registry import Registry
from bot.router import Router
from bot.types import ChoicePicked, Message, Origin, Outgoing, Platform, TextMessage
from handlers.statements.signing import ASK_CHOICE
from storage import Store
from storage.statement_records import ListOrder, StatementFields, WhoSigns
from tests.harness.clock import T0, Clock
from tests.harness.features import CATALOGS

TG = Platform.TELEGRAM
CONFIG = """
data_dir = "data"

[telegram]

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en"]
telegram_chats = [-100111]
coordinators = ["telegram:1002"]
"""
ANA = Origin(TG, "1004", "1004", is_direct=True, language_hint="en")
IN_THE_GROUP = Origin(TG, "-100111", "1004", is_direct=False, language_hint="en")


@pytest.fixture
def store(tmp_path: Path, database_url: str, clock: Clock) -> Iterator[tuple[Store, AppConfig]]:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    config = load_config(
        path, env={"CAUCUS_DATABASE_URL": database_url, "CAUCUS_TELEGRAM_TOKEN": "1:x"}
    )
    open_store(config).close()
    opened = Store(config.database_url, clock=clock, sealer=sealer_for(config))
    try:
        cawg = opened.groups.by_slug("cawg")
        assert cawg is not None
        ana = opened.members.for_identity(TG, ANA.user_id, language="en").id
        opened.joining.add_member(ana, cawg.id)
        for title in ("Protect land defenders", "Stop the dam"):
            fields = StatementFields(
                working_group_id=cawg.id,
                title=title,
                language="en",
                deadline=T0 + timedelta(days=7),
                who_signs=WhoSigns.GROUP,
                individuals=True,
                list_order=ListOrder.ALPHABETICAL,
                rooms=((TG.value, "-100111"),),
                time_zone="UTC",
            )
            opened.statements.open(fields, f"{title}: we call on the State.", None, None)
        yield opened, config
    finally:
        opened.close()


def handled(store: Store, config: AppConfig, event: object) -> str:
    router = Router(store, build_registry(), CATALOGS, config)
    with store.transaction():
        said: list[Outgoing] = router.handle(event)  # type: ignore[arg-type]
    return "\n".join(str(outgoing.text) for outgoing in said)


def said(key: str, **params: object) -> str:
    return CATALOGS.renderer("en", TG).label(Message.of(key, **params))  # type: ignore[arg-type]


def test_a_second_press_for_another_statement_begins_the_question_anew_for_that_one(
    store: tuple[Store, AppConfig],
) -> None:
    data, config = store
    handled(data, config, ChoicePicked(ANA, f"{ASK_CHOICE}:1"))
    ana = data.members.for_identity(TG, ANA.user_id, language="en").id
    assert data.conversations.load(ana) is not None
    handled(data, config, ChoicePicked(ANA, f"{ASK_CHOICE}:2"))
    handled(data, config, TextMessage(ANA, "Who else has signed from Peru?"))
    assert [q.text for q in data.statements.questions(2)] == ["Who else has signed from Peru?"]
    assert data.statements.questions(1) == []


def test_a_press_in_a_group_room_begins_nothing_and_says_where_to_ask(
    store: tuple[Store, AppConfig],
) -> None:
    data, config = store
    answer = handled(data, config, ChoicePicked(IN_THE_GROUP, f"{ASK_CHOICE}:1"))
    assert answer == said("router.direct_only", command="/askstatement")
    exposed = Origin(TG, "-100111", "1004", is_direct=False, exposed=True)
    answer = handled(data, config, ChoicePicked(exposed, f"{ASK_CHOICE}:1"))
    assert answer == said("privacy.room_not_private", command="/askstatement")
    ana = data.members.for_identity(TG, ANA.user_id, language="en").id
    assert data.conversations.load(ana) is None


def test_a_button_that_would_begin_a_command_with_no_conversation_is_refused_at_start() -> None:
    registry = Registry()
    registry.command("hello", lambda context, command: [], help_key="help.help")
    registry.choice_starts("hi", "hello")
    with pytest.raises(ValueError, match="no conversation"):
        registry.check()
