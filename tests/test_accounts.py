"""One person, several accounts, on the console over SQLite and PostgreSQL: codes (shown
grouped, kept only as a digest, expiring, single use), wrong tries (five an hour, then even
the right code is refused), what a connection merges and what the member is told, and
splitting an account off again."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy import text as sql

from bot.app import group_specs
from bot.config import AppConfig, load_config
from bot.keys import sealer_for
from bot.types import Message, Platform, Role
from storage import Store
from storage.models import CaseReport, ConnectCode
from tests.harness.case_intake import CATALOGS, ReportAnswers, case_number, fill_report, text
from tests.harness.chat import ConsoleChat
from tests.harness.clock import Clock

CONFIG = """
data_dir = "data"
admins = ["console:root"]

[[working_groups]]
slug = "cawg"
name = "Corporate Accountability"
languages = ["en", "es"]
coordinators = ["console:coord"]
admins = ["console:gadmin"]

[[working_groups]]
slug = "land"
name = "Land Rights"
languages = ["en", "es"]
coordinators = ["console:ocoord"]

[limits]
private_messages_per_minute = 10000
"""

CODE = re.compile(r"\b([0-9A-HJKMNP-TV-Z]{4})-([0-9A-HJKMNP-TV-Z]{4})\b")
CONSOLE = Platform.CONSOLE


def said(key: str, language: str = "en", count: int | None = None, **params: object) -> str:
    renderer = CATALOGS.renderer(language, CONSOLE)
    if count is not None:
        return renderer.label(Message.counted(key, count, **params))  # type: ignore[arg-type]
    return renderer.label(Message.of(key, **params))  # type: ignore[arg-type]


class Bot:
    """The bot on the console, with a clock the test moves, and members' chats with it."""

    def __init__(self, config: AppConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.store = Store(config.database_url, clock=clock, sealer=sealer_for(config))
        self.store.upgrade()
        self.store.groups.sync_configured(
            group_specs(config),
            [(identity.platform, identity.user_id) for identity in config.admins],
            default_language=config.default_language,
        )
        self.chats: list[ConsoleChat] = []

    def chat(self, user_id: str) -> ConsoleChat:
        opened = ConsoleChat(self.config, user_id, store=self.store)
        self.chats.append(opened)
        return opened

    def member_id(self, user_id: str) -> int:
        return self.store.members.for_identity(CONSOLE, user_id, language="en").id

    async def code_for(self, chat: ConsoleChat) -> str:
        answer = await chat.send("/connect")
        found = CODE.search(answer)
        assert found is not None, answer
        return found.group(0)

    async def close(self) -> None:
        for opened in self.chats:
            await opened.close()
        self.store.close()


@pytest.fixture
async def bot(tmp_path: Path, database_url: str, clock: Clock) -> AsyncIterator[Bot]:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    running = Bot(load_config(path, env={"CAUCUS_DATABASE_URL": database_url}), clock)
    try:
        yield running
    finally:
        await running.close()


# -- codes and tries ------------------------------------------------------------------------


async def test_a_code_is_shown_grouped_and_kept_only_as_a_digest(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    code = await bot.code_for(bot.chat("ana"))
    bare = code.replace("-", "")
    assert len(bare) == 8 and not set(bare) & set("ILOU")
    with bot.store._engine.connect() as connection:
        digests = list(connection.execute(select(ConnectCode.digest)).scalars())
        dumped = "\n".join(
            str(row)
            for table in ("connect_codes", "audit_log", "inbound_events")
            for row in connection.execute(sql(f"SELECT * FROM {table}"))
        )
    assert len(digests) == 1 and len(digests[0]) == 64
    assert bare not in dumped and code not in dumped
    assert bare not in caplog.text and code not in caplog.text


async def test_a_code_is_read_in_any_case_with_or_without_the_dash(bot: Bot) -> None:
    code = await bot.code_for(bot.chat("ana"))
    typed = code.replace("-", " ").lower().replace("0", "o").replace("1", "l")
    answer = await bot.chat("ana2").send(f"/connect {typed}")
    assert said("accounts.connected", number=bot.member_id("ana")) in answer


async def test_a_code_expires_after_ten_minutes_and_works_only_once(bot: Bot) -> None:
    ana, other = bot.chat("ana"), bot.chat("ana2")
    late = await bot.code_for(ana)
    bot.clock.advance(minutes=10, seconds=1)
    assert said("accounts.code_wrong", count=4) in await other.send(f"/connect {late}")
    fresh = await bot.code_for(ana)
    bot.clock.advance(minutes=9)
    assert said("accounts.connected", number=bot.member_id("ana")) in await other.send(
        f"/connect {fresh}"
    )
    # Used up: a third account typing it is told it is not valid.
    assert said("accounts.code_wrong", count=4) in await bot.chat("ana3").send(f"/connect {fresh}")


async def test_five_wrong_codes_an_hour_then_even_the_right_one_is_refused(bot: Bot) -> None:
    ana, other = bot.chat("ana"), bot.chat("ana2")
    code = await bot.code_for(ana)
    # Not a code at all: explained, and not counted as a try.
    assert said("accounts.code_malformed", example="ABCD-EFGH", connect="/connect") in (
        await other.send("/connect 12345")
    )
    for left in (4, 3, 2, 1):
        assert said("accounts.code_wrong", count=left) in await other.send("/connect ZZZZ-ZZZZ")
    assert said("accounts.code_wrong_last") in await other.send("/connect ZZZZ-ZZZY")
    locked = said("accounts.locked", connect="/connect")
    assert locked in await other.send(f"/connect {code}")
    bot.clock.advance(minutes=59)
    assert locked in await other.send(f"/connect {code}")
    assert bot.store.members.identities_of(bot.member_id("ana2"))  # still a member of its own
    assert bot.member_id("ana") != bot.member_id("ana2")
    # The hour passes: the account may try again (with a new code: the old one expired).
    bot.clock.advance(minutes=2)
    fresh = await bot.code_for(ana)
    assert said("accounts.connected", number=bot.member_id("ana")) in await other.send(
        f"/connect {fresh}"
    )
    # Another account's wrong tries are its own.
    assert said("accounts.code_wrong", count=4) in await bot.chat("ana3").send("/connect ZZZZ-ZZZZ")


async def test_a_code_typed_from_the_same_member_is_not_counted_and_stays_valid(bot: Bot) -> None:
    ana = bot.chat("ana")
    code = await bot.code_for(ana)
    assert said("accounts.own_code", whoami="/whoami") in await ana.send(f"/connect {code}")
    assert said("accounts.connected", number=bot.member_id("ana")) in await bot.chat("ana2").send(
        f"/connect {code}"
    )


# -- what merges ----------------------------------------------------------------------------


async def test_connecting_merges_reports_roles_and_profile_the_older_account_winning(
    bot: Bot,
) -> None:
    store = bot.store
    older, newer = bot.chat("ana"), bot.chat("ana-tg")
    await older.send("/language es")
    older_id = bot.member_id("ana")
    store.members.set_profile(
        older_id, display_name="Ana", organization=None, time_zone="Europe/Madrid"
    )
    bot.clock.advance(minutes=1)
    await newer.send("/start")
    newer_id = bot.member_id("ana-tg")
    store.members.set_profile(
        newer_id, display_name="Ana M.", organization="Red Andina", time_zone="America/Bogota"
    )
    cawg, land = store.groups.by_slug("cawg"), store.groups.by_slug("land")
    assert cawg is not None and land is not None
    store.groups.set_role(older_id, cawg.id, Role.MEMBER)
    store.groups.set_role(newer_id, cawg.id, Role.COORDINATOR)
    store.groups.set_role(newer_id, land.id, Role.MEMBER)
    await fill_report(newer, "en", ReportAnswers(marker="Mrg", group="Corporate Accountability"))
    number = case_number(await newer.pick(text("conversation.submit")))

    # The newer account asks for the code; the older one types it.
    code = await bot.code_for(newer)
    summary = await older.send(f"/connect {code}")

    assert said("accounts.connected", "es", number=older_id) in summary
    assert said("accounts.moved_reports", "es", count=1) in summary
    # Both of the newer account's roles: the one in land, and the stronger one in cawg.
    assert said("accounts.moved_roles", "es", count=2) in summary
    assert said("accounts.roles_combined", "es", count=1) in summary
    language = said("accounts.older_kept", "es", what="Idioma", kept="Español", other="English")
    assert language in summary
    zone = said(
        "accounts.older_kept",
        "es",
        what="Zona horaria",
        kept="Europe/Madrid",
        other="America/Bogota",
    )
    assert zone in summary
    assert said("accounts.taken", "es", what="Organización", value="Red Andina") in summary
    footer = said(
        "accounts.connected_footer", "es", myreports="/myreports", disconnect="/disconnect"
    )
    assert footer in summary

    assert store.members.get(newer_id) is None
    assert {identity.user_id for identity in store.members.identities_of(older_id)} == {
        "ana",
        "ana-tg",
    }
    member = store.members.get(older_id)
    assert member is not None
    assert (member.language, member.time_zone, member.display_name, member.organization) == (
        "es",
        "Europe/Madrid",
        "Ana",
        "Red Andina",
    )
    roles = store.groups.roles_of(older_id)
    assert roles.role_for(cawg.id) is Role.COORDINATOR  # the stronger of the two
    assert roles.role_for(land.id) is Role.MEMBER
    # The report is the member's now, listed from either account.
    with store._engine.connect() as connection:
        author = connection.execute(
            select(CaseReport.author_member_id).where(CaseReport.id == number)
        ).scalar_one()
    assert author == older_id
    assert f"{number}" in await older.send("/myreports")
    assert f"{number}" in await newer.send("/myreports")
    [entry] = [e for e in store.audit.about_member(older_id) if e.action == "account.connected"]
    assert entry.detail["merged_member"] == newer_id
    assert all(isinstance(value, int) for value in entry.detail.values())


async def test_disconnect_splits_an_account_off_and_what_it_brought_stays(bot: Bot) -> None:
    ana, other = bot.chat("ana"), bot.chat("ana2")
    await fill_report(other, "en", ReportAnswers(marker="Spl", group="Corporate Accountability"))
    number = case_number(await other.pick(text("conversation.submit")))
    await other.send(f"/connect {await bot.code_for(ana)}")
    kept = bot.member_id("ana")
    assert bot.member_id("ana2") == kept

    # Two accounts on one platform: the member says which.
    asked = await ana.send("/disconnect console")
    assert (
        said(
            "accounts.which_account",
            disconnect="/disconnect",
            platform="console",
            accounts="ana2, ana",
        )
        in asked
    )
    assert said("accounts.no_such_account", platform="Telegram") in await ana.send(
        "/disconnect telegram"
    )
    done = await ana.send("/disconnect console ana2")
    split = bot.member_id("ana2")
    assert split != kept
    assert (
        said("accounts.disconnected", platform="console", user="ana2", number=split, kept=kept)
        in done
    )
    assert f"{number}" in await ana.send("/myreports")
    assert f"{number}" not in await other.send("/myreports")
    [entry] = [e for e in bot.store.audit.about_member(kept) if e.action == "account.disconnected"]
    assert entry.detail == {"new_member": split, "accounts_left": 1}

    # Each now has one account: it cannot be split off.
    assert said("accounts.last_account", connect="/connect") in await other.send("/disconnect")
    assert bot.member_id("ana2") == split


@pytest.mark.parametrize("user", ["ana", "ocoord", "gadmin", "root"])
async def test_every_role_may_connect_and_disconnect_only_its_own_accounts(
    bot: Bot, user: str
) -> None:
    """A member, a coordinator of another group, a group admin and a network admin: each
    gets a code for their own accounts, and none can split off an account of another."""
    chat = bot.chat(user)
    shown = await chat.send("/help")
    assert said("help.connect", link="/link") in shown and said("help.disconnect") in shown
    await bot.code_for(chat)
    assert said("accounts.last_account", connect="/connect") in await chat.send("/disconnect")
    assert said("accounts.no_such_account", platform="Matrix") in await chat.send(
        "/disconnect matrix"
    )
    stranger = bot.chat("stranger")
    await stranger.send("/start")
    assert said("accounts.no_such_account", platform="Telegram") in await chat.send(
        "/disconnect telegram stranger"
    )
    assert bot.store.members.identities_of(bot.member_id("stranger"))
