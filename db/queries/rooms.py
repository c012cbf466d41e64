"""Race room lookups and the room upsert. Never commit: the service owns the transaction."""

from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import RaceRoom
from db.queries._upsert import dialect_insert
from db.types import utcnow

_UPSERTABLE = frozenset(
    {
        "match_id",
        "live_race_id",
        "last_status",
        "last_version",
        "opened_by_us",
        "is_active",
        "last_race_data",
    }
)


async def get_room(session: AsyncSession, category: str, slug: str) -> RaceRoom | None:
    """The room ``category/slug``, if RaceDesk knows it."""
    result = await session.execute(
        select(RaceRoom).where(RaceRoom.category == category, RaceRoom.slug == slug)
    )
    return result.scalar_one_or_none()


async def get_room_for_match(session: AsyncSession, match_id: int) -> RaceRoom | None:
    """The (at most one) room of a match."""
    result = await session.execute(select(RaceRoom).where(RaceRoom.match_id == match_id))
    return result.scalar_one_or_none()


async def list_active_rooms(
    session: AsyncSession, categories: Iterable[str] | None = None
) -> list[RaceRoom]:
    """Active rooms (those to reconnect), optionally only in ``categories``, oldest first."""
    statement = select(RaceRoom).where(col(RaceRoom.is_active).is_(True))
    if categories is not None:
        wanted = set(categories)
        if not wanted:
            return []
        statement = statement.where(col(RaceRoom.category).in_(wanted))
    result = await session.execute(statement.order_by(col(RaceRoom.id)))
    return list(result.scalars())


async def upsert_room(session: AsyncSession, category: str, slug: str, **fields: Any) -> RaceRoom:
    """Insert the room ``category/slug`` or update the given ``fields`` of the existing row.

    Atomic (``INSERT ... ON CONFLICT (category, slug) DO UPDATE``), so two events for a new
    room never race into a duplicate. Only the fields passed are changed on update. Giving a
    ``match_id`` that another room already has raises ``IntegrityError``: one room per match.
    """
    unknown = fields.keys() - _UPSERTABLE
    if unknown:
        raise TypeError(f"upsert_room got unknown fields: {', '.join(sorted(unknown))}")
    now = utcnow()
    statement = dialect_insert(session, RaceRoom).values(
        category=category, slug=slug, created_at=now, updated_at=now, **fields
    )
    statement = statement.on_conflict_do_update(
        index_elements=["category", "slug"], set_={**fields, "updated_at": now}
    ).returning(RaceRoom)
    result = await session.execute(statement, execution_options={"populate_existing": True})
    return result.scalar_one()
