"""Exactly-once listeners on at-least-once delivery: a receipt per (listener, event_id) in the
same transaction as the listener's effect."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.event_store.event_log import DatabaseEventLog
from core.event_store.exactly_once import exactly_once, exactly_once_writes
from core.events import (
    Event,
    EventDispatcher,
    RacetimeBotStatusChangedEvent,
    RacetimeRaceStatusChangedEvent,
)
from core.identity import SYSTEM_USER_ID
from db.models import AuditLog, ListenerReceipt
from db.queries.audit import add_audit_entry
from db.queries.events import receipt_write
from db.write_batch import Rows, Write
from tests.core.sample_events import NO_WAIT, SETTLE_SECONDS, status
from tests.plugins.racetime_engine import eventually


async def record_result(session: AsyncSession, event: Event) -> None:
    """The durable effect under test: one audit row per event handled."""
    await add_audit_entry(
        session,
        "test.result",
        actor_user_id=SYSTEM_USER_ID,
        details={"event_id": event.event_id},
    )


async def recorded(sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessionmaker() as session:
        rows = (await session.execute(select(AuditLog).order_by(AuditLog.id))).scalars()
        return [row.details["event_id"] for row in rows]


async def receipts(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        query = select(func.count()).select_from(ListenerReceipt)
        return int((await session.execute(query)).scalar_one())


async def test_a_repeat_records_nothing(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    listener = exactly_once(db_sessionmaker, "results", record_result)
    event = status("room-a")
    await listener(event)
    await listener(event)
    assert await recorded(db_sessionmaker) == [event.event_id]
    assert await receipts(db_sessionmaker) == 1


async def test_listeners_are_told_apart_by_name(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    event = status("room-a")
    await exactly_once(db_sessionmaker, "results", record_result)(event)
    await exactly_once(db_sessionmaker, "notifications", record_result)(event)
    await exactly_once(db_sessionmaker, "results", record_result)(event)
    assert await recorded(db_sessionmaker) == [event.event_id, event.event_id]


async def test_two_deliveries_at_once_record_once(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    listener = exactly_once(db_sessionmaker, "results", record_result)
    event = status("room-a")
    await asyncio.gather(listener(event), listener(event))
    assert await recorded(db_sessionmaker) == [event.event_id]


async def test_work_that_raises_leaves_no_receipt_so_the_retry_runs_it(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    attempts: list[str] = []

    async def flaky(session: AsyncSession, event: RacetimeRaceStatusChangedEvent) -> None:
        attempts.append(event.event_id)
        await record_result(session, event)  # written, then rolled back with the receipt
        if len(attempts) == 1:
            raise RuntimeError("the notification service is down")

    event_log = DatabaseEventLog(db_sessionmaker, ack_delay=0.01)
    bus = EventDispatcher(event_log, retry=NO_WAIT)
    bus.subscribe(RacetimeRaceStatusChangedEvent, exactly_once(db_sessionmaker, "flaky", flaky))
    await event_log.start()
    try:
        event = status("room-a")
        await bus.emit(event)
        async with asyncio.timeout(SETTLE_SECONDS):
            await bus.drain()
    finally:
        await bus.close()
        await event_log.close()

    assert attempts == [event.event_id, event.event_id]
    assert await recorded(db_sessionmaker) == [event.event_id]
    assert await receipts(db_sessionmaker) == 1
    assert bus.parked == 0


async def test_an_event_delivered_again_after_a_crash_is_recorded_once(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    deliveries: list[str] = []

    def durable_listener() -> Callable[[Event], Awaitable[None]]:
        inner = exactly_once(db_sessionmaker, "results", record_result)

        async def listener(event: Event) -> None:
            deliveries.append(event.event_id)
            await inner(event)

        return listener

    # First process: records every event, dies before its acknowledgements are committed
    # (its log is never started, so they only live in memory).
    first = EventDispatcher(DatabaseEventLog(db_sessionmaker), retry=NO_WAIT)
    first.subscribe(Event, durable_listener())
    # A bot status event has a random id: only the log keeps it the same.
    bot = RacetimeBotStatusChangedEvent(bot_id=1, category="alttpr", old_status=0, new_status=1)
    events = [status("room-a"), status("room-b"), status("room-a", "pending"), bot]
    await first.emit(*events)
    await eventually(lambda: first.delivered == len(events))

    # Second process on the same database: the same events come again, same ids.
    second_log = DatabaseEventLog(db_sessionmaker, ack_delay=0.01)
    second = EventDispatcher(second_log, retry=NO_WAIT)
    second.subscribe(Event, durable_listener())
    await second_log.start()
    try:
        await second.start()
        async with asyncio.timeout(SETTLE_SECONDS):
            await second.drain()
    finally:
        await second.close()
        await second_log.close()

    expected = sorted(e.event_id for e in events)
    assert sorted(deliveries) == sorted(expected * 2), "every event was delivered twice"
    assert sorted(await recorded(db_sessionmaker)) == expected, "and recorded once"
    assert await receipts(db_sessionmaker) == len(events)


@pytest.mark.parametrize("name", ["", "x" * 101])
def test_a_name_the_receipts_cannot_hold_is_refused_at_wiring(
    db_sessionmaker: async_sessionmaker[AsyncSession], name: str
) -> None:
    with pytest.raises(ValueError, match="listener name"):
        exactly_once(db_sessionmaker, name, record_result)


def test_the_listener_is_named_for_logs_and_parking(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    listener = exactly_once(db_sessionmaker, "results", record_result)
    assert listener.__qualname__ == "exactly_once[results]"


# -- exactly_once_writes: read first, then the rows and the receipt in one transaction ---------


async def effects(sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    """The rows the listeners under test add: receipts of a listener named ``effect``, a row
    the database keeps once per event (``ON CONFLICT DO NOTHING``), as the outbox's are."""
    async with sessionmaker() as session:
        query = select(ListenerReceipt.event_id).where(ListenerReceipt.listener == "effect")
        return list((await session.execute(query)).scalars())


