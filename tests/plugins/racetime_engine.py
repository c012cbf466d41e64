"""The racetime engine wired to a real database and the fake racetime server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock, SystemClock
from core.event_store.event_log import DatabaseEventLog
from core.events import Event, EventDispatcher, RetryPolicy
from core.racetime_bots.bots import RacetimeBotService
from core.racetime_bots.room_store import DatabaseRoomStore
from core.racetime_bots.status import BotStatusRepository
from db.models import User
from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer
from racetime.backoff import Backoff
from racetime.category_bot import BotTimings
from racetime.client import RacetimeClient
from racetime.connection import ConnectionTimings
from racetime.manager import RacetimeManager

E = TypeVar("E", bound=Event)

FAST = BotTimings(
    scan_interval=0.2,
    auth_retry_seconds=60.0,
    backoff=Backoff(base=0.05, cap=0.3),
    connection=ConnectionTimings(backoff=Backoff(base=0.05, cap=0.3), action_timeout=3.0),
)


EVENTUALLY_SECONDS = 5.0


async def eventually(predicate: Callable[[], Any]) -> None:
    """Poll ``predicate`` (state changed by other tasks) until true, for at most 5 s."""
    async with asyncio.timeout(EVENTUALLY_SECONDS):
        while not predicate():  # noqa: ASYNC110 - polling state no event signals
            await asyncio.sleep(0.01)


# Listener retries short enough for tests to watch a delivery being retried and parked.
FAST_RETRY = RetryPolicy(attempts=3, base=0.01, cap=0.05)


@dataclass
class EngineEnv:
    fake: FakeRacetimeServer
    sessionmaker: async_sessionmaker[AsyncSession]
    event_log: DatabaseEventLog
    dispatcher: EventDispatcher
    store: DatabaseRoomStore
    bot_status: BotStatusRepository
    bots: RacetimeBotService
    client: RacetimeClient
    timings: BotTimings
    events: list[Event] = field(default_factory=list)
    managers: list[RacetimeManager] = field(default_factory=list)
    clients: list[RacetimeClient] = field(default_factory=list)

    def new_manager(self, clock: Clock | None = None) -> RacetimeManager:
        """A manager on ``clock`` (its HTTP client too, so token times share one clock)."""
        client = self.client
        if clock is not None:
            client = RacetimeClient(self.fake.host, secure=False, timeout=2.0, clock=clock)
            self.clients.append(client)
        manager = RacetimeManager(
            client=client,
            store=self.store,
            health=self.bot_status,
            dispatcher=self.dispatcher,
            active_bots=self.bots.active_credentials,
            timings=self.timings,
            clock=clock,
        )
        self.managers.append(manager)
        return manager

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    async def link(self, racetime_id: str, discord_id: int) -> int:
        async with self.sessionmaker.begin() as session:
            user = User(discord_id=discord_id, racetime_id=racetime_id, racetime_name="x")
            session.add(user)
            await session.flush()
            assert user.id is not None
            return user.id


@pytest.fixture
async def engine_env(
    fake_racetime: FakeRacetimeServer,
    db_sessionmaker: async_sessionmaker[AsyncSession],
    secret_box: SecretBox,
) -> AsyncIterator[EngineEnv]:
    event_log = DatabaseEventLog(db_sessionmaker, ack_delay=0.05)
    dispatcher = EventDispatcher(event_log, retry=FAST_RETRY)
    client = RacetimeClient(fake_racetime.host, secure=False, timeout=2.0)
    env = EngineEnv(
        fake=fake_racetime,
        sessionmaker=db_sessionmaker,
        event_log=event_log,
        dispatcher=dispatcher,
        store=DatabaseRoomStore(db_sessionmaker, event_log),
        bot_status=BotStatusRepository(db_sessionmaker, event_log, SystemClock()),
        bots=RacetimeBotService(db_sessionmaker, secret_box),
        client=client,
        timings=FAST,
    )

    async def record(event: Event) -> None:
        env.events.append(event)

    dispatcher.subscribe(Event, record)
    await event_log.start()
    await dispatcher.start()
    try:
        yield env
    finally:
        for manager in env.managers:
            await manager.stop()
        await dispatcher.close()
        await event_log.close()
        for own_client in (client, *env.clients):
            await own_client.close()
