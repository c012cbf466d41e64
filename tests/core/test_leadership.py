"""The leader lease on PostgreSQL (issue 27): one process leads, the epoch grows at every
change of leader, a lost session or a lease left unrenewed is noticed and taken over, and a
write under an old epoch is refused."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import NullPool

from core.clock import ManualClock
from core.leadership import (
    FencedError,
    Leadership,
    LeaseTimings,
    Role,
    fenced,
)
from db.engine import create_engine, create_sessionmaker
from tests.core.leadership_helpers import PATIENCE_SECONDS, TIMINGS, until


@pytest.fixture
async def engine(own_pg_db_url: str) -> AsyncIterator[AsyncEngine]:
    """What the tests read and write the lease row with, as a writer would."""
    engine = create_engine(own_pg_db_url, poolclass=NullPool)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def processes(
    own_pg_db_url: str, clock: ManualClock
) -> AsyncIterator[Callable[[], Leadership]]:
    """``processes()``: one more process's side of the lease (all released after the test)."""
    made: list[Leadership] = []

    def make() -> Leadership:
        leadership = Leadership(own_pg_db_url, clock=clock, timings=TIMINGS)
        made.append(leadership)
        return leadership

    try:
        yield make
    finally:
        for leadership in made:
            await leadership.release()


async def lease_row(engine: AsyncEngine) -> dict[str, Any]:
    async with engine.connect() as connection:
        row = (await connection.execute(text(
            "SELECT epoch, holder, holder_name, backend_pid, acquired_at, renewed_at, "
            "released_at FROM leadership_lease"
        ))).one()
    return dict(row._mapping)


async def until_acquired(leadership: Leadership) -> None:
    """Try until it leads: the sessions a takeover ended take a moment to go."""
    await until(leadership.try_acquire)


@pytest.mark.postgres
async def test_two_processes_race_for_the_lease_and_exactly_one_wins(
    processes: Callable[[], Leadership], engine: AsyncEngine
) -> None:
    first, second = processes(), processes()
    won = await asyncio.gather(first.try_acquire(), second.try_acquire())

    assert sorted(won) == [False, True]
    leader, standby = (first, second) if won[0] else (second, first)
    assert (leader.role, leader.epoch) == (Role.LEADER, 1)
    assert standby.role is Role.STANDBY and standby.epoch is None
    row = await lease_row(engine)
    assert (row["epoch"], row["holder"], row["holder_name"]) == (
        1, leader.holder, leader.holder_name
    )
    # The loser saw who leads (what /healthz and the log say), and stays a standby.
    assert await standby.try_acquire() is False
    assert standby.leader is not None
    assert (standby.leader.holder, standby.leader.epoch) == (leader.holder, 1)
    assert standby.leader.stale is False


@pytest.mark.postgres
async def test_a_new_leader_is_ready_for_traffic_once_its_parts_have_started(
    processes: Callable[[], Leadership],
) -> None:
    """/readyz follows ``acts``: a leader that holds the lease but has not started its parts
    (it waits out the old leader, or starts the engine) sends no traffic its way yet."""
    leader, standby = processes(), processes()
    assert await leader.try_acquire()
    assert not await standby.try_acquire()
    standby.started()  # a standby has nothing started that would make it ready
    assert (standby.status().role, standby.status().acts) == (Role.STANDBY, False)

    status = leader.status()
    assert (status.role, status.epoch, status.starting, status.acts) == (
        Role.LEADER, 1, True, False
    )
    leader.started()
    status = leader.status()
    assert (status.role, status.starting, status.acts) == (Role.LEADER, False, True)


@pytest.mark.postgres
async def test_release_hands_over_at_the_next_try_and_the_epoch_grows(
    processes: Callable[[], Leadership], engine: AsyncEngine
) -> None:
    first, second = processes(), processes()
    assert await first.try_acquire()
    assert not await second.try_acquire()

    await first.release()
    row = await lease_row(engine)
    assert row["holder"] is None and row["released_at"] is not None and row["epoch"] == 1
    assert not first.lost.is_set()  # handed over, not lost

    assert await second.try_acquire()
    assert second.epoch == 2
    assert (await lease_row(engine))["holder"] == second.holder