def effect_write(dialect: str, event: Event) -> Write:
    return receipt_write(dialect, "effect", event.event_id)


async def test_writes_once_and_a_repeat_reads_nothing(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    prepared: list[str] = []

    async def prepare(session: AsyncSession, dialect: str, event: Event) -> list[Write]:
        prepared.append(event.event_id)
        return [effect_write(dialect, event)]

    listener = exactly_once_writes(db_sessionmaker, "results", prepare)
    event = status("room-a")
    await listener(event)
    await listener(event)
    assert prepared == [event.event_id]
    assert await effects(db_sessionmaker) == [event.event_id]
    assert await receipts(db_sessionmaker) == 2  # the listener's, and the effect row


async def test_two_deliveries_at_once_write_once(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async def prepare(session: AsyncSession, dialect: str, event: Event) -> list[Write]:
        return [effect_write(dialect, event)]

    listener = exactly_once_writes(db_sessionmaker, "results", prepare)
    event = status("room-a")
    await asyncio.gather(listener(event), listener(event))
    assert await effects(db_sessionmaker) == [event.event_id]
    assert await receipts(db_sessionmaker) == 2


async def test_the_reads_hold_up_no_writer(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """While ``prepare`` reads, another transaction writes and commits at once: no write of
    the listener's is open yet (``exactly_once`` would hold SQLite's one write lock here, and
    this commit would wait for it until the database gave up)."""

    async def prepare(session: AsyncSession, dialect: str, event: Event) -> list[Write]:
        async with asyncio.timeout(2.0), db_sessionmaker.begin() as other:
            await record_result(other, event)
        return [effect_write(dialect, event)]

    event = status("room-a")
    await exactly_once_writes(db_sessionmaker, "results", prepare)(event)
    assert await recorded(db_sessionmaker) == [event.event_id]
    assert await effects(db_sessionmaker) == [event.event_id]


async def test_writes_that_fail_leave_no_receipt_so_the_retry_writes(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    attempts: list[str] = []

    async def prepare(session: AsyncSession, dialect: str, event: Event) -> list[Write]:
        attempts.append(event.event_id)
        write = effect_write(dialect, event)
        if len(attempts) == 1:  # a row the database refuses, after the receipt's
            return [write, Write(write.statement, [{**write.rows[0], "listener": None}])]
        return [write]

    listener = exactly_once_writes(db_sessionmaker, "results", prepare)
    event = status("room-a")
    with pytest.raises(Exception, match=r"(?i)null"):
        await listener(event)
    assert await receipts(db_sessionmaker) == 0
    await listener(event)
    assert attempts == [event.event_id, event.event_id]
    assert await effects(db_sessionmaker) == [event.event_id]
    assert await receipts(db_sessionmaker) == 2


async def test_committed_gets_the_returned_rows_after_the_commit(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    seen: list[list[Rows]] = []

    async def prepare(session: AsyncSession, dialect: str, event: Event) -> list[Write]:
        write = effect_write(dialect, event)
        return [Write(write.statement.returning(ListenerReceipt.event_id), write.rows, True)]

    def committed(returned: list[Rows]) -> None:
        seen.append(returned)

    listener = exactly_once_writes(db_sessionmaker, "results", prepare, committed=committed)
    event = status("room-a")
    await listener(event)
    assert seen == [[[(event.event_id,)]]]
    assert await receipts(db_sessionmaker) == 2
