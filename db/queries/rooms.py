"""Race room lookups and the room upsert. Never commit: the service owns the transaction."""

from collections.abc import Iterable
from functools import cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, func, select

from db.models import AsyncLiveRace, Match, RaceRoom
from db.queries._tables import table_of
from db.queries._upsert import dialect_insert, insert_for
from db.types import utcnow
from db.write_batch import Write

_UPSERTABLE = frozenset(
    {
        "match_id",
        "live_race_id",
        "last_status",
        "last_version",
        "opened_by_us",
        "is_active",
        "last_race_data",
        "last_chat_message_id",
    }
)

# What a row created by ``room_state_writes`` has where the state says nothing.
_NEW_ROOM: dict[str, Any] = {"opened_by_us": False, "is_active": True, "last_version": 0}


async def get_room(session: AsyncSession, category: str, slug: str) -> RaceRoom | None:
    """The room ``category/slug``, if RaceDesk knows it."""
    result = await session.execute(
        select(RaceRoom).where(col(RaceRoom.category) == category, col(RaceRoom.slug) == slug)
    )
    return result.scalar_one_or_none()


async def get_room_for_match(session: AsyncSession, match_id: int) -> RaceRoom | None:
    """The (at most one) room of a match."""
    result = await session.execute(select(RaceRoom).where(col(RaceRoom.match_id) == match_id))
    return result.scalar_one_or_none()


async def get_room_for_live_race(session: AsyncSession, live_race_id: int) -> RaceRoom | None:
    """The (at most one) room of a live race."""
    result = await session.execute(
        select(RaceRoom).where(col(RaceRoom.live_race_id) == live_race_id)
    )
    return result.scalar_one_or_none()


async def list_active_rooms(
    session: AsyncSession, categories: Iterable[str] | None = None
) -> list[tuple[RaceRoom, int | None]]:
    """Active rooms (those to reconnect), optionally only in ``categories``, oldest first,
    each with the tournament of its match or live race (None for a room of neither), in one
    query."""
    statement = (
        select(RaceRoom, func.coalesce(col(Match.tournament_id), col(AsyncLiveRace.tournament_id)))
        .outerjoin(Match, col(Match.id) == col(RaceRoom.match_id))
        .outerjoin(AsyncLiveRace, col(AsyncLiveRace.id) == col(RaceRoom.live_race_id))
        .where(col(RaceRoom.is_active).is_(True))
    )
    if categories is not None:
        wanted = set(categories)
        if not wanted:
            return []
        statement = statement.where(col(RaceRoom.category).in_(wanted))
    result = await session.execute(statement.order_by(col(RaceRoom.id)))
    return [(room, tournament_id) for room, tournament_id in result.all()]


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
    room: RaceRoom = result.scalar_one()
    return room


async def insert_room_if_absent(
    session: AsyncSession, category: str, slug: str, **fields: Any
) -> RaceRoom:
    """The room ``category/slug``: inserted with ``fields`` if it is not there, else the row
    as it is (``INSERT ... ON CONFLICT DO NOTHING``): whoever recorded it first keeps what
    they said, e.g. that RaceDesk opened it."""
    unknown = fields.keys() - _UPSERTABLE
    if unknown:
        raise TypeError(f"insert_room_if_absent got unknown fields: {', '.join(sorted(unknown))}")
    now = utcnow()
    await session.execute(
        dialect_insert(session, RaceRoom)
        .values(category=category, slug=slug, created_at=now, updated_at=now, **fields)
        .on_conflict_do_nothing(index_elements=["category", "slug"])
    )
    result = await session.execute(
        select(RaceRoom).where(RaceRoom.category == category, RaceRoom.slug == slug),
        execution_options={"populate_existing": True},
    )
    return result.scalar_one()


def room_state_writes(dialect: str, states: list[dict[str, Any]]) -> list[Write]:
    """Writes of many rooms' snapshots and activity at once (one statement per shape).

    Each dict has ``category`` and ``slug`` and any of ``last_status``, ``last_version``,
    ``last_race_data``, ``is_active`` and ``last_chat_message_id``; rows that do not exist yet
    are created.
    """
    now = utcnow()
    by_shape: dict[frozenset[str], list[dict[str, Any]]] = {}
    for state in states:
        fields = frozenset(state) - {"category", "slug"}
        unknown = fields - _UPSERTABLE
        if unknown:
            raise TypeError(f"room_state_writes got unknown fields: {', '.join(sorted(unknown))}")
        row = {**_NEW_ROOM, **state, "created_at": now, "updated_at": now}
        by_shape.setdefault(fields, []).append(row)
    return [Write(_room_state_upsert(dialect, fields), rows) for fields, rows in by_shape.items()]


@cache
def _room_state_upsert(dialect: str, fields: frozenset[str]) -> Any:
    table = table_of(RaceRoom)
    insert = insert_for(dialect, table)
    return insert.on_conflict_do_update(
        index_elements=["category", "slug"],
        set_={
            **{name: insert.excluded[name] for name in sorted(fields)},
            "updated_at": insert.excluded.updated_at,
        },
    )
