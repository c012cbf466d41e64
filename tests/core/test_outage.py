"""The database watch (``core.outage``) and which database errors pass (``db.errors``), without
a server to restart: a PostgreSQL URL on a port nobody listens on is a database that is away.
(``tests/core/test_database_restart.py`` restarts a real server.)"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.outage import DatabaseUnavailableError, DatabaseWatch, WatchTimings
from db.engine import create_engine
from db.errors import is_transient, sqlstate


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound but not listening: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.fixture
async def away_engine(closed_port: int) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"postgresql+asyncpg://racedesk@127.0.0.1:{closed_port}/racedesk")
    yield engine
    await engine.dispose()


def wrapped(error: Exception) -> DBAPIError:
    """As SQLAlchemy hands asyncpg's errors to RaceDesk."""
    return DBAPIError("SELECT 1", {}, error)


@pytest.mark.parametrize("error", [
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.CrashShutdownError("terminating connection because of crash"),
    asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
])
def test_postgresql_going_away_or_coming_back_passes(error: Exception) -> None:
    assert is_transient(wrapped(error)) and is_transient(error)
    assert sqlstate(wrapped(error)) == error.sqlstate  # type: ignore[attr-defined]


def test_a_wrong_statement_or_a_broken_rule_does_not_pass() -> None:
    syntax = asyncpg.exceptions.PostgresSyntaxError('syntax error at or near "SELEC"')
    assert not is_transient(wrapped(syntax))
    unique = asyncpg.exceptions.UniqueViolationError("duplicate key value")
    assert not is_transient(IntegrityError("INSERT", {}, unique))
    assert not is_transient(ValueError("not a database error"))


async def test_an_outage_is_said_once_and_waiters_give_up_when_racedesk_stops(
    away_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    watch = DatabaseWatch(away_engine, timings=WatchTimings(retry_seconds=0.05))
    await watch.start()
    try:
        with caplog.at_level(logging.WARNING, logger="core.outage"):
            assert await watch.confirm_outage(ConnectionRefusedError(111, "refused"))
            assert await watch.confirm_outage(ConnectionRefusedError(111, "refused"))
            await asyncio.sleep(0.3)  # several pings fail meanwhile: said once all the same
        assert not watch.available and watch.outages == 1
        said = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(said) == 1 and "RaceDesk waits for it" in said[0], said
        # What is not a database error stays the caller's, even while the database is away.
        assert not await watch.confirm_outage(KeyError("a bug"))

        waiting = asyncio.ensure_future(watch.wait_until_up())
        await asyncio.sleep(0.1)
        assert not waiting.done()
        watch.give_up()  # SIGTERM
        with pytest.raises(DatabaseUnavailableError):
            await asyncio.wait_for(waiting, 5)

        calls = 0

        async def work() -> None:
            nonlocal calls
            calls += 1
            raise ConnectionRefusedError(111, "refused")

        with pytest.raises(DatabaseUnavailableError):
            await watch.ride_out(work, "test work")
        assert calls == 1
    finally:
        await watch.stop()


async def test_a_passing_error_with_the_database_answering_is_no_outage(
    db_engine: AsyncEngine,
) -> None:
    watch = DatabaseWatch(db_engine)
    assert not await watch.confirm_outage(ConnectionResetError("one connection, not the server"))
    assert watch.available and watch.outages == 0

    async def fails() -> None:
        raise TimeoutError("the caller's own")

    with pytest.raises(TimeoutError):
        await watch.ride_out(fails, "test work")
