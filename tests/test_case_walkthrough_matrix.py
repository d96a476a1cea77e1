"""The walk-through of issue 13, redone over a real Synapse: six publicly documented cases of
business-related human-rights abuse filed at once by members writing Portuguese, English,
Spanish and Arabic, typing as people do; then a coordinator writing French lists, opens,
reviews and exports them, and every choice a reporter made binds each of those steps.

Six cases, six choices: Brumadinho (named, with an evidence file), Rana Plaza (shared
within the network), Bhopal ("do not contact me"), Lago Agrio ("internal review only"),
Marikana (left under review), Lafarge in Syria (urgent, filed before any coordinator had
ever written to the bot). Three reporters write from encrypted direct rooms, three from
unencrypted ones (where the bot warns before consent, and they choose to continue there).

What other branches of issue 13 bring is asserted through :class:`Awaited` (its
expectations are checked at the end, all of them, so that one run names every one that
does not hold yet); everything main does is asserted at once.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.conversation import strip_direction_marks
from bot.i18n import Catalogs
from bot.territories import territory_name
from handlers.cases.options import RIGHTS
from storage.case_records import CaseStatus
from tests.harness.attentive_member import (
    AttentiveMember,
    PromptChat,
    files_in,
    send_file,
    syncing_in_background,
)
from tests.harness.case_intake import case_number, option, text
from tests.harness.matrix_harness import (
    MatrixBot,
    MatrixChat,
    find_choice,
    matrix_config,
    unique_localpart,
)
from tests.harness.synapse_server import SynapseServer

CATALOGS = Catalogs.load()
GROUP = "Corporate Accountability"
COORDINATOR_LANGUAGE = "fr"

STATUS_NAMES = frozenset(status.value for status in CaseStatus)
ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


# -- wording and flow expectations, all reported together at the end ----------------------


@dataclass
class Awaited:
    """Expectations on how the bot words and orders what it says (plurals, statuses in
    sentences, question numbers, text before files...), checked when the walk-through ends
    (:meth:`check`): one run names every one that does not hold, with how often and what
    was seen the first time, instead of stopping at the first."""

    missing: dict[str, list[str]] = field(default_factory=dict)

    def expect(self, holds: bool, behaviour: str, seen: str = "") -> None:
        if not holds:
            self.missing.setdefault(behaviour, []).append(seen[:400])

    def check(self) -> None:
        lines = [
            f"- {behaviour} (not so {len(seen)} time(s)); first seen: {seen[0]!r}"
            for behaviour, seen in self.missing.items()
        ]
        assert not lines, "did not hold:\n" + "\n".join(lines)


# -- the six cases -------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One reporter's case, and how they type their answers."""

    key: str
    language: str
    encrypted: bool
    reporter: str
    organization: str | None
    naming: str
    title: str
    country: str
    country_code: str
    locality: str | None
    company: str
    company_role: str
    company_country: str | None
    sector_typed: str
    """A part of the sector's label, or its number."""
    sector: str
    rights_typed: str
    """Several picks in one message, by their numbers."""
    rights: tuple[str, ...]
    """As stored: in the order of the list."""
    affected: str
    affected_count: str
    affected_groups_typed: str | None
    started_typed: str
    started: str
    started_fallback: str | None
    """What to type when the month name is not understood yet (another branch's work)."""
    ongoing: str
    narrative: tuple[str, ...]
    state_roles_typed: str
    steps_typed: str
    steps_outcome: str | None
    remedy: str
    link: str | None
    file: tuple[str, bytes, str] | None
    urgent: bool
    publication: str
    follow_up: str
    arabic_digits: bool = False
    """Picks typed in Arabic-Indic digits."""


REPORT_PDF = b"%PDF-1.4\n% Laudo tecnico da barragem B1, Corrego do Feijao\n" + b"B1 " * 400

