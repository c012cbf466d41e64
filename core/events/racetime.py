"""Events about racetime.gg race rooms and the category bots that watch them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Literal

from core.events.base import Event, EventPriority


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeRoomEvent(Event):
    """Anything that happened in one race room; delivered in order per room.

    ``racetime_version`` is the room's ``version`` the change was seen at; with the room and
    the kind it makes the stable ``event_id``.
    """

    category: str
    room_slug: str
    room_name: str
    match_id: int | None = None
    tournament_id: int | None = None
    racetime_version: int | None = None

    @property
    def partition_key(self) -> str:
        return f"room:{self.category}/{self.room_slug}"

    def subject(self) -> str:
        """What, within the room, the event is about (an entrant for entrant events)."""
        return ""

    def stable_key(self) -> str | None:
        if self.racetime_version is None:
            return None
        subject = self.subject()
        suffix = f":{subject}" if subject else ""
        return f"{self.category}/{self.room_slug}:{self.racetime_version}:{self.kind}{suffix}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeRaceStatusChangedEvent(RacetimeRoomEvent):
    priority: ClassVar[EventPriority] = EventPriority.HIGH

    old_status: str | None
    new_status: str
    entrant_count: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeEntrantEvent(RacetimeRoomEvent):
    """Base of the events about one entrant of a room."""

    racetime_user_id: str
    racetime_user_name: str | None = None
    race_status: str | None = None

    def subject(self) -> str:
        return self.racetime_user_id


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeEntrantStatusChangedEvent(RacetimeEntrantEvent):
    old_status: str | None
    new_status: str
    finish_time: str | None = None
    place: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeEntrantJoinedEvent(RacetimeEntrantEvent):
    initial_status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeEntrantLeftEvent(RacetimeEntrantEvent):
    last_status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeEntrantInvitedEvent(RacetimeEntrantEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeBotJoinedRaceEvent(RacetimeRoomEvent):
    priority: ClassVar[EventPriority] = EventPriority.HIGH

    race_status: str
    entrant_count: int = 0
    bot_action: Literal["join"] = "join"


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeBotCreatedRaceEvent(RacetimeRoomEvent):
    priority: ClassVar[EventPriority] = EventPriority.HIGH

    goal: str | None = None
    invitational: bool = False
    bot_action: Literal["create"] = "create"


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomForMatchEvent(Event):
    """A room was made for a match: automatically at its time, or by hand."""

    priority: ClassVar[EventPriority] = EventPriority.HIGH

    match_id: int | None
    tournament_id: int | None
    room_slug: str
    room_url: str
    goal: str | None = None
    invited_count: int = 0
    player_count: int = 0
    scheduled_at: datetime | None = None

    @property
    def partition_key(self) -> str:
        return f"match:{self.match_id}" if self.match_id is not None else f"room:{self.room_slug}"

    def stable_key(self) -> str | None:
        return f"{self.kind}:{self.match_id}:{self.room_slug}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeRoomCreatedEvent(RoomForMatchEvent):
    """The scheduler opened a match's room on time."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeRoomOpenedEvent(RoomForMatchEvent):
    """A moderator opened a room by hand (``/open-room``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RacetimeBotStatusChangedEvent(Event):
    """A category bot's health changed (see ``BotStatus`` in ``db``)."""

    priority: ClassVar[EventPriority] = EventPriority.HIGH

    bot_id: int
    category: str
    old_status: int
    new_status: int
    status_message: str | None = None

    @property
    def partition_key(self) -> str:
        return f"bot:{self.bot_id}"
