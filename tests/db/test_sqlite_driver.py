"""db.sqlite_driver: a statement is one trip to aiosqlite's thread, with the same results;
writers take turns on the loop."""

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db import sqlite_driver
from db.engine import create_engine
from db.sqlite_driver import OneTripConnection, WriterTurn, urgent_writes, writer_turn
from db.write_batch import Committer, Write
from tests.plugins.racetime_engine import eventually

item = Table(
    "item", MetaData(), Column("id", Integer, primary_key=True), Column("name", String)
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'trips.sqlite3'}")
    async with engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
        )
    yield engine
    await engine.dispose()


class Trips:
    """Counts the calls a connection sends to its thread."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = OneTripConnection._execute

        async def counted(connection: OneTripConnection, fn: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await original(connection, fn, *args, **kwargs)

        monkeypatch.setattr(OneTripConnection, "_execute", counted)


async def driver_connection(connection: AsyncConnection) -> Any:
    return (await connection.get_raw_connection()).driver_connection


async def test_sqlite_engines_use_one_trip_connections(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert isinstance(await driver_connection(connection), OneTripConnection)


async def test_a_query_is_one_trip_and_ending_a_read_costs_none(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))  # the pool's first connect is not counted
    trips = Trips(monkeypatch)
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT 41 + 1"))).scalar() == 42
    # aiosqlite itself: cursor, execute, fetchall, close, and the pool's rollback (5 trips)
    assert trips.count == 1


async def test_a_write_is_one_trip_per_statement_and_one_for_the_commit(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips = Trips(monkeypatch)
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO item (name) VALUES ('a')"))
        returned = await connection.execute(
            text("INSERT INTO item (name) VALUES ('b') RETURNING id, name")
        )
        assert [tuple(row) for row in returned] == [(2, "b")]
    assert trips.count == 3
    async with engine.connect() as connection:
        names = (await connection.execute(text("SELECT name FROM item ORDER BY id"))).scalars()
        assert list(names) == ["a", "b"]


async def test_rows_are_read_one_some_or_all(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO item (name) VALUES (:name)"),
            [{"name": f"n{i}"} for i in range(10)],  # executemany
        )
    async with engine.connect() as connection:
        result = await connection.execute(text("SELECT name FROM item ORDER BY id"))
        assert result.fetchone() == ("n0",)
        assert [tuple(r) for r in result.fetchmany(3)] == [("n1",), ("n2",), ("n3",)]
        assert len(result.fetchall()) == 6
        assert result.fetchone() is None
        counted = await connection.execute(text("SELECT count(*) FROM item"))
        assert counted.scalar() == 10
        updated = await connection.execute(text("UPDATE item SET name = name || '!'"))
        assert updated.rowcount == 10
        await connection.rollback()


async def test_errors_are_sqlalchemys_and_the_transaction_rolls_back(engine: AsyncEngine) -> None:
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO item (name) VALUES ('same')"))
            await connection.execute(text("INSERT INTO item (name) VALUES ('same')"))
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM item"))).scalar() == 0


async def test_a_read_cancelled_midway_leaves_no_lock_behind(engine: AsyncEngine) -> None:
    """The statement runs to its end on the thread even if its caller is gone, so no
    half-read SELECT keeps SQLite's lock for the next writer (it would wait busy_timeout)."""
    async with engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO item (name) VALUES (:name)"), [{"name": f"n{i}"} for i in range(500)]
        )

    async def read_slowly() -> None:
        async with engine.begin() as connection:
            await connection.execute(text("SELECT a.name FROM item a, item b"))  # 250,000 rows

    reader = asyncio.create_task(read_slowly())
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    async with asyncio.timeout(3), engine.begin() as connection:  # busy_timeout is 5 s
        await connection.execute(text("DELETE FROM item"))


# -- writers take turns --------------------------------------------------------------------------


def turn_of(engine: AsyncEngine) -> WriterTurn:
    database = engine.url.database
    assert database is not None
    return writer_turn(database)


