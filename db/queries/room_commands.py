"""What race-room chat commands read and keep: the room's match or live race, its seed, its
fair-play calls and its breaks. Never commit: the service owns the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import (
    AsyncLiveRace,
    AsyncTournament,
    FpaCall,
    Match,
    RaceRoom,
    RoomBreaks,
    RoomSeed,
    Tournament,
    User,
)
from db.queries._upsert import dialect_insert
from db.types import utcnow


@dataclass(frozen=True, slots=True)
class RoomOwner:
    """The tournament a room belongs to, through its match or its live race."""

    guild_id: int
    tournament_id: int
    tournament: str
    settings: dict[str, Any]
    match_id: int | None = None
    live_race_id: int | None = None


async def room_owner(
    session: AsyncSession, *, match_id: int | None, live_race_id: int | None
) -> RoomOwner | None:
    if match_id is not None:
        found = await session.execute(
            select(Tournament)
            .join(Match, col(Match.tournament_id) == col(Tournament.id))
            .where(Match.id == match_id)
        )
        tournament = found.scalars().first()
        if tournament is None or tournament.id is None:
            return None
        return RoomOwner(
            tournament.guild_id, tournament.id, tournament.name, dict(tournament.settings or {}),
            match_id=match_id,
        )
    if live_race_id is not None:
        rows = await session.execute(
            select(AsyncTournament)
            .join(AsyncLiveRace, col(AsyncLiveRace.tournament_id) == col(AsyncTournament.id))
            .where(AsyncLiveRace.id == live_race_id)
        )
        async_tournament = rows.scalars().first()
        if async_tournament is None or async_tournament.id is None:
            return None
        return RoomOwner(
            async_tournament.guild_id, async_tournament.id, async_tournament.name, {},
            live_race_id=live_race_id,
        )
    return None


async def discord_id_of(session: AsyncSession, user_id: int) -> int | None:
    user = await session.get(User, user_id)
    return user.discord_id if user is not None else None


async def room_seed_row(
    session: AsyncSession, category: str, slug: str, match_id: int | None
) -> RoomSeed:
    """The room's seed row, made if missing (``ON CONFLICT DO NOTHING``: two first rolls at
    once make one row) and locked for the caller's transaction."""
    now = utcnow()
    await session.execute(
        dialect_insert(session, RoomSeed)
        .values(category=category, slug=slug, match_id=match_id, rolls=0, locked=False,
                created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["category", "slug"])
    )
    found = await session.execute(
        select(RoomSeed).where(RoomSeed.category == category, RoomSeed.slug == slug)
        .with_for_update(),
        execution_options={"populate_existing": True},
    )
    return found.scalar_one()


async def room_seed(
    session: AsyncSession, category: str, slug: str, *, for_update: bool = False
) -> RoomSeed | None:
    query = select(RoomSeed).where(RoomSeed.category == category, RoomSeed.slug == slug)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalars().first()


async def seed_of_match(session: AsyncSession, match_id: int) -> RoomSeed | None:
    found = await session.execute(
        select(RoomSeed)
        .where(RoomSeed.match_id == match_id, col(RoomSeed.rolls) > 0)
        .order_by(col(RoomSeed.id).desc())
    )
    return found.scalars().first()


async def fpa_calls_of_match(session: AsyncSession, match_id: int) -> list[FpaCall]:
    found = await session.execute(
        select(FpaCall).where(FpaCall.match_id == match_id).order_by(col(FpaCall.id))
    )
    return list(found.scalars())


async def fpa_call_by_request(session: AsyncSession, request_id: str) -> FpaCall | None:
    found = await session.execute(select(FpaCall).where(FpaCall.request_id == request_id))
    return found.scalars().first()


async def room_breaks(
    session: AsyncSession, category: str, slug: str
) -> RoomBreaks | None:
    found = await session.execute(
        select(RoomBreaks).where(RoomBreaks.category == category, RoomBreaks.slug == slug)
    )
    return found.scalars().first()


async def breaks_of_match(session: AsyncSession, match_id: int) -> RoomBreaks | None:
    """The breaks of the match's room (announced, or done with once the race ended)."""
    found = await session.execute(
        select(RoomBreaks)
        .join(RaceRoom, (col(RaceRoom.category) == col(RoomBreaks.category))
              & (col(RaceRoom.slug) == col(RoomBreaks.slug)))
        .where(RaceRoom.match_id == match_id)
    )
    return found.scalars().first()


async def active_breaks(session: AsyncSession) -> list[RoomBreaks]:
    found = await session.execute(
        select(RoomBreaks).where(col(RoomBreaks.active).is_(True)).order_by(col(RoomBreaks.id))
    )
    return list(found.scalars())
