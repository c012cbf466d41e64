"""What a match looks like to its readers (``/match info``, the room service), and why its
room is not open: the seam :class:`RoomReadiness` and its default answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from core.times.parsing import show_time
from db.models import FpaCall
from db.models import RaceStatus as RaceStatus  # re-exported: cogs read no db model

DEFAULT_GOAL = "Beat the game"
LINK_COMMAND = "/link-racetime"


class RoomStatus(StrEnum):
    NONE = "no room yet"
    OPENING = "opening"
    OPEN = "open"
    IN_PROGRESS = "in progress"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "could not open"


RACETIME_ROOM_STATUS = {
    "open": RoomStatus.OPEN,
    "invitational": RoomStatus.OPEN,
    "pending": RoomStatus.OPEN,
    "in_progress": RoomStatus.IN_PROGRESS,
    "finished": RoomStatus.FINISHED,
    "cancelled": RoomStatus.CANCELLED,
}


@dataclass(frozen=True, slots=True)
class PlayerInfo:
    discord_id: int
    racetime_id: str | None
    racetime_name: str | None
    status: str
    place: int | None = None
    finish_time: timedelta | None = None
    invite_error: str | None = None  # racetime refused to invite them to the room: why

    @property
    def linked(self) -> bool:
        return self.racetime_id is not None


@dataclass(frozen=True, slots=True)
class RoomInfo:
    status: RoomStatus
    url: str | None = None
    error: str | None = None  # the last error of a room that could not be opened


@dataclass(frozen=True, slots=True)
class FpaNote:
    """A fair-play call in the match's room (``!fpa``), as ``/match info`` and the results
    post show it; the match is under review until an organizer clears it."""

    caller: str  # the entrant's racetime name
    race_time: str | None  # the race clock when it was called
    reason: str | None
    cleared: bool

    def line(self) -> str:
        when = f" at {self.race_time}" if self.race_time else ""
        why = f": {self.reason}" if self.reason else ""
        return f"FPA by {self.caller}{when}{why} ({'cleared' if self.cleared else 'under review'})"


def race_clock(seconds: float | None) -> str | None:
    """``1:02:03`` (the race clock) from seconds since the start."""
    if seconds is None:
        return None
    whole = max(int(seconds), 0)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def fpa_note(call: FpaCall) -> FpaNote:
    return FpaNote(
        call.racetime_user_name or call.racetime_user_id, race_clock(call.race_time_seconds),
        call.reason, call.cleared_at is not None,
    )


@dataclass(frozen=True, slots=True)
class MatchInfo:
    """A match with everything ``/match info`` shows; ``goal``, ``invitational`` and
    ``auto_create`` are the values that apply (the match's, else the defaults)."""

    id: int
    guild_id: int
    tournament_id: int
    tournament: str
    title: str
    status: RaceStatus
    scheduled_at: datetime | None
    room_open_minutes_before: int
    goal: str
    goal_from: str  # "match", "tournament" or "default"
    invitational: bool
    auto_create: bool
    auto_create_match: bool | None  # the match's own choice (None: the default, on)
    tournament_auto_create: bool
    require_racetime_link: bool
    players: tuple[PlayerInfo, ...]
    room: RoomInfo
    room_error: str | None
    room_reason: str | None = None  # why there is no room yet, when that is the question
    seed: str | None = None  # the seed rolled in its room (!seed, /match seed)
    fpa: tuple[FpaNote, ...] = ()
    breaks: str | None = None  # its room's scheduled breaks (!breaks), in words
    round: str | None = None  # "Round 1", "Top 8": deadlines and imports go by it

    @property
    def under_review(self) -> bool:
        """An entrant called the fair-play agreement and no organizer has cleared it yet."""
        return any(not call.cleared for call in self.fpa)

    @property
    def opens_at(self) -> datetime | None:
        if self.scheduled_at is None:
            return None
        return self.scheduled_at - timedelta(minutes=self.room_open_minutes_before)

    @property
    def unlinked(self) -> tuple[PlayerInfo, ...]:
        return tuple(player for player in self.players if not player.linked)

    @property
    def not_invited(self) -> tuple[PlayerInfo, ...]:
        """Players racetime would not let into the room (see ``invite_error``)."""
        return tuple(player for player in self.players if player.invite_error)

    @property
    def is_closed(self) -> bool:
        return self.status in (RaceStatus.FINISHED, RaceStatus.CANCELLED)


class RoomReadiness(Protocol):
    """Why a match's room is not open: the seam for the room service's
    ``should_create_room_for_match`` (an adapter to this protocol is all it takes)."""

    async def why_no_room(self, match: MatchInfo, now: datetime) -> str | None:
        """A sentence saying what stands in the way, or ``None`` when nothing does."""
        ...


def default_room_reason(match: MatchInfo, now: datetime) -> str | None:
    """Why the room is not open, from the match's own data (no racetime, no bot health)."""
    if match.is_closed or match.room.status not in (RoomStatus.NONE, RoomStatus.FAILED):
        return None
    if match.room_error:  # a whole sentence: what happened and what to do
        return match.room_error
    if match.room.error:
        return (
            f"Opening the room failed: {match.room.error.rstrip('.')}. A moderator can try "
            "again with `/open-room`."
        )
    if not match.tournament_auto_create:
        return (
            f"Auto-create is off for {match.tournament}: a moderator opens the room with "
            "`/open-room` (organizers can turn it on with `/tournament settings`)."
        )
    if match.auto_create_match is False:
        return "Auto-create is off for this match: a moderator opens the room with `/open-room`."
    if match.require_racetime_link and match.unlinked:
        names = ", ".join(f"<@{p.discord_id}>" for p in match.unlinked)
        return (
            f"{match.tournament} requires linked racetime.gg accounts and {names} "
            f"ha{'s' if len(match.unlinked) == 1 else 've'} not linked one "
            f"(`{LINK_COMMAND}`)."
        )
    opens_at = match.opens_at
    if opens_at is None:
        return (
            "The match has no time yet: its players agree on one (`/schedule propose`), or "
            "an organizer sets it with `/match reschedule`."
        )
    if now < opens_at:
        return f"The room opens at {show_time(opens_at)}."
    return f"The room was due to open at {show_time(opens_at)} and has not opened yet."


class DefaultReadiness:
    """Answers with :func:`default_room_reason`."""

    async def why_no_room(self, match: MatchInfo, now: datetime) -> str | None:
        return default_room_reason(match, now)
