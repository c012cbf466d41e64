"""A server's organizer and moderator roles, kept in its ``guild_settings`` row."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from db.queries.guild_settings import get_guild_settings, update_guild_settings

ROLE_KEYS = ("organizer_role_id", "moderator_role_id")


@dataclass(frozen=True, slots=True)
class ServerRoles:
    organizer_role_id: int | None = None
    moderator_role_id: int | None = None


async def read_roles(session: AsyncSession, guild_id: int) -> ServerRoles:
    settings = await get_guild_settings(session, guild_id)
    if settings is None:
        return ServerRoles()
    return ServerRoles(settings.organizer_role_id, settings.moderator_role_id)


async def write_roles(session: AsyncSession, guild_id: int, values: dict[str, int | None]) -> None:
    unknown = set(values) - set(ROLE_KEYS)
    if unknown:
        raise ValueError(f"not a server role: {sorted(unknown)}")
    await update_guild_settings(session, guild_id, **values)
