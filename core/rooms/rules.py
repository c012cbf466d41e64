"""What a match's room should be: the decision to open it, its settings, its texts.

Pure functions of the rows, so they are tested without racetime. Times are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from core.access.policy import BotNotAssignedError
from core.times.formatting import utc_text
from core.tournaments.tournaments import MATCH_ROOM_MINUTES_DEFAULT, TournamentSettings
from db.models import BotStatus, ClaimState, Match, MatchRoomClaim, RacetimeBot, Tournament, User
from db.models.base import RaceStatus
from racetime.client import RaceSettings

DEFAULT_GOAL = "Beat the game"


class Refusal(StrEnum):
    """Why a match's room is not opened automatically (``Decision.code``)."""

    MATCH_NOT_FOUND = "match_not_found"
    NOT_SCHEDULED = "not_scheduled"
    ARCHIVED = "tournament_archived"
    NO_TIME = "no_time"
    TOURNAMENT_AUTO_OFF = "tournament_auto_create_off"
    MATCH_AUTO_OFF = "match_auto_create_off"
    NO_BOT = "no_bot"
    BOT_INACTIVE = "bot_inactive"
    BOT_UNHEALTHY = "bot_unhealthy"
    BOT_NOT_RUNNING = "bot_not_running"
    BOT_NOT_ASSIGNED = "bot_not_assigned"
    TOO_EARLY = "too_early"
    ROOM_EXISTS = "room_exists"
    OPENING = "opening"
    FAILED = "failed"
    UNLINKED_PLAYERS = "unlinked_players"


@dataclass(slots=True)
class MatchPlan:
    """A match, its tournament and its players: what opening its room is about."""

    match: Match
    tournament: Tournament
    players: list[User]

    @property
    def match_id(self) -> int:
        assert self.match.id is not None
        return self.match.id

    @property
    def category(self) -> str:
        return self.tournament.racetime_category

    @property
    def linked(self) -> list[User]:
        return [p for p in self.players if p.racetime_id]


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether to open a match's room now; if not, ``code`` and a human ``reason``."""

    allowed: bool
    code: Refusal | None = None
    reason: str = "The room can be opened now."

    def __bool__(self) -> bool:
        return self.allowed

    @classmethod
    def refuse(cls, code: Refusal, reason: str) -> Decision:
        return cls(False, code, reason)


def open_minutes_before(tournament: Tournament) -> int:
    """How long before a match its room opens: the tournament's setting (default 60).

    ``matches.room_open_minutes_before`` is not used: it is NOT NULL with a default of 30, so
    it cannot tell an organizer's choice from the default; the tournament setting is the one
    organizers edit (``/tournament settings``, 30 to 120).
    """
    value = (tournament.settings or {}).get("room_open_minutes_before")
    return int(value) if isinstance(value, int | float) else MATCH_ROOM_MINUTES_DEFAULT


def room_opens_at(match: Match, tournament: Tournament) -> datetime | None:
    """When the match's room is due to open (the scheduler's job time)."""
    if match.scheduled_at is None:
        return None
    return match.scheduled_at - timedelta(minutes=open_minutes_before(tournament))


def auto_create(match: Match, tournament: Tournament) -> tuple[bool, bool]:
    """(tournament setting, match override): default off for tournaments, on for matches."""
    return (
        bool((tournament.settings or {}).get("auto_create_rooms", False)),
        match.auto_create_room is not False,
    )


def requires_links(tournament: Tournament) -> bool:
    return bool((tournament.settings or {}).get("require_racetime_link", False))


def unlinked(players: list[User]) -> list[User]:
    return [p for p in players if not p.racetime_id]


