"""The racetime engine's view of the database (implements ``racetime.ports.RoomStore``).

Snapshots arrive with every room change; writing each one at once would put a database
round trip on the websocket's path. They are kept in memory instead (the newest per room
wins) and written in one transaction every ``flush_interval`` seconds and at close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import select

from db.models import AsyncLiveRace, Match, RaceRoom
from db.queries import rooms as room_queries
from db.queries import users as user_queries
from racetime.models import RACE_TERMINAL_STATUSES, Race, race_from_dict
from racetime.ports import RoomRecord

log = logging.getLogger(__name__)


class DatabaseRoomStore:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, flush_interval: float = 1.0
    ) -> None:
        self._sessionmaker = sessionmaker
        self._flush_interval = flush_interval
        self._dirty: dict[tuple[str, str], Race] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def _record(self, session: AsyncSession, room: RaceRoom) -> RoomRecord:
        tournament_id = None
        if room.match_id is not None:
            match = await session.get(Match, room.match_id)
            tournament_id = match.tournament_id if match else None
        elif room.live_race_id is not None:
            live_race = await session.get(AsyncLiveRace, room.live_race_id)
            tournament_id = live_race.tournament_id if live_race else None
        pending = self._dirty.get((room.category, room.slug))
        last_race = pending or (
            race_from_dict(room.last_race_data) if room.last_race_data else None
        )
        return RoomRecord(
            category=room.category,
            slug=room.slug,
            opened_by_us=room.opened_by_us,
            match_id=room.match_id,
            tournament_id=tournament_id,
            live_race_id=room.live_race_id,
            last_race=last_race,
        )

    async def active_rooms(self, category: str) -> list[RoomRecord]:
        async with self._sessionmaker() as session:
            rooms = await room_queries.list_active_rooms(session, [category])
            return [await self._record(session, room) for room in rooms]

    async def get_room(self, category: str, slug: str) -> RoomRecord | None:
        async with self._sessionmaker() as session:
            room = await room_queries.get_room(session, category, slug)
            return await self._record(session, room) if room is not None else None

    async def record_room(
        self,
        category: str,
        slug: str,
        *,
        opened_by_us: bool,
        match_id: int | None = None,
        live_race_id: int | None = None,
    ) -> RoomRecord:
        async with self._sessionmaker.begin() as session:
            room = await room_queries.get_room(session, category, slug)
            if room is None:
                fields: dict[str, object] = {"opened_by_us": opened_by_us, "is_active": True}
                if match_id is not None:
                    fields["match_id"] = match_id
                if live_race_id is not None:
                    fields["live_race_id"] = live_race_id
                room = await room_queries.upsert_room(session, category, slug, **fields)
            return await self._record(session, room)

    async def deactivate_room(self, category: str, slug: str) -> None:
        self._dirty.pop((category, slug), None)
        async with self._sessionmaker.begin() as session:
            await room_queries.upsert_room(session, category, slug, is_active=False)

    def remember_snapshot(self, category: str, slug: str, race: Race) -> None:
        self._dirty[(category, slug)] = race
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(
                self._flush_later(), name="racetime-snapshot-flush"
            )

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._flush_interval)
        await self.flush()

    async def flush(self) -> None:
        """Write every pending snapshot now; on failure they are kept for the next try."""
        batch, self._dirty = self._dirty, {}
        if not batch:
            return
        try:
            async with self._sessionmaker.begin() as session:
                for (category, slug), race in batch.items():
                    await room_queries.upsert_room(
                        session,
                        category,
                        slug,
                        last_status=race.status.value,
                        last_version=race.version,
                        is_active=race.status.value not in RACE_TERMINAL_STATUSES,
                        last_race_data=msgspec.to_builtins(race),
                    )
        except Exception:
            log.exception("Could not save %d racetime room snapshots; will retry", len(batch))
            for key, race in batch.items():
                self._dirty.setdefault(key, race)

    async def close(self) -> None:
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self.flush()

    async def linked_user_ids(self, racetime_ids: Iterable[str]) -> dict[str, int]:
        async with self._sessionmaker() as session:
            return await user_queries.linked_user_ids(session, racetime_ids)

    async def room_rows(self) -> list[RaceRoom]:
        """Every room row (for admin views and tests)."""
        async with self._sessionmaker() as session:
            return list((await session.execute(select(RaceRoom))).scalars())
