"""``python -m bench.room_open --matches 200``: rooms opened on time, exactly once.

``--matches`` matches (two players each, linked to racetime users) whose rooms all fall due
within one minute (``--window``), opened by the real match room scheduler against the fake
racetime server over real sockets. Three kinds of processes talk over loopback:

- the fake racetime server (``bench.room_open_server``: the ``alttpr`` category, a bot app,
  the players; a request log with each request's wall-clock arrival);
- ``--processes`` RaceDesk processes (``bench.room_open_worker``: ``bot.build_services`` and
  ``Services.start``, so the event log, the dispatcher, the racetime engine, the room service
  and the scheduler with the system clock are the application's own); with 2 they share one
  PostgreSQL database, and both plan and fire a job for every match;
- this driver, which makes the database (a SQLite file, or with ``--postgres``, forced by
  ``--processes 2``, a fresh PostgreSQL database, dropped at the end), adds the bot, a
  tournament (auto-created rooms, rooms open 30 minutes before) and the players, starts the
  workers and waits for each to say ``READY`` (scheduler started, category bot connected).
  Only then does it add the matches, due from ``--lead`` seconds after the last ``READY``,
  evenly over the window, and tells the workers ``GO``: each scheduler plans them from the
  database (``replan_all``, what ``start()`` does), as a restarted RaceDesk would.

It waits until every match has a room (or ``--timeout``), then compares the fake's log with
the due times: ``lateness`` is when a match's ``startrace`` reached the server (wall clock,
``time.time()``) minus its room's due time (scheduled time minus 30 minutes, from the
database); ``max_rooms_per_match`` counts the rooms on the fake whose info and bot info name
the match. Prints one JSON line; targets: ``p99_s`` at most 1, ``max_rooms_per_match`` 1.
A negative lateness (a room opened early) is counted in ``early`` and is a bug.

``--window 0`` makes every room due in the same second, the worst case (tournaments schedule
at round hours). Then the worker is CPU-bound: each opening's database round trips and the
set-up of the rooms opened before it share one event loop, and on a 2-core machine p99 was
2.6 s (SQLite) and 4.4 s (two processes, PostgreSQL), against 0.02-0.04 s spread over a
minute.
``--profile`` writes a cProfile of each worker next to its log.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from bench import workdir
from bench.room_open_server import CATEGORY, DISCRIMINATOR
from bench.room_open_worker import KEY_ENV
from core.racetime_bots.bots import RacetimeBotService
from core.rooms.rules import is_room_of, room_info, room_opens_at
from db.engine import create_engine, create_sessionmaker
from db.migrate import upgrade_to_head
from db.models import Match, MatchPlayer, MatchRoomClaim, Tournament, User
from db.queries.bot_guilds import assign_bot_to_guild
from db.secrets import SecretBox

PROJECT_ROOT = Path(__file__).resolve().parent.parent
GUILD = 720_000_000_000_000_001
FIRST_DISCORD_ID = 730_000_000_000_000_000
TOURNAMENT = "Bench Open"
OPEN_MINUTES_BEFORE = 30
START_TIMEOUT = 90.0
POLL_SECONDS = 0.2
SETTLE_SECONDS = 3.0  # after the last room: time for a second room to show up, if any
WORKER = "bench.room_open_worker"  # the RaceDesk process's module
# The fake's REPORT is one JSON line: megabytes for a long run (asyncio's default is 64 KiB).
LINE_LIMIT = 256 * 1024 * 1024


# -- pure helpers ------------------------------------------------------------------------------


def due_times(start: float, window: float, count: int) -> list[float]:
    """``count`` due times spread evenly over ``[start, start + window)``."""
    return [start + window * index / count for index in range(count)]


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of ``values``."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))  # ceil, at least the first
    return ordered[int(min(rank, len(ordered))) - 1]


@dataclass(frozen=True, slots=True)
class Room:
    name: str
    info: str  # info_user and info_bot joined as racetime joins them


@dataclass(frozen=True, slots=True)
class Outcome:
    lateness: dict[int, float]  # match id -> seconds from due to its startrace arriving
    rooms: dict[int, int]  # match id -> rooms on racetime that name it
    unmatched_startraces: int  # startrace requests that opened no room of a known match


def outcome(
    due: dict[int, float],
    infos: dict[int, str],
    startraces: Sequence[dict[str, Any]],
    rooms: Sequence[Room],
) -> Outcome:
    """Per match: its lateness (first startrace that opened one of its rooms) and its rooms.

    ``due``: match id -> due time (epoch seconds); ``infos``: match id -> the room info text
    RaceDesk gives it; ``startraces``: the fake's records (``at``, ``location``);
    ``rooms``: every room on the fake.
    """
    room_of: dict[str, int] = {}
    counts: Counter[int] = Counter()
    for room in rooms:
        for match_id, info in infos.items():
            if is_room_of(room.info, info, match_id):
                room_of[room.name] = match_id
                counts[match_id] += 1
                break
    arrivals: dict[int, float] = {}
    unmatched = 0
    for record in startraces:
        location = (record.get("location") or "").lstrip("/")
        opened = room_of.get(location)
        if opened is None:
            unmatched += 1
            continue
        arrivals[opened] = min(arrivals.get(opened, record["at"]), record["at"])
    return Outcome(
        lateness={m: at - due[m] for m, at in arrivals.items() if m in due},
        rooms={m: counts[m] for m in due},
        unmatched_startraces=unmatched,
    )


def summary(result: Outcome, matches: int) -> dict[str, Any]:
    values = list(result.lateness.values())
    rounded = (lambda v: round(v, 4)) if values else (lambda v: None)
    return {
        "matches": matches,
        "p50_s": rounded(percentile(values, 0.50) if values else 0),
        "p99_s": rounded(percentile(values, 0.99) if values else 0),
        "max_s": rounded(max(values) if values else 0),
        "max_rooms_per_match": max(result.rooms.values(), default=0),
        "min_s": rounded(min(values) if values else 0),
        "mean_s": rounded(statistics.fmean(values) if values else 0),
        "early": sum(v < 0 for v in values),
        "without_room": sum(n == 0 for n in result.rooms.values()),
        "unmatched_startraces": result.unmatched_startraces,
    }


# -- the database ------------------------------------------------------------------------------


async def seed_base(db_url: str, key: str, fake: dict[str, Any]) -> list[int]:
    """The category bot, the tournament and the players; returns the players' user ids."""
    bot_id, user_ids = await seed_bot_and_players(db_url, key, fake)
    await seed_tournament(db_url, bot_id, GUILD)
    return user_ids