BRUMADINHO = Case(
    key="brumadinho",
    language="pt",
    encrypted=True,
    reporter="organization",
    organization="Comitê Popular dos Atingidos de Brumadinho",
    naming="public",
    title="Rompimento da barragem B1 da Vale em Brumadinho",
    country="Brasil",
    country_code="BR",
    locality="Córrego do Feijão, Brumadinho (MG)",
    company="Vale S.A.",
    company_role="operator",
    company_country="Brasil",
    sector_typed="mineração",
    sector="mining",
    rights_typed="8, 5, 2",
    rights=("water", "environment", "life_security"),
    affected="Trabalhadores da mina e moradores do Córrego do Feijão",
    affected_count="272",
    affected_groups_typed="4, 1",
    started_typed="janeiro de 2019",
    started="2019-01",
    started_fallback="2019-01",
    ongoing="yes",
    narrative=(
        "Em 25 de janeiro de 2019 a barragem de rejeitos B1 da mina Córrego do Feijão rompeu.",
        "A lama matou 272 pessoas e contaminou o rio Paraopeba.",
    ),
    state_roles_typed="1, 3",
    steps_typed="1 5",
    steps_outcome="Acordo judicial de reparação assinado em 2021",
    remedy="Reparação integral e justiça para as famílias",
    link="https://pt.wikipedia.org/wiki/Rompimento_de_barragem_em_Brumadinho",
    file=("laudo-barragem-B1.pdf", REPORT_PDF, "application/pdf"),
    urgent=False,
    publication="named",
    follow_up="yes",
)
RANA_PLAZA = Case(
    key="rana_plaza",
    language="en",
    encrypted=False,
    reporter="witness",
    organization="Garment Workers Solidarity Circle",
    naming="network",
    title="Rana Plaza building collapse in Savar",
    country="Bangladesh",
    country_code="BD",
    locality="Savar, Dhaka",
    company="New Wave Style Ltd",
    company_role="supplier",
    company_country=None,
    sector_typed="manufacturing",
    sector="manufacturing",
    rights_typed="6, 8",
    rights=("labour", "life_security"),
    affected="Garment workers of the five factories in the building",
    affected_count="1,134",
    affected_groups_typed="4 2",
    started_typed="24/04/2013",
    started="2013-04-24",
    started_fallback=None,
    ongoing="no",
    narrative=(
        "Cracks were seen in the walls the day before; workers were ordered back in.",
        "The eight-storey building collapsed on the morning of 24 April 2013.",
    ),
    state_roles_typed="3",
    steps_typed="1 3 7",
    steps_outcome=None,
    remedy="Full compensation and binding safety inspections",
    link="https://en.wikipedia.org/wiki/Rana_Plaza_collapse",
    file=None,
    urgent=False,
    publication="network",
    follow_up="yes",
)
BHOPAL = Case(
    key="bhopal",
    language="en",
    encrypted=True,
    reporter="community_member",
    organization=None,
    naming="never",
    title="Bhopal gas disaster at the Union Carbide pesticide plant",
    country="India",
    country_code="IN",
    locality="Bhopal, Madhya Pradesh",
    company="Union Carbide India Limited",
    company_role="operator",
    company_country="India",
    sector_typed="7",
    sector="manufacturing",
    rights_typed="4 8 5 13",
    rights=("health", "environment", "life_security", "remedy"),
    affected="Families in the settlements around the plant",
    affected_count="more than 500,000",
    affected_groups_typed=None,
    started_typed="December 1984",
    started="1984-12",
    started_fallback="1984-12",
    ongoing="yes",
    narrative=("Methyl isocyanate leaked from tank 610 in the night.",),
    state_roles_typed="1 3",
    steps_typed="1",
    steps_outcome="A settlement of 470 million dollars in 1989, which survivors call too small",
    remedy="Clean-up of the site and lifelong medical care",
    link=None,
    file=None,
    urgent=False,
    publication="anonymous",
    follow_up="no",
)
LAGO_AGRIO = Case(
    key="lago_agrio",
    language="es",
    encrypted=False,
    reporter="affected_person",
    organization="Unión de Afectados por las Operaciones Petroleras de Texaco",
    naming="never",
    title="Contaminación petrolera de Texaco en Lago Agrio",
    country="Ecuador",
    country_code="EC",
    locality="Lago Agrio, Sucumbíos",
    company="Texaco (hoy Chevron)",
    company_role="operator",
    company_country="Estados Unidos",
    sector_typed="petróleo",
    sector="oil_gas",
    rights_typed="2, 4, 5, 7",
    rights=("water", "health", "environment", "indigenous_fpic"),
    affected="Comunidades campesinas e indígenas de Sucumbíos y Orellana",
    affected_count="30 000",
    affected_groups_typed="1, 5",
    started_typed="1964",
    started="1964",
    started_fallback=None,
    ongoing="yes",
    narrative=("Las piscinas de desechos sin revestir contaminaron ríos y esteros.",),
    state_roles_typed="1",
    steps_typed="1, 6",
    steps_outcome="Sentencia de 2011 que sigue sin cumplirse",
    remedy="Remediación ambiental y atención de salud",
    link=None,
    file=None,
    urgent=False,
    publication="internal",
    follow_up="yes",
)
MARIKANA = Case(
    key="marikana",
    language="en",
    encrypted=False,
    reporter="organization",
    organization="Mining Affected Communities Forum",
    naming="network",
    title="Marikana massacre at the Lonmin platinum mine",
    country="South Africa",
    country_code="ZA",
    locality="Marikana, North West",
    company="Lonmin plc",
    company_role="operator",
    company_country="United Kingdom",
    sector_typed="mining",
    sector="mining",
    rights_typed="8 9 6",
    rights=("labour", "life_security", "civic_space"),
    affected="Striking rock drill operators and their families",
    affected_count="34",
    affected_groups_typed="4",
    started_typed="August 2012",
    started="2012-08",
    started_fallback="2012-08",
    ongoing="no",
    narrative=("Police opened fire on striking mineworkers on 16 August 2012.",),
    state_roles_typed="2",
    steps_typed="1, 7",
    steps_outcome=None,
    remedy="Compensation for the families and housing the company promised",
    link=None,
    file=None,
    urgent=False,
    publication="anonymous",
    follow_up="yes",
)
LAFARGE = Case(
    key="lafarge",
    language="ar",
    encrypted=True,
    reporter="witness",
    organization="شبكة توثيق عمال الجلابية",
    naming="never",
    title="مدفوعات لافارج للجماعات المسلحة في مصنع الجلابية",
    country="سوريا",
    country_code="SY",
    locality="الجلابية، شمال سوريا",
    company="لافارج",
    company_role="operator",
    company_country="فرنسا",
    sector_typed="البناء",
    sector="infrastructure",
    rights_typed="٨، ٦",
    rights=("labour", "life_security"),
    affected="العمال السوريون في مصنع الإسمنت",
    affected_count="٣٠٠",
    affected_groups_typed="٤",
    started_typed="٢٠١٣",
    started="2013",
    started_fallback=None,
    ongoing="no",
    narrative=("أُبقي العمال في المصنع بينما دفعت الشركة للجماعات المسلحة.",),
    state_roles_typed="٣",
    steps_typed="١",
    steps_outcome="أقرت الشركة بالذنب أمام محكمة أمريكية عام 2022",
    remedy="تعويض العمال وحمايتهم",
    link=None,
    file=None,
    urgent=True,
    publication="network",
    follow_up="yes",
    arabic_digits=True,
)
CASES = (BRUMADINHO, RANA_PLAZA, BHOPAL, LAGO_AGRIO, MARIKANA, LAFARGE)


