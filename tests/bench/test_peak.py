"""The pure parts of ``bench.peak``: the interactions' figures, frames lost, the CLI sizes."""

from __future__ import annotations

import discord
import pytest

from bench.peak import QUICK, command_figures, frame_figures, parse
from rehearsal.slash import InteractionEndpoint


def test_slash_commands_and_autocomplete_are_figured_apart() -> None:
    answers = {
        "issued": {"/match info": 3, "/match info match: autocomplete": 2},
        "delays": {"/match info": [0.010, 0.020, 3.5], "/match info match: autocomplete": [0.05]},
        "failed": {},
    }
    found = command_figures(answers)
    assert found["commands"] == 5
    assert (found["command_p50_ms"], found["command_max_ms"]) == (20.0, 3500.0)
    assert found["autocomplete_p99_ms"] == 50.0
    # One took more than 3 s, one autocomplete was never answered.
    assert (found["unanswered"], found["commands_over_3s"]) == (1, 2)
    assert found["per_command"]["/match info"]["count"] == 3


def test_a_change_never_delivered_is_lost() -> None:
    sent = [["a", 1, 10.0], ["a", 2, 11.0], ["b", 1, 10.5]]
    received = [["a", 1, 10.004], ["b", 1, 10.51], ["c", 9, 1.0]]  # c: not the stream's
    found = frame_figures(sent, received)
    assert found["events_lost"] == 1
    assert found["frame_max_ms"] == 10.0


def test_quick_is_the_small_size_and_postgres_a_backend() -> None:
    options = parse(["--quick", "--backend", "postgres"])
    assert (options.rooms, options.matches, options.dms) == (
        QUICK["rooms"], QUICK["matches"], QUICK["dms"]
    )
    assert options.postgres and isinstance(options.rooms, int)
    assert not parse([]).postgres and parse([]).rooms == 1000


def test_an_interaction_is_timed_once_even_when_its_late_answer_is_retried() -> None:
    timed: list[tuple[str, float]] = []
    now = [0.0]
    endpoint = InteractionEndpoint(
        {"id": "1", "username": "bot"}, 1, what="/match info", refusals=[],
        clock=lambda: now[0], on_answer=lambda what, s: timed.append((what, s)),
    )

    class Route:
        path, method, webhook_id = "/interactions/1/token/callback", "POST", 1

    now[0] = 4.0  # past Discord's 3 s: refused, and the bot tries to apologise
    for _ in range(2):
        with pytest.raises(discord.NotFound):
            endpoint._answer(Route(), {"type": 4, "data": {"content": "hi"}})
    assert timed == [("/match info", 4.0)]
