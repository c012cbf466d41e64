"""The database event log: order, acknowledgements, group commit, retries of transient
failures, dropping only what cannot be stored, transactions, parking, pruning, and delivery
by the real dispatcher across a "crash" (new objects on the same database)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import ManualClock
from core.event_store.event_log import MAX_BATCH, DatabaseEventLog
from core.events import (
    Event,
    EventDispatcher,
    LoggedEvent,
    RacetimeBotStatusChangedEvent,
    RacetimeRaceStatusChangedEvent,
    room_partition,
)
from core.identity import SYSTEM_USER_ID
from core.racetime_bots.room_store import DatabaseRoomStore
from db.engine import create_engine, create_sessionmaker, engine_of
from db.models import AuditLog, EventLogEntry, ListenerReceipt, ParkedDelivery, RaceRoom
from db.queries.audit import add_audit_entry
from db.queries.events import claim_receipt
from db.sqlite_driver import writer_turn
from db.write_batch import Write
from racetime.models import Race, race_from_dict
from tests.core.sample_events import NO_WAIT, SETTLE_SECONDS, joined, status
from tests.plugins.faults import DatabaseFaults, parameters_mention
from tests.plugins.racetime_engine import eventually
from tests.racetime import frames


def race(version: int, race_status: str = "open", slug: str = "fancy-wolf-4891") -> Race:
    value = race_from_dict(
        frames.race(version=version, status_value=race_status, entrants=[], slug=slug)
    )
    assert value is not None
    return value


def ids(entries: Sequence[LoggedEvent]) -> list[str]:
    return [entry.event.event_id for entry in entries]


async def settle(awaitable: Any) -> Any:
    async with asyncio.timeout(SETTLE_SECONDS):
        return await awaitable


async def logged_rows(sessionmaker: async_sessionmaker[AsyncSession]) -> list[EventLogEntry]:
    async with sessionmaker() as session:
        result = await session.execute(select(EventLogEntry).order_by(EventLogEntry.seq))
        return list(result.scalars())


async def count(sessionmaker: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


@pytest.fixture
async def event_log(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[DatabaseEventLog]:
    log = DatabaseEventLog(db_sessionmaker, ack_delay=0.01, close_timeout=SETTLE_SECONDS)
    await log.start()
    try:
        yield log
    finally:
        await log.close()


@pytest.fixture
async def lazy_ack_log(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[DatabaseEventLog]:
    """A started log whose acknowledgements wait for the next commit or ``flush()``."""
    log = DatabaseEventLog(db_sessionmaker, ack_delay=3600)
    await log.start()
    try:
        yield log
    finally:
        await log.close()


class Delivered:
    """A stand-in for the dispatcher's ``publish``: what the log handed over, in order."""

    def __init__(self) -> None:
        self.batches: list[list[LoggedEvent]] = []

    def __call__(self, entries: Sequence[LoggedEvent]) -> None:
        self.batches.append(list(entries))

    @property
    def event_ids(self) -> list[str]:
        return [entry.event.event_id for batch in self.batches for entry in batch]


# -- appending, reading back, acknowledging ----------------------------------------------------


async def test_events_come_back_in_order_per_partition(event_log: DatabaseEventLog) -> None:
    a = [status("room-a", "open"), joined("room-a", "a" * 16), status("room-a", "pending")]
    b = [status("room-b", "open"), status("room-b", "in_progress")]
    for event in [a[0], b[0], a[1], b[1], a[2]]:
        await event_log.append([event])

    assert await event_log.pending_partitions() == sorted(
        [room_partition("alttpr", "room-a"), room_partition("alttpr", "room-b")]
    )
    pending_a = await event_log.pending(room_partition("alttpr", "room-a"), after=0, limit=100)
    assert ids(pending_a) == [e.event_id for e in a]
    assert [entry.event for entry in pending_a] == a
    assert [entry.seq for entry in pending_a] == sorted(entry.seq for entry in pending_a)
    pending_b = await event_log.pending(room_partition("alttpr", "room-b"), after=0, limit=100)
    assert ids(pending_b) == [e.event_id for e in b]

    after_first = await event_log.pending(
        room_partition("alttpr", "room-a"), after=pending_a[0].seq, limit=1
    )
    assert ids(after_first) == [a[1].event_id]


