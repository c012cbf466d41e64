"""``python -m bench.crash_engine``: the engine and one durable listener, for ``bench.crash``.

The engine is built exactly as the application builds it (``bot.build_services``) on a
SQLite file and runs under a :class:`~core.lifecycle.Lifecycle`, so SIGTERM runs the real
orderly shutdown. A listener on every room event sleeps ``--listener-delay`` seconds, then
records the event through ``exactly_once`` in ``bench_crash_records``; before sleeping it
notes the delivery attempt in ``bench_crash_attempts`` (not exactly once), so redeliveries
of an ``event_id`` can be counted. Both tables live on the bench's own ``MetaData`` in the
same file; the application's models are untouched.

``--die-at-commit N`` SIGKILLs the process from inside its N-th database commit: ``before``
the database commits it (SQLAlchemy's ``commit`` connection event) or just ``after`` it,
before the application sees it return (the session's ``after_commit``).
``--die-after-record N`` SIGKILLs it as soon as the listener has recorded its N-th event,
before the dispatcher acknowledges it.

Markers on stdout, one line each: ``READY <t> <code>`` (services started; ``<code>``
hashes the engine's source, so a run that straddles an edit can tell), ``JOINED <slug> <t>``
(the first frame of a room arrived in this process; its baseline or first diff is queued for
commit), ``DYING <t> <where>`` (killing itself) and ``STOPPED`` (orderly shutdown done).
``<t>`` is ``time.monotonic()``, comparable across processes.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from bot import build_services
from core.config import RacetimeSettings
from core.container import Services
from core.event_store.exactly_once import exactly_once
from core.events import (
    RacetimeBotJoinedRaceEvent,
    RacetimeEntrantJoinedEvent,
    RacetimeEntrantLeftEvent,
    RacetimeEntrantStatusChangedEvent,
    RacetimeRaceStatusChangedEvent,
    RacetimeRoomEvent,
)
from core.lifecycle import Lifecycle
from db.engine import create_engine
from db.migrate import upgrade_to_head
from db.secrets import SecretBox
from racetime.category_bot import BotTimings
from racetime.manager import RacetimeManager

log = logging.getLogger("bench.crash_engine")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENGINE_SOURCES = (
    "bot.py", "bench/crash_engine.py", "core/**/*.py", "db/**/*.py", "racetime/**/*.py",
)
LISTENER_NAME = "bench.crash"
ABSENT = "absent"
RACE_ENTITY = "race"

BENCH_METADATA = MetaData()
RECORDS = Table(
    "bench_crash_records",
    BENCH_METADATA,
    # ``id`` follows commit order; a room's events are delivered one at a time, in order.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(255), nullable=False),
    Column("kind", String(100), nullable=False),
    Column("room_slug", String(200), nullable=False),
    Column("entity", String(100), nullable=False),
    Column("old_value", String(50)),
    Column("new_value", String(50), nullable=False),
    Column("racetime_version", Integer),
    Column("pid", Integer, nullable=False),
    Column("recorded_at", Float, nullable=False),
)
ATTEMPTS = Table(
    "bench_crash_attempts",
    BENCH_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(255), nullable=False),
    Column("kind", String(100), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("at", Float, nullable=False),
)


def marker(text: str) -> None:
    print(text, flush=True)


def code_fingerprint() -> str:
    """A short hash of the engine's source: a run's result holds for one version of it."""
    digest = hashlib.sha1(usedforsecurity=False)
    for pattern in ENGINE_SOURCES:
        for path in sorted(PROJECT_ROOT.glob(pattern)):
            digest.update(str(path.relative_to(PROJECT_ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# -- the listener ----------------------------------------------------------------------------


def entity_change(event: RacetimeRoomEvent) -> tuple[str, str | None, str]:
    """(entity, old value, new value) of a room event; the entity is ``race`` or a user id.

    An entrant that is not in the room is ``absent``; our bot joining reports the race
    status it found. Other kinds (invites, rooms we opened) become ``other`` rows.
    """
    if isinstance(event, RacetimeBotJoinedRaceEvent):
        return RACE_ENTITY, None, event.race_status
    if isinstance(event, RacetimeRaceStatusChangedEvent):
        return RACE_ENTITY, event.old_status, event.new_status
    if isinstance(event, RacetimeEntrantJoinedEvent):
        return event.racetime_user_id, ABSENT, event.initial_status
    if isinstance(event, RacetimeEntrantLeftEvent):
        return event.racetime_user_id, event.last_status, ABSENT
    if isinstance(event, RacetimeEntrantStatusChangedEvent):
        return event.racetime_user_id, event.old_status, event.new_status
    return "other", None, event.kind


async def record_event(session: AsyncSession, event: RacetimeRoomEvent) -> None:
    entity, old, new = entity_change(event)
    await session.execute(
        RECORDS.insert().values(
            event_id=event.event_id,
            kind=event.kind,
            room_slug=event.room_slug,
            entity=entity,
            old_value=old,
            new_value=new,
            racetime_version=event.racetime_version,
            pid=os.getpid(),
            recorded_at=time.monotonic(),
        )
    )


def durable_listener(
    sessionmaker: async_sessionmaker[AsyncSession], delay: float, die_after: int = 0
) -> Callable[[RacetimeRoomEvent], Awaitable[None]]:
    """Note the attempt, take ``delay`` seconds, then record the event exactly once.

    With ``die_after`` the process SIGKILLs itself once it has handled that many events: the
    last one is committed by the listener but not yet acknowledged, so it comes again.
    """
    record = exactly_once(sessionmaker, LISTENER_NAME, record_event)
    handled = 0

    async def listener(event: RacetimeRoomEvent) -> None:
        nonlocal handled
        async with sessionmaker.begin() as session:
            await session.execute(
                ATTEMPTS.insert().values(
                    event_id=event.event_id, kind=event.kind, pid=os.getpid(),
                    at=time.monotonic(),
                )
            )
        if delay > 0:
            await asyncio.sleep(delay)
        await record(event)
        handled += 1
        if handled == die_after:
            die(f"record {handled}")

    listener.__qualname__ = listener.__name__ = "bench_crash_listener"
    return listener


# -- fault injection -------------------------------------------------------------------------


def die(where: str) -> None:
    """SIGKILL this process at once, saying where and when (``DYING <t> <where>``)."""
    marker(f"DYING {time.monotonic():.6f} {where}")
    os.kill(os.getpid(), signal.SIGKILL)


def die_at_commit(engine: AsyncEngine, n: int, phase: str) -> None:
    """SIGKILL this process inside its ``n``-th commit, ``before`` or ``after`` the database's."""
    count = 0

    def on_commit(*_: Any) -> None:
        nonlocal count
        count += 1
        if count >= n:
            die(f"commit {count}")

    if phase == "before":
        event.listen(engine.sync_engine, "commit", on_commit)
    else:
        event.listen(Session, "after_commit", on_commit)


