"""``/subscribe``, ``/unsubscribe`` and ``/subscriptions``: which consultation alerts a
member wants, by topic (the case reports' sectors and rights), region, country, working
group, or all. A group's members hear of its consultations without subscribing; they may
opt out (``/unsubscribe group SLUG``) and back in (``/subscribe group SLUG``)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.context import Context, UserError
from bot.registry import Registry
from bot.territories import find_territories
from bot.types import Command, CommandRef, Lines, Literal, Message, Reply, Territory
from handlers.consultations_form import REGIONS, TOPICS, region_label, topic_label
from locales import SUPPORTED_LANGUAGES
from storage.consultations import SubscriptionKind, SubscriptionRecord


def register(registry: Registry) -> None:
    registry.command("subscribe", subscribe, help_key="help.subscribe")
    registry.command("unsubscribe", unsubscribe, help_key="help.unsubscribe")
    registry.command("subscriptions", subscriptions, help_key="help.subscriptions")


def _usage(command: str) -> UserError:
    return UserError(
        "consult.subscribe_usage",
        command=CommandRef(command),
        topics=Literal(", ".join(topic.partition(":")[2] for topic in TOPICS)),
        regions=Literal(", ".join(REGIONS)),
    )


def _topic(typed: str) -> str:
    wanted = typed.lower()
    found = [topic for topic in TOPICS if topic == wanted or topic.partition(":")[2] == wanted]
    if len(found) != 1:
        raise UserError("consult.unknown_topic", typed=Literal(typed[:40]))
    return found[0]


def wanted(context: Context, command: Command) -> tuple[SubscriptionKind, str]:
    """What ``/subscribe`` or ``/unsubscribe`` names: ``topic mining``, ``region africa``,
    ``country Colombia``, ``group cawg`` or ``all``."""
    if not command.args:
        raise _usage(command.name)
    kind_typed, rest = command.args[0].lower(), " ".join(command.args[1:])
    if kind_typed == SubscriptionKind.ALL.value and not rest:
        return SubscriptionKind.ALL, ""
    if kind_typed not in {kind.value for kind in SubscriptionKind} or not rest:
        raise _usage(command.name)
    kind = SubscriptionKind(kind_typed)
    if kind is SubscriptionKind.TOPIC:
        return kind, _topic(rest)
    if kind is SubscriptionKind.REGION:
        if rest.lower() not in REGIONS:
            raise UserError("consult.unknown_region", typed=Literal(rest[:40]))
        return kind, rest.lower()
    if kind is SubscriptionKind.COUNTRY:
        found = find_territories(rest.replace("_", " "), SUPPORTED_LANGUAGES, limit=8)
        if len(found) != 1:
            raise UserError("consult.unknown_country", typed=Literal(rest[:60]))
        return kind, found[0]
    group = context.store.groups.by_slug(rest.lower())
    if group is None:
        raise UserError("join.no_such_group", slug=Literal(rest[:40]), groups=CommandRef("groups"))
    return kind, str(group.id)


def _label(context: Context, kind: SubscriptionKind, value: str) -> Message | Literal:
    if kind is SubscriptionKind.TOPIC:
        return topic_label(value)
    if kind is SubscriptionKind.REGION:
        return region_label(value)
    if kind is SubscriptionKind.COUNTRY:
        return Message.of("cases.country_name", country=Territory(value))
    if kind is SubscriptionKind.GROUP:
        groups = {str(group.id): group.name for group in context.store.groups.all()}
        return Literal(groups.get(value, value))
    return Message.of("consult.everything")


def subscribe(context: Context, command: Command) -> Sequence[Reply]:
    kind, value = wanted(context, command)
    changed = context.store.consultations.subscribe(context.member.id, kind, value)
    in_group = kind is SubscriptionKind.GROUP and int(value) in context.roles.by_group
    if not changed and not in_group:
        raise UserError("consult.already_subscribed", what=_label(context, kind, value))
    return [Reply(Message.of("consult.subscribed", what=_label(context, kind, value)))]


def unsubscribe(context: Context, command: Command) -> Sequence[Reply]:
    kind, value = wanted(context, command)
    in_group = kind is SubscriptionKind.GROUP and int(value) in context.roles.by_group
    changed = context.store.consultations.unsubscribe(
        context.member.id, kind, value, opt_out=in_group
    )
    if not changed:
        raise UserError("consult.not_subscribed", what=_label(context, kind, value))
    return [Reply(Message.of("consult.unsubscribed", what=_label(context, kind, value)))]


def subscriptions(context: Context, command: Command) -> Sequence[Reply]:
    found = context.store.consultations.subscriptions_of(context.member.id)
    out = {row.value for row in found if row.opted_out}
    groups = {group.id: group.name for group in context.store.groups.all()}
    lines: list[Message | Literal] = []
    for group_id in sorted(context.roles.by_group):
        if str(group_id) not in out and group_id in groups:
            lines.append(Message.of("consult.by_membership", group=Literal(groups[group_id])))
    lines.extend(_line(context, row) for row in found)
    if not lines:
        return [Reply(Message.of("consult.no_subscriptions", subscribe=CommandRef("subscribe")))]
    header = Message.of("consult.subscriptions_header", unsubscribe=CommandRef("unsubscribe"))
    return [Reply(Lines((header, *lines)))]


def _line(context: Context, row: SubscriptionRecord) -> Message:
    what = _label(context, row.kind, row.value)
    key = "consult.opted_out_line" if row.opted_out else "consult.subscription_line"
    return Message.of(key, what=what)
