"""The event dispatcher: delivers what the event log committed, in order, at least once.

Events reach listeners only from the log (see ``core.events.log``): ``emit`` appends them and
returns once they are committed; the room store commits a room's events together with its new
snapshot. Delivery then runs in one worker per partition (a race room, a live race, a bot...):
partitions are independent and events of one partition arrive in commit order. For one event,
listeners run in descending priority; listeners of equal priority run concurrently and all
finish before a lower priority starts.

A listener that raises or runs past its timeout is retried with backoff, up to
``RetryPolicy.attempts`` tries; then the delivery is *parked* (kept in the log for an admin,
counted, logged as an error) and the event moves on. An error that means this process must
stop acting (``stop_on``: it no longer leads) is neither retried nor parked: the partition's
delivery stops there, its event unacknowledged, for the next start. A failure because the
database is away (``core.outage``) is not counted: the listener waits until the database is
back and is tried again, so an outage never parks a delivery. A retrying listener holds up
only its own partition, and no concurrency slot while it waits. Once every listener is done
with an event, the event is acknowledged; an event that was not acknowledged when the
process died is delivered again after the restart, with the same ``event_id``.

**Exactly once.** Delivery is at least once, so a listener that records something durable (a
result, a notification, a status) must do it in its own transaction keyed by ``event_id``:
then a repeat changes nothing. ``core.event_store.exactly_once.exactly_once`` does that for a
listener.

Memory is bounded: a partition keeps at most ``max_queued`` events in memory; beyond that it
leaves them in the log and reads them back when it catches up. At most ``max_concurrency``
listener calls run at once across all partitions.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any, TypeVar

from core.events.base import Event, EventPriority, utc_now
from core.events.log import EventLog, LoggedEvent, MemoryEventLog
from core.events.outage import OutageWatch, closing_wait
from core.metrics import NO_METRICS, Metrics

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
Listener = Callable[[Any], Awaitable[None]]
Wants = Callable[[Any], bool]
Sleep = Callable[[float], Awaitable[None]]

DEFAULT_LISTENER_TIMEOUT = 30.0
DEFAULT_MAX_QUEUED = 1000
DEFAULT_MAX_CONCURRENCY = 64
# How long close() waits for what is queued to be delivered: an event log that cannot commit
# (its database locked or gone) must not hold a shutdown for ever.
DEFAULT_CLOSE_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often a failing listener is tried, and how long to wait between tries."""

    attempts: int = 5
    base: float = 0.5
    factor: float = 2.0
    cap: float = 30.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failure (1-based), with jitter."""
        raw = min(self.cap, self.base * self.factor ** min(failures - 1, 32))
        return raw * (0.5 + 0.5 * random.random())  # noqa: S311 - spreading retries


@dataclass(frozen=True, slots=True)
class Subscription:
    event_type: type[Event]
    handler: Listener
    priority: int
    timeout: float | None
    # Whether the listener has anything to do with an event (None: every event). Asked before
    # the call, so an event it ignores costs no task, timer or slot (see subscribe()).
    when: Wants | None = None

    @property
    def name(self) -> str:
        return getattr(self.handler, "__qualname__", repr(self.handler))

    def wants(self, event: Event) -> bool:
        """``when(event)``; True when it raises (the handler then runs and its own errors are
        retried and parked as usual: a faulty filter never drops an event silently)."""
        if self.when is None:
            return True
        try:
            return bool(self.when(event))
        except Exception:
            log.exception("Listener %s: its filter failed on %s; calling it", self.name, event.kind)
            return True


class _Abandoned(Exception):
    """Shutting down while a listener is failing, or a listener said this process must stop
    acting: leave the event for the next start."""


READ_BACK_MEMORY = 10_000  # seqs read back from the log that a partition remembers


class _Partition:
    __slots__ = ("delivered", "overflow", "queue", "read_back", "read_back_order", "tail",
                 "worker")

    def __init__(self, *, overflow: bool = False) -> None:
        self.queue: deque[LoggedEvent] = deque()
        self.worker: asyncio.Task[None] | None = None
        # Events of this partition are in the log but not in ``queue``: read them back.
        self.overflow = overflow
        self.delivered = 0  # seq of the last event delivered (0: none yet)
        self.tail = 0  # highest seq queued or delivered
        # Seqs that came from the log rather than from ``publish``: their publish is a repeat.
        self.read_back: set[int] = set()
        self.read_back_order: deque[int] = deque()

    def remember_read_back(self, seqs: list[int]) -> None:
        for seq in seqs:
            if seq not in self.read_back:
                self.read_back.add(seq)
                self.read_back_order.append(seq)
        while len(self.read_back_order) > READ_BACK_MEMORY:
            self.read_back.discard(self.read_back_order.popleft())

    def is_repeat(self, entry: LoggedEvent) -> bool:
        """Already queued or read back: its ``publish`` brings nothing new."""
        return entry.seq in self.read_back or any(q.seq == entry.seq for q in self.queue)

    def insert_late(self, entry: LoggedEvent) -> None:
        """An event committed after a later one of its partition (two transactions at once):
        queued before the queued events with a higher seq, so it is delivered next."""
        index = next(
            (i for i, queued in enumerate(self.queue) if queued.seq > entry.seq),
            len(self.queue),
        )
        # The head may be under delivery right now: never put anything before it.
        self.queue.insert(max(index, 1 if self.queue else 0), entry)


class EventDispatcher:
    """Typed publish/subscribe over the event log, with ordered, isolated, retried delivery."""

    def __init__(
        self,
        event_log: EventLog | None = None,
        *,
        default_timeout: float | None = DEFAULT_LISTENER_TIMEOUT,
        retry: RetryPolicy | None = None,
        max_queued: int = DEFAULT_MAX_QUEUED,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        sleep: Sleep = asyncio.sleep,
        metrics: Metrics = NO_METRICS,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
        outage: OutageWatch | None = None,
        stop_on: tuple[type[Exception], ...] = (),
    ) -> None:
        """``stop_on``: what a listener raises when this process must stop acting (``bot.py``
        gives ``core.leadership.FencedError``): not retried, not parked; the partition stops
        as for a shutdown and the event stays unacknowledged, for the process that leads."""
        self._stop_on = stop_on
        self._metrics = metrics
        self._outage = outage
        self._close_timeout = close_timeout
        self._log: EventLog = event_log if event_log is not None else MemoryEventLog()
        self._log.connect(self.publish)
        self._default_timeout = default_timeout
        self._retry = retry or RetryPolicy()
        self._max_queued = max_queued
        self._slots = asyncio.Semaphore(max_concurrency)
        self._sleep = sleep
        self._subscriptions: list[Subscription] = []
        self._resolved: dict[type[Event], list[list[Subscription]]] = {}
        self._partitions: dict[str, _Partition] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self._stopping = False
        self._stop_requested = asyncio.Event()
        # Event types whose listeners subscribe later (see ``reserve``), each with its gate.
        self._reserved: list[tuple[tuple[type[Event], ...], asyncio.Event]] = []
        self.parked = 0
        self.delivered = 0

    @property
    def event_log(self) -> EventLog:
        return self._log

    # -- subscribing -------------------------------------------------------------------------

    def subscribe(
        self,
        event_type: type[E],
        handler: Callable[[E], Awaitable[None]],
        *,
        priority: int = EventPriority.NORMAL,
        timeout: float | None = None,
        when: Callable[[E], bool] | None = None,
    ) -> Callable[[], None]:
        """Call ``handler`` for each ``event_type`` (or subclass) event; returns an unsubscribe.

        ``when``: a cheap test, without I/O, of whether ``handler`` has anything to do with an
        event; the events it says no to are not handed to ``handler`` at all. For a listener
        that ignores most events of a busy type (a thousand entrant changes a second at a
        peak, of which it acts on a player's join request): each call would cost a task, a
        timer and a slot for nothing."""
        if not inspect.iscoroutinefunction(handler) and not inspect.iscoroutinefunction(
            getattr(handler, "__call__", None)  # noqa: B004 - callable objects with async __call__
        ):
            raise TypeError(f"listener {handler!r} must be an async function")
        subscription = Subscription(
            event_type,
            handler,
            int(priority),
            timeout if timeout is not None else self._default_timeout,
            when,
        )
        self._subscriptions.append(subscription)
        self._resolved.clear()

        def unsubscribe() -> None:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)
                self._resolved.clear()

        return unsubscribe

    def reserve(self, *event_types: type[Event]) -> Callable[[], None]:
        """Listeners of ``event_types`` subscribe later than delivery starts (the Discord side's
        subscribe once logged in): until the returned ``ready()`` is called, an event of those
        types (or subclasses) waits, and the rest of its partition with it, instead of being
        acknowledged without them. At shutdown a waiting event is left for the next start.
        """
        gate = (tuple(event_types), asyncio.Event())
        self._reserved.append(gate)

        def ready() -> None:
            gate[1].set()
            if gate in self._reserved:
                self._reserved.remove(gate)

        return ready

    async def _wait_for_reserved(self, event: Event) -> None:
        for types, ready in list(self._reserved):
            if ready.is_set() or not isinstance(event, types):
                continue
            waiting = asyncio.ensure_future(ready.wait())
            stop = asyncio.ensure_future(self._stop_requested.wait())
            try:
                await asyncio.wait({waiting, stop}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiting.cancel()
                stop.cancel()
            if not ready.is_set():
                raise _Abandoned

    def on(
        self,
        event_type: type[E],
        *,
        priority: int = EventPriority.NORMAL,
        timeout: float | None = None,
        when: Callable[[E], bool] | None = None,
    ) -> Callable[[Callable[[E], Awaitable[None]]], Callable[[E], Awaitable[None]]]:
        """Decorator form of :meth:`subscribe`."""

        def decorator(handler: Callable[[E], Awaitable[None]]) -> Callable[[E], Awaitable[None]]:
            self.subscribe(event_type, handler, priority=priority, timeout=timeout, when=when)
            return handler

        return decorator

    def listeners_for(self, event_type: type[Event]) -> list[list[Subscription]]:
        """Listener groups for a type, highest priority first (cached until the next subscribe)."""
        groups = self._resolved.get(event_type)
        if groups is None:
            matching = [s for s in self._subscriptions if issubclass(event_type, s.event_type)]
            matching.sort(key=lambda s: -s.priority)
            groups = [list(group) for _, group in groupby(matching, key=lambda s: s.priority)]
            self._resolved[event_type] = groups
        return groups

    # -- emitting ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Deliver what an earlier run left unacknowledged, before anything new of its partition."""
        partitions = await self._log.pending_partitions()
        for key in partitions:
            partition = self._partitions.get(key)
            if partition is None:
                partition = self._partitions[key] = _Partition()
            partition.overflow = True
            self._wake(key, partition)
        if partitions:
            log.info("Resuming delivery of unacknowledged events in %d partitions", len(partitions))

    async def emit(self, *events: Event) -> list[LoggedEvent]:
        """Commit ``events`` to the log (highest priority first) and queue them for delivery.

        Returns once they are committed, before any listener runs.
        """
        if self._closed:
            raise RuntimeError("the event dispatcher is closed")
        if not events:
            return []
        return await self._log.append(by_priority(events))

    def publish(self, entries: Sequence[LoggedEvent]) -> None:
        """Queue events the log has just committed (the log calls this)."""
        for entry in entries:
            event = entry.event
            if log.isEnabledFor(logging.INFO):
                log.info("%s", event.describe())
            key = event.partition_key
            partition = self._partitions.get(key)
            if partition is None:
                partition = self._partitions[key] = _Partition()
            if entry.seq <= partition.tail:
                if partition.is_repeat(entry):
                    continue  # already read back from the log
                # Committed late (another transaction took a later seq and committed first):
                # not delivered yet, so it is news. (In overflow the read-back misses it; the
                # next start delivers it, as it does everything left unacknowledged.)
                if not partition.overflow:
                    partition.insert_late(entry)
                    self._wake(key, partition)
                continue
            if partition.overflow or len(partition.queue) >= self._max_queued:
                partition.overflow = True  # it stays in the log; read back when caught up
            else:
                partition.queue.append(entry)
                partition.tail = entry.seq
            self._wake(key, partition)

    def _wake(self, key: str, partition: _Partition) -> None:
        if partition.worker is None:
            self._idle.clear()
            partition.worker = asyncio.get_running_loop().create_task(
                self._run_partition(key, partition), name=f"events:{key}"
            )

    async def drain(self) -> None:
        """Wait until everything emitted so far (and anything emitted meanwhile) is delivered."""
        while True:
            await self._log.flush()
            if not self._busy():
                return
            await self._idle.wait()

    def _busy(self) -> bool:
        return any(p.worker is not None for p in self._partitions.values())

    async def close(self) -> None:
        """Deliver what is queued (for at most ``close_timeout`` seconds), then refuse new
        events.

        A listener that fails during shutdown is not retried: its event stays unacknowledged
        and is delivered again at the next start, as is one the log could not commit in time.
        """
        self._stopping = True
        self._stop_requested.set()
        try:
            async with asyncio.timeout(closing_wait(self._close_timeout, self._outage)):
                await self.drain()
                self._closed = True
                await self._log.flush()
        except TimeoutError:
            self._closed = True
            log.error(
                "Shutting down with events not delivered (the event log could not commit, "
                "or the database is away): they stay in the log and are delivered at the "
                "next start",
            )

    @property
    def pending(self) -> int:
        """Events waiting in memory (a partition that overflowed has more in the log)."""
        return sum(len(p.queue) for p in self._partitions.values())

    # -- delivering --------------------------------------------------------------------------

    async def _run_partition(self, key: str, partition: _Partition) -> None:
        try:
            while partition.queue or partition.overflow:
                if not partition.queue:
                    if not await self._read_back(key, partition) and self._stopping:
                        break
                    continue
                entry = partition.queue[0]
                await self._deliver(entry)
                partition.queue.popleft()
                partition.delivered = max(partition.delivered, entry.seq)
                self.delivered += 1
                self._log.acknowledge(entry.seq)
        except _Abandoned:
            log.warning("Partition %s: delivery stopped; resumes at next start", key)
            partition.queue.clear()
            partition.overflow = False
        finally:
            partition.worker = None
            idle = not partition.queue and not partition.overflow
            if idle and self._partitions.get(key) is partition:
                del self._partitions[key]
            if not self._busy():
                self._idle.set()

    async def _read_back(self, key: str, partition: _Partition) -> bool:
        """Fill the queue from the log; False (after a pause) when the log cannot be read."""
        partition.overflow = False
        try:
            rows = await self._log.pending(key, after=partition.delivered, limit=self._max_queued)
        except Exception as error:
            partition.overflow = True
            if not await self._waited_for_database(error):
                log.exception("Partition %s: could not read events back from the log", key)
                await self._pause(self._retry.delay(1))
            return False
        partition.remember_read_back([entry.seq for entry in rows])
        merged = {entry.seq: entry for entry in rows}
        if len(rows) >= self._max_queued:
            # More wait in the log; whatever was queued meanwhile is newer and is read later.
            partition.overflow = True
        else:
            merged.update((entry.seq, entry) for entry in partition.queue)
        partition.queue = deque(entry for _, entry in sorted(merged.items()))
        partition.tail = partition.queue[-1].seq if partition.queue else partition.delivered
        return True

    async def _deliver(self, entry: LoggedEvent) -> None:
        event = entry.event
        await self._wait_for_reserved(event)
        self._metrics.event_dispatched(
            event.kind, (utc_now() - event.occurred_at).total_seconds()
        )
        for group in self.listeners_for(type(event)):
            wanted = [s for s in group if s.wants(event)]
            if len(wanted) == 1:
                await self._call_with_retries(wanted[0], entry)
            elif wanted:
                await asyncio.gather(*(self._call_with_retries(s, entry) for s in wanted))

    async def _call_with_retries(self, subscription: Subscription, entry: LoggedEvent) -> None:
        event = entry.event
        failures = 0
        while True:
            async with self._slots:
                error = await self._call(subscription, event)
            if error is None:
                return
            if isinstance(error, self._stop_on):
                log.warning(
                    "Listener %s stopped on %s id=%s: %s; the event is left for the next start",
                    subscription.name, event.kind, event.event_id, error,
                )
                raise _Abandoned
            if await self._waited_for_database(error):
                continue  # an outage is nobody's failure: not counted towards parking
            failures += 1
            self._metrics.listener_failed(
                event.kind, subscription.name, timed_out=isinstance(error, TimeoutError)
            )
            if self._stopping:
                log.warning(
                    "Listener %s failed on %s id=%s during shutdown: %s",
                    subscription.name, event.kind, event.event_id, error,
                    exc_info=error,
                )
                raise _Abandoned
            if failures >= self._retry.attempts:
                await self._park(subscription, entry, error, failures)
                return
            delay = self._retry.delay(failures)
            log.warning(
                "Listener %s failed on %s id=%s (attempt %d of %d); retrying in %.1fs",
                subscription.name, event.kind, event.event_id, failures, self._retry.attempts,
                delay,
                exc_info=error,
            )
            await self._pause(delay)
            if self._stopping:
                raise _Abandoned

    async def _waited_for_database(self, error: BaseException) -> bool:
        """``error`` came from the database being away: wait until it is back (True), or
        give up if RaceDesk stops meanwhile (the event stays unacknowledged in the log).
        False when there is no watch or the database answers: the error is the listener's."""
        if self._outage is None or not await self._outage.confirm_outage(error):
            return False
        if self._stopping:
            raise _Abandoned
        up = asyncio.ensure_future(self._outage.wait_until_up())
        stop = asyncio.ensure_future(self._stop_requested.wait())
        try:
            await asyncio.wait({up, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not up.done():
                up.cancel()
        if not up.done() or up.cancelled() or up.exception() is not None:
            raise _Abandoned
        return True

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if shutdown begins meanwhile."""
        sleep = asyncio.ensure_future(self._sleep(seconds))
        stop = asyncio.ensure_future(self._stop_requested.wait())
        try:
            await asyncio.wait({sleep, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleep.cancel()
            stop.cancel()

    async def _call(self, subscription: Subscription, event: Event) -> BaseException | None:
        try:
            if subscription.timeout is None:
                await subscription.handler(event)
            else:
                async with asyncio.timeout(subscription.timeout):
                    await subscription.handler(event)
        except TimeoutError as error:
            return TimeoutError(f"timed out after {subscription.timeout:.1f}s").with_traceback(
                error.__traceback__
            )
        except Exception as error:
            return error
        return None

    async def _park(
        self, subscription: Subscription, entry: LoggedEvent, error: BaseException, attempts: int
    ) -> None:
        event = entry.event
        self.parked += 1
        self._metrics.listener_parked(event.kind, subscription.name)
        log.error(
            "Listener %s gave up on %s id=%s after %d attempts; delivery parked",
            subscription.name, event.kind, event.event_id, attempts,
            exc_info=error,
        )
        detail = f"{type(error).__name__}: {error}"
        try:
            await self._log.park(entry, subscription.name, detail, attempts)
        except Exception:
            log.exception("Could not record the parked delivery of %s", event.event_id)


def by_priority(events: Sequence[Event]) -> list[Event]:
    """Highest priority first, stable within a priority (the order one batch is logged in)."""
    return sorted(events, key=lambda e: -e.priority)
