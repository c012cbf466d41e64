"""The match room scheduler's questions: which matches wait for a room RaceDesk opens, and
recording a room it missed. Never commit: the service owns the transaction."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from db.models import Match, MatchRoomClaim, RaceRoom, RaceStatus, Tournament


def _error_allows_retry(retrying: str | None) -> ColumnElement[bool]:
    """No room error recorded, or one the scheduler asks about again (``retrying``: a LIKE
    pattern, e.g. a bot no longer assigned, which its owner may assign again)."""
    if retrying is None:
        return col(Match.room_error).is_(None)
    return or_(col(Match.room_error).is_(None), col(Match.room_error).like(retrying))


def _waiting_for_a_room(retrying: str | None) -> Select[Match, Tournament]:
    """Scheduled, timed, nothing wrong recorded (but ``retrying``), and no room nor claim."""
    return (
        select(Match, Tournament)
        .join(Tournament, col(Tournament.id) == col(Match.tournament_id))
        .where(
            col(Match.status) == RaceStatus.SCHEDULED.value,
            col(Match.scheduled_at).is_not(None),
            _error_allows_retry(retrying),
            col(Tournament.is_active).is_(True),
            ~exists().where(col(MatchRoomClaim.match_id) == col(Match.id)),
            ~exists().where(col(RaceRoom.match_id) == col(Match.id)),
        )
    )


async def waiting_for_rooms(
    session: AsyncSession, match_id: int | None = None, *, retrying: str | None = None
) -> list[tuple[Match, Tournament]]:
    """Matches (with their tournament) that have no room yet and may get one."""
    query = _waiting_for_a_room(retrying)
    if match_id is not None:
        query = query.where(col(Match.id) == match_id)
    result = await session.execute(query)
    return [(match, tournament) for match, tournament in result.all()]
async def tournament_match_ids(session: AsyncSession, tournament_id: int) -> list[int]:
    result = await session.execute(
        select(col(Match.id)).where(
            col(Match.tournament_id) == tournament_id,
            col(Match.status) == RaceStatus.SCHEDULED.value,
        )
    )
    return [match_id for match_id in result.scalars() if match_id is not None]


async def record_room_missed(
    session: AsyncSession, match_id: int, reason: str, *, retrying: str | None = None
) -> int | None:
    """Say on the match why its room was not opened, once (over an error the scheduler kept
    asking about, ``retrying``); its tournament's id if this call said it, else ``None``."""
    result = await session.execute(
        update(Match)
        .where(col(Match.id) == match_id, _error_allows_retry(retrying))
        .values(room_error=reason)
        .returning(col(Match.tournament_id))
    )
    return result.scalar_one_or_none()


__all__ = ["record_room_missed", "tournament_match_ids", "waiting_for_rooms"]