def decide(
    *,
    now: datetime,
    match: Match,
    tournament: Tournament,
    players: list[User],
    bot: RacetimeBot | None,
    bot_running: bool,
    claim: MatchRoomClaim | None,
    has_room: bool,
    bot_assigned: bool = True,
) -> Decision:
    """The scheduler's rule, refusals in a fixed order (the first that applies is given)."""
    if match.status != RaceStatus.SCHEDULED.value:
        return Decision.refuse(Refusal.NOT_SCHEDULED, f"The match is {match.status}.")
    if not tournament.is_active:
        return Decision.refuse(Refusal.ARCHIVED, archived_message(tournament))
    if has_room or (claim is not None and claim.state == ClaimState.OPENED.value):
        return Decision.refuse(Refusal.ROOM_EXISTS, "The match already has a room.")
    if claim is not None and claim.state == ClaimState.OPENING.value:
        return Decision.refuse(Refusal.OPENING, "The room is being opened.")
    if claim is not None and claim.state == ClaimState.FAILED.value:
        return Decision.refuse(
            Refusal.FAILED,
            f"Opening the room failed ({claim.last_error or 'unknown error'}); "
            "a moderator can open it with /open-room.",
        )
    tournament_on, match_on = auto_create(match, tournament)
    if not tournament_on:
        return Decision.refuse(
            Refusal.TOURNAMENT_AUTO_OFF, "Automatic rooms are off for this tournament."
        )
    if not match_on:
        return Decision.refuse(Refusal.MATCH_AUTO_OFF, "Automatic rooms are off for this match.")
    refused = bot_refusal(
        tournament.racetime_category, bot, bot_running, bot_assigned, CHANGE_MATCH_CATEGORY
    )
    if refused is not None:
        return refused
    opens_at = room_opens_at(match, tournament)
    if opens_at is None:
        return Decision.refuse(Refusal.NO_TIME, "The match has no scheduled time.")
    if now < opens_at:
        return Decision.refuse(
            Refusal.TOO_EARLY, f"The room opens at <t:{int(opens_at.timestamp())}:F>."
        )
    missing = unlinked(players)
    if missing and requires_links(tournament):
        return Decision.refuse(
            Refusal.UNLINKED_PLAYERS,
            f"{len(missing)} player(s) have not linked their racetime.gg account, which this "
            "tournament requires.",
        )
    return Decision(True)


# How organizers choose another category, for the refusal of a bot no longer assigned.
CHANGE_MATCH_CATEGORY = "`/tournament settings category:`"
CHANGE_LIVE_RACE_CATEGORY = "the async tournament's category"


def bot_refusal(
    category: str,
    bot: RacetimeBot | None,
    bot_running: bool,
    bot_assigned: bool = True,
    change: str = CHANGE_MATCH_CATEGORY,
) -> Decision | None:
    """Why the category's bot cannot open a room now (``None``: it can)."""
    if bot is None:
        return Decision.refuse(Refusal.NO_BOT, f"There is no racetime bot for `{category}`.")
    if not bot_assigned:
        return Decision.refuse(
            Refusal.BOT_NOT_ASSIGNED, BotNotAssignedError(category, change).message
        )
    if not bot.is_active:
        return Decision.refuse(Refusal.BOT_INACTIVE, f"The `{category}` bot is disabled.")
    if bot.status != int(BotStatus.CONNECTED):
        return Decision.refuse(
            Refusal.BOT_UNHEALTHY,
            f"The `{category}` bot is not connected ({BotStatus(bot.status).name}).",
        )
    if not bot_running:
        return Decision.refuse(
            Refusal.BOT_NOT_RUNNING, f"The `{category}` bot is not running in this process."
        )
    return None


def archived_message(tournament: Tournament) -> str:
    """Why a match of an archived tournament gets no room, and what to do instead."""
    return (
        f"**{tournament.name}** is archived, so its matches get no room. Schedule the match "
        "in an active tournament (`/match schedule`) if it is still to be played."
    )


def match_goal(match: Match, tournament: Tournament) -> str:
    return match.goal or tournament.racetime_goal or DEFAULT_GOAL


def scheduled_text(when: datetime | None) -> str:
    return utc_text(when) if when is not None else "not set"


def room_info(match: Match, tournament: Tournament) -> str:
    """The room's info text; it also identifies the room when a startrace answer was lost."""
    return f"{tournament.name} - {match.title} - Scheduled: {scheduled_text(match.scheduled_at)}"


