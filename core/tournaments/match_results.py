"""Race results onto matches: each player's place, time, forfeit or DQ, exactly once.

The results are read from the room's final state (the snapshot the engine committed with the
event that reported it), not pieced together from entrant events: whatever order events are
delivered in, and however often, the match ends up with what racetime shows. A race that
goes back to in progress (an entrant un-finishes) has its results undone until it finishes
again. A room cancelled on racetime lets go of its match, which can then get a new room. A
match cancelled in RaceDesk ignores its room from then on (as live races do): it stays
cancelled and gets no results.
Each status change is handled once per ``event_id``; the match's result event is emitted in
the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.event_store.event_log import DatabaseEventLog, Outbox
from core.event_store.exactly_once import exactly_once_emitting
from core.events import (
    EventDispatcher,
    MatchResultEvent,
    MatchRoomProblemEvent,
    RacetimeRaceStatusChangedEvent,
)
from core.identity import SYSTEM_USER_ID
from core.leadership import NO_FENCE, Fence
from core.race_time import format_race_time
from db.models import Match, MatchPlayer, PlayerStatus, RaceStatus, User
from db.queries.match_rooms import delete_claim
from db.queries.rooms import get_room
from racetime.models import Entrant, Race, race_from_dict

log = logging.getLogger(__name__)

LISTENER = "match-results"
# Entrant statuses that end a player's race; anything else leaves the player unplaced.
FINAL_STATUSES = {PlayerStatus.DONE.value, PlayerStatus.DNF.value, PlayerStatus.DQ.value}
STATUS_WORDS = {PlayerStatus.DNF.value: "forfeit", PlayerStatus.DQ.value: "disqualified"}


@dataclass(frozen=True, slots=True)
class PlayerResult:
    """One match player's outcome as racetime reported it."""

    user_id: int
    name: str
    status: str
    place: int | None
    finish_time: timedelta | None

    def line(self) -> str:
        if self.place is not None and self.finish_time is not None:
            return f"{self.place}. {self.name} {format_race_time(self.finish_time)}"
        return f"{self.name}: {STATUS_WORDS.get(self.status, self.status)}"


def summary_of(results: list[PlayerResult]) -> str:
    """Placed players by place, then the others: the line a notification shows."""
    placed = sorted((r for r in results if r.place is not None), key=lambda r: r.place or 0)
    others = [r for r in results if r.place is None]
    return " · ".join(r.line() for r in [*placed, *others]) or "No results"


