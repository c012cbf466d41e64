"""A write-only transaction given as Core statements and their rows, run in one trip on SQLite.

The event log's group commit (``core.event_store.event_log``) is RaceDesk's hottest
transaction: at a season's peak it commits a thousand race changes a second, each with its
room's snapshot. Run the usual way, every statement is a trip to aiosqlite's thread and back
to the event loop (upsert the snapshots, append the events, mark deliveries, commit: four
trips, each waiting for a turn of a busy loop), and SQLAlchemy processes every row of every
statement on the loop. Here the same statements, built by ``db.queries`` as usual, are
compiled once, their rows turned into parameters with the column types' own processors, and
the whole transaction (statements and COMMIT) runs in one call on the connection's thread.
An INSERT of many rows runs there as one statement over a JSON array of them (``json_each``)
rather than once a row: each execution lets go of the GIL and takes it back, and under load
each taking back waits for the busy event loop.

On other databases (PostgreSQL) the statements run one after another in an ordinary
transaction. Either way the engine's ``before_cursor_execute`` and ``commit`` hooks fire for
each statement (``tests.plugins.faults`` relies on them), and a driver error comes back as
SQLAlchemy's own exception (``OperationalError``, ``IntegrityError``...), as it would from
``Connection.execute``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import sqlite3
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import msgspec
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import UpdateBase

from db.sqlite_driver import OneTripConnection

Rows = list[tuple[Any, ...]]
CLOSE_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Write:
    """One statement of the transaction and its rows (one execution per row; every row has
    the same keys). ``returning``: the statement returns rows (``RETURNING``), which
    :func:`commit_writes` hands back."""

    statement: UpdateBase
    rows: Sequence[Mapping[str, Any]]
    returning: bool = False


BuildWrites = Callable[[str], Awaitable[Sequence[Write]]]


async def commit_writes(engine: AsyncEngine, build: BuildWrites) -> list[Rows]:
    """Commit the writes ``build(dialect_name)`` gives, in one transaction on one of
    ``engine``'s connections; returns the rows of each ``returning`` write, in order."""
    async with engine.connect() as connection:
        return await _commit_on(connection, build)


class Committer:
    """:func:`commit_writes` on a connection kept from one commit to the next: a writer that
    commits hundreds of times a second (the event log) skips the pool's checkout and reset,
    half of what a small commit costs the event loop. A connection that failed is closed and
    a new one opened at the next commit."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._connection: AsyncConnection | None = None
        # The kept connection's one-trip driver, looked up once (a trip through greenlet).
        self._driver: OneTripConnection | None = None

    async def commit(self, build: BuildWrites) -> list[Rows]:
        if self._connection is None:
            self._connection = await self.engine.connect()
            self._driver = await _one_trip_driver(self._connection)
        try:
            return await _commit_on(self._connection, build, self._driver)
        except BaseException:
            await self.close()  # whatever failed, the next commit starts afresh
            raise

    async def close(self) -> None:
        connection, self._connection, self._driver = self._connection, None, None
        if connection is not None:
            # A connection the database dropped, or one stuck behind a statement that hangs
            # (a shutdown gave up on it): given up, never waited for long.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
                    await connection.close()


async def _commit_on(
    connection: AsyncConnection, build: BuildWrites, driver: OneTripConnection | None = None
) -> list[Rows]:
    """``driver``: ``connection``'s one-trip driver when the caller knows it (else looked up)."""
    writes = [write for write in await build(connection.dialect.name) if write.rows]
    if driver is None:
        driver = await _one_trip_driver(connection)
    # (An in-memory database's one connection is shared: another session's transaction on it
    # is joined, the ordinary way.)
    if driver is not None and not driver.in_transaction:
        return await _commit_in_one_trip(connection, driver, writes)
    returned: list[Rows] = []
    async with connection.begin():
        for write in writes:
            result = await connection.execute(write.statement, list(write.rows))
            if write.returning:
                returned.append([tuple(row) for row in result])
    return returned


async def _one_trip_driver(connection: AsyncConnection) -> OneTripConnection | None:
    if connection.dialect.name != "sqlite":
        return None
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    return driver if isinstance(driver, OneTripConnection) else None


# ``INSERT INTO t (a, b) VALUES (?, ?)``: the rows' values are the statement's only parameters.
_VALUES = re.compile(r" VALUES \((\?(?:, \?)*)\)")


def _over_json_each(sql: str, count: int) -> str | None:
    """``sql``, an INSERT of one row of ``count`` parameters, as one statement inserting the
    rows of a JSON array of arrays (``json_each``); None for any other shape. ``WHERE true``
    lets an ``ON CONFLICT`` clause follow a SELECT (SQLite's grammar)."""
    found = _VALUES.search(sql)
    if found is None or found.group(1).count("?") != count or sql.count("?") != count:
        return None
    columns = ", ".join(f"value ->> {index}" for index in range(count))
    each = f" SELECT {columns} FROM json_each(?) WHERE true"  # noqa: S608 - column numbers
    return sql[: found.start()] + each + sql[found.end() :]


