"""What members see, specified once and run over the routes of tests/harness/features.py:
every transport, every database."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import AppConfig, load_config
from bot.types import CommandRef, Message
from locales import SUPPORTED_LANGUAGES
from tests.harness.chat import Chat, ConsoleChat
from tests.harness.features import CATALOGS, GROUPS, ChatFactory, first_line, said


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> AppConfig:
    path = tmp_path / "config.toml"
    path.write_text(GROUPS, encoding="utf-8")
    return load_config(path, env={"CAUCUS_DATABASE_URL": database_url})


@pytest.mark.smoke
async def test_start_welcomes_and_offers_every_language(open_chat: ChatFactory) -> None:
    chat = open_chat("local")
    answer = await chat.send("/start")
    assert first_line("start.welcome") in answer
    for language in SUPPORTED_LANGUAGES:
        assert CATALOGS.template(language, "language.native_name") in answer


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
async def test_choosing_a_language_makes_every_later_reply_use_it(
    open_chat: ChatFactory, language: str
) -> None:
    chat = open_chat("local")
    await chat.send("/language")
    changed = await chat.pick(CATALOGS.template(language, "language.native_name"))
    assert first_line("language.changed", language) in changed
    help_text = await chat.send("/help")
    assert said("help.help", language) in help_text
    unknown = await chat.send("/nonsense")
    assert first_line("router.unknown_command", language) in unknown
    profile = await chat.send("/profile")
    assert said("profile.ask_name", language) in profile


async def test_language_can_be_set_by_code_and_a_wrong_code_is_explained(
    open_chat: ChatFactory,
) -> None:
    chat = open_chat("local")
    refused = await chat.send("/language xx")
    assert first_line("language.unknown") in refused
    assert first_line("language.changed", "es") in await chat.send("/language es")


async def test_help_lists_the_commands_of_a_member_only(open_chat: ChatFactory) -> None:
    chat = open_chat("local")
    answer = await chat.send("/help")
    for command in ("/start", "/help", "/language", "/whoami", "/profile", "/groups", "/join"):
        assert command in answer
    assert said("help.joinlink") not in answer
    assert said("help.role") not in answer
    # A line that names another command names it as this platform writes it.
    assert said("help.connect", link=CommandRef("link")) in answer


async def test_help_for_a_coordinator_adds_the_coordinator_commands(
    open_chat: ChatFactory,
) -> None:
    chat = open_chat("coord")
    answer = await chat.send("/help")
    assert said("help.joinlink") in answer
    assert said("help.role") not in answer
    admin = open_chat("root")
    assert said("help.role") in await admin.send("/help")


async def test_member_calling_a_coordinator_command_is_refused_and_nothing_changes(
    open_chat: ChatFactory,
) -> None:
    chat = open_chat("local")
    number = member_number(await chat.send("/whoami"))
    refused = await chat.send("/joinlink cawg")
    assert first_line("router.not_allowed") in refused
    refused_role = await chat.send(f"/role {number} admin cawg")
    assert first_line("router.not_allowed") in refused_role
    refused_network = await chat.send(f"/role {number} admin")
    assert first_line("router.not_allowed") in refused_network
    whoami = await chat.send("/whoami")
    assert said("role.member") in whoami
    assert said("role.admin") not in whoami
    assert said("help.joinlink") not in await chat.send("/help")


async def test_coordinator_sees_the_working_groups(open_chat: ChatFactory) -> None:
    chat = open_chat("coord")
    answer = await chat.send("/groups")
    assert first_line("members.groups_header") in answer
    assert "Corporate Accountability" in answer
    assert "cawg" in answer


async def test_a_member_sees_the_groups_to_join_and_leaves_one_joined(
    open_chat: ChatFactory,
) -> None:
    chat = open_chat("local")
    listed = await chat.send("/groups")
    assert first_line("join.joinable_header") in listed
    assert "Corporate Accountability (cawg)" in listed
    assert first_line("members.groups_header") not in listed
    asked = await chat.send("/join cawg")
    assert first_line("join.requested") in asked
    assert first_line("join.pending_line").replace("•", "").strip() in await chat.send("/groups")
    assert first_line("join.request_withdrawn") in await chat.send("/leave cawg")


def member_number(whoami: str) -> str:
    return whoami.split("no. ")[1].split(",")[0]


@pytest.mark.smoke
async def test_admin_grants_a_role_that_the_member_then_holds(open_chat: ChatFactory) -> None:
    member = open_chat("ana")
    number = member_number(await member.send("/whoami"))
    admin = open_chat("root")
    granted = await admin.send(f"/role {number} coordinator cawg")
    assert first_line("members.role_set") in granted
    assert said("help.joinlink") in await member.send("/help")


async def test_admin_role_command_refuses_bad_input_and_changes_nothing(
    open_chat: ChatFactory,
) -> None:
    member = open_chat("ana")
    await member.send("/start")
    admin = open_chat("root")
    assert first_line("members.role_usage") in await admin.send("/role")
    assert first_line("members.no_such_member") in await admin.send("/role 999 admin cawg")
    assert first_line("members.no_such_group") in await admin.send("/role 1 admin nope")
    assert first_line("members.role_usage") in await admin.send("/role 1 emperor cawg")
    assert first_line("members.role_usage") in await admin.send("/role ² admin cawg")
    assert first_line("members.role_usage") in await admin.send("/role 99999999999999999999 admin")
    assert said("help.joinlink") not in await member.send("/help")


async def test_unknown_command_gets_a_hint(open_chat: ChatFactory) -> None:
    chat = open_chat("local")
    answer = await chat.send("/frobnicate")
    assert (
        said("router.unknown_command", command=CommandRef("frobnicate"), help=CommandRef("help"))
        in answer
    )


async def test_free_text_outside_a_conversation_gets_a_hint(open_chat: ChatFactory) -> None:
    chat = open_chat("local")
    answer = await chat.send("hello there")
    assert said("router.free_text_hint", help=CommandRef("help")) in answer


async def test_whoami_shows_language_role_and_time_zone(open_chat: ChatFactory) -> None:
    chat = open_chat("local")
    answer = await chat.send("/whoami")
    assert chat.user_label in answer
    assert said("role.member") in answer
    assert "UTC" in answer


async def test_cancel_outside_a_conversation_says_there_is_nothing_to_cancel(
    open_chat: ChatFactory,
) -> None:
    chat = open_chat("local")
    answer = await chat.send("/cancel")
    assert first_line("router.no_conversation") in answer


async def fill_profile(chat: Chat) -> str:
    await chat.send("/profile")
    await chat.send("Ana María")
    await chat.send("Red de Acción")
    return await chat.send("America/Bogota")


@pytest.mark.smoke
async def test_profile_conversation_reviews_and_saves_every_answer(
    open_chat: ChatFactory,
) -> None:
    chat = open_chat("local")
    review = await fill_profile(chat)
    assert said("conversation.review", title=Message.of("profile.title")) in review
    for answer in ("Ana María", "Red de Acción", "America/Bogota"):
        assert answer in review
    saved = await chat.pick(said("conversation.submit"))
    assert first_line("profile.saved") in saved
    whoami = await chat.send("/whoami")
    assert "Ana María" in whoami
    assert "Red de Acción" in whoami
    assert "America/Bogota" in whoami


async def test_review_lets_one_answer_be_changed_before_submitting(
    open_chat: ChatFactory,
) -> None:
    chat = open_chat("local")
    await fill_profile(chat)
    await chat.pick(said("conversation.change", label=Message.of("profile.label_organization")))
    review = await chat.send("Otra Red")
    assert "Otra Red" in review
    assert "Red de Acción" not in review
    await chat.pick(said("conversation.submit"))
    assert "Otra Red" in await chat.send("/whoami")


async def test_invalid_answer_is_explained_and_the_step_repeated(open_chat: ChatFactory) -> None:
    chat = open_chat("local")
    await chat.send("/profile")
    await chat.send("Ana")
    await chat.send("/skip")
    answer = await chat.send("Mars/Olympus_Mons")
    assert first_line("profile.unknown_time_zone") in answer
    assert said("profile.ask_time_zone") in answer


async def test_back_returns_to_the_previous_question(open_chat: ChatFactory) -> None:
    chat = open_chat("local")
    await chat.send("/profile")
    await chat.send("Ana")
    answer = await chat.send("/back")
    assert said("profile.ask_name") in answer
    assert "Ana" in answer


async def test_cancel_discards_the_conversation(open_chat: ChatFactory) -> None:
    chat = open_chat("local")
    await chat.send("/profile")
    await chat.send("Ana")
    assert first_line("conversation.cancelled") in await chat.send("/cancel")
    # Not a command's name: on Matrix a bare "org" in a direct room is the command /org.
    assert said("router.free_text_hint", help=CommandRef("help")) in await chat.send("Acme")
    assert "Ana" not in await chat.send("/whoami")


async def test_commands_work_inside_a_conversation_without_losing_it(
    open_chat: ChatFactory,
) -> None:
    chat = open_chat("local")
    await chat.send("/profile")
    await chat.send("Ana")
    assert said("help.help") in await chat.send("/help")
    again = await chat.send("/profile")
    assert said("profile.ask_organization") in again


@pytest.mark.empty_database  # the first start migrates it
async def test_conversation_resumes_at_the_same_step_after_a_restart(
    config: AppConfig,
) -> None:
    first = ConsoleChat(config)
    await first.send("/profile")
    await first.send("Ana")
    await first.send("Red")
    await first.close()

    second = ConsoleChat(config)
    try:
        shown = await second.resume()
        assert said("profile.ask_time_zone") in shown
        review = await second.send("Europe/Madrid")
        assert "Ana" in review
        assert "Red" in review
        assert "Europe/Madrid" in review
    finally:
        await second.close()


async def test_console_role_asserted_with_as_is_the_role_handlers_check(
    config: AppConfig,
) -> None:
    chat = ConsoleChat(config)
    try:
        number = member_number(await chat.send("/whoami"))
        await chat.send("/as boss admin")
        granted = await chat.send(f"/role {number} coordinator cawg")
        assert first_line("members.role_set") in granted
    finally:
        await chat.close()


async def test_admin_sees_the_outbox_state_and_a_member_is_refused(
    open_chat: ChatFactory,
) -> None:
    member = open_chat("local")
    assert first_line("router.not_allowed") in await member.send("/outbox")
    admin = open_chat("root")
    answer = await admin.send("/outbox")
    assert said("outbox.header") in answer
    assert said("platform.telegram") in answer
    assert said("platform.matrix") in answer


async def test_health_shows_admins_the_key_warning_with_its_fix_the_database_and_outbox(
    open_chat: ChatFactory,
) -> None:
    member = open_chat("local")
    assert first_line("router.not_allowed") in await member.send("/health")
    admin = open_chat("root")
    assert "/health" in await admin.send("/help")
    answer = await admin.send("/health")
    assert said("health.header") in answer
    # No key configured: the one the bot made in data_dir is named, with the fix.
    assert first_line("health.key_file") in answer
    assert "encryption.key" in answer and "CAUCUS_ENCRYPTION_KEYS" in answer
    assert said("health.database_sqlite") in answer or said("health.database_postgresql") in answer
    assert said("outbox.header") in answer
    assert answer.count("encryption.key") == 1
    assert first_line("health.key_file") in await admin.send("/outbox")


async def test_health_is_the_networks_admins_and_names_a_failing_transport(
    tmp_path: Path, database_url: str
) -> None:
    from bot.health import HEALTH
    from bot.types import Literal, Platform

    path = tmp_path / "config.toml"
    path.write_text(
        GROUPS.replace(
            'coordinators = ["console:coord"',
            'admins = ["console:gadmin"]\ncoordinators = ["console:coord"',
        )
        + '\n[telegram]\ntoken = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"\n',
        encoding="utf-8",
    )
    config = load_config(path, env={"CAUCUS_DATABASE_URL": database_url})
    group_admin = ConsoleChat(config, "gadmin")
    admin = ConsoleChat(config, "root")
    try:
        assert said("health.network_admins_only") in await group_admin.send("/health")
        HEALTH.failing(Platform.TELEGRAM, "StorageUnavailable", 3)
        answer = await admin.send("/health")
        telegram = Message.of("platform.telegram")
        failing = said(
            "health.transport_failing",
            platform=telegram,
            minutes=0,
            failures=3,
            reason=Literal("StorageUnavailable"),
        )
        assert failing in answer
        HEALTH.receiving(Platform.TELEGRAM)
        assert said("health.transport_receiving", platform=telegram) in await admin.send("/health")
    finally:
        HEALTH.forget(Platform.TELEGRAM)
        await group_admin.close()
        await admin.close()
