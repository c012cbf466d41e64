"""A tournament's matches as Discord scheduled events (issue 25, opt-in per tournament:
``discord_events``): what the event of a match should be, decided here from the match as it
is now; the Discord side (``cogs/discord_events.py``) makes Discord's event so.

Each match event (scheduled, moved, room open, cancelled, finished) leads to one
:class:`EventPlan`: create the Discord event, update it, cancel it or end it. The plan follows
from the match's current state, not from the event alone, so a late or repeated event brings
Discord to where the match is. The Discord event's id is kept per match
(``match_discord_events``): a repeat edits that event rather than making a second one, across
restarts too. Each match event is handled once (:class:`SentOnce`, ``discord-events``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.errors import NotFoundError
from core.event_store.sent_once import SentOnce
from core.events import (
    Event,
    MatchCancelledEvent,
    MatchRescheduledEvent,
    MatchResultEvent,
    MatchScheduledEvent,
    RoomForMatchEvent,
)
from core.tournaments.match_info import MatchInfo, RaceStatus
from core.tournaments.matches import MatchService
from core.tournaments.tournaments import TournamentService
from db.models import DiscordEventPhase as DiscordEventPhase  # re-exported: cogs read no db
from db.queries.discord_events import get_match_discord_event, upsert_match_discord_event

log = logging.getLogger(__name__)

# Discord's limits for a scheduled event ("Guild Scheduled Event" resource); the cogs' and the
# simulated Discord's copy is cogs/_shared/discord_limits.py, which takes them from here.
SCHEDULED_EVENT_NAME_MAX = 100
SCHEDULED_EVENT_DESCRIPTION_MAX = 1000
SCHEDULED_EVENT_LOCATION_MAX = 100
# How long a match's event lasts on Discord's calendar; it is ended when the race finishes.
EVENT_DURATION = timedelta(hours=3)
RECEIPT = "discord-events"
EVENTS = (
    MatchScheduledEvent, MatchRescheduledEvent, MatchCancelledEvent, RoomForMatchEvent,
    MatchResultEvent,
)
ELLIPSIS = "…"


class Step(StrEnum):
    CREATE = "create"  # the match has no Discord event yet
    UPDATE = "update"  # make its event say what the match says now
    CANCEL = "cancel"  # the match was cancelled
    END = "end"  # the match's race finished


@dataclass(frozen=True, slots=True)
class DesiredEvent:
    """A match's Discord event as it should be (within Discord's limits): an external event
    at ``location``, the race room once it is open, before that the tournament's name."""

    name: str
    description: str
    start: datetime
    end: datetime
    location: str


@dataclass(frozen=True, slots=True)
class EventPlan:
    """What to do with one match's Discord event."""

    match_id: int
    guild_id: int
    step: Step
    desired: DesiredEvent
    discord_event_id: int | None  # the event RaceDesk made for the match (None: none yet)
    start_editable: bool  # the start is still ahead (Discord takes no start in the past)
    staff_channel_id: int | None  # where organizers are told Discord refused (or None)

    @property
    def marker(self) -> str:
        """The description's last line, by which RaceDesk knows its own event again (one
        made just before a crash, whose id was never kept)."""
        return marker_of(self.match_id)


def marker_of(match_id: int) -> str:
    return f"RaceDesk match #{match_id}"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def desired_event(match: MatchInfo, start: datetime, room_url: str | None) -> DesiredEvent:
    """The Discord event of ``match`` (starting at ``start``), clipped to Discord's limits."""
    marker = marker_of(match.id)
    players = " vs ".join(f"<@{player.discord_id}>" for player in match.players)
    lines = [line for line in (
        f"{match.round} · {match.tournament}" if match.round else match.tournament,
        f"Players: {players}" if players else None,
        f"Goal: {match.goal}",
        f"Race room: {room_url}" if room_url else
        f"The race room opens on racetime.gg {match.room_open_minutes_before} minutes before "
        "the start.",
    ) if line]
    body = clip("\n".join(lines), SCHEDULED_EVENT_DESCRIPTION_MAX - len(marker) - 2)
    return DesiredEvent(
        name=clip(f"{match.tournament} · {match.title}", SCHEDULED_EVENT_NAME_MAX),
        description=f"{body}\n\n{marker}",
        start=start,
        end=start + EVENT_DURATION,
        location=clip(room_url or match.tournament, SCHEDULED_EVENT_LOCATION_MAX),
    )


