"""Who a match or a live race concerns, and what to call it (for notifications)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from db.models import (
    AsyncLiveRace,
    AsyncParticipant,
    AsyncPool,
    AsyncTournament,
    Match,
    MatchPlayer,
    Tournament,
)


@dataclass(frozen=True, slots=True)
class Audience:
    """The people concerned, in which server, under which names."""

    guild_id: int
    tournament: str
    subject: str | None
    user_ids: list[int]


async def match_audience(session: AsyncSession, match_id: int) -> Audience | None:
    """The match's players (``None`` when the match is gone).

    One query, not three: a notification listener asks it inside the transaction that holds
    its receipt, and on SQLite every statement there is a trip to the busy event loop with
    the writers' turn held."""
    rows = (await session.execute(
        select(
            col(Tournament.guild_id), col(Tournament.name), col(Match.title),
            col(MatchPlayer.user_id),
        )
        .join(Tournament, col(Tournament.id) == col(Match.tournament_id))
        .outerjoin(MatchPlayer, col(MatchPlayer.match_id) == col(Match.id))
        .where(col(Match.id) == match_id)
        .order_by(col(MatchPlayer.id))
    )).all()
    if not rows:
        return None
    guild_id, tournament, title, _ = rows[0]
    players = [user_id for *_, user_id in rows if user_id is not None]
    return Audience(guild_id, tournament, title, players)


async def live_race_audience(session: AsyncSession, live_race_id: int) -> Audience | None:
    """The async tournament's participants (``None`` when the live race is gone); who of them
    is told is the caller's rule (``core.live_races.rules``)."""
    race = await session.get(AsyncLiveRace, live_race_id)
    if race is None:
        return None
    tournament = await session.get(AsyncTournament, race.tournament_id)
    if tournament is None:
        return None
    pool = await session.get(AsyncPool, race.pool_id) if race.pool_id is not None else None
    participants = await session.execute(
        select(col(AsyncParticipant.user_id)).where(
            col(AsyncParticipant.tournament_id) == tournament.id
        )
    )
    return Audience(
        tournament.guild_id,
        tournament.name,
        pool.name if pool is not None else None,
        list(participants.scalars()),
    )
