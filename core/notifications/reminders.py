"""Reminding a match's players shortly before it starts: one APScheduler job per match at its
time minus the tournament's reminder minutes, re-planned when the match is scheduled, moved
or cancelled and when its tournament's settings change, and a sweep every minute; the
planning, the sweep and the lifecycle are :class:`core.rooms.scheduler.RoomScheduler`'s.

A reminder is a :class:`MatchReminderEvent` whose id is the match and its time
(:func:`reminder_event_id`): the event log keeps one of each, even across processes, so a
reminder is sent once, a reschedule makes a new one, and a restart finds in the log what was
sent. Its listeners turn it into the players' DMs (the notification outbox,
``core.notifications.listeners``) and a post in the tournament's reminder channel
(``cogs/announcements.py``); both check that the match is still at that time, so a reminder
for a time the match has left is never told.

None for cancelled, started or finished matches, nor for matches without a time. A reminder
whose moment passed while RaceDesk was down is sent at the start if the match has not
started yet, and skipped once it has. The event log keeps events for days
(``core.event_store.event_log.RETENTION``), longer than the longest reminder (a day) waits
for its match, so the log answers "was it sent?" for as long as the question is asked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.event_store.event_log import DatabaseEventLog
from core.events import (
    EventDispatcher,
    MatchCancelledEvent,
    MatchEvent,
    MatchReminderEvent,
    MatchRescheduledEvent,
    MatchScheduledEvent,
    reminder_event_id,
)
from core.identity import SYSTEM_USER_ID
from core.rooms.scheduler import Due, RoomScheduler, SchedulerTimings
from core.tournaments.tournaments import TournamentSettings
from db.models import ClaimState, Match, Tournament
from db.queries import match_reminders as queries
from db.queries.matches import race_room, room_claim

log = logging.getLogger(__name__)

JOB_PREFIX = "match-reminder:"
SWEEP_JOB = "match-reminder-sweep"


def reminder_minutes(tournament: Tournament) -> int:
    return TournamentSettings.of(tournament).reminder_minutes


def reminds_at(match: Match, tournament: Tournament) -> datetime | None:
    """When the match's players are reminded (``None``: it has no time)."""
    if match.scheduled_at is None:
        return None
    return match.scheduled_at - timedelta(minutes=reminder_minutes(tournament))


@dataclass(frozen=True, slots=True)
class Reminding:
    """Whether a match's reminder is sent now, and why not."""

    sent: bool
    reason: str

    def __bool__(self) -> bool:
        return self.sent


