"""``python bot.py db backup FILE`` and ``db restore FILE``, as docs/admins.md tells an admin to
run them: a migrated database holding rows goes to one file and comes back into a new
database, which RaceDesk's migration check then accepts as it is."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.pool import NullPool
from sqlmodel import select

from db.engine import create_engine, create_sessionmaker
from db.migrate import get_current_revision, get_schema_diff, head_revision, upgrade_to_head
from db.models import RacetimeBot, Tournament, User
from db.secrets import SecretBox
from tests.deploy.racedesk_process import SECRET_KEY, Finished, assert_one_line, run, write_config
from tests.plugins.database import _pg_url, create_pg_database, drop_pg_database

DISCORD_ID = 987_654_321_098_765_432  # a snowflake: 64 bits
BOT_SECRET = "alttpr-bot-secret"


async def fill(url: str) -> None:
    """A migrated database with a user, their tournament and an encrypted bot secret."""
    await upgrade_to_head(url)
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with create_sessionmaker(engine).begin() as session:
            user = User(discord_id=DISCORD_ID, racetime_name="Ada")
            session.add(user)
            await session.flush()
            session.add(Tournament(
                guild_id=1, name="Spring Cup", racetime_category="alttpr",
                settings={"goal": "Beat the game", "open_minutes_before": 30},
                created_by=user.id,
            ))
            session.add(RacetimeBot(
                category="alttpr", display_name="ALttPR", client_id="alttpr-id",
                client_secret_encrypted=SecretBox(SECRET_KEY).encrypt(BOT_SECRET),
            ))
    finally:
        await engine.dispose()


async def contents(url: str) -> dict[str, Any]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with create_sessionmaker(engine)() as session:
            users = (await session.execute(select(User))).scalars().all()
            tournaments = (await session.execute(select(Tournament))).scalars().all()
            bots = (await session.execute(select(RacetimeBot))).scalars().all()
    finally:
        await engine.dispose()
    return {
        "users": [(u.discord_id, u.racetime_name) for u in users],
        "tournaments": [(t.name, t.settings, t.created_by == users[0].id) for t in tournaments],
        "bot secrets": [SecretBox(SECRET_KEY).decrypt(b.client_secret_encrypted) for b in bots],
    }


EXPECTED = {
    "users": [(DISCORD_ID, "Ada")],
    "tournaments": [("Spring Cup", {"goal": "Beat the game", "open_minutes_before": 30}, True)],
    "bot secrets": [BOT_SECRET],
}


async def db_command(home: Path, url: str, *words: str) -> Finished:
    config = write_config(home, url)
    return await run("--config", str(config), "db", *words, home=home)


async def assert_accepted_as_restored(
    home: Path, url: str, expected: dict[str, Any] = EXPECTED
) -> None:
    """The rows are back, and RaceDesk's migration check finds nothing to do or to fix."""
    assert await contents(url) == expected
    assert await get_current_revision(url) == head_revision()
    assert await get_schema_diff(url) == []
    upgraded = await db_command(home, url, "upgrade")
    assert upgraded.returncode == 0 and upgraded.stderr == "", upgraded
    assert await contents(url) == expected


def write_ahead_log(database: Path) -> int:
    """The size of a SQLite database's write-ahead log (0 when it has none)."""
    wal = Path(f"{database}-wal")
    return wal.stat().st_size if wal.exists() else 0


async def test_sqlite_round_trip_while_racedesk_writes(tmp_path: Path) -> None:
    live = tmp_path / "live" / "racedesk.sqlite3"
    live_url = f"sqlite+aiosqlite:///{live}"
    await fill(live_url)
    # RaceDesk is running: its last commit is still in the write-ahead log, which a copy of
    # the database file alone would leave behind.
    writer = sqlite3.connect(live)
    try:
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute("UPDATE users SET racetime_name = 'Ada Lovelace'")
        writer.commit()
        assert write_ahead_log(live) > 0
        backup = tmp_path / "racedesk-2026-12-05.sqlite3"
        saved = await db_command(tmp_path / "live", live_url, "backup", str(backup))
    finally:
        writer.close()
    assert saved.returncode == 0, saved
    assert f"schema revision {head_revision()}) to {backup}" in saved.stdout
    assert write_ahead_log(backup) == 0, "a backup is one file"

    fresh_url = f"sqlite+aiosqlite:///{tmp_path / 'restored' / 'racedesk.sqlite3'}"
    (tmp_path / "restored").mkdir()
    restored = await db_command(tmp_path / "restored", fresh_url, "restore", str(backup))
    assert restored.returncode == 0, restored
    assert "it is at the newest schema" in restored.stdout
    await assert_accepted_as_restored(
        tmp_path / "restored", fresh_url, {**EXPECTED, "users": [(DISCORD_ID, "Ada Lovelace")]}
    )


async def test_sqlite_backup_and_restore_never_overwrite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'racedesk.sqlite3'}"
    await fill(url)
    backup = tmp_path / "racedesk.backup"
    assert (await db_command(tmp_path, url, "backup", str(backup))).returncode == 0
    before = backup.read_bytes()
    assert_one_line(
        await db_command(tmp_path, url, "backup", str(backup)),
        f"{backup} exists already", "new file name",
    )
    assert backup.read_bytes() == before
    assert_one_line(
        await db_command(tmp_path, url, "restore", str(backup)),
        "restore only into a new database", "Stop RaceDesk", "aside",
    )
    assert await contents(url) == EXPECTED


async def test_a_backup_of_the_other_kind_of_database_is_refused(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'racedesk.sqlite3'}"
    await fill(url)
    backup = tmp_path / "racedesk.backup"
    assert (await db_command(tmp_path, url, "backup", str(backup))).returncode == 0
    assert_one_line(
        await db_command(tmp_path, "postgresql+asyncpg://racedesk@localhost/racedesk",
                         "restore", str(backup)),
        f"{backup} is a SQLite backup, but [database] url is a PostgreSQL database",
    )


@pytest.fixture
async def two_new_pg_databases() -> AsyncIterator[tuple[str, str]]:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump and pg_restore (Debian: postgresql-client) are not installed")
    names = [await create_pg_database(), await create_pg_database()]
    try:
        yield _pg_url(names[0]), _pg_url(names[1])
    finally:
        for name in names:
            await drop_pg_database(name)


@pytest.mark.postgres
async def test_postgresql_round_trip(tmp_path: Path, two_new_pg_databases: tuple[str, str]) -> None:
    live_url, fresh_url = two_new_pg_databases
    await fill(live_url)
    backup = tmp_path / "racedesk-2026-12-05.dump"
    saved = await db_command(tmp_path, live_url, "backup", str(backup))
    assert saved.returncode == 0, saved
    assert backup.read_bytes().startswith(b"PGDMP")

    restored = await db_command(tmp_path, fresh_url, "restore", str(backup))
    assert restored.returncode == 0, restored
    assert "it is at the newest schema" in restored.stdout
    await assert_accepted_as_restored(tmp_path, fresh_url)

    assert_one_line(
        await db_command(tmp_path, fresh_url, "restore", str(backup)),
        "already has tables", "restore only into a new, empty database",
    )