# -- reading what the bot says -------------------------------------------------------------


def plain(shown: str) -> str:
    return strip_direction_marks(shown)


def fragment(key: str, language: str) -> str:
    """The longest stretch of a catalog text without a placeholder."""
    return max(re.split(r"\{[^}]*\}", CATALOGS.template(language, key)), key=len).strip()


def known(key: str, language: str) -> str | None:
    """The longest stretch of a catalog text without a placeholder; ``None`` while the
    catalogs have no such text (it comes with another branch of issue 13)."""
    try:
        return fragment(key, language)
    except KeyError:
        return None


# -- a member filing a report ------------------------------------------------------------------


@dataclass
class Reporter:
    case: Case
    chat: MatrixChat
    number: int = 0

    @property
    def member(self) -> AttentiveMember:
        member = self.chat.member
        assert isinstance(member, AttentiveMember)
        return member

    async def pick(self, label: str) -> str:
        """Picks the choice by its number, in the digits the reporter types."""
        if not self.case.arabic_digits:
            return await self.chat.pick(label)
        found = find_choice(self.chat.shown, label)
        assert found is not None, f"no choice {label!r} in:\n{self.chat.last}"
        return await self.chat.send(str(found[1]).translate(ARABIC_DIGITS))

    async def option(self, kind: str, value: str) -> str:
        return await self.pick(option(kind, value, self.case.language))

    async def say(self, typed: str) -> str:
        return plain(await self.chat.send(typed))

    def done(self) -> str:
        return text("conversation.done", self.case.language)


