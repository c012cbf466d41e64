"""The application lifecycle: start in order, stop in reverse whatever fails, and SIGTERM as
an orderly stop that delivers what is pending."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.event_store.event_log import DatabaseEventLog
from core.events import EventDispatcher, RacetimeRaceStatusChangedEvent, RetryPolicy
from core.lifecycle import Lifecycle, Step
from tests.core.sample_events import SETTLE_SECONDS


class Journal:
    """Components whose start and stop write to one list, so the order is visible."""

    def __init__(self) -> None:
        self.entries: list[str] = []

    def step(self, entry: str, *, fails: bool = False) -> Step:
        async def run() -> None:
            self.entries.append(entry)
            if fails:
                raise RuntimeError(f"{entry} failed")

        return run

    async def add(
        self,
        lifecycle: Lifecycle,
        name: str,
        *,
        start_fails: bool = False,
        stop_fails: bool = False,
    ) -> None:
        await lifecycle.add(
            name,
            self.step(f"start {name}", fails=start_fails),
            self.step(f"stop {name}", fails=stop_fails),
        )


async def test_components_start_in_order_and_stop_in_reverse() -> None:
    journal = Journal()
    async with Lifecycle() as lifecycle:
        for name in ("database", "event log", "dispatcher", "engine"):
            await journal.add(lifecycle, name)
        assert lifecycle.started == ["database", "event log", "dispatcher", "engine"]
        assert journal.entries == [
            "start database", "start event log", "start dispatcher", "start engine",
        ]
    assert journal.entries[4:] == [
        "stop engine", "stop dispatcher", "stop event log", "stop database",
    ]


async def test_close_twice_stops_once() -> None:
    journal = Journal()
    lifecycle = Lifecycle()
    await journal.add(lifecycle, "database")
    await lifecycle.close()
    await lifecycle.close()
    assert journal.entries == ["start database", "stop database"]


async def test_components_without_a_start_or_a_stop() -> None:
    journal = Journal()
    async with Lifecycle() as lifecycle:
        await lifecycle.add("engine", None, journal.step("stop engine"))
        await lifecycle.add("client", journal.step("start client"), None)
        assert lifecycle.started == ["engine", "client"]
    assert journal.entries == ["start client", "stop engine"]


async def test_a_failed_start_stops_what_already_started() -> None:
    journal = Journal()
    with pytest.raises(RuntimeError, match="start engine failed"):
        async with Lifecycle() as lifecycle:
            await journal.add(lifecycle, "database")
            await journal.add(lifecycle, "event log")
            await journal.add(lifecycle, "engine", start_fails=True)
            await journal.add(lifecycle, "discord")  # never reached
    assert journal.entries == [
        "start database", "start event log", "start engine",
        "stop event log", "stop database",
    ]
    assert lifecycle.started == ["database", "event log"]


async def test_a_stop_that_raises_is_logged_and_the_others_still_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = Journal()
    with caplog.at_level(logging.ERROR, logger="core.lifecycle"):
        async with Lifecycle() as lifecycle:
            await journal.add(lifecycle, "database")
            await journal.add(lifecycle, "engine", stop_fails=True)
            await journal.add(lifecycle, "discord")
    assert journal.entries[3:] == ["stop discord", "stop engine", "stop database"]
    (record,) = [r for r in caplog.records if r.name == "core.lifecycle"]
    assert record.levelno == logging.ERROR
    assert "engine" in record.getMessage()
    assert record.exc_info is not None and "stop engine failed" in str(record.exc_info[1])


async def test_an_error_in_the_body_still_stops_everything() -> None:
    journal = Journal()
    with pytest.raises(KeyError):
        async with Lifecycle() as lifecycle:
            await journal.add(lifecycle, "database")
            raise KeyError("the bot crashed")
    assert journal.entries == ["start database", "stop database"]


async def test_request_stop_wakes_the_waiter() -> None:
    lifecycle = Lifecycle()
    waiter = asyncio.ensure_future(lifecycle.wait_for_stop())
    await asyncio.sleep(0)
    assert not waiter.done() and not lifecycle.stop_requested
    lifecycle.request_stop()
    async with asyncio.timeout(SETTLE_SECONDS):
        await waiter
    assert lifecycle.stop_requested
    await lifecycle.close()


@pytest.fixture
def safety_net() -> Iterator[list[int]]:
    """Python-level SIGTERM and SIGINT handlers for the duration of a test.

    If the lifecycle failed to take the signals over, the signal the test sends lands here
    (and the test fails waiting) instead of killing the test run.
    """
    caught: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda number, frame: caught.append(number))
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        yield caught
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
async def test_a_signal_requests_an_orderly_stop_and_handlers_go_at_close(
    sig: signal.Signals, safety_net: list[int]
) -> None:
    loop = asyncio.get_running_loop()
    journal = Journal()
    async with Lifecycle() as lifecycle:
        lifecycle.handle_signals()
        await journal.add(lifecycle, "engine")
        os.kill(os.getpid(), sig)
        async with asyncio.timeout(SETTLE_SECONDS):
            await lifecycle.wait_for_stop()
        assert lifecycle.stop_requested
        assert journal.entries == ["start engine"], "a signal asks; close() stops"
    assert journal.entries == ["start engine", "stop engine"]
    assert safety_net == []
    # Nothing of the lifecycle's is left on the loop.
    assert not loop.remove_signal_handler(signal.SIGTERM)
    assert not loop.remove_signal_handler(signal.SIGINT)


async def test_sigterm_delivers_pending_events_before_exit(
    db_sessionmaker: async_sessionmaker[AsyncSession], safety_net: list[int]
) -> None:
    event_log = DatabaseEventLog(db_sessionmaker, ack_delay=3600)
    dispatcher = EventDispatcher(event_log, retry=RetryPolicy(attempts=2, base=0.001))
    release = asyncio.Event()
    seen: list[str] = []

    async def slow_listener(event: RacetimeRaceStatusChangedEvent) -> None:
        await release.wait()
        seen.append(event.event_id)

    dispatcher.subscribe(RacetimeRaceStatusChangedEvent, slow_listener)
    events = [
        RacetimeRaceStatusChangedEvent(
            category="alttpr",
            room_slug=f"room-{n}",
            room_name=f"alttpr/room-{n}",
            old_status=None,
            new_status="open",
            racetime_version=n,
        )
        for n in range(1, 4)
    ]

    async with Lifecycle() as lifecycle:
        lifecycle.handle_signals()
        await lifecycle.add("event log", event_log.start, event_log.close)
        await lifecycle.add("event delivery", dispatcher.start, dispatcher.close)
        await dispatcher.emit(*events)
        os.kill(os.getpid(), signal.SIGTERM)
        async with asyncio.timeout(SETTLE_SECONDS):
            await lifecycle.wait_for_stop()
        assert seen == []
        release.set()  # the listeners finish during the orderly stop

    assert sorted(seen) == sorted(e.event_id for e in events)
    assert safety_net == []
    # Delivered and acknowledged: a restart would deliver nothing again.
    assert await DatabaseEventLog(db_sessionmaker).pending_partitions() == []


async def test_a_component_that_never_stops_is_named_and_the_others_still_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Stopping never waits for ever (issue 20): a stop that awaits something that never comes
    is given the grace, then cancelled; the log says which component and where it waited."""
    journal = Journal()
    never = asyncio.Event()

    async def wait_for_a_queue_that_never_drains() -> None:
        await never.wait()

    async with Lifecycle(stop_grace=0.01) as lifecycle:
        await journal.add(lifecycle, "database")
        await lifecycle.add("stuck dispatcher", None, wait_for_a_queue_that_never_drains)
        await journal.add(lifecycle, "engine")
    assert journal.entries[2:] == ["stop engine", "stop database"]
    [warning] = [r for r in caplog.records if "did not stop" in r.getMessage()]
    assert warning.getMessage().startswith("Stopping stuck dispatcher did not stop within")
    assert "wait_for_a_queue_that_never_drains, awaiting Event.wait" in warning.getMessage()
