"""The event loop RaceDesk runs on: uvloop where it is installed, asyncio's own elsewhere.

uvloop runs the same asyncio program on libuv, and does the loop's own work (sockets,
callbacks, timers) in C. One RaceDesk process does all its work on one loop, so at a season's
peak that work is what every frame, commit and slash command queues behind: with uvloop,
``bench.rooms`` (1000 rooms over real websockets) keeps up with smaller, more frequent event
log commits, and its frame p99 went from 40-104 ms to 36-38 ms on the same machine.

It is a dependency on Linux and macOS (there is none for Windows); without it, or with
``RACEDESK_ASYNCIO_LOOP=1`` in the environment, :func:`run` is :func:`asyncio.run`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

PLAIN_LOOP_ENV = "RACEDESK_ASYNCIO_LOOP"


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to the end on a new loop (uvloop's when available), as :func:`asyncio.run`."""
    if os.environ.get(PLAIN_LOOP_ENV):
        return asyncio.run(main)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def name() -> str:
    """Which loop is running (for /about and the logs): ``uvloop`` or ``asyncio``."""
    loop = asyncio.get_running_loop()
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
