"""Run and inspect Alembic migrations, configured in code (no alembic.ini).

The script location comes from this package's path, so everything works from any working
directory. From async code::

    await upgrade_to_head(url)
    async with engine.connect() as conn:
        revision = await conn.run_sync(current_revision)

For developers: ``python -m db.migrate upgrade|current|check|revision -m "message"``, with the
URL from ``--url`` or ``RACEDESK_DATABASE_URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.pool import NullPool
from sqlmodel.sql.sqltypes import AutoString

import db.models
from db.engine import check_sqlite_file, create_engine, parse_database_url
from db.types import UTCDateTime

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render our column types as plain SQLAlchemy types in generated migrations.

    A migration must not import application code: it would change meaning whenever that
    code changes. ``UTCDateTime`` only adds Python-side conversion, so its DDL is exactly
    ``DateTime(timezone=True)``; SQLModel's ``AutoString`` is a ``String``.
    """
    if type_ == "type":
        if isinstance(obj, UTCDateTime):
            return "sa.DateTime(timezone=True)"
        if isinstance(obj, AutoString):
            return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def context_options() -> dict[str, Any]:
    """Options shared by the migration environment and :func:`schema_diff`."""
    return {
        "compare_type": True,
        "render_item": render_item,
        # Batch mode lets later migrations ALTER tables on SQLite; a no-op elsewhere.
        "render_as_batch": True,
    }


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic :class:`Config` pointing at ``db/migrations``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if url is not None:
        # Kept out of the ini options: ConfigParser would interpolate a '%' in a password.
        config.attributes["url"] = parse_database_url(url)
    return config


def head_revision() -> str | None:
    """The newest revision in ``db/migrations/versions``."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def is_known_revision(revision: str) -> bool:
    """Whether ``revision`` is one of this version's migrations (a newer RaceDesk's is not)."""
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (``None`` if never migrated).

    Synchronous; call it from async code with ``await conn.run_sync(current_revision)``.
    """
    return MigrationContext.configure(connection).get_current_revision()


def schema_diff(connection: Connection) -> list[Any]:
    """Differences between the database and the models; empty when they agree.

    Synchronous, for ``await conn.run_sync(schema_diff)``.
    """
    context = MigrationContext.configure(connection, opts=context_options())
    differences: list[Any] = compare_metadata(context, db.models.metadata)
    return differences


def _run(connection: Connection, config: Config, direction: str, revision: str) -> None:
    config.attributes["connection"] = connection
    getattr(command, direction)(config, revision)


async def upgrade_to_head(url: str | URL) -> None:
    """Migrate the database at ``url`` to the newest revision, in one transaction."""
    await upgrade(url, "head")


async def upgrade(url: str | URL, revision: str) -> None:
    """Migrate the database at ``url`` up to ``revision``."""
    await _migrate(url, "upgrade", revision)


async def downgrade(url: str | URL, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"``: drop everything)."""
    await _migrate(url, "downgrade", revision)


# Several processes that start at once on one PostgreSQL database (a leader and a standby,
# issue 27) migrate one after the other: the second finds the schema up to date.
MIGRATION_LOCK_KEY = 0x5241_4345_4445_534B  # "RACEDESK"


async def _migrate(url: str | URL, direction: str, revision: str) -> None:
    config = alembic_config(url)
    check_sqlite_file(url)
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            await connection.run_sync(_run, config, direction, revision)
    finally:
        await engine.dispose()


async def get_current_revision(url: str | URL) -> str | None:
    """The revision of the database at ``url``."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(current_revision)
    finally:
        await engine.dispose()


async def get_schema_diff(url: str | URL) -> list[Any]:
    """:func:`schema_diff` for the database at ``url``."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(schema_diff)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Developer entry point: ``python -m db.migrate <command>``."""
    parser = argparse.ArgumentParser(prog="python -m db.migrate")
    parser.add_argument("--url", default=os.environ.get("RACEDESK_DATABASE_URL"))
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("upgrade", help="migrate to head")
    sub.add_parser("current", help="print the current revision")
    sub.add_parser("check", help="fail if the models differ from the migrated schema")
    revision = sub.add_parser("revision", help="autogenerate a new migration")
    revision.add_argument("-m", "--message", required=True)
    revision.add_argument("--rev-id", default=None)
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("give --url or set RACEDESK_DATABASE_URL")

    if args.command == "upgrade":
        asyncio.run(upgrade_to_head(args.url))
    elif args.command == "current":
        print(asyncio.run(get_current_revision(args.url)))
    elif args.command == "check":
        diff = asyncio.run(get_schema_diff(args.url))
        for item in diff:
            print(item)
        return 1 if diff else 0
    else:
        # Runs env.py without a shared connection: it opens its own via asyncio.run.
        command.revision(
            alembic_config(args.url), message=args.message, autogenerate=True, rev_id=args.rev_id
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
