"""The dispatcher: ordering, priorities, isolation, timeouts, non-blocking emit, drain."""

from __future__ import annotations

import asyncio
import logging

import pytest

from core.events import (
    Event,
    EventDispatcher,
    EventPriority,
    RacetimeEntrantJoinedEvent,
    RacetimeEntrantStatusChangedEvent,
    RacetimeRaceStatusChangedEvent,
    RacetimeRoomEvent,
)
from core.identity import SYSTEM_USER_ID


def status(room: str, new: str, version: int = 1) -> RacetimeRaceStatusChangedEvent:
    return RacetimeRaceStatusChangedEvent(
        category="alttpr",
        room_slug=room,
        room_name=f"alttpr/{room}",
        old_status=None,
        new_status=new,
        racetime_version=version,
        user_id=SYSTEM_USER_ID,
    )


def joined(room: str, user: str) -> RacetimeEntrantJoinedEvent:
    return RacetimeEntrantJoinedEvent(
        category="alttpr",
        room_slug=room,
        room_name=f"alttpr/{room}",
        racetime_user_id=user,
        initial_status="not_ready",
    )


async def test_events_of_one_room_arrive_in_emission_order() -> None:
    bus = EventDispatcher()
    seen: list[str] = []

    @bus.on(RacetimeRaceStatusChangedEvent)
    async def record(event: RacetimeRaceStatusChangedEvent) -> None:
        await asyncio.sleep(0.001 if event.new_status == "open" else 0)
        seen.append(event.new_status)

    for value in ["open", "pending", "in_progress", "finished"]:
        await bus.emit(status("room-a", value))
    await bus.drain()
    assert seen == ["open", "pending", "in_progress", "finished"]


async def test_rooms_are_independent() -> None:
    bus = EventDispatcher()
    release = asyncio.Event()
    seen: list[str] = []

    @bus.on(RacetimeRaceStatusChangedEvent)
    async def record(event: RacetimeRaceStatusChangedEvent) -> None:
        if event.room_slug == "slow-room":
            await release.wait()
        seen.append(event.room_slug)

    await bus.emit(status("slow-room", "open"))
    await bus.emit(status("fast-room", "open"))
    for _ in range(20):
        await asyncio.sleep(0)
    assert seen == ["fast-room"]
    release.set()
    await bus.drain()
    assert seen == ["fast-room", "slow-room"]


async def test_higher_priority_events_of_a_batch_go_first() -> None:
    bus = EventDispatcher()
    seen: list[str] = []

    @bus.on(RacetimeRoomEvent)
    async def record(event: RacetimeRoomEvent) -> None:
        seen.append(event.kind)

    await bus.emit(joined("r", "a" * 16), status("r", "pending"), joined("r", "b" * 16))
    await bus.drain()
    assert seen == [
        "RacetimeRaceStatusChangedEvent",
        "RacetimeEntrantJoinedEvent",
        "RacetimeEntrantJoinedEvent",
    ]


async def test_batches_are_not_reordered_across_emits() -> None:
    bus = EventDispatcher()
    seen: list[str] = []

    @bus.on(RacetimeRoomEvent)
    async def record(event: RacetimeRoomEvent) -> None:
        seen.append(event.kind)

    await bus.emit(joined("r", "a" * 16))
    await bus.emit(status("r", "pending"))
    await bus.drain()
    assert seen == ["RacetimeEntrantJoinedEvent", "RacetimeRaceStatusChangedEvent"]


async def test_higher_priority_listeners_finish_before_lower_ones_start() -> None:
    bus = EventDispatcher()
    log: list[str] = []

    async def audit(event: Event) -> None:
        log.append("audit start")
        await asyncio.sleep(0.01)
        log.append("audit end")

    async def notify(event: Event) -> None:
        log.append("notify")

    bus.subscribe(Event, notify, priority=EventPriority.NORMAL)
    bus.subscribe(Event, audit, priority=EventPriority.AUDIT)
    await bus.emit(status("r", "open"))
    await bus.drain()
    assert log == ["audit start", "audit end", "notify"]


async def test_listeners_of_equal_priority_run_concurrently() -> None:
    bus = EventDispatcher()
    both_running = asyncio.Event()
    running = 0

    async def listener(event: Event) -> None:
        nonlocal running
        running += 1
        if running == 2:
            both_running.set()
        await asyncio.wait_for(both_running.wait(), 1)

    bus.subscribe(Event, listener)
    bus.subscribe(Event, listener)
    await bus.emit(status("r", "open"))
    await bus.drain()
    assert both_running.is_set()


