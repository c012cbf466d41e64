"""Time as a dependency, so scheduling, retries and timeouts can be tested exactly.

``now()`` is the wall clock (aware UTC) for timestamps and expiries; ``monotonic()`` and
``sleep()`` measure and wait for durations. Code that waits (backoffs, scan intervals, the
un-finish window, token renewal) takes a :class:`Clock` instead of calling ``asyncio.sleep``,
so a test can hand it a :class:`ManualClock` and move time itself.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for durations and deadlines)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))


class ManualClock:
    """A clock that only moves when told to: ``await clock.advance(seconds)``.

    Sleepers wake in deadline order as time passes them; ``advance`` lets the woken tasks run
    before it returns, so a test can assert right after it.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime.now(UTC)
        self._elapsed = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed

    @property
    def sleepers(self) -> int:
        """How many tasks are waiting on this clock (to know the system under test is idle)."""
        return sum(not future.done() for _, _, future in self._sleepers)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._elapsed + seconds, next(self._order), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking every sleeper whose deadline is reached, in order."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        target = self._elapsed + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._elapsed = max(self._elapsed, deadline)
            if not future.done():
                future.set_result(None)
                await _let_tasks_run()
        self._elapsed = target
        await _let_tasks_run()


async def _let_tasks_run(rounds: int = 20) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)
