"""The database going away and coming back: one watch, that the other parts wait on.

PostgreSQL restarts (a package upgrade, its own failover, a crash); a disk fills; a network
drops. While the database is away RaceDesk keeps what it was doing and waits, instead of
failing work it would have to redo by hand:

* :class:`DatabaseWatch` pings the database (every ``check_seconds`` while it answers, every
  ``retry_seconds`` while it does not). It says **once** in the log when the database went
  away and once when it is back (with how long it was gone); ``/healthz`` and the
  ``racedesk_database_up`` gauge show it.
* A part whose database call failed asks :meth:`DatabaseWatch.confirm_outage`: a passing
  error (:func:`db.errors.is_transient`) with a database that does not answer a ping is an
  outage; anything else (a reachable database that refused a statement) is the part's own
  failure and is handled as before. :meth:`DatabaseWatch.ride_out` runs a piece of work
  again once the database is back, as often as it takes: the event dispatcher does not count
  an outage towards parking a delivery, the room schedulers do not record "opening failed" on
  a match, the notification delivery records what it sent once it can.
* Slash commands and the HTTP API answer at once while the database is away (Discord's
  3 seconds; ``503`` with ``Retry-After``) rather than wait for a connection timeout.
* Stopping gives up: :meth:`DatabaseWatch.give_up` (on SIGTERM) makes every waiter raise
  :class:`DatabaseUnavailableError`, so a process asked to stop while its database is away
  stops at once; what it had not recorded is done again by the next start (events come back
  from the racetime rooms, notification rows from the outbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from core.clock import Clock, SystemClock
from core.events.outage import OutageWatch
from db.engine import create_engine
from db.errors import describe, is_transient

log = logging.getLogger(__name__)

T = TypeVar("T")

# How long a client is told to wait before it tries again (HTTP Retry-After, Discord replies).
RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableError(Exception):
    """The database is away, and this caller will not wait for it (RaceDesk is stopping)."""


@dataclass(frozen=True, slots=True)
class WatchTimings:
    check_seconds: float = 10.0  # a ping this often while the database answers
    retry_seconds: float = 1.0  # and this often while it does not
    ping_timeout_seconds: float = 5.0


class DatabaseWatch(OutageWatch):
    """Whether the database answers; waiting until it does (see the module's docstring)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Clock | None = None,
        timings: WatchTimings | None = None,
    ) -> None:
        """``engine``: the watch's own, without a pool (``NullPool``; see :meth:`for_url`):
        a ping must not wait for a connection of a pool that is busy, and take a busy
        database for one that is away. It is disposed of at :meth:`stop`."""
        self._engine = engine
        self._clock = clock or SystemClock()
        self._timings = timings or WatchTimings()
        self._up = asyncio.Event()
        self._up.set()
        self._changed = asyncio.Event()  # wakes the watch loop (an outage reported)
        self._giving_up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.down_since: datetime | None = None
        self.last_error: str | None = None
        self.outages = 0

    @classmethod
    def for_url(
        cls,
        url: str,
        *,
        application_name: str | None = None,
        clock: Clock | None = None,
        timings: WatchTimings | None = None,
    ) -> DatabaseWatch:
        """A watch with an engine of its own on ``url`` (a new connection for each ping)."""
        engine = create_engine(url, poolclass=NullPool, application_name=application_name)
        return cls(engine, clock=clock, timings=timings)

    # -- what the others ask -----------------------------------------------------------------

    @property
    def available(self) -> bool:
        return self._up.is_set()

    def down_for(self) -> float | None:
        """Seconds since the database went away (None: it answers)."""
        if self.down_since is None:
            return None
        return max((self._clock.now() - self.down_since).total_seconds(), 0.0)

    async def confirm_outage(self, error: BaseException) -> bool:
        """Whether ``error`` (from a database call) means the database is away; if so the
        watch marks it down (and says so, once)."""
        if not is_transient(error):
            return False
        if not self.available:
            return True
        if await self.ping():
            return False
        self._went_away(None)  # the ping's own error says more (refused, starting up)
        return True

    async def wait_until_up(self) -> None:
        """Return once the database answers; :class:`DatabaseUnavailableError` if RaceDesk
        stops meanwhile."""
        if self.available:
            return
        if self._giving_up.is_set():
            raise DatabaseUnavailableError("the database is unreachable and RaceDesk is stopping")
        up = asyncio.ensure_future(self._up.wait())
        giving_up = asyncio.ensure_future(self._giving_up.wait())
        try:
            await asyncio.wait({up, giving_up}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            up.cancel()
            giving_up.cancel()
        if not self.available:
            raise DatabaseUnavailableError("the database is unreachable and RaceDesk is stopping")

    async def ride_out(self, work: Callable[[], Awaitable[T]], what: str) -> T:
        """``work()``, again once the database is back each time it fails because the
        database is away; any other failure is raised as is."""
        while True:
            try:
                return await work()
            except Exception as error:
                if not await self.confirm_outage(error):
                    raise
                log.debug("%s waits for the database: %s", what, describe(error))
            await self.wait_until_up()

    async def ping(self) -> bool:
        """One ``SELECT 1``; never raises."""
        try:
            async with asyncio.timeout(self._timings.ping_timeout_seconds):
                async with self._engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except Exception as error:
            self.last_error = describe(error)
            return False
        return True

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._giving_up.clear()
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="database-watch")

    def give_up(self) -> None:
        """RaceDesk is stopping: waiters stop waiting for the database (they raise)."""
        self._giving_up.set()

    async def stop(self) -> None:
        self.give_up()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._engine.dispose()

    # -- the watch ---------------------------------------------------------------------------

    async def _watch(self) -> None:
        while True:
            wait = self._timings.check_seconds if self.available else self._timings.retry_seconds
            self._changed.clear()
            # The network's time, not the injected clock's: a database comes back in real
            # seconds, also under a test's clock that moves only when told to.
            sleep = asyncio.ensure_future(asyncio.sleep(wait))
            changed = asyncio.ensure_future(self._changed.wait())
            try:
                await asyncio.wait({sleep, changed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleep.cancel()
                changed.cancel()
            answered = await self.ping()
            if answered and not self.available:
                self._came_back()
            elif not answered and self.available:
                self._went_away(None)

    def _went_away(self, error: BaseException | None) -> None:
        if not self.available:
            return
        if error is not None:
            self.last_error = describe(error)
        self._up.clear()
        self.down_since = self._clock.now()
        self.outages += 1
        self._changed.set()
        log.warning(
            "The database is unreachable (%s). RaceDesk waits for it: rooms, results and DMs "
            "go on once it is back; slash commands and the API answer that it is away.",
            self.last_error or "no answer",
        )

    def _came_back(self) -> None:
        gone = self.down_for() or 0.0
        self.down_since = None
        self._up.set()
        log.warning("The database is back after %.1f s; RaceDesk carries on", gone)


__all__ = [
    "RETRY_AFTER_SECONDS",
    "DatabaseUnavailableError",
    "DatabaseWatch",
    "WatchTimings",
]
