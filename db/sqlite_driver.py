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
A one-trip transaction (:meth:`OneTripConnection.run_transaction`: the event log's commit, a
receipt) takes and passes the turn on its connection's thread, without the loop.

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
import threading
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


class _Waiter:
    """A writer waiting for the turn: a task on the loop (``future``, resolved there) or a
    one-trip transaction (``start`` puts it on its connection's thread, from any thread;
    False when that connection has stopped)."""

    __slots__ = ("future", "start", "state", "urgent")

    def __init__(
        self,
        urgent: bool,
        future: asyncio.Future[None] | None = None,
        start: Callable[[], bool] | None = None,
    ) -> None:
        self.urgent = urgent
        self.future = future
        self.start = start
        self.state = _WAITING


_WAITING, _GRANTED, _GONE = "waiting", "granted", "gone"


class WriterTurn:
    """The turn of one database's writers: first come first served, except that an urgent
    writer waiting when a turn ends goes next, unless the turn that ended was urgent too and
    an ordinary writer waits (then they alternate). A turn ends by being handed straight to
    the writer chosen, so no one can slip in between.

    A one-trip transaction (:meth:`OneTripConnection.run_transaction`) ends its turn on its
    connection's thread, the moment it commits, and a one-trip transaction handed the turn
    starts on its own thread at once: from one to the next, the turn never waits for the
    event loop, which at a peak is busy for milliseconds a round. (A task waiting is woken
    through the loop, as it must be.) So the turn's state is guarded by a lock."""

    def __init__(self) -> None:
        # Guards its state; held while a one-trip transaction is queued. Reentrant: a
        # connection collected as garbage within (its stop() takes it) must not deadlock.
        self.lock = threading.RLock()
        self._held = False
        self._urgent_held = False
        self._waiting: dict[bool, deque[_Waiter]] = {True: deque(), False: deque()}

    def locked(self) -> bool:
        return self._held

    def waiting(self) -> int:
        """How many writers wait for the turn."""
        with self.lock:
            return len(self._waiting[True]) + len(self._waiting[False])

    def try_acquire(self, *, urgent: bool = False) -> bool:
        """Take the turn if it is free and no one waits for it; whether it was taken."""
        with self.lock:
            return self._take_if_free(urgent)

    async def acquire(self, *, urgent: bool = False) -> None:
        if self.try_acquire(urgent=urgent):
            return
        waiter = _Waiter(urgent, future=asyncio.get_running_loop().create_future())
        with self.lock:
            if self._take_if_free(urgent):
                return
            self._waiting[urgent].append(waiter)
        future = waiter.future
        assert future is not None
        try:
            await future
        except asyncio.CancelledError:
            with self.lock:
                if waiter.state is _WAITING:
                    self._leave(waiter)
                    raise
            if future.done() and not future.cancelled():
                self.release()  # handed the turn, then cancelled before it could use it
            # (Handed it with the hand-over on its way to the loop: that passes it on.)
            raise

    def acquire_then(self, start: Callable[[], bool], *, urgent: bool = False) -> _Waiter | None:
        """Run ``start()`` in the turn: now if it is free (then None), else when it is handed
        on; returns the waiter, which :meth:`give_up` withdraws. ``start`` must not block: it
        runs under the turn's lock (so a waiter given up has surely not started). It returns
        False if it could not start (then the turn passes on)."""
        with self.lock:
            if self._take_if_free(urgent):
                if not start():
                    self._hand_on()
                return None
            waiter = _Waiter(urgent, start=start)
            self._waiting[urgent].append(waiter)
            return waiter

    def give_up(self, waiter: _Waiter) -> bool:
        """Withdraw ``waiter`` if it was not handed the turn; whether it was withdrawn."""
        with self.lock:
            if waiter.state is _WAITING:
                self._leave(waiter)
            return waiter.state is _GONE

    def release(self) -> None:
        """End the turn (from any thread) and hand it on."""
        with self.lock:
            if not self._held:
                raise RuntimeError("the writer turn is not held")
            self._hand_on()

    def _take_if_free(self, urgent: bool) -> bool:
        if self._held or self._waiting[True] or self._waiting[False]:
            return False
        self._held, self._urgent_held = True, urgent
        return True

    def _leave(self, waiter: _Waiter) -> None:
        waiter.state = _GONE
        self._waiting[waiter.urgent].remove(waiter)

    def _hand_on(self) -> None:
        """(Under the lock, the turn just ended.) Hand it to the next writer, if one waits."""
        self._held = False
        while True:
            # After an urgent turn, an ordinary writer goes first; after an ordinary one, urgent.
            order = (False, True) if self._urgent_held else (True, False)
            queue = next((self._waiting[u] for u in order if self._waiting[u]), None)
            if queue is None:
                return
            waiter = queue.popleft()
            self._held, self._urgent_held = True, waiter.urgent
            waiter.state = _GRANTED
            if waiter.start is not None:
                if waiter.start():
                    return
                waiter.state = _GONE  # its connection stopped: the next writer's turn
                self._held = False
                continue
            future = waiter.future
            assert future is not None
            loop = future.get_loop()
            if loop is _running_loop():  # (released on the waiter's own loop)
                if future.done():  # cancelled, its task not yet run: the next writer's turn
                    waiter.state = _GONE
                    self._held = False
                    continue
                future.set_result(None)
                return
            with contextlib.suppress(RuntimeError):  # its loop closed: no one will write
                loop.call_soon_threadsafe(self._wake, future)
            return

    def _wake(self, future: asyncio.Future[None]) -> None:
        """(On the waiter's loop.) Its turn has come; if it was cancelled meanwhile, the turn
        passes on."""
        if future.done():
            self.release()
        else:
            future.set_result(None)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # a connection's thread
        return None


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
        turn = self._writer_turn()
        urgent = _urgent_now()
        if not turn.try_acquire(urgent=urgent):  # (a free turn needs no timer)
            try:
                async with asyncio.timeout(BUSY_TIMEOUT_SECONDS):
                    await turn.acquire(urgent=urgent)
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
        (``db.write_batch``). No transaction may be open.

        The turn is taken and handed on without the loop (:class:`WriterTurn`): the thread
        ends it after the COMMIT, and the transaction starts on the thread the moment it is
        handed the turn. A turn not given within ``BUSY_TIMEOUT_SECONDS`` fails as SQLite
        would; a caller cancelled after its transaction started leaves it to finish."""
        connection = self._connection
        if connection is None or not self._running:
            raise ValueError("Connection closed")  # as aiosqlite says it
        if connection.in_transaction or self._has_turn:
            raise sqlite3.ProgrammingError("run_transaction inside an open transaction")
        turn = self._writer_turn()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def transaction() -> T:
            try:
                try:
                    result = work(connection)
                    connection.commit()
                except BaseException:
                    connection.rollback()
                    raise
                return result
            finally:
                self._calls_run += 1
                turn.release()  # here, on the thread: the next writer goes now

        def start() -> bool:
            # (Under the turn's lock, as stop() puts the thread's last call: a transaction
            # queued behind that call would never run, nor end its turn.)
            if not self._running:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_fail, future, ValueError("Connection closed"))
                return False
            self._tx.put_nowait((future, transaction))
            return True

        self._calls_sent += 1
        waiter = turn.acquire_then(start, urgent=_urgent_now())
        try:
            if waiter is None:
                return await future
            try:
                async with asyncio.timeout(BUSY_TIMEOUT_SECONDS) as deadline:
                    return await asyncio.shield(future)
            except TimeoutError:
                if not deadline.expired():
                    raise
                if turn.give_up(waiter):
                    raise sqlite3.OperationalError("database is locked") from None
            # Handed the turn as the deadline came: it runs, and its outcome is the caller's.
            return await future
        except BaseException:
            if waiter is not None and turn.give_up(waiter):
                self._calls_sent -= 1  # it never went to the thread
            raise

    def _writer_turn(self) -> WriterTurn:
        if self._turn is None:
            self._turn = writer_turn(self._database)
        return self._turn

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
        if self._turn is None:
            return super().stop()
        with self._turn.lock:  # no one-trip transaction of ours queued behind the last call
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
