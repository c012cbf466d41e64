"""Messages that carry an example computed from the clock (a time a day ahead, on the hour):
a test cannot know the instant the bot read its clock, only that it lies between two readings
of its own, so it accepts the message as of either (they differ only across a whole hour)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TypeVar

T = TypeVar("T")


class Readings:
    """The clock read before and after a step (``after`` is set when the step is done)."""

    def __init__(self) -> None:
        self.before = datetime.now(UTC)
        self.after = self.before

    def either(self, expected: Callable[[datetime], T]) -> list[T]:
        """What is ``expected`` as of the first reading and as of the last."""
        return [expected(self.before), expected(self.after)]


@asynccontextmanager
async def clock_read_around() -> AsyncIterator[Readings]:
    """``async with clock_read_around() as now: ...`` then ``x in now.either(message)``."""
    readings = Readings()
    yield readings
    readings.after = datetime.now(UTC)