async def test_a_second_writer_waits_for_the_first_one_s_commit_on_the_loop(
    engine: AsyncEngine,
) -> None:
    """Not in SQLite's busy handler, which sleeps up to 100 ms between looks while holding a
    pooled connection: the turn passes the moment the first writer commits."""
    first = await engine.connect()
    await first.execute(text("INSERT INTO item (name) VALUES ('first')"))  # its turn now
    assert turn_of(engine).locked()

    async def second_writer() -> None:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO item (name) VALUES ('second')"))

    second = asyncio.create_task(second_writer())
    await asyncio.sleep(0.2)
    assert not second.done(), "the second writer went ahead of the first one's commit"
    async with engine.connect() as reader:  # readers never wait for a turn
        assert (await reader.execute(text("SELECT count(*) FROM item"))).scalar() == 0
    await first.commit()
    await first.close()
    async with asyncio.timeout(2):
        await second
    assert not turn_of(engine).locked()
    async with engine.connect() as reader:
        names = (await reader.execute(text("SELECT name FROM item ORDER BY id"))).scalars()
        assert list(names) == ["first", "second"]


async def test_the_next_writer_s_turn_starts_when_the_commit_is_done_not_when_its_task_resumes(
    engine: AsyncEngine,
) -> None:
    """Under load the committer's task may resume a long loop round after its thread
    committed; the waiting writer is handed the turn at once, and so goes first."""
    first = await engine.connect()
    await first.execute(text("INSERT INTO item (name) VALUES ('first')"))  # its turn now

    async def second_writer() -> None:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO item (name) VALUES ('second')"))

    second = asyncio.create_task(second_writer())
    await eventually(lambda: turn_of(engine).waiting() == 1)
    driver = await driver_connection(first)
    original = driver._execute
    seen: list[Any] = []

    async def execute_then_note(fn: Any, *args: Any, **kwargs: Any) -> Any:
        result = await original(fn, *args, **kwargs)
        seen.append(turn_of(engine).waiting())  # the first writer's task, resumed
        return result

    driver._execute = execute_then_note
    await first.commit()
    driver._execute = original
    await first.close()
    async with asyncio.timeout(2):
        await second
    assert seen == [0], "the second writer already had the turn when the first resumed"
    assert not turn_of(engine).locked()


def insert_item(name: str, before: Any = None) -> Any:
    """The work of a one-trip transaction: ``before()`` on the thread, then one insert."""

    def work(database: Any) -> float:
        if before is not None:
            before()
        database.execute("INSERT INTO item (name) VALUES (?)", (name,))
        return time.monotonic()

    return work


async def test_one_trip_transactions_hand_the_turn_on_without_the_loop(
    engine: AsyncEngine,
) -> None:
    """The first commits on its thread and the second, waiting, starts on its own at once:
    both while the loop is busy (here: blocked) and could hand nothing on."""
    first_conn, second_conn = await engine.connect(), await engine.connect()
    first, second = await driver_connection(first_conn), await driver_connection(second_conn)
    go = threading.Event()
    try:
        first_done = asyncio.ensure_future(first.run_transaction(insert_item("first", go.wait)))
        await eventually(lambda: turn_of(engine).locked())
        second_done = asyncio.ensure_future(second.run_transaction(insert_item("second")))
        await eventually(lambda: turn_of(engine).waiting() == 1)
        go.set()
        time.sleep(0.3)  # noqa: ASYNC251 (the loop busy: no callback of it runs meanwhile)
        loop_back = time.monotonic()
        async with asyncio.timeout(2):
            second_wrote = await second_done
            await first_done
    finally:
        go.set()
        await first_conn.close()
        await second_conn.close()
    assert second_wrote < loop_back, "the second transaction waited for the loop"
    assert not turn_of(engine).locked()
    async with engine.connect() as reader:
        names = (await reader.execute(text("SELECT name FROM item ORDER BY id"))).scalars()
        assert list(names) == ["first", "second"]


async def test_a_one_trip_transaction_not_given_the_turn_in_time_fails_and_is_withdrawn(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_driver, "BUSY_TIMEOUT_SECONDS", 0.1)
    async with engine.connect() as first, engine.connect() as second:
        await first.execute(text("INSERT INTO item (name) VALUES ('first')"))
        driver = await driver_connection(second)
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            await driver.run_transaction(insert_item("second"))
        assert turn_of(engine).waiting() == 0
        await first.commit()
    assert not turn_of(engine).locked()
    async with engine.connect() as reader:
        names = (await reader.execute(text("SELECT name FROM item ORDER BY id"))).scalars()
        assert list(names) == ["first"], "the transaction given up never ran"


