"""The fake racetime server side of ``bench.room_open``, run as its own process.

Knows the ``alttpr`` category with a bot app and ``--users`` racetime users, and keeps a
request log (each request's wall-clock arrival, see :class:`RequestRecord`). Prints one line,
``READY {"port", "client_id", "client_secret", "users"}``, then serves until stdin says
``REPORT``: it answers with one JSON line, every ``startrace`` request (``at``, ``status``,
``location``, ``client``), every room (``name``, ``info_user``, ``info_bot``,
``opened_by_bot``), every request or websocket action that changes something (``changes``:
all but ``GET``, ``client`` saying which tagged client sent it) and the number of requests per
kind; then it stops when stdin closes. ``--broadcast-log`` keeps every ``race.data`` frame
sent, for ``GET /_test/broadcasts`` (``bench.failover``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from typing import Any

from fake_racetime import FakeRacetimeServer

CATEGORY = "alttpr"
CLIENT_ID = "bench-room-open"
CLIENT_SECRET = "bench-room-open-secret"  # a throw-away credential of a local fake
STARTRACE = f"/o/{CATEGORY}/startrace"
DISCRIMINATOR = "1000"


def request_kind(method: str, path: str) -> str:
    """A request's path with the room slug and the like left out, to count them by kind."""
    parts = path.strip("/").split("/")
    if path.startswith("/ws/"):
        return f"{method} /ws/..."
    if len(parts) == 3 and parts[0] == CATEGORY:  # /alttpr/<slug>/data
        return f"{method} /{CATEGORY}/<room>/{parts[2]}"
    return f"{method} {path}"


def report(fake: FakeRacetimeServer) -> dict[str, Any]:
    log = fake.request_log or []
    return {
        "startrace": [r.as_dict() for r in log if r.path == STARTRACE],
        "changes": [r.as_dict() for r in log if r.method != "GET"],
        "rooms": [
            {
                "name": race.name,
                "info_user": race.info_user,
                "info_bot": race.info_bot,
                "opened_by_bot": race.opened_by_bot,
            }
            for race in fake.races.values()
        ],
        "requests": dict(Counter(request_kind(r.method, r.path) for r in log)),
    }


def with_players(fake: FakeRacetimeServer, users: int) -> list[str]:
    """The category, its bot app and ``users`` players (``Player0``, ...): their ids."""
    fake.add_category(CATEGORY, goals=["Beat the game", "Any% NMG"])
    fake.seed_bot(CATEGORY, CLIENT_ID, CLIENT_SECRET, name="RaceDeskBench")
    # Streaming (rooms require it), or racetime refuses their invites.
    return [
        fake.add_user(f"Player{index}", discriminator=DISCRIMINATOR, stream_live=True,
                      twitch_channel=f"player{index}")
        for index in range(users)
    ]


def say_ready(fake: FakeRacetimeServer, ids: list[str]) -> None:
    ready = {"port": fake.port, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
             "users": ids}
    print(f"READY {json.dumps(ready)}", flush=True)


async def run(users: int, *, broadcast_log: bool = False) -> None:
    fake = FakeRacetimeServer("127.0.0.1", 0, request_log=True, broadcast_log=broadcast_log)
    ids = with_players(fake, users)
    await fake.start()
    say_ready(fake, ids)
    loop = asyncio.get_running_loop()
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            if line.strip() == "REPORT":
                print(json.dumps(report(fake)), flush=True)
    finally:
        await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.room_open_server")
    parser.add_argument("--users", type=int, default=400)
    parser.add_argument("--broadcast-log", action="store_true",
                        help="keep every race.data frame sent (GET /_test/broadcasts)")
    args = parser.parse_args()
    asyncio.run(run(args.users, broadcast_log=args.broadcast_log))


if __name__ == "__main__":
    main()
