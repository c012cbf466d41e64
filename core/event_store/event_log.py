"""The database event log: a transactional outbox written with group commit.

Implements ``core.events.log.EventLog``. One writer task commits whatever is queued when it
gets to it, in one transaction: the events, the state that produced them (a room's new
snapshot, through a registered :data:`StateWriter`) and the acknowledgements of delivered
events. While a commit runs, new submissions queue up and form the next batch, so there is no
fixed wait and a busy system commits less often, not later.

A commit that fails for a passing reason (the database is locked or unreachable) is retried
with backoff, keeping the batch and its order. A batch that fails for any other reason is
split, so that one bad submission cannot keep the others (other rooms) from being saved; the
bad one is logged and dropped.

Services that change rows and emit events in one transaction use :meth:`transaction`; the
events are handed to the dispatcher after the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock, SystemClock
from core.events import (
    Event,
    LoggedEvent,
    UnknownEventKindError,
    by_priority,
    decode_event,
    encode_event,
)
from core.events.log import Deliver
from core.events.outage import closing_wait
from core.outage import DatabaseUnavailableError, DatabaseWatch
from db.engine import engine_of
from db.errors import is_transient
from db.queries import events as event_queries
from db.sqlite_driver import urgent_writes
from db.write_batch import Committer, Write, commit_writes

log = logging.getLogger(__name__)

StateWriter = Callable[[str, list[Any]], Awaitable[Sequence[Write]]]
"""``(dialect, states)``: the writes that store the states of one batch (in submission order),
committed in the batch's transaction."""

ACK_DELAY_SECONDS = 0.5
# At most this many submissions (and as many acknowledgements) a commit: a backlog is
# committed in short transactions, so other writers get their turn in between and none waits
# out SQLite's busy timeout behind one huge commit.
MAX_BATCH = 500
RETENTION = timedelta(days=7)
PRUNE_INTERVAL_SECONDS = 3600.0
PRUNE_FIRST_DELAY_SECONDS = 60.0


@dataclass(slots=True)
class _Submission:
    events: list[Event]
    state: Any | None = None
    done: asyncio.Future[list[LoggedEvent]] | None = None


@dataclass(slots=True)
class Outbox:
    """The session of a service's transaction and the events to commit with it."""

    session: AsyncSession
    events: list[Event] = field(default_factory=list)

    def add(self, *events: Event) -> None:
        self.events.extend(events)


def _row(event: Event) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "kind": event.kind,
        "partition_key": event.partition_key,
        "payload": encode_event(event),
        "occurred_at": event.occurred_at,
    }


def _unique(groups: Sequence[Sequence[Event]]) -> list[list[Event]]:
    """The events of several submissions, each id once: an id repeated within one batch is one
    event (the database skips the repeat, and it must not come back as a second delivery)."""
    seen: set[str] = set()
    unique_groups: list[list[Event]] = []
    for group in groups:
        kept = []
        for event in group:
            if event.event_id not in seen:
                seen.add(event.event_id)
                kept.append(event)
        unique_groups.append(kept)
    return unique_groups


def _logged(groups: list[list[Event]], inserted: dict[str, int]) -> list[list[LoggedEvent]]:
    """Each submission's newly logged events (``inserted``: ``event_id -> seq``)."""
    return [
        [LoggedEvent(inserted[e.event_id], e) for e in group if e.event_id in inserted]
        for group in groups
    ]


async def _append(session: AsyncSession, events: Sequence[Event]) -> list[LoggedEvent]:
    """Append one submission's events in ``session``'s transaction; returns the new ones."""
    (group,) = _unique([events])
    inserted = await event_queries.append_events(session, [_row(event) for event in group])
    (logged,) = _logged([group], inserted)
    return logged


