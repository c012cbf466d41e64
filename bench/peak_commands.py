"""The slash-command load of ``bench.peak``: what users do while the season peaks.

``--rate`` interactions a second, evenly spaced, each a new ``INTERACTION_CREATE`` fed to the
real ``CommandTree`` by the simulated Discord (``rehearsal.guild``), cycling through what
users ask most at a round's start: ``/match info``, ``/match list``, ``/open-room``'s preview,
``/tournament info``, ``/notifications settings`` and the autocomplete of a tournament's and
a match's name. An interaction is not awaited before the next one arrives (Discord does not
wait either). The simulated Discord tells :class:`Answers` when each was first answered or
deferred, in seconds from its arrival.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import discord

from rehearsal.discord_rules import RefusedByDiscord
from rehearsal.guild import SimulatedGuild

log = logging.getLogger(__name__)

AUTOCOMPLETE = ": autocomplete"  # how the simulated Discord names an autocomplete


@dataclass(slots=True)
class Answers:
    """Per interaction kind: how many arrived, and each first answer's delay (seconds)."""

    issued: dict[str, int] = field(default_factory=dict)
    delays: dict[str, list[float]] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)  # raised (refused, timed out, ...)

    def answered(self, what: str, seconds: float) -> None:
        self.delays.setdefault(what, []).append(seconds)

    def as_dict(self) -> dict[str, Any]:
        return {"issued": self.issued, "delays": self.delays, "failed": self.failed}


Interaction = Callable[[], Awaitable[Any]]


def interactions(
    sim: SimulatedGuild, member: discord.Member, match_ids: Sequence[int], tournament: str,
    rng: random.Random,
) -> list[tuple[str, Interaction]]:
    """One of each kind (the name the simulated Discord gives it, and how to make it)."""

    def match() -> str:
        return str(rng.choice(match_ids))

    def slash(name: str, **options: Callable[[], str]) -> tuple[str, Interaction]:
        return f"/{name}", lambda: sim.slash(
            name, member=member, options={key: make() for key, make in options.items()}
        )

    def complete(name: str, option: str, typed: Callable[[], str]) -> tuple[str, Interaction]:
        return f"/{name} {option}{AUTOCOMPLETE}", lambda: sim.autocomplete(
            name, option, typed(), member=member
        )

    return [
        slash("match info", match=match),
        slash("match list"),
        slash("open-room", match=match),
        slash("tournament info", tournament=lambda: tournament),
        slash("notifications settings"),
        complete("match list", "tournament", lambda: tournament[: rng.randint(0, 4)]),
        complete("match info", "match", lambda: f"Player{rng.randrange(2 * len(match_ids))}"),
    ]


async def run_load(
    kinds: Sequence[tuple[str, Interaction]], rate: float, seconds: float, answers: Answers
) -> None:
    """``rate`` interactions a second for ``seconds``, round robin over ``kinds``; returns
    when every one of them has ended."""
    running: set[asyncio.Task[None]] = set()

    async def one(what: str, interaction: Interaction) -> None:
        try:
            await interaction()
        except (RefusedByDiscord, TimeoutError, discord.DiscordException) as error:
            answers.failed[what] = answers.failed.get(what, 0) + 1
            log.warning("%s failed: %r", what, error)

    start = time.monotonic()
    for index, (what, interaction) in enumerate(itertools.cycle(kinds)):
        at = start + index / rate
        if at >= start + seconds:
            break
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        answers.issued[what] = answers.issued.get(what, 0) + 1
        task = asyncio.create_task(one(what, interaction))
        running.add(task)
        task.add_done_callback(running.discard)
    with contextlib.suppress(Exception):
        await asyncio.gather(*running)