class DiscordEventService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        tournaments: TournamentService,
        matches: MatchService,
        clock: Clock,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._receipts = SentOnce(sessionmaker, RECEIPT)
        self._tournaments = tournaments
        self._matches = matches
        self._clock = clock

    async def plan(self, event: Event) -> EventPlan | None:
        """What ``event`` calls for on Discord, or ``None``: the tournament has no Discord
        events, the match has no time, or its start passed before it got an event."""
        match_id = getattr(event, "match_id", None)
        tournament_id = getattr(event, "tournament_id", None)
        if match_id is None or tournament_id is None:
            return None
        tournament = await self._tournaments.get_by_id(tournament_id)
        if tournament is None or not tournament.settings.discord_events:
            return None
        try:
            match = await self._matches.info(tournament.guild_id, match_id)
        except NotFoundError:
            return None  # deleted since
        if match.scheduled_at is None:
            return None
        async with self._sessionmaker() as session:
            kept = await get_match_discord_event(session, match_id)
        room_url = event.room_url if isinstance(event, RoomForMatchEvent) else match.room.url
        now = self._clock.now()
        step = _step(match, kept.phase if kept is not None else None)
        if step is None:
            return None
        if step is Step.CREATE and match.scheduled_at <= now:
            log.info("Match #%s started at %s, before it had a Discord event: none is made",
                     match_id, match.scheduled_at.isoformat())
            return None
        return EventPlan(
            match_id=match_id,
            guild_id=tournament.guild_id,
            step=step,
            desired=desired_event(match, match.scheduled_at, room_url),
            discord_event_id=kept.discord_event_id if kept is not None else None,
            start_editable=match.scheduled_at > now,
            staff_channel_id=tournament.settings.trouble_channel_id,
        )

    async def remember(
        self, plan: EventPlan, discord_event_id: int, phase: DiscordEventPhase
    ) -> None:
        """The match's Discord event is ``discord_event_id``, left in ``phase``."""
        async with self._sessionmaker.begin() as session:
            await upsert_match_discord_event(
                session, match_id=plan.match_id, guild_id=plan.guild_id,
                discord_event_id=discord_event_id, phase=phase.value,
            )

    async def done(self, event_id: str) -> bool:
        return await self._receipts.done(event_id)

    async def mark_done(self, event_id: str) -> None:
        await self._receipts.record(event_id)

    def now(self) -> datetime:
        return self._clock.now()


def _step(match: MatchInfo, phase: str | None) -> Step | None:
    """What the match's state asks of its Discord event, which RaceDesk left in ``phase``
    (``None``: it has none). A cancelled or ended event is never touched again."""
    if phase is not None and phase != DiscordEventPhase.SCHEDULED:
        return None
    if match.status == RaceStatus.CANCELLED:
        return Step.CANCEL if phase is not None else None
    if match.status == RaceStatus.FINISHED:
        return Step.END if phase is not None else None
    return Step.UPDATE if phase is not None else Step.CREATE


__all__ = [
    "EVENTS",
    "EVENT_DURATION",
    "SCHEDULED_EVENT_DESCRIPTION_MAX",
    "SCHEDULED_EVENT_LOCATION_MAX",
    "SCHEDULED_EVENT_NAME_MAX",
    "DesiredEvent",
    "DiscordEventPhase",
    "DiscordEventService",
    "EventPlan",
    "Step",
    "desired_event",
]
