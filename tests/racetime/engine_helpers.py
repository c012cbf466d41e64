"""Shared steps of the engine tests: a bot, a watched room, a race under way, a summary."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from core.clock import Clock, ManualClock
from core.events import (
    RacetimeEntrantEvent,
    RacetimeEntrantJoinedEvent,
    RacetimeEntrantStatusChangedEvent,
    RacetimeRaceStatusChangedEvent,
    RacetimeRoomEvent,
)
from db.models import RacetimeBot
from racetime.category_bot import BotTimings
from racetime.manager import RacetimeManager
from tests.plugins.fake_racetime import ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET
from tests.plugins.racetime_engine import EngineEnv, eventually

CATEGORY = "alttpr"


async def add_alttpr_bot(env: EngineEnv, secret: str = ALTTPR_CLIENT_SECRET) -> RacetimeBot:
    async with env.sessionmaker.begin() as session:
        return await env.bots.add_bot(
            session,
            category=CATEGORY,
            client_id=ALTTPR_CLIENT_ID,
            client_secret=secret,
            display_name="ALttPR",
        )


async def bot_row(env: EngineEnv, bot_id: int) -> RacetimeBot:
    async with env.sessionmaker() as session:
        bot = await session.get(RacetimeBot, bot_id)
        assert bot is not None
        return bot


def production_timings(env: EngineEnv) -> BotTimings:
    """The bot's real scan interval and backoff, for tests on a ``ManualClock`` (there they
    cost no time, and a test's scans stay few)."""
    return BotTimings(connection=env.timings.connection)


async def started(env: EngineEnv, clock: Clock | None = None) -> RacetimeManager:
    manager = env.new_manager(clock)
    await manager.start()
    await asyncio.wait_for(manager.bot(CATEGORY).wait_healthy(), 5)
    return manager


async def watched_race(env: EngineEnv, **settings: object):  # type: ignore[no-untyped-def]
    """A running alttpr bot and a room opened on the fake server that it is connected to."""
    await add_alttpr_bot(env)
    manager = await started(env)
    race = env.fake.open_race(CATEGORY, **settings)
    room = await manager.room(race.name)
    await asyncio.wait_for(room.wait_connected(), 5)
    return manager, race, room


async def race_under_way(env: EngineEnv, slug: str, *users: str) -> None:
    """``users`` join and ready up; the race auto-starts and runs past racetime's 5 s rule."""
    for user in users:
        await env.fake.racer(slug, user).join()
        await env.fake.racer(slug, user).ready()
    await eventually(lambda: env.fake.race(slug).status == "pending")
    await env.fake.advance_to_start(slug)
    await env.fake.advance(6)


async def race_finished(env: EngineEnv, slug: str, first: str, second: str, *,
                        second_forfeits: bool = False) -> None:
    """A race of ``first`` and ``second`` under way, then both done (or ``second``
    forfeits), until the engine reported the race finished."""
    await race_under_way(env, slug, first, second)
    await env.fake.racer(slug, first).done()
    racer = env.fake.racer(slug, second)
    await (racer.forfeit() if second_forfeits else racer.done())
    await reported(env, slug, ("race", "in_progress", "finished"))


def room_events(env: EngineEnv, slug: str) -> list[RacetimeRoomEvent]:
    return [e for e in env.events if isinstance(e, RacetimeRoomEvent) and e.room_slug == slug]


def name(event: RacetimeEntrantEvent) -> str:
    """``RacerOne`` of ``RacerOne#1234`` (the fake gives random discriminators)."""
    return (event.racetime_user_name or "").partition("#")[0]


def summary(env: EngineEnv, slug: str) -> list[tuple]:
    rows: list[tuple] = []
    for e in room_events(env, slug):
        if isinstance(e, RacetimeRaceStatusChangedEvent):
            rows.append(("race", e.old_status, e.new_status))
        elif isinstance(e, RacetimeEntrantJoinedEvent):
            rows.append(("joined", name(e), e.initial_status))
        elif isinstance(e, RacetimeEntrantStatusChangedEvent):
            rows.append(("entrant", name(e), e.old_status, e.new_status))
        else:
            rows.append((type(e).__name__,))
    return rows




async def advance_until(
    clock: ManualClock, predicate: Callable[[], object], within: float
) -> float:
    """Move ``clock`` in small steps (letting real I/O finish between them) until
    ``predicate()`` holds; returns the clock seconds it took. Fails past ``within``."""
    step, elapsed = 0.25, 0.0
    while not predicate():
        if elapsed >= within:
            # What the last step set off (a request, a database write) may still be under
            # way in real time: give it a moment, not clock time.
            try:
                await asyncio.wait_for(eventually(predicate), 1.0)
            except TimeoutError:
                raise AssertionError(f"not reached within {within} s of clock time") from None
            return elapsed
        await clock.advance(step)
        elapsed += step
        await settled(clock)
    return elapsed


async def settled(clock: ManualClock, quiet: float = 0.05, limit: float = 2.0) -> None:
    """Let real I/O (sockets, the database) run until the tasks waiting on ``clock`` have
    not changed for ``quiet`` seconds: what the last step set off has gone back to sleep."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    seen, since = clock.sleepers, loop.time()
    while loop.time() - since < quiet and loop.time() < deadline:
        await asyncio.sleep(0.005)
        if clock.sleepers != seen:
            seen, since = clock.sleepers, loop.time()


async def reported(env: EngineEnv, slug: str, row: tuple) -> None:
    """Until ``row`` (as :func:`summary` writes it) is among the room's events."""
    await eventually(lambda: row in summary(env, slug))
