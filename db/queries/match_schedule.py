"""The match room scheduler's questions: which matches wait for a room RaceDesk opens, and
recording a room it missed. Never commit: the service owns the transaction."""

from __future__ import annotations

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from db.models import Match, MatchRoomClaim, RaceRoom, RaceStatus, Tournament


def _waiting_for_a_room():  # type: ignore[no-untyped-def]
    """Scheduled, timed, nothing wrong recorded, and no room nor claim on one."""
    return (
        select(Match, Tournament)
        .join(Tournament, col(Tournament.id) == col(Match.tournament_id))
        .where(
            Match.status == RaceStatus.SCHEDULED.value,
            col(Match.scheduled_at).is_not(None),
            col(Match.room_error).is_(None),
            col(Tournament.is_active).is_(True),
            ~exists().where(col(MatchRoomClaim.match_id) == col(Match.id)),
            ~exists().where(col(RaceRoom.match_id) == col(Match.id)),
        )
    )


async def waiting_for_rooms(
    session: AsyncSession, match_id: int | None = None
) -> list[tuple[Match, Tournament]]:
    """Matches (with their tournament) that have no room yet and may get one."""
    query = _waiting_for_a_room()
    if match_id is not None:
        query = query.where(col(Match.id) == match_id)
    result = await session.execute(query)
    return [(match, tournament) for match, tournament in result.all()]
async def tournament_match_ids(session: AsyncSession, tournament_id: int) -> list[int]:
    result = await session.execute(
        select(Match.id).where(
            Match.tournament_id == tournament_id,
            Match.status == RaceStatus.SCHEDULED.value,
        )
    )
    return [int(match_id) for match_id in result.scalars()]


async def record_room_missed(session: AsyncSession, match_id: int, reason: str) -> int | None:
    """Say on the match why its room was not opened, once; its tournament's id if this call
    said it, else ``None``."""
    result = await session.execute(
        update(Match)
        .where(col(Match.id) == match_id, col(Match.room_error).is_(None))
        .values(room_error=reason)
        .returning(col(Match.tournament_id))
    )
    return result.scalar_one_or_none()


__all__ = ["record_room_missed", "tournament_match_ids", "waiting_for_rooms"]
