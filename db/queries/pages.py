"""What a tournament's public page reads: its matches and their players' results. Never
commit: the service owns the transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import Match, MatchPlayer, User


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
