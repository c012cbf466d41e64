"""Link states and the link columns of ``users``. Functions take a session, never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import LinkState
from db.queries._tables import affected_rows


async def add_link_state(
    session: AsyncSession, state_hash: str, discord_id: int, expires_at: datetime
) -> None:
    session.add(LinkState(state_hash=state_hash, discord_id=discord_id, expires_at=expires_at))
    await session.flush()


async def use_link_state(
    session: AsyncSession, state_hash: str, now: datetime
) -> tuple[int, datetime] | None:
    """Mark an unused state used; ``(discord_id, expires_at)``, or None if unknown or used.

    One UPDATE ... RETURNING: of two callbacks racing with the same state, exactly one wins.
    """
    result = await session.execute(
        update(LinkState)
        .where(col(LinkState.state_hash) == state_hash, col(LinkState.used_at).is_(None))
        .values(used_at=now)
        .returning(col(LinkState.discord_id), col(LinkState.expires_at))
    )
    row = result.first()
    return (int(row[0]), row[1]) if row is not None else None


async def link_state_exists(session: AsyncSession, state_hash: str) -> bool:
    result = await session.execute(
        select(col(LinkState.id)).where(col(LinkState.state_hash) == state_hash)
    )
    return result.first() is not None


async def delete_stale_link_states(session: AsyncSession, before: datetime) -> int:
    """Forget states that expired, or were used, before ``before``; returns how many."""
    result = await session.execute(
        delete(LinkState).where(
            or_(col(LinkState.expires_at) < before, col(LinkState.used_at) < before)
        )
    )
    return affected_rows(result)