async def file_case(reporter: Reporter, awaited: Awaited) -> int:
    """Everything a reporter types, from choosing the language to submitting."""
    case, language = reporter.case, reporter.case.language
    name = f"{case.key} ({language}, {'encrypted' if case.encrypted else 'unencrypted'} room)"
    await reporter.say(f"!language {language}")
    shown = await reporter.say("!report")
    agree = text("cases.consent_agree", language)
    warned = find_choice(reporter.chat.shown, agree) is None
    awaited.expect(
        warned != case.encrypted,
        "the unencrypted-room warning comes before consent on Matrix, and only there",
        f"{name}: warned={warned}: {shown}",
    )
    if language == "en":
        awaited.expect(
            re.search(r"question 1 of \d+", shown) is not None,
            "question numbers count only the questions asked",
            f"{name}: {shown[:120]}",
        )
    if warned:
        # Continuing unencrypted needs an explicit choice: this reporter makes it.
        shown = plain(await reporter.pick(text("cases.channel_stay", language)))
    assert agree in shown, shown
    awaited.expect(GROUP in shown, "the consent text names the working group", shown)
    await reporter.pick(agree)
    await reporter.option("reporter", case.reporter)
    await reporter.say(case.organization or "!skip")
    await reporter.option("naming", case.naming)
    await reporter.say(case.title)
    await reporter.say(case.country)
    await reporter.say(case.locality or "!skip")
    await reporter.say(case.company)
    await reporter.option("company_role", case.company_role)
    await reporter.say(case.company_country or "!skip")
    shown = await reporter.say(reporter.done())
    assert text("cases.ask_sector", language) in shown, shown
    prompt = await reporter.say(case.sector_typed)
    assert text("cases.ask_rights", language) in prompt, prompt
    nothing_yet = known("conversation.chosen_none", language)
    awaited.expect(
        nothing_yet is not None and nothing_yet in prompt,
        "'Chosen so far' says 'none yet' when nothing is chosen",
        f"{name}: {prompt}",
    )
    picked = await reporter.say(case.rights_typed)
    for right in case.rights:
        assert option("right", right, language) in picked, (right, picked)
    unchosen = [option("right", r, language) for r in RIGHTS if r not in case.rights]
    awaited.expect(
        not any(label in picked for label in unchosen),
        "the multiple-choice list is not sent again after picks",
        f"{name}: {picked}",
    )
    await reporter.say(reporter.done())
    await reporter.say(case.affected)
    await reporter.say(case.affected_count)
    if case.affected_groups_typed is None:
        await reporter.say("!skip")
    else:
        await reporter.say(case.affected_groups_typed)
        await reporter.say(reporter.done())
    shown = await reporter.say(case.started_typed)
    understood = text("cases.ask_ongoing", language) in shown
    if case.started_fallback is None:
        assert understood, shown
    else:
        awaited.expect(understood, "month names in the member's language", shown)
        if not understood:
            shown = await reporter.say(case.started_fallback)
    assert text("cases.ask_ongoing", language) in shown, shown
    await reporter.option("yes_no", case.ongoing)
    for piece in case.narrative:
        await reporter.say(piece)
    await reporter.say(reporter.done())
    await reporter.say(case.state_roles_typed)
    await reporter.say(reporter.done())
    await reporter.say(case.steps_typed)
    await reporter.say(reporter.done())
    await reporter.say(case.steps_outcome or "!skip")
    await reporter.say(case.remedy)
    if case.file is not None:
        filename, data, content_type = case.file
        await send_file(reporter.chat, data, filename, content_type)
    if case.link is not None:
        await reporter.say(case.link)
    await reporter.say(reporter.done())
    await reporter.option("yes_no", "yes" if case.urgent else "no")
    await reporter.option("publication", case.publication)
    review = plain(await reporter.option("yes_no", case.follow_up))
    assert case.title in review, review
    submitted = plain(await reporter.pick(text("conversation.submit", language)))
    assert fragment("cases.submitted", language)[:20] in submitted, submitted
    reporter.number = case_number(submitted)
    return reporter.number


