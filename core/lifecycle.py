"""One owner for start-up and shutdown: components start in order and stop in reverse.

``bot.py`` (the composition root) declares the order: database, event log, dispatcher,
racetime engine, then whatever front ends run (the Discord client, later the web server and
the scheduler). A component that fails to start stops the ones already started; a component
that fails to stop, or does not stop within a grace, is logged (naming it and where it waited)
and the others still stop: stopping never waits for ever. SIGTERM and SIGINT request the same
orderly stop, which delivers every pending event before the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

from core.stopping import wait_or_cancel

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable[object]]  # what a start returns is not used


# A component's stop may deliver a backlog of events: give it a while, but never for ever.
STOP_GRACE_SECONDS = 60.0


class Lifecycle:
    def __init__(self, *, stop_grace: float = STOP_GRACE_SECONDS) -> None:
        self._stop_grace = stop_grace
        self._stack = contextlib.AsyncExitStack()
        self._stop_requested = asyncio.Event()
        self._signals: list[signal.Signals] = []
        self._on_stop: list[Callable[[], None]] = []
        self.started: list[str] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def add(self, name: str, start: Step | None, stop: Step | None) -> None:
        """Start a component now (``start`` may be None) and stop it at :meth:`close`."""
        if start is not None:
            await start()
        self.started.append(name)
        if stop is not None:
            self._stack.push_async_callback(self._stop_one, name, stop)
        log.debug("Started %s", name)

    async def _stop_one(self, name: str, stop: Step) -> None:
        """Stop one component; one that does not stop within the grace (then again once
        cancelled) is logged with where it waited, and the others still stop."""

        async def run() -> None:
            try:
                await stop()
            except Exception:
                log.exception("Could not stop %s cleanly", name)
            else:
                log.debug("Stopped %s", name)

        task = asyncio.get_running_loop().create_task(run(), name=f"stop {name}")
        await wait_or_cancel(task, f"Stopping {name}", grace=self._stop_grace)

    async def close(self) -> None:
        """Stop every started component, newest first (idempotent)."""
        self._remove_signal_handlers()
        self._stopping()
        await self._stack.aclose()

    # -- stop requests -----------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop_requested.set()
        self._stopping()

    def on_stop_requested(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` as soon as a stop is asked for (or :meth:`close` begins), before
        any component stops: what waits for ever (a database that is away) gives up."""
        self._on_stop.append(callback)

    def _stopping(self) -> None:
        callbacks, self._on_stop = self._on_stop, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("A stop callback failed")

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested.is_set()

    async def wait_for_stop(self) -> None:
        await self._stop_requested.wait()

    def handle_signals(self, *signals: signal.Signals) -> None:
        """Turn SIGTERM and SIGINT (by default) into :meth:`request_stop`."""
        loop = asyncio.get_running_loop()
        for sig in signals or (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
            self._signals.append(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        log.info("Received %s; shutting down", sig.name)
        self.request_stop()

    def _remove_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._signals:
            loop.remove_signal_handler(sig)
        self._signals.clear()
