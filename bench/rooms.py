"""``python -m bench.rooms --rooms 1000``: many rooms at once over real websockets.

The fake racetime server runs in its own process (``bench.rooms_server``) with ``--rooms``
rooms, each changing once a second. RaceDesk's engine (category bot, one supervised
connection per room, SQLite room store, the event log and the dispatcher) discovers and joins
them all, and a listener notes when each change arrives as an event. Every event is committed
to the event log (with its room's snapshot, by group commit) before the listener sees it.
Prints one JSON line: ``rooms``, ``p50_ms``/``p99_ms`` (server sending the frame -> listener
receiving the event, both on the system-wide monotonic clock), ``commits`` (event log
transactions during the run), ``loop_cpu_ms_per_change`` (CPU time of the event loop's
thread during the run, per race change sent) and ``kb_per_room`` (resident memory of this
process, after all rooms are connected minus before the engine started, per room).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot import tune_interpreter
from core import event_loop
from core.clock import SystemClock
from core.event_store.event_log import DatabaseEventLog
from core.events import EventDispatcher, RacetimeEntrantStatusChangedEvent
from core.racetime_bots.bots import RacetimeBotService
from core.racetime_bots.room_store import DatabaseRoomStore
from core.racetime_bots.status import BotStatusRepository
from db.engine import create_engine, create_sessionmaker
from db.migrate import upgrade_to_head
from db.secrets import SecretBox
from racetime.category_bot import BotTimings
from racetime.client import RacetimeClient
from racetime.manager import RacetimeManager


def rss_kb() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run(rooms: int, seconds: float) -> dict[str, object]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, rooms * 2 + 256)), hard))
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, before the measurement
        [sys.executable, "-m", "bench.rooms_server", "--rooms", str(rooms), "--seconds",
         str(seconds)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    loop = asyncio.get_running_loop()
    ready = await loop.run_in_executor(None, server.stdout.readline)
    _, port, client_id, client_secret = ready.split()

    workdir = Path(tempfile.mkdtemp(prefix="racedesk-bench-"))
    url = f"sqlite+aiosqlite:///{workdir}/bench.sqlite3"
    await upgrade_to_head(url)
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    box = SecretBox(SecretBox.generate_key())
    bots = RacetimeBotService(sessionmaker, box)
    async with sessionmaker.begin() as session:
        await bots.add_bot(
            session,
            category="bench",
            client_id=client_id,
            client_secret=client_secret,
            display_name="Bench",
        )
    event_log = DatabaseEventLog(sessionmaker)
    dispatcher = EventDispatcher(event_log)
    await event_log.start()
    await dispatcher.start()
    received: dict[tuple[str, int], float] = {}

    async def on_change(event: RacetimeEntrantStatusChangedEvent) -> None:
        received[(event.room_slug, event.racetime_version or 0)] = time.monotonic()

    dispatcher.subscribe(RacetimeEntrantStatusChangedEvent, on_change)
    store = DatabaseRoomStore(sessionmaker, event_log)
    client = RacetimeClient(f"127.0.0.1:{port}", secure=False, timeout=30.0)
    manager = RacetimeManager(
        client=client,
        store=store,
        health=BotStatusRepository(sessionmaker, event_log, SystemClock()),
        dispatcher=dispatcher,
        active_bots=bots.active_credentials,
        timings=BotTimings(scan_interval=3600),
    )
    gc.collect()
    before = rss_kb()
    await manager.start()
    bot = manager.bot("bench")
    await bot.wait_healthy()
    deadline = time.monotonic() + 120
    while sum(c.is_connected for c in bot.rooms.values()) < rooms:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(bot.rooms)} of {rooms} rooms connected")
        await asyncio.sleep(0.1)
    await dispatcher.drain()
    gc.collect()
    after = rss_kb()
    tune_interpreter()  # as bot.py does once it has started

    commits_before = event_log.commits
    loop_cpu_before = time.thread_time()  # this thread runs the event loop
    server.stdin.write("GO\n")
    server.stdin.flush()
    report = await loop.run_in_executor(None, server.stdout.readline)
    await asyncio.sleep(0.5)
    await dispatcher.drain()
    loop_cpu = time.thread_time() - loop_cpu_before
    commits = event_log.commits - commits_before
    server_report = json.loads(report)
    sent = server_report["sent"]
    latencies = [
        (received[(slug, version)] - at) * 1000
        for slug, version, at in sent
        if (slug, version) in received
    ]
    server.stdin.write("STOP\n")
    server.stdin.flush()
    await manager.stop()
    await client.close()
    await dispatcher.close()
    await event_log.close()
    await engine.dispose()
    server.wait(timeout=30)
    return {
        "bench": "rooms",
        "rooms": rooms,
        "seconds": seconds,
        "frames_sent": len(sent),
        "events_received": len(latencies),
        "p50_ms": round(statistics.median(latencies), 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
        "max_ms": round(max(latencies), 3),
        "commits": commits,
        "kb_per_room": round((after - before) / rooms, 1),
        "loop_cpu_ms_per_change": round(loop_cpu * 1000 / max(1, len(sent)), 3),
        "server_p99_ms": round(server_report["server_p99_ms"], 3),
        "python": sys.version.split()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rooms")
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps(event_loop.run(run(args.rooms, args.seconds))))  # bot.py's loop


if __name__ == "__main__":
    main()
