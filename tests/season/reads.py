"""What the season's database and racetime say, read directly (never through RaceDesk's
services), and waiting until RaceDesk has caught up with what happened."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import col

from core.events import MatchResultEvent, decode_event
from core.rooms.rules import room_opens_at
from db.models import (
    EventLogEntry,
    Match,
    MatchRoomClaim,
    NotificationLog,
    NotificationStatus,
    RaceRoom,
    RacetimeBot,
    RacetimeBotGuild,
    Tournament,
)
from tests.season.world import SeasonWorld

SETTLE_SECONDS = 10.0
MARKER = "RaceDesk match #"


async def poll(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Until ``condition()`` (state other tasks change) holds; fails after SETTLE_SECONDS."""
    try:
        async with asyncio.timeout(SETTLE_SECONDS):
            while not await condition():  # noqa: ASYNC110 - state other tasks change
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not settled within {SETTLE_SECONDS} s: {what}") from None


@dataclass(frozen=True)
class FakeRoom:
    slug: str
    category: str
    match_id: int
    status: str
    bot: str | None


def rooms_on_racetime(world: SeasonWorld) -> list[FakeRoom]:
    """Every room a RaceDesk match has on racetime (its bot info names the match)."""
    rooms = []
    for race in world.fake.races.values():
        for line in (race.info_bot or "").splitlines():
            if line.strip().startswith(MARKER):
                match_id = int(line.strip().removeprefix(MARKER))
                rooms.append(FakeRoom(race.slug, race.category.slug, match_id, race.status,
                                      race.opened_by_bot))
    return rooms


async def tournament_id(world: SeasonWorld, guild_id: int, name: str) -> tuple[int, bool] | None:
    async with world.services.sessionmaker() as session:
        found = (await session.execute(
            select(Tournament).where(Tournament.guild_id == guild_id, Tournament.name == name)
        )).scalars().first()
    return (found.id, found.is_active) if found is not None and found.id else None


async def match_titled(world: SeasonWorld, title: str) -> Match | None:
    async with world.services.sessionmaker() as session:
        return (await session.execute(select(Match).where(Match.title == title))).scalars().first()


async def match_row(world: SeasonWorld, match_id: int) -> Match:
    async with world.services.sessionmaker() as session:
        match = await session.get(Match, match_id)
    assert match is not None, f"match {match_id} is gone"
    return match


async def matches(world: SeasonWorld) -> dict[int, Match]:
    async with world.services.sessionmaker() as session:
        return {m.id: m for m in (await session.execute(select(Match))).scalars() if m.id}


async def claims(world: SeasonWorld) -> dict[int, MatchRoomClaim]:
    async with world.services.sessionmaker() as session:
        rows = (await session.execute(select(MatchRoomClaim))).scalars().all()
    return {claim.match_id: claim for claim in rows}


async def assigned(world: SeasonWorld) -> set[tuple[str, int]]:
    async with world.services.sessionmaker() as session:
        rows = await session.execute(
            select(RacetimeBot.category, RacetimeBotGuild.guild_id)
            .join(RacetimeBotGuild, col(RacetimeBotGuild.bot_id) == col(RacetimeBot.id))
        )
        return {(str(category), int(guild)) for category, guild in rows.all()}


async def results_recorded(world: SeasonWorld) -> Counter[int]:
    """How many MatchResultEvents each match has in the event log."""
    async with world.services.sessionmaker() as session:
        rows = await session.execute(
            select(EventLogEntry.kind, EventLogEntry.payload)
            .where(EventLogEntry.kind == MatchResultEvent.__name__)
        )
        events = [decode_event(kind, payload) for kind, payload in rows.all()]
    return Counter(e.match_id for e in events if isinstance(e, MatchResultEvent))


async def opens_at(world: SeasonWorld, match: Match) -> datetime | None:
    """When the match's room is due: its time less its tournament's "room open minutes
    before" as the tournament says now (the scheduler re-plans when that changes)."""
    async with world.services.sessionmaker() as session:
        tournament = await session.get(Tournament, match.tournament_id)
    assert tournament is not None
    return room_opens_at(match, tournament)


async def room_times(world: SeasonWorld, tournament_id: int) -> dict[int, datetime | None]:
    """When each match of the tournament has its room due, as its settings say now."""
    async with world.services.sessionmaker() as session:
        tournament = await session.get(Tournament, tournament_id)
        found = await session.execute(select(Match).where(Match.tournament_id == tournament_id))
        matches = list(found.scalars())
    assert tournament is not None
    return {match.id: room_opens_at(match, tournament) for match in matches if match.id}


async def settled(world: SeasonWorld) -> None:
    """RaceDesk has caught up: every event delivered, no room half opened, every room it
    watches at racetime's status, every notification that is due tried once."""
    services = world.services
    await services.dispatcher.drain()

    async def no_opening() -> bool:
        return all(c.state != "opening" for c in (await claims(world)).values())

    await poll(no_opening, "a room is still being opened")

    async def rooms_caught_up() -> bool:
        async with services.sessionmaker() as session:
            rows = (await session.execute(
                select(RaceRoom).where(col(RaceRoom.is_active))
            )).scalars().all()
        return all(
            row.slug not in world.fake.races
            or row.last_status == world.fake.races[row.slug].status
            for row in rows
        )

    await poll(rooms_caught_up, "RaceDesk has not seen each room's latest status")
    await services.dispatcher.drain()

    async def notifications_tried() -> bool:
        async with services.sessionmaker() as session:
            count = await session.scalar(
                select(func.count()).select_from(NotificationLog).where(
                    col(NotificationLog.status).in_(NotificationStatus.open()),
                    NotificationLog.last_error.is_(None),  # type: ignore[union-attr]
                    # reminders wait for their time on the season's clock
                    col(NotificationLog.next_attempt_at).is_(None)
                    | (col(NotificationLog.next_attempt_at) <= world.clock.now()),
                )
            )
        return not count

    await poll(notifications_tried, "notifications waiting for their first attempt")
