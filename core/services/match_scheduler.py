"""Opening match rooms on time: one APScheduler job per match, and a sweep every minute.

Each scheduled match gets a job at its room's opening time (match time minus the
tournament's "room open minutes before"), re-planned when the match is rescheduled or
cancelled or its tournament's settings change, and rebuilt from the database at start-up.
The sweep opens whatever is overdue and not opened (RaceDesk was down, a job was lost); a
match whose start plus a grace period has passed is reported instead of opened, since a
room that late helps nobody.

Whether a room may be opened, and opening it exactly once, is the room service's job
(:class:`RoomOpener`): the scheduler only decides when to ask.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock, SystemClock
from core.events import (
    EventDispatcher,
    MatchCancelledEvent,
    MatchEvent,
    MatchRescheduledEvent,
    MatchRoomProblemEvent,
    MatchScheduledEvent,
)
from core.services.event_log import DatabaseEventLog
from core.services.match_room_rules import auto_create, room_opens_at
from db.models import Match, Tournament
from db.queries import match_schedule as queries

log = logging.getLogger(__name__)

JOB_PREFIX = "match-room:"
SWEEP_JOB = "match-room-sweep"


class Verdict(Protocol):
    """What :meth:`RoomOpener.should_create_room_for_match` answers: truthy to open."""

    reason: str

    def __bool__(self) -> bool: ...


class Opening(Protocol):
    """What :meth:`RoomOpener.create_race_room_for_match` answers."""

    @property
    def ok(self) -> bool: ...


class RoomOpener(Protocol):
    async def should_create_room_for_match(
        self, match_id: int, now: datetime | None = None
    ) -> Verdict: ...

    async def create_race_room_for_match(
        self, match_id: int, *, actor_user_id: int | None, reason: str
    ) -> Opening: ...

    async def reconcile_unfinished(self) -> Sequence[object]:
        """Finish openings a stopped process left half done (look on racetime first)."""
        ...


@dataclass(frozen=True, slots=True)
class RoomDue:
    """A match whose room RaceDesk is to open at ``opens_at``."""

    match_id: int
    opens_at: datetime
    starts_at: datetime


def rooms_due(rows: list[tuple[Match, Tournament]], until: datetime | None) -> list[RoomDue]:
    """The matches whose rooms open automatically, by ``until`` (``None``: whenever)."""
    due = []
    for match, tournament in rows:
        opens = room_opens_at(match, tournament)
        if opens is None or not all(auto_create(match, tournament)):
            continue
        if until is not None and opens > until:
            continue
        assert match.id is not None and match.scheduled_at is not None
        due.append(RoomDue(match.id, opens, match.scheduled_at))
    return sorted(due, key=lambda item: (item.opens_at, item.match_id))


@dataclass(frozen=True, slots=True)
class SchedulerTimings:
    sweep_seconds: float = 60.0
    # Past the match's start by this much, a room is reported as missed, not opened.
    grace: timedelta = timedelta(minutes=15)


class MatchScheduler:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        event_log: DatabaseEventLog,
        opener: RoomOpener,
        *,
        system_user_id: int,
        clock: Clock | None = None,
        timings: SchedulerTimings | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._event_log = event_log
        self._opener = opener
        self._system_user_id = system_user_id
        self._clock = clock or SystemClock()
        self._timings = timings or SchedulerTimings()
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._running: set[asyncio.Task[object]] = set()
        self._opening: set[int] = set()  # matches this process is asking about right now

    # -- lifecycle ---------------------------------------------------------------------------

    def subscribe(self, dispatcher: EventDispatcher) -> None:
        """Re-plan a match's job whenever it is scheduled, moved or cancelled."""
        for kind in (MatchScheduledEvent, MatchRescheduledEvent, MatchCancelledEvent):
            dispatcher.subscribe(kind, self._on_match_event)

    async def start(self) -> None:
        """Plan every scheduled match without a room, then sweep once for overdue ones."""
        self._scheduler.start()
        planned = await self.replan_all()
        self._scheduler.add_job(
            self._tracked(self.sweep), IntervalTrigger(seconds=self._timings.sweep_seconds),
            id=SWEEP_JOB, replace_existing=True, coalesce=True, max_instances=1,
        )
        log.info("Match room scheduler started: %d rooms planned", planned)
        await self.sweep()

    async def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    # -- planning ----------------------------------------------------------------------------

    def planned_at(self, match_id: int) -> datetime | None:
        """When the match's job will run (``None``: no job)."""
        job = self._scheduler.get_job(f"{JOB_PREFIX}{match_id}")
        return job.next_run_time if job is not None else None

    async def replan(self, match_id: int) -> datetime | None:
        """(Re)plan one match's job from the database; returns its time, or ``None``."""
        async with self._sessionmaker() as session:
            rows = await queries.waiting_for_rooms(session, match_id)
        due = rooms_due(rows, until=None)
        if not due:
            self._unplan(match_id)
            return None
        self._plan(match_id, due[0].opens_at)
        return due[0].opens_at

    async def replan_tournament(self, tournament_id: int) -> int:
        """Re-plan a tournament's matches (its settings changed); returns how many are planned."""
        async with self._sessionmaker() as session:
            matches = await queries.tournament_match_ids(session, tournament_id)
        planned = 0
        for match_id in matches:
            planned += await self.replan(match_id) is not None
        return planned

    async def replan_all(self) -> int:
        async with self._sessionmaker() as session:
            due = rooms_due(await queries.waiting_for_rooms(session), until=None)
        for item in due:
            self._plan(item.match_id, item.opens_at)
        return len(due)

    def _plan(self, match_id: int, opens_at: datetime) -> None:
        self._scheduler.add_job(
            self._tracked(self.open_room), DateTrigger(run_date=opens_at), args=[match_id],
            id=f"{JOB_PREFIX}{match_id}", replace_existing=True,
            # A job due while the process was busy (or a time already past) still runs.
            misfire_grace_time=None, coalesce=True,
        )

    def _unplan(self, match_id: int) -> None:
        with contextlib.suppress(JobLookupError):
            self._scheduler.remove_job(f"{JOB_PREFIX}{match_id}")

    async def _on_match_event(self, event: MatchEvent) -> None:
        if isinstance(event, MatchCancelledEvent):
            self._unplan(event.match_id)
            return
        await self.replan(event.match_id)

    def on_tournament_changed(self, tournament_id: int) -> None:
        """A hook for the tournament service: re-plan after its settings change."""
        task = asyncio.get_running_loop().create_task(self.replan_tournament(tournament_id))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    # -- opening -----------------------------------------------------------------------------

    async def open_room(self, match_id: int) -> bool:
        """The job: open the match's room if the room service agrees; True if it is open."""
        if match_id in self._opening:
            return False
        self._opening.add(match_id)
        try:
            decision = await self._opener.should_create_room_for_match(
                match_id, self._clock.now()
            )
            if not decision:
                log.info("Match %d: room not opened: %s", match_id, decision.reason)
                return False
            opening = await self._opener.create_race_room_for_match(
                match_id, actor_user_id=self._system_user_id, reason="scheduled"
            )
            return opening.ok
        finally:
            self._opening.discard(match_id)

    async def sweep(self) -> int:
        """Open every overdue room not opened yet (catch-up); report the hopeless ones.
        Returns how many rooms were opened."""
        try:
            await self._opener.reconcile_unfinished()
        except Exception:  # racetime unreachable, a bot not connected yet: the next sweep
            log.exception("Could not reconcile unfinished room openings; trying next sweep")
        now = self._clock.now()
        async with self._sessionmaker() as session:
            overdue = rooms_due(await queries.waiting_for_rooms(session), until=now)
        opened = 0
        for item in overdue:
            if item.starts_at + self._timings.grace < now:
                await self._report_missed(item.match_id, item.starts_at)
                continue
            opened += await self.open_room(item.match_id)
        return opened

    async def _report_missed(self, match_id: int, starts_at: datetime) -> None:
        reason = (
            f"The room was not opened: the match started at <t:{int(starts_at.timestamp())}:F> "
            "and RaceDesk could not open it in time. A moderator can open it with /open-room."
        )
        async with self._event_log.transaction() as outbox:
            tournament_id = await queries.record_room_missed(outbox.session, match_id, reason)
            if tournament_id is not None:
                outbox.add(MatchRoomProblemEvent(
                    match_id=match_id, tournament_id=tournament_id, problem=reason
                ))
        if tournament_id is not None:
            log.warning("Match %d: %s", match_id, reason)
        self._unplan(match_id)

    def _tracked(
        self, job: Callable[..., Awaitable[object]]
    ) -> Callable[..., Awaitable[object]]:
        """``job`` as APScheduler runs it: awaited at stop, its failures logged."""

        async def run(*args: object) -> object:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)  # type: ignore[arg-type]
            try:
                return await job(*args)
            except Exception:
                log.exception("Match room job %s%s failed", job.__name__, args)
                return None
            finally:
                if task is not None:
                    self._running.discard(task)  # type: ignore[arg-type]

        run.__name__ = job.__name__
        return run


__all__ = ["MatchScheduler", "RoomDue", "RoomOpener", "SchedulerTimings", "rooms_due"]
