"""The in-process event dispatcher.

``emit`` only enqueues, so a websocket reader never waits for listeners. Delivery runs in one
worker task per partition (a race room, a live race, a bot...): partitions are independent,
events of one partition arrive in the order they were emitted. The events given to one
``emit`` call form a batch, delivered highest priority first (stable within a priority).
For one event, listeners run in descending priority; listeners of equal priority run
concurrently and all finish before a lower priority starts. A listener that raises or runs
past its timeout is logged with its traceback and never affects the others.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import groupby
from typing import Any, TypeVar

from core.events.base import Event, EventPriority
from core.identity import get_user_id_description

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
Listener = Callable[[Any], Awaitable[None]]

DEFAULT_LISTENER_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Subscription:
    event_type: type[Event]
    handler: Listener
    priority: int
    timeout: float | None

    @property
    def name(self) -> str:
        return getattr(self.handler, "__qualname__", repr(self.handler))


class _Partition:
    __slots__ = ("batches", "worker")

    def __init__(self) -> None:
        self.batches: deque[tuple[Event, ...]] = deque()
        self.worker: asyncio.Task[None] | None = None


class EventDispatcher:
    """Typed publish/subscribe with per-partition ordering and isolated listeners."""

    def __init__(self, *, default_timeout: float | None = DEFAULT_LISTENER_TIMEOUT) -> None:
        self._default_timeout = default_timeout
        self._subscriptions: list[Subscription] = []
        self._resolved: dict[type[Event], list[list[Subscription]]] = {}
        self._partitions: dict[str, _Partition] = {}
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    # -- subscribing -------------------------------------------------------------------------

    def subscribe(
        self,
        event_type: type[E],
        handler: Callable[[E], Awaitable[None]],
        *,
        priority: int = EventPriority.NORMAL,
        timeout: float | None = None,
    ) -> Callable[[], None]:
        """Call ``handler`` for each ``event_type`` (or subclass) event; returns an unsubscribe."""
        if not inspect.iscoroutinefunction(handler) and not inspect.iscoroutinefunction(
            getattr(handler, "__call__", None)  # noqa: B004 - callable objects with async __call__
        ):
            raise TypeError(f"listener {handler!r} must be an async function")
        subscription = Subscription(
            event_type,
            handler,
            int(priority),
            timeout if timeout is not None else self._default_timeout,
        )
        self._subscriptions.append(subscription)
        self._resolved.clear()

        def unsubscribe() -> None:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)
                self._resolved.clear()

        return unsubscribe

    def on(
        self,
        event_type: type[E],
        *,
        priority: int = EventPriority.NORMAL,
        timeout: float | None = None,
    ) -> Callable[[Callable[[E], Awaitable[None]]], Callable[[E], Awaitable[None]]]:
        """Decorator form of :meth:`subscribe`."""

        def decorator(handler: Callable[[E], Awaitable[None]]) -> Callable[[E], Awaitable[None]]:
            self.subscribe(event_type, handler, priority=priority, timeout=timeout)
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

    async def emit(self, *events: Event) -> None:
        """Queue one batch of events for delivery and return at once."""
        self.emit_nowait(*events)

    def emit_nowait(self, *events: Event) -> None:
        if not events:
            return
        if self._closed:
            raise RuntimeError("the event dispatcher is closed")
        by_partition: dict[str, list[Event]] = {}
        for event in events:
            by_partition.setdefault(event.partition_key, []).append(event)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "Event %s id=%s by %s",
                    event.kind,
                    event.event_id,
                    get_user_id_description(event.user_id),
                )
        for key, batch in by_partition.items():
            if len(batch) > 1:
                batch.sort(key=lambda e: -e.priority)
            partition = self._partitions.get(key)
            if partition is None:
                partition = self._partitions[key] = _Partition()
            partition.batches.append(tuple(batch))
            self._pending += len(batch)
            if partition.worker is None:
                partition.worker = asyncio.get_running_loop().create_task(
                    self._run_partition(key, partition), name=f"events:{key}"
                )
        self._idle.clear()

    async def drain(self) -> None:
        """Wait until every event queued so far (and any queued meanwhile) is delivered."""
        while self._pending:
            await self._idle.wait()

    async def close(self) -> None:
        """Deliver what is queued, then refuse new events."""
        await self.drain()
        self._closed = True

    @property
    def pending(self) -> int:
        return self._pending

    # -- delivering --------------------------------------------------------------------------

    async def _run_partition(self, key: str, partition: _Partition) -> None:
        try:
            while partition.batches:
                batch = partition.batches.popleft()
                for event in batch:
                    try:
                        await self._deliver(event)
                    finally:
                        self._pending -= 1
                        if not self._pending:
                            self._idle.set()
        finally:
            partition.worker = None
            if self._partitions.get(key) is partition and not partition.batches:
                del self._partitions[key]

    async def _deliver(self, event: Event) -> None:
        for group in self.listeners_for(type(event)):
            if len(group) == 1:
                await self._call(group[0], event)
            else:
                await asyncio.gather(*(self._call(s, event) for s in group))

    async def _call(self, subscription: Subscription, event: Event) -> None:
        try:
            if subscription.timeout is None:
                await subscription.handler(event)
            else:
                async with asyncio.timeout(subscription.timeout):
                    await subscription.handler(event)
        except TimeoutError:
            log.exception(
                "Listener %s timed out after %.1fs on %s id=%s",
                subscription.name,
                subscription.timeout,
                event.kind,
                event.event_id,
            )
        except Exception:
            log.exception(
                "Listener %s failed on %s id=%s", subscription.name, event.kind, event.event_id
            )
