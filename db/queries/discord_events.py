"""Which Discord scheduled event a match has. Never commit: the service owns the transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from db.models import MatchDiscordEvent
from db.queries._upsert import dialect_insert
from db.types import utcnow


async def get_match_discord_event(
    session: AsyncSession, match_id: int
) -> MatchDiscordEvent | None:
    result = await session.execute(
        select(MatchDiscordEvent).where(MatchDiscordEvent.match_id == match_id)
    )
    return result.scalars().first()


async def upsert_match_discord_event(
    session: AsyncSession, *, match_id: int, guild_id: int, discord_event_id: int, phase: str
) -> None:
    """The match's Discord event is ``discord_event_id``, left in ``phase`` (one row per match,
    whoever writes it)."""
    insert = dialect_insert(session, MatchDiscordEvent)
    statement = insert.values(
        match_id=match_id, guild_id=guild_id, discord_event_id=discord_event_id, phase=phase
    ).on_conflict_do_update(
        index_elements=["match_id"],
        set_={"guild_id": guild_id, "discord_event_id": discord_event_id, "phase": phase,
              "updated_at": utcnow()},
    )
    await session.execute(statement)
