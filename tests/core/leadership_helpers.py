"""Leases for the tests of fencing: an old leader that lost the lead without noticing and
the new one, a clock that jumps as a paused process finds it on resuming, and a fence a test
turns stale (no PostgreSQL needed)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import NullPool

from core.clock import Clock
from core.leadership import FencedError, Leadership, LeaseTimings
from db.engine import create_engine

TIMINGS = LeaseTimings(lease_seconds=8.0, heartbeat_seconds=2.0, poll_seconds=1.0,
                       statement_seconds=1.0)
# A bound for what must happen (a backend that was signalled ends); never a measurement.
PATIENCE_SECONDS = 30.0


class JumpingClock:
    """A clock that stands still unless it jumps (what a process paused with SIGSTOP finds
    when it resumes); whoever sleeps on it (a heartbeat) waits until cancelled."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def now(self) -> datetime:
        return datetime(2030, 1, 1, tzinfo=UTC)  # unused by the lease

    def monotonic(self) -> float:
        return self.seconds

    async def sleep(self, seconds: float) -> None:
        await asyncio.get_running_loop().create_future()

    def jump(self, seconds: float) -> None:
        self.seconds += seconds


async def until(check: Callable[[], Awaitable[bool] | bool]) -> None:
    """Until ``check`` holds (state other tasks or the database change), within a bound."""
    async with asyncio.timeout(PATIENCE_SECONDS):
        while True:
            done = check()
            if await done if inspect.isawaitable(done) else done:
                return
            await asyncio.sleep(0.01)


@asynccontextmanager
async def leader(url: str, clock: Clock | None = None) -> AsyncIterator[Leadership]:
    """A process that leads (its heartbeat waits on ``clock``: a JumpingClock by default)."""
    leadership = Leadership(url, clock=clock or JumpingClock(), timings=TIMINGS)
    try:
        await until(leadership.try_acquire)
        yield leadership
    finally:
        await leadership.release()


@asynccontextmanager
async def old_and_new_leader(url: str) -> AsyncIterator[tuple[Leadership, Leadership]]:
    """The old leader's session was cut and the new one leads under the next epoch; the old
    one has not noticed yet (no heartbeat came)."""
    async with leader(url) as old:
        engine = create_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                await connection.execute(
                    text("SELECT pg_terminate_backend(backend_pid) FROM leadership_lease")
                )
        finally:
            await engine.dispose()
        async with leader(url) as new:
            assert old.epoch is not None and new.epoch == old.epoch + 1
            yield old, new


class SwitchFence:
    """A fence that holds until the test says this process stopped leading (``stale``): then
    both checks refuse, as a paused leader's lease finds on resuming. Counts the checks
    without the database (``asked``)."""

    def __init__(self, epoch: int = 1) -> None:
        self.stale = False
        self.asked = 0
        self._epoch = epoch

    @property
    def epoch(self) -> int | None:
        return self._epoch

    def ensure_current(self) -> None:
        self.asked += 1
        if self.stale:
            raise FencedError(
                f"the lease of epoch {self._epoch} ran out unrenewed: this process must not act",
                epoch=self._epoch,
            )

    async def check(self, session: AsyncSession) -> None:
        self.ensure_current()
