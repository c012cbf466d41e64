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
    """A new match; ``scheduled_at`` is ``None`` when its players are to agree on a time (it
    gets one with a :class:`MatchRescheduledEvent` from no time)."""

    scheduled_at: datetime | None

    def headline(self) -> str:
        if self.scheduled_at is None:
            return f"Match #{self.match_id} created without a time (the players agree on one)"
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


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchInviteRefusedEvent(MatchEvent):
    """racetime would not let a player of the match into its room: the invite was refused
    (e.g. the room requires streaming and they have no Twitch connected). Once per room and
    player; ``reason`` is racetime's words, ``advice`` what the player or an organizer can do.
    """

    player_user_id: int
    racetime_user_id: str
    racetime_name: str | None = None
    category: str
    room_slug: str
    room_url: str
    reason: str
    advice: str

    def stable_key(self) -> str | None:
        return (
            f"{self.kind}:{self.match_id}:{self.category}/{self.room_slug}:"
            f"{self.racetime_user_id}"
        )

    def headline(self) -> str:
        who = self.racetime_name or self.racetime_user_id
        return f"Match #{self.match_id}: racetime refused to invite {who}: {self.reason}"



def reminder_event_id(match_id: int, scheduled_at: datetime) -> str:
    """The id of the reminder of a match at ``scheduled_at``: one per match and time, so a
    repeat is the same event (the log skips it) and a reschedule makes a new one."""
    return f"MatchReminderEvent:{match_id}:{int(scheduled_at.timestamp())}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchReminderEvent(MatchEvent):
    """The match at ``scheduled_at`` is near: its players are reminded (DMs) and the
    tournament's reminder channel is told, ``minutes`` before (the tournament's setting)."""

    scheduled_at: datetime
    minutes: int
    room_url: str | None = None

    def stable_key(self) -> str | None:
        return reminder_event_id(self.match_id, self.scheduled_at)

    def headline(self) -> str:
        return (
            f"Match #{self.match_id} reminder: it starts at {written_time(self.scheduled_at)} "
            f"(reminders {self.minutes} minutes before)"
        )
