"""A live race follows its room: started, finished (each eligible entrant's run recorded),
un-finished (the runs undone), or cancelled on racetime.

Like match results, the runs are read from the room's final state (the snapshot committed
with the event that reported it), so whatever order the events come in, and after a restart
(the engine reports what changed while RaceDesk was down), the runs are what racetime shows.
Each room status change is handled once per ``event_id`` (``exactly_once_emitting``), and the
live race's own event is emitted in the same transaction, with an id derived from it.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from core.event_store.event_log import DatabaseEventLog, Outbox
from core.event_store.exactly_once import exactly_once_emitting
from core.events import (
    AsyncLiveRaceCancelledEvent,
    AsyncLiveRaceFinishedEvent,
    AsyncLiveRaceStartedEvent,
    EventDispatcher,
    RacetimeRaceStatusChangedEvent,
)
from core.identity import SYSTEM_USER_ID
from core.leadership import NO_FENCE, Fence
from core.live_races import rules
from core.tournaments.match_results import (
    FINAL_STATUSES,
    PlayerResult,
    room_snapshot,
    summary_of,
)
from db.models import AsyncLiveRace, AsyncPoolRun, PlayerStatus, RaceStatus
from db.queries import async_tournaments as queries

log = logging.getLogger(__name__)

LISTENER = "live-race-status"
ROOM_CANCELLED = "The race room was cancelled on racetime.gg."


def derived_id(kind: type, live_race_id: int, source_event_id: str) -> str:
    """The id of a live race event caused by a room event: the same on a repeat, different
    for a second finish after an un-finish."""
    digest = hashlib.sha256(source_event_id.encode()).hexdigest()[:32]
    return f"{kind.__name__}:{live_race_id}:{digest}"


class LiveRaceResults:
    def __init__(
        self,
        event_log: DatabaseEventLog,
        *,
        racetime_url: str = "https://racetime.gg",
        fence: Fence = NO_FENCE,
    ) -> None:
        """``fence``: results are recorded by the leader only (``core.leadership``)."""
        self._event_log = event_log
        self._racetime_url = racetime_url.rstrip("/")
        self._fence = fence

    def subscribe(self, dispatcher: EventDispatcher) -> None:
        dispatcher.subscribe(
            RacetimeRaceStatusChangedEvent,
            exactly_once_emitting(
                self._event_log, LISTENER, self._on_status, fence=self._fence
            ),
        )

    async def _on_status(self, outbox: Outbox, event: RacetimeRaceStatusChangedEvent) -> None:
        if event.live_race_id is None:
            return
        session = outbox.session
        race = await session.get(AsyncLiveRace, event.live_race_id, with_for_update=True)
        if race is None or race.status == RaceStatus.CANCELLED.value:
            return  # called off: whatever the room does no longer counts
        url = f"{self._racetime_url}/{event.category}/{event.room_slug}"
        common: dict[str, Any] = {
            "live_race_id": event.live_race_id, "tournament_id": race.tournament_id,
            "pool_id": race.pool_id, "scheduled_at": race.scheduled_at,
            "user_id": SYSTEM_USER_ID,
        }
        if event.new_status == "finished":
            await self._finished(outbox, race, event, url, common)
        elif event.old_status == "finished" and event.new_status == "in_progress":
            assert race.id is not None
            await queries.delete_runs_of_race(session, race.id)
            race.status = RaceStatus.IN_PROGRESS.value
            log.info("Live race %s: the race is under way again; its runs are undone", race.id)
        elif event.new_status == "in_progress":
            race.status = RaceStatus.IN_PROGRESS.value
            eligible = await rules.eligible_users(session, race)
            outbox.add(AsyncLiveRaceStartedEvent(
                **common, room_slug=event.room_slug, room_url=url,
                participant_count=len(eligible),
                event_id=derived_id(AsyncLiveRaceStartedEvent, race.id or 0, event.event_id),
            ))
        elif event.new_status == "cancelled":
            race.status, race.cancelled_reason = RaceStatus.CANCELLED.value, ROOM_CANCELLED
            outbox.add(AsyncLiveRaceCancelledEvent(
                **common, reason=ROOM_CANCELLED, room_slug=event.room_slug, room_url=url,
                event_id=derived_id(AsyncLiveRaceCancelledEvent, race.id or 0, event.event_id),
            ))
            log.info("Live race %s: its room %s was cancelled", race.id, event.room_name)

    async def _finished(
        self,
        outbox: Outbox,
        race: AsyncLiveRace,
        event: RacetimeRaceStatusChangedEvent,
        url: str,
        common: dict[str, object],
    ) -> None:
        """Each eligible entrant's final status, time and place become their run."""
        session = outbox.session
        snapshot = await room_snapshot(session, event)
        if snapshot is None or snapshot.status.value != "finished":
            return  # un-finished since: the event that says so settles it
        assert race.id is not None
        await queries.delete_runs_of_race(session, race.id)
        await session.flush()
        eligible = {u.racetime_id: u for u in await rules.eligible_users(session, race)}
        results = []
        for entrant in snapshot.entrants:
            user = eligible.get(entrant.user.id if entrant.user else None)
            status = entrant.status.value
            if user is None or status not in FINAL_STATUSES:
                continue
            assert user.id is not None
            done = status == PlayerStatus.DONE.value
            place = entrant.place if done else None
            finish = entrant.finish_duration() if done else None
            session.add(AsyncPoolRun(
                pool_id=race.pool_id, user_id=user.id, live_race_id=race.id, status=status,
                place=place, finish_time=finish, event_id=event.event_id[:200],
            ))
            name = (entrant.user.name if entrant.user else None) or user.racetime_name or "?"
            results.append(PlayerResult(user.id, name, status, place, finish))
        race.status = RaceStatus.FINISHED.value
        summary = summary_of(results)
        outbox.add(AsyncLiveRaceFinishedEvent(
            # (ignored below: common holds the race's own fields)
            **common, room_slug=event.room_slug, room_url=url,  # type: ignore[arg-type]
            participant_count=len(results),
            finisher_count=sum(1 for r in results if r.status == PlayerStatus.DONE.value),
            summary=summary,
            event_id=derived_id(AsyncLiveRaceFinishedEvent, race.id, event.event_id),
        ))
        log.info("Live race %s finished: %s", race.id, summary)


__all__ = ["LISTENER", "LiveRaceResults", "derived_id"]
