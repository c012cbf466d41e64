"""Tournament lookups and writes. Never commit: the service owns the transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import Tournament
from db.name_key import name_key


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def get_tournament(session: AsyncSession, tournament_id: int) -> Tournament | None:
    return await session.get(Tournament, tournament_id)


async def tournaments_named(session: AsyncSession, guild_id: int, name: str) -> list[Tournament]:
    """The server's tournaments whose name is ``name`` ignoring case and spacing (by its
    casefolded key, ``db.name_key``; exact match first)."""
    result = await session.execute(
        select(Tournament).where(
            Tournament.guild_id == guild_id,
            col(Tournament.name_key) == name_key(name),
        )
    )
    rows = list(result.scalars())
    return sorted(rows, key=lambda t: (t.name != name, t.id or 0))


async def list_tournaments(
    session: AsyncSession, guild_id: int, *, include_archived: bool = False
) -> list[Tournament]:
    """The server's tournaments, active first, then by name."""
    statement = select(Tournament).where(Tournament.guild_id == guild_id)
    if not include_archived:
        statement = statement.where(col(Tournament.is_active).is_(True))
    result = await session.execute(
        statement.order_by(col(Tournament.is_active).desc(), col(Tournament.name_key))
    )
    return list(result.scalars())


async def search_tournament_names(
    session: AsyncSession, guild_id: int, typed: str, *, limit: int = 25
) -> list[str]:
    """Names of the server's active tournaments containing ``typed`` (any case)."""
    statement = select(Tournament.name).where(
        Tournament.guild_id == guild_id, col(Tournament.is_active).is_(True)
    )
    if typed:
        pattern = f"%{_like_escape(name_key(typed))}%"
        statement = statement.where(col(Tournament.name_key).like(pattern, escape="\\"))
    result = await session.execute(statement.order_by(col(Tournament.name_key)).limit(limit))
    return list(result.scalars())


async def add_tournament(session: AsyncSession, tournament: Tournament) -> Tournament:
    session.add(tournament)
    await session.flush()
    return tournament
