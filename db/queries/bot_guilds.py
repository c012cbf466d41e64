"""Which racetime category bots serve which server. Never commit: the service owns the
transaction."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import RacetimeBot, RacetimeBotGuild
from db.queries._tables import affected_rows, table_of
from db.queries._upsert import dialect_insert
from db.types import utcnow


async def assign_bot_to_guild(session: AsyncSession, bot_id: int, guild_id: int) -> bool:
    """Let ``guild_id``'s tournaments use the bot; returns whether it was new."""
    statement = (
        dialect_insert(session, RacetimeBotGuild)
        .values(bot_id=bot_id, guild_id=guild_id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["bot_id", "guild_id"])
        .returning(table_of(RacetimeBotGuild).c.id)
    )
    result = await session.execute(statement)
    return result.first() is not None


async def unassign_bot_from_guild(session: AsyncSession, bot_id: int, guild_id: int) -> bool:
    """Stop the bot serving ``guild_id``; returns whether it did."""
    result = await session.execute(
        delete(RacetimeBotGuild).where(
            col(RacetimeBotGuild.bot_id) == bot_id, col(RacetimeBotGuild.guild_id) == guild_id
        )
    )
    return bool(affected_rows(result))


async def guilds_by_bot(session: AsyncSession) -> dict[int, list[int]]:
    """Every bot's servers (bot id -> guild ids)."""
    result = await session.execute(
        select(col(RacetimeBotGuild.bot_id), col(RacetimeBotGuild.guild_id)).order_by(
            col(RacetimeBotGuild.guild_id)
        )
    )
    servers: dict[int, list[int]] = {}
    for bot_id, guild_id in result.all():
        servers.setdefault(bot_id, []).append(guild_id)
    return servers


async def bot_serves_guild(session: AsyncSession, category: str, guild_id: int) -> bool:
    """Whether the ``category`` bot is assigned to ``guild_id``."""
    result = await session.execute(
        select(col(RacetimeBotGuild.id))
        .join(RacetimeBot, col(RacetimeBot.id) == col(RacetimeBotGuild.bot_id))
        .where(col(RacetimeBot.category) == category, col(RacetimeBotGuild.guild_id) == guild_id)
        .limit(1)
    )
    return result.first() is not None