async def test_a_batch_is_logged_highest_priority_first(event_log: DatabaseEventLog) -> None:
    entrant, race_status = joined("room-a", "a" * 16), status("room-a", "pending")
    logged = await event_log.append([entrant, race_status])
    assert ids(logged) == [race_status.event_id, entrant.event_id]
    assert logged[0].seq < logged[1].seq


async def test_a_large_batch_keeps_its_order_in_the_log(event_log: DatabaseEventLog) -> None:
    # Delivery order within a room is ``seq`` order: one batch must get its seqs in the
    # order given, however the rows are inserted.
    events = [joined("room-a", f"{n:016d}") for n in range(300)]
    logged = await event_log.append(events)
    assert ids(logged) == [e.event_id for e in events]
    assert [entry.seq for entry in logged] == sorted(entry.seq for entry in logged)
    pending = await event_log.pending(room_partition("alttpr", "room-a"), after=0, limit=1000)
    assert ids(pending) == [e.event_id for e in events]


async def test_acknowledged_events_are_no_longer_pending(event_log: DatabaseEventLog) -> None:
    first, second = status("room-a"), status("room-b")
    logged = await event_log.append([first, second])
    event_log.acknowledge(logged[0].seq)
    await settle(event_log.flush())

    assert await event_log.pending_partitions() == [room_partition("alttpr", "room-b")]
    assert await event_log.pending(room_partition("alttpr", "room-a"), after=0, limit=10) == []
    assert ids(
        await event_log.pending(room_partition("alttpr", "room-b"), after=0, limit=10)
    ) == [second.event_id]


async def test_acknowledgements_are_committed_together(lazy_ack_log: DatabaseEventLog) -> None:
    # A long delay: only flush() commits them, and then all in one transaction.
    log = lazy_ack_log
    logged = await log.append([status(f"room-{n}") for n in range(20)])
    commits = log.commits
    for entry in logged:
        log.acknowledge(entry.seq)
    await settle(log.flush())
    assert log.commits == commits + 1
    assert await log.pending_partitions() == []


async def test_more_acknowledgements_than_one_statement_may_carry_are_all_recorded(
    lazy_ack_log: DatabaseEventLog,
) -> None:
    # While the database is away, acknowledgements pile up; both drivers refuse a statement
    # with more than 32767 parameters, and that must not cost the whole pile.
    log = lazy_ack_log
    first, last = await log.append([status("room-a"), status("room-b")])
    log.acknowledge(first.seq)
    for seq in range(last.seq + 1, last.seq + 40_000):  # rows long pruned, say
        log.acknowledge(seq)
    log.acknowledge(last.seq)
    await settle(log.flush())
    assert await log.pending_partitions() == []


