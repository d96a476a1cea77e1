"""Filling in a case report as a member does, in any language, over any transport."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.i18n import Catalogs
from bot.types import Literal, Message, Platform
from tests.harness.chat import Chat

CATALOGS = Catalogs.load()


def text(key: str, language: str = "en", **params: object) -> str:
    """What the bot says for ``key``, without direction marks (for matching labels)."""
    rendered = CATALOGS.renderer(language, Platform.CONSOLE).label(
        Message.of(key, **params)  # type: ignore[arg-type]
    )
    for mark in "\u200e\u200f\u2066\u2067\u2068\u2069":
        rendered = rendered.replace(mark, "")
    return rendered


def option(kind: str, value: str, language: str = "en") -> str:
    return text(f"cases.{kind}.{value}", language)


def consent(
    language: str = "en", group: str = "Corporate Accountability", channel: str = "console"
) -> str:
    """The consent question as the bot asks it for ``group``, typed in ``channel``."""
    return text(
        "cases.ask_consent",
        language,
        group=Literal(group),
        platform=Message.of(f"cases.consent_platform.{channel}"),
    )


@dataclass
class ReportAnswers:
    """What a test reporter answers; free texts carry a marker, to look for them later."""

    marker: str = "Zq7"
    country: str = "Colombia"
    country_code: str = "CO"
    sector: str = "mining"
    rights: tuple[str, ...] = ("water", "health")
    urgent: bool = False
    publication: str = "named"
    follow_up: str = "yes"
    naming: str = "public"
    started: str = "2021-06"
    narrative_parts: tuple[str, ...] = ("It began with the spill.", "Then the fish died.")
    company_country: str | None = "Canada"
    evidence_link: str | None = "https://example.org/evidence/1"
    organization_given: bool = True
    """False: the organization question is skipped."""
    group: str | None = None
    """The working group's name to pick, when there are several."""
    evidence_files: tuple[tuple[str, bytes, str], ...] = ()
    """(file name, bytes, type) sent at the evidence question, by a chat that can."""

    @property
    def title(self) -> str:
        return f"River poisoned by the mine {self.marker}-title"

    @property
    def organization(self) -> str:
        return f"Red de Acción {self.marker}-org"

    @property
    def locality(self) -> str:
        return f"Vereda El Alto {self.marker}-place"

    @property
    def company(self) -> str:
        return f"Minera Andina {self.marker}-company"

    @property
    def affected(self) -> str:
        return f"Families downstream {self.marker}-affected"

    @property
    def outcome(self) -> str:
        return f"The court has not ruled {self.marker}-outcome"

    @property
    def remedy(self) -> str:
        return f"Clean-up and compensation {self.marker}-remedy"

    def narrative(self) -> tuple[str, ...]:
        return tuple(
            f"{part} {self.marker}-story{n}" for n, part in enumerate(self.narrative_parts)
        )

    def secrets(self) -> list[str]:
        """Every free text the report holds: none may be readable in the database."""
        return [
            self.title,
            self.organization,
            self.locality,
            self.company,
            self.affected,
            self.outcome,
            self.remedy,
            *self.narrative(),
        ]


@dataclass
class Transcript:
    """What the bot said at each step, by step name."""

    said: dict[str, str] = field(default_factory=dict)

    @property
    def last(self) -> str:
        return list(self.said.values())[-1]


