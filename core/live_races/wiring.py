"""Wiring async tournaments and live races (issue 13) for the composition root (``bot.py``):
their services, built and subscribed in one place so ``bot.py`` only calls this."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy
from core.audit import AuditService
from core.clock import Clock
from core.event_store.event_log import DatabaseEventLog
from core.events import EventDispatcher
from core.leadership import NO_FENCE, Fence
from core.live_races.async_reviews import AsyncReviewService
from core.live_races.async_run_sweeper import AsyncRunSweeper
from core.live_races.async_runs import AsyncRunService
from core.live_races.async_tournaments import AsyncTournamentService
from core.live_races.leaderboard import AsyncLeaderboards
from core.live_races.live_races import LiveRaceService
from core.live_races.results import LiveRaceResults
from core.live_races.rooms import LiveRaceRooms, LiveRaceScheduler
from core.metrics import NO_METRICS, Metrics
from core.outage import DatabaseWatch
from core.racetime_bots.room_store import DatabaseRoomStore
from racetime.client import RacetimeClient
from racetime.manager import RacetimeManager


@dataclass(frozen=True, slots=True)
class LiveRaceServices:
    """What :func:`build_live_races` makes: the services ``Services`` holds."""

    async_tournaments: AsyncTournamentService
    live_races: LiveRaceService
    rooms: LiveRaceRooms
    scheduler: LiveRaceScheduler
    async_runs: AsyncRunService
    async_run_sweeper: AsyncRunSweeper
    async_reviews: AsyncReviewService
    async_leaderboards: AsyncLeaderboards


def build_live_races(
    sessionmaker: async_sessionmaker[AsyncSession],
    event_log: DatabaseEventLog,
    dispatcher: EventDispatcher,
    audit: AuditService,
    manager: RacetimeManager,
    client: RacetimeClient,
    room_store: DatabaseRoomStore,
    clock: Clock,
    *,
    access: AccessPolicy,
    racetime_url: str,
    metrics: Metrics = NO_METRICS,
    fence: Fence = NO_FENCE,
    outage: DatabaseWatch | None = None,
) -> LiveRaceServices:
    """The services of async tournaments and live races, subscribed; ``fence`` guards the
    rooms' claims and the runs recorded (``core.leadership``); the room scheduler waits out
    the database's outages with ``outage`` (``core.outage``)."""
    async_tournaments = AsyncTournamentService(sessionmaker, audit, access=access)
    rooms = LiveRaceRooms(
        sessionmaker=sessionmaker, event_log=event_log, racetime=manager, client=client,
        store=room_store, clock=clock, metrics=metrics, access=access, fence=fence,
    )
    rooms.subscribe(dispatcher)
    scheduler = LiveRaceScheduler(sessionmaker, event_log, rooms, clock=clock, outage=outage)
    scheduler.subscribe(dispatcher)
    LiveRaceResults(event_log, racetime_url=racetime_url, fence=fence).subscribe(dispatcher)
    async_runs = AsyncRunService(
        sessionmaker, event_log, audit, async_tournaments, clock, access=access
    )
    return LiveRaceServices(
        async_tournaments=async_tournaments,
        live_races=LiveRaceService(
            sessionmaker, event_log, audit, async_tournaments, clock, access=access,
            rooms=rooms, racetime_url=racetime_url,
        ),
        rooms=rooms,
        scheduler=scheduler,
        async_runs=async_runs,
        async_run_sweeper=AsyncRunSweeper(async_runs, clock),
        async_reviews=AsyncReviewService(
            sessionmaker, event_log, audit, async_tournaments, clock, access=access
        ),
        async_leaderboards=AsyncLeaderboards(sessionmaker, async_tournaments, access=access),
    )