async def test_a_repeated_event_id_is_not_appended_twice(
    event_log: DatabaseEventLog, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    event, other = status("room-a"), status("room-a", "pending")
    assert ids(await event_log.append([event])) == [event.event_id]
    assert await event_log.append([event]) == []
    # Twice within one batch is still one event, returned (and so delivered) once.
    assert ids(await event_log.append([other, other])) == [other.event_id]

    rows = await logged_rows(db_sessionmaker)
    assert [row.event_id for row in rows] == [event.event_id, other.event_id]


async def test_an_event_that_cannot_be_read_back_is_skipped_and_acknowledged(
    event_log: DatabaseEventLog, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    gone, kept = status("room-a"), status("room-a", "pending")
    await event_log.append([gone, kept])
    async with db_sessionmaker.begin() as session:
        row = (
            await session.execute(
                select(EventLogEntry).where(EventLogEntry.event_id == gone.event_id)
            )
        ).scalar_one()
        row.kind = "EventRemovedInALaterRelease"

    pending = await event_log.pending(room_partition("alttpr", "room-a"), after=0, limit=10)
    assert ids(pending) == [kept.event_id]
    await settle(event_log.flush())
    rows = {row.event_id: row for row in await logged_rows(db_sessionmaker)}
    assert rows[gone.event_id].delivered_at is not None
    assert rows[kept.event_id].delivered_at is None


# -- group commit ------------------------------------------------------------------------------


async def hold_a_commit(event_log: DatabaseEventLog, event: Event) -> asyncio.Event:
    """Submit ``event`` and hold its commit open until the returned event is set, so that
    what is submitted meanwhile queues up behind it."""
    inside_commit = asyncio.Event()
    release = asyncio.Event()

    async def slow_state_writer(dialect: str, states: list[Any]) -> list[Write]:
        if "hold" in states:
            inside_commit.set()
            await release.wait()
        return []

    event_log.register_state_writer(slow_state_writer)
    event_log.submit([event], state="hold")
    await settle(inside_commit.wait())
    return release


async def test_submissions_queued_while_a_commit_runs_share_the_next_commit(
    event_log: DatabaseEventLog, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first = status("room-0")
    release = await hold_a_commit(event_log, first)

    later = [status(f"room-{n}") for n in range(1, 51)]
    for event in later:
        event_log.submit([event])
    commits = event_log.commits
    release.set()
    await settle(event_log.flush())

    assert event_log.commits == commits + 2, "the held commit, then one for the 50 queued"
    rows = await logged_rows(db_sessionmaker)
    assert [row.event_id for row in rows] == [first.event_id] + [e.event_id for e in later]



async def test_a_backlog_is_committed_in_bounded_batches_in_order(
    event_log: DatabaseEventLog, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A backlog (a peak the writer fell behind) goes in transactions of MAX_BATCH, so no
    other writer waits out SQLite's busy timeout behind one huge commit."""
    release = await hold_a_commit(event_log, status("room-held"))
    backlog = [status(f"room-{n}") for n in range(2 * MAX_BATCH + 1)]
    for event in backlog:
        event_log.submit([event])
    commits = event_log.commits
    release.set()
    await settle(event_log.flush())

    assert event_log.commits == commits + 1 + 3, "the held commit, then three bounded ones"
    rows = await logged_rows(db_sessionmaker)
    assert [row.event_id for row in rows][1:] == [e.event_id for e in backlog]


async def test_the_writer_commits_on_its_own_connection_when_the_pool_is_taken(
    db_url: str, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """At a peak every pooled connection can be taken (readers, writers waiting their turn):
    the group commit that every room change waits for does not queue for one."""
    pool = create_engine(db_url, pool_size=1)
    writer = create_engine(db_url, pool_size=1)
    log = DatabaseEventLog(
        create_sessionmaker(pool), writer=create_sessionmaker(writer), close_timeout=1
    )
    event = status("room-1")
    await log.start()
    try:
        async with pool.connect() as taken:  # the pool's only connection, held
            await taken.execute(select(1))
            logged = await settle(log.append([event]))
        assert ids(logged) == [event.event_id]
    finally:
        await log.close()
        await pool.dispose()
        await writer.dispose()
    assert [row.event_id for row in await logged_rows(db_sessionmaker)] == ids(logged)


async def test_submit_hands_committed_events_to_the_dispatcher_in_commit_order(
    event_log: DatabaseEventLog,
) -> None:
    delivered = Delivered()
    event_log.connect(delivered)
    events = [status(f"room-{n % 3}") for n in range(12)]
    for event in events:
        event_log.submit([event])
    await settle(event_log.flush())
    assert delivered.event_ids == [e.event_id for e in events]
    seqs = [entry.seq for batch in delivered.batches for entry in batch]
    assert seqs == sorted(seqs)


# -- failures ----------------------------------------------------------------------------------


async def test_a_transient_failure_is_retried_keeping_order_and_losing_nothing(
    event_log: DatabaseEventLog,
    db_sessionmaker: async_sessionmaker[AsyncSession],
    db_faults: DatabaseFaults,
) -> None:
    delivered = Delivered()
    event_log.connect(delivered)
    fault = db_faults.fail(r"INSERT INTO event_log", times=2)

    first = [status("room-a"), status("room-b"), status("room-a", "pending")]
    for event in first:
        event_log.submit([event])
    await eventually(lambda: fault.raised >= 1)
    # Queued while the failed batch waits for its retry: must come after it.
    second = [status("room-b", "pending"), status("room-c")]
    for event in second:
        event_log.submit([event])
    await settle(event_log.flush())

    assert fault.raised == 2
    assert event_log.dropped == 0
    expected = [e.event_id for e in first + second]
    assert [row.event_id for row in await logged_rows(db_sessionmaker)] == expected
    assert delivered.event_ids == expected, "each delivered once, in commit order"


async def test_append_waits_through_a_transient_failure(
    event_log: DatabaseEventLog,
    db_sessionmaker: async_sessionmaker[AsyncSession],
    db_faults: DatabaseFaults,
) -> None:
    fault = db_faults.fail(r"INSERT INTO event_log", times=1)
    event = status("room-a")
    logged = await settle(event_log.append([event]))
    assert fault.raised == 1
    assert ids(logged) == [event.event_id]
    assert [row.seq for row in await logged_rows(db_sessionmaker)] == [logged[0].seq]


async def test_a_room_snapshot_is_saved_after_a_failed_save_is_retried(
    event_log: DatabaseEventLog,
    db_sessionmaker: async_sessionmaker[AsyncSession],
    db_faults: DatabaseFaults,
) -> None:
    store = DatabaseRoomStore(db_sessionmaker, event_log)
    slug = "fancy-wolf-4891"
    fault = db_faults.fail(r"INSERT INTO race_rooms", times=1)

    opened = status(slug, "open")
    store.save("alttpr", slug, [opened], race=race(3, "open", slug))
    await eventually(lambda: fault.raised == 1)
    # The room's last frame arrives while the failed save waits: it must be written too.
    finished = status(slug, "finished")
    store.save("alttpr", slug, [finished], race=race(9, "finished", slug), active=False)
    await settle(event_log.flush())

    (room,) = await store.room_rows()
    assert (room.last_version, room.last_status, room.is_active) == (9, "finished", False)
    # Stored as encoded straight from the struct: what its plain-data form would store.
    assert room.last_race_data == msgspec.to_builtins(race(9, "finished", slug))
    rows = await logged_rows(db_sessionmaker)
    assert [row.event_id for row in rows] == [opened.event_id, finished.event_id]


async def test_a_failed_save_is_retried_with_no_other_frame_coming(
    event_log: DatabaseEventLog,
    db_sessionmaker: async_sessionmaker[AsyncSession],
    db_faults: DatabaseFaults,
) -> None:
    # A room whose last frame is ``finished``: no later save and no flush will come along
    # to push the failed one; the writer must retry on its own.
    delivered = Delivered()
    event_log.connect(delivered)
    store = DatabaseRoomStore(db_sessionmaker, event_log)
    slug = "fancy-wolf-4891"
    fault = db_faults.fail(r"INSERT INTO race_rooms", times=1)
    finished = status(slug, "finished")
    store.save("alttpr", slug, [finished], race=race(7, "finished", slug), active=False)

    await eventually(lambda: delivered.event_ids == [finished.event_id])
    assert fault.raised == 1
    (room,) = await store.room_rows()
    assert (room.last_version, room.is_active) == (7, False)


async def test_a_failure_on_the_way_from_one_at_a_time_commits_keeps_the_rest(
    event_log: DatabaseEventLog,
    db_sessionmaker: async_sessionmaker[AsyncSession],
    db_faults: DatabaseFaults,
) -> None:
    # The batch fails for good (one bad event); while it is committed one at a time, the
    # database goes away once. That is no reason to drop the good events after it.
    good_before, bad, good_after = status("room-x"), status("room-y"), status("room-z")
    db_faults.fail(
        r"INSERT INTO event_log",
        times=None,
        error=lambda: IntegrityError("(injected)", None, Exception("bad row")),
        when=parameters_mention(bad.event_id),
    )
    # ``good_after`` is never reached in the whole batch (``bad`` fails first), so this hits
    # its one-at-a-time commit.
    lost = db_faults.fail(r"INSERT INTO event_log", when=parameters_mention(good_after.event_id))
    for event in (good_before, bad, good_after):
        event_log.submit([event])
    await settle(event_log.flush())

    assert lost.raised == 1
    assert event_log.dropped == 1
    rows = await logged_rows(db_sessionmaker)
    assert [row.event_id for row in rows] == [good_before.event_id, good_after.event_id]


async def test_a_submission_that_cannot_be_stored_is_dropped_alone(
    event_log: DatabaseEventLog, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    delivered = Delivered()
    event_log.connect(delivered)
    before, after = status("room-a"), status("room-c")
    # A value the log's JSON column cannot hold: fails on every backend, every time.
    broken = RacetimeBotStatusChangedEvent(
        bot_id=1, category="alttpr", old_status=0, new_status=1, status_message=object()  # type: ignore[arg-type]
    )
    event_log.submit([before])
    event_log.submit([broken, status("room-b")])
    event_log.submit([after])
    await settle(event_log.flush())

    assert event_log.dropped == 1
    rows = await logged_rows(db_sessionmaker)
    assert [row.event_id for row in rows] == [before.event_id, after.event_id]
    assert delivered.event_ids == [before.event_id, after.event_id]

    # ``append`` tells its caller; the log carries on.
    with pytest.raises(StatementError):
        await settle(event_log.append([broken]))
    assert event_log.dropped == 2
    assert ids(await settle(event_log.append([status("room-d")])))


# -- a service's own transaction ---------------------------------------------------------------


async def test_a_transaction_commits_rows_and_events_together_then_delivers(
    event_log: DatabaseEventLog, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    delivered = Delivered()
    event_log.connect(delivered)
    event = status("room-a")
    async with event_log.transaction() as outbox:
        await add_audit_entry(outbox.session, "test.action", actor_user_id=SYSTEM_USER_ID)
        outbox.add(event)
        assert delivered.batches == [], "nothing is delivered before the commit"

    assert delivered.event_ids == [event.event_id]
    assert await count(db_sessionmaker, AuditLog) == 1
    assert [row.event_id for row in await logged_rows(db_sessionmaker)] == [event.event_id]


async def test_a_transaction_that_fails_keeps_neither_rows_nor_events(
    event_log: DatabaseEventLog, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    delivered = Delivered()
    event_log.connect(delivered)
    with pytest.raises(RuntimeError, match="service failed"):
        async with event_log.transaction() as outbox:
            await add_audit_entry(outbox.session, "test.action", actor_user_id=SYSTEM_USER_ID)
            outbox.add(status("room-a"))
            raise RuntimeError("service failed")

    assert delivered.batches == []
    assert await count(db_sessionmaker, AuditLog) == 0
    assert await logged_rows(db_sessionmaker) == []


async def test_a_transaction_whose_events_fail_to_insert_keeps_no_rows(
    event_log: DatabaseEventLog,
    db_sessionmaker: async_sessionmaker[AsyncSession],
    db_faults: DatabaseFaults,
) -> None:
    fault = db_faults.fail(r"INSERT INTO event_log")
    with pytest.raises(Exception, match="injected"):
        async with event_log.transaction() as outbox:
            await add_audit_entry(outbox.session, "test.action", actor_user_id=SYSTEM_USER_ID)
            outbox.add(status("room-a"))
    assert fault.raised == 1
    assert await count(db_sessionmaker, AuditLog) == 0
    assert await logged_rows(db_sessionmaker) == []


async def test_a_transaction_whose_commit_fails_delivers_nothing(
    event_log: DatabaseEventLog,
    db_sessionmaker: async_sessionmaker[AsyncSession],
    db_faults: DatabaseFaults,
) -> None:
    delivered = Delivered()
    event_log.connect(delivered)
    fault = db_faults.fail_commit(r"INSERT INTO event_log")
    with pytest.raises(Exception, match="injected"):
        async with event_log.transaction() as outbox:
            await add_audit_entry(outbox.session, "test.action", actor_user_id=SYSTEM_USER_ID)
            outbox.add(status("room-a"))
    assert fault.raised == 1
    assert delivered.batches == [], "an event is delivered only once it is committed"
    assert await count(db_sessionmaker, AuditLog) == 0
    assert await logged_rows(db_sessionmaker) == []


async def test_a_failed_commit_of_the_writer_is_retried_and_delivered_once(
    event_log: DatabaseEventLog,
    db_sessionmaker: async_sessionmaker[AsyncSession],
    db_faults: DatabaseFaults,
) -> None:
    delivered = Delivered()
    event_log.connect(delivered)
    fault = db_faults.fail_commit(r"INSERT INTO event_log", times=2)
    events = [status("room-a"), status("room-b")]
    for event in events:
        event_log.submit([event])
    await settle(event_log.flush())
    assert fault.raised == 2
    assert delivered.event_ids == [e.event_id for e in events]
    assert [row.event_id for row in await logged_rows(db_sessionmaker)] == [
        e.event_id for e in events
    ]


# -- parking and pruning -----------------------------------------------------------------------


async def test_park_keeps_one_row_per_event_and_listener(event_log: DatabaseEventLog) -> None:
    (entry,) = await event_log.append([status("room-a")])
    assert await event_log.parked_count() == 0
    await event_log.park(entry, "notify", "RuntimeError: down", 5)
    await event_log.park(entry, "notify", "RuntimeError: still down", 5)
    assert await event_log.parked_count() == 1
    await event_log.park(entry, "audit", "x" * 5000, 3)
    assert await event_log.parked_count() == 2


async def test_prune_removes_old_delivered_events_but_keeps_parked_and_undelivered_ones(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = ManualClock()
    log = DatabaseEventLog(db_sessionmaker, clock=clock, retention=timedelta(days=7))
    await log.start()
    try:
        old, parked, undelivered = await log.append(
            [status("room-a"), status("room-b"), status("room-c")]
        )
        async with db_sessionmaker.begin() as session:
            for entry in (old, undelivered):
                assert await claim_receipt(session, "results", entry.event.event_id)
        await log.park(parked, "results", "RuntimeError: bug", 5)
        log.acknowledge(old.seq)
        log.acknowledge(parked.seq)
        await settle(log.flush())

        await clock.advance(timedelta(days=8).total_seconds())
        (recent,) = await log.append([status("room-d")])
        log.acknowledge(recent.seq)
        await settle(log.flush())

        assert await log.prune() == 1
        remaining = [row.event_id for row in await logged_rows(db_sessionmaker)]
        assert remaining == [e.event.event_id for e in (parked, undelivered, recent)]
        async with db_sessionmaker() as session:
            receipts = (await session.execute(select(ListenerReceipt.event_id))).scalars()
            # The undelivered event will come again: its receipt must still be there.
            assert list(receipts) == [undelivered.event.event_id]
        assert await log.prune() == 0
    finally:
        await log.close()


@contextlib.asynccontextmanager
async def _pruning_log(
    sessionmaker: async_sessionmaker[AsyncSession], clock: ManualClock, *, first_delay: float
) -> AsyncIterator[DatabaseEventLog]:
    """A started log on ``clock`` whose pruner starts after ``first_delay`` s, then runs
    every 50 ms."""
    log = DatabaseEventLog(
        sessionmaker, clock=clock, prune_first_delay=first_delay, prune_interval=0.05
    )
    await log.start()
    try:
        yield log
    finally:
        await log.close()


async def _old_delivered_event(log: DatabaseEventLog, clock: ManualClock) -> str:
    """An event delivered (acknowledged) eight days ago, past a week's retention."""
    (entry,) = await log.append([status("room-a")])
    log.acknowledge(entry.seq)
    await settle(log.flush())
    await clock.advance(timedelta(days=8).total_seconds())
    return entry.event.event_id


async def test_the_log_prunes_on_its_own_once_started(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = ManualClock()
    async with _pruning_log(db_sessionmaker, clock, first_delay=0.0) as log:
        old = await _old_delivered_event(log, clock)
        (recent,) = await log.append([status("room-b")])

        async def remaining() -> list[str]:
            return [row.event_id for row in await logged_rows(db_sessionmaker)]

        async def pruned() -> None:
            while old in await remaining():  # noqa: ASYNC110 - the pruner's work, polled
                await asyncio.sleep(0.01)

        await settle(pruned())
        assert await remaining() == [recent.event.event_id]


async def test_the_first_prune_waits_after_start(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Start-up (every room diffed again) is the writers' busiest time: no week's DELETE then."""
    clock = ManualClock()
    async with _pruning_log(db_sessionmaker, clock, first_delay=3600.0) as log:
        old = await _old_delivered_event(log, clock)
        await log.append([status("room-b")])  # a commit after the clock moved: time to act
        await asyncio.sleep(0.2)
        assert old in [row.event_id for row in await logged_rows(db_sessionmaker)]
        assert await log.prune() == 1  # it was due: only the pruner's first turn is later


# -- closing -----------------------------------------------------------------------------------


async def test_close_commits_what_is_queued(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    log = DatabaseEventLog(db_sessionmaker, ack_delay=3600)
    await log.start()
    (acked,) = await log.append([status("room-a")])
    log.acknowledge(acked.seq)
    queued = [status(f"room-{n}") for n in range(5)]
    for event in queued:
        log.submit([event])
    await log.close()

    rows = await logged_rows(db_sessionmaker)
    assert [row.event_id for row in rows] == [acked.event.event_id] + [e.event_id for e in queued]
    assert rows[0].delivered_at is not None


async def test_close_commits_what_was_queued_even_if_never_started(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    log = DatabaseEventLog(db_sessionmaker)
    event = status("room-a")
    log.submit([event])
    await log.close()
    assert [row.event_id for row in await logged_rows(db_sessionmaker)] == [event.event_id]


# -- the real dispatcher over the database log ---------------------------------------------------


async def test_after_a_crash_unacknowledged_events_are_delivered_again_with_the_same_ids(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # The first "process": its log is never started, so acknowledgements stay in memory
    # until a commit that never comes. Its listener sees every event, then it dies.
    first_log = DatabaseEventLog(db_sessionmaker)
    first = EventDispatcher(first_log, retry=NO_WAIT)
    seen_before: list[str] = []

    async def record_before(event: Event) -> None:
        seen_before.append(event.event_id)

    first.subscribe(Event, record_before)
    # A bot status event has a random id: only the log can give the same one back.
    bot = RacetimeBotStatusChangedEvent(bot_id=1, category="alttpr", old_status=0, new_status=1)
    events = [status("room-a"), status("room-b"), status("room-a", "pending"), bot]
    await first.emit(*events)
    await eventually(lambda: first.delivered == len(events))
    assert sorted(seen_before) == sorted(e.event_id for e in events)
    # Killed here: neither ``first`` nor ``first_log`` is closed or flushed.

    second_log = DatabaseEventLog(db_sessionmaker, ack_delay=0.01)
    second = EventDispatcher(second_log, retry=NO_WAIT)
    seen_after: list[tuple[str, str]] = []

    async def record_after(event: Event) -> None:
        seen_after.append((event.partition_key, event.event_id))

    second.subscribe(Event, record_after)
    await second_log.start()
    try:
        await second.start()
        await settle(second.drain())
        assert sorted(event_id for _, event_id in seen_after) == sorted(
            e.event_id for e in events
        )
        room_a = [event_id for key, event_id in seen_after if key.endswith("/room-a")]
        assert room_a == [events[0].event_id, events[2].event_id], "in order within a room"
    finally:
        await second.close()
        await second_log.close()
    assert await second_log.pending_partitions() == []


async def test_a_listener_that_keeps_failing_is_retried_then_parked(
    event_log: DatabaseEventLog, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    bus = EventDispatcher(event_log, retry=NO_WAIT)
    calls: list[str] = []
    after: list[str] = []

    async def broken(event: RacetimeRaceStatusChangedEvent) -> None:
        calls.append(event.event_id)
        raise RuntimeError("listener bug")

    async def fine(event: RacetimeRaceStatusChangedEvent) -> None:
        after.append(event.event_id)

    bus.subscribe(RacetimeRaceStatusChangedEvent, broken)
    bus.subscribe(RacetimeRaceStatusChangedEvent, fine)
    failing, next_one = status("room-a"), status("room-a", "pending")
    await bus.emit(failing)
    await bus.emit(next_one)
    await settle(bus.drain())
    await settle(event_log.flush())

    assert calls.count(failing.event_id) == NO_WAIT.attempts
    assert after == [failing.event_id, next_one.event_id], "the room moved on"
    assert bus.parked == 2
    assert await event_log.parked_count() == 2
    async with db_sessionmaker() as session:
        rows = list(
            (await session.execute(select(ParkedDelivery).order_by(ParkedDelivery.seq))).scalars()
        )
    first_row = rows[0]
    assert first_row.event_id == failing.event_id
    assert first_row.kind == "RacetimeRaceStatusChangedEvent"
    assert "broken" in first_row.listener
    assert first_row.attempts == NO_WAIT.attempts
    assert first_row.error == "RuntimeError: listener bug"
    # Parked is done with: not delivered again after a restart.
    assert await event_log.pending_partitions() == []


async def test_the_room_store_commits_snapshots_and_events_for_the_dispatcher(
    event_log: DatabaseEventLog, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    bus = EventDispatcher(event_log, retry=NO_WAIT)
    seen: list[str] = []

    async def record(event: RacetimeRaceStatusChangedEvent) -> None:
        # By the time a listener sees the event, the snapshot that produced it is stored.
        async with db_sessionmaker() as session:
            room = (await session.execute(select(RaceRoom))).scalar_one()
        seen.append(f"{event.new_status}@{room.last_version}")

    bus.subscribe(RacetimeRaceStatusChangedEvent, record)
    store = DatabaseRoomStore(db_sessionmaker, event_log)
    slug = "fancy-wolf-4891"
    store.save("alttpr", slug, [status(slug, "open")], race=race(2, "open", slug))
    await settle(bus.drain())
    assert seen == ["open@2"]


async def test_a_room_discovered_while_its_opener_records_it_stays_ours(
    event_log: DatabaseEventLog,
    db_sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bot's room scan saw a room it had just opened before the room service recorded it
    (``opened_by_us``): the scan's "record it if unknown" must not turn it into a stranger's
    room (it did, now and then, on PostgreSQL)."""
    from core.racetime_bots import room_store as racetime_store
    from db.queries.rooms import upsert_room

    store = DatabaseRoomStore(db_sessionmaker, event_log)
    slug = "clever-kirby-7036"
    real_get_room = racetime_store.room_queries.get_room

    async def opened_meanwhile(session: AsyncSession, category: str, found: str) -> Any:
        # The scan looked (nothing yet); the room service commits its row right then.
        async with db_sessionmaker.begin() as other:
            await upsert_room(other, category, found, opened_by_us=True, is_active=True)
        return None

    monkeypatch.setattr(racetime_store.room_queries, "get_room", opened_meanwhile)
    record = await store.record_room("alttpr", slug, opened_by_us=False)
    monkeypatch.setattr(racetime_store.room_queries, "get_room", real_get_room)
    assert record.opened_by_us
    async with db_sessionmaker() as session:
        room = await real_get_room(session, "alttpr", slug)
    assert room is not None and room.opened_by_us


async def test_a_flush_waiting_when_the_log_closes_does_not_wait_for_ever(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Issue 20 (teardowns that hang): a commit that never ends makes ``close`` give up and
    cancel the writer; a flush that was waiting for that writer used to wait for ever."""
    log = DatabaseEventLog(db_sessionmaker, close_timeout=0.01)
    held, never = asyncio.Event(), asyncio.Event()

    async def stuck_state_writer(dialect: str, states: list[Any]) -> list[Write]:
        if "hold" in states:
            held.set()
            await never.wait()
        return []

    log.register_state_writer(stuck_state_writer)
    await log.start()
    log.submit([status("room-0")], state="hold")
    await settle(held.wait())
    later = status("room-1")
    log.submit([later])
    flushing = asyncio.ensure_future(log.flush())  # waits for the stuck writer
    await log.close()
    await settle(flushing)
    assert [row.event_id for row in await logged_rows(db_sessionmaker)] == [later.event_id]


async def test_on_sqlite_the_writer_commits_before_writers_waiting_for_the_turn(
    db_backend: str,
    db_sessionmaker: async_sessionmaker[AsyncSession],
    event_log: DatabaseEventLog,
) -> None:
    """Every race change waits for the log's commit: behind the writer that holds SQLite's
    writers' turn, not behind the queue (``db.sqlite_driver.urgent_writes``)."""
    if db_backend != "sqlite":
        pytest.skip("the writers' turn is SQLite's")
    holder = db_sessionmaker()
    await add_audit_entry(holder, "holder", actor_user_id=SYSTEM_USER_ID)
    await holder.flush()  # its INSERT: the turn is the holder's until it commits

    async def ordinary() -> int:
        """Once it has the turn: how many events it sees committed."""
        async with db_sessionmaker.begin() as session:
            await add_audit_entry(session, "ordinary", actor_user_id=SYSTEM_USER_ID)
            await session.flush()  # its INSERT: from here it holds the turn
            found = await session.execute(select(func.count()).select_from(EventLogEntry))
            return int(found.scalar_one())

    turn = writer_turn(str(engine_of(db_sessionmaker).url.database))
    waiting = [asyncio.create_task(ordinary()) for _ in range(3)]
    await eventually(lambda: turn.waiting() == 3)
    appended = asyncio.create_task(event_log.append([status("urgent-room")]))
    await eventually(lambda: turn.waiting() == 4)
    await holder.commit()
    await holder.close()
    async with asyncio.timeout(5):
        await appended
        seen = await asyncio.gather(*waiting)
    # First come first served, all three would have had their turn before the log's commit.
    assert seen == [1, 1, 1]
