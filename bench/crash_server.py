"""The fake racetime server side of ``bench.crash``, run as its own process.

Starts an empty :class:`FakeRacetimeServer` with its broadcast log on, prints
``READY <port>`` and serves until stdin closes or says ``STOP``. Everything else (category,
bot, users, rooms, racers, the fake clock, reading the broadcast log) goes through its
``/_test`` HTTP API, so the driver needs no shared memory with it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from fake_racetime import FakeRacetimeServer


async def serve(port: int) -> None:
    fake = FakeRacetimeServer("127.0.0.1", port, broadcast_log=True)
    await fake.start()
    print(f"READY {fake.port}", flush=True)
    loop = asyncio.get_running_loop()
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or line.strip() == "STOP":
                break
    finally:
        await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.crash_server")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
