"""Async engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import Pool

from db.sqlite_driver import use_one_trip_connections

SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
# Connections kept, and opened beyond them at a peak, on either backend. A connection is held
# for a few turns of the event loop per statement, and at a season's peak a turn is long:
# PostgreSQL's 5 + 10 (SQLAlchemy's default) ran dry, and slash commands timed out waiting
# for one (issue 28). Two processes at most take 62 of PostgreSQL's default 100.
POOL_SIZE = 10
POOL_OVERFLOW = 20


class UnsupportedDatabaseURLError(ValueError):
    """``database.url`` names a backend or driver RaceDesk does not support."""


def parse_database_url(url: str | URL) -> URL:
    """Parse and check ``url``; errors name the setting and never echo the password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UnsupportedDatabaseURLError(
            "database.url is not a valid database URL; expected "
            "sqlite+aiosqlite:///path/to/file.sqlite3 or postgresql+asyncpg://user@host/db"
        ) from None
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise UnsupportedDatabaseURLError(
            f"database.url uses unsupported scheme {parsed.drivername!r}; "
            f"use one of: {', '.join(SUPPORTED_DRIVERS)}"
        )
    return parsed


class EncodedJSON(str):
    """JSON text a JSON column stores as it is: a value encoded once, where it was made (a
    race snapshot straight from its msgspec struct), is not turned into dicts to be encoded
    again."""

    __slots__ = ()


def _json_dumps(value: Any) -> str:
    if type(value) is EncodedJSON:
        return value
    return msgspec.json.encode(value).decode()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores foreign keys unless asked, per connection; WAL lets readers and the
    # writer work at once. busy_timeout waits for a lock instead of failing at once.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
    finally:
        cursor.close()


def create_engine(
    url: str | URL,
    *,
    echo: bool = False,
    poolclass: type[Pool] | None = None,
    application_name: str | None = None,
    pool_size: int | None = None,
) -> AsyncEngine:
    """An :class:`AsyncEngine` for ``url`` (the ``database.url`` setting).

    For SQLite the parent folder of the database file is created if missing, and every
    connection enables foreign keys and WAL. ``poolclass`` (e.g. ``NullPool``) is for tests
    and one-shot tools. ``application_name`` names every PostgreSQL session (in
    ``pg_stat_activity``): a leader's sessions carry its id, so that a process taking over
    from it can end them (``core.leadership``). ``pool_size``: exactly that many connections
    (the event log's writer has one of its own); by default up to ``POOL_SIZE +
    POOL_OVERFLOW``, on either backend.
    """
    parsed = parse_database_url(url)
    # JSON columns hold race snapshots of several KB each; msgspec encodes them far faster
    # than the json module, with the same output.
    kwargs: dict[str, Any] = {
        "echo": echo,
        "json_serializer": _json_dumps,
        "json_deserializer": msgspec.json.decode,
    }
    if poolclass is not None:
        kwargs["poolclass"] = poolclass
    elif _sqlite_in_memory(parsed):
        pass  # one connection, kept (SQLAlchemy's StaticPool for an in-memory database)
    elif pool_size is not None:
        kwargs.update(pool_size=pool_size, max_overflow=0)
    else:
        # (A SQLite connection is a thread; a writer waiting for its turn holds one, see
        # db.sqlite_driver, and readers must still find one at a peak.)
        kwargs.update(pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_file(parsed)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = _create_async_engine(parsed, **kwargs)
        use_one_trip_connections(engine)  # a statement, one trip to aiosqlite's thread
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if application_name is not None:
        kwargs["connect_args"] = {"server_settings": {"application_name": application_name}}
    return _create_async_engine(parsed, pool_pre_ping=True, **kwargs)


def sqlite_file(url: str | URL) -> Path | None:
    """The file of a SQLite database URL; None for PostgreSQL and in-memory databases."""
    return _sqlite_file(parse_database_url(url))


def sqlite_in_memory(url: str | URL) -> bool:
    """Whether ``url`` is a SQLite database without a file of its own: one connection's."""
    return _sqlite_in_memory(parse_database_url(url))


def _sqlite_in_memory(parsed: URL) -> bool:
    return parsed.get_backend_name() == "sqlite" and _sqlite_file(parsed) is None


def _sqlite_file(parsed: URL) -> Path | None:
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return None if database.startswith("file:") else Path(database).expanduser()


def check_sqlite_file(url: str | URL) -> None:
    """Open a SQLite database once, synchronously, and take its write lock, creating the file
    and its folder if missing; nothing for PostgreSQL.

    A path RaceDesk cannot use fails here with the plain ``OSError`` or ``sqlite3`` error that
    says why, before aiosqlite is involved: its worker thread, after a failed connect, can
    outlive the event loop and print a traceback of its own.
    """
    path = _sqlite_file(parse_database_url(url))
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def engine_of(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    """The engine ``sessionmaker``'s sessions are bound to."""
    bind = sessionmaker.kw["bind"]
    assert isinstance(bind, AsyncEngine), "sessions bound to an engine"
    return bind


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (services return ORM objects)."""
    return async_sessionmaker(engine, expire_on_commit=False)
