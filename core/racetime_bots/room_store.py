"""The racetime engine's view of the database (implements ``racetime.ports.RoomStore``).

A room's new snapshot and the events it produced are committed together, through the event
log's group commit (``core.event_store.event_log``): the stored snapshot never says "already
reported" for an event that is not in the log, and an event is never in the log without the
snapshot that produced it. Saving never blocks the websocket reader.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import select

from core.event_store.event_log import DatabaseEventLog
from core.events import Event
from core.outage import DatabaseWatch
from core.stopping import to_the_end
from db.engine import EncodedJSON
from db.models import AsyncLiveRace, Match, RaceRoom
from db.queries import rooms as room_queries
from db.queries import users as user_queries
from db.write_batch import Write
from racetime.models import Race, race_from_dict
from racetime.ports import RoomRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RoomState:
    """What one save changes on a room's row: its snapshot, whether it is still watched, the
    last chat message handled."""

    category: str
    slug: str
    race: Race | None = None
    active: bool | None = None
    last_message: str | None = None


class DatabaseRoomStore:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        event_log: DatabaseEventLog,
        outage: DatabaseWatch | None = None,
    ) -> None:
        self._outage = outage
        self._sessionmaker = sessionmaker
        self._log = event_log
        # Rooms whose snapshot could not be stored at all (a value no column takes): their
        # later saves are skipped, so one such room never costs the others a commit.
        self._set_aside: set[tuple[str, str]] = set()
        event_log.register_state_writer(self._write_states, on_dropped=self._set_room_aside)

    async def _record(self, session: AsyncSession, room: RaceRoom) -> RoomRecord:
        tournament_id = None
        if room.match_id is not None:
            match = await session.get(Match, room.match_id)
            tournament_id = match.tournament_id if match else None
        elif room.live_race_id is not None:
            live_race = await session.get(AsyncLiveRace, room.live_race_id)
            tournament_id = live_race.tournament_id if live_race else None
        return _as_record(room, tournament_id)

    async def active_rooms(self, category: str) -> list[RoomRecord]:
        await self._log.flush()  # the baseline must include every save queued so far
        async with self._sessionmaker() as session:
            rooms = await room_queries.list_active_rooms(session, [category])
        return [_as_record(room, tournament_id) for room, tournament_id in rooms]

    async def get_room(self, category: str, slug: str) -> RoomRecord | None:
        await self._log.flush()
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
        async def record() -> RoomRecord:
            async with self._sessionmaker.begin() as session:
                room = await room_queries.get_room(session, category, slug)
                if room is None:
                    fields: dict[str, object] = {"opened_by_us": opened_by_us, "is_active": True}
                    if match_id is not None:
                        fields["match_id"] = match_id
                    if live_race_id is not None:
                        fields["live_race_id"] = live_race_id
                    # Not an upsert: the room service may have recorded it (as ours) meanwhile.
                    room = await room_queries.insert_room_if_absent(
                        session, category, slug, **fields
                    )
                return await self._record(session, room)

        # A room stopped meanwhile does not interrupt the transaction (core.stopping).
        return await to_the_end(record())

    async def attach_room(
        self,
        category: str,
        slug: str,
        *,
        match_id: int | None = None,
        live_race_id: int | None = None,
    ) -> RoomRecord:
        fields: dict[str, object] = {}
        if match_id is not None:
            fields["match_id"] = match_id
        if live_race_id is not None:
            fields["live_race_id"] = live_race_id
        async def attach() -> RoomRecord:
            async with self._sessionmaker.begin() as session:
                room = await room_queries.upsert_room(session, category, slug, **fields)
                return await self._record(session, room)

        return await to_the_end(attach())

    def save(
        self,
        category: str,
        slug: str,
        events: Sequence[Event] = (),
        *,
        race: Race | None = None,
        active: bool | None = None,
        last_message: str | None = None,
    ) -> None:
        if (category, slug) in self._set_aside:
            return
        state = RoomState(category, slug, race, active, last_message)
        changes = race is not None or active is not None or last_message is not None
        self._log.submit(events, state if changes else None)

    def _set_room_aside(self, state: Any) -> None:
        assert isinstance(state, RoomState)
        if (state.category, state.slug) in self._set_aside:
            return  # a save queued before the first failure, failing the same way
        log.error(
            "Room %s/%s: its snapshot cannot be stored; it is set aside (no more saves) and "
            "every other room goes on", state.category, state.slug,
        )
        self._set_aside.add((state.category, state.slug))

    async def _write_states(self, dialect: str, states: list[Any]) -> list[Write]:
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for state in states:
            assert isinstance(state, RoomState)
            row = merged.setdefault((state.category, state.slug), {})
            if state.race is not None:
                row["race"] = state.race  # the latest of the batch is stored
            if state.active is not None:
                row["is_active"] = state.active
            if state.last_message is not None:
                row["last_chat_message_id"] = state.last_message
        rows = []
        for (category, slug), fields in merged.items():
            race = fields.pop("race", None)
            if race is not None:
                fields["last_status"] = race.status.value
                fields["last_version"] = race.version
                fields["last_race_data"] = EncodedJSON(msgspec.json.encode(race).decode())
            rows.append({"category": category, "slug": slug, **fields})
        return room_queries.room_state_writes(dialect, rows)

    async def linked_user_ids(self, racetime_ids: Iterable[str]) -> dict[str, int]:
        """Who these racetime users are in RaceDesk. While the database is away this waits
        for it: an event must not lose who caused it (its room's events could not be
        committed meanwhile anyway)."""
        wanted = list(racetime_ids)

        async def look_up() -> dict[str, int]:
            async with self._sessionmaker() as session:
                return await user_queries.linked_user_ids(session, wanted)

        if self._outage is None:
            return await look_up()
        return await self._outage.ride_out(look_up, "Looking up linked racetime users")

    async def room_rows(self) -> list[RaceRoom]:
        """Every room row (for admin views and tests)."""
        async with self._sessionmaker() as session:
            return list((await session.execute(select(RaceRoom))).scalars())


def _as_record(room: RaceRoom, tournament_id: int | None) -> RoomRecord:
    return RoomRecord(
        category=room.category,
        slug=room.slug,
        opened_by_us=room.opened_by_us,
        match_id=room.match_id,
        tournament_id=tournament_id,
        live_race_id=room.live_race_id,
        last_race=race_from_dict(room.last_race_data) if room.last_race_data else None,
        last_chat_message_id=room.last_chat_message_id,
        watching_since=room.created_at,
    )