@pytest.mark.postgres
async def test_acquire_waits_polling_on_the_clock_until_the_leader_hands_over(
    processes: Callable[[], Leadership], clock: ManualClock
) -> None:
    first, second = processes(), processes()
    assert await first.try_acquire()
    waiting = asyncio.create_task(second.acquire())
    await until(lambda: clock.sleepers == 2)  # the leader's heartbeat, the standby's poll
    assert not waiting.done()

    await first.release()
    await clock.advance(TIMINGS.poll_seconds)
    assert await asyncio.wait_for(waiting, PATIENCE_SECONDS) == 2


@pytest.mark.postgres
async def test_a_handover_wakes_the_standby_at_once_without_its_next_poll(
    processes: Callable[[], Leadership], clock: ManualClock
) -> None:
    """The leader says so when it hands over (NOTIFY): the standby tries at once, the clock
    it polls on never moving (a SIGTERM's handover is not a poll long)."""
    first, second = processes(), processes()
    assert await first.try_acquire()
    waiting = asyncio.create_task(second.acquire())
    await until(lambda: clock.sleepers == 2)  # the leader's heartbeat, the standby's poll
    elapsed = clock.monotonic()

    await first.release()
    assert await asyncio.wait_for(waiting, PATIENCE_SECONDS) == 2
    assert clock.monotonic() == elapsed


@pytest.mark.postgres
async def test_taking_over_from_a_leader_that_did_not_hand_over_waits_out_its_trust(
    processes: Callable[[], Leadership], engine: AsyncEngine, clock: ManualClock
) -> None:
    """The old leader's lease session alone was cut: it may act on its last renewal for
    ``trusted_seconds`` more. The new leader holds the lease at once, but acts only then."""
    old, new = processes(), processes()
    assert await old.try_acquire()
    before = await lease_row(engine)
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(backend_pid) "
                                      "FROM leadership_lease"))
    taking_over = asyncio.create_task(new.acquire())
    await until(lambda: new.role is Role.LEADER)
    assert 0 < new.wait_before_acting <= TIMINGS.trusted_seconds
    # The row says when the new leader leads from: when the old one's trust ends.
    acts_from = (await lease_row(engine))["acquired_at"]
    assert (acts_from - before["renewed_at"]).total_seconds() >= TIMINGS.trusted_seconds
    await until(lambda: clock.sleepers == 3)  # two heartbeats and the wait
    assert not taking_over.done()
    assert (await lease_row(engine))["epoch"] == 2

    await clock.advance(TIMINGS.trusted_seconds)
    assert await asyncio.wait_for(taking_over, PATIENCE_SECONDS) == 2
    with pytest.raises(FencedError):  # the old one, had it kept going, stopped by now
        old.ensure_current()


@pytest.mark.postgres
async def test_a_leader_whose_session_is_killed_notices_and_the_standby_takes_over(
    processes: Callable[[], Leadership], engine: AsyncEngine
) -> None:
    leader, standby = processes(), processes()
    reasons: list[str] = []
    leader.on_lost(reasons.append)
    assert await leader.try_acquire()
    assert await leader.beat()

    row = await lease_row(engine)
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"),
                                 {"pid": row["backend_pid"]})
    # The lock went with the session: the standby takes it at its next try.
    await until_acquired(standby)
    assert standby.epoch == 2

    assert await leader.beat() is False
    assert leader.lost.is_set() and leader.role is Role.STANDBY
    assert len(reasons) == 1 and "session failed" in reasons[0]
    with pytest.raises(FencedError):
        leader.ensure_current()


@pytest.mark.postgres
async def test_a_leader_that_stops_renewing_is_taken_over_and_its_sessions_ended(
    processes: Callable[[], Leadership],
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A paused leader keeps its session (and lock) open: once its lease is older than
    ``lease_seconds`` by the database's clock, a standby ends its sessions and takes over."""
    leader, standby = processes(), processes()
    assert await leader.try_acquire()
    assert not await standby.try_acquire()  # renewed a moment ago: not stale
    await backdate(engine)

    await until_acquired(standby)
    assert standby.epoch == 2
    # The old leader, resumed: its session is gone, and its writes under epoch 1 refused.
    assert await leader.beat() is False
    assert leader.lost.is_set()
    async with sessions.begin() as session:
        with pytest.raises(FencedError) as refused:
            await fenced(session, 1)
    assert (refused.value.epoch, refused.value.current) == (1, 2)


@pytest.mark.postgres
async def test_a_fenced_write_under_an_old_epoch_is_refused_and_the_leader_knows(
    processes: Callable[[], Leadership],
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    old, new = processes(), processes()
    assert await old.try_acquire()
    async with sessions.begin() as session:
        await old.fence.check(session)  # epoch 1 leads: the write goes ahead

    # A newer epoch exists while the old leader has not noticed yet (its session cut, say).
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(backend_pid) "
                                      "FROM leadership_lease"))
    await until_acquired(new)

    async with sessions.begin() as session:
        with pytest.raises(FencedError, match="epoch 2 leads now"):
            await old.fence.check(session)
    assert old.lost.is_set() and old.role is Role.STANDBY
    async with sessions.begin() as session:
        await new.fence.check(session)
        await fenced(session, 2)