async def fill_report(
    chat: Chat, language: str = "en", answers: ReportAnswers | None = None, *, until: str = ""
) -> Transcript:
    """Answer every question of ``/report`` up to the review (or up to step ``until``)."""
    given = answers or ReportAnswers()
    record = Transcript()

    async def say(step: str, typed: str) -> None:
        record.said[step] = await chat.send(typed)

    async def pick(step: str, label: str) -> None:
        record.said[step] = await chat.pick(label)

    async def pick_more(step: str, label: str) -> None:
        # After a pick in a multiple choice only the choices so far are shown: the member
        # names the next option, or Done, by its text.
        record.said[step] = await chat.send(label)

    async def where(step: str) -> None:
        # In a Matrix room in the clear the bot asks first where to go on: here, by choice.
        stay = text("cases.channel_stay", language)
        if stay in record.said["start"]:
            await pick(step, stay)

    steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("start", lambda: say("start", "/report")),
        ("channel", lambda: where("channel")),
    ]
    if given.group:
        steps.append(("group", lambda: pick("group", given.group or "")))
    steps += [
        ("consent", lambda: pick("consent", text("cases.consent_agree", language))),
        ("reporter", lambda: pick("reporter", option("reporter", "organization", language))),
        (
            "organization",
            lambda: say(
                "organization", given.organization if given.organization_given else "/skip"
            ),
        ),
        ("naming", lambda: pick("naming", option("naming", given.naming, language))),
        ("title", lambda: say("title", given.title)),
        ("country", lambda: say("country", given.country)),
        ("locality", lambda: say("locality", given.locality)),
        ("company_name", lambda: say("company_name", given.company)),
        (
            "company_role",
            lambda: pick("company_role", option("company_role", "operator", language)),
        ),
        (
            "company_country",
            lambda: (
                say("company_country", given.company_country)
                if given.company_country
                else say("company_country", "/skip")
            ),
        ),
        ("companies", lambda: pick("companies", text("conversation.done", language))),
        ("sector", lambda: pick("sector", option("sector", given.sector, language))),
    ]
    for n, right in enumerate(given.rights):
        steps.append(
            (
                f"right_{right}",
                lambda r=right, first=n == 0: (pick if first else pick_more)(
                    f"right_{r}", option("right", r, language)
                ),
            )
        )
    steps += [
        ("rights", lambda: pick_more("rights", text("conversation.done", language))),
        ("affected", lambda: say("affected", given.affected)),
        ("affected_count", lambda: say("affected_count", "1,200")),
        (
            "affected_group",
            lambda: pick("affected_group", option("affected_group", "peasants", language)),
        ),
        (
            "affected_groups",
            lambda: pick_more("affected_groups", text("conversation.done", language)),
        ),
        ("started", lambda: say("started", given.started)),
        ("ongoing", lambda: pick("ongoing", option("yes_no", "yes", language))),
    ]
    for n, part in enumerate(given.narrative()):
        steps.append((f"narrative_{n}", lambda p=part, k=n: say(f"narrative_{k}", p)))
    steps += [
        ("narrative", lambda: pick("narrative", text("conversation.done", language))),
        ("state", lambda: pick("state", option("state_role", "permits", language))),
        ("state_role", lambda: pick_more("state_role", text("conversation.done", language))),
        ("steps", lambda: pick("steps", option("step_taken", "courts", language))),
        ("steps_taken", lambda: pick_more("steps_taken", text("conversation.done", language))),
        ("steps_outcome", lambda: say("steps_outcome", given.outcome)),
        ("remedy", lambda: say("remedy", given.remedy)),
    ]
    for index, (name, data, mime) in enumerate(given.evidence_files):

        async def send_file(n: str = name, d: bytes = data, m: str = mime, i: int = index) -> None:
            record.said[f"evidence_file_{i}"] = await chat.send_document(d, n, m)  # type: ignore[attr-defined]

        steps.append((f"evidence_file_{index}", send_file))
    if given.evidence_link:
        steps.append(("evidence_link", lambda: say("evidence_link", given.evidence_link or "")))
    steps += [
        ("evidence", lambda: pick("evidence", text("conversation.done", language))),
        (
            "safety",
            lambda: pick("safety", option("yes_no", "yes" if given.urgent else "no", language)),
        ),
        (
            "publication",
            lambda: pick("publication", option("publication", given.publication, language)),
        ),
        ("follow_up", lambda: pick("follow_up", option("yes_no", given.follow_up, language))),
    ]
    for name, act in steps:
        await act()
        if name == until:
            break
    return record


def case_number(submitted: str) -> int:
    """The number in the confirmation the bot gives after submitting."""
    found = re.search(r"\d+", submitted)
    assert found is not None, submitted
    return int(found.group())
