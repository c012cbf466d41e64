"""``python -m bench.room_open_worker``: one RaceDesk process of ``bench.room_open``.

Built like the application: ``bot.build_services`` on the bench's database, with the racetime
settings pointing at the fake server, started by ``Services.start`` (event log, dispatcher,
racetime engine, match room scheduler) under a :class:`Lifecycle`; no Discord. Markers on
stdout, one line each, ``<t>`` being ``time.time()`` (wall clock, like the due times):

- ``READY <t>``: the scheduler started and the category bot is connected (its row says so,
  which is what the room service checks before opening anything);
- after ``GO`` on stdin (the driver has added the matches): the scheduler plans them, as
  ``start()`` does from the database (``replan_all``), and says ``PLANNED <n> <t>``.

Then it runs until SIGTERM and stops in order (with ``--profile``, writing a cProfile). The
secret box key comes from the environment (``RACEDESK_BENCH_SECRET_KEY``), never the command
line. Logs go to ``--log-file``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

from bot import build_services
from core import event_loop
from core.config import RacetimeSettings
from core.container import Services
from core.lifecycle import Lifecycle
from db.models import BotStatus
from db.queries.bots import get_bot_by_category
from db.secrets import SecretBox

KEY_ENV = "RACEDESK_BENCH_SECRET_KEY"
POLL_SECONDS = 0.05
CONNECT_TIMEOUT = 60.0


def marker(*words: object) -> None:
    print(*words, f"{time.time():.6f}", flush=True)


async def bot_connected(services: Services, category: str) -> bool:
    if category not in services.racetime_engine.bots:
        return False
    async with services.sessionmaker() as session:
        bot = await get_bot_by_category(session, category)
    return bot is not None and bot.status == int(BotStatus.CONNECTED)


async def until_connected(services: Services, category: str) -> None:
    async with asyncio.timeout(CONNECT_TIMEOUT):
        while True:
            if await bot_connected(services, category):
                return
            await asyncio.sleep(POLL_SECONDS)


async def run(args: argparse.Namespace) -> None:
    services = build_services(
        database_url=args.db_url,
        secret_box=SecretBox(os.environ[KEY_ENV]),
        racetime=RacetimeSettings(host=args.racetime_host, scheme="http"),
    )
    loop = asyncio.get_running_loop()
    async with Lifecycle() as lifecycle:
        lifecycle.handle_signals()
        await services.start(lifecycle)
        await until_connected(services, args.category)
        marker("READY")
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if line.strip() == "GO":
            marker("PLANNED", await services.match_scheduler.replan_all())
        await lifecycle.wait_for_stop()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.room_open_worker")
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--racetime-host", required=True, help="host:port of the fake")
    parser.add_argument("--category", default="alttpr")
    parser.add_argument("--log-file", default=None)
    parser.add_argument("--profile", default=None, help="write a cProfile of the run here")
    return parser.parse_args(argv)


def run_logged(
    run: Callable[[argparse.Namespace], Coroutine[Any, Any, None]], args: argparse.Namespace
) -> None:
    """``run(args)`` with logs to ``args.log_file`` and, with ``args.profile``, a cProfile."""
    logging.basicConfig(
        level=logging.INFO, filename=args.log_file,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    profile_to = getattr(args, "profile", None)
    if profile_to is None:
        event_loop.run(run(args))  # the loop bot.py runs on
        return
    with cProfile.Profile() as profile:
        try:
            event_loop.run(run(args))
        finally:
            profile.dump_stats(profile_to)


def main() -> None:
    run_logged(run, parse())


if __name__ == "__main__":
    main()
