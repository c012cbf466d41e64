"""The fake racetime server side of ``bench.rooms``, run as its own process.

Opens ``--rooms`` rooms with one racer each, prints ``READY <port> <client_id> <secret>``,
waits for ``GO`` on stdin, then for ``--seconds`` makes every room change once a second
(the racer toggles ready/unready, so each change is one ``race.data`` frame and one event),
spread evenly over the second. Finally it prints one JSON object: the monotonic send time of
every (room, version).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from fake_racetime import FakeRacetimeServer

CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-secret"  # a throw-away credential of a local fake

Racer = tuple[str, str]  # a room's slug and its one racer's user id


async def open_rooms(fake: FakeRacetimeServer, category: str, rooms: int) -> list[Racer]:
    """``rooms`` open rooms of ``category``, one racer in each (``Racer0``, ...)."""
    racers: list[Racer] = []
    for index in range(rooms):
        user = fake.add_user(f"Racer{index}", stream_live=True, twitch_channel=f"racer{index}")
        race = fake.open_race(category, streaming_required=False)
        await fake.racer(race.slug, user).join()
        racers.append((race.slug, user))
    return racers


async def stream(
    fake: FakeRacetimeServer, racers: list[Racer], seconds: float
) -> dict[str, Any]:
    """For ``seconds``, every room changes once a second, spread evenly over the second: its
    racer toggles ready/unready. Returns ``sent`` (slug, version, monotonic send time) and
    ``server_p99_ms``."""
    sent: list[tuple[str, int, float]] = []
    server_ms: list[float] = []
    ready = dict.fromkeys((slug for slug, _ in racers), False)
    spacing = 1.0 / max(len(racers), 1)
    start = time.monotonic()
    tick = 0
    while tick < seconds:
        second_start = start + tick
        for index, (slug, user) in enumerate(racers):
            delay = second_start + index * spacing - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            racer = fake.racer(slug, user)
            version = fake.race(slug).version + 1
            sent.append((slug, version, time.monotonic()))
            await (racer.unready() if ready[slug] else racer.ready())
            server_ms.append((time.monotonic() - sent[-1][2]) * 1000)
            ready[slug] = not ready[slug]
        tick += 1
    server_ms.sort()
    # How long the server itself took to apply and send a change (part of every latency).
    server_p99_ms = server_ms[int(0.99 * len(server_ms))] if server_ms else 0.0
    return {"sent": sent, "server_p99_ms": server_p99_ms}


async def run(rooms: int, seconds: float) -> None:
    fake = FakeRacetimeServer("127.0.0.1", 0, auto_tick=False)
    fake.add_category("bench", goals=["Beat the game"])
    fake.seed_bot("bench", CLIENT_ID, CLIENT_SECRET, name="BenchBot")
    racers = await open_rooms(fake, "bench", rooms)
    await fake.start()
    print(f"READY {fake.port} {CLIENT_ID} {CLIENT_SECRET}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    print(json.dumps(await stream(fake, racers, seconds)), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(run(args.rooms, args.seconds))


if __name__ == "__main__":
    main()