class DatabaseEventLog:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        clock: Clock | None = None,
        retention: timedelta = RETENTION,
        ack_delay: float = ACK_DELAY_SECONDS,
        close_timeout: float = 30.0,
        outage: DatabaseWatch | None = None,
        writer: async_sessionmaker[AsyncSession] | None = None,
        prune_first_delay: float = PRUNE_FIRST_DELAY_SECONDS,
        prune_interval: float = PRUNE_INTERVAL_SECONDS,
    ) -> None:
        """``writer``: sessions on a connection of the group commit's own (``bot.py`` gives
        it one), so that a peak that takes every pooled connection never holds up the
        commits everything else waits for; by default ``sessionmaker``'s.

        ``prune_first_delay`` and ``prune_interval``: seconds from :meth:`start` to the first
        :meth:`prune`, and between prunes (housekeeping on the process's own time)."""
        self._sessionmaker = sessionmaker
        self._committer = Committer(engine_of(writer or sessionmaker))
        self._outage = outage
        self._clock = clock or SystemClock()
        self._retention = retention
        self._ack_delay = ack_delay
        self._close_timeout = close_timeout
        self._prune_first_delay = prune_first_delay
        self._prune_interval = prune_interval
        self._deliver: Deliver | None = None
        self._state_writer: StateWriter | None = None
        self._on_dropped: Callable[[Any], None] | None = None
        self._queue: list[_Submission] = []
        self._acks: list[int] = []
        self._wakeup = asyncio.Event()
        self._submitted = 0  # submissions and acknowledgements so far
        self._committed = 0  # ... of which committed (or dropped)
        self._flushed = asyncio.Condition()
        self._writer: asyncio.Task[None] | None = None
        self._pruner: asyncio.Task[None] | None = None
        self._closing = False
        self._ack_timer: asyncio.TimerHandle | None = None
        self.commits = 0
        self.dropped = 0

    # -- wiring and lifecycle ----------------------------------------------------------------

    def connect(self, deliver: Deliver) -> None:
        self._deliver = deliver

    def register_state_writer(
        self, writer: StateWriter, on_dropped: Callable[[Any], None] | None = None
    ) -> None:
        """The one writer of the states submitted with events (the room store's snapshots);
        ``on_dropped(state)`` hears of a submission that could not be stored at all."""
        self._state_writer = writer
        self._on_dropped = on_dropped

    async def start(self) -> None:
        if self._writer is None:
            self._closing = False
            loop = asyncio.get_running_loop()
            self._writer = loop.create_task(self._write_forever(), name="event-log-writer")
            self._pruner = loop.create_task(self._prune_forever(), name="event-log-pruner")

    async def close(self) -> None:
        """Commit everything queued (waiting at most ``close_timeout`` seconds), then stop."""
        self._closing = True
        if self._ack_timer is not None:
            self._ack_timer.cancel()
            self._ack_timer = None
        # Never started (a one-shot tool): what was submitted is committed here all the same.
        try:
            async with asyncio.timeout(closing_wait(self._close_timeout, self._outage)):
                await self.flush()
        except TimeoutError:
            log.error(
                "Shutting down with %d event log submissions and acknowledgements not "
                "committed; their rooms are diffed again at the next start",
                self._submitted - self._committed,
            )
        except Exception:
            log.exception("Shutting down without committing the event log")
        for task in (self._pruner, self._writer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._writer = self._pruner = None
        await self._committer.close()
        async with self._flushed:
            self._flushed.notify_all()  # whoever still waits for the writer: it is gone

    # -- appending ---------------------------------------------------------------------------

    def submit(self, events: Sequence[Event], state: Any | None = None) -> None:
        """Queue events (and the state that produced them) for the next commit; never blocks."""
        self._enqueue(_Submission(by_priority(events), state))

    async def append(self, events: Sequence[Event]) -> list[LoggedEvent]:
        done: asyncio.Future[list[LoggedEvent]] = asyncio.get_running_loop().create_future()
        self._enqueue(_Submission(by_priority(events), None, done))
        if self._writer is None:  # not started (one-shot tools): commit in place
            await self._write_all()
        return await done

    def _enqueue(self, submission: _Submission) -> None:
        self._queue.append(submission)
        self._submitted += 1
        self._wakeup.set()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Outbox]:
        """A transaction whose :class:`Outbox` events commit with it, then get delivered."""
        async with self._sessionmaker.begin() as session:
            outbox = Outbox(session)
            yield outbox
            logged = await _append(session, by_priority(outbox.events))
        if logged and self._deliver is not None:
            self._deliver(logged)

    # -- delivery bookkeeping ----------------------------------------------------------------

    def acknowledge(self, seq: int) -> None:
        """Acknowledgements ride along with the next commit, or go on their own shortly."""
        self._acks.append(seq)
        self._submitted += 1
        if self._closing or len(self._acks) >= 500:
            self._wakeup.set()
        elif self._ack_timer is None and self._writer is not None:
            self._ack_timer = asyncio.get_running_loop().call_later(
                self._ack_delay, self._ack_due
            )

    def _ack_due(self) -> None:
        self._ack_timer = None
        self._wakeup.set()

    async def flush(self) -> None:
        target = self._submitted
        if self._writer is None:
            await self._write_all()
            return
        self._wakeup.set()
        async with self._flushed:
            await self._flushed.wait_for(
                lambda: self._committed >= target or self._writer is None
            )
        if self._committed < target:
            # The log closed meanwhile and its writer is gone (its close gave up on a commit
            # that hung): commit in place, as before start, rather than wait for ever.
            await self._write_all()

    async def pending_partitions(self) -> list[str]:
        async with self._sessionmaker() as session:
            return await event_queries.undelivered_partitions(session)

    async def pending(self, partition: str, *, after: int, limit: int) -> list[LoggedEvent]:
        async with self._sessionmaker() as session:
            rows = await event_queries.undelivered_events(
                session, partition, after=after, limit=limit
            )
        logged = []
        for row in rows:
            assert row.seq is not None
            try:
                logged.append(LoggedEvent(row.seq, decode_event(row.kind, row.payload)))
            except (UnknownEventKindError, TypeError, ValueError) as error:
                log.error("Event %s (%s) cannot be read back and is skipped: %s",
                          row.event_id, row.kind, error)
                self.acknowledge(row.seq)
        return logged

    async def park(self, entry: LoggedEvent, listener: str, error: str, attempts: int) -> None:
        async with self._sessionmaker.begin() as session:
            await event_queries.add_parked_delivery(
                session,
                seq=entry.seq,
                event_id=entry.event.event_id,
                kind=entry.event.kind,
                listener=listener,
                error=error,
                attempts=attempts,
            )

    async def parked_count(self) -> int:
        async with self._sessionmaker() as session:
            return await event_queries.count_parked_deliveries(session)

    # -- the writer --------------------------------------------------------------------------

    async def _write_forever(self) -> None:
        # Every race change waits for these commits: they go before other writers waiting.
        with urgent_writes():
            await self._write_until_cancelled()

    async def _write_until_cancelled(self) -> None:
        failures = 0
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            try:
                await self._write_batch()
                failures = 0
            except Exception as error:  # only transient errors reach here
                if await self._waited_for_database(error):
                    self._wakeup.set()
                    continue
                failures += 1
                delay = min(30.0, 0.1 * 2 ** min(failures, 10)) * (0.5 + random.random() / 2)  # noqa: S311
                log.warning(
                    "Could not commit the event log (%s); retrying in %.1fs",
                    type(error).__name__, delay,
                )
                await asyncio.sleep(delay)
                self._wakeup.set()

    async def _waited_for_database(self, error: BaseException) -> bool:
        """The database is away: wait until it is back (the watch says so in the log, once)
        rather than retry into it. False when there is no watch, the database answers, or
        RaceDesk stops meanwhile."""
        if self._outage is None or not await self._outage.confirm_outage(error):
            return False
        try:
            await self._outage.wait_until_up()
        except DatabaseUnavailableError:
            return False
        return True

    async def _write_all(self) -> None:
        """Commit everything queued, a batch at a time (without the writer task)."""
        await self._write_batch()
        while self._queue or self._acks:
            await self._write_batch()

    async def _write_batch(self) -> None:
        """Commit what is queued now; on a transient error put it back (order kept) and raise."""
        batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        acks, self._acks = self._acks[:MAX_BATCH], self._acks[MAX_BATCH:]
        if self._queue or self._acks:
            self._wakeup.set()  # the rest is the next batch
        if not batch and not acks:
            await self._committed_up_to(0)
            return
        try:
            logged = await self._commit(batch, acks)
        except Exception as error:
            if is_transient(error):
                self._requeue(batch, acks)
                raise
            log.exception("Event log batch of %d failed; committing one at a time", len(batch))
            await self._commit_one_by_one(batch, acks)
            return
        await self._finish(batch, logged, len(acks))

    def _requeue(self, submissions: list[_Submission], acks: list[int]) -> None:
        """Put work back in front of whatever was queued meanwhile (it is older)."""
        self._queue[:0] = submissions
        self._acks[:0] = acks

    async def _finish(
        self, batch: list[_Submission], logged: list[list[LoggedEvent]], acks: int
    ) -> None:
        """Hand committed events to the dispatcher and wake whoever waits for them."""
        for submission, entries in zip(batch, logged, strict=True):
            if entries and self._deliver is not None:
                try:
                    self._deliver(entries)
                except Exception:
                    # Committed all the same: delivered from the log at the next start.
                    log.exception("Could not hand committed events to the dispatcher")
            if submission.done is not None and not submission.done.done():
                submission.done.set_result(entries)
        await self._committed_up_to(len(batch) + acks)

    async def _committed_up_to(self, count: int) -> None:
        self._committed += count
        async with self._flushed:
            self._flushed.notify_all()

    async def _commit(
        self, batch: list[_Submission], acks: list[int]
    ) -> list[list[LoggedEvent]]:
        groups = _unique([s.events for s in batch])
        states = [s.state for s in batch if s.state is not None]

        async def writes(dialect: str) -> list[Write]:
            planned: list[Write] = []
            if states and self._state_writer is not None:
                planned.extend(await self._state_writer(dialect, states))
            rows = [_row(event) for group in groups for event in group]
            # Always present (maybe without rows): the one write whose rows come back.
            planned.append(event_queries.append_write(dialect, rows))
            planned.extend(event_queries.mark_delivered_writes(dialect, acks, self._clock.now()))
            return planned

        if self._writer is not None:
            returned = await self._committer.commit(writes)
        else:  # not started, or closed: one-shot, on a connection of the pool's
            returned = await commit_writes(self._committer.engine, writes)
        self.commits += 1
        inserted = event_queries.inserted_seqs(returned[0]) if returned else {}
        return _logged(groups, inserted)

    async def _commit_one_by_one(self, batch: list[_Submission], acks: list[int]) -> None:
        """Commit each submission alone, dropping only those that fail for good.

        A transient error on the way puts the rest back (order kept) and raises, like a
        failed batch: a lost connection must not pass for a bad submission.
        """
        for index, submission in enumerate(batch):
            try:
                logged = await self._commit([submission], [])
            except Exception as error:
                if is_transient(error):
                    self._requeue(batch[index:], acks)
                    raise
                self.dropped += 1
                log.error(
                    "Dropped events that cannot be stored (%s): %s",
                    ", ".join(e.event_id for e in submission.events) or "state only",
                    error,
                )
                if submission.done is not None and not submission.done.done():
                    submission.done.set_exception(error)
                if submission.state is not None and self._on_dropped is not None:
                    self._on_dropped(submission.state)
                logged = [[]]
            await self._finish([submission], logged, 0)
        if acks:
            try:
                await self._commit([], acks)
            except Exception as error:
                if is_transient(error):
                    self._requeue([], acks)
                    raise
                # Unacknowledged events are delivered again at the next start: not lost.
                log.exception("Could not record %d acknowledgements", len(acks))
        await self._committed_up_to(len(acks))

    async def prune(self) -> int:
        """Delete events delivered longer than ``retention`` ago (parked ones stay)."""
        async with self._sessionmaker.begin() as session:
            removed = await event_queries.prune_delivered(
                session, self._clock.now() - self._retention
            )
        if removed:
            log.info("Pruned %d delivered events older than %s", removed, self._retention)
        return removed

    async def _prune_forever(self) -> None:
        # Not at once: start-up (every room reconnecting and diffed again) is the busiest time
        # for the writers' turn, which a week's DELETE would hold (and a test holding the
        # turn would see an extra writer waiting).
        await asyncio.sleep(self._prune_first_delay)
        while True:
            try:
                await self.prune()
            except Exception:
                log.exception("Could not prune the event log")
            await asyncio.sleep(self._prune_interval)
