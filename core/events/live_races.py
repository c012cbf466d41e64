"""Events about the scheduled group races ("live races") of async tournaments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from core.events.base import Event, EventPriority, written_time


@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncLiveRaceEvent(Event):
    priority: ClassVar[EventPriority] = EventPriority.HIGH

    live_race_id: int
    tournament_id: int
    pool_id: int | None = None
    scheduled_at: datetime | None = None

    @property
    def partition_key(self) -> str:
        return f"live_race:{self.live_race_id}"

    def stable_key(self) -> str | None:
        return f"{self.kind}:{self.live_race_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncLiveRaceCreatedEvent(AsyncLiveRaceEvent):
    participant_count: int = 0

    def headline(self) -> str:
        when = f" for {written_time(self.scheduled_at)}" if self.scheduled_at else ""
        return (
            f"Live race #{self.live_race_id} scheduled{when}, "
            f"{self.participant_count} participant(s) eligible"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncLiveRaceRoomOpenedEvent(AsyncLiveRaceEvent):
    room_slug: str
    room_url: str
    participant_count: int = 0

    def headline(self) -> str:
        return f"Live race #{self.live_race_id}: room {self.room_slug} opened"


@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncLiveRaceStartedEvent(AsyncLiveRaceEvent):
    room_slug: str
    room_url: str
    participant_count: int = 0

    def headline(self) -> str:
        return f"Live race #{self.live_race_id} started with {self.participant_count} racer(s)"


@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncLiveRaceFinishedEvent(AsyncLiveRaceEvent):
    room_slug: str
    room_url: str
    participant_count: int = 0
    finisher_count: int = 0
    summary: str = ""  # the results, placed first: ``1. Ada 1:02:03.4 · Bob: forfeit``

    def headline(self) -> str:
        return (
            f"Live race #{self.live_race_id} finished, {self.finisher_count} of "
            f"{self.participant_count} finished: {self.summary}"
        ).rstrip(": ")


@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncLiveRaceCancelledEvent(AsyncLiveRaceEvent):
    reason: str
    room_slug: str | None = None
    room_url: str | None = None

    def headline(self) -> str:
        return f"Live race #{self.live_race_id} cancelled: {self.reason}"
