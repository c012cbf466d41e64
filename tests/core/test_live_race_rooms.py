"""Live race rooms open on time (15 minutes ahead by default), exactly once, and are caught up
after downtime: the real scheduler (APScheduler), the room service, the engine and the fake
racetime server over real sockets, on the real database. Decisions read a ManualClock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from core.access import Actor
from core.clock import ManualClock
from core.events import AsyncLiveRaceRoomOpenedEvent
from core.identity import SYSTEM_USER_ID
from core.live_races.rooms import LiveRaceRooms, LiveRaceScheduler
from core.live_races.rules import room_marker
from core.rooms.match_rooms import OpeningStatus
from core.rooms.scheduler import SchedulerTimings
from db.models import AsyncLiveRace, AsyncParticipant, AsyncTournament, ClaimState, User
from tests.core.match_room_helpers import NO_WAIT, assign_bot
from tests.plugins.racetime_engine import EngineEnv
from tests.racetime.engine_helpers import CATEGORY, add_alttpr_bot, started

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def now_when_the_test_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """APScheduler runs jobs by the wall clock, so the tests' NOW is when each test starts, not
    when the module was imported: in a long suite that is minutes earlier, and a job planned
    "15 minutes from NOW" would already be due (it ran at once, found by a full run)."""
    now = datetime.now(UTC).replace(microsecond=0)
    monkeypatch.setattr(f"{__name__}.NOW", now)


@dataclass
class Rig:
    env: EngineEnv
    clock: ManualClock
    rooms: LiveRaceRooms
    scheduler: LiveRaceScheduler


def rooms_service(env: EngineEnv, manager: object, clock: ManualClock) -> LiveRaceRooms:
    rooms = LiveRaceRooms(
        sessionmaker=env.sessionmaker, event_log=env.event_log, racetime=manager,  # type: ignore[arg-type]
        client=env.client, store=env.store, clock=clock, retry=NO_WAIT, connect_timeout=5.0,
    )
    rooms.subscribe(env.dispatcher)
    return rooms


@pytest.fixture
async def rig(engine_env: EngineEnv) -> AsyncIterator[Rig]:
    env = engine_env
    clock = ManualClock(NOW)
    await add_alttpr_bot(env)
    rooms = rooms_service(env, await started(env), clock)
    scheduler = LiveRaceScheduler(
        env.sessionmaker, env.event_log, rooms, clock=clock,
        timings=SchedulerTimings(sweep_seconds=3600.0),  # the tests sweep by hand
    )
    scheduler.subscribe(env.dispatcher)
    yield Rig(env, clock, rooms, scheduler)
    await scheduler.stop()


async def add_race(env: EngineEnv, starts: datetime, *, name: str = "Async Cup") -> int:
    """A live race of a new async tournament (RacerOne, linked, takes part in the first:
    a racetime account belongs to one user)."""
    async with env.sessionmaker.begin() as session:
        tournament = AsyncTournament(guild_id=1, name=name, racetime_category=CATEGORY)
        session.add(tournament)
        await session.flush()
        assert tournament.id is not None
        await assign_bot(session, CATEGORY, tournament.guild_id)
        user = User(discord_id=900_000_000_000_000_077, racetime_id=env.fake.seed.users["RacerOne"],
                    racetime_name="RacerOne#1234") if name == "Async Cup" else None
        if user is not None:
            session.add(user)
            await session.flush()
            assert user.id is not None
            session.add(AsyncParticipant(tournament_id=tournament.id, user_id=user.id))
        race = AsyncLiveRace(tournament_id=tournament.id, scheduled_at=starts)
        session.add(race)
        await session.flush()
        assert race.id is not None
        return race.id


def rooms_on_fake(env: EngineEnv) -> list[str]:
    return [r.slug for r in env.fake.races.values() if r.category.slug == CATEGORY]


async def row(env: EngineEnv, race_id: int) -> AsyncLiveRace:
    async with env.sessionmaker() as session:
        race = await session.get(AsyncLiveRace, race_id)
        assert race is not None
        return race


async def move_to(clock: ManualClock, moment: datetime) -> None:
    await clock.advance((moment - clock.now()).total_seconds())


async def test_the_room_opens_fifteen_minutes_ahead_and_invites_the_eligible(rig: Rig) -> None:
    env, clock, scheduler = rig.env, rig.clock, rig.scheduler
    starts = NOW + timedelta(hours=1)
    race_id = await add_race(env, starts)
    await scheduler.start()
    assert scheduler.planned_at(race_id) == starts - timedelta(minutes=15)

    await move_to(clock, starts - timedelta(minutes=16))
    assert await scheduler.open_room(race_id) is False
    assert rooms_on_fake(env) == []

    await move_to(clock, starts - timedelta(minutes=15))
    assert await scheduler.open_room(race_id) is True
    [slug] = rooms_on_fake(env)
    race = await row(env, race_id)
    assert (race.status, race.room_state, race.racetime_slug) == ("room_open", "opened", slug)
    entrants = env.fake.race_data(slug)["entrants"]
    assert [(e["user"]["id"], e["status"]["value"]) for e in entrants] == [
        (env.fake.seed.users["RacerOne"], "invited")
    ]
    await env.dispatcher.drain()
    [opened] = env.of(AsyncLiveRaceRoomOpenedEvent)
    assert (opened.live_race_id, opened.user_id, opened.participant_count) == (
        race_id, SYSTEM_USER_ID, 1
    )
    assert env.fake.race(slug).info_bot == room_marker(race_id)
    # Once open, nothing is planned and a second run opens nothing.
    assert await scheduler.replan(race_id) is None
    assert await scheduler.open_room(race_id) is False
    assert rooms_on_fake(env) == [slug]


async def test_two_openers_at_once_open_one_room(rig: Rig) -> None:
    env, clock = rig.env, rig.clock
    race_id = await add_race(env, NOW + timedelta(minutes=10))
    other = rooms_service(env, rig.rooms._racetime, clock)  # a second caller, same database
    first, second = await asyncio.gather(
        rig.rooms.open_room(race_id, actor_user_id=SYSTEM_USER_ID, reason="scheduled"),
        other.open_room(race_id, actor_user_id=SYSTEM_USER_ID, reason="scheduled"),
    )
    # One opened it; the other saw the claim taken (still opening, or opened by then).
    winner, loser = (first, second) if first.status == OpeningStatus.OPENED else (second, first)
    assert winner.status == OpeningStatus.OPENED
    assert loser.status in (OpeningStatus.ALREADY_OPENING, OpeningStatus.ALREADY_OPEN)
    assert len(rooms_on_fake(env)) == 1
    again = await other.open_room(race_id, actor_user_id=7, reason="manual")
    assert again.status == OpeningStatus.ALREADY_OPEN and again.slug == rooms_on_fake(env)[0]


async def test_the_sweep_catches_up_after_downtime_and_skips_hopeless_races(rig: Rig) -> None:
    env, scheduler = rig.env, rig.scheduler
    overdue = await add_race(env, NOW + timedelta(minutes=5))
    missed = await add_race(env, NOW - timedelta(hours=1), name="Old Cup")
    later = await add_race(env, NOW + timedelta(days=1), name="Later Cup")

    assert await scheduler.sweep() == 1
    assert len(rooms_on_fake(env)) == 1
    assert (await row(env, overdue)).room_state == "opened"
    hopeless = await row(env, missed)
    assert hopeless.room_state is None and hopeless.room_error is not None
    assert "/liverace open" in hopeless.room_error
    assert (await row(env, later)).room_state is None
    assert await scheduler.sweep() == 0
    assert len(rooms_on_fake(env)) == 1


async def test_an_opening_a_crash_left_behind_is_adopted_not_opened_twice(rig: Rig) -> None:
    env = rig.env
    race_id = await add_race(env, NOW + timedelta(minutes=10))
    # The crashed process had claimed the room and posted startrace; the answer was lost.
    left = env.fake.open_race(CATEGORY, invitational=True, info_bot=room_marker(race_id))
    async with env.sessionmaker.begin() as session:
        race = await session.get(AsyncLiveRace, race_id)
        assert race is not None
        race.room_state = ClaimState.OPENING.value
        race.room_claimed_at = NOW - timedelta(minutes=10)

    [outcome] = await rig.rooms.reconcile_unfinished()
    assert (outcome.status, outcome.slug) == (OpeningStatus.ADOPTED, left.slug)
    assert rooms_on_fake(env) == [left.slug]
    assert (await row(env, race_id)).status == "room_open"


async def test_a_closed_tournament_gets_no_room_even_with_a_job_planned(rig: Rig) -> None:
    env, clock, scheduler = rig.env, rig.clock, rig.scheduler
    starts = NOW + timedelta(minutes=30)
    race_id = await add_race(env, starts)
    await scheduler.start()
    assert scheduler.planned_at(race_id) == starts - timedelta(minutes=15)
    async with env.sessionmaker.begin() as session:
        race = await session.get(AsyncLiveRace, race_id)
        assert race is not None
        tournament = await session.get(AsyncTournament, race.tournament_id)
        assert tournament is not None
        tournament.is_active = False
    await move_to(clock, starts - timedelta(minutes=15))
    decision = await rig.rooms.should_open(race_id)
    assert not decision and decision.reason == "Async Cup is closed."
    assert await scheduler.open_room(race_id) is False
    assert rooms_on_fake(env) == []


async def test_the_scheduler_asks_the_access_policy_as_the_system(rig: Rig) -> None:
    """The same policy the moderators' /liverace open asks: the system actor, the race's
    server, its category (its bot must still serve that server)."""
    env, clock = rig.env, rig.clock
    asked: list[tuple[Actor, int, str]] = []
    policy = rig.rooms._access
    real = policy.require_room_opening

    async def noted(actor: Actor, guild_id: int, category: str, *, change: str) -> None:
        asked.append((actor, guild_id, category))
        await real(actor, guild_id, category, change=change)

    policy.require_room_opening = noted  # type: ignore[method-assign]
    starts = NOW + timedelta(hours=1)
    race_id = await add_race(env, starts)
    await move_to(clock, starts - timedelta(minutes=15))
    assert await rig.scheduler.open_room(race_id) is True
    assert asked == [(Actor.system(), 1, CATEGORY)]
