"""The plain data a public page shows: no database rows, nothing private (no Discord ids, no
settings but the goal), ready for a template."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class MatchState(StrEnum):
    """Where a match stands, as a reader of the page sees it."""

    LIVE = "live"  # its room is open, or the race is under way
    UPCOMING = "upcoming"
    FINISHED = "finished"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class PagePlayer:
    """A player as the page names them: their racetime.gg name (``None``: not linked; the
    page never shows a Discord id); once the race is over, their place and time."""

    name: str | None
    place: int | None = None
    finish_time: timedelta | None = None
    status: str | None = None  # racetime's entrant status once the race ended: done, dnf, dq


@dataclass(frozen=True, slots=True)
class PageMatch:
    id: int
    title: str
    round: str | None
    starts_at: datetime | None  # None: no time set yet
    state: MatchState
    goal: str
    players: tuple[PagePlayer, ...]
    room_url: str | None  # the racetime.gg room, once it is open


@dataclass(frozen=True, slots=True)
class Section:
    """A list of matches, bounded: ``more`` says how many are left out."""

    matches: tuple[PageMatch, ...]
    more: int = 0


@dataclass(frozen=True, slots=True)
class TournamentPage:
    guild_id: int
    id: int
    name: str
    path: str  # ``/t/<guild>/<id>``, stable
    url: str  # the same on the public URL
    active: bool  # False: archived (the page stays, showing its history)
    category: str
    live: Section
    upcoming: Section  # soonest first; those without a time last
    results: Section  # newest first
    cancelled: Section
    calendar_url: str | None  # the tournament's feed, when its organizers made one
    generated_at: datetime


@dataclass(frozen=True, slots=True)
class IndexEntry:
    id: int
    name: str
    path: str
    active: bool
    next_match_at: datetime | None
    live: int  # matches under way now


@dataclass(frozen=True, slots=True)
class ServerIndex:
    guild_id: int
    path: str
    tournaments: tuple[IndexEntry, ...]  # active first, then by name
    generated_at: datetime
