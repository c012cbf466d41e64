"""The services the cogs are given; built once by ``bot.py``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import Clock
from core.events import EventDispatcher
from core.services.health import HealthService


@dataclass(slots=True)
class Services:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    dispatcher: EventDispatcher
    clock: Clock
    health: HealthService

    async def close(self) -> None:
        """Deliver queued events, then release the database."""
        await self.dispatcher.close()
        await self.engine.dispose()
