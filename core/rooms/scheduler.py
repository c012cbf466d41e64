"""Opening rooms on time, whatever they are for: one APScheduler job per subject (a match, a
live race) at its room's opening time, and a sweep every minute.

Jobs are re-planned when their subject changes and rebuilt from the database at start-up.
The sweep first lets the room service finish openings a stopped process left half done, then
opens whatever is overdue and not opened (RaceDesk was down, a job was lost); a subject whose
start plus a grace period has passed is reported instead of opened, since a room that late
helps nobody. A job or sweep that meets the database away (``core.outage``) records nothing
on its subject: once the database is back it sweeps again. Whether a room may be opened, and
opening it exactly once, is the room service's job: a scheduler only decides when to ask.
Subclasses say what is due and how to ask
(:class:`core.rooms.match_scheduler.MatchScheduler`,
:class:`core.live_races.rooms.LiveRaceScheduler`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock, SystemClock
from core.event_store.event_log import DatabaseEventLog
from core.outage import DatabaseUnavailableError, DatabaseWatch
from db.sqlite_driver import urgent_writes

log = logging.getLogger(__name__)


class Verdict(Protocol):
    """What a room service answers when asked whether to open now: truthy to open."""

    @property
    def reason(self) -> str: ...

    def __bool__(self) -> bool: ...


class Opening(Protocol):
    """What a room service answers when asked to open a room."""

    @property
    def ok(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Due:
    """A subject (match, live race) whose room RaceDesk is to open at ``opens_at``."""

    subject_id: int
    opens_at: datetime
    starts_at: datetime


@dataclass(frozen=True, slots=True)
class SchedulerTimings:
    sweep_seconds: float = 60.0
    # Past the start by this much, a room is reported as missed, not opened.
    grace: timedelta = timedelta(minutes=15)


class RoomScheduler:
    job_prefix: ClassVar[str]  # ``match-room:``: a job's id is the prefix and the subject's id
    sweep_job: ClassVar[str]
    noun: ClassVar[str]  # ``Match``: how the log names a subject

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        event_log: DatabaseEventLog,
        *,
        clock: Clock | None = None,
        timings: SchedulerTimings | None = None,
        outage: DatabaseWatch | None = None,
    ) -> None:
        self._outage = outage
        self._sessionmaker = sessionmaker
        self._event_log = event_log
        self._clock = clock or SystemClock()
        self._timings = timings or SchedulerTimings()
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._running: set[asyncio.Task[object]] = set()
        self._opening: set[int] = set()  # subjects this process is asking about right now
        self._catching_up: asyncio.Task[object] | None = None  # the sweep start() began

    # -- what subclasses say ---------------------------------------------------------------

    async def _waiting(self, session: AsyncSession, subject_id: int | None = None) -> list[Due]:
        """Subjects (one, or all) whose rooms open automatically and are not open yet."""
        raise NotImplementedError

    async def _decide(self, subject_id: int, now: datetime) -> Verdict:
        raise NotImplementedError

    async def _create(self, subject_id: int) -> Opening:
        raise NotImplementedError

    async def _reconcile(self) -> None:
        """Finish openings a stopped process left half done (look on racetime first)."""
        raise NotImplementedError

    async def _report_missed(self, subject_id: int, starts_at: datetime) -> None:
        raise NotImplementedError

    async def _not_opened(self, subject_id: int, verdict: Verdict) -> None:
        """The room service said no: record what organizers must fix (default: nothing)."""

    async def _record_problem(self, subject_id: int, problem: str) -> None:
        """Record why the subject's room was not opened (its readers and staff see it)."""
        raise NotImplementedError

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Plan every subject waiting for a room, then sweep once for overdue ones.

        That first sweep (the rooms that fell due while no process ran them) runs in the
        background: opening them takes a round trip to racetime each, and the parts that
        start after this one (a new leader's Discord connection, its DMs, its readiness)
        need not wait for it."""
        self._scheduler.start()
        planned = await self.replan_all()
        self._scheduler.add_job(
            self._tracked(self.sweep), IntervalTrigger(seconds=self._timings.sweep_seconds),
            id=self.sweep_job, replace_existing=True, coalesce=True, max_instances=1,
        )
        log.info("%s room scheduler started: %d rooms planned", self.noun, planned)
        catch_up: asyncio.Task[object] = asyncio.get_running_loop().create_task(
            self._catch_up(), name=f"{self.sweep_job}:start"
        )
        self._catching_up = catch_up
        self._running.add(catch_up)  # awaited at stop
        catch_up.add_done_callback(self._running.discard)

    async def _catch_up(self) -> object:
        return await self._tracked(self.sweep)()  # (its failure is logged, not raised)

    async def caught_up(self) -> None:
        """Wait for the sweep :meth:`start` began (the rooms that fell due meanwhile)."""
        if self._catching_up is not None:
            await asyncio.shield(self._catching_up)

    async def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    # -- planning ----------------------------------------------------------------------------

    async def due(self, until: datetime | None = None) -> list[Due]:
        """What waits for a room and falls due by ``until`` (``None``: whenever), soonest
        first."""
        async with self._sessionmaker() as session:
            waiting = await self._waiting(session)
        due = [item for item in waiting if until is None or item.opens_at <= until]
        return sorted(due, key=lambda item: (item.opens_at, item.subject_id))

    def planned_at(self, subject_id: int) -> datetime | None:
        """When the subject's job will run (``None``: no job)."""
        job = self._scheduler.get_job(f"{self.job_prefix}{subject_id}")
        return job.next_run_time if job is not None else None

    async def replan(self, subject_id: int) -> datetime | None:
        """(Re)plan one subject's job from the database; returns its time, or ``None``."""
        async with self._sessionmaker() as session:
            due = await self._waiting(session, subject_id)
        if not due:
            self._unplan(subject_id)
            return None
        self._plan(subject_id, due[0].opens_at)
        return due[0].opens_at

    async def replan_all(self) -> int:
        due = await self.due()
        for item in due:
            self._plan(item.subject_id, item.opens_at)
        return len(due)

    def _plan(self, subject_id: int, opens_at: datetime) -> None:
        self._scheduler.add_job(
            self._tracked(self.open_room), DateTrigger(run_date=opens_at), args=[subject_id],
            id=f"{self.job_prefix}{subject_id}", replace_existing=True,
            # A job due while the process was busy (or a time already past) still runs.
            misfire_grace_time=None, coalesce=True,
        )

    def _unplan(self, subject_id: int) -> None:
        with contextlib.suppress(JobLookupError):
            self._scheduler.remove_job(f"{self.job_prefix}{subject_id}")

    def _in_background(self, work: Coroutine[Any, Any, object]) -> None:
        """Run ``work`` as a task kept until it ends (and awaited at stop)."""
        task = asyncio.get_running_loop().create_task(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    # -- opening -----------------------------------------------------------------------------

    async def open_room(self, subject_id: int) -> bool:
        """The job: open the room if the room service agrees; True if it is open."""
        if subject_id in self._opening:
            return False
        self._opening.add(subject_id)
        try:
            with urgent_writes():  # due now: its writes go before background ones
                return await self._open_if_agreed(subject_id)
        finally:
            self._opening.discard(subject_id)

    async def _open_if_agreed(self, subject_id: int) -> bool:
        decision = await self._decide(subject_id, self._clock.now())
        if not decision:
            log.info("%s %d: room not opened: %s", self.noun, subject_id, decision.reason)
            await self._not_opened(subject_id, decision)
            return False
        return (await self._create(subject_id)).ok

    async def sweep(self) -> int:
        """Open every overdue room not opened yet (catch-up); report the hopeless ones.
        Returns how many rooms were opened."""
        try:
            await self._reconcile()
        except Exception as error:  # racetime unreachable, a bot not connected yet: the next sweep
            if await self._database_away(error):
                raise
            log.exception("Could not reconcile unfinished room openings; trying next sweep")
        now = self._clock.now()
        opened = 0
        for item in await self.due(until=now):
            # Each subject on its own: one that fails is logged and recorded, and the sweep
            # goes on to the next (rather than leaving them all to the next sweep).
            try:
                if item.starts_at + self._timings.grace < now:
                    await self._report_missed(item.subject_id, item.starts_at)
                    self._unplan(item.subject_id)
                    continue
                opened += await self.open_room(item.subject_id)
            except Exception as error:
                if await self._database_away(error):
                    raise  # not the subject's problem: the whole sweep runs again once back
                log.exception("%s %d: the sweep could not open its room", self.noun,
                              item.subject_id)
                await self._record_failure(item.subject_id, error)
        return opened

    async def _record_failure(self, subject_id: int, error: Exception) -> None:
        """Record an unexpected failure on the subject (its type only: the traceback is in
        the log), so organizers see it; never raises."""
        problem = (
            f"Opening the room failed: an unexpected error ({type(error).__name__}). "
            "A moderator can try again with `/open-room`."
        )
        try:
            await self._record_problem(subject_id, problem)
        except Exception:
            log.exception("%s %d: could not record its room problem", self.noun, subject_id)

    async def _database_away(self, error: BaseException) -> bool:
        return self._outage is not None and await self._outage.confirm_outage(error)

    async def _sweep_once_back(self) -> int | None:
        """A job met the database away: once it is back, sweep (which finishes an opening
        left half done and opens what fell due), as often as the database goes away again;
        None if RaceDesk stops first."""
        assert self._outage is not None
        log.info("%s room scheduler: waiting for the database, then sweeping", self.noun)
        try:
            return await self._outage.ride_out(self.sweep, f"{self.noun} room sweep")
        except DatabaseUnavailableError:
            return None

    def _tracked(
        self, job: Callable[..., Awaitable[object]]
    ) -> Callable[..., Awaitable[object]]:
        """``job`` as APScheduler runs it: awaited at stop, its failures logged."""

        async def run(*args: object) -> object:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                try:
                    return await job(*args)
                except Exception as error:
                    if not await self._database_away(error):
                        raise
                return await self._sweep_once_back()
            except Exception:
                log.exception("%s room job %s%s failed", self.noun, job.__name__, args)
                return None
            finally:
                if task is not None:
                    self._running.discard(task)

        run.__name__ = job.__name__
        return run


__all__ = ["Due", "Opening", "RoomScheduler", "SchedulerTimings", "Verdict"]
