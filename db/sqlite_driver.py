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

:func:`use_one_trip_connections` makes an engine connect this way (``db.engine`` does it for
every SQLite engine).
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Iterable
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


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

        rows: list[Any] = await self._execute(run)  # type: ignore[no-untyped-call]
        self._rows = deque(rows)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> OneTripCursor:
        self._rows = deque()
        await super().executemany(sql, parameters)
        return self

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
    """aiosqlite's connection, with :class:`OneTripCursor` cursors and no trip for a commit
    or rollback when no transaction is open."""

    def cursor(self) -> Any:  # aiosqlite's is an awaitable context manager; so is a cursor
        if self._connection is None:
            return super().cursor()  # raises its "no active connection", as aiosqlite does
        return OneTripCursor(self, self._connection.cursor())

    async def commit(self) -> None:
        if self._open_transaction():
            await super().commit()

    async def rollback(self) -> None:
        if self._open_transaction():
            await super().rollback()

    def _open_transaction(self) -> bool:
        # Read between calls (SQLAlchemy runs one at a time on a connection), never during
        # one; a closed connection goes on to aiosqlite, which says so.
        connection = self._connection
        return connection is None or connection.in_transaction


def connect(database: str, **kwargs: Any) -> OneTripConnection:
    """What ``aiosqlite.connect`` does, with a :class:`OneTripConnection`."""

    def connector() -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(database, **kwargs)
        return connection

    connection = OneTripConnection(connector, iter_chunk_size=64)
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