# -- the coordinator ---------------------------------------------------------------------------


@dataclass
class Coordinator:
    chat: MatrixChat

    @property
    def member(self) -> AttentiveMember:
        member = self.chat.member
        assert isinstance(member, AttentiveMember)
        return member

    async def say(self, typed: str) -> str:
        return plain(await self.chat.send(typed))

    def said_elsewhere(self) -> str:
        """Everything the bot said to the coordinator outside their own direct room."""
        return plain("\n".join(self.member.bot_bodies(outside=self.chat.room_id)))


def offered_statuses(shown: str) -> set[str]:
    """The statuses ``/case N`` offers a coordinator next (its line of actions)."""
    line = next(
        (row for row in shown.splitlines() if "!casestatus" in row and "!casefiles" in row), ""
    )
    return {word for word in re.findall(r"[a-z_]+", line) if word in STATUS_NAMES}


def status_of(bot: MatrixBot, number: int) -> CaseStatus:
    summary = bot.store.cases.summary(number)
    assert summary is not None, number
    return summary.status


async def told_of(reporter: Reporter, number: int) -> None:
    """Waits until the reporter has a notice about their report, outside their own room."""

    def notice() -> bool:
        bodies = reporter.member.bot_bodies(outside=reporter.chat.room_id)
        return any(str(number) in body for body in bodies)

    await reporter.member.wait_until(notice, what=f"a notice about case {number}")


def export_rows(files: dict[str, bytes]) -> tuple[list[dict[str, str]], dict[str, Any]]:
    [csv_name] = [name for name in files if name.endswith(".csv")]
    [json_name] = [name for name in files if name.endswith(".json")]
    rows = list(csv.DictReader(io.StringIO(files[csv_name].decode("utf-8-sig"))))
    document = json.loads(files[json_name].decode("utf-8"))
    assert isinstance(document, dict)
    return rows, document


def text_before_files(chat: MatrixChat) -> bool:
    """Whether the bot's last answer (a text and files) said its text before the files."""
    kinds = [
        "file" if record["msgtype"] in ("m.file", "m.image") else "text"
        for record in chat.shown
        if record["type"] == "m.room.message"
    ]
    return "text" in kinds and "file" in kinds and kinds.index("text") < kinds.index("file")


# -- the walk-through ------------------------------------------------------------------------