async def test_a_one_trip_transaction_handed_the_turn_as_its_deadline_comes_runs_and_returns(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The turn comes just as the wait gives up: the transaction runs, so its caller gets
    its outcome, not a timeout for something that committed."""
    monkeypatch.setattr(sqlite_driver, "BUSY_TIMEOUT_SECONDS", 0.1)
    turn = turn_of(engine)
    assert turn.try_acquire()  # another writer's turn
    give_up = turn.give_up

    def handed_on_first(waiter: Any) -> bool:
        if turn.locked() and turn.waiting():
            turn.release()  # to the waiting transaction, which starts on its thread
        return give_up(waiter)

    monkeypatch.setattr(turn, "give_up", handed_on_first)
    async with engine.connect() as connection:
        driver = await driver_connection(connection)
        async with asyncio.timeout(2):
            wrote = await driver.run_transaction(insert_item("late"))
    assert wrote > 0
    assert not turn.locked()
    async with engine.connect() as reader:
        names = (await reader.execute(text("SELECT name FROM item"))).scalars()
        assert list(names) == ["late"]


async def test_a_one_trip_transaction_cancelled_while_waiting_never_runs(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as first, engine.connect() as second:
        await first.execute(text("INSERT INTO item (name) VALUES ('first')"))
        driver = await driver_connection(second)
        waiting = asyncio.ensure_future(driver.run_transaction(insert_item("second")))
        await eventually(lambda: turn_of(engine).waiting() == 1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert turn_of(engine).waiting() == 0
        await first.commit()
        assert not turn_of(engine).locked()
        await driver.run_transaction(insert_item("third"))  # the connection still works
    async with engine.connect() as reader:
        names = (await reader.execute(text("SELECT name FROM item ORDER BY id"))).scalars()
        assert list(names) == ["first", "third"]


async def test_a_failed_one_trip_transaction_rolls_back_and_passes_the_turn_on(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as connection:
        driver = await driver_connection(connection)
        await driver.run_transaction(insert_item("same"))
        with pytest.raises(sqlite3.IntegrityError):
            await driver.run_transaction(insert_item("same"))
        assert not turn_of(engine).locked()
        await connection.execute(text("INSERT INTO item (name) VALUES ('other')"))
        await connection.commit()
    assert not turn_of(engine).locked()


async def test_a_turn_not_given_in_time_fails_as_sqlite_would(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_driver, "BUSY_TIMEOUT_SECONDS", 0.1)
    async with engine.connect() as first:
        await first.execute(text("INSERT INTO item (name) VALUES ('first')"))
        with pytest.raises(OperationalError, match="database is locked"):
            async with engine.begin() as second:
                await second.execute(text("INSERT INTO item (name) VALUES ('second')"))
        await first.rollback()
    assert not turn_of(engine).locked()


async def test_a_failed_write_passes_the_turn_on_at_its_rollback(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO item (name) VALUES ('same')"))
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO item (name) VALUES ('same')"))
    assert not turn_of(engine).locked()
    async with engine.begin() as connection:  # and the next writer gets it
        await connection.execute(text("INSERT INTO item (name) VALUES ('other')"))


async def test_the_turn_passes_on_when_the_transaction_ends_without_a_commit(
    engine: AsyncEngine,
) -> None:
    """A statement that ends the transaction (SQLite rolls back by itself on some errors,
    SQLITE_FULL or an I/O error) passes the turn on: no writer waits for ever."""
    async with engine.connect() as connection:
        await connection.execute(text("INSERT INTO item (name) VALUES ('a')"))
        assert turn_of(engine).locked()
        await connection.exec_driver_sql("ROLLBACK")
        assert not turn_of(engine).locked()
        await connection.rollback()
        assert not turn_of(engine).locked()


# -- the event log goes first ------------------------------------------------------------------


async def take_turns(turn: WriterTurn, writers: list[tuple[str, bool]]) -> list[str]:
    """Queue ``writers`` (name, urgent) behind a turn held now, in that order; the order in
    which they then get it."""
    order: list[str] = []

    async def write(name: str, urgent: bool) -> None:
        await turn.acquire(urgent=urgent)
        order.append(name)
        await asyncio.sleep(0)
        turn.release()

    await turn.acquire()
    tasks = []
    for name, urgent in writers:
        tasks.append(asyncio.create_task(write(name, urgent)))
        await asyncio.sleep(0)  # queued in this order
    turn.release()
    async with asyncio.timeout(2):
        await asyncio.gather(*tasks)
    assert not turn.locked()
    return order


async def test_an_urgent_writer_goes_before_ordinary_writers_that_came_first() -> None:
    order = await take_turns(WriterTurn(), [("room", False), ("dm", False), ("log", True)])
    assert order == ["log", "room", "dm"]


async def test_urgent_and_ordinary_writers_alternate() -> None:
    """Neither starves: after an urgent turn an ordinary writer waiting goes first."""
    order = await take_turns(
        WriterTurn(), [("room", False), ("log1", True), ("dm", False), ("log2", True)]
    )
    assert order == ["log1", "room", "log2", "dm"]


async def test_a_writer_handed_the_turn_and_cancelled_passes_it_on() -> None:
    turn = WriterTurn()
    await turn.acquire()
    first = asyncio.create_task(turn.acquire(urgent=True))
    second = asyncio.create_task(turn.acquire())
    await asyncio.sleep(0)
    turn.release()  # handed to ``first``, which is cancelled before it runs
    first.cancel()
    async with asyncio.timeout(2):
        await second
    assert first.cancelled()
    assert turn.locked()
    turn.release()
    assert not turn.locked()


async def test_a_writer_that_gave_up_waiting_is_skipped() -> None:
    turn = WriterTurn()
    await turn.acquire()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await turn.acquire(urgent=True)
    turn.release()
    assert not turn.locked(), "handed to no one"
    await turn.acquire()  # and free for the next writer at once
    turn.release()


async def test_a_one_trip_commit_within_urgent_writes_goes_before_writers_waiting(
    engine: AsyncEngine,
) -> None:
    """As the event log's writer commits: it waits for the writer holding the turn, not for
    the queue behind it."""
    holder = await engine.connect()
    await holder.execute(text("INSERT INTO item (name) VALUES ('holder')"))

    async def ordinary(name: str) -> None:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO item (name) VALUES (:n)"), {"n": name})

    async def urgent_rows(dialect: str) -> list[Write]:
        return [Write(insert(item).values(), [{"name": "urgent"}])]

    async def commit_urgently() -> None:
        with urgent_writes():
            await committer.commit(urgent_rows)

    committer = Committer(engine)
    try:
        waiting = [asyncio.create_task(ordinary(f"ordinary{n}")) for n in range(3)]
        await eventually(lambda: turn_of(engine).waiting() == 3)
        urgent = asyncio.create_task(commit_urgently())
        await eventually(lambda: turn_of(engine).waiting() == 4)
        await holder.commit()
        await holder.close()
        async with asyncio.timeout(5):
            await urgent
            await asyncio.gather(*waiting)
    finally:
        await committer.close()
    async with engine.connect() as reader:
        names = list((await reader.execute(text("SELECT name FROM item ORDER BY id"))).scalars())
    assert names[:2] == ["holder", "urgent"]
    assert sorted(names[2:]) == ["ordinary0", "ordinary1", "ordinary2"]


async def test_a_task_s_writes_within_urgent_writes_go_first_and_not_its_children_s(
    engine: AsyncEngine,
) -> None:
    holder = await engine.connect()
    await holder.execute(text("INSERT INTO item (name) VALUES ('holder')"))

    async def write(name: str) -> None:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO item (name) VALUES (:n)"), {"n": name})

    async def due_now() -> None:
        with urgent_writes():
            child = asyncio.create_task(write("child"))  # started within: not urgent
            await eventually(lambda: turn_of(engine).waiting() == 2)
            await write("urgent")
            await child

    waiting = asyncio.create_task(write("ordinary"))
    await eventually(lambda: turn_of(engine).waiting() == 1)
    urgent = asyncio.create_task(due_now())
    # "ordinary", "child" then "urgent" wait for the turn
    await eventually(lambda: turn_of(engine).waiting() == 3)
    await holder.commit()
    await holder.close()
    async with asyncio.timeout(5):
        await asyncio.gather(waiting, urgent)
    async with engine.connect() as reader:
        names = list((await reader.execute(text("SELECT name FROM item ORDER BY id"))).scalars())
    assert names == ["holder", "urgent", "ordinary", "child"]


async def test_a_free_turn_is_taken_at_once_past_a_waiter_cancelled_but_not_yet_gone() -> None:
    turn = WriterTurn()
    await turn.acquire()
    gone = asyncio.create_task(turn.acquire())
    await asyncio.sleep(0)
    gone.cancel()  # its waiter is cancelled now; its task runs (and leaves the queue) later
    turn.release()
    async with asyncio.timeout(1):
        await turn.acquire()
    assert turn.locked()
    turn.release()
    with pytest.raises(asyncio.CancelledError):
        await gone
