"""``/match info``'s "why has the room not opened?", answered by the room service itself.

The match's own data explains most refusals best (with what to do about them); the room
service adds what only it knows: the category bot's health, an opening under way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from core.rooms.rules import Decision, Refusal
from core.tournaments.match_info import MatchInfo, RoomStatus, default_room_reason

# Refusals only the room service can see; the others read better from the match's data.
_ROOM_SERVICE_KNOWS = {
    Refusal.ARCHIVED,
    Refusal.BOT_NOT_ASSIGNED, Refusal.NO_BOT, Refusal.BOT_INACTIVE, Refusal.BOT_UNHEALTHY,
    Refusal.BOT_NOT_RUNNING,
    Refusal.OPENING, Refusal.ROOM_EXISTS,
}


_BOT_TROUBLE = {
    Refusal.BOT_NOT_ASSIGNED, Refusal.NO_BOT, Refusal.BOT_INACTIVE, Refusal.BOT_UNHEALTHY,
    Refusal.BOT_NOT_RUNNING,
}


class RoomDecider(Protocol):
    async def should_create_room_for_match(
        self, match_id: int, now: datetime | None = None
    ) -> Decision: ...


class RoomServiceReadiness:
    """A :class:`core.tournaments.match_info.RoomReadiness` backed by the room service."""

    def __init__(self, rooms: RoomDecider) -> None:
        self._rooms = rooms

    async def why_no_room(self, match: MatchInfo, now: datetime) -> str | None:
        if match.is_closed or match.room.status not in (RoomStatus.NONE, RoomStatus.FAILED):
            return None
        decision = await self._rooms.should_create_room_for_match(match.id, now)
        if decision:
            return "The room is due now: RaceDesk opens it within a minute."
        from_match = default_room_reason(match, now)
        if decision.code not in _ROOM_SERVICE_KNOWS:
            return from_match or decision.reason
        if decision.code in _BOT_TROUBLE and match.opens_at is not None and now < match.opens_at:
            # Not due yet anyway: say when, and what would stop it then.
            return f"{from_match} Right now, though: {decision.reason}"
        return decision.reason