def room_marker(match_id: int) -> str:
    """The room's bot info: with the info text it names the match's room unambiguously (two
    matches of a tournament may share a title and a time)."""
    return f"RaceDesk match #{match_id}"


def is_room_of(summary_info: str | None, info: str, match_id: int) -> bool:
    """Whether a room's info (racetime joins ``info_user`` and ``info_bot`` with a newline)
    is the one we gave the match's room."""
    lines = [line.strip() for line in (summary_info or "").splitlines()]
    return info in lines and room_marker(match_id) in lines


def room_settings(
    match: Match, tournament: Tournament, info: str, category_goals: list[str] | None = None
) -> RaceSettings:
    """The room's settings: the match's goal and invitational choice, the tournament's
    streaming rule, RaceDesk's defaults for the rest."""
    assert match.id is not None
    return race_settings(
        match_goal(match, tournament), category_goals,
        invitational=match.invitational is not False, info_user=info,
        info_bot=room_marker(match.id),
        streaming_required=TournamentSettings.of(tournament).streaming_required,
    )


def race_settings(
    goal: str,
    category_goals: list[str] | None,
    *,
    invitational: bool,
    info_user: str,
    info_bot: str,
    **chosen: Any,
) -> RaceSettings:
    """A RaceDesk room's settings (a match's, a live race's): ``chosen`` over the defaults.
    A goal the category does not have is sent as a custom goal, since racetime refuses an
    unknown goal name."""
    custom = category_goals is not None and goal not in category_goals
    defaults: dict[str, Any] = {
        "unlisted": False, "start_delay": 15, "time_limit": 24, "streaming_required": True,
        "auto_start": True, "allow_comments": True, "hide_comments": True,
        "allow_prerace_chat": True, "allow_midrace_chat": True,
        "allow_non_entrant_chat": False, "chat_message_delay": 0, "team_race": False,
        "require_even_teams": False,
    }
    return RaceSettings(
        goal=None if custom else goal,
        custom_goal=goal if custom else None,
        invitational=invitational,
        info_user=info_user,
        info_bot=info_bot,
        **{**defaults, **chosen},
    )


def details_message(match: Match, tournament: Tournament, players: list[User]) -> str:
    names = [p.racetime_name or "?" for p in players if p.racetime_id]
    missing = len(players) - len(names)
    if missing:
        names.append(f"{missing} player(s) not linked yet")
    return (
        f"{tournament.name} - {match.title}. Scheduled: {scheduled_text(match.scheduled_at)}. "
        f"Goal: {match_goal(match, tournament)}. Players: {', '.join(names) or 'none'}."
    )


def opening_failed(error: str) -> str:
    """What a match says when every attempt to open its room failed (``room_error``)."""
    return (
        f"Opening the room failed: {error.rstrip('.')}. A moderator can try again with "
        "`/open-room`."
    )


# racetime race statuses in which players may still be invited (the race has not started).
WAITING_FOR_RACERS = frozenset({"open", "invitational"})
# racetime's words when a room requires streaming and the player has no live Twitch stream.
NOT_ALLOWED = "not allowed to join this race"


def invite_advice(refusal: str) -> str:
    """What the player or an organizer can do about an invite racetime refused."""
    if NOT_ALLOWED in refusal:
        return (
            "The room requires streaming: the player can connect Twitch on racetime.gg "
            "(Settings → Connections) and ask to join the room; or an organizer can turn "
            "streaming off for the tournament (`/tournament settings streaming_required:False`) "
            "or give the player a stream override in the room."
        )
    return (
        "The player can ask to join the room on racetime.gg (RaceDesk accepts their request), "
        "or an organizer can invite them there by hand."
    )


def unlinked_warning(count: int) -> str:
    return (
        f"Warning: {count} player(s) of this match have not linked their racetime.gg account "
        "and could not be invited. Link it in Discord, then request to join this room: "
        "requests from the match's players are accepted."
    )
