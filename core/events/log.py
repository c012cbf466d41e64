"""The event log the dispatcher delivers from: what it needs, and an in-memory version.

Every event is appended to the log (committed) before any listener sees it; the log hands
each committed batch to the dispatcher, which acknowledges an event once every listener has
finished with it. After a crash, whatever was not acknowledged is delivered again, with the
same ``event_id``. The database implementation is ``core.event_store.event_log``;
:class:`MemoryEventLog` is for tests of the dispatcher itself and for tools that need no
durability.

Within one partition, the log's sequence numbers follow commit order: each partition has one
writer at a time (a room's events come through the room store's single writer, a bot's status
events are written under a lock on the bot's row).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from core.events.base import Event


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An event and its position in the log (``seq`` grows with commit order)."""

    seq: int
    event: Event


Deliver = Callable[[Sequence[LoggedEvent]], None]
"""Called with each batch of newly committed events, in commit order; must not block."""


class EventLog(Protocol):
    def connect(self, deliver: Deliver) -> None:
        """From now on, hand every committed batch to ``deliver``."""
        ...

    async def append(self, events: Sequence[Event]) -> list[LoggedEvent]:
        """Commit ``events`` in a transaction of their own; returns them once committed.

        An event whose ``event_id`` is already in the log is not appended again (and not
        returned): a repeat is not news.
        """
        ...

    async def pending_partitions(self) -> list[str]:
        """Partitions that have events not yet acknowledged (to resume after a restart)."""
        ...

    async def pending(self, partition: str, *, after: int, limit: int) -> list[LoggedEvent]:
        """Unacknowledged events of ``partition`` with ``seq > after``, oldest first."""
        ...

    def acknowledge(self, seq: int) -> None:
        """Every listener is done with event ``seq``; recorded soon, without blocking."""
        ...

    async def park(self, entry: LoggedEvent, listener: str, error: str, attempts: int) -> None:
        """Keep a delivery that kept failing, for an admin to see (and count)."""
        ...

    async def flush(self) -> None:
        """Wait until everything appended or acknowledged so far is committed."""
        ...


@dataclass(frozen=True, slots=True)
class ParkedDelivery:
    seq: int
    event_id: str
    listener: str
    error: str
    attempts: int


class MemoryEventLog:
    """An :class:`EventLog` in memory: commits are instant, nothing survives the process."""

    def __init__(self) -> None:
        self._seq = itertools.count(1)
        self._deliver: Deliver | None = None
        self.entries: dict[int, LoggedEvent] = {}
        self.acknowledged: set[int] = set()
        self.parked: list[ParkedDelivery] = []
        self._ids: set[str] = set()

    def connect(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def append(self, events: Sequence[Event]) -> list[LoggedEvent]:
        logged = []
        for event in events:
            if event.event_id in self._ids:
                continue
            self._ids.add(event.event_id)
            entry = LoggedEvent(next(self._seq), event)
            self.entries[entry.seq] = entry
            logged.append(entry)
        if logged and self._deliver is not None:
            self._deliver(logged)
        return logged

    async def pending_partitions(self) -> list[str]:
        return sorted(
            {
                entry.event.partition_key
                for seq, entry in self.entries.items()
                if seq not in self.acknowledged
            }
        )

    async def pending(self, partition: str, *, after: int, limit: int) -> list[LoggedEvent]:
        rows = [
            entry
            for seq, entry in sorted(self.entries.items())
            if seq > after
            and seq not in self.acknowledged
            and entry.event.partition_key == partition
        ]
        return rows[:limit]

    def acknowledge(self, seq: int) -> None:
        self.acknowledged.add(seq)

    async def park(self, entry: LoggedEvent, listener: str, error: str, attempts: int) -> None:
        self.parked.append(
            ParkedDelivery(entry.seq, entry.event.event_id, listener, error, attempts)
        )

    async def flush(self) -> None:
        return None
