"""What the racetime engine needs from the rest of the application.

``racetime/`` may not import ``db`` or the rest of ``core``; those implement these protocols
(``core/racetime_bots/room_store.py``, ``core/racetime_bots/status.py``) and ``bot.py`` hands
them to the manager. Tests can pass small in-memory versions that satisfy the same protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Protocol

from core.events import Event
from racetime.models import Race


class BotHealth(IntEnum):
    """A category bot's health, as stored on its row (same numbers as ``db.BotStatus``)."""

    UNKNOWN = 0
    CONNECTED = 1
    AUTH_FAILED = 2
    CONNECTION_ERROR = 3
    DISCONNECTED = 4


@dataclass(frozen=True, slots=True)
class BotCredentials:
    """One category bot's OAuth client; ``repr`` never shows the secret."""

    bot_id: int
    category: str
    client_id: str
    client_secret: str = field(repr=False)
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class RoomRecord:
    """What the database knows about a room we watch."""

    category: str
    slug: str
    opened_by_us: bool = False
    match_id: int | None = None
    tournament_id: int | None = None
    live_race_id: int | None = None
    last_race: Race | None = None
    # The id of the last chat message handled: after a (re)connect, ``gethistory`` asks for
    # the messages after it. None: none handled yet.
    last_chat_message_id: str | None = None
    # When RaceDesk started watching the room (its row was made). In a room someone else
    # opened, history messages posted before it are not RaceDesk's to answer.
    watching_since: datetime | None = None

    @property
    def name(self) -> str:
        return f"{self.category}/{self.slug}"


class RoomStore(Protocol):
    async def active_rooms(self, category: str) -> list[RoomRecord]:
        """Rooms of ``category`` to watch: not cancelled or partitioned, and finished ones
        only while an un-finish is still possible."""
        ...

    async def get_room(self, category: str, slug: str) -> RoomRecord | None: ...

    async def record_room(
        self,
        category: str,
        slug: str,
        *,
        opened_by_us: bool,
        match_id: int | None = None,
        live_race_id: int | None = None,
    ) -> RoomRecord:
        """Create the room's row if missing (idempotent) and return it."""
        ...

    async def attach_room(
        self,
        category: str,
        slug: str,
        *,
        match_id: int | None = None,
        live_race_id: int | None = None,
    ) -> RoomRecord:
        """Link the room to a match or live race (raises if that one already has a room)."""
        ...

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
        """Queue the room's new snapshot (and whether it is still watched, and the id of the
        last chat message handled) with the events it produced: they are committed together,
        then delivered. Never blocks."""
        ...

    async def linked_user_ids(self, racetime_ids: Iterable[str]) -> dict[str, int]:
        """Our user ids of the racetime users that have linked their account."""
        ...


class BotHealthRecorder(Protocol):
    async def record_connection_success(self, bot_id: int) -> None: ...

    async def record_connection_failure(
        self, bot_id: int, status: BotHealth, message: str
    ) -> None: ...

    async def record_stopped(self, bot_id: int, message: str) -> None: ...