async def seed_bot_and_players(
    db_url: str, key: str, fake: dict[str, Any]
) -> tuple[int, list[int]]:
    """The category bot and the players; returns the bot's id and the players' user ids."""
    engine = create_engine(db_url)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker.begin() as session:
            bot = await RacetimeBotService(sessionmaker, SecretBox(key)).add_bot(
                session, category=CATEGORY, client_id=fake["client_id"],
                client_secret=fake["client_secret"], display_name="Bench",
            )
            assert bot.id is not None
            users = [
                User(discord_id=FIRST_DISCORD_ID + index, racetime_id=racetime_id,
                     racetime_name=f"Player{index}#{DISCRIMINATOR}")
                for index, racetime_id in enumerate(fake["users"])
            ]
            session.add_all(users)
            await session.flush()
            return bot.id, [u.id for u in users if u.id is not None]
    finally:
        await engine.dispose()


async def seed_tournament(db_url: str, bot_id: int, guild: int) -> None:
    """The tournament (rooms auto-created, opened 30 minutes before) in ``guild``, served by
    the category bot."""
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            # Rooms open only with a bot that serves the match's server (/racetime bot assign).
            await assign_bot_to_guild(session, bot_id, guild)
            session.add(Tournament(
                guild_id=guild, name=TOURNAMENT, racetime_category=CATEGORY,
                racetime_goal="Any% NMG",
                settings={"auto_create_rooms": True,
                          "room_open_minutes_before": OPEN_MINUTES_BEFORE},
            ))
    finally:
        await engine.dispose()


