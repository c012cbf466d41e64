"""``!match``: one line about the room's match or live race, for racetime's chat (plain text,
times in UTC: racetime shows no Discord timestamps)."""

from __future__ import annotations

from core.live_races.live_races import LiveRaceService
from core.times.formatting import utc_text
from core.tournaments.match_info import MatchInfo
from core.tournaments.matches import MatchService


def match_line(match: MatchInfo) -> str:
    players = " vs ".join(
        p.racetime_name or "a player not linked to racetime.gg" for p in match.players
    ) or "no players yet"
    when = utc_text(match.scheduled_at) if match.scheduled_at else "no time set"
    rules = ["invitational" if match.invitational else "open room"]
    return (
        f"{match.tournament} · {match.title} (match #{match.id}) · {players} · {when} · "
        f"Goal: {match.goal} · {', '.join(rules)}"
    )


class Describer:
    def __init__(self, matches: MatchService, live_races: LiveRaceService) -> None:
        self._matches = matches
        self._live_races = live_races

    async def match(self, guild_id: int, match_id: int) -> str:
        return match_line(await self._matches.info(guild_id, match_id))

    async def live_race(self, guild_id: int, live_race_id: int) -> str:
        race = await self._live_races.info(guild_id, live_race_id)
        pool = f" · pool {race.pool}" if race.pool else ""
        rules = ["invitational" if race.invitational else "open room"]
        if race.streaming_required:
            rules.append("streaming required")
        return (
            f"{race.tournament} · live race #{race.id}{pool} · {utc_text(race.scheduled_at)} · "
            f"Goal: {race.goal} · {', '.join(rules)}"
        )
