"""Async tournaments beside the match tournaments of tests/pages/scene.py, on the same
database: a public one with two pools, approved runs, live races upcoming, live, finished and
cancelled, and players linked and not; a private one; another server's.

Winter Async's players joined in this order: Ada (linked, ``Ada#0001``), Cy (not linked:
"Player 2"), Bob (linked, his name has markup), Dee (not linked: "Player 4"). Its boards:

- Pool A (seed par 1:30:00): Bob's approved 1:20:00 scores 105; Cy's and Dee's 1:40:00 score
  88.89 each (a shared rank); Ada's live race finish in 1:30:00 against the pool's par (its
  seeds' mean, 1:30:00) scores 100.
- Pool B (seed par 1:00:00): Ada's approved 1:00:00 scores 100.
- Overall: Ada 200 (2 runs), Bob 105, Cy and Dee 88.89 (both third).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import select

from core.access import AccessPolicy
from core.audit import AuditService
from core.live_races.async_tournaments import AsyncTournamentService
from db.models import (
    AsyncLiveRace,
    AsyncPool,
    AsyncPoolRun,
    AsyncPoolSeed,
    AsyncRun,
    AsyncRunStatus,
    RaceStatus,
    User,
)
from db.queries.users import get_or_create_user_by_discord_id
from tests.pages.scene import ADA, BOB, BY_BOSS, BY_BOSS_THERE, CY, GUILD, NOW, OTHER_GUILD

ASYNC = "Winter Async"
DEE = 900_000_000_000_000_014
LIVE_SLUG, DONE_SLUG = "lazy-mario-4242", "odd-zelda-0007"


@dataclass
class AsyncScene:
    asyncs: AsyncTournamentService
    winter_id: int  # "Winter Async", public
    private_id: int  # "Secret Async"
    theirs_id: int  # "Their Async", OTHER_GUILD's, public
    upcoming_id: int
    live_id: int
    finished_id: int
    cancelled_id: int


async def build_async_scene(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncScene:
    """Needs tests/pages/scene.py's scene built first (its users and racetime bot)."""
    audit = AuditService(sessionmaker)
    asyncs = AsyncTournamentService(sessionmaker, audit, access=AccessPolicy(sessionmaker, audit))
    winter = await asyncs.create(GUILD, ASYNC, category="alttpr", actor=BY_BOSS)
    await asyncs.add_pool(GUILD, ASYNC, "Pool A", description="Open mode seeds",
                          actor=BY_BOSS)
    await asyncs.add_pool(GUILD, ASYNC, "Pool B", actor=BY_BOSS)
    for player in (ADA, CY, BOB, DEE):
        await asyncs.join(GUILD, ASYNC, player, actor=BY_BOSS)
    assert (await asyncs.set_public(GUILD, ASYNC, True, actor=BY_BOSS)).changed
    secret = await asyncs.create(GUILD, "Secret Async", category="alttpr", actor=BY_BOSS)
    await asyncs.add_pool(GUILD, "Secret Async", "Hidden pool", actor=BY_BOSS)
    theirs = await asyncs.create(OTHER_GUILD, "Their Async", category="alttpr",
                                 actor=BY_BOSS_THERE)
    await asyncs.set_public(OTHER_GUILD, "Their Async", True, actor=BY_BOSS_THERE)

    async with sessionmaker.begin() as session:
        pools = {pool.name: pool for pool in (await session.execute(select(AsyncPool))).scalars()}
        pool_a, pool_b = pools["Pool A"].id, pools["Pool B"].id
        users: dict[int, User] = {
            player: await get_or_create_user_by_discord_id(session, player)
            for player in (ADA, BOB, CY, DEE)
        }
        seed_a = AsyncPoolSeed(pool_id=pool_a, position=1, seed="https://alttpr.com/h/a",
                               par_time=timedelta(hours=1, minutes=30))
        seed_b = AsyncPoolSeed(pool_id=pool_b, position=1, seed="https://alttpr.com/h/b",
                               par_time=timedelta(hours=1))
        session.add_all([seed_a, seed_b])
        await session.flush()
        approved = [
            (BOB, pool_a, seed_a.id, timedelta(hours=1, minutes=20)),
            (CY, pool_a, seed_a.id, timedelta(hours=1, minutes=40)),
            (DEE, pool_a, seed_a.id, timedelta(hours=1, minutes=40)),
            (ADA, pool_b, seed_b.id, timedelta(hours=1)),
        ]
        for player, pool_id, seed_id, time in approved:
            session.add(AsyncRun(
                tournament_id=winter.id, pool_id=pool_id, seed_id=seed_id,
                user_id=users[player].id, status=AsyncRunStatus.APPROVED.value,
                started_at=NOW - timedelta(days=2), deadline_at=NOW - timedelta(days=1),
                ended_at=NOW - timedelta(days=2) + time, finish_time=time,
            ))
        # A run still waiting for review counts nowhere.
        session.add(AsyncRun(
            tournament_id=winter.id, pool_id=pool_b, seed_id=seed_b.id,
            user_id=users[BOB].id, status=AsyncRunStatus.SUBMITTED.value,
            started_at=NOW - timedelta(hours=3), deadline_at=NOW + timedelta(hours=9),
            finish_time=timedelta(minutes=50),
        ))

        def race(
            hours: float, pool_id: int | None, status: RaceStatus, **more: object
        ) -> AsyncLiveRace:
            found = AsyncLiveRace(
                tournament_id=winter.id, pool_id=pool_id,
                scheduled_at=NOW + timedelta(hours=hours), status=status.value,
                **more,  # type: ignore[arg-type]
            )
            session.add(found)
            return found

        upcoming = race(24, pool_a, RaceStatus.SCHEDULED, goal="Any% NMG")
        live = race(0.25, pool_b, RaceStatus.ROOM_OPEN, racetime_slug=LIVE_SLUG)
        finished = race(-3, pool_a, RaceStatus.FINISHED, racetime_slug=DONE_SLUG)
        cancelled = race(5, pool_b, RaceStatus.CANCELLED, cancelled_reason="no one free")
        session.add(AsyncLiveRace(
            tournament_id=secret.id, scheduled_at=NOW + timedelta(hours=6),
            status=RaceStatus.SCHEDULED.value,
        ))
        await session.flush()
        session.add_all([
            AsyncPoolRun(pool_id=pool_a, user_id=users[BOB].id, live_race_id=finished.id,
                         status="dnf", event_id="race:bob"),
            AsyncPoolRun(pool_id=pool_a, user_id=users[ADA].id, live_race_id=finished.id,
                         status="done", place=1, finish_time=timedelta(hours=1, minutes=30),
                         event_id="race:ada"),
        ])
    ids = [r.id for r in (upcoming, live, finished, cancelled)]
    assert None not in ids
    return AsyncScene(asyncs, winter.id, secret.id, theirs.id, *ids)  # type: ignore[arg-type]