class MatchResults:
    def __init__(
        self,
        event_log: DatabaseEventLog,
        *,
        racetime_url: str = "https://racetime.gg",
        fence: Fence = NO_FENCE,
    ) -> None:
        """``fence``: results are recorded by the leader only (``core.leadership``)."""
        self._event_log = event_log
        self._racetime_url = racetime_url.rstrip("/")  # racetime's race URLs are paths
        self._fence = fence

    def subscribe(self, dispatcher: EventDispatcher) -> None:
        dispatcher.subscribe(
            RacetimeRaceStatusChangedEvent,
            exactly_once_emitting(
                self._event_log, LISTENER, self._on_status, fence=self._fence
            ),
        )

    async def _on_status(self, outbox: Outbox, event: RacetimeRaceStatusChangedEvent) -> None:
        if event.match_id is None:
            return
        session = outbox.session
        match = await session.get(Match, event.match_id, with_for_update=True)
        if match is None or match.status == RaceStatus.CANCELLED.value:
            # Called off (its room may rightly stay open): whatever the room does no longer
            # counts, so no status change, no results, no result event (no DMs, no post).
            return
        if event.new_status == "finished":
            await self._finished(outbox, match, event)
        elif event.old_status == "finished" and event.new_status == "in_progress":
            race = await room_snapshot(session, event)
            await _sync_players(session, event.match_id, race, final=False)
            match.status = RaceStatus.IN_PROGRESS.value
            log.info("Match %s: the race is under way again; its results are undone", match.id)
        elif event.new_status == "in_progress":
            match.status = RaceStatus.IN_PROGRESS.value
        elif event.new_status == "cancelled":
            await self._room_cancelled(outbox, match, event)

    async def _finished(
        self, outbox: Outbox, match: Match, event: RacetimeRaceStatusChangedEvent
    ) -> None:
        session = outbox.session
        race = await room_snapshot(session, event)
        if race is None or race.status.value != "finished":
            # The room moved on since (un-finished): the event that says so settles it.
            return
        assert match.id is not None
        results = await _sync_players(session, match.id, race, final=True)
        match.status = RaceStatus.FINISHED.value
        outbox.add(
            MatchResultEvent(
                user_id=SYSTEM_USER_ID,  # recorded by automation, from racetime's standings
                match_id=match.id,
                tournament_id=match.tournament_id,
                summary=summary_of(results),
                room_url=f"{self._racetime_url}/{event.category}/{event.room_slug}",
            )
        )
        log.info("Match %s finished: %s", match.id, summary_of(results))


    async def _room_cancelled(
        self, outbox: Outbox, match: Match, event: RacetimeRaceStatusChangedEvent
    ) -> None:
        """The room was cancelled on racetime (not the match): it is let go, so the match can
        be given a new room, and the match and the announcement say so."""
        session = outbox.session
        room = await get_room(session, event.category, event.room_slug)
        if room is not None and room.match_id == match.id:
            room.match_id = None  # one room per match: this one no longer counts
        assert match.id is not None
        await delete_claim(session, match.id)
        await _sync_players(session, match.id, None, final=False)
        match.status = RaceStatus.SCHEDULED.value
        problem = (
            f"The race room {event.room_name} was cancelled on racetime.gg. "
            "A moderator can open a new one with `/open-room`."
        )
        match.room_error = problem
        outbox.add(MatchRoomProblemEvent(
            user_id=SYSTEM_USER_ID, match_id=match.id, tournament_id=match.tournament_id,
            problem=problem,
        ))
        log.info("Match %s: its room %s was cancelled", match.id, event.room_name)


async def _players(session: AsyncSession, match_id: int) -> list[tuple[MatchPlayer, User]]:
    result = await session.execute(
        select(MatchPlayer, User)
        .join(User, col(User.id) == col(MatchPlayer.user_id))
        .where(col(MatchPlayer.match_id) == match_id)
    )
    return [(player, user) for player, user in result.all()]


async def room_snapshot(
    session: AsyncSession, event: RacetimeRaceStatusChangedEvent
) -> Race | None:
    """The room's last committed state (at least as new as ``event``)."""
    room = await get_room(session, event.category, event.room_slug)
    return race_from_dict(room.last_race_data) if room and room.last_race_data else None


async def _sync_players(
    session: AsyncSession, match_id: int, race: Race | None, *, final: bool
) -> list[PlayerResult]:
    """Each player's status as the room shows it; places and times only when ``final``.
    Returns the results of the players whose race is over."""
    by_racetime_id: dict[str, Entrant] = {
        entrant.user.id: entrant
        for entrant in (race.entrants if race is not None else [])
        if entrant.user is not None
    }
    results = []
    for player, user in await _players(session, match_id):
        entrant = by_racetime_id.get(user.racetime_id or "")
        player.place, player.finish_time = None, None
        if entrant is None:
            continue
        status = entrant.status.value
        finished = final and status == PlayerStatus.DONE.value
        player.status = status
        player.place = entrant.place if finished else None
        player.finish_time = entrant.finish_duration() if finished else None
        if final and status in FINAL_STATUSES:
            assert user.id is not None
            name = (entrant.user.name if entrant.user else None) or user.racetime_name or "?"
            results.append(
                PlayerResult(user.id, name, status, player.place, player.finish_time)
            )
    return results


__all__ = [
    "FINAL_STATUSES", "LISTENER", "MatchResults", "PlayerResult", "format_race_time",
    "room_snapshot", "summary_of",
]
