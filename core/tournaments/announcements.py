"""What a tournament's channels are told: a match's room is open (announcements), its
results (results channel), a match is about to start (reminder channel), and for its
organizers (the staff channel, else announcements) a room RaceDesk could not open or a player
racetime would not let in.

The Discord side posts them (``cogs/announcements.py``); this service decides what to say
and where, and remembers what was posted so that an event delivered again posts nothing.
Each post is made once per event (:class:`core.event_store.sent_once.SentOnce`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import NotFoundError
from core.event_store.sent_once import SentOnce
from core.events import (
    Event,
    FpaCalledEvent,
    MatchInviteRefusedEvent,
    MatchReminderEvent,
    MatchResultEvent,
    MatchRoomProblemEvent,
    RoomForMatchEvent,
)
from core.tournaments.match_info import MatchInfo, RaceStatus, RoomStatus
from core.tournaments.match_results import format_race_time
from core.tournaments.matches import MatchService
from core.tournaments.tournaments import TournamentService

RECEIPT = "announcements"


class Tone(StrEnum):
    ROOM_OPEN = "room_open"
    RESULTS = "results"
    PROBLEM = "problem"
    REMINDER = "reminder"


@dataclass(frozen=True, slots=True)
class Announcement:
    """One post in a tournament channel: plain data the Discord side renders."""

    channel_id: int
    tone: Tone
    title: str
    lines: tuple[str, ...]
    mentions: tuple[int, ...] = ()  # Discord ids of the players it concerns
    url: str | None = None


class AnnouncementService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        tournaments: TournamentService,
        matches: MatchService,
    ) -> None:
        self._receipts = SentOnce(sessionmaker, RECEIPT)
        self._tournaments = tournaments
        self._matches = matches

    async def for_event(self, event: Event) -> Announcement | None:
        """The post ``event`` calls for, or ``None`` (no such channel, not a match event)."""
        match_id = getattr(event, "match_id", None)
        tournament_id = getattr(event, "tournament_id", None)
        if match_id is None or tournament_id is None:
            return None
        tournament = await self._tournaments.get_by_id(tournament_id)
        if tournament is None:
            return None
        settings = tournament.settings
        try:
            match = await self._matches.info(tournament.guild_id, match_id)
        except NotFoundError:
            return None  # deleted since: nothing to announce
        if isinstance(event, RoomForMatchEvent) and settings.announcement_channel_id:
            return _room_open(settings.announcement_channel_id, match, event.room_url)
        if isinstance(event, MatchReminderEvent) and settings.reminder_channel_id:
            if not _reminder_holds(match, event):
                return None  # moved, started or called off since: that time is gone
            return _reminder(settings.reminder_channel_id, match, event)
        if isinstance(event, MatchResultEvent) and settings.results_channel_id:
            return _results(settings.results_channel_id, match, event)
        trouble = settings.trouble_channel_id
        if isinstance(event, MatchRoomProblemEvent) and trouble:
            return Announcement(
                trouble, Tone.PROBLEM, f"⚠️ {match.tournament} · {match.title}: no race room",
                (event.problem,),
            )
        if isinstance(event, FpaCalledEvent) and trouble:
            return _fpa_called(trouble, match, event)
        if isinstance(event, MatchInviteRefusedEvent) and trouble:
            player = next(
                (p for p in match.players if p.racetime_id == event.racetime_user_id), None
            )
            who = f"<@{player.discord_id}>" if player else (event.racetime_name or "a player")
            return Announcement(
                trouble, Tone.PROBLEM,
                f"⚠️ {match.tournament} · {match.title}: a player is not in the room",
                (f"racetime.gg would not let RaceDesk invite {who}: “{event.reason}”",
                 event.advice, f"Room: {event.room_url}"),
                (player.discord_id,) if player else (), event.room_url,
            )
        return None

    async def posted(self, event_id: str) -> bool:
        return await self._receipts.done(event_id)

    async def mark_posted(self, event_id: str) -> None:
        await self._receipts.record(event_id)


def _when(match: MatchInfo) -> str:
    if match.scheduled_at is None:
        return "No time set"
    stamp = int(match.scheduled_at.timestamp())
    return f"Starts <t:{stamp}:F> (<t:{stamp}:R>)"


def _room_open(channel_id: int, match: MatchInfo, url: str) -> Announcement:
    unlinked = match.unlinked
    lines = [_when(match), f"Goal: {match.goal}", f"Room: {url}"]
    if unlinked:
        names = ", ".join(f"<@{p.discord_id}>" for p in unlinked)
        lines.append(f"Not linked to racetime.gg yet (join by hand, or /link-racetime): {names}")
    if match.not_invited:
        names = ", ".join(f"<@{p.discord_id}>" for p in match.not_invited)
        lines.append(f"racetime.gg would not let these players in (they were told why): {names}")
    return Announcement(
        channel_id, Tone.ROOM_OPEN, f"🚪 {match.tournament} · {match.title}: the room is open",
        tuple(lines), tuple(p.discord_id for p in match.players), url,
    )


def _reminder_holds(match: MatchInfo, event: MatchReminderEvent) -> bool:
    return (
        match.status in (RaceStatus.SCHEDULED, RaceStatus.ROOM_OPEN)
        and match.scheduled_at == event.scheduled_at
        and match.room.status not in (RoomStatus.IN_PROGRESS, RoomStatus.FINISHED)
    )


def _reminder(channel_id: int, match: MatchInfo, event: MatchReminderEvent) -> Announcement:
    url = match.room.url if match.room.status is RoomStatus.OPEN else event.room_url
    lines = [_when(match), f"Goal: {match.goal}"]
    lines.append(f"Room: {url}" if url else "The race room is not open yet.")
    return Announcement(
        channel_id, Tone.REMINDER, f"⏰ {match.tournament} · {match.title}: starting soon",
        tuple(lines), tuple(p.discord_id for p in match.players), url,
    )


def _fpa_called(channel_id: int, match: MatchInfo, event: FpaCalledEvent) -> Announcement:
    caller = event.racetime_user_name.split("#", 1)[0] or event.racetime_user_name
    if event.caller_discord_id:
        caller += f" (<@{event.caller_discord_id}>)"
    when = f" at {event.race_time} of race time" if event.race_time else ""
    lines = [
        f"{caller} invoked the fair-play agreement{when}.",
        f"Reason: {event.reason}" if event.reason else "No reason given.",
        f"Room: {event.room_url}",
        f"The match is under review: its results are recorded but flagged. Clear it with "
        f"`/match fpa-clear match:{match.id}`.",
    ]
    return Announcement(
        channel_id, Tone.PROBLEM, f"⚖️ {match.tournament} · {match.title}: fair-play call",
        tuple(lines), (), event.room_url,
    )


def _results(channel_id: int, match: MatchInfo, event: MatchResultEvent) -> Announcement:
    placed = sorted((p for p in match.players if p.place is not None), key=lambda p: p.place or 0)
    lines = [
        f"{p.place}. <@{p.discord_id}> {format_race_time(p.finish_time)}"
        if p.finish_time is not None else f"{p.place}. <@{p.discord_id}>"
        for p in placed
    ]
    words = {"dnf": "forfeit", "dq": "disqualified"}
    lines += [
        f"<@{p.discord_id}>: {words[p.status]}" for p in match.players if p.status in words
    ]
    lines = lines or [event.summary]
    if match.seed:
        lines.append(f"Seed: {match.seed}")
    if match.breaks:
        lines.append(f"Breaks: {match.breaks}")
    if match.under_review:
        lines.append("⚖️ Under review: " + "; ".join(call.line() for call in match.fpa))
    return Announcement(
        channel_id, Tone.RESULTS, f"🏁 {match.tournament} · {match.title}: results",
        tuple(lines), (), event.room_url,
    )


__all__ = ["Announcement", "AnnouncementService", "Tone"]
