"""Polls: one ballot across Telegram, Matrix and the console, with a deadline, a quorum,
open or secret ballots and results. Creating one is :mod:`handlers.polls.create`
(``/poll``); reading them and recording their outcome :mod:`handlers.polls.views`
(``/polls``, ``/poll N``, ``/outcome``); voting, closing, reminders and results are
:mod:`handlers.polls.voting`, :mod:`handlers.polls.closing` and :mod:`handlers.polls.results`.
What they all call a poll's posts, choices and labels is :mod:`handlers.polls.labels`."""

from __future__ import annotations

from bot.registry import Registry
from bot.types import Role
from handlers.polls import closing, create, views, voting


def register(registry: Registry) -> None:
    registry.conversation(
        create.CONVERSATION,
        command="poll",
        help_key="help.poll",
        prepare=create.prepare,
        with_arguments=views.show_poll,
    )
    registry.command("polls", views.list_polls, help_key="help.polls")
    registry.command(
        "outcome", views.record_outcome, help_key="help.outcome", role=Role.COORDINATOR
    )
    voting.register(registry)
    closing.register(registry)
