"""The fake racetime server side of ``bench.peak``, run as its own process.

One server for both loads, as RaceDesk has one racetime: ``bench.room_open_server``'s
category, bot app and ``--users`` players (the matches' rooms are opened here), and
``bench.rooms_server``'s ``--rooms`` open rooms of that category with one racer each.
Prints ``READY {...}`` as ``bench.room_open_server`` does; on ``GO`` (stdin) every room
changes once a second for ``--seconds`` (``bench.rooms_server.stream``); on ``REPORT`` it
waits for that to end and prints one JSON line: ``bench.room_open_server``'s report plus
``sent`` (slug, version, monotonic send time of every change) and ``server_p99_ms``. It
stops when stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from bench.room_open_server import CATEGORY, report, say_ready, with_players
from bench.rooms_server import open_rooms, stream
from fake_racetime import FakeRacetimeServer


async def run(users: int, rooms: int, seconds: float) -> None:
    fake = FakeRacetimeServer("127.0.0.1", 0, auto_tick=False, request_log=True)
    ids = with_players(fake, users)
    racers = await open_rooms(fake, CATEGORY, rooms)
    await fake.start()
    say_ready(fake, ids)
    loop = asyncio.get_running_loop()
    streaming: asyncio.Task[dict[str, Any]] | None = None
    try:
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
            if not line:
                return
            if line == "GO" and streaming is None:
                streaming = asyncio.create_task(stream(fake, racers, seconds))
            elif line == "REPORT":
                streamed = await streaming if streaming is not None else {"sent": []}
                print(json.dumps({**report(fake), **streamed}), flush=True)
    finally:
        if streaming is not None and not streaming.done():
            streaming.cancel()
        await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peak_server")
    parser.add_argument("--users", type=int, default=400)
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    asyncio.run(run(args.users, args.rooms, args.seconds))


if __name__ == "__main__":
    main()
