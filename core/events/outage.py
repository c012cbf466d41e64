"""What the dispatcher asks of the database's watch (``core.outage`` implements it).

A protocol here, so that the event types and the dispatcher (which the racetime engine
imports) stay free of the database layer.
"""

from __future__ import annotations

from typing import Protocol

# What a stopping part still waits for the database when it is away (the next start redoes
# what it could not write).
OUTAGE_CLOSE_SECONDS = 1.0


class OutageWatch(Protocol):
    @property
    def available(self) -> bool:
        """Whether the database answers."""
        ...

    async def confirm_outage(self, error: BaseException) -> bool:
        """Whether ``error`` (from a database call) means the database is away."""
        ...

    async def wait_until_up(self) -> None:
        """Return once the database answers; raise if RaceDesk stops meanwhile."""
        ...


def closing_wait(normal: float, outage: OutageWatch | None) -> float:
    """How long a part that is stopping waits to write what it holds: ``normal``, or hardly at
    all while the database is away."""
    if outage is None or outage.available:
        return normal
    return OUTAGE_CLOSE_SECONDS