class ReminderScheduler(RoomScheduler):
    job_prefix = JOB_PREFIX
    sweep_job = SWEEP_JOB
    noun = "Match reminder"

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        event_log: DatabaseEventLog,
        *,
        racetime_url: str = "https://racetime.gg",
        clock: Clock | None = None,
        timings: SchedulerTimings | None = None,
    ) -> None:
        # No grace: a match that has started is never reminded of.
        timings = replace(timings or SchedulerTimings(), grace=timedelta(0))
        super().__init__(sessionmaker, event_log, clock=clock, timings=timings)
        self._racetime_url = racetime_url.rstrip("/")

    def subscribe(self, dispatcher: EventDispatcher) -> None:
        """Re-plan a match's reminder whenever it is scheduled, moved or cancelled."""
        for kind in (MatchScheduledEvent, MatchRescheduledEvent, MatchCancelledEvent):
            dispatcher.subscribe(kind, self._on_match_event)

    async def _on_match_event(self, event: MatchEvent) -> None:
        if isinstance(event, MatchCancelledEvent):
            self._unplan(event.match_id)
            return
        await self.replan(event.match_id)

    def on_tournament_changed(self, tournament_id: int) -> None:
        """A hook for the tournament service: its reminder minutes may have changed."""
        self._in_background(self.replan_tournament(tournament_id))

    async def replan_tournament(self, tournament_id: int) -> int:
        """Re-plan a tournament's reminders; returns how many are planned."""
        async with self._sessionmaker() as session:
            match_ids = await queries.tournament_matches(session, tournament_id)
        planned = 0
        for match_id in match_ids:
            planned += await self.replan(match_id) is not None
        return planned

    # -- reminding ---------------------------------------------------------------------------

    async def open_room(self, subject_id: int) -> bool:
        """The job (the room scheduler's name for it): :meth:`remind`."""
        return bool(await self.remind(subject_id))

    async def remind(self, match_id: int) -> Reminding:
        """Remind the match's players now, if their reminder is due and not sent yet: the
        check and the event in one transaction, the match's row locked against a reschedule."""
        now = self._clock.now()
        async with self._event_log.transaction() as outbox:
            session = outbox.session
            found = await queries.remindable_match(session, match_id, for_update=True)
            verdict = await self._check(session, found, now)
            if verdict and found is not None:
                match, tournament = found
                assert match.scheduled_at is not None and tournament.id is not None
                outbox.add(MatchReminderEvent(
                    match_id=match_id, tournament_id=tournament.id,
                    scheduled_at=match.scheduled_at, minutes=reminder_minutes(tournament),
                    room_url=await self._room_url(session, match_id),
                    user_id=SYSTEM_USER_ID, occurred_at=now,
                ))
        if verdict:
            log.info("Match %d: its players are reminded", match_id)
        else:
            log.debug("Match %d: no reminder now: %s", match_id, verdict.reason)
        return verdict

    async def _check(
        self, session: AsyncSession, found: tuple[Match, Tournament] | None, now: datetime
    ) -> Reminding:
        if found is None:
            return Reminding(False, "the match is gone, has no time, started or was cancelled")
        match, tournament = found
        when = reminds_at(match, tournament)
        assert match.id is not None and match.scheduled_at is not None and when is not None
        if now < when:
            return Reminding(False, "too early")
        if now >= match.scheduled_at:
            return Reminding(False, "the match has started")
        if await queries.logged(session, [reminder_event_id(match.id, match.scheduled_at)]):
            return Reminding(False, "already reminded for this time")
        return Reminding(True, "due")

    async def _room_url(self, session: AsyncSession, match_id: int) -> str | None:
        room = await race_room(session, match_id)
        if room is not None:
            return f"{self._racetime_url}/{room.category}/{room.slug}"
        claim = await room_claim(session, match_id)
        if claim is not None and claim.state == ClaimState.OPENED and claim.slug:
            return f"{self._racetime_url}/{claim.category}/{claim.slug}"
        return None

    # -- the room scheduler's questions ------------------------------------------------------

    async def _waiting(self, session: AsyncSession, subject_id: int | None = None) -> list[Due]:
        """Matches still to be reminded of (not started yet, not reminded for their time)."""
        rows = await queries.awaiting_reminders(
            session, after=self._clock.now(), match_id=subject_id
        )
        due = []
        for match, tournament in rows:
            when = reminds_at(match, tournament)
            assert match.id is not None and match.scheduled_at is not None and when is not None
            due.append(Due(match.id, when, match.scheduled_at))
        sent = await queries.logged(
            session, [reminder_event_id(item.subject_id, item.starts_at) for item in due]
        )
        return [
            item for item in due
            if reminder_event_id(item.subject_id, item.starts_at) not in sent
        ]

    async def _reconcile(self) -> None:
        """Nothing is ever half done: a reminder is one transaction."""

    async def _report_missed(self, subject_id: int, starts_at: datetime) -> None:
        log.info("Match %d started before its reminder was sent; none is sent", subject_id)

    async def _record_problem(self, subject_id: int, problem: str) -> None:
        log.warning("Match %d: its reminder failed; the next sweep tries again", subject_id)


__all__ = ["JOB_PREFIX", "ReminderScheduler", "Reminding", "reminds_at"]
