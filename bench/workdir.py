"""What the multi-process benches share: a fresh database and a work folder for the logs.

``run(options, prefix, bench)`` gives ``bench(options, db_url, work)`` a new SQLite file (or,
with ``options.postgres``, a new PostgreSQL database, dropped afterwards) and a work folder,
kept when the run fails or with ``options.keep``.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

PG_PORT = 5432
PG_ADMIN = {"host": "127.0.0.1", "port": PG_PORT, "user": "postgres", "database": "postgres"}

Bench = Callable[[argparse.Namespace, str, Path], Awaitable[dict[str, Any]]]


@contextlib.asynccontextmanager
async def database(options: argparse.Namespace, work: Path) -> AsyncIterator[str]:
    """A fresh SQLite file in ``work``, or with ``--postgres`` a fresh database (dropped)."""
    if not options.postgres:
        yield f"sqlite+aiosqlite:///{work / 'racedesk.sqlite3'}"
        return
    name = f"racedesk_bench_{uuid.uuid4().hex[:12]}"
    # A bench that runs its own server (bench.pg_cluster) says on which port.
    port: int = getattr(options, "pg_port", None) or PG_PORT
    admin = {**PG_ADMIN, "port": port}
    connection = await asyncpg.connect(**admin)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{name}"
    finally:
        # A new session: the server may have restarted under the bench meanwhile.
        connection = await asyncpg.connect(**admin)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


async def run(options: argparse.Namespace, prefix: str, bench: Bench) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        async with database(options, work) as db_url:
            result = await bench(options, db_url, work)
    except BaseException:
        print(f"logs kept in {work}", file=sys.stderr)
        raise
    if options.keep:
        print(f"logs kept in {work}", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return result
