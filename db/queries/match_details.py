"""What a page of matches shows besides the match rows, for many matches at once.

One query per kind for the whole page (players, room, room claim, seed, breaks, FPA calls)
instead of one per kind and match: ``/match list`` of 25 matches made 150 round trips to the
database, each a turn of the event loop shared with every room's frames (issue 28).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import FpaCall, MatchPlayer, MatchRoomClaim, RaceRoom, RoomBreaks, RoomSeed, User
from db.queries.pages import entrants_of


@dataclass(frozen=True, slots=True)
class MatchDetails:
    """Per match id; a match missing from a mapping has none of that kind."""

    players: dict[int, list[tuple[MatchPlayer, User]]] = field(default_factory=dict)
    rooms: dict[int, RaceRoom] = field(default_factory=dict)
    claims: dict[int, MatchRoomClaim] = field(default_factory=dict)
    seeds: dict[int, RoomSeed] = field(default_factory=dict)  # the latest one rolled
    breaks: dict[int, RoomBreaks] = field(default_factory=dict)
    fpa_calls: dict[int, list[FpaCall]] = field(default_factory=dict)


async def match_details(session: AsyncSession, match_ids: Sequence[int]) -> MatchDetails:
    """Everything :class:`MatchDetails` holds for ``match_ids``, in six queries."""
    ids = sorted(set(match_ids))
    details = MatchDetails()
    if not ids:
        return details
    details.players.update(await entrants_of(session, ids))  # in the order entered
    rooms = await session.execute(select(RaceRoom).where(col(RaceRoom.match_id).in_(ids)))
    for room in rooms.scalars():
        if room.match_id is not None:
            details.rooms[room.match_id] = room
    claims = await session.execute(
        select(MatchRoomClaim).where(col(MatchRoomClaim.match_id).in_(ids))
    )
    details.claims.update((claim.match_id, claim) for claim in claims.scalars())
    seeds = await session.execute(
        select(RoomSeed)
        .where(col(RoomSeed.match_id).in_(ids), col(RoomSeed.rolls) > 0)
        .order_by(col(RoomSeed.id).desc())
    )
    for seed in seeds.scalars():
        if seed.match_id is not None:
            details.seeds.setdefault(seed.match_id, seed)  # the first is the latest
    breaks = await session.execute(
        select(RoomBreaks, col(RaceRoom.match_id))
        .join(RaceRoom, (col(RaceRoom.category) == col(RoomBreaks.category))
              & (col(RaceRoom.slug) == col(RoomBreaks.slug)))
        .where(col(RaceRoom.match_id).in_(ids))
        .order_by(col(RoomBreaks.id))
    )
    for plan, match_id in breaks.all():
        if match_id is not None:
            details.breaks.setdefault(match_id, plan)
    calls = await session.execute(
        select(FpaCall).where(col(FpaCall.match_id).in_(ids)).order_by(col(FpaCall.id))
    )
    for call in calls.scalars():
        if call.match_id is not None:
            details.fpa_calls.setdefault(call.match_id, []).append(call)
    return details
