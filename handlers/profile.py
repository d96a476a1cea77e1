"""The member's profile: how the network should call them, their organization, time zone
(``/profile`` asks all three, ``/timezone`` the zone alone)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel.core import get_global
from babel.dates import get_timezone_location

from bot.choosing import folded
from bot.context import Context, UserError
from bot.conversation import Ambiguous, Answers, Conversation, InvalidAnswer, Json, Step
from bot.moments import moment
from bot.registry import Registry
from bot.types import Choice, ChoicePicked, Command, CommandRef, Literal, Message, Reply

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


CITY_LANGUAGES = ("en", "es", "fr", "ar", "pt")
"""The languages whose names of cities find a time zone ("Ciudad de México", "القاهرة")."""
MOST_OFFERED = 12
"""More matches than this are not listed: the member is asked for more of the name."""
SHORTEST_PART = 3


def register(registry: Registry) -> None:
    registry.conversation(PROFILE, command="profile", help_key="help.profile")
    registry.command("timezone", show_or_set_time_zone, help_key="help.timezone", direct_only=True)
    registry.choice("tz", time_zone_picked)


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


@cache
def _zone_names() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


@cache
def _cities() -> tuple[tuple[str, frozenset[str]], ...]:
    """Each place's time zone (CLDR's list: one zone per place, no aliases) with the
    folded names of its city in every language of :data:`CITY_LANGUAGES`."""
    known = _zone_names()
    places: list[tuple[str, frozenset[str]]] = []
    for zone in sorted(get_global("zone_territories")):
        if zone.casefold() not in known or zone.startswith("Etc/"):
            continue
        names = {folded(zone.rsplit("/", 1)[-1].replace("_", " "))}
        for language in CITY_LANGUAGES:
            names.add(folded(get_timezone_location(zone, language, return_city=True)))
        places.append((zone, frozenset(names)))
    return tuple(places)


def find_time_zones(text: str) -> list[str]:
    """The time zones ``text`` names: an IANA name ("America/Lima"), or a city by its
    name or a part of it in any language of :data:`CITY_LANGUAGES`; a whole name is
    preferred to a part of one."""
    wanted = text.strip()
    exact = _zone_names().get(wanted.replace(" ", "_").casefold())
    if exact is not None:
        return [exact]
    typed = folded(wanted)
    if len(typed) < SHORTEST_PART:
        return []
    whole = [zone for zone, names in _cities() if typed in names]
    if whole:
        return whole
    return [zone for zone, names in _cities() if any(typed in name for name in names)]


def _usable(zone: str) -> bool:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _unknown_zone() -> InvalidAnswer:
    return InvalidAnswer("profile.unknown_time_zone", example=Literal("Europe/Madrid"))


def parse_time_zone(text: str) -> Json:
    found = [zone for zone in find_time_zones(text) if _usable(zone)]
    if not found:
        raise _unknown_zone()
    if len(found) > MOST_OFFERED:
        too_many = InvalidAnswer("timezone.too_many")
        too_many.message = Message.counted("timezone.too_many", len(found))
        raise too_many
    if len(found) > 1:
        raise Ambiguous(found)
    return found[0]


def zone_label(zone: str, language: str) -> Literal:
    """A time zone as a member reads it: its city in their language, and its name."""
    city = get_timezone_location(zone, language, return_city=True)
    return Literal(f"{city} · {zone}")


# -- /timezone ---------------------------------------------------------------------------


def show_or_set_time_zone(context: Context, command: Command) -> Sequence[Reply]:
    if not command.args:
        return [_current_zone(context)]
    try:
        zone = parse_time_zone(" ".join(command.args))
    except Ambiguous as several:
        language = context.member.language
        choices = tuple(
            Choice(f"tz:{zone}", zone_label(zone, language)) for zone in several.candidates
        )
        return [Reply(Message.counted("timezone.several", len(choices)), choices=choices)]
    except InvalidAnswer as refusal:
        refused = UserError(refusal.message.key)
        refused.message = refusal.message
        raise refused from refusal
    return [_set_zone(context, str(zone))]


def time_zone_picked(context: Context, picked: ChoicePicked, zone: str) -> Sequence[Reply]:
    if zone.casefold() not in _zone_names() or not _usable(zone):
        raise UserError("profile.unknown_time_zone", example=Literal("Europe/Madrid"))
    return [_set_zone(context, _zone_names()[zone.casefold()])]


def _set_zone(context: Context, zone: str) -> Reply:
    member = context.store.members.get(context.member.id) or context.member
    context.store.members.set_profile(
        member.id,
        display_name=member.display_name,
        organization=member.organization,
        time_zone=zone,
    )
    now = moment(context.store.now(), member.language, zone)
    return Reply(Message.of("timezone.set", zone=zone_label(zone, member.language), now=now))


def _current_zone(context: Context) -> Reply:
    member = context.member
    usage = Message.of("timezone.usage", command=CommandRef("timezone"))
    if member.time_zone is None:
        default = Literal(context.config.time_zone)
        return Reply(Message.of("timezone.not_set", default=default, usage=usage))
    now = moment(context.store.now(), member.language, member.time_zone)
    zone = zone_label(member.time_zone, member.language)
    return Reply(Message.of("timezone.current", zone=zone, now=now, usage=usage))


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
