"""A server's settings row (roles, channels, default timezone). Never commit: the service owns
the transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import GuildSettings
from db.queries._upsert import dialect_insert
from db.types import utcnow


async def get_guild_settings(session: AsyncSession, guild_id: int) -> GuildSettings | None:
    """The server's row; ``None`` means every default applies."""
    return await session.get(GuildSettings, guild_id)


async def update_guild_settings(session: AsyncSession, guild_id: int, **values: Any) -> None:
    """Set ``values`` on the server's row, creating it (with defaults) when missing.

    One ``INSERT ... ON CONFLICT DO UPDATE``, so two first writes at once both land.
    """
    now = utcnow()
    row = {"default_timezone": "UTC", **values}
    statement = dialect_insert(session, GuildSettings).values(
        guild_id=guild_id, created_at=now, updated_at=now, **row
    )
    statement = statement.on_conflict_do_update(
        index_elements=["guild_id"], set_={**values, "updated_at": now}
    )
    await session.execute(statement)
    # The identity map may hold the row from before this statement.
    cached = await session.get(GuildSettings, guild_id, populate_existing=True)
    assert cached is not None
