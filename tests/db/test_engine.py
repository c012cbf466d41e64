"""Engine factory: URL checks, SQLite folder creation and pragmas."""

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from db.engine import UnsupportedDatabaseURLError, create_engine


@pytest.mark.parametrize(
    "url",
    [
        "mysql+aiomysql://user:pw@localhost/db",
        "postgresql://user:pw@localhost/db",
        "sqlite:///plain-driver.sqlite3",
        "not a url",
    ],
)
def test_unsupported_url_names_the_setting(url: str) -> None:
    with pytest.raises(UnsupportedDatabaseURLError, match=r"database\.url") as excinfo:
        create_engine(url)
    assert ":pw@" not in str(excinfo.value)


async def test_sqlite_creates_parent_folder_and_enables_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "deeper" / "racedesk.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}", poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            foreign_keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar()
            journal_mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar()
    finally:
        await engine.dispose()
    assert path.parent.is_dir()
    assert foreign_keys == 1
    assert journal_mode == "wal"


async def test_engine_fixture_connects(db_engine: AsyncEngine, db_backend: str) -> None:
    async with db_engine.connect() as connection:
        assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    assert db_engine.dialect.name == {"sqlite": "sqlite", "postgres": "postgresql"}[db_backend]
