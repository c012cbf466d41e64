"""User lookups. Functions take a session and never commit: the service owns the transaction."""

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import User
from db.queries._upsert import dialect_insert
from db.types import utcnow


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    """The user with application id ``user_id``."""
    return await session.get(User, user_id)


async def get_user_by_discord_id(session: AsyncSession, discord_id: int) -> User | None:
    """The user for a Discord account, if known."""
    result = await session.execute(select(User).where(col(User.discord_id) == discord_id))
    return result.scalar_one_or_none()


async def get_or_create_user_by_discord_id(session: AsyncSession, discord_id: int) -> User:
    """The user for a Discord account, created if missing.

    Safe under concurrency: ``INSERT ... ON CONFLICT DO NOTHING`` then a read, so two callers
    racing for the same new user both get the one row instead of an IntegrityError.
    """
    user = await get_user_by_discord_id(session, discord_id)
    if user is not None:
        return user
    now = utcnow()
    statement = (
        dialect_insert(session, User)
        .values(discord_id=discord_id, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["discord_id"])
    )
    await session.execute(statement)
    user = await get_user_by_discord_id(session, discord_id)
    assert user is not None
    return user


async def get_user_by_racetime_id(session: AsyncSession, racetime_id: str) -> User | None:
    """The user who linked the racetime account ``racetime_id``."""
    result = await session.execute(select(User).where(col(User.racetime_id) == racetime_id))
    return result.scalar_one_or_none()


async def linked_user_ids(session: AsyncSession, racetime_ids: Iterable[str]) -> dict[str, int]:
    """Map racetime user ids to application user ids; unlinked ids are simply absent."""
    wanted = set(racetime_ids)
    if not wanted:
        return {}
    result = await session.execute(
        select(col(User.racetime_id), col(User.id)).where(col(User.racetime_id).in_(wanted))
    )
    return {
        racetime_id: user_id for racetime_id, user_id in result.all()
        if racetime_id is not None and user_id is not None  # always so: for the type checker
    }
