"""racetime category bot lookups. Never commit: the service owns the transaction."""

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import RacetimeBot, RacetimeBotGuild


async def list_active_bots(session: AsyncSession) -> list[RacetimeBot]:
    """Every bot marked active, by category."""
    result = await session.execute(
        select(RacetimeBot)
        .where(col(RacetimeBot.is_active).is_(True))
        .order_by(col(RacetimeBot.category))
    )
    return list(result.scalars())


async def get_bot(session: AsyncSession, bot_id: int) -> RacetimeBot | None:
    """The bot with id ``bot_id``."""
    return await session.get(RacetimeBot, bot_id)


async def get_bot_by_category(session: AsyncSession, category: str) -> RacetimeBot | None:
    """The bot for a racetime category slug."""
    result = await session.execute(select(RacetimeBot).where(col(RacetimeBot.category) == category))
    return result.scalar_one_or_none()


async def list_bots_for_guild(session: AsyncSession, guild_id: int) -> list[RacetimeBot]:
    """Active bots assigned to a guild, by category."""
    result = await session.execute(
        select(RacetimeBot)
        .join(RacetimeBotGuild, col(RacetimeBotGuild.bot_id) == col(RacetimeBot.id))
        .where(col(RacetimeBotGuild.guild_id) == guild_id, col(RacetimeBot.is_active).is_(True))
        .order_by(col(RacetimeBot.category))
    )
    return list(result.scalars())
