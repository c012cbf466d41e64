"""Back up RaceDesk's database to one file, and restore such a file into a new database.

SQLite: sqlite3's online backup API (a consistent copy while RaceDesk runs; a plain copy of a
live database file can be torn), saved as a single file without a write-ahead log.
PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore`` (PostgreSQL's client programs, of
the server's major version or newer), the password passed in the environment, never on a
command line. A backup never overwrites a file; a restore goes only into a new, empty
database, and refuses a backup taken by a newer RaceDesk (a schema this one does not know).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from db.engine import create_engine, parse_database_url
from db.migrate import get_current_revision, head_revision, is_known_revision

SQLITE_HEADER = b"SQLite format 3\x00"
PG_DUMP_HEADER = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that cannot be done; ``str()`` is one line saying what to do."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a backup or restore handled: the file and the schema revision it holds."""

    file: Path
    revision: str

    @property
    def at_head(self) -> bool:
        return self.revision == head_revision()


async def backup(url: str, destination: Path) -> Outcome:
    """Write the database at ``url`` to ``destination``, a file that must not exist yet."""
    parsed = parse_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        revision = await asyncio.to_thread(
            _write_once, destination, lambda partial: _sqlite_backup(_sqlite_path(parsed), partial)
        )
    else:
        revision = await _revision_of(url)

        def dump(partial: Path) -> str:
            _run_pg("pg_dump", ["--format=custom", f"--file={partial}"], parsed)
            return revision

        await asyncio.to_thread(_write_once, destination, dump)
    return Outcome(destination, revision)


async def restore(url: str, source: Path) -> Outcome:
    """Restore ``source`` (a file :func:`backup` wrote) into the new database at ``url``."""
    parsed = parse_database_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    revision = await asyncio.to_thread(_revision_of_backup, source, parsed, sqlite=sqlite)
    if sqlite:
        await asyncio.to_thread(_sqlite_restore, source, _sqlite_path(parsed))
    else:
        await _check_empty(url, parsed)
        await asyncio.to_thread(
            _run_pg,
            "pg_restore",
            ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
             f"--dbname={parsed.database}", str(source)],
            parsed,
        )
    return Outcome(source, revision)


def _write_once(destination: Path, write: Callable[[Path], str]) -> str:
    """``write`` a new file beside ``destination``, then rename it: never a half backup, and
    never over an existing file."""
    if destination.exists():
        raise BackupError(f"{destination} exists already: give the backup a new file name.")
    if not destination.parent.is_dir():
        raise BackupError(f"The folder {destination.parent} does not exist: create it first.")
    partial = destination.with_name(destination.name + ".partial")
    try:
        revision = write(partial)
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)
    return revision


def _revision_of_backup(source: Path, parsed: URL, *, sqlite: bool) -> str:
    """The schema revision ``source`` holds, once it is known to fit the database at all."""
    _check_kind(source, sqlite=sqlite)
    revision = _sqlite_revision_of_file(source) if sqlite else _pg_dump_revision(source, parsed)
    if not is_known_revision(revision):
        raise BackupError(
            f"{source} was taken by a newer RaceDesk (schema revision {revision}, unknown to "
            "this version): restore it with that version."
        )
    return revision


# -- SQLite -----------------------------------------------------------------------------------


def _sqlite_path(parsed: URL) -> Path:
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError("[database] url names no SQLite file to back up or restore.")
    return Path(os.path.abspath(Path(database).expanduser()))


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)


def _sqlite_revision(connection: sqlite3.Connection, path: Path) -> str:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        row = None
    if row is None:
        raise BackupError(f"{path} is not a RaceDesk database (it has no schema revision).")
    return str(row[0])


def _copy(source: sqlite3.Connection, target_path: Path) -> None:
    """``source`` into a new file at ``target_path``: one file, checked, no write-ahead log."""
    with closing(sqlite3.connect(target_path)) as target:
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")
        (result,) = target.execute("PRAGMA integrity_check").fetchone()
        if result != "ok":
            raise BackupError(f"The copy failed SQLite's integrity check ({result}).")


def _sqlite_backup(database: Path, partial: Path) -> str:
    if not database.is_file():
        raise BackupError(
            f"There is no SQLite database at {database}: check [database] url (a relative "
            "path is relative to the folder RaceDesk runs in)."
        )
    with closing(_read_only(database)) as source:
        revision = _sqlite_revision(source, database)
        _copy(source, partial)
    return revision