async def seed_matches(
    db_url: str, user_ids: list[int], due: list[float]
) -> tuple[dict[int, float], dict[int, str]]:
    """One match per due time, two players each; returns (due time, room info) per match id,
    read back from the database as the scheduler sees them."""
    engine = create_engine(db_url)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker.begin() as session:
            tournament = (await session.execute(select(Tournament))).scalar_one()
            assert tournament.id is not None
            offset = timedelta(minutes=OPEN_MINUTES_BEFORE)
            matches = [
                Match(
                    tournament_id=tournament.id, title=f"Player{2 * i} vs Player{2 * i + 1}",
                    scheduled_at=datetime.fromtimestamp(at, UTC) + offset,
                )
                for i, at in enumerate(due)
            ]
            session.add_all(matches)
            await session.flush()
            session.add_all(
                # (ignored below: flushed: the match has its id)
                MatchPlayer(match_id=match.id, user_id=user_ids[2 * i + side])  # type: ignore[arg-type]
                for i, match in enumerate(matches)
                for side in (0, 1)
            )
        async with sessionmaker() as session:
            tournament = (await session.execute(select(Tournament))).scalar_one()
            rows = (await session.execute(select(Match))).scalars().all()
            times: dict[int, float] = {}
            infos: dict[int, str] = {}
            for match in rows:
                opens = room_opens_at(match, tournament)
                assert match.id is not None and opens is not None
                times[match.id] = opens.timestamp()
                infos[match.id] = room_info(match, tournament)
            return times, infos
    finally:
        await engine.dispose()


async def claims(db_url: str) -> dict[str, int]:
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = await session.execute(
                select(col(MatchRoomClaim.state), func.count()).group_by(col(MatchRoomClaim.state))
            )
            return {state: n for state, n in rows.all()}
    finally:
        await engine.dispose()


async def until_all_have_rooms(db_url: str, matches: int, deadline: float) -> bool:
    """Until every match's claim is settled (opened or failed) or ``deadline`` (monotonic)."""
    while time.monotonic() < deadline:
        states = await claims(db_url)
        if states.get("opened", 0) + states.get("failed", 0) >= matches:
            return True
        await asyncio.sleep(POLL_SECONDS)
    return False


# -- processes ---------------------------------------------------------------------------------


async def spawn(
    args: Sequence[str], log: Path, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    with log.open("ab") as stderr:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", *args, cwd=PROJECT_ROOT, env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=stderr,
            limit=LINE_LIMIT,
        )


async def read_line(
    process: asyncio.subprocess.Process, what: str, word: str, wait_seconds: float = START_TIMEOUT
) -> str:
    """The process's next stdout line, which must start with ``word``."""
    assert process.stdout is not None
    async with asyncio.timeout(wait_seconds):
        line = (await process.stdout.readline()).decode().strip()
    if not line.startswith(word):
        raise RuntimeError(f"{what}: expected {word}, got {line[:200]!r} (see its log)")
    return line


async def tell(process: asyncio.subprocess.Process, line: str) -> None:
    assert process.stdin is not None
    process.stdin.write(f"{line}\n".encode())
    await process.stdin.drain()


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(20):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def fake_racetime(
    options: argparse.Namespace, work: Path, *, broadcast_log: bool = False
) -> AsyncIterator[tuple[asyncio.subprocess.Process, dict[str, Any]]]:
    """``bench.room_open_server`` with two players per match; its ``READY`` details."""
    process = await spawn(
        ["bench.room_open_server", "--users", str(2 * options.matches),
         *(["--broadcast-log"] if broadcast_log else [])],
        work / "fake.log",
    )
    try:
        line = await read_line(process, "the fake racetime server", "READY")
        yield process, json.loads(line.split(" ", 1)[1])
    finally:
        if process.stdin is not None:
            process.stdin.close()
        await stop(process)


