"""The run limit's sweep: every minute, runs not submitted in time become forfeits."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from core.clock import Clock
from core.live_races.async_runs import AsyncRunService

log = logging.getLogger(__name__)

SWEEP_SECONDS = 60.0


class AsyncRunSweeper:
    """Forfeits overdue runs every minute on the clock (started in the lifecycle)."""

    def __init__(self, runs: AsyncRunService, clock: Clock, *,
                 every: float = SWEEP_SECONDS) -> None:
        self._runs = runs
        self._clock = clock
        self._every = every
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="async run sweep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self._runs.sweep()
            except Exception:
                log.exception("The async run sweep failed; it runs again in a minute")
            await self._clock.sleep(self._every)
