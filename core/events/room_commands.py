"""Events of race-room chat commands that others act on: a seed rolled (the players' DMs)
and the fair-play agreement called (the staff channel)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.events.base import Event, EventPriority
from core.events.racetime import room_partition


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomCommandEvent(Event):
    """Something a room command did in the room of a match or a live race."""

    category: str
    room_slug: str
    room_url: str
    tournament_id: int | None = None
    match_id: int | None = None
    live_race_id: int | None = None

    @property
    def partition_key(self) -> str:
        return room_partition(self.category, self.room_slug)

    def headline(self) -> str:
        return f"Race {self.category}/{self.room_slug}: a room command's outcome"


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomSeedRolledEvent(RoomCommandEvent):
    """The room's ``rolls``-th seed was rolled (by ``!seed``, its button or ``/match seed``)."""

    priority: ClassVar[EventPriority] = EventPriority.HIGH

    rolls: int
    preset: str | None = None
    seed_text: str
    seed_url: str | None = None

    def stable_key(self) -> str | None:
        return f"seed:{self.category}/{self.room_slug}:{self.rolls}"

    def headline(self) -> str:
        return f"Race {self.category}/{self.room_slug}: seed #{self.rolls} rolled ({self.preset})"


@dataclass(frozen=True, slots=True, kw_only=True)
class FpaCalledEvent(RoomCommandEvent):
    """An entrant invoked the fair-play agreement (``!fpa``); ``request_id`` is the command's
    event id, ``race_time`` the race clock when it was called (``None`` before the start)."""

    priority: ClassVar[EventPriority] = EventPriority.HIGH

    request_id: str
    racetime_user_name: str
    caller_discord_id: int | None = None
    reason: str | None = None
    race_time: str | None = None

    def stable_key(self) -> str | None:
        return f"fpa:{self.request_id}"

    def headline(self) -> str:
        return f"Race {self.category}/{self.room_slug}: FPA called by {self.racetime_user_name}"
