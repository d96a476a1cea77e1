"""The member's profile: how the network should call them, their organization, time zone."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.context import Context
from bot.conversation import Answers, Conversation, InvalidAnswer, Json, Step
from bot.registry import Registry
from bot.types import Choice, CommandRef, Literal, Message, Reply

NAME_MAX = 80
ORGANIZATION_MAX = 120

SUGGESTED_TIME_ZONES = (
    "UTC",
    "America/Mexico_City",
    "America/Bogota",
    "America/Sao_Paulo",
    "Europe/Madrid",
    "Africa/Lagos",
    "Africa/Cairo",
    "Asia/Manila",
)


def register(registry: Registry) -> None:
    registry.conversation(PROFILE, command="profile", help_key="help.profile")


def _one_line(text: str, limit: int) -> str:
    cleaned = " ".join(text.split())
    if "\n" in text.strip():
        raise InvalidAnswer("profile.one_line")
    if len(cleaned) > limit:
        raise InvalidAnswer(
            "profile.too_long",
            limit=limit,
            length=Message.counted("units.characters", len(cleaned)),
        )
    return cleaned


def parse_name(text: str) -> Json:
    return _one_line(text, NAME_MAX)


def parse_organization(text: str) -> Json:
    return _one_line(text, ORGANIZATION_MAX)


def _zone_names() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


def parse_time_zone(text: str) -> Json:
    wanted = text.strip().replace(" ", "_")
    name = _zone_names().get(wanted.casefold())
    if name is None:
        raise InvalidAnswer("profile.unknown_time_zone", example=Literal("Europe/Madrid"))
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidAnswer(
            "profile.unknown_time_zone", example=Literal("Europe/Madrid")
        ) from error
    return name


def time_zone_choices(answers: Answers) -> tuple[Choice, ...]:
    return tuple(Choice(zone, Literal(zone)) for zone in SUGGESTED_TIME_ZONES)


def save_profile(context: Context, answers: Answers) -> Sequence[Reply]:
    context.store.members.set_profile(
        context.member.id,
        display_name=answers.get("name"),
        organization=answers.get("organization"),
        time_zone=answers.get("time_zone"),
    )
    return [Reply(Message.of("profile.saved", whoami=CommandRef("whoami")))]


PROFILE = Conversation(
    name="profile",
    title="profile.title",
    steps=(
        Step("name", prompt="profile.ask_name", label="profile.label_name", parse=parse_name),
        Step(
            "organization",
            prompt="profile.ask_organization",
            label="profile.label_organization",
            parse=parse_organization,
            optional=True,
        ),
        Step(
            "time_zone",
            prompt="profile.ask_time_zone",
            label="profile.label_time_zone",
            parse=parse_time_zone,
            choices=time_zone_choices,
        ),
    ),
    submit=save_profile,
)
