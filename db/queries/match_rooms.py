"""Match room claims and what opening a match's room needs. Never commit: the service owns
the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import ClaimState, Match, MatchPlayer, MatchRoomClaim, RaceRoom, Tournament, User
from db.models.base import RaceStatus
from db.queries._tables import affected_rows
from db.queries._upsert import dialect_insert


async def get_match(session: AsyncSession, match_id: int) -> tuple[Match, Tournament] | None:
    """The match and its tournament."""
    result = await session.execute(
        select(Match, Tournament)
        .join(Tournament, col(Tournament.id) == col(Match.tournament_id))
        .where(Match.id == match_id)
    )
    row = result.first()
    return (row[0], row[1]) if row is not None else None


async def match_players(session: AsyncSession, match_id: int) -> list[User]:
    """The match's players, in the order they were added."""
    result = await session.execute(
        select(User)
        .join(MatchPlayer, col(MatchPlayer.user_id) == col(User.id))
        .where(MatchPlayer.match_id == match_id)
        .order_by(col(MatchPlayer.id))
    )
    return list(result.scalars())


async def match_player_rows(session: AsyncSession, match_id: int) -> list[MatchPlayer]:
    """The match's player rows (results, invite problems), in the order they were added."""
    result = await session.execute(
        select(MatchPlayer).where(MatchPlayer.match_id == match_id).order_by(col(MatchPlayer.id))
    )
    return list(result.scalars())


async def matches_with_rooms_waiting(session: AsyncSession, user_id: int) -> list[int]:
    """The user's matches whose room is open and waiting for the race (not started)."""
    result = await session.execute(
        select(Match.id)
        .join(MatchPlayer, col(MatchPlayer.match_id) == col(Match.id))
        .join(RaceRoom, col(RaceRoom.match_id) == col(Match.id))
        .where(
            MatchPlayer.user_id == user_id,
            Match.status == RaceStatus.ROOM_OPEN.value,
            col(RaceRoom.is_active).is_(True),
        )
        .order_by(col(Match.id))
    )
    return [match_id for match_id in result.scalars() if match_id is not None]


async def get_claim(session: AsyncSession, match_id: int) -> MatchRoomClaim | None:
    result = await session.execute(
        select(MatchRoomClaim).where(MatchRoomClaim.match_id == match_id)
    )
    return result.scalar_one_or_none()


async def insert_claim(
    session: AsyncSession, *, now: datetime, **fields: Any
) -> MatchRoomClaim | None:
    """Claim a match's room: the new row, or None when the match is already claimed.

    ``INSERT ... ON CONFLICT (match_id) DO NOTHING``: of two claimers (two tasks or two
    processes) exactly one gets the row; the other waits for its commit and gets None.
    """
    statement = (
        dialect_insert(session, MatchRoomClaim)
        .values(state=ClaimState.OPENING.value, created_at=now, updated_at=now, **fields)
        .on_conflict_do_nothing(index_elements=["match_id"])
        .returning(MatchRoomClaim)
    )
    result = await session.execute(statement, execution_options={"populate_existing": True})
    return result.scalar_one_or_none()


async def reclaim_failed(
    session: AsyncSession, match_id: int, *, now: datetime, **fields: Any
) -> bool:
    """Turn a ``failed`` claim back into ``opening``; False when it is not (or no longer)
    failed: a conditional update, so of two callers only one succeeds."""
    result = await session.execute(
        update(MatchRoomClaim)
        .where(
            col(MatchRoomClaim.match_id) == match_id,
            col(MatchRoomClaim.state) == ClaimState.FAILED.value,
        )
        .values(state=ClaimState.OPENING.value, updated_at=now, **fields)
    )
    return bool(affected_rows(result))


async def touch_claim(
    session: AsyncSession, match_id: int, now: datetime, *, epoch: int | None = None
) -> None:
    """Renew the lease of an ``opening`` claim: its holder is still at work (under the
    leader lease's ``epoch``, with high availability)."""
    await session.execute(
        update(MatchRoomClaim)
        .where(col(MatchRoomClaim.match_id) == match_id)
        .values(updated_at=now, leader_epoch=epoch)
    )


async def take_over(
    session: AsyncSession, claim: MatchRoomClaim, now: datetime, *, epoch: int | None = None
) -> bool:
    """Take an ``opening`` claim whose holder stopped renewing it (or no longer leads);
    False when another process renewed or took it first (a conditional update: one
    winner)."""
    result = await session.execute(
        update(MatchRoomClaim)
        .where(
            col(MatchRoomClaim.id) == claim.id,
            col(MatchRoomClaim.state) == ClaimState.OPENING.value,
            col(MatchRoomClaim.updated_at) == claim.updated_at,
        )
        .values(updated_at=now, leader_epoch=epoch)
    )
    return bool(affected_rows(result))


async def claims_in_state(session: AsyncSession, state: ClaimState) -> list[MatchRoomClaim]:
    result = await session.execute(
        select(MatchRoomClaim)
        .where(MatchRoomClaim.state == state.value)
        .order_by(col(MatchRoomClaim.id))
    )
    return list(result.scalars())


async def delete_claim(session: AsyncSession, match_id: int) -> None:
    """Forget the match's claim (its room was cancelled): the next opening claims afresh."""
    await session.execute(delete(MatchRoomClaim).where(col(MatchRoomClaim.match_id) == match_id))


async def delete_failed_claim(session: AsyncSession, match_id: int) -> None:
    """Forget a claim whose opening failed (the match moved): the next opening claims afresh."""
    await session.execute(
        delete(MatchRoomClaim).where(
            col(MatchRoomClaim.match_id) == match_id,
            col(MatchRoomClaim.state) == ClaimState.FAILED.value,
        )
    )