# -- running ---------------------------------------------------------------------------------


def secret_box(key_file: Path) -> SecretBox:
    """The bench's key, made on the first run: every run must decrypt the bot's secret."""
    if not key_file.exists():
        key_file.write_text(SecretBox.generate_key())
    return SecretBox(key_file.read_text().strip())


async def ensure_bot(services: Services, args: argparse.Namespace) -> None:
    if await services.racetime_bots.get(args.category) is not None:
        return
    async with services.sessionmaker.begin() as session:
        await services.racetime_bots.add_bot(
            session,
            category=args.category,
            client_id=args.client_id,
            client_secret=args.client_secret,
            display_name="Crash bench",
        )


async def report_joins(manager: RacetimeManager) -> None:
    """Print ``JOINED`` once per room, as soon as its first frame arrived in this process."""
    seen: set[str] = set()
    while True:
        for bot in list(manager.bots.values()):
            for slug, room in list(bot.rooms.items()):
                if slug not in seen and room.is_connected:
                    seen.add(slug)
                    marker(f"JOINED {slug} {time.monotonic():.6f}")
        await asyncio.sleep(0.002)


async def prepare(url: str) -> None:
    """Migrate the database, then add the bench's tables (on a short-lived engine)."""
    await upgrade_to_head(url)
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(BENCH_METADATA.create_all)
    finally:
        await engine.dispose()


async def run(args: argparse.Namespace) -> int:
    db_path = Path(args.db)
    url = f"sqlite+aiosqlite:///{db_path}"
    await prepare(url)
    services = build_services(
        database_url=url,
        secret_box=secret_box(db_path.with_suffix(".key")),
        racetime=RacetimeSettings(host=args.host, scheme="http", request_timeout_seconds=5),
        bot_timings=BotTimings(scan_interval=args.scan_interval),
    )
    await ensure_bot(services, args)
    listener = durable_listener(
        services.sessionmaker, args.listener_delay, args.die_after_record
    )
    services.dispatcher.subscribe(RacetimeRoomEvent, listener)
    if args.die_at_commit:
        die_at_commit(services.engine, args.die_at_commit, args.die_phase)
    async with Lifecycle() as lifecycle:
        lifecycle.handle_signals()
        await services.start(lifecycle)
        marker(f"READY {time.monotonic():.6f} {code_fingerprint()}")
        joins = asyncio.create_task(report_joins(services.racetime_engine), name="bench-joins")
        try:
            await lifecycle.wait_for_stop()
        finally:
            joins.cancel()
    marker("STOPPED")
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.crash_engine")
    parser.add_argument("--db", required=True, help="SQLite file (created and migrated)")
    parser.add_argument("--host", required=True, help="the fake racetime server, host:port")
    parser.add_argument("--category", default="bench")
    parser.add_argument("--client-id", default="crash-client")
    parser.add_argument("--client-secret", default="crash-secret")
    parser.add_argument("--listener-delay", type=float, default=0.0)
    parser.add_argument("--scan-interval", type=float, default=5.0)
    parser.add_argument("--die-at-commit", type=int, default=0, metavar="N")
    parser.add_argument("--die-phase", choices=("before", "after"), default="before")
    parser.add_argument("--die-after-record", type=int, default=0, metavar="N")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr,
        format="%(asctime)s %(process)d %(levelname)s %(name)s %(message)s",
    )
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
