"""aiosqlite with one trip to the connection's thread per statement.

aiosqlite runs each call on its connection's own thread and hands the result back to the
event loop, and SQLAlchemy's adapter makes four such calls for one statement: make a cursor,
execute, fetch the rows, close. Each hand-back waits for the loop's next turn, so under load
(a season's peak: a thousand rooms streaming, rooms opening, DMs going out) a commit or a
slash command waits for four turns a statement, not one, and every hand-off costs the loop a
wake-up and the threads a switch.

This connection keeps aiosqlite's thread and its one-call-at-a-time order, and travels once a
statement: the cursor is made in place (SQLAlchemy connects with ``check_same_thread=False``),
a statement's rows are fetched in the same trip that runs it, and closing a cursor whose
statement has run to the end costs nothing. A commit or rollback with no transaction open (a
read-only session ending, the pool resetting a connection it gets back) does not travel
either: SQLite has nothing to do.

**Writers take turns.** SQLite has one writer at a time; a second one waits in SQLite's busy
handler, which sleeps and looks again (1, 2, 5 ... up to 100 ms between looks). At a peak,
with the event log, DM records, room openings and the fan-out all writing, the write lock was
often free while every writer slept, each holding a pooled connection, until the pool ran dry
and slash commands waited for one for seconds. Here a transaction's first write first waits
for its turn on the loop (one :class:`WriterTurn` per database file, first come first served
but for the urgent), and the turn passes on the moment the holder commits or rolls back. A
turn not given within ``busy_timeout`` (5 s) fails as SQLite would: ``database is locked``.

**The event log goes first.** Its group commit carries every race change and waits for
nothing but the database, yet behind a queue of room openings (each a few statements, each a
trip back to a busy loop) it waited hundreds of milliseconds a commit, and frames ran seconds
late. An *urgent* writer (:class:`WriterTurn`) waiting when a turn ends goes next; urgent and
ordinary writers then alternate, so neither starves the other. A task makes its own writes
urgent with :func:`urgent_writes`: the event log's writer, and the opening of a room falling
due.

:func:`use_one_trip_connections` makes an engine connect this way (``db.engine`` does it for
every SQLite engine).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")

BUSY_TIMEOUT_SECONDS = 5.0  # db.engine's busy_timeout: how long SQLite itself would wait
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class WriterTurn:
    """The turn of one database's writers: first come first served, except that an urgent
    writer waiting when a turn ends goes next, unless the turn that ended was urgent too and
    an ordinary writer waits (then they alternate). A turn ends by being handed straight to
    the writer chosen, so no one can slip in between."""

    def __init__(self) -> None:
        self._held = False
        self._urgent_held = False
        self._waiting: dict[bool, deque[asyncio.Future[None]]] = {True: deque(), False: deque()}

    def locked(self) -> bool:
        return self._held

    def waiting(self) -> int:
        """How many writers wait for the turn."""
        return sum(not waiter.done() for queue in self._waiting.values() for waiter in queue)

    def try_acquire(self, *, urgent: bool = False) -> bool:
        """Take the turn if it is free and no one waits for it; whether it was taken."""
        # (A waiter cancelled stays queued until its task runs again: it waits for nothing.)
        if self._held or self.waiting():
            return False
        self._take(urgent)
        return True

    async def acquire(self, *, urgent: bool = False) -> None:
        if self.try_acquire(urgent=urgent):
            return
        waiter = asyncio.get_running_loop().create_future()
        queue = self._waiting[urgent]
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed the turn, then cancelled before it could use it
            raise
        finally:
            with contextlib.suppress(ValueError):
                queue.remove(waiter)

    def release(self) -> None:
        if not self._held:
            raise RuntimeError("the writer turn is not held")
        self._held = False
        # After an urgent turn, an ordinary writer goes first; after an ordinary one, urgent.
        for urgent in (False, True) if self._urgent_held else (True, False):
            for waiter in self._waiting[urgent]:
                if not waiter.done():
                    self._take(urgent)
                    waiter.set_result(None)
                    return

    def _take(self, urgent: bool) -> None:
        self._held = True
        self._urgent_held = urgent


def _writes(sql: str) -> bool:
    """Whether SQLite begins a write transaction for ``sql`` (Python's sqlite3 issues BEGIN
    before these). Anything else that writes still waits in SQLite's busy handler."""
    return sql.lstrip()[:8].upper().startswith(_WRITES)


