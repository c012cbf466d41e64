"""Events about scheduled matches of a tournament (the tournament service emits them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from core.events.base import Event, EventPriority, written_time


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchEvent(Event):
    """Something happened to one match; delivered in order per match."""

    priority: ClassVar[EventPriority] = EventPriority.HIGH

    match_id: int
    tournament_id: int

    @property
    def partition_key(self) -> str:
        return f"match:{self.match_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchScheduledEvent(MatchEvent):
    scheduled_at: datetime

    def headline(self) -> str:
        return f"Match #{self.match_id} scheduled for {written_time(self.scheduled_at)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchRescheduledEvent(MatchEvent):
    old_scheduled_at: datetime | None
    scheduled_at: datetime

    def headline(self) -> str:
        before = written_time(self.old_scheduled_at) if self.old_scheduled_at else "no time"
        return f"Match #{self.match_id} moved from {before} to {written_time(self.scheduled_at)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchCancelledEvent(MatchEvent):
    reason: str

    def headline(self) -> str:
        return f"Match #{self.match_id} cancelled: {self.reason}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchResultEvent(MatchEvent):
    """The match's race finished; ``summary`` is the standings as text (one line each)."""

    summary: str
    room_url: str | None = None

    def headline(self) -> str:
        standings = " · ".join(line.strip() for line in self.summary.splitlines() if line.strip())
        return f"Match #{self.match_id} results recorded: {standings}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchRoomProblemEvent(MatchEvent):
    """RaceDesk could not open the match's room (every attempt failed, or it was too late);
    ``problem`` says why and what a moderator can do."""

    problem: str

    def headline(self) -> str:
        return f"Match #{self.match_id} room problem: {self.problem}"

