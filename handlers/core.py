"""Getting started: welcome, language, help and who-am-I."""

from __future__ import annotations

from collections.abc import Sequence

from bot.context import Context, UserError
from bot.registry import Registry
from bot.types import (
    Choice,
    ChoicePicked,
    Command,
    CommandRef,
    Lines,
    Literal,
    Message,
    Platform,
    Reply,
    Role,
)

LANGUAGE_CHOICE = "lang"


def register(registry: Registry) -> None:
    registry.command("start", start, help_key="help.start")
    registry.command("help", show_help, help_key="help.help")
    registry.command("language", choose_language, help_key="help.language")
    registry.command("whoami", whoami, help_key="help.whoami", direct_only=True)
    registry.command(
        "as",
        console_as_usage,
        help_key="help.as",
        platforms=frozenset({Platform.CONSOLE}),
    )
    registry.choice(LANGUAGE_CHOICE, language_picked)


def language_choices(context: Context) -> tuple[Choice, ...]:
    # Each language is named in itself ("Español", "العربية"), from its own catalog.
    return tuple(
        Choice(f"{LANGUAGE_CHOICE}:{code}", Message.of("language.native_name@" + code))
        for code in context.languages
    )


def start(context: Context, command: Command) -> Sequence[Reply]:
    found = context.registry.find_start_payload(command.args[0]) if command.args else None
    if found is not None:  # a deep link's payload: what the link was made for
        handler, rest = found
        return handler(context, command, rest)
    return [
        Reply(Message.of("start.welcome", help=CommandRef("help"))),
        Reply(Message.of("language.choose"), choices=language_choices(context)),
    ]


def show_help(context: Context, command: Command) -> Sequence[Reply]:
    lines: list[Message | Literal] = [
        Message.of("help.header", role=Message.of(f"role.{context.role.value}"))
    ]
    registry = context.registry
    for spec in registry.commands_for(context.role, context.origin.platform):
        lines.append(
            Message.of("help.line", command=CommandRef(spec.name), what=registry.help_of(spec))
        )
    lines.append(
        Message.of(
            "help.footer",
            back=CommandRef("back"),
            skip=CommandRef("skip"),
            cancel=CommandRef("cancel"),
        )
    )
    return [Reply(Lines(tuple(lines)))]


def choose_language(context: Context, command: Command) -> Sequence[Reply]:
    if not command.args:
        return [Reply(Message.of("language.choose"), choices=language_choices(context))]
    return _set_language(context, command.args[0].lower())


def language_picked(context: Context, picked: ChoicePicked, code: str) -> Sequence[Reply]:
    return _set_language(context, code)


def _set_language(context: Context, code: str) -> Sequence[Reply]:
    if code not in context.languages:
        raise UserError(
            "language.unknown",
            code=Literal(code),
            known=Literal(", ".join(context.languages)),
        )
    context.store.members.set_language(context.member.id, code)
    return [Reply(Message.of("language.changed", help=CommandRef("help")))]


def whoami(context: Context, command: Command) -> Sequence[Reply]:
    member = context.member
    lines: list[Message | Literal] = [
        Message.of(
            "whoami.identity",
            platform=Message.of(f"platform.{context.origin.platform.value}"),
            user=Literal(context.origin.user_id),
            number=member.id,
        ),
        Message.of(
            "whoami.language", language=Message.of("language.native_name@" + member.language)
        ),
        Message.of("whoami.role", role=Message.of(f"role.{context.role.value}")),
    ]
    if member.display_name:
        lines.append(Message.of("whoami.name", name=Literal(member.display_name)))
    if member.organization:
        lines.append(Message.of("whoami.organization", organization=Literal(member.organization)))
    lines.append(
        Message.of(
            "whoami.time_zone",
            time_zone=Literal(member.time_zone or context.config.time_zone),
        )
    )
    roles = context.store.groups.roles_of(member.id)
    for group in context.store.groups.all():
        role = roles.by_group.get(group.id)
        if role is not None and role is not Role.MEMBER:
            lines.append(
                Message.of(
                    "whoami.group_role",
                    group=Literal(group.name),
                    role=Message.of(f"role.{role.value}"),
                )
            )
    lines.append(Message.of("whoami.profile_hint", profile=CommandRef("profile")))
    return [Reply(Lines(tuple(lines)))]


def console_as_usage(context: Context, command: Command) -> Sequence[Reply]:
    """Reached only when the console could not read ``/as NAME [ROLE]``: explain it."""
    return [
        Reply(
            Message.of(
                "console.as_usage",
                command=CommandRef("as"),
                roles=Literal(", ".join(role.value for role in Role)),
            )
        )
    ]
