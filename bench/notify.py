"""``python -m bench.notify --count 5000``: the notification outbox against a rate-limited
fake Discord, with the delivering process SIGKILLed once in the middle and restarted.

Three processes talk over real loopback HTTP: the fake Discord REST API
(``python -m rehearsal.fake_discord_api``: a global limit of 50 requests per second answered
with Discord's own 429 body and headers, per-channel create-message buckets of 5 per 5 s as
Discord's, nonce dedupe), the delivering process (``bench.notify_worker``: the real
``NotificationDelivery`` and ``DiscordNotificationSender`` through discord.py's own HTTP
client, so its rate-limit handling is in the loop) and this driver. The driver queues
``--count`` notifications through ``NotificationService.queue_notification`` (one event per
transaction, each to every one of ``--users`` players, so DM channels are reused), starts the
worker, SIGKILLs it once when the fake has stored a random 40-60 % of the messages, starts a
new one, and waits until nothing is pending.

Then it compares what the fake stored with what was queued, per (event, recipient): an
expected message never stored is ``lost``; one stored more than once is a duplicate.
``ceiling_fraction`` is delivered messages per second, from the first create-message request
to the last message stored (the restart included), over the global ceiling. Prints one JSON
line; targets: ``lost`` 0, ``duplicates`` 0, ``ceiling_fraction`` at least 0.95.

What gets there: the sender paces its requests evenly just under the limit (so 429s are
rare, and each one counts towards Discord's invalid-request ban), opens each player's DM
channel once and remembers it across the restart, and the delivery keeps a batch of sends
under way rather than waiting for a whole batch before taking the next.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col

from bench import workdir
from core.access import AccessPolicy
from core.audit import AuditService
from core.notifications.kinds import NotificationType
from core.notifications.service import NotificationContent, NotificationService
from db.engine import create_engine, create_sessionmaker
from db.migrate import upgrade_to_head
from db.models import NotificationLog
from db.queries.users import get_user_by_discord_id
from rehearsal.fake_discord_api import MESSAGE_ROUTE, Limit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
GUILD = 700_000_000_000_000_001
FIRST_USER = 710_000_000_000_000_000
KIND = NotificationType.MATCH_ROOM_OPENED
TOURNAMENT = "Bench Cup"
START_TIMEOUT = 60.0
POLL_SECONDS = 0.05

Key = tuple[int, str]
"""One expected message: (recipient's Discord id, the embed's description)."""


@dataclass(slots=True)
class Run:
    """What happened while delivering (times are ``time.monotonic()``)."""

    kills: list[float] = field(default_factory=list)
    readies: list[float] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0


# -- queueing ------------------------------------------------------------------------------


def subject(event: int) -> str:
    return f"notification {event}"


async def _user_id(session: AsyncSession, discord_id: int) -> int:
    user = await get_user_by_discord_id(session, discord_id)
    if user is None or user.id is None:
        raise RuntimeError(f"the benchmark's user {discord_id} was not created")
    return user.id


def _notifications(db_url: str) -> tuple[AsyncEngine, NotificationService]:
    engine = create_engine(db_url)
    sessionmaker = create_sessionmaker(engine)
    audit = AuditService(sessionmaker)
    return engine, NotificationService(
        sessionmaker, audit, access=AccessPolicy(sessionmaker, audit)
    )


async def add_players(db_url: str, users: int) -> dict[int, int]:
    """The ``users`` players (Discord ids from ``FIRST_USER``), who want ``KIND`` in
    ``GUILD``: Discord id -> user id."""
    engine, notifications = _notifications(db_url)
    players = [FIRST_USER + index for index in range(users)]
    try:
        for discord_id in players:
            await notifications.set_preference(discord_id, GUILD, KIND, True)
        async with create_sessionmaker(engine)() as session:
            return {did: await _user_id(session, did) for did in players}
    finally:
        await engine.dispose()


async def queue(
    db_url: str, players: dict[int, int], count: int, *, first_event: int = 0
) -> tuple[set[Key], int]:
    """Queue ``count`` notifications, one event per transaction to (up to) every one of
    ``players``, numbering the events from ``first_event``; what is expected, and the
    number of the next event."""
    engine, notifications = _notifications(db_url)
    try:
        return await queue_through(
            notifications, create_sessionmaker(engine), players, count, first_event=first_event
        )
    finally:
        await engine.dispose()


async def queue_through(
    notifications: NotificationService,
    sessionmaker: async_sessionmaker[AsyncSession],
    players: dict[int, int],
    count: int,
    *,
    first_event: int = 0,
) -> tuple[set[Key], int]:
    """:func:`queue` through a running process's own ``notifications`` (which wakes its
    delivery as each transaction commits)."""
    ordered = sorted(players)
    users = len(ordered)
    event = first_event
    expected: set[Key] = set()
    for index in range(math.ceil(count / users)):
        recipients = ordered[: min(users, count - index * users)]
        async with sessionmaker.begin() as session:
            await notifications.queue_notification(
                session, kind=KIND, guild_id=GUILD, event_id=f"bench:{event}",
                user_ids=[players[did] for did in recipients],
                content=NotificationContent(tournament=TOURNAMENT, subject=subject(event)),
            )
        expected.update((did, f"{TOURNAMENT} · {subject(event)}") for did in recipients)
        event += 1
    return expected, event


async def queue_all(db_url: str, count: int, users: int) -> set[Key]:
    """Queue ``count`` notifications, one event per transaction to (up to) every player."""
    expected, _ = await queue(db_url, await add_players(db_url, users), count)
    return expected


async def statuses(db_url: str) -> dict[str, Any]:
    """Rows per status, and the most attempts any row took."""
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = await session.execute(
                select(col(NotificationLog.status), func.count()).group_by(
                    col(NotificationLog.status)
                )
            )
            attempts = await session.execute(
                select(col(NotificationLog.attempts), func.count()).group_by(
                    col(NotificationLog.attempts)
                )
            )
            return {
                "rows": {status: n for status, n in rows.all()},
                "attempts": {str(tries): n for tries, n in sorted(attempts.all())},
            }
    finally:
        await engine.dispose()


# -- processes -----------------------------------------------------------------------------


async def spawn(args: Sequence[str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as stderr:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", *args, cwd=PROJECT_ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=stderr,
        )


async def read_line(process: asyncio.subprocess.Process, what: str) -> str:
    assert process.stdout is not None
    async with asyncio.timeout(START_TIMEOUT):
        line = (await process.stdout.readline()).decode().strip()
    if not line:
        raise RuntimeError(f"{what} exited before it was ready (see its log)")
    return line


@contextlib.asynccontextmanager
async def fake_discord(options: argparse.Namespace, work: Path) -> AsyncIterator[str]:
    """The fake Discord REST API in its own process; yields its base URL (…/api/v10)."""
    process = await spawn(
        ["rehearsal.fake_discord_api", "--port", "0",
         "--global-limit", options.global_limit, "--message-limit", options.message_limit,
         "--users", str(options.users), "--first-user-id", str(FIRST_USER)],
        work / "fake_discord.log",
    )
    try:
        line = await read_line(process, "the fake Discord API")
        found = re.search(r"listening on (\S+)", line)
        if found is None:
            raise RuntimeError(f"unexpected first line from the fake: {line!r}")
        yield found.group(1)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await process.wait()


def worker_args(options: argparse.Namespace, db_url: str, api_base: str, log: Path) -> list[str]:
    return [
        "bench.notify_worker", "--db-url", db_url, "--api-base", api_base,
        "--batch", str(options.batch), "--concurrency", str(options.concurrency),
        "--log-file", str(log),
    ]


async def start_worker(
    options: argparse.Namespace, db_url: str, api_base: str, work: Path, run: Run
) -> asyncio.subprocess.Process:
    log = work / f"worker-{len(run.readies) + 1}.log"
    process = await spawn(worker_args(options, db_url, api_base, log), log)
    line = await read_line(process, "the delivering process")
    run.readies.append(float(line.split()[1]))
    return process


# -- the run -------------------------------------------------------------------------------


async def fake_json(http: aiohttp.ClientSession, path: str) -> Any:
    async with http.get(path) as response:
        response.raise_for_status()
        return await response.json()


async def deliver_with_a_kill(
    options: argparse.Namespace, db_url: str, api_base: str, work: Path, kill_at: int
) -> Run:
    """Start the worker, SIGKILL it once ``kill_at`` messages are stored, restart, finish."""
    run = Run(started=time.monotonic())
    test_url = api_base.rsplit("/api/", 1)[0]
    worker = await start_worker(options, db_url, api_base, work, run)
    async with aiohttp.ClientSession(test_url) as http:
        while not run.kills and worker.returncode is None:
            stats = await fake_json(http, "/_test/stats")
            if stats["messages"] >= kill_at:
                worker.send_signal(signal.SIGKILL)
                run.kills.append(time.monotonic())
                await worker.wait()
                worker = await start_worker(options, db_url, api_base, work, run)
            await asyncio.sleep(POLL_SECONDS)
    async with asyncio.timeout(options.timeout):
        await worker.wait()
    if worker.returncode != 0:
        raise RuntimeError(f"the delivering process exited with {worker.returncode}")
    run.finished = time.monotonic()
    return run


def compare(expected: set[Key], messages: list[dict[str, Any]]) -> dict[str, int]:
    stored = Counter(
        (m["recipient_id"], m["embed_description"]) for m in messages if m["recipient_id"]
    )
    return {
        "delivered": len(expected & stored.keys()),
        "lost": len(expected - stored.keys()),
        "duplicates": sum(n - 1 for n in stored.values()),
        "unexpected": len(stored.keys() - expected),
    }


def pace(
    delivered: int, requests: list[dict[str, Any]], messages: list[dict[str, Any]],
    run: Run, ceiling: float,
) -> dict[str, Any]:
    """Delivered per second over the sending time, against the ceiling."""
    first_post = min(r["at"] for r in requests if r["route"] == MESSAGE_ROUTE)
    last_stored = max(m["at"] for m in messages)
    span = last_stored - first_post
    after_kill = [r["at"] for r in requests if run.kills and r["at"] > run.kills[0]]
    gap = (min(after_kill) - run.kills[0]) if after_kill else 0.0
    return {
        "ceiling_fraction": round(delivered / span / ceiling, 4),
        "sending_s": round(span, 2),
        "restart_gap_s": round(gap, 2),
        "ceiling_fraction_without_restart_gap": round(delivered / (span - gap) / ceiling, 4),
    }


async def bench(options: argparse.Namespace, db_url: str, work: Path) -> dict[str, Any]:
    started = time.monotonic()
    await upgrade_to_head(db_url)
    expected = await queue_all(db_url, options.count, options.users)
    kill_at = int(options.count * random.Random(options.seed).uniform(0.4, 0.6))
    async with fake_discord(options, work) as api_base:
        run = await deliver_with_a_kill(options, db_url, api_base, work, kill_at)
        async with aiohttp.ClientSession(api_base.rsplit("/api/", 1)[0]) as http:
            stats = await fake_json(http, "/_test/stats")
            messages = await fake_json(http, "/_test/messages")
            requests = await fake_json(http, "/_test/requests")
    if options.keep:
        (work / "requests.json").write_text(json.dumps(requests))
        (work / "messages.json").write_text(json.dumps(messages))
    limit = Limit.parse(options.global_limit)
    counts = compare(expected, messages)
    return {
        **counts,
        "http_429": stats["http_429"],
        **pace(counts["delivered"], requests, messages, run, limit.count / limit.window),
        "count": options.count,
        "users": options.users,
        "kills": len(run.kills),
        "killed_at_message": kill_at,
        "requests": stats["requests"],
        "global_429": stats["global_429"],
        "route_429": stats["route_429"],
        "resent_deduped_by_nonce": stats["nonce_hits"],
        "outbox": await statuses(db_url),
        "global_limit": options.global_limit,
        "message_limit": options.message_limit,
        "batch": options.batch,
        "concurrency": options.concurrency,
        "wall_s": round(time.monotonic() - started, 1),
        "python": sys.version.split()[0],
    }


async def main_async(options: argparse.Namespace) -> dict[str, Any]:
    return await workdir.run(options, "racedesk-bench-notify-", bench)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.notify")
    parser.add_argument("--count", type=int, default=5000)
    # 100 players (50 notifications each): with 50, every player's DM channel limit (5 per
    # 5 s) added up is exactly the global ceiling, so the two limits would bind at once.
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--global-limit", default="50/1", help="COUNT/SECONDS (Discord: 50/1)")
    parser.add_argument("--message-limit", default="5/5",
                        help="create-message per channel, COUNT/SECONDS (Discord: 5/5)")
    parser.add_argument("--batch", type=int, default=50, help="DeliveryTimings.batch")
    parser.add_argument("--concurrency", type=int, default=8, help="DeliveryTimings.concurrency")
    parser.add_argument("--seed", type=int, default=None, help="picks the kill point")
    parser.add_argument("--postgres", action="store_true", help="on the local PostgreSQL")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds after the kill")
    parser.add_argument("--keep", action="store_true",
                        help="keep the logs, the database and the fake's request and message logs")
    return parser.parse_args(argv)


def main() -> None:
    options = parse()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    print(json.dumps(asyncio.run(main_async(options))))


if __name__ == "__main__":
    main()
