"""``python -m bench.hostile``: what hostile frames cost a room, and that it recovers.

The fake racetime server runs in its own process (``python -m fake_racetime``);
RaceDesk's engine, built as the application builds it, watches one room. A third process
(so that only the engine's memory is measured) has the server send, through its ``/_test``
API: frames listing 10,000 invented entrants, frames for
another room, absurd versions, unknown statuses, and frames over the 16 MB limit. Then a
racer joins for real. Prints one JSON line: resident memory of the engine's process before,
at its peak and after (``rss_*_mb``), the events the hostile frames caused (target 0), and
whether the real join was reported afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bot import build_services
from core.config import RacetimeSettings
from core.events import RacetimeEntrantJoinedEvent, RacetimeRoomEvent
from core.lifecycle import Lifecycle
from db.migrate import upgrade_to_head
from db.secrets import SecretBox
from racetime.connection import MAX_FRAME_BYTES

CLIENT_ID, CLIENT_SECRET = "hostile-client", "hostile-secret"  # a local fake's throw-aways


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def frame(race: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body = {**race, **changes}
    return {"frame": {"type": "race.data", "date": "2026-11-26T00:00:00+00:00", "race": body,
                      "version": body.get("version")}}


async def hostile_frames(api: aiohttp.ClientSession, slug: str, other: str) -> int:
    """Send every kind of hostile frame to ``slug``; returns how many were sent."""
    race = await (await api.get(f"/alttpr/{slug}/data")).json()
    stranger = await (await api.get(f"/alttpr/{other}/data")).json()
    version = race["version"]
    crowd = [{"user": {"id": f"ghost{n:011d}", "name": f"Ghost{n}", "full_name": f"Ghost{n}#0"},
              "status": {"value": "not_ready"}} for n in range(10_000)]
    frames: list[dict[str, Any] | str] = []
    for step in range(1, 6):
        frames.append(frame(race, version=version + step, entrants=crowd))
    frames.append(frame(stranger, version=version + 100))
    frames += [frame(race, version=v) for v in (2**62, -1, 10**30)]
    frames.append(frame(race, version=version + 1, status={"value": "exploded"}))
    frames.append(frame(race, version=version + 1, entrants=[
        {"user": {"id": "x" * 500}, "status": {"value": "levitating"}}]))
    padding = "x" * (MAX_FRAME_BYTES + 1024)
    frames += [frame(race, version=version + 1, info=padding)] * 3
    for body in frames:
        response = await api.post(f"/_test/races/{slug}/frame", json=body)
        response.raise_for_status()
        await asyncio.sleep(0.2)
    return len(frames)


async def run() -> dict[str, object]:
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, before the measurement
        [sys.executable, "-m", "fake_racetime", "--port", "0", "--seed",
         "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET],
        stdout=subprocess.PIPE, text=True,
    )
    assert server.stdout is not None
    loop = asyncio.get_running_loop()
    first = await loop.run_in_executor(None, server.stdout.readline)
    base_url = first.strip().rsplit(" ", 1)[-1]
    host = base_url.removeprefix("http://")
    lines = [await loop.run_in_executor(None, server.stdout.readline) for _ in range(5)]
    racer = next(line.split(": ")[1].strip() for line in lines if line.startswith("user RacerOne"))

    workdir = Path(tempfile.mkdtemp(prefix="racedesk-hostile-"))
    url = f"sqlite+aiosqlite:///{workdir}/hostile.sqlite3"
    await upgrade_to_head(url)
    services = build_services(
        database_url=url, secret_box=SecretBox(SecretBox.generate_key()),
        racetime=RacetimeSettings(host=host, scheme="http"),
    )
    events: list[RacetimeRoomEvent] = []

    watched = ""

    async def record(event: RacetimeRoomEvent) -> None:
        if event.room_slug == watched:  # the bot also joins the other room it finds
            events.append(event)

    services.dispatcher.subscribe(RacetimeRoomEvent, record)
    async with services.sessionmaker.begin() as session:
        await services.racetime_bots.add_bot(session, category="alttpr", client_id=CLIENT_ID,
                                             client_secret=CLIENT_SECRET, display_name="Bench")
    started = time.monotonic()
    try:
        async with Lifecycle() as lifecycle, aiohttp.ClientSession(base_url) as api:
            await services.start(lifecycle)
            room_settings = {"category": "alttpr", "streaming_required": False}
            opened = await (await api.post("/_test/races", json=room_settings)).json()
            other = await (await api.post("/_test/races", json={"category": "alttpr"})).json()
            watched = opened["slug"]
            while "alttpr" not in services.racetime_engine.bots:  # noqa: ASYNC110 - start-up
                await asyncio.sleep(0.05)
            await services.racetime_engine.bot("alttpr").wait_healthy()
            room = await services.racetime_engine.room(opened["name"])
            await room.wait_connected()
            await services.dispatcher.drain()
            gc.collect()
            before, events_before = rss_mb(), len(events)
            # Built and sent by another process, so only the engine's memory is measured.
            sender = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.hostile", "--send", base_url, opened["slug"],
                other["slug"], stdout=asyncio.subprocess.PIPE,
            )
            out, _ = await sender.communicate()
            sent = int(out.decode().strip() or 0)
            await services.dispatcher.drain()
            hostile_events = len(events) - events_before
            joined = await api.post(f"/_test/races/{opened['slug']}/racers/{racer}/join")
            joined.raise_for_status()
            deadline = time.monotonic() + 60
            while not any(isinstance(e, RacetimeEntrantJoinedEvent) for e in events):
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            await services.dispatcher.drain()
            gc.collect()
            after = rss_mb()
            reported = any(isinstance(e, RacetimeEntrantJoinedEvent) for e in events)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "bench": "hostile",
        "frames": sent,
        "hostile_events": hostile_events,
        "real_change_reported": reported,
        "rss_before_mb": round(before, 1),
        "rss_peak_mb": round(peak_mb(), 1),
        "rss_after_mb": round(after, 1),
        "wall_s": round(time.monotonic() - started, 1),
        "python": sys.version.split()[0],
    }


async def send(base_url: str, slug: str, other: str) -> int:
    async with aiohttp.ClientSession(base_url) as api:
        return await hostile_frames(api, slug, other)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile")
    parser.add_argument("--send", nargs=3, metavar=("URL", "SLUG", "OTHER"),
                        help="(internal) send the hostile frames and print how many")
    args = parser.parse_args()
    if args.send:
        print(asyncio.run(send(*args.send)))
        return
    print(json.dumps(asyncio.run(run())))


if __name__ == "__main__":
    main()
