"""The dispatcher: delivery from the log, ordering, priorities, isolation, retries, parking,
bounded partitions, resuming after a restart, drain and close."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.event_store.event_log import DatabaseEventLog
from core.events import (
    Event,
    EventDispatcher,
    EventPriority,
    LoggedEvent,
    MemoryEventLog,
    RacetimeEntrantStatusChangedEvent,
    RacetimeRaceStatusChangedEvent,
    RacetimeRoomEvent,
    RetryPolicy,
)
from tests.core.sample_events import NO_WAIT, joined, status
from tests.plugins.faults import DatabaseFaults


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


async def test_an_event_id_already_in_the_log_is_not_delivered_again() -> None:
    bus = EventDispatcher()
    seen: list[str] = []

    @bus.on(RacetimeRaceStatusChangedEvent)
    async def record(event: RacetimeRaceStatusChangedEvent) -> None:
        seen.append(event.event_id)

    first = status("r", "open", version=3)
    assert len(await bus.emit(first)) == 1
    assert await bus.emit(status("r", "open", version=3)) == []
    await bus.drain()
    assert seen == [first.event_id]


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


async def test_a_failing_listener_is_retried_and_the_others_run_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = MemoryEventLog()
    bus = EventDispatcher(log, retry=NO_WAIT)
    calls = 0
    seen: list[str] = []

    async def flaky(event: Event) -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise RuntimeError("listener bug")

    async def healthy(event: RacetimeRaceStatusChangedEvent) -> None:
        seen.append(event.new_status)

    bus.subscribe(Event, flaky, priority=EventPriority.HIGH)
    bus.subscribe(RacetimeRaceStatusChangedEvent, healthy)
    with caplog.at_level(logging.WARNING, logger="core.events.dispatcher"):
        (entry,) = await bus.emit(status("r", "open"))
        await bus.drain()
    assert calls == 3 and seen == ["open"]
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2 and retries[0].exc_info is not None
    assert "flaky" in retries[0].getMessage() and "attempt 1 of 3" in retries[0].getMessage()
    assert log.parked == [] and entry.seq in log.acknowledged


async def test_a_listener_that_keeps_failing_is_parked_and_the_room_moves_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = MemoryEventLog()
    bus = EventDispatcher(log, retry=NO_WAIT)
    seen: list[str] = []

    async def broken(event: RacetimeRaceStatusChangedEvent) -> None:
        if event.new_status == "open":
            raise RuntimeError("listener bug")

    async def healthy(event: RacetimeRaceStatusChangedEvent) -> None:
        seen.append(event.new_status)

    bus.subscribe(RacetimeRaceStatusChangedEvent, broken, priority=EventPriority.HIGH)
    bus.subscribe(RacetimeRaceStatusChangedEvent, healthy)
    with caplog.at_level(logging.ERROR, logger="core.events.dispatcher"):
        first, second = status("r", "open"), status("r", "pending")
        await bus.emit(first)
        await bus.emit(second)
        await bus.drain()
    assert seen == ["open", "pending"]
    assert bus.parked == 1
    (parked,) = log.parked
    assert (parked.event_id, parked.attempts) == (first.event_id, 3)
    assert "broken" in parked.listener and "RuntimeError: listener bug" in parked.error
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "parked" in errors[0].getMessage()
    assert len(log.acknowledged) == 2, "a parked delivery is done with, not redelivered"


async def test_a_listener_past_its_timeout_is_retried_then_parked() -> None:
    log = MemoryEventLog()
    bus = EventDispatcher(log, retry=NO_WAIT)
    seen: list[str] = []

    async def stuck(event: Event) -> None:
        await asyncio.sleep(3600)

    async def after(event: RacetimeRaceStatusChangedEvent) -> None:
        seen.append(event.new_status)

    bus.subscribe(Event, stuck, priority=EventPriority.HIGH, timeout=0.01)
    bus.subscribe(RacetimeRaceStatusChangedEvent, after)
    await bus.emit(status("r", "open"))
    await asyncio.wait_for(bus.drain(), 2)
    assert seen == ["open"]
    assert [p.error for p in log.parked] == ["TimeoutError: timed out after 0.0s"]


async def test_a_retrying_listener_holds_up_only_its_own_room() -> None:
    release = asyncio.Event()
    bus = EventDispatcher(retry=RetryPolicy(attempts=1000, base=0.005, cap=0.005))
    seen: list[str] = []

    async def listener(event: RacetimeRaceStatusChangedEvent) -> None:
        if event.room_slug == "stuck" and not release.is_set():
            raise RuntimeError("not yet")
        seen.append(event.room_slug)

    bus.subscribe(RacetimeRaceStatusChangedEvent, listener)
    await bus.emit(status("stuck", "open"))
    for room in ("a", "b", "c"):
        await bus.emit(status(room, "open"))
    await asyncio.sleep(0.05)
    assert seen == ["a", "b", "c"]
    release.set()
    await bus.drain()
    assert seen == ["a", "b", "c", "stuck"]


async def test_listener_calls_never_exceed_the_concurrency_cap() -> None:
    bus = EventDispatcher(max_concurrency=3)
    running = peak = 0

    async def listener(event: Event) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    bus.subscribe(Event, listener)
    for room in range(20):
        await bus.emit(status(f"room-{room}", "open"))
    await bus.drain()
    assert peak == 3


async def test_a_partition_keeps_a_bounded_queue_and_reads_the_rest_back_in_order() -> None:
    log = MemoryEventLog()
    bus = EventDispatcher(log, max_queued=5)
    release = asyncio.Event()
    seen: list[int] = []

    async def listener(event: RacetimeRaceStatusChangedEvent) -> None:
        await release.wait()
        seen.append(event.racetime_version or 0)

    bus.subscribe(RacetimeRaceStatusChangedEvent, listener)
    for version in range(1, 41):
        await bus.emit(status("busy", "open", version=version))
    assert bus.pending <= 5, "the rest waits in the log, not in memory"
    release.set()
    await bus.drain()
    assert seen == list(range(1, 41))
    assert len(log.acknowledged) == 40


async def test_start_delivers_what_a_previous_run_left_unacknowledged_first() -> None:
    log = MemoryEventLog()
    left_over = [status("r", "pending"), status("r", "in_progress")]
    # Committed, then the process died before any listener saw them (no dispatcher yet).
    assert len(await log.append(left_over)) == 2

    seen: list[tuple[str, str]] = []
    restarted = EventDispatcher(log)

    @restarted.on(RacetimeRaceStatusChangedEvent)
    async def record(event: RacetimeRaceStatusChangedEvent) -> None:
        seen.append((event.event_id, event.new_status))

    await restarted.start()
    await restarted.emit(status("r", "finished"))
    await restarted.drain()
    assert [s for _, s in seen] == ["pending", "in_progress", "finished"]
    assert [i for i, _ in seen[:2]] == [e.event_id for e in left_over], "same ids again"


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


async def test_emit_returns_once_logged_before_listeners_run() -> None:
    log = MemoryEventLog()
    bus = EventDispatcher(log)
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(event: Event) -> None:
        started.set()
        await release.wait()

    bus.subscribe(Event, slow)
    (entry,) = await bus.emit(status("r", "open"))
    assert entry.seq in log.entries and not started.is_set()
    assert bus.pending == 1
    await asyncio.sleep(0)
    assert started.is_set()
    release.set()
    await bus.drain()
    assert bus.pending == 0


async def test_drain_with_nothing_queued_returns_at_once() -> None:
    await asyncio.wait_for(EventDispatcher().drain(), 0.5)


async def test_a_listener_is_handed_only_the_events_its_filter_wants() -> None:
    bus = EventDispatcher()
    filtered: list[str] = []
    everything: list[str] = []
    calls = 0

    async def record_open(event: RacetimeRaceStatusChangedEvent) -> None:
        filtered.append(event.new_status)

    async def record_all(event: RacetimeRaceStatusChangedEvent) -> None:
        everything.append(event.new_status)

    def wants(event: RacetimeRaceStatusChangedEvent) -> bool:
        nonlocal calls
        calls += 1
        return event.new_status == "open"

    bus.subscribe(RacetimeRaceStatusChangedEvent, record_open, when=wants)
    bus.subscribe(RacetimeRaceStatusChangedEvent, record_all)
    for value in ["pending", "open", "in_progress"]:
        await bus.emit(status("r", value))
    await bus.drain()
    assert filtered == ["open"]
    assert everything == ["pending", "open", "in_progress"]  # the group's others, unchanged
    assert calls == 3
    assert bus.delivered == 3  # the events it did not want are delivered (acknowledged) too


async def test_a_filter_that_fails_hands_the_event_to_its_listener(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventDispatcher()
    seen: list[str] = []

    @bus.on(RacetimeRaceStatusChangedEvent, when=lambda event: 1 / 0 > 0)
    async def record(event: RacetimeRaceStatusChangedEvent) -> None:
        seen.append(event.new_status)

    await bus.emit(status("r", "open"))
    await bus.drain()
    assert seen == ["open"]
    assert "its filter failed" in caplog.text


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


async def test_each_event_is_logged_once_at_info(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventDispatcher()

    async def listener(event: Event) -> None:
        pass

    bus.subscribe(Event, listener)
    with caplog.at_level(logging.INFO):
        await bus.emit(status("r", "open", version=4))
        await bus.drain()
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert lines == ["Race alttpr/r status changed: none -> open"]


async def test_sync_listeners_are_refused() -> None:
    bus = EventDispatcher()

    def not_async(event: Event) -> None:
        pass

    with pytest.raises(TypeError, match="async"):
        bus.subscribe(Event, not_async)  # type: ignore[arg-type]


async def test_close_delivers_what_is_queued_then_refuses_new_events() -> None:
    bus = EventDispatcher()
    seen: list[str] = []

    async def slow(event: RacetimeRaceStatusChangedEvent) -> None:
        await asyncio.sleep(0.01)
        seen.append(event.new_status)

    bus.subscribe(RacetimeRaceStatusChangedEvent, slow)
    await bus.emit(status("r", "open"), status("r2", "open"))
    await bus.close()
    assert seen == ["open", "open"]
    with pytest.raises(RuntimeError, match="closed"):
        await bus.emit(status("r", "pending"))


async def test_a_listener_failing_during_shutdown_leaves_its_event_for_the_next_start() -> None:
    log = MemoryEventLog()
    bus = EventDispatcher(log, retry=RetryPolicy(attempts=100, base=10.0))

    async def broken(event: Event) -> None:
        raise RuntimeError("database went away")

    bus.subscribe(Event, broken)
    entries: list[LoggedEvent] = await bus.emit(status("r", "open"))
    await asyncio.sleep(0.01)  # the first attempt failed; the retry would wait 5-10 s
    await asyncio.wait_for(bus.close(), 1)
    assert entries[0].seq not in log.acknowledged and log.parked == []
    assert await log.pending_partitions() == [entries[0].event.partition_key]


class _NoLongerLeading(Exception):
    """What a listener raises once this process must stop acting (bot.py: FencedError)."""


async def test_a_listener_told_to_stop_acting_leaves_its_partition_to_the_next_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = MemoryEventLog()
    bus = EventDispatcher(log, retry=NO_WAIT, stop_on=(_NoLongerLeading,))
    calls: list[str] = []

    async def refused(event: RacetimeRaceStatusChangedEvent) -> None:
        calls.append(event.new_status)
        raise _NoLongerLeading("the lease ran out unrenewed")

    bus.subscribe(RacetimeRaceStatusChangedEvent, refused)
    with caplog.at_level(logging.WARNING, logger="core.events.dispatcher"):
        first, second = status("r", "open"), status("r", "pending")
        await bus.emit(first)
        await bus.emit(second)
        await bus.drain()

    assert calls == ["open"]  # not retried, and the partition went no further
    assert bus.parked == 0 and log.parked == [] and log.acknowledged == set()
    assert "the event is left for the next start" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # The process that leads delivers both, in order.
    seen: list[str] = []
    leader = EventDispatcher(log, retry=NO_WAIT)

    @leader.on(RacetimeRaceStatusChangedEvent)
    async def record(event: RacetimeRaceStatusChangedEvent) -> None:
        seen.append(event.event_id)

    await leader.start()
    await leader.drain()
    assert seen == [first.event_id, second.event_id]


class _LateCommitLog(MemoryEventLog):
    """Two transactions at once: one takes a seq, another takes the next and commits first."""

    def take_seq(self, event: Event) -> LoggedEvent:
        entry = LoggedEvent(next(self._seq), event)
        self.entries[entry.seq] = entry
        return entry

    def commit(self, entry: LoggedEvent) -> None:
        assert self._deliver is not None
        self._deliver([entry])


async def test_an_event_committed_after_a_later_one_of_its_partition_is_still_delivered() -> None:
    log = _LateCommitLog()
    bus = EventDispatcher(log)
    release = asyncio.Event()
    seen: list[str] = []

    @bus.on(RacetimeRaceStatusChangedEvent)
    async def record(event: RacetimeRaceStatusChangedEvent) -> None:
        if event.new_status == "open":
            await release.wait()
        seen.append(event.new_status)

    late = log.take_seq(status("r", "late"))  # seq 1, its transaction still open
    await bus.emit(status("r", "open"))  # seq 2: under delivery (the listener waits)
    await bus.emit(status("r", "pending"))  # seq 3: queued
    log.commit(late)  # seq 1 commits now, after seqs 2 and 3
    release.set()
    await bus.drain()

    assert seen == ["open", "late", "pending"]
    assert log.acknowledged == {1, 2, 3}


async def test_close_gives_up_on_an_event_log_that_cannot_commit(
    db_sessionmaker: async_sessionmaker[AsyncSession], db_faults: DatabaseFaults,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A database that refuses every commit (SQLite locked by a connection that never lets go,
    seen once in CI) holds close() for ``close_timeout``, not for ever: the events stay in
    the log for the next start."""
    event_log = DatabaseEventLog(db_sessionmaker, ack_delay=0.05, close_timeout=0.3)
    dispatcher = EventDispatcher(event_log, close_timeout=0.3)
    await event_log.start()
    await dispatcher.start()
    db_faults.fail(r"INSERT INTO event_log", times=None)
    event_log.submit([status("locked-room")])
    async with asyncio.timeout(10):
        await dispatcher.close()
        await event_log.close()
    assert "Shutting down with events not delivered" in caplog.text
    assert dispatcher.delivered == 0
