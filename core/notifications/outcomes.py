"""Sends' outcomes recorded together: whatever finished while the last commit ran goes in the
next one.

At a season's peak the delivery finishes forty DMs a second. One transaction each meant forty
writers a second waiting for SQLite's one write turn, each holding a pooled connection, and
the event log's commits waiting behind them (issue 28). Here one transaction (one trip to
SQLite's thread, ``db.write_batch``) records a batch, and each sender still waits until its
own outcome is committed.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.events import RetryPolicy
from core.outage import DatabaseUnavailableError, DatabaseWatch
from core.stopping import wait_or_cancel
from db.engine import engine_of
from db.errors import describe
from db.queries.notifications import AttemptOutcome, outcome_writes
from db.write_batch import Write, commit_writes

log = logging.getLogger(__name__)

MAX_BATCH = 200


def refused(error: BaseException) -> bool:
    """The database refuses these outcomes themselves (a value no column takes, a broken
    constraint): no retry cures it."""
    if isinstance(error, IntegrityError | DataError):
        return True
    return isinstance(error, StatementError) and not isinstance(error, DBAPIError)


class OutcomeRecorder:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        outage: DatabaseWatch | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._retry = retry or RetryPolicy(attempts=1, base=0.5, cap=30.0)
        self._engine = engine_of(sessionmaker)
        self._outage = outage
        self._queue: list[tuple[AttemptOutcome, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.commits = 0

    async def record(self, outcome: AttemptOutcome) -> None:
        """Commit ``outcome`` with whatever else is waiting; returns once it is committed.
        While the database is away this waits for it (``DatabaseWatch.ride_out``). A caller
        cancelled meanwhile does not take its outcome back: it is committed all the same."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.append((outcome, done))
        if self._writer is None:
            self._writer = loop.create_task(self._write_queued(), name="notification-outcomes")
        await done

    async def close(self) -> None:
        """Wait for the commit under way (and what is queued behind it)."""
        if self._writer is not None:
            await wait_or_cancel(self._writer, "Notification outcomes")

    async def _write_queued(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                await self._write(batch)
        finally:
            self._writer = None
            for _, done in self._queue:  # only when cancelled: nobody commits them now
                done.cancel()
            self._queue = []

    async def _write(self, batch: list[tuple[AttemptOutcome, asyncio.Future[None]]]) -> None:
        failures = 0
        while True:
            try:
                await self._commit([outcome for outcome, _ in batch])
                break
            except Exception as error:
                if not refused(error) and not isinstance(error, DatabaseUnavailableError):
                    # The message went out: its outcome must be kept, or the row's lease
                    # runs out and it is sent again. Pool timeouts, locks, lost connections:
                    # tried again until they pass (the delivery's stop gives up on it).
                    failures += 1
                    delay = self._retry.delay(failures)
                    log.warning("Could not record %d notification outcomes (%s); trying "
                                "again in %.1fs", len(batch), describe(error), delay)
                    await asyncio.sleep(delay)
                    continue
                if len(batch) > 1 and refused(error):
                    # One outcome the database refuses must not cost the others theirs.
                    log.warning("Recording %d notification outcomes together failed (%s); "
                                "recording them one at a time", len(batch), describe(error))
                    for item in batch:
                        await self._write([item])
                    return
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
                return
        for _, done in batch:
            if not done.done():
                done.set_result(None)

    async def _commit(self, outcomes: list[AttemptOutcome]) -> None:
        async def writes(dialect: str) -> list[Write]:
            return outcome_writes(outcomes)

        async def commit() -> None:
            await commit_writes(self._engine, writes)
            self.commits += 1

        if self._outage is None:
            await commit()
        else:
            await self._outage.ride_out(commit, f"Recording {len(outcomes)} notification outcomes")
