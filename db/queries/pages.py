"""What a tournament's public page reads: its matches and their players' results; for an
async tournament, its live races, their results and the order its players joined. Never
commit: the service owns the transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import (
    AsyncLiveRace,
    AsyncParticipant,
    AsyncPoolRun,
    Match,
    MatchPlayer,
    User,
)


async def matches_of(session: AsyncSession, tournament_id: int) -> list[Match]:
    """Every match of the tournament: dated ones by time, then the undated, by id."""
    result = await session.execute(
        select(Match)
        .where(Match.tournament_id == tournament_id)
        .order_by(col(Match.scheduled_at).is_(None), col(Match.scheduled_at), col(Match.id))
    )
    return list(result.scalars())


async def entrants_of(
    session: AsyncSession, match_ids: Collection[int]
) -> dict[int, list[tuple[MatchPlayer, User]]]:
    """Each match's players with their results, in the order they were entered."""
    found: dict[int, list[tuple[MatchPlayer, User]]] = defaultdict(list)
    if not match_ids:
        return found
    result = await session.execute(
        select(MatchPlayer, User)
        .join(User, col(User.id) == col(MatchPlayer.user_id))
        .where(col(MatchPlayer.match_id).in_(match_ids))
        .order_by(col(MatchPlayer.id))
    )
    for player, user in result.all():
        found[player.match_id].append((player, user))
    return found


async def live_races_of(session: AsyncSession, tournament_id: int) -> list[AsyncLiveRace]:
    """Every live race of the async tournament, by time."""
    result = await session.execute(
        select(AsyncLiveRace)
        .where(col(AsyncLiveRace.tournament_id) == tournament_id)
        .order_by(col(AsyncLiveRace.scheduled_at), col(AsyncLiveRace.id))
    )
    return list(result.scalars())


async def race_results_of(
    session: AsyncSession, tournament_id: int
) -> dict[int, list[tuple[AsyncPoolRun, User]]]:
    """The runs each live race of the async tournament recorded, with their players, by live
    race: by place, those without one after."""
    found: dict[int, list[tuple[AsyncPoolRun, User]]] = defaultdict(list)
    result = await session.execute(
        select(AsyncPoolRun, User)
        .join(User, col(User.id) == col(AsyncPoolRun.user_id))
        .join(AsyncLiveRace, col(AsyncLiveRace.id) == col(AsyncPoolRun.live_race_id))
        .where(col(AsyncLiveRace.tournament_id) == tournament_id)
        .order_by(
            col(AsyncPoolRun.place).is_(None), col(AsyncPoolRun.place), col(AsyncPoolRun.id)
        )
    )
    for run, user in result.all():
        assert run.live_race_id is not None
        found[run.live_race_id].append((run, user))
    return found


async def join_order(session: AsyncSession, tournament_id: int) -> dict[int, int]:
    """Each participant's place in the order they joined the async tournament (1, 2, ...),
    by Discord id; those who left keep theirs."""
    result = await session.execute(
        select(col(User.discord_id))
        .join(AsyncParticipant, col(AsyncParticipant.user_id) == col(User.id))
        .where(col(AsyncParticipant.tournament_id) == tournament_id)
        .order_by(col(AsyncParticipant.id))
    )
    return {discord_id: number for number, discord_id in enumerate(result.scalars(), start=1)}
