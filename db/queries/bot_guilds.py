"""Which racetime category bots serve which server. Never commit: the service owns the
transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import RacetimeBotGuild
from db.queries._upsert import dialect_insert
from db.types import utcnow


async def assign_bot_to_guild(session: AsyncSession, bot_id: int, guild_id: int) -> bool:
    """Let ``guild_id``'s tournaments use the bot; returns whether it was new."""
    statement = (
        dialect_insert(session, RacetimeBotGuild)
        .values(bot_id=bot_id, guild_id=guild_id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["bot_id", "guild_id"])
        .returning(RacetimeBotGuild.__table__.c.id)
    )
    result = await session.execute(statement)
    return result.first() is not None