async def test_a_failing_listener_is_logged_and_does_not_stop_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventDispatcher()
    seen: list[str] = []

    async def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    async def healthy(event: RacetimeRaceStatusChangedEvent) -> None:
        seen.append(event.new_status)

    bus.subscribe(Event, broken, priority=EventPriority.HIGH)
    bus.subscribe(RacetimeRaceStatusChangedEvent, healthy)
    with caplog.at_level(logging.ERROR, logger="core.events.dispatcher"):
        await bus.emit(status("r", "open"))
        await bus.emit(status("r", "pending"))
        await bus.drain()
    assert seen == ["open", "pending"]
    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 2
    assert failures[0].exc_info and "listener bug" in str(failures[0].exc_info[1])
    assert "broken" in failures[0].getMessage()


async def test_a_listener_past_its_timeout_is_cancelled_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventDispatcher()
    seen: list[str] = []

    async def stuck(event: Event) -> None:
        await asyncio.sleep(3600)

    async def after(event: RacetimeRaceStatusChangedEvent) -> None:
        seen.append(event.new_status)

    bus.subscribe(Event, stuck, priority=EventPriority.HIGH, timeout=0.01)
    bus.subscribe(RacetimeRaceStatusChangedEvent, after)
    with caplog.at_level(logging.ERROR, logger="core.events.dispatcher"):
        await bus.emit(status("r", "open"))
        await asyncio.wait_for(bus.drain(), 2)
    assert seen == ["open"]
    timeouts = [r for r in caplog.records if "timed out" in r.getMessage()]
    assert len(timeouts) == 1 and timeouts[0].exc_info is not None


async def test_emit_returns_before_listeners_run() -> None:
    bus = EventDispatcher()
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(event: Event) -> None:
        started.set()
        await release.wait()

    bus.subscribe(Event, slow)
    await bus.emit(status("r", "open"))
    assert not started.is_set()
    assert bus.pending == 1
    await asyncio.sleep(0)
    assert started.is_set()
    release.set()
    await bus.drain()
    assert bus.pending == 0


async def test_drain_waits_for_events_emitted_by_listeners() -> None:
    bus = EventDispatcher()
    seen: list[str] = []

    @bus.on(RacetimeRaceStatusChangedEvent)
    async def chain(event: RacetimeRaceStatusChangedEvent) -> None:
        seen.append(event.new_status)
        if event.new_status == "open":
            await asyncio.sleep(0.005)
            await bus.emit(status("other", "pending"))

    await bus.emit(status("r", "open"))
    await bus.drain()
    assert seen == ["open", "pending"]


async def test_drain_with_nothing_queued_returns_at_once() -> None:
    await asyncio.wait_for(EventDispatcher().drain(), 0.5)


async def test_a_listener_on_a_base_class_receives_subclasses_and_unsubscribe_works() -> None:
    bus = EventDispatcher()
    seen: list[type] = []

    async def record(event: Event) -> None:
        seen.append(type(event))

    unsubscribe = bus.subscribe(RacetimeRoomEvent, record)
    change = RacetimeEntrantStatusChangedEvent(
        category="alttpr",
        room_slug="s",
        room_name="alttpr/s",
        racetime_user_id="u" * 16,
        old_status="ready",
        new_status="in_progress",
    )
    await bus.emit(change, status("s", "in_progress"))
    await bus.drain()
    assert seen == [RacetimeRaceStatusChangedEvent, RacetimeEntrantStatusChangedEvent]
    unsubscribe()
    await bus.emit(status("s", "finished"))
    await bus.drain()
    assert len(seen) == 2


async def test_each_emission_is_logged_once_at_info(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventDispatcher()
    with caplog.at_level(logging.INFO, logger="core.events.dispatcher"):
        await bus.emit(status("r", "open", version=4))
        await bus.drain()
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert lines == [
        "Event RacetimeRaceStatusChangedEvent id=alttpr/r:4:RacetimeRaceStatusChangedEvent "
        "by System/Automation"
    ]


async def test_sync_listeners_are_refused() -> None:
    bus = EventDispatcher()

    def not_async(event: Event) -> None:
        pass

    with pytest.raises(TypeError, match="async"):
        bus.subscribe(Event, not_async)  # type: ignore[arg-type]


async def test_a_closed_dispatcher_refuses_new_events() -> None:
    bus = EventDispatcher()
    await bus.close()
    with pytest.raises(RuntimeError, match="closed"):
        await bus.emit(status("r", "open"))
