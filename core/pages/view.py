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
    # What an async tournament's page calls a player not linked: ``Player 3``, the third to
    # join it (the same on every board of the page, and it never changes). None: the page
    # says "a player not linked to racetime.gg".
    unlinked_label: str | None = None


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
class PageLiveRace:
    """A live race of an async tournament: a group race of one pool at a set time."""

    id: int
    pool: str | None  # None: a race of no pool (it counts in no board)
    starts_at: datetime
    state: MatchState
    goal: str
    room_url: str | None  # the racetime.gg room, once it is open
    results: tuple[PagePlayer, ...]  # once finished: by place, forfeits after
    more_results: int = 0  # results left out


@dataclass(frozen=True, slots=True)
class RaceSection:
    """A list of live races, bounded: ``more`` says how many are left out."""

    races: tuple[PageLiveRace, ...]
    more: int = 0


@dataclass(frozen=True, slots=True)
class BoardRow:
    rank: int  # equal totals share one
    player: PagePlayer
    total: float
    runs: int  # seeds (and live race entries) counted


@dataclass(frozen=True, slots=True)
class Board:
    """A leaderboard, its best ``rows`` only: ``more`` says how many players are left out."""

    pool: str | None  # None: overall
    rows: tuple[BoardRow, ...]
    more: int = 0


@dataclass(frozen=True, slots=True)
class PagePool:
    name: str
    description: str | None


@dataclass(frozen=True, slots=True)
class AsyncPage:
    """An async tournament's page: its pools, live races and leaderboards."""

    guild_id: int
    id: int
    name: str
    path: str  # ``/t/<guild>/async/<id>``, stable
    url: str  # the same on the public URL
    active: bool  # False: closed (the page stays, showing its standings)
    category: str
    goal: str | None  # its live races' goal, when the organizers set one
    pools: tuple[PagePool, ...]
    more_pools: int  # pools left out (of the list and of the boards)
    live: RaceSection
    upcoming: RaceSection  # soonest first
    results: RaceSection  # newest first
    overall: Board
    boards: tuple[Board, ...]  # one per pool shown, in the pools' order
    score_formula: str
    generated_at: datetime


@dataclass(frozen=True, slots=True)
class IndexEntry:
    id: int
    name: str
    path: str
    active: bool
    next_match_at: datetime | None  # an async tournament's: its next live race
    live: int  # matches (live races) under way now
    is_async: bool = False


@dataclass(frozen=True, slots=True)
class ServerIndex:
    guild_id: int
    path: str
    tournaments: tuple[IndexEntry, ...]  # active first, then by name; async ones beside
    generated_at: datetime
