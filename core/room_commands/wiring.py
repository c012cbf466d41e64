"""Building the race-room chat commands from the services they stand on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy
from core.audit import AuditService
from core.clock import Clock
from core.event_store.event_log import DatabaseEventLog
from core.events import EventDispatcher
from core.live_races.live_races import LiveRaceService
from core.room_commands.breaks import Breaks
from core.room_commands.describe import Describer
from core.room_commands.fpa import FairPlay
from core.room_commands.seeds import RoomSeeds, SeedSource
from core.room_commands.service import RoomCommands
from core.tournaments.matches import MatchService
from racetime.manager import RacetimeManager
from racetime.models import parse_racetime_datetime, parse_racetime_duration


@dataclass(frozen=True, slots=True)
class RoomCommandServices:
    commands: RoomCommands
    seeds: RoomSeeds
    fair_play: FairPlay
    breaks: Breaks


def build_room_commands(
    sessionmaker: async_sessionmaker[AsyncSession],
    event_log: DatabaseEventLog,
    dispatcher: EventDispatcher,
    audit: AuditService,
    access: AccessPolicy,
    clock: Clock,
    engine: RacetimeManager,
    seed_source: SeedSource,
    matches: MatchService,
    live_races: LiveRaceService,
    *,
    racetime_url: str,
) -> RoomCommandServices:
    async def send(room_name: str, text: str, guid: str) -> None:
        room = await engine.room(room_name)
        await room.send_message(text, guid=guid)

    async def race_of(
        room_name: str,
    ) -> tuple[str | None, datetime | None, timedelta | None]:
        race = (await engine.room(room_name)).last_race
        if race is None:
            return None, None, None
        return (
            race.status.value,
            parse_racetime_datetime(race.started_at),
            parse_racetime_duration(race.time_limit),
        )

    seeds = RoomSeeds(sessionmaker, event_log, seed_source, audit, clock)
    fair_play = FairPlay(sessionmaker, event_log, audit, clock, access)
    breaks = Breaks(sessionmaker, clock, send, race_of, audit)
    describer = Describer(matches, live_races)
    commands = RoomCommands(
        sessionmaker, access, engine.room, seeds, fair_play, breaks,
        describe_match=describer.match, describe_live_race=describer.live_race,
        racetime_url=racetime_url,
    )
    commands.subscribe(dispatcher)
    return RoomCommandServices(commands, seeds, fair_play, breaks)
