"""The match room scheduler: a job per match at its opening minute, re-planned as matches
and tournaments change, a sweep that catches up after downtime, and late matches reported.

The real scheduler (APScheduler), the real room service, the engine and the fake racetime
server over real sockets, on the real database. Time is a ManualClock: the decisions read it,
so the tests move it instead of sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from core.access import AccessPolicy, Actor
from core.clock import ManualClock
from core.events import MatchCancelledEvent, MatchRescheduledEvent, MatchRoomProblemEvent
from core.identity import SYSTEM_USER_ID
from core.rooms.match_scheduler import MatchScheduler, SchedulerTimings
from db.models import Match, MatchRoomClaim, Tournament
from db.queries.bot_guilds import assign_bot_to_guild, unassign_bot_from_guild
from db.queries.bots import get_bot_by_category
from tests.core.match_room_helpers import add_match, room_service
from tests.plugins.racetime_engine import EngineEnv, eventually
from tests.racetime.engine_helpers import CATEGORY, add_alttpr_bot, started

# The scheduler's jobs run on real time, the decisions on the ManualClock: both start at now.
NOW = datetime.now(UTC).replace(microsecond=0)
PATIENCE_SECONDS = 10.0  # a hang guard, not a timing


@pytest.fixture(autouse=True)
def now_when_the_test_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """APScheduler runs jobs by the wall clock, so the tests' NOW is when each test starts, not
    when the module was imported: in a long suite that is minutes earlier, and a job planned
    "15 minutes from NOW" would already be due (it ran at once, found by a full run)."""
    now = datetime.now(UTC).replace(microsecond=0)
    monkeypatch.setattr(f"{__name__}.NOW", now)


async def move_to(clock: ManualClock, moment: datetime) -> None:
    await clock.advance((moment - clock.now()).total_seconds())


def invited(env: EngineEnv, slug: str) -> list[str]:
    return sorted(
        e["user"]["id"] for e in env.fake.race_data(slug)["entrants"]
        if e["status"]["value"] == "invited"
    )


def rooms_on_fake(env: EngineEnv) -> list[str]:
    return [r.slug for r in env.fake.races.values() if r.category.slug == CATEGORY]


async def claim(env: EngineEnv, match_id: int) -> MatchRoomClaim | None:
    async with env.sessionmaker() as session:
        result = await session.execute(
            select(MatchRoomClaim).where(MatchRoomClaim.match_id == match_id)
        )
        return result.scalar_one_or_none()


async def match_row(env: EngineEnv, match_id: int) -> Match:
    async with env.sessionmaker() as session:
        match = await session.get(Match, match_id)
        assert match is not None
        return match


@dataclass
class Rig:
    env: EngineEnv
    clock: ManualClock
    scheduler: MatchScheduler


@pytest.fixture
async def rig(engine_env: EngineEnv) -> AsyncIterator[Rig]:
    """A running alttpr bot, the room service and a scheduler on a ManualClock at NOW."""
    env = engine_env
    clock = ManualClock(NOW)
    await add_alttpr_bot(env)
    service = room_service(env, await started(env), clock)
    scheduler = MatchScheduler(
        env.sessionmaker, env.event_log, service, system_user_id=SYSTEM_USER_ID, clock=clock,
        timings=SchedulerTimings(sweep_seconds=3600.0),  # the tests sweep by hand
    )
    scheduler.subscribe(env.dispatcher)
    yield Rig(env, clock, scheduler)
    await scheduler.stop()


async def test_each_match_is_planned_at_its_minute_and_opened_there(rig: Rig) -> None:
    env, clock, scheduler = rig.env, rig.clock, rig.scheduler
    starts = NOW + timedelta(hours=2)
    setup = await add_match(env, scheduled_at=starts,
                            settings={"auto_create_rooms": True, "room_open_minutes_before": 45})
    await scheduler.start()

    assert scheduler.planned_at(setup.match_id) == starts - timedelta(minutes=45)
    # A minute early, the room service says no and nothing is opened.
    await move_to(clock, starts - timedelta(minutes=46))
    assert await scheduler.open_room(setup.match_id) is False
    assert rooms_on_fake(env) == []

    await move_to(clock, starts - timedelta(minutes=45))
    assert await scheduler.open_room(setup.match_id) is True
    [slug] = rooms_on_fake(env)
    found = await claim(env, setup.match_id)
    assert found is not None and (found.slug, found.reason) == (slug, "scheduled")
    assert invited(env, slug) == sorted(setup.linked)
    # Once open, the job is not planned again, and another run opens nothing.
    assert await scheduler.replan(setup.match_id) is None
    assert await scheduler.open_room(setup.match_id) is False
    assert rooms_on_fake(env) == [slug]


async def test_a_job_whose_time_has_come_runs_and_opens_the_room(rig: Rig) -> None:
    env, scheduler = rig.env, rig.scheduler
    await scheduler.start()
    # Scheduled while running, its window already open (since NOW - 30 min): APScheduler
    # runs the job at once, no sweep needed.
    setup = await add_match(env, scheduled_at=NOW + timedelta(minutes=30))
    assert await scheduler.replan(setup.match_id) == NOW - timedelta(minutes=30)

    await eventually(lambda: len(rooms_on_fake(env)) == 1)
    await eventually(lambda: scheduler.planned_at(setup.match_id) is None)


async def test_reschedule_and_cancel_replan_the_job(rig: Rig) -> None:
    env, scheduler = rig.env, rig.scheduler
    starts = NOW + timedelta(hours=3)
    setup = await add_match(env, scheduled_at=starts)
    await scheduler.start()
    assert scheduler.planned_at(setup.match_id) == starts - timedelta(minutes=60)

    later = starts + timedelta(hours=1)
    async with env.sessionmaker.begin() as session:
        match = await session.get(Match, setup.match_id)
        assert match is not None
        match.scheduled_at = later
    await env.dispatcher.emit(MatchRescheduledEvent(
        match_id=setup.match_id, tournament_id=setup.tournament_id,
        old_scheduled_at=starts, scheduled_at=later,
    ))
    await env.dispatcher.drain()
    assert scheduler.planned_at(setup.match_id) == later - timedelta(minutes=60)

    async with env.sessionmaker.begin() as session:
        match = await session.get(Match, setup.match_id)
        assert match is not None
        match.status = "cancelled"
    await env.dispatcher.emit(MatchCancelledEvent(
        match_id=setup.match_id, tournament_id=setup.tournament_id, reason="no-show",
    ))
    await env.dispatcher.drain()
    assert scheduler.planned_at(setup.match_id) is None


async def test_a_tournament_settings_change_replans_its_matches(rig: Rig) -> None:
    env, scheduler = rig.env, rig.scheduler
    starts = NOW + timedelta(hours=3)
    setup = await add_match(env, scheduled_at=starts)
    await scheduler.start()

    async with env.sessionmaker.begin() as session:
        tournament = await session.get(Tournament, setup.tournament_id)
        assert tournament is not None
        tournament.settings = {"auto_create_rooms": True, "room_open_minutes_before": 120}
    assert await scheduler.replan_tournament(setup.tournament_id) == 1
    assert scheduler.planned_at(setup.match_id) == starts - timedelta(minutes=120)

    async with env.sessionmaker.begin() as session:
        tournament = await session.get(Tournament, setup.tournament_id)
        assert tournament is not None
        tournament.settings = {"auto_create_rooms": False}
    assert await scheduler.replan_tournament(setup.tournament_id) == 0
    assert scheduler.planned_at(setup.match_id) is None


async def test_start_returns_at_once_and_opens_what_fell_due_meanwhile_right_after(
    rig: Rig,
) -> None:
    """The parts a new leader starts after this one (its Discord connection and DMs, its
    readiness) do not wait for the rooms that fell due while no process ran them: those open
    right after, in the background, and a stop waits for them."""
    env, scheduler = rig.env, rig.scheduler
    overdue = await add_match(env, scheduled_at=NOW + timedelta(minutes=10))
    await scheduler.start()
    assert rooms_on_fake(env) == []  # start() did not wait for the opening

    await eventually(lambda: len(rooms_on_fake(env)) == 1)
    [slug] = rooms_on_fake(env)
    async with asyncio.timeout(PATIENCE_SECONDS):
        while True:  # recorded once racetime has answered and the room is joined
            found = await claim(env, overdue.match_id)
            if found is not None and found.state == "opened":
                break
            await asyncio.sleep(0.01)
    assert found.slug == slug


async def test_the_sweep_catches_up_after_downtime_and_reports_hopeless_matches(rig: Rig) -> None:
    env, scheduler = rig.env, rig.scheduler
    # While RaceDesk was down: one match's window opened, another's start passed long ago.
    overdue = await add_match(env, scheduled_at=NOW + timedelta(minutes=10),
                              tournament_name="Cup A")
    # (Each racetime account is one user: the other matches' players are not linked.)
    missed = await add_match(env, scheduled_at=NOW - timedelta(hours=1),
                             tournament_name="Cup B", linked=(), unlinked=2)
    future = await add_match(env, scheduled_at=NOW + timedelta(days=1), tournament_name="Cup C",
                             linked=(), unlinked=2)
    manual = await add_match(env, scheduled_at=NOW + timedelta(minutes=10),
                             settings={"auto_create_rooms": False}, tournament_name="Cup D",
                             linked=(), unlinked=2)

    assert await scheduler.sweep() == 1

    assert len(rooms_on_fake(env)) == 1
    assert await claim(env, overdue.match_id) is not None
    assert await claim(env, missed.match_id) is None
    reported = (await match_row(env, missed.match_id)).room_error
    assert reported is not None and "could not open it in time" in reported
    assert "/open-room" in reported
    assert await claim(env, future.match_id) is None
    assert await claim(env, manual.match_id) is None
    await env.dispatcher.drain()
    [problem] = env.of(MatchRoomProblemEvent)
    assert (problem.match_id, problem.problem) == (missed.match_id, reported)
    # A second sweep neither opens again nor reports again.
    assert await scheduler.sweep() == 0
    assert len(rooms_on_fake(env)) == 1
    assert (await match_row(env, missed.match_id)).room_error == reported
    await env.dispatcher.drain()
    assert len(env.of(MatchRoomProblemEvent)) == 1


async def test_a_bot_unassigned_from_the_server_opens_nothing_and_is_reported_once(
    rig: Rig,
) -> None:
    """The scheduler asks the access policy (as the system actor) each time: the match gets
    a room problem (``/match info``, the staff channel) instead of a room or a crash, and
    opens once the bot is assigned again."""
    env, scheduler = rig.env, rig.scheduler
    setup = await add_match(env, scheduled_at=NOW + timedelta(minutes=10))
    async with env.sessionmaker.begin() as session:
        tournament = await session.get(Tournament, setup.tournament_id)
        assert tournament is not None
        bot = await get_bot_by_category(session, CATEGORY)
        assert bot is not None and bot.id is not None
        assert await unassign_bot_from_guild(session, bot.id, tournament.guild_id)

    assert await scheduler.sweep() == 0
    assert await scheduler.sweep() == 0
    assert rooms_on_fake(env) == []
    assert await claim(env, setup.match_id) is None
    problem = (await match_row(env, setup.match_id)).room_error
    assert problem is not None and "no longer assigned to this server" in problem
    await env.dispatcher.drain()
    assert [e.problem for e in env.of(MatchRoomProblemEvent)] == [problem]

    async with env.sessionmaker.begin() as session:
        await assign_bot_to_guild(session, bot.id, tournament.guild_id)
    assert await scheduler.sweep() == 1
    assert len(rooms_on_fake(env)) == 1
    assert (await match_row(env, setup.match_id)).room_error is None


class _FailsFor:
    """The room service, except that asking about one match raises (a bug, a lost database
    connection): what the sweep must survive."""

    def __init__(self, service: object, match_id: int) -> None:
        self._service = service
        self._match_id = match_id

    def __getattr__(self, name: str) -> object:
        return getattr(self._service, name)

    async def should_create_room_for_match(self, match_id: int, now: datetime | None = None):  # type: ignore[no-untyped-def]
        if match_id == self._match_id:
            raise RuntimeError("boom")
        return await self._service.should_create_room_for_match(match_id, now)  # type: ignore[attr-defined]


async def test_one_failing_match_does_not_hold_up_the_rest_of_the_sweep(rig: Rig) -> None:
    env = rig.env
    failing = await add_match(env, scheduled_at=NOW + timedelta(minutes=5), linked=(),
                              unlinked=2, tournament_name="Cup A")
    later = await add_match(env, scheduled_at=NOW + timedelta(minutes=10),
                            tournament_name="Cup B")
    service = rig.scheduler._opener  # type: ignore[attr-defined]
    scheduler = MatchScheduler(
        env.sessionmaker, env.event_log, _FailsFor(service, failing.match_id),  # type: ignore[arg-type]
        system_user_id=SYSTEM_USER_ID, clock=rig.clock,
        timings=SchedulerTimings(sweep_seconds=3600.0),
    )
    try:
        assert await scheduler.sweep() == 1
    finally:
        await scheduler.stop()
    assert len(rooms_on_fake(env)) == 1
    assert await claim(env, later.match_id) is not None
    problem = (await match_row(env, failing.match_id)).room_error
    assert problem is not None and "RuntimeError" in problem and "/open-room" in problem
    await env.dispatcher.drain()
    assert [e.match_id for e in env.of(MatchRoomProblemEvent)] == [failing.match_id]


class _AskedPolicy(AccessPolicy):
    """The real access policy, noting who asked it about each opening."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.asked: list[tuple[Actor, int, str]] = []

    async def require_room_opening(
        self, actor: Actor, guild_id: int, category: str, *, change: str
    ) -> None:
        self.asked.append((actor, guild_id, category))
        await super().require_room_opening(actor, guild_id, category, change=change)


async def test_the_scheduler_asks_the_access_policy_as_the_system(engine_env: EngineEnv) -> None:
    env = engine_env
    clock = ManualClock(NOW)
    await add_alttpr_bot(env)
    policy = _AskedPolicy(env.sessionmaker)
    service = room_service(env, await started(env), clock, access=policy)
    scheduler = MatchScheduler(
        env.sessionmaker, env.event_log, service, system_user_id=SYSTEM_USER_ID, clock=clock,
        timings=SchedulerTimings(sweep_seconds=3600.0),
    )
    setup = await add_match(env, scheduled_at=NOW + timedelta(minutes=10))
    try:
        assert await scheduler.sweep() == 1
    finally:
        await scheduler.stop()
    [(actor, guild_id, category)] = policy.asked
    assert actor.is_system and actor == Actor.system()
    assert (guild_id, category) == (111111111111111111, CATEGORY)
    assert await claim(env, setup.match_id) is not None
