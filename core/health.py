"""What ``/about`` reports: is the database reachable, are events flowing."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.clock import Clock
from core.events import EventDispatcher
from core.outage import DatabaseWatch
from core.racetime_bots.status import BotCounts

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HealthCheck:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class HealthReport:
    version: str
    started_at: datetime
    uptime: timedelta
    checks: list[HealthCheck] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(check.ok for check in self.checks)


class HealthService:
    """Collects a point-in-time health report; every check is cheap and never raises."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        dispatcher: EventDispatcher,
        clock: Clock,
        version: str,
        bot_counts: Callable[[], Awaitable[BotCounts]] | None = None,
        database_watch: DatabaseWatch | None = None,
    ) -> None:
        """``bot_counts`` counts the racetime bots (running, unhealthy, stopped);
        ``database_watch`` knows, without asking again, that the database is away."""
        self._engine = engine
        self._watch = database_watch
        self._bot_counts = bot_counts
        self._dispatcher = dispatcher
        self._clock = clock
        self._version = version
        self._started_at = clock.now()

    async def report(self) -> HealthReport:
        now = self._clock.now()
        checks = [await self._check_database(), self._check_events()]
        if self._bot_counts is not None:
            checks.append(await self._check_racetime_bots())
        return HealthReport(
            version=self._version,
            started_at=self._started_at,
            uptime=now - self._started_at,
            checks=checks,
        )

    @property
    def version(self) -> str:
        return self._version

    def uptime(self) -> timedelta:
        return self._clock.now() - self._started_at

    async def check_database(self) -> HealthCheck:
        """The database alone (all a standby's liveness is about)."""
        return await self._check_database()

    async def _check_database(self) -> HealthCheck:
        watch = self._watch
        if watch is not None and not watch.available:
            gone = f"unreachable for {watch.down_for() or 0:.0f} s"
            why = f" ({watch.last_error})" if watch.last_error else ""
            return HealthCheck("Database", False, f"{gone}{why}; RaceDesk waits for it")
        try:
            async with self._engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as error:
            log.warning("Database health check failed: %s", type(error).__name__)
            return HealthCheck("Database", False, f"unreachable ({type(error).__name__})")
        return HealthCheck("Database", True, f"{self._engine.dialect.name} reachable")

    async def _check_racetime_bots(self) -> HealthCheck:
        assert self._bot_counts is not None
        try:
            counts = await self._bot_counts()
        except Exception as error:
            log.warning("racetime bot health check failed: %s", type(error).__name__)
            return HealthCheck("racetime bots", False, "status unknown")
        stopped = f"{counts.stopped} stopped by an owner" if counts.stopped else ""
        if not counts.active:
            return HealthCheck("racetime bots", True, stopped or "none configured")
        detail = f"{counts.active - counts.unhealthy}/{counts.active} healthy"
        return HealthCheck(
            "racetime bots", counts.unhealthy == 0, f"{detail}, {stopped}" if stopped else detail
        )

    def _check_events(self) -> HealthCheck:
        pending = self._dispatcher.pending
        return HealthCheck("Events", pending < 1000, f"{pending} queued")
