"""Opening match rooms on time: one APScheduler job per match at its room's opening time
(match time minus the tournament's "room open minutes before"), re-planned when the match is
rescheduled or cancelled or its tournament's settings change; the sweep and the rest are
:class:`core.rooms.scheduler.RoomScheduler`'s.

Whether a room may be opened, and opening it exactly once, is the room service's job
(:class:`RoomOpener`): the scheduler only decides when to ask.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import NOT_ASSIGNED_LIKE, Actor
from core.clock import Clock
from core.event_store.event_log import DatabaseEventLog
from core.events import (
    EventDispatcher,
    MatchCancelledEvent,
    MatchEvent,
    MatchRescheduledEvent,
    MatchRoomProblemEvent,
    MatchScheduledEvent,
)
from core.identity import SYSTEM_USER_ID
from core.outage import DatabaseWatch
from core.rooms.match_rooms import Reason
from core.rooms.rules import Refusal, auto_create, room_opens_at
from core.rooms.scheduler import (
    Due,
    Opening,
    RoomScheduler,
    SchedulerTimings,
    Verdict,
)
from db.models import Match, Tournament
from db.queries import match_schedule as queries

log = logging.getLogger(__name__)

JOB_PREFIX = "match-room:"
SWEEP_JOB = "match-room-sweep"


class RoomOpener(Protocol):
    async def should_create_room_for_match(
        self, match_id: int, now: datetime | None = None
    ) -> Verdict: ...

    async def create_race_room_for_match(
        self, match_id: int, *, actor_user_id: int | None, reason: Reason, actor: Actor | None
    ) -> Opening: ...

    async def record_problem(self, match_id: int, problem: str) -> bool:
        """Record (once per distinct problem) why the match's room was not opened."""
        ...

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


class MatchScheduler(RoomScheduler):
    job_prefix = JOB_PREFIX
    sweep_job = SWEEP_JOB
    noun = "Match"

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        event_log: DatabaseEventLog,
        opener: RoomOpener,
        *,
        system_user_id: int,
        clock: Clock | None = None,
        timings: SchedulerTimings | None = None,
        outage: DatabaseWatch | None = None,
    ) -> None:
        super().__init__(sessionmaker, event_log, clock=clock, timings=timings, outage=outage)
        self._opener = opener
        self._system_user_id = system_user_id

    def subscribe(self, dispatcher: EventDispatcher) -> None:
        """Re-plan a match's job whenever it is scheduled, moved or cancelled."""
        for kind in (MatchScheduledEvent, MatchRescheduledEvent, MatchCancelledEvent):
            dispatcher.subscribe(kind, self._on_match_event)

    async def replan_tournament(self, tournament_id: int) -> int:
        """Re-plan a tournament's matches (its settings changed); returns how many are planned."""
        async with self._sessionmaker() as session:
            matches = await queries.tournament_match_ids(session, tournament_id)
        planned = 0
        for match_id in matches:
            planned += await self.replan(match_id) is not None
        return planned

    async def _on_match_event(self, event: MatchEvent) -> None:
        if isinstance(event, MatchCancelledEvent):
            self._unplan(event.match_id)
            return
        await self.replan(event.match_id)

    def on_tournament_changed(self, tournament_id: int) -> None:
        """A hook for the tournament service: re-plan after its settings change."""
        self._in_background(self.replan_tournament(tournament_id))

    # -- the room scheduler's questions --------------------------------------------------------

    async def _waiting(self, session: AsyncSession, subject_id: int | None = None) -> list[Due]:
        rows = await queries.waiting_for_rooms(session, subject_id, retrying=NOT_ASSIGNED_LIKE)
        return [Due(r.match_id, r.opens_at, r.starts_at) for r in rooms_due(rows, until=None)]

    async def _decide(self, subject_id: int, now: datetime) -> Verdict:
        return await self._opener.should_create_room_for_match(subject_id, now)

    async def _create(self, subject_id: int) -> Opening:
        # The scheduler asks the access policy as RaceDesk's own automation.
        return await self._opener.create_race_room_for_match(
            subject_id, actor_user_id=self._system_user_id, reason="scheduled",
            actor=Actor.system(),
        )

    async def _record_problem(self, subject_id: int, problem: str) -> None:
        await self._opener.record_problem(subject_id, problem)

    async def _not_opened(self, subject_id: int, verdict: Verdict) -> None:
        """A bot no longer assigned to the server is the organizers' to fix: recorded on the
        match (``/match info``) and told to the staff channel, once; asked again each sweep."""
        if getattr(verdict, "code", None) is Refusal.BOT_NOT_ASSIGNED:
            await self._opener.record_problem(subject_id, verdict.reason)

    async def _reconcile(self) -> None:
        await self._opener.reconcile_unfinished()

    async def _report_missed(self, subject_id: int, starts_at: datetime) -> None:
        reason = (
            f"The room was not opened: the match started at <t:{int(starts_at.timestamp())}:F> "
            "and RaceDesk could not open it in time. A moderator can open it with /open-room."
        )
        async with self._event_log.transaction() as outbox:
            tournament_id = await queries.record_room_missed(
                outbox.session, subject_id, reason, retrying=NOT_ASSIGNED_LIKE
            )
            if tournament_id is not None:
                outbox.add(MatchRoomProblemEvent(
                    user_id=SYSTEM_USER_ID, match_id=subject_id, tournament_id=tournament_id,
                    problem=reason,
                ))
        if tournament_id is not None:
            log.warning("Match %d: %s", subject_id, reason)


__all__ = ["MatchScheduler", "RoomDue", "RoomOpener", "SchedulerTimings", "rooms_due"]
