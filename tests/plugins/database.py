"""Database fixtures for the whole test suite, on SQLite (default) or PostgreSQL.

Pick the backend with ``RACEDESK_TEST_DB=sqlite|postgres``. The schema is migrated once per
session (through the real Alembic migrations); every test starts with empty tables.

Fixtures:
    db_backend       "sqlite" or "postgres"
    db_url           URL of a migrated database whose tables are empty
    fresh_db_url     ``await fresh_db_url()``: such a URL again, each call (many examples)
    db_engine        an AsyncEngine on db_url (NullPool), disposed after the test
    db_sessionmaker  async_sessionmaker over db_engine (expire_on_commit=False)
    empty_db_url     URL of a fresh, never migrated database (dropped after the test)
    own_pg_db_url    URL of a migrated PostgreSQL database of the test's own (dropped after):
                     for what is per database, e.g. the leader lease's advisory lock
    secret_box       a SecretBox with a fresh random key

Engines are per test because event loops are: an engine must not outlive its loop.
Tests marked ``@pytest.mark.postgres`` are skipped unless the backend is PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import NullPool

import db.models
from db.engine import create_engine, create_sessionmaker
from db.migrate import upgrade_to_head
from db.secrets import SecretBox

T = TypeVar("T")

BACKENDS = ("sqlite", "postgres")
PG_HOST = os.environ.get("RACEDESK_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("RACEDESK_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("RACEDESK_TEST_PG_USER", "postgres")
TEST_DB_PREFIX = "racedesk_test_"


def selected_backend() -> str:
    backend = os.environ.get("RACEDESK_TEST_DB", "sqlite").strip().lower() or "sqlite"
    if backend not in BACKENDS:
        raise pytest.UsageError(f"RACEDESK_TEST_DB must be one of {BACKENDS}, got {backend!r}")
    return backend


def _run_in_fresh_loop(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    # A thread of its own: asyncio.run must not touch the loop pytest-asyncio manages.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def _pg_url(database: str) -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


async def _pg_admin(sql: str) -> None:
    connection = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres"
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def create_pg_database() -> str:
    """Create a uniquely named empty database; returns its name."""
    name = f"{TEST_DB_PREFIX}{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    return name


async def drop_pg_database(name: str) -> None:
    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if selected_backend() == "postgres":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (run with RACEDESK_TEST_DB=postgres)")
    for item in items:
        if item.get_closest_marker("postgres") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def db_backend() -> str:
    """The database backend under test: ``sqlite`` or ``postgres``."""
    return selected_backend()


@pytest.fixture(scope="session")
def _migrated_database(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated to head once per session.

    PostgreSQL: its URL (the database is dropped at the end). SQLite: the path of a template
    file that each test copies.
    """
    if db_backend == "postgres":
        name = _run_in_fresh_loop(create_pg_database)
        try:
            url = _pg_url(name)
            _run_in_fresh_loop(lambda: upgrade_to_head(url))
            yield url
        finally:
            _run_in_fresh_loop(lambda: drop_pg_database(name))
    else:
        path = tmp_path_factory.mktemp("db") / "template.sqlite3"
        _run_in_fresh_loop(lambda: upgrade_to_head(f"sqlite+aiosqlite:///{path}"))
        yield str(path)


async def _empty_all_tables(url: str) -> None:
    tables = [table.name for table in db.models.metadata.sorted_tables]
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


async def fresh_database(backend: str, migrated: str, directory: Path) -> str:
    """URL of a migrated database with every table empty (and ids restarted): on PostgreSQL
    the session's database emptied, on SQLite a new copy of the template in ``directory``."""
    if backend == "postgres":
        await _empty_all_tables(migrated)
        return migrated
    path = directory / f"racedesk-{uuid.uuid4().hex[:8]}.sqlite3"
    shutil.copyfile(migrated, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def db_url(db_backend: str, _migrated_database: str, tmp_path: Path) -> str:
    """URL of a migrated database with every table empty (and ids restarted)."""
    if db_backend == "postgres":
        await _empty_all_tables(_migrated_database)
        return _migrated_database
    path = tmp_path / "racedesk.sqlite3"
    shutil.copyfile(_migrated_database, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def fresh_db_url(
    db_backend: str, _migrated_database: str, tmp_path: Path
) -> Callable[[], Coroutine[Any, Any, str]]:
    """``await fresh_db_url()``: a new empty database each call, for tests that run many
    examples in one test (a Hypothesis state machine); the caller's loop does the work."""
    return lambda: fresh_database(db_backend, _migrated_database, tmp_path)


@pytest.fixture
async def db_engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on ``db_url`` for this test only (NullPool: nothing outlives the loop)."""
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def db_sessionmaker(db_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Session factory over ``db_engine``, configured like the application's."""
    return create_sessionmaker(db_engine)


@pytest.fixture
async def empty_db_url(db_backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """URL of a brand-new database with no tables at all (for migration tests)."""
    if db_backend == "postgres":
        name = await create_pg_database()
        try:
            yield _pg_url(name)
        finally:
            await drop_pg_database(name)
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty' / 'racedesk.sqlite3'}"


@pytest.fixture
async def own_pg_db_url(db_backend: str) -> AsyncIterator[str]:
    """URL of a migrated PostgreSQL database no other test uses (advisory locks and the
    sessions a test ends are per database), dropped after the test with whatever sessions
    are left on it. Mark the test ``@pytest.mark.postgres``."""
    if db_backend != "postgres":
        raise pytest.UsageError("own_pg_db_url needs RACEDESK_TEST_DB=postgres: mark the test")
    name = await create_pg_database()
    try:
        url = _pg_url(name)
        await upgrade_to_head(url)
        yield url
    finally:
        await drop_pg_database(name)


@pytest.fixture
def secret_box() -> SecretBox:
    """A SecretBox with a fresh random key."""
    return SecretBox(SecretBox.generate_key())