def _sqlite_revision_of_file(source: Path) -> str:
    with closing(_read_only(source)) as connection:
        return _sqlite_revision(connection, source)


def _sqlite_restore(source: Path, database: Path) -> None:
    leftovers = [
        path for path in (database, Path(f"{database}-wal"))
        if path.exists() and path.stat().st_size > 0
    ]
    if leftovers:
        raise BackupError(
            f"{leftovers[0]} exists: restore only into a new database. Stop RaceDesk, move "
            f"{database} and its -wal and -shm files aside (keep them until the restore is "
            "checked), then run the restore again."
        )
    database.parent.mkdir(parents=True, exist_ok=True)
    partial = database.with_name(database.name + ".restoring")
    try:
        with closing(_read_only(source)) as connection:
            _copy(connection, partial)
        Path(f"{database}-shm").unlink(missing_ok=True)
        partial.replace(database)
    finally:
        partial.unlink(missing_ok=True)


# -- PostgreSQL -------------------------------------------------------------------------------


async def _revision_of(url: str) -> str:
    revision = await get_current_revision(url)
    if revision is None:
        raise BackupError("The database in [database] url is not a RaceDesk database yet.")
    return revision


async def _check_empty(url: str, parsed: URL) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
    finally:
        await engine.dispose()
    if tables:
        raise BackupError(
            f'The database "{parsed.database}" already has tables: restore only into a new, '
            "empty database (createdb it, owned by RaceDesk's user, and point [database] url "
            "at it)."
        )


def _pg_environment(parsed: URL) -> dict[str, str]:
    """libpq's variables for ``parsed``; the password stays off the command line."""
    env = dict(os.environ)
    query = {key: value if isinstance(value, str) else value[-1]
             for key, value in parsed.query.items()}
    for variable, value in (
        ("PGHOST", parsed.host or query.get("host")),
        ("PGPORT", parsed.port),
        ("PGUSER", parsed.username),
        ("PGPASSWORD", parsed.password),
        ("PGDATABASE", parsed.database),
        ("PGSSLMODE", query.get("sslmode") or query.get("ssl")),
    ):
        if value:
            env[variable] = str(value)
    return env


def _run_pg(program: str, arguments: list[str], parsed: URL) -> str:
    executable = shutil.which(program)
    if executable is None:
        raise BackupError(
            f"{program} is not installed: install PostgreSQL's client programs (Debian: "
            "apt install postgresql-client), of the server's major version or newer."
        )
    done = subprocess.run(  # noqa: S603 - a fixed program; arguments are ours, not a shell's
        [executable, *arguments],
        env=_pg_environment(parsed),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        reason = next(
            (line for line in done.stderr.splitlines() if line.strip()), f"exit {done.returncode}"
        )
        raise BackupError(f"{program} failed: {reason}")
    return done.stdout


def _pg_dump_revision(source: Path, parsed: URL) -> str:
    """The schema revision a ``pg_dump`` file holds, read without restoring it."""
    script = _run_pg(
        "pg_restore",
        ["--data-only", "--table=alembic_version", "--file=-", str(source)],
        parsed,
    )
    lines = script.splitlines()
    for number, line in enumerate(lines[:-1]):
        if line.startswith("COPY ") and "alembic_version" in line:
            return lines[number + 1].strip()
    raise BackupError(f"{source} is not a RaceDesk database (it has no schema revision).")


def _check_kind(source: Path, *, sqlite: bool) -> None:
    if not source.is_file():
        raise BackupError(f"There is no backup file at {source}.")
    with source.open("rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if sqlite and header.startswith(PG_DUMP_HEADER):
        raise BackupError(
            f"{source} is a PostgreSQL backup, but [database] url is a SQLite database: "
            "restore it into PostgreSQL."
        )
    if not sqlite and header == SQLITE_HEADER:
        raise BackupError(
            f"{source} is a SQLite backup, but [database] url is a PostgreSQL database: "
            "restore it into SQLite."
        )
    if header != SQLITE_HEADER and not header.startswith(PG_DUMP_HEADER):
        raise BackupError(f"{source} is not a RaceDesk backup (python bot.py db backup FILE).")