def _as_json_array(parameters: list[tuple[Any, ...]]) -> str | None:
    """The rows as one JSON array, or None unless every value is a string, an integer, a
    finite float, a boolean or None, subclasses too (what JSON holds exactly: not bytes, NaN,
    a Decimal). (An integer past 64 bits, which no column here holds, would be read back as
    a REAL where binding it alone fails with OverflowError.) msgspec encodes in a quarter of
    ``json``'s time; at a peak this runs for every group commit of the event log, whose rows
    carry each room's whole race (an ``EncodedJSON``, a ``str``)."""
    for row in parameters:
        for value in row:
            kind = type(value)
            if kind in _JSON_EXACT:
                if kind is float and not math.isfinite(value):
                    return None
            elif not isinstance(value, str | int):
                return None
    try:
        return _JSON.encode(parameters).decode()
    except UnicodeEncodeError:  # a lone surrogate: bound alone, it fails as it should
        return None


def _plain(value: Any) -> Any:
    """A ``str`` or ``int`` subclass (``EncodedJSON``) as the plain value it is; msgspec
    encodes enums by their value without asking."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    raise TypeError(f"no JSON form for {type(value).__name__}")


_JSON_EXACT = frozenset({str, int, float, bool, type(None)})
_JSON = msgspec.json.Encoder(enc_hook=_plain)


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    # Values the rows do not give: a column's Python-side default (``updated_at``'s
    # ``onupdate``), a literal of the statement (``attempts - 1``).
    defaults: Mapping[str, Callable[[], Any]]
    # The same INSERT taking every row at once as a JSON array (see _commit_in_one_trip).
    sql_over_json: str | None

    def parameters(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """Every row's parameters, column by column: a value all the rows share (the
        batch's ``created_at``) is processed once."""
        columns = []
        for name, process in zip(self.names, self.processors, strict=True):
            if name in rows[0]:
                values = [row[name] for row in rows]
            else:
                values = [self.defaults[name]()] * len(rows)
            if process is not None:
                first = values[0]
                if all(value is first for value in values):
                    values = [process(first)] * len(values)
                else:
                    values = [process(value) for value in values]
            columns.append(values)
        return list(zip(*columns, strict=True)) if columns else [()] * len(rows)


@lru_cache(maxsize=256)
def _compile(statement: UpdateBase, keys: tuple[str, ...], dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    names = tuple(compiled.positiontup or ())
    processors = tuple(
        compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in names
    )
    defaults = {
        column.key: _python_default(column, statement)
        for column in (*compiled.insert_prefetch, *compiled.update_prefetch)
        if column.key not in keys
    }
    for name in names:
        bind = compiled.binds[name]
        if name not in keys and name not in defaults and not bind.required:
            defaults[name] = _constant(bind.effective_value)
    return _Compiled(
        compiled.string, names, processors, defaults, _over_json_each(compiled.string, len(names))
    )


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def _python_default(column: Any, statement: UpdateBase) -> Callable[[], Any]:
    default = column.onupdate if statement.is_update else column.default
    if default is None or not (default.is_scalar or default.is_callable):
        raise NotImplementedError(f"no value and no Python default for {column.key}")
    if default.is_scalar:
        return _constant(default.arg)
    return lambda: default.arg(None)  # SQLAlchemy wraps the function to take a context


async def _commit_in_one_trip(
    connection: AsyncConnection, driver: OneTripConnection, writes: list[Write]
) -> list[Rows]:
    sync = connection.sync_connection
    assert sync is not None
    dialect = connection.dialect
    plan: list[tuple[str, list[tuple[Any, ...]], bool]] = []
    for write in writes:
        compiled = _compile(write.statement, tuple(write.rows[0]), dialect)
        try:
            parameters = compiled.parameters(write.rows)
        except Exception as error:  # a value its column cannot take, as SQLAlchemy says it
            raise StatementError(str(error), compiled.sql, None, error) from error
        sql = compiled.sql
        # Many rows go as one statement over a JSON array, not one execution a row: SQLite
        # lets go of the GIL at every step of a statement, and under load each step's taking
        # it back waits for a busy event loop (~10x the commit's time, measured).
        if compiled.sql_over_json is not None and len(parameters) > 1:
            rows_json = _as_json_array(parameters)
            if rows_json is not None:
                sql, parameters = compiled.sql_over_json, [(rows_json,)]
        _before_execute(sync, sql, parameters)
        plan.append((sql, parameters, write.returning))
    sync.dispatch.commit(sync)

    def run(database: sqlite3.Connection) -> list[Rows]:
        cursor = database.cursor()
        returned: list[Rows] = []
        for sql, parameters, returning in plan:
            if returning:
                rows: Rows = []
                for values in parameters:
                    rows.extend(cursor.execute(sql, values).fetchall())
                returned.append(rows)
            else:
                cursor.executemany(sql, parameters)
        return returned

    try:
        return await driver.run_transaction(run)
    except sqlite3.Error as error:
        raise DBAPIError.instance(
            None, None, error, sqlite3.Error, dialect=dialect
        ) from error


def _before_execute(sync: Connection, sql: str, parameters: list[tuple[Any, ...]]) -> None:
    """The engine's ``before_cursor_execute`` hooks, as ``Connection.execute`` fires them."""
    for hook in sync.dispatch.before_cursor_execute:
        hook(sync, None, sql, parameters, None, len(parameters) > 1)