# The task whose writes are urgent (tasks it starts inherit the variable, not the urgency).
_urgent_task: ContextVar[asyncio.Task[Any] | None] = ContextVar("urgent_writes", default=None)


@contextlib.contextmanager
def urgent_writes() -> Iterator[None]:
    """Within: the current task's write transactions on SQLite go before ordinary writers
    waiting for the turn (:class:`WriterTurn`). For work with a deadline, such as a room
    falling due; elsewhere (PostgreSQL) it changes nothing."""
    token = _urgent_task.set(asyncio.current_task())
    try:
        yield
    finally:
        _urgent_task.reset(token)


def _urgent_now() -> bool:
    task = _urgent_task.get()
    return task is not None and task is asyncio.current_task()


# One turn per database file and event loop (tests run many loops, one after another).
_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, WriterTurn]] = (
    weakref.WeakKeyDictionary()
)


def writer_turn(database: str) -> WriterTurn:
    """The turn of ``database``'s writers on the running loop."""
    turns = _turns.setdefault(asyncio.get_running_loop(), {})
    turn = turns.get(database)
    if turn is None:
        turn = turns[database] = WriterTurn()
    return turn


class OneTripCursor(aiosqlite.Cursor):
    """A cursor whose statement runs and is read to the end in one call on the thread."""

    def __init__(self, conn: aiosqlite.Connection, cursor: sqlite3.Cursor) -> None:
        super().__init__(conn, cursor)
        self._rows: deque[Any] = deque()

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> OneTripCursor:
        cursor = self._cursor
        values: Any = parameters if parameters is not None else ()

        def run() -> list[Any]:
            cursor.execute(sql, values)
            # Read to the end: SQLite then resets the statement, so it holds no lock.
            return cursor.fetchall() if cursor.description is not None else []

        connection = self._one_trip_connection()
        await connection.wait_for_turn(sql)
        try:
            rows: list[Any] = await self._execute(run)  # type: ignore[no-untyped-call]
        finally:
            connection.pass_turn_unless_writing()
        self._rows = deque(rows)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> OneTripCursor:
        self._rows = deque()
        connection = self._one_trip_connection()
        await connection.wait_for_turn(sql)
        try:
            await super().executemany(sql, parameters)
        finally:
            connection.pass_turn_unless_writing()
        return self

    def _one_trip_connection(self) -> OneTripConnection:
        connection = self._conn
        assert isinstance(connection, OneTripConnection)
        return connection

    async def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(count, len(self._rows)))]

    async def fetchall(self) -> list[Any]:
        rows, self._rows = list(self._rows), deque()
        return rows

    async def close(self) -> None:
        # Every statement ran to its end in execute(): nothing is left to finalize.
        self._rows = deque()