@pytest.mark.postgres
async def test_a_new_epoch_waits_for_the_write_under_way_and_heartbeats_do_not(
    processes: Callable[[], Leadership], sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The writer holds the lease row FOR KEY SHARE until it commits: the leader's heartbeat
    goes through, a change of epoch waits (and gives up after ``statement_seconds``)."""
    old, new = processes(), processes()
    assert await old.try_acquire()
    async with sessions.begin() as session:
        await old.fence.check(session)
        assert await old.beat()
        await old.release()
        assert await new.try_acquire() is False  # the lock is free, the row is not
        assert new.role is Role.STANDBY
    # Committed: the new epoch goes ahead.
    assert await new.try_acquire()
    assert new.epoch == 2


@pytest.mark.postgres
async def test_a_leader_stops_trusting_a_lease_it_could_not_renew_in_time(
    processes: Callable[[], Leadership], clock: ManualClock
) -> None:
    """Before any standby may take over (``lease_seconds``), the leader refuses to act: one
    heartbeat less than the lease after its last renewal."""
    leader = processes()
    assert await leader.try_acquire()
    heartbeat = leader._heartbeat
    assert heartbeat is not None
    heartbeat.cancel()  # no heartbeat from now on: as if the process had been paused

    await clock.advance(TIMINGS.trusted_seconds - 0.5)
    assert leader.ensure_current() == 1
    await clock.advance(1.0)
    with pytest.raises(FencedError, match="ran out unrenewed"):
        leader.ensure_current()
    assert leader.lost.is_set()
    assert leader.lost_reason is not None and "paused" in leader.lost_reason


@pytest.mark.postgres
async def test_the_heartbeat_renews_the_lease_on_the_clock(
    processes: Callable[[], Leadership], clock: ManualClock, engine: AsyncEngine
) -> None:
    leader = processes()
    assert await leader.try_acquire()
    for _ in range(5):  # 10 s on the clock: past the lease, renewed all along
        await backdate(engine)
        await until(lambda: clock.sleepers == 1)  # the heartbeat waits for its next beat
        await clock.advance(TIMINGS.heartbeat_seconds)
        await until(lambda: renewed_lately(engine))  # the beat's statements are real I/O
    assert clock.monotonic() > TIMINGS.lease_seconds
    assert leader.ensure_current() == 1
    assert not leader.lost.is_set()


async def backdate(engine: AsyncEngine) -> None:
    """As if the leader had not renewed its lease for a minute."""
    async with engine.begin() as connection:
        await connection.execute(text(
            "UPDATE leadership_lease SET renewed_at = now() - interval '1 minute'"
        ))


async def renewed_lately(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        return bool((await connection.execute(text(
            "SELECT renewed_at > now() - interval '30 seconds' FROM leadership_lease"
        ))).scalar_one())


async def test_a_standby_that_cannot_reach_the_database_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as held:  # bound, not listening: every connection is refused
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        standby = Leadership(
            f"postgresql+asyncpg://racedesk@127.0.0.1:{port}/racedesk",
            clock=ManualClock(), timings=TIMINGS,
        )
        try:
            with caplog.at_level(logging.DEBUG, logger="core.leadership.lease"):
                for _ in range(3):
                    assert await standby.try_acquire() is False
        finally:
            await standby.release()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, caplog.text
    assert "Could not ask the database for the leadership (asking again every 1 s)" in (
        warnings[0].getMessage()
    )
    assert standby.role is Role.STANDBY


def test_lease_timings_follow_the_lease() -> None:
    timings = LeaseTimings.for_lease(8.0)
    assert (timings.heartbeat_seconds, timings.poll_seconds, timings.trusted_seconds) == (
        2.0, 1.0, 6.0
    )
    assert LeaseTimings.for_lease(4.0).poll_seconds == 0.5
    with pytest.raises(ValueError, match="twice in a lease"):
        LeaseTimings(lease_seconds=3.0, heartbeat_seconds=2.0)
