"""The services the cogs are given; built once by ``bot.py``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import Clock
from core.events import EventDispatcher
from core.services.audit import AuditService
from core.services.bot_status import BotStatusRepository
from core.services.health import HealthService
from core.services.racetime_admin import RacetimeAdminService
from core.services.racetime_bots import RacetimeBotService
from core.services.racetime_store import DatabaseRoomStore
from racetime.client import RacetimeClient
from racetime.manager import RacetimeManager


@dataclass(slots=True)
class Services:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    dispatcher: EventDispatcher
    clock: Clock
    health: HealthService
    bot_status: BotStatusRepository
    racetime_bots: RacetimeBotService
    room_store: DatabaseRoomStore
    racetime: RacetimeManager
    racetime_client: RacetimeClient
    audit: AuditService
    racetime_admin: RacetimeAdminService

    async def close(self) -> None:
        """Stop the racetime engine, save what it saw, deliver queued events, release the DB."""
        await self.racetime.stop()
        await self.racetime_client.close()
        await self.room_store.close()
        await self.dispatcher.close()
        await self.engine.dispose()