class OneTripConnection(aiosqlite.Connection):
    """aiosqlite's connection, with :class:`OneTripCursor` cursors, no trip for a commit or
    rollback when no transaction is open, and writers taking turns."""

    def __init__(self, connector: Any, iter_chunk_size: int, database: str) -> None:
        super().__init__(connector, iter_chunk_size)
        self._database = database
        self._turn: WriterTurn | None = None
        self._has_turn = False
        self._calls_sent = 0
        self._calls_run = 0

    async def wait_for_turn(self, sql: str) -> None:
        """Before a statement that begins a write transaction: wait until no other
        connection to this database is writing (at most ``BUSY_TIMEOUT_SECONDS``; sooner
        within :func:`urgent_writes`)."""
        connection = self._connection
        if self._has_turn or connection is None or connection.in_transaction or not _writes(sql):
            return
        if self._turn is None:
            self._turn = writer_turn(self._database)
        urgent = _urgent_now()
        if not self._turn.try_acquire(urgent=urgent):  # (a free turn needs no timer)
            try:
                async with asyncio.timeout(BUSY_TIMEOUT_SECONDS):
                    await self._turn.acquire(urgent=urgent)
            except TimeoutError:
                raise sqlite3.OperationalError("database is locked") from None
        self._has_turn = True

    def pass_turn_unless_writing(self) -> None:
        """After a statement, commit or rollback: pass the turn on unless a write
        transaction is open (a statement that failed before its BEGIN, a commit)."""
        connection = self._connection
        if self._has_turn and (connection is None or not connection.in_transaction):
            self._pass_turn()

    def _pass_turn(self) -> None:
        if self._has_turn and self._turn is not None:
            self._has_turn = False
            self._turn.release()

    async def run_transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(connection)`` and its COMMIT (or ROLLBACK, if it raises) as one write
        transaction, in one trip to the thread, in this database's writers' turn
        (``db.write_batch``). No transaction may be open."""
        connection = self._connection
        if connection is None or not self._running:
            raise ValueError("Connection closed")  # as aiosqlite says it
        if connection.in_transaction or self._has_turn:
            raise sqlite3.ProgrammingError("run_transaction inside an open transaction")

        def transaction() -> T:
            try:
                result = work(connection)
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
            return result

        await self.wait_for_turn("INSERT")
        try:
            result: T = await self._execute(transaction)
        finally:
            self.pass_turn_unless_writing()
        return result

    def cursor(self) -> Any:  # aiosqlite's is an awaitable context manager; so is a cursor
        if self._connection is None:
            return super().cursor()  # raises its "no active connection", as aiosqlite does
        return OneTripCursor(self, self._connection.cursor())

    async def commit(self) -> None:
        try:
            if self._open_transaction():
                await super().commit()
        finally:
            # Also when SQLite ended the transaction by itself (an error that rolls back).
            self.pass_turn_unless_writing()

    async def rollback(self) -> None:
        try:
            if self._open_transaction():
                await super().rollback()
        finally:
            self.pass_turn_unless_writing()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self._pass_turn()

    def stop(self) -> asyncio.Future[Any] | None:
        # SQLAlchemy's terminate (a connection it gives up on) and garbage collection.
        with contextlib.suppress(RuntimeError):  # collected after its loop closed
            self._pass_turn()
        return super().stop()

    def _open_transaction(self) -> bool:
        # Only trusted with no call on the thread: a statement whose caller was cancelled may
        # still be about to BEGIN (then the commit or rollback travels, after it, in order).
        # A closed connection goes on to aiosqlite, which says so.
        connection = self._connection
        busy = self._calls_sent != self._calls_run
        return connection is None or busy or connection.in_transaction

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        connection = self._connection
        if not self._running or not connection:
            raise ValueError("Connection closed")  # as aiosqlite says it
        self._calls_sent += 1  # only ever written here, on the loop
        loop = asyncio.get_running_loop()

        def counted() -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                self._calls_run += 1  # only ever written here, on the connection's thread
                if self._has_turn and not connection.in_transaction:
                    # The write transaction is over: the next writer's turn starts in the
                    # loop's next round, not one round later when this caller resumes.
                    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                        loop.call_soon_threadsafe(self.pass_turn_unless_writing)

        return await super()._execute(counted)  # type: ignore[no-untyped-call]


def connect(database: str, **kwargs: Any) -> OneTripConnection:
    """What ``aiosqlite.connect`` does, with a :class:`OneTripConnection`."""

    def connector() -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(database, **kwargs)
        return connection

    connection = OneTripConnection(connector, iter_chunk_size=64, database=database)
    connection._thread.daemon = True  # as SQLAlchemy makes aiosqlite's: never holds exit
    return connection


def use_one_trip_connections(engine: AsyncEngine) -> None:
    """Make ``engine`` (sqlite+aiosqlite) open :class:`OneTripConnection` connections.

    SQLAlchemy's aiosqlite dialect calls ``async_creator_fn(*args, **kwargs)`` with the
    arguments it would give ``aiosqlite.connect``, when the connect parameters name one.
    """

    def with_one_trip(
        _dialect: Any, _record: Any, _args: list[Any], kwargs: dict[str, Any]
    ) -> None:
        kwargs["async_creator_fn"] = connect

    event.listen(engine.sync_engine, "do_connect", with_one_trip)