async def test_six_cases_filed_in_four_languages_are_reviewed_and_exported_as_reporters_chose(
    tmp_path: Path, sqlite_url: str, synapse: SynapseServer
) -> None:
    # One journey over the real server, on one database: every step's storage is tested on
    # both in tests/test_cases*.py.
    awaited = Awaited()
    coordinator_localpart = unique_localpart("lucie")
    extra = f"""
data_dir = "data"

[[working_groups]]
slug = "cawg"
name = "{GROUP}"
languages = ["en", "es", "fr", "ar", "pt"]
coordinators = ["matrix:@{coordinator_localpart}:{synapse.server_name}"]

[limits]
# Scripted members answer a whole report in seconds: far more than a person's rate.
private_messages_per_minute = 10000
"""
    bot = MatrixBot(await matrix_config(tmp_path, sqlite_url, synapse, extra=extra))
    await bot.start()
    members: list[AttentiveMember] = []

    async def join(name: str, *, encrypted: bool, localpart: str | None = None) -> MatrixChat:
        member = await AttentiveMember.create(
            synapse, name, encrypted=encrypted, localpart=localpart
        )
        assert isinstance(member, AttentiveMember)
        member.inviter = bot.user_id
        members.append(member)
        room_id = await member.open_direct_room(bot.user_id, encrypted=encrypted)
        return PromptChat(member, bot, room_id)

    try:
        chats = await asyncio.gather(
            join("Lucie", encrypted=True, localpart=coordinator_localpart),
            *(join(case.key.title(), encrypted=case.encrypted) for case in CASES),
        )
        coordinator = Coordinator(chats[0])
        reporters = {case.key: Reporter(case, chat) for case, chat in zip(CASES, chats[1:])}

        # -- six reports at once, before any coordinator has written to the bot -----------
        await asyncio.gather(*(file_case(reporter, awaited) for reporter in reporters.values()))
        number = {key: reporter.number for key, reporter in reporters.items()}
        assert len(set(number.values())) == 6, number
        for key, reporter in reporters.items():
            summary = bot.store.cases.summary(number[key])
            assert summary is not None and summary.title == reporter.case.title
            assert summary.urgent is reporter.case.urgent
            assert summary.status is CaseStatus.SUBMITTED

        async with syncing_in_background(members):
            # -- the coordinator's first message: the urgent alert kept for them arrives ----
            await coordinator.say(f"!language {COORDINATOR_LANGUAGE}")
            urgent = number["lafarge"]
            seen = coordinator.said_elsewhere() + plain(coordinator.chat.last)
            awaited.expect(
                "URGENT" in seen and str(urgent) in seen,
                "an urgent alert nobody could receive is kept, and delivered when a coordinator "
                "first writes",
                seen,
            )

            # -- the list, in French, with its counts -----------------------------------
            listed = await coordinator.say("!cases")
            for value in number.values():
                assert re.search(rf"(?m)^\W*{value} · ", listed), (value, listed)
            urgent_line = next(row for row in listed.splitlines() if f"{urgent} · " in row)
            assert "URGENT" in urgent_line, urgent_line
            assert text("cases.status.submitted", COORDINATOR_LANGUAGE) in listed
            one = await coordinator.say("!cases urgent")
            assert f"{urgent} · " in one and f"{number['bhopal']} · " not in one, one
            header_six = re.sub(r"\b6\b", "N", listed.splitlines()[0], count=1)
            header_one = re.sub(r"\b1\b", "N", one.splitlines()[0], count=1)
            awaited.expect(
                header_six != header_one,
                "plural forms in the catalogs ('1 signalement', '6 signalements')",
                f"{header_one!r} / {header_six!r}",
            )
            stats = await coordinator.say("!casestats")
            for case in CASES:
                assert territory_name(case.country_code, COORDINATOR_LANGUAGE) in stats, stats

            # -- the urgent report, read in full, in Arabic ---------------------------------
            shown = await coordinator.say(f"!case {urgent}")
            assert LAFARGE.title in shown and LAFARGE.narrative[0] in shown, shown
            assert offered_statuses(shown) == {"under_review", "rejected"}, shown

            # -- "do not contact me": no question, and no word to its author -------------
            bhopal = number["bhopal"]
            told = await coordinator.say(f"!casestatus {bhopal} under_review")
            assert fragment("cases.status_changed_not_contacted", COORDINATOR_LANGUAGE) in told
            shown = await coordinator.say(f"!case {bhopal}")
            assert "needs_info" not in offered_statuses(shown), shown
            assert offered_statuses(shown) == {"verified", "rejected"}, shown
            refused = await coordinator.say(
                f"!casestatus {bhopal} needs_info Combien de familles vivaient près de l’usine ?"
            )
            assert fragment("cases.needs_info_declined_contact", COORDINATOR_LANGUAGE) in refused
            assert status_of(bot, bhopal) is CaseStatus.UNDER_REVIEW
            await coordinator.say(f"!casestatus {bhopal} verified")
            # Published without names: what its author allowed.
            await coordinator.say(f"!casestatus {bhopal} published")
            assert status_of(bot, bhopal) is CaseStatus.PUBLISHED

            # -- "internal review only": verified, never published -----------------------
            internal = number["lago_agrio"]
            await coordinator.say(f"!casestatus {internal} under_review")
            await coordinator.say(f"!casestatus {internal} verified")
            shown = await coordinator.say(f"!case {internal}")
            assert offered_statuses(shown) == {"archived"}, shown
            refused = await coordinator.say(f"!casestatus {internal} published")
            chosen = option("publication", "internal", COORDINATOR_LANGUAGE)
            assert fragment("cases.publish_not_chosen", COORDINATOR_LANGUAGE)[:12] in refused
            assert chosen in refused, refused
            assert status_of(bot, internal) is CaseStatus.VERIFIED

            # -- "share within the network": verified, not published ----------------------
            network = number["rana_plaza"]
            await coordinator.say(f"!casestatus {network} under_review")
            await coordinator.say(f"!casestatus {network} verified")
            refused = await coordinator.say(f"!casestatus {network} published")
            assert option("publication", "network", COORDINATOR_LANGUAGE) in refused, refused
            assert status_of(bot, network) is CaseStatus.VERIFIED

            # -- Brumadinho: its file, a question its author answers, then published ------
            named = number["brumadinho"]
            author = reporters["brumadinho"].member
            told = await coordinator.say(f"!casestatus {named} under_review")
            assert fragment("cases.status_changed", COORDINATOR_LANGUAGE)[-20:] in told, told

            def fetched() -> bool:
                detail = bot.store.cases.detail(named)
                return detail is not None and [a.status for a in detail.attachments] == ["stored"]

            await coordinator.member.wait_until(fetched, what="the evidence file fetched")
            shown = await coordinator.say(f"!case {named}")
            assert "laudo-barragem-B1.pdf" in shown and str(BRUMADINHO.link) in shown, shown
            await coordinator.say(f"!casefiles {named}")
            assert await files_in(coordinator.chat) == {"laudo-barragem-B1.pdf": REPORT_PDF}
            question = "Quantas famílias ainda aguardam a reparação?"
            told = await coordinator.say(f"!casestatus {named} needs_info {question}")
            sentence = known("cases.now.needs_info", COORDINATOR_LANGUAGE)
            awaited.expect(
                sentence is not None and sentence in told,
                "status names read naturally in sentences ('Case 6 now needs information')",
                told,
            )
            await author.wait_until(
                lambda: any(question in body for body in author.bot_bodies()),
                what="the coordinator's question, in the author's notice room",
            )
            answered = await reporters["brumadinho"].say(f"!answer {named} Cerca de 300 famílias.")
            assert fragment("cases.answer_kept", "pt")[:15] in answered, answered
            shown = await coordinator.say(f"!case {named}")
            assert "Cerca de 300 famílias." in shown, shown
            await coordinator.say(f"!casestatus {named} verified")
            await coordinator.say(f"!casestatus {named} published")
            assert status_of(bot, named) is CaseStatus.PUBLISHED

            # -- the urgent one verified; Marikana left under review ---------------------
            await coordinator.say(f"!casestatus {urgent} under_review")
            await coordinator.say(f"!casestatus {urgent} verified")
            await coordinator.say(f"!casestatus {number['marikana']} under_review")

            # -- the exports -----------------------------------------------------------------
            await coordinator.say("!export")
            awaited.expect(
                text_before_files(coordinator.chat),
                "files arrive after the message that introduces them",
                coordinator.chat.last,
            )
            exported = await files_in(coordinator.chat)
            rows, document = export_rows(exported)
            await coordinator.say("!export all")
            exported_all = await files_in(coordinator.chat)
            rows_all, document_all = export_rows(exported_all)
            everything = b"".join([*exported.values(), *exported_all.values()])

            # The authors who allowed contact heard of each change; Bhopal's author of none.
            for key in ("brumadinho", "rana_plaza", "lafarge", "marikana"):
                await told_of(reporters[key], number[key])
            # Rana Plaza's author reads, in English, that their report is now verified.
            heard, room = reporters["rana_plaza"].member, reporters["rana_plaza"].chat.room_id
            sentence = known("cases.now.verified", "en")
            awaited.expect(
                sentence is not None,
                "an author is told of a status change in a sentence ('... is now verified.')",
                "\n".join(heard.bot_bodies(outside=room)),
            )
            if sentence is not None:
                await heard.wait_until(
                    lambda: sentence in plain("\n".join(heard.bot_bodies(outside=room))),
                    what="the status notice in a sentence",
                )

        # -- what the files hold ----------------------------------------------------------
        by_number = {int(row["number"]): row for row in rows}
        assert set(by_number) == {named, network, bhopal, urgent}, by_number.keys()
        assert document["statuses"] == ["verified", "published"], document["statuses"]
        statuses = {int(row["number"]): row["status"] for row in rows}
        assert statuses == {
            named: "published",
            network: "verified",
            bhopal: "published",
            urgent: "verified",
        }
        by_number_all = {int(row["number"]): row for row in rows_all}
        assert set(by_number_all) == {*by_number, number["marikana"]}
        assert by_number_all[number["marikana"]]["status"] == "under_review"
        assert document_all["statuses"] == [status.value for status in CaseStatus]
        # Internal review only: in neither export, not even a trace.
        assert internal not in by_number_all
        for secret in (LAGO_AGRIO.title, LAGO_AGRIO.company, LAGO_AGRIO.narrative[0]):
            assert secret.encode() not in everything, secret

        reports = {int(report["number"]): report for report in document["reports"]}
        # Published with names: everything in the clear, the file counted.
        assert by_number[named]["organization"] == BRUMADINHO.organization
        assert reports[named]["links"] == [BRUMADINHO.link]
        assert by_number[named]["evidence_files"] == "1"
        assert by_number[named]["started"] == "2019-01"
        assert by_number[named]["rights"] == "; ".join(sorted(BRUMADINHO.rights))
        assert by_number[named]["country"] == "BR"
        awaited.expect(
            [by_number[n].get("channel") for n in (named, network)]
            == ["matrix_encrypted", "matrix_unencrypted"],
            "the export says where each report was typed (the choice to stay in the clear)",
            str([by_number[n].get("channel") for n in (named, network)]),
        )
        # Shared within the network: given names withheld, and said so.
        assert by_number[network]["organization"] == "[withheld]"
        assert by_number[network]["links"] == "[withheld]"
        assert reports[network]["links"] == "[withheld]"
        assert by_number[network]["started"] == "2013-04-24"
        assert by_number[network]["affected_count"] == "1134"
        # Without names, nothing given: empty, not withheld.
        assert by_number[bhopal]["organization"] == ""
        assert reports[bhopal]["links"] == []
        assert by_number[bhopal]["started"] == "1984-12"
        assert by_number[bhopal]["rights"] == "; ".join(sorted(BHOPAL.rights))
        # The urgent one, in Arabic, its Arabic-Indic digits read as numbers.
        assert by_number[urgent]["title"] == LAFARGE.title
        assert by_number[urgent]["urgent"] == "yes"
        assert by_number[urgent]["organization"] == "[withheld]"
        assert by_number[urgent]["rights"] == "; ".join(sorted(LAFARGE.rights))
        assert by_number[urgent]["affected_count"] == "300"
        assert by_number[urgent]["started"] == "2013"
        assert by_number_all[number["marikana"]]["started"] == "2012-08"
        for case in (RANA_PLAZA, LAFARGE, MARIKANA):
            assert case.organization is not None
            assert case.organization.encode() not in everything, case.key
        assert RANA_PLAZA.link is not None and RANA_PLAZA.link.encode() not in everything

        # Bhopal's author, who declined contact, was sent nothing after the submission.
        declined = reporters["bhopal"]
        await declined.member.sync(0)
        assert not declined.member.client.invited_rooms
        assert list(declined.member.client.rooms) == [declined.chat.room_id]
        assert declined.member.bot_bodies(outside=declined.chat.room_id) == []
        last = declined.member.timeline(declined.chat.room_id)[-1]
        assert str(number["bhopal"]) in str(last["body"]), last
        awaited.check()
    finally:
        for member in members:
            await member.close()
        await bot.stop()
