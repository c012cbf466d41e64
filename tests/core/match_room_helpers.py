"""A tournament, a match and its players in the database, and the room service over the
engine and the fake racetime server."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import NullPool

from core.access import AccessPolicy
from core.clock import Clock, SystemClock
from core.event_store.event_log import DatabaseEventLog
from core.events import EventDispatcher
from core.leadership import NO_FENCE, Fence
from core.racetime_bots.bots import RacetimeBotService
from core.racetime_bots.room_store import DatabaseRoomStore
from core.racetime_bots.status import BotStatusRepository
from core.rooms.match_rooms import MatchRoomService, OpenRetry
from db.engine import create_engine, create_sessionmaker
from db.models import Match, MatchPlayer, Tournament, User
from db.queries.bot_guilds import assign_bot_to_guild
from db.queries.bots import get_bot_by_category
from db.secrets import SecretBox
from racetime.backoff import Backoff
from racetime.client import RacetimeClient
from racetime.manager import RacetimeManager
from tests.plugins.racetime_engine import FAST, FAST_RETRY, EngineEnv

_discord_ids = itertools.count(900_000_000_000_000_001)

# Retries without waiting: the tests count attempts, not seconds.
NO_WAIT = OpenRetry(attempts=3, backoff=Backoff(base=0.0, cap=0.0))


@dataclass
class MatchSetup:
    match_id: int
    tournament_id: int
    linked: list[str]  # racetime ids
    unlinked_user_ids: list[int]


async def add_match(
    env: EngineEnv,
    *,
    scheduled_at: datetime,
    linked: tuple[str, ...] = ("RacerOne", "RacerTwo"),
    unlinked: int = 1,
    settings: dict[str, object] | None = None,
    tournament_name: str = "Spring Cup",
    title: str = "RacerOne vs RacerTwo",
    **match_fields: object,
) -> MatchSetup:
    """A tournament (auto-created rooms on by default) with one match and its players."""
    users = env.fake.seed.users
    async with env.sessionmaker.begin() as session:
        tournament = Tournament(
            guild_id=111111111111111111,
            name=tournament_name,
            racetime_category="alttpr",
            racetime_goal="Any% NMG",
            settings={"auto_create_rooms": True} if settings is None else settings,
        )
        session.add(tournament)
        await session.flush()
        assert tournament.id is not None
        await assign_bot(session, tournament.racetime_category, tournament.guild_id)
        match = Match(
            tournament_id=tournament.id, title=title, scheduled_at=scheduled_at, **match_fields
        )
        session.add(match)
        players = [
            User(
                discord_id=next(_discord_ids), racetime_id=users[name],
                racetime_name=f"{name}#1234",
            )
            for name in linked
        ]
        players += [User(discord_id=next(_discord_ids)) for _ in range(unlinked)]
        session.add_all(players)
        await session.flush()
        assert match.id is not None
        session.add_all(MatchPlayer(match_id=match.id, user_id=p.id) for p in players)  # type: ignore[arg-type]
    return MatchSetup(
        match_id=match.id,
        tournament_id=tournament.id,
        linked=[users[name] for name in linked],
        unlinked_user_ids=[p.id for p in players[len(linked):] if p.id is not None],
    )


async def assign_bot(session: AsyncSession, category: str, guild_id: int) -> None:
    """Let the server use the category's bot (as ``/racetime bot assign`` does), if the bot
    exists yet: rooms are opened only with a bot assigned to the match's server."""
    bot = await get_bot_by_category(session, category)
    if bot is not None and bot.id is not None:
        await assign_bot_to_guild(session, bot.id, guild_id)


def room_service(
    env: EngineEnv,
    manager: RacetimeManager,
    clock: Clock | None = None,
    access: AccessPolicy | None = None,
    fence: Fence = NO_FENCE,
    *,
    subscribe: bool = True,
) -> MatchRoomService:
    service = MatchRoomService(
        access=access,
        fence=fence,
        sessionmaker=env.sessionmaker,
        event_log=env.event_log,
        racetime=manager,
        client=env.client,
        store=env.store,
        clock=clock,
        retry=NO_WAIT,
        connect_timeout=5.0,
    )
    if subscribe:
        service.subscribe(env.dispatcher)
    return service


def soon(now: datetime, minutes: int = 30) -> datetime:
    return now + timedelta(minutes=minutes)


@dataclass
class SecondProcess:
    """Another RaceDesk on the same database: its own engine, event log, racetime engine."""

    service: MatchRoomService
    manager: RacetimeManager
    close: Callable[[], Awaitable[None]]


async def second_process(env: EngineEnv, db_url: str, secret_box: SecretBox) -> SecondProcess:
    engine = create_engine(db_url, poolclass=NullPool)
    sessionmaker = create_sessionmaker(engine)
    event_log = DatabaseEventLog(sessionmaker, ack_delay=0.05)
    dispatcher = EventDispatcher(event_log, retry=FAST_RETRY)
    store = DatabaseRoomStore(sessionmaker, event_log)
    client = RacetimeClient(env.fake.host, secure=False, timeout=2.0)
    manager = RacetimeManager(
        client=client,
        store=store,
        health=BotStatusRepository(sessionmaker, event_log, SystemClock()),
        dispatcher=dispatcher,
        active_bots=RacetimeBotService(sessionmaker, secret_box).active_credentials,
        timings=FAST,
    )
    service = MatchRoomService(
        sessionmaker=sessionmaker, event_log=event_log, racetime=manager, client=client,
        store=store, retry=NO_WAIT, connect_timeout=5.0,
    )
    service.subscribe(dispatcher)
    await event_log.start()
    await dispatcher.start()
    await manager.start()

    async def close() -> None:
        await manager.stop()
        await dispatcher.close()
        await event_log.close()
        await client.close()
        await engine.dispose()

    return SecondProcess(service, manager, close)
