"""Which server a race room belongs to: the server of its match's tournament, or of its live
race's async tournament. A room of neither (one racetime showed a bot, say) is no server's.
Never commit: the service owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.models import AsyncLiveRace, AsyncTournament, Match, RaceRoom, Tournament


async def room_servers(session: AsyncSession, names: Iterable[str]) -> dict[str, int]:
    """``category/slug`` -> server id, for the rooms among ``names`` that belong to one."""
    wanted = set(names)
    if not wanted:
        return {}
    slugs = {name.partition("/")[2] for name in wanted}
    of_matches = (
        select(col(RaceRoom.category), col(RaceRoom.slug), col(Tournament.guild_id))
        .join(Match, col(Match.id) == col(RaceRoom.match_id))
        .join(Tournament, col(Tournament.id) == col(Match.tournament_id))
        .where(col(RaceRoom.slug).in_(slugs))
    )
    of_live_races = (
        select(col(RaceRoom.category), col(RaceRoom.slug), col(AsyncTournament.guild_id))
        .join(AsyncLiveRace, col(AsyncLiveRace.id) == col(RaceRoom.live_race_id))
        .join(AsyncTournament, col(AsyncTournament.id) == col(AsyncLiveRace.tournament_id))
        .where(col(RaceRoom.slug).in_(slugs))
    )
    found: dict[str, int] = {}
    for query in (of_matches, of_live_races):
        for category, slug, guild_id in (await session.execute(query)).all():
            name = f"{category}/{slug}"
            if name in wanted:
                found[name] = guild_id
    return found
