"""Migrations build the schema from nothing, and stay in sync with the models."""

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

import db.models
from db.engine import create_engine
from db.migrate import (
    current_revision,
    downgrade,
    get_current_revision,
    get_schema_diff,
    head_revision,
    schema_diff,
    upgrade,
    upgrade_to_head,
)


async def test_upgrade_from_empty_reaches_head(empty_db_url: str) -> None:
    assert await get_current_revision(empty_db_url) is None
    await upgrade_to_head(empty_db_url)
    assert head_revision() is not None
    assert await get_current_revision(empty_db_url) == head_revision()
    # Idempotent: a second upgrade is a no-op.
    await upgrade_to_head(empty_db_url)
    assert await get_schema_diff(empty_db_url) == []


async def test_downgrade_to_base_removes_everything(empty_db_url: str) -> None:
    await upgrade_to_head(empty_db_url)
    await downgrade(empty_db_url, "base")
    assert await get_current_revision(empty_db_url) is None
    diff = await get_schema_diff(empty_db_url)
    assert {item[1].name for item in diff if item[0] == "add_table"} == set(
        db.models.metadata.tables
    )


async def test_empty_database_differs_from_models(empty_db_url: str) -> None:
    """The diff check must be able to fail: on an empty database it lists every table."""
    engine = create_engine(empty_db_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(schema_diff)
    finally:
        await engine.dispose()
    added = {item[1].name for item in diff if item[0] == "add_table"}
    assert added == set(db.models.metadata.tables)


async def test_migrated_schema_matches_models(db_engine: AsyncEngine) -> None:
    """Autogenerate finds nothing to do: migrations and models agree on this backend."""
    async with db_engine.connect() as connection:
        assert await connection.run_sync(current_revision) == head_revision()
        diff = await connection.run_sync(schema_diff)
    assert diff == []


async def test_schema_diff_notices_a_drift(db_engine: AsyncEngine) -> None:
    async with db_engine.begin() as connection:
        await connection.execute(text("DROP INDEX ix_audit_log_action"))
        diff = await connection.run_sync(schema_diff)
        await connection.rollback()
    assert [item[0] for item in diff] == ["add_index"]


@pytest.mark.postgres
async def test_datetime_columns_are_timestamptz_on_postgres(db_engine: AsyncEngine) -> None:
    async with db_engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public' AND data_type LIKE 'timestamp%'"
            )
        )
        types = {(table, column): data_type for table, column, data_type in rows}
    assert types, "expected timestamp columns"
    assert set(types.values()) == {"timestamp with time zone"}
    assert types[("matches", "scheduled_at")] == "timestamp with time zone"


async def test_name_keys_are_filled_in_and_names_alike_but_for_case_kept_apart(
    empty_db_url: str,
) -> None:
    """0012 fills ``name_key`` for the rows already there; two names that differ only in
    case (SQLite accepted "Ärger Cup" beside "ÄRGER CUP") both stay reachable."""
    await upgrade(empty_db_url, "0011")
    engine = create_engine(empty_db_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            for row_id, name in ((1, "Ärger Cup"), (2, "ÄRGER CUP"), (3, "Straße")):
                await connection.execute(text(
                    "INSERT INTO tournaments (id, guild_id, name, racetime_category, is_async,"
                    " is_active, settings, created_at, updated_at) VALUES (:id, 7, :name,"
                    " 'alttpr', false, true, '{}', '2026-01-01', '2026-01-01')"
                ), {"id": row_id, "name": name})
        await upgrade_to_head(empty_db_url)
        async with engine.connect() as connection:
            rows = (await connection.execute(
                text("SELECT id, name, name_key FROM tournaments ORDER BY id")
            )).all()
    finally:
        await engine.dispose()
    assert [tuple(row) for row in rows] == [
        (1, "Ärger Cup", "ärger cup"),
        (2, "ÄRGER CUP (2)", "ärger cup (2)"),
        (3, "Straße", "strasse"),
    ]
    assert await get_schema_diff(empty_db_url) == []


async def test_the_leader_lease_starts_with_its_one_row_at_epoch_0(empty_db_url: str) -> None:
    await upgrade_to_head(empty_db_url)
    engine = create_engine(empty_db_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(
                text("SELECT id, epoch, holder FROM leadership_lease")
            )).all()
    finally:
        await engine.dispose()
    assert [tuple(row) for row in rows] == [(1, 0, None)]


@pytest.mark.postgres
async def test_two_processes_migrating_at_once_take_turns(empty_db_url: str) -> None:
    """A leader and a standby started together (issue 27): the second waits for the first's
    migration and finds nothing left to do."""
    await asyncio.gather(upgrade_to_head(empty_db_url), upgrade_to_head(empty_db_url))
    assert await get_current_revision(empty_db_url) == head_revision()
    assert await get_schema_diff(empty_db_url) == []