@contextlib.asynccontextmanager
async def workers(
    options: argparse.Namespace, db_url: str, port: int, key: str, work: Path
) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    env = {**os.environ, KEY_ENV: key, "PYTHONUNBUFFERED": "1"}
    started: list[asyncio.subprocess.Process] = []
    try:
        for index in range(options.processes):
            log = work / f"worker-{index + 1}.log"
            started.append(await spawn(
                [WORKER, "--db-url", db_url,
                 "--racetime-host", f"127.0.0.1:{port}", "--log-file", str(log),
                 *(["--profile", str(work / f"worker-{index + 1}.prof")]
                   if options.profile else [])],
                log, env,
            ))
        yield started
    finally:
        await asyncio.gather(*(stop(p) for p in started))


# -- the run -----------------------------------------------------------------------------------


async def bench(options: argparse.Namespace, db_url: str, work: Path) -> dict[str, Any]:
    started = time.monotonic()
    key = SecretBox.generate_key()
    await upgrade_to_head(db_url)
    async with fake_racetime(options, work) as (fake, details):
        user_ids = await seed_base(db_url, key, details)
        async with workers(options, db_url, details["port"], key, work) as processes:
            ready = [
                float((await read_line(p, f"worker {i + 1}", "READY")).split()[1])
                for i, p in enumerate(processes)
            ]
            window_start = max(ready) + options.lead
            due, infos = await seed_matches(
                db_url, user_ids, due_times(window_start, options.window, options.matches)
            )
            for process in processes:
                await tell(process, "GO")
            planned = [
                (await read_line(p, f"worker {i + 1}", "PLANNED")).split()[1:]
                for i, p in enumerate(processes)
            ]
            deadline = time.monotonic() + (max(due.values()) - time.time()) + options.timeout
            settled = await until_all_have_rooms(db_url, options.matches, deadline)
            await asyncio.sleep(SETTLE_SECONDS)
            await tell(fake, "REPORT")
            assert fake.stdout is not None
            log = json.loads(await fake.stdout.readline())
            states = await claims(db_url)
    rooms = [
        Room(r["name"], "\n".join(filter(None, (r["info_user"], r["info_bot"]))))
        for r in log["rooms"]
    ]
    result = outcome(due, infos, log["startrace"], rooms)
    if options.keep:
        (work / "fake_report.json").write_text(json.dumps(log))
        (work / "due.json").write_text(json.dumps(due))
    return {
        **summary(result, options.matches),
        "processes": options.processes,
        "backend": "postgresql" if options.postgres else "sqlite",
        "all_settled": settled,
        "claims": states,
        "startrace_requests": len(log["startrace"]),
        "startrace_statuses": dict(Counter(str(r["status"]) for r in log["startrace"])),
        "requests": log["requests"],
        "window_s": options.window,
        "lead_s": options.lead,
        # How long before the first due time each scheduler had planned every match.
        "planned": [int(n) for n, _ in planned],
        "planned_margin_s": round(min(due.values()) - max(float(t) for _, t in planned), 2),
        "wall_s": round(time.monotonic() - started, 1),
        "python": sys.version.split()[0],
    }


async def main_async(options: argparse.Namespace) -> dict[str, Any]:
    return await workdir.run(options, "racedesk-bench-room-open-", bench)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.room_open")
    parser.add_argument("--matches", type=int, default=200)
    parser.add_argument("--processes", type=int, default=1, choices=(1, 2),
                        help="RaceDesk processes; 2 share one PostgreSQL database")
    parser.add_argument("--postgres", action="store_true",
                        help="on the local PostgreSQL (forced by --processes 2)")
    parser.add_argument("--window", type=float, default=60.0,
                        help="seconds over which the rooms fall due")
    parser.add_argument("--lead", type=float, default=20.0,
                        help="seconds from the workers being ready to the first due time")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds after the last due time to wait for rooms")
    parser.add_argument("--keep", action="store_true", help="keep the logs and the fake's log")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile each worker (worker-N.prof, kept with the logs)")
    options = parser.parse_args(argv)
    if options.profile:
        options.keep = True
    if options.processes > 1:
        # SQLite cannot be shared safely by two processes for this.
        options.postgres = True
    return options


def main() -> None:
    options = parse()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    print(json.dumps(asyncio.run(main_async(options))))


if __name__ == "__main__":
    main()
