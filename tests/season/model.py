"""What the season machine believes about the season: learnt from what each step did (read
back from the database after the step), never from RaceDesk's own answers alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class TournamentModel:
    id: int
    guild_id: int
    name: str
    category: str
    archived: bool = False


@dataclass
class MatchModel:
    id: int
    guild_id: int
    tournament_id: int
    title: str
    players: tuple[int, ...]  # Discord ids
    cancelled: bool = False
    results_when_cancelled: int = 0  # MatchResultEvents recorded before it was cancelled
    finishes: int = 0  # how often its race finished on racetime (watched or while down)


@dataclass
class SeasonModel:
    tournaments: dict[int, TournamentModel] = field(default_factory=dict)
    matches: dict[int, MatchModel] = field(default_factory=dict)
    assigned: set[tuple[str, int]] = field(default_factory=set)  # (category, guild id)
    linked: set[int] = field(default_factory=set)  # Discord ids with a racetime link
    # Rooms and room claims already checked (slug; match -> claim id and state), and the
    # matches that could not get a room when the step began (cancelled, their tournament
    # archived, or their bot unassigned).
    seen_rooms: set[str] = field(default_factory=set)
    claims_seen: dict[int, tuple[int | None, str]] = field(default_factory=dict)  # (id, state)
    forbidden_at_step_start: dict[int, str] = field(default_factory=dict)
    cancelled_titles: dict[str, int] = field(default_factory=dict)  # title -> guild id
    # Tournaments whose settings changed in this step -> their room times as before (a room
    # the scheduler was opening when the organizer changed "room open minutes" is on time by
    # the old setting).
    opens_before_change: dict[int, dict[int, datetime | None]] = field(default_factory=dict)
    counter: int = 0

    def next_number(self) -> int:
        self.counter += 1
        return self.counter

    def why_no_room(self, match: MatchModel) -> str | None:
        """Why ``match`` may not get a room now (``None``: it may)."""
        tournament = self.tournaments[match.tournament_id]
        if match.cancelled:
            return "the match is cancelled"
        if tournament.archived:
            return f"its tournament {tournament.name!r} is archived"
        if (tournament.category, match.guild_id) not in self.assigned:
            return f"the {tournament.category} bot no longer serves its server"
        return None

    def snapshot_forbidden(self) -> None:
        self.forbidden_at_step_start = {
            match.id: why for match in self.matches.values()
            if (why := self.why_no_room(match)) is not None
        }

    def active_tournaments(self) -> list[TournamentModel]:
        return [t for t in self.tournaments.values() if not t.archived]

    def open_matches(self) -> list[MatchModel]:
        return [m for m in self.matches.values() if not m.cancelled]
