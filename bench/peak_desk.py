"""``python -m bench.peak_desk``: the one RaceDesk process of ``bench.peak``.

Wired as ``bot.py`` wires it: ``bot.build_services`` on the bench's database with the
racetime settings pointing at the fake racetime server, the real :class:`RaceDeskBot` with
every cog, ``start_with_discord`` (event log, dispatcher, racetime engine, schedulers, the
cogs' listeners held until the login), the notification outbox's delivery
(``bot.notification_delivery``). Two seams stand in for Discord:

- the gateway side (interactions, the server, its members) is the simulated Discord of the
  tests and the rehearsal (``rehearsal.guild``): slash commands arrive as real
  ``INTERACTION_CREATE`` payloads fed to the real ``CommandTree``;
- the DMs go out over real HTTP to the fake Discord REST API (``--api-base``, its rate
  limits as Discord's) through a ``discord.Client`` logged in there, as ``bench.notify``'s
  worker sends them.

A listener notes when each entrant change arrives as an event (``time.monotonic()``, like
``bench.rooms``). Lines on stdout: ``READY {"guild", "t"}`` once the category bot and
``--rooms`` rooms are connected; after ``GO {"players", "dms"}`` on stdin (the driver has
added the tournament and the matches to that server) the scheduler plans the matches, the
DM fan-out is queued, and ``--rate`` slash commands a second run for ``--seconds``; after
``REPORT``, one JSON line: the events received, the interactions' answers, the DMs expected
and the longest garbage collection per generation. Then it stops in order (with
``--profile``, writing a cProfile). The secret box key comes from the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import discord
from sqlalchemy import select
from sqlmodel import col

from bench import notify
from bench.peak_commands import Answers, interactions, run_load
from bench.room_open_worker import KEY_ENV, run_logged, until_connected
from bot import RaceDeskBot, build_services, notification_delivery, start_with_discord
from core.config import LoggingSettings, RacetimeSettings, setup_logging
from core.container import Services
from core.events import RacetimeEntrantStatusChangedEvent
from core.lifecycle import Lifecycle
from db.models import Match
from db.secrets import SecretBox
from rehearsal.fake_discord_api import DEFAULT_TOKEN
from rehearsal.guild import SimulatedGuild, member_intents

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 300.0
POLL_SECONDS = 0.1


@dataclass(slots=True)
class Frames:
    """Every entrant change delivered: (room, version) -> when, and repeats of an event."""

    received: dict[tuple[str, int], float] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    repeated: int = 0

    async def on_change(self, event: RacetimeEntrantStatusChangedEvent) -> None:
        if event.event_id in self.seen:
            self.repeated += 1
            return
        self.seen.add(event.event_id)
        self.received[(event.room_slug, event.racetime_version or 0)] = time.monotonic()


@dataclass(slots=True)
class Pauses:
    """The longest garbage collection of each generation (``gc.callbacks``), in ms."""

    longest: dict[int, float] = field(default_factory=dict)
    count: dict[int, int] = field(default_factory=dict)
    _started: float = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info["generation"]
        took = (time.perf_counter() - self._started) * 1000
        self.longest[generation] = max(self.longest.get(generation, 0.0), took)
        self.count[generation] = self.count.get(generation, 0) + 1


async def until_rooms(services: Services, category: str, rooms: int) -> None:
    bot = services.racetime_engine.bot(category)
    async with asyncio.timeout(CONNECT_TIMEOUT):
        while sum(room.is_connected for room in bot.rooms.values()) < rooms:  # noqa: ASYNC110 - the engine's state, polled
            await asyncio.sleep(POLL_SECONDS)


async def match_ids(services: Services) -> list[int]:
    async with services.sessionmaker() as session:
        found = (await session.execute(select(col(Match.id)))).scalars().all()
    return [match_id for match_id in found if match_id is not None]


async def fan_out(
    services: Services, players: dict[int, int], count: int
) -> tuple[set[notify.Key], int]:
    """``count`` DMs, one event (transaction) to every player after another, as
    ``bench.notify`` queues them; an event that could not be queued is counted, not fatal
    (the bench goes on to report what the rest did)."""
    expected: set[notify.Key] = set()
    failed = event = 0
    while event * len(players) < count:
        try:
            queued, _ = await notify.queue_through(
                services.notifications, services.sessionmaker, players,
                min(len(players), count - event * len(players)), first_event=event,
            )
            expected |= queued
        except Exception:
            log.exception("Could not queue the DMs of event %d", event)
            failed += 1
        event += 1
    return expected, failed


def say(word: str, details: dict[str, Any]) -> None:
    print(word, json.dumps(details), flush=True)


async def run(args: argparse.Namespace) -> None:
    services = build_services(
        database_url=args.db_url,
        secret_box=SecretBox(os.environ[KEY_ENV]),
        racetime=RacetimeSettings(host=args.racetime_host, scheme="http"),
    )
    setup_logging(LoggingSettings())  # as bot.py logs (INFO), into the log file (stderr)
    frames, pauses, answers = Frames(), Pauses(), Answers()
    gc.callbacks.append(pauses)
    services.dispatcher.subscribe(RacetimeEntrantStatusChangedEvent, frames.on_change)
    discord.http.Route.BASE = args.api_base
    dm_client = discord.Client(intents=discord.Intents.default())
    loop = asyncio.get_running_loop()
    async with Lifecycle() as lifecycle:
        lifecycle.handle_signals()
        bot = RaceDeskBot(services, intents=member_intents())
        await start_with_discord(services, bot, lifecycle)
        sim = SimulatedGuild(bot, acknowledge_slow_commands=True)  # as on Discord
        sim.on_answer = answers.answered
        await lifecycle.add("simulated discord", sim.start, sim.close)
        await bot.logged_in()  # what setup_hook runs once the bot has logged in
        await lifecycle.add("dm client", lambda: dm_client.login(DEFAULT_TOKEN), dm_client.close)
        delivery = notification_delivery(services, dm_client)
        await lifecycle.add("notification delivery", delivery.start, delivery.stop)
        await until_connected(services, args.category)
        await until_rooms(services, args.category, args.rooms)
        await services.dispatcher.drain()
        say("READY", {"guild": sim.guild.id, "t": time.time()})
        go = json.loads((await loop.run_in_executor(None, sys.stdin.readline)).split(" ", 1)[1])
        pauses.longest.clear()  # the pauses under load, not start-up's
        pauses.count.clear()
        await services.match_scheduler.replan_all()
        member = await sim.grant(sim.member(0), administrator=True)
        kinds = interactions(
            sim, member, await match_ids(services), go["tournament"], random.Random(args.seed)
        )
        players = {int(did): uid for did, uid in go["players"].items()}
        load = asyncio.create_task(run_load(kinds, args.rate, args.seconds, answers))
        expected, failed = await fan_out(services, players, go["dms"])
        say("QUEUED", {"dms": len(expected), "failed": failed})
        await load
        await loop.run_in_executor(None, sys.stdin.readline)  # REPORT
        await services.dispatcher.drain()
        say("REPORT", {
            "received": [[slug, version, at] for (slug, version), at in frames.received.items()],
            "events_repeated": frames.repeated,
            "answers": answers.as_dict(),
            "expected_dms": sorted(expected),
            "dm_events_not_queued": failed,
            "gc_longest_ms": pauses.longest,
            "gc_count": pauses.count,
        })
        await loop.run_in_executor(None, sys.stdin.readline)  # STOP (or stdin closed)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.peak_desk")
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--racetime-host", required=True, help="host:port of the fake")
    parser.add_argument("--api-base", required=True, help="the fake Discord's …/api/v10")
    parser.add_argument("--category", default="alttpr")
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--log-file", default=None)
    parser.add_argument("--profile", default=None, help="write a cProfile of the run here")
    return parser.parse_args(argv)


def main() -> None:
    run_logged(run, parse())


if __name__ == "__main__":
    main()
