"""``python -m bench.peak``: what users feel at a season's peak (issue 28).

A round's matches all open while 1000 other rooms race and results go out by DM, and
meanwhile users type slash commands. Processes over loopback, each its own:

- the fake racetime server (``bench.peak_server``): ``--rooms`` open rooms, each changing
  once a second as in ``bench.rooms``, and the category, bot app and players of
  ``bench.room_open``, where the matches' rooms are opened;
- the fake Discord REST API (``rehearsal.fake_discord_api``, Discord's rate limits), which
  the DMs reach, as in ``bench.notify``;
- one RaceDesk process (``bench.peak_desk``), wired as ``bot.py`` wires it, whose slash
  commands come from the simulated Discord of the tests, through the real ``CommandTree``;
- this driver: it makes the database (SQLite, or with ``--backend postgres`` a fresh
  PostgreSQL database on 127.0.0.1:5432, dropped at the end), adds the category bot, the
  match players and the DM recipients, starts the RaceDesk process and waits for it to have
  joined every room; then it adds the tournament and ``--matches`` matches whose rooms fall
  due over ``--window`` seconds from ``--lead`` seconds on, and says ``GO``: the rooms start
  changing, the scheduler plans the matches, ``--dms`` DMs are queued at once (100
  recipients, as ``bench.notify``) and ``--rate`` interactions a second arrive for
  ``--seconds``. It waits until every match has a room and every DM is stored.

Figures (one JSON line): per interaction kind and overall, the time from its arrival to its
first answer or defer (``command_*`` for slash commands, ``autocomplete_*``), and how many
took more than 3 s or got no answer (``commands_over_3s``); ``room_open_p99_s`` (lateness,
as ``bench.room_open``); ``frame_p99_ms`` (a change sent by the server to the event
reaching a listener, as ``bench.rooms``); ``dm_ceiling_fraction`` (as ``bench.notify``);
``lost`` and ``duplicates``: events, DMs and rooms (every change delivered once, every DM
stored once, every match one room). Targets (issue 28, SQLite, 2 cores): command p99 at most
250 ms and none over 3 s, autocomplete p99 at most 100 ms, room-open p99 at most 1 s, frame
p99 at most 50 ms, DMs at least 0.9 of the ceiling; nothing lost or doubled.
``--quick`` is the size CI runs. ``--profile`` writes a cProfile of the RaceDesk process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from bench import notify, room_open, workdir
from bench.peak_commands import AUTOCOMPLETE
from bench.room_open import read_line, spawn, stop, tell
from bench.room_open_worker import KEY_ENV
from db.migrate import upgrade_to_head
from db.secrets import SecretBox
from rehearsal.fake_discord_api import Limit

OVER_SECONDS = 3.0  # Discord's deadline for an interaction's first answer
DONE_TIMEOUT = 300.0  # after the load: every room opened, every DM stored (a hang guard)
POLL_SECONDS = 0.5
SETTLE_SECONDS = 1.0
QUICK = {"rooms": 50, "matches": 10, "dms": 300, "window": 5.0, "lead": 5.0, "seconds": 10.0}


# -- figures -----------------------------------------------------------------------------------


def spread(seconds: list[float]) -> dict[str, Any]:
    """count, p50/p99/max in ms (nearest rank) of ``seconds``."""
    if not seconds:
        return {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    ms = [s * 1000 for s in seconds]
    return {
        "count": len(ms),
        "p50_ms": round(room_open.percentile(ms, 0.50), 1),
        "p99_ms": round(room_open.percentile(ms, 0.99), 1),
        "max_ms": round(max(ms), 1),
    }


def command_figures(answers: dict[str, Any]) -> dict[str, Any]:
    """The interactions' figures from the desk's ``answers`` (issued, delays, failed)."""
    delays: dict[str, list[float]] = answers["delays"]
    issued: dict[str, int] = answers["issued"]
    slash = [s for what, found in delays.items() if AUTOCOMPLETE not in what for s in found]
    complete = [s for what, found in delays.items() if AUTOCOMPLETE in what for s in found]
    unanswered = sum(issued.values()) - sum(len(found) for found in delays.values())
    overall, completes = spread(slash), spread(complete)
    return {
        "commands": sum(issued.values()),
        "command_p50_ms": overall["p50_ms"],
        "command_p99_ms": overall["p99_ms"],
        "command_max_ms": overall["max_ms"],
        "commands_over_3s": unanswered + sum(s > OVER_SECONDS for s in slash + complete),
        "autocomplete_p99_ms": completes["p99_ms"],
        "autocomplete_max_ms": completes["max_ms"],
        "unanswered": unanswered,
        "failed": answers["failed"],
        "per_command": {what: spread(found) for what, found in sorted(delays.items())},
    }


def frame_figures(sent: list[list[Any]], received: list[list[Any]]) -> dict[str, Any]:
    """Every change the server sent against the events the listener got (monotonic times)."""
    got = {(slug, version): at for slug, version, at in received}
    latencies = [(got[(s, v)] - at) * 1000 for s, v, at in sent if (s, v) in got]
    return {
        "frames_sent": len(sent),
        "frame_p50_ms": round(room_open.percentile(latencies, 0.5), 1) if latencies else None,
        "frame_p99_ms": round(room_open.percentile(latencies, 0.99), 1) if latencies else None,
        "frame_max_ms": round(max(latencies), 1) if latencies else None,
        "events_lost": len(sent) - len(latencies),
    }


def room_figures(
    due: dict[int, float], infos: dict[int, str], log: dict[str, Any]
) -> dict[str, Any]:
    rooms = [
        room_open.Room(r["name"], "\n".join(filter(None, (r["info_user"], r["info_bot"]))))
        for r in log["rooms"]
    ]
    result = room_open.outcome(due, infos, log["startrace"], rooms)
    found = room_open.summary(result, len(due))
    return {
        "room_open_p50_s": found["p50_s"],
        "room_open_p99_s": found["p99_s"],
        "room_open_max_s": found["max_s"],
        "rooms_early": found["early"],
        "matches_without_room": found["without_room"],
        "rooms_opened_twice": sum(max(0, n - 1) for n in result.rooms.values()),
    }


def dm_figures(
    options: argparse.Namespace, expected: list[list[Any]], fake: dict[str, Any]
) -> dict[str, Any]:
    keys = {(int(did), text) for did, text in expected}
    counts = notify.compare(keys, fake["messages"])
    limit = Limit.parse(options.global_limit)
    pace = notify.pace(
        counts["delivered"], fake["requests"], fake["messages"], notify.Run(),
        limit.count / limit.window,
    ) if counts["delivered"] else {"ceiling_fraction": 0.0, "sending_s": 0.0}
    return {
        "dm_ceiling_fraction": pace["ceiling_fraction"],
        "dms_delivered": counts["delivered"],
        "dms_lost": counts["lost"],
        "dms_duplicates": counts["duplicates"],
        "dm_sending_s": pace["sending_s"],
    }


# -- processes ---------------------------------------------------------------------------------


def enough_files(rooms: int) -> None:
    """Room for a socket per room, each end (the children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, rooms * 2 + 512)), hard))


@contextlib.asynccontextmanager
async def started(
    args: list[str], log: Path, what: str, env: dict[str, str] | None = None
) -> AsyncIterator[tuple[asyncio.subprocess.Process, dict[str, Any]]]:
    """A process of the bench, and the details of its ``READY {...}`` line."""
    process = await spawn(args, log, env)
    try:
        line = await read_line(process, what, "READY")
        yield process, json.loads(line.split(" ", 1)[1])
    finally:
        if process.stdin is not None:
            process.stdin.close()
        await stop(process)


async def report(process: asyncio.subprocess.Process, what: str) -> dict[str, Any]:
    """Ask ``process`` for its ``REPORT`` line."""
    await tell(process, "REPORT")
    assert process.stdout is not None
    async with asyncio.timeout(DONE_TIMEOUT):
        line = (await process.stdout.readline()).decode()
    if not line.startswith(("REPORT", "{")):
        raise RuntimeError(f"{what}: expected its report, got {line[:200]!r} (see its log)")
    found: dict[str, Any] = json.loads(line.removeprefix("REPORT "))
    return found


async def until_dms_stored(api_base: str, count: int, deadline: float) -> None:
    async with aiohttp.ClientSession(api_base.rsplit("/api/", 1)[0]) as http:
        while time.monotonic() < deadline:
            if (await notify.fake_json(http, "/_test/stats"))["messages"] >= count:
                return
            await asyncio.sleep(POLL_SECONDS)


async def fake_discord_log(api_base: str) -> dict[str, Any]:
    async with aiohttp.ClientSession(api_base.rsplit("/api/", 1)[0]) as http:
        return {
            "messages": await notify.fake_json(http, "/_test/messages"),
            "requests": await notify.fake_json(http, "/_test/requests"),
        }


# -- the run -----------------------------------------------------------------------------------


async def bench(options: argparse.Namespace, db_url: str, work: Path) -> dict[str, Any]:
    began = time.monotonic()
    key = SecretBox.generate_key()
    enough_files(options.rooms)
    await upgrade_to_head(db_url)
    server_args = ["bench.peak_server", "--users", str(2 * options.matches),
                   "--rooms", str(options.rooms), "--seconds", str(options.seconds)]
    async with (
        started(server_args, work / "fake_racetime.log", "the fake racetime") as (server, fake),
        notify.fake_discord(options, work) as api_base,
    ):
        bot_id, player_ids = await room_open.seed_bot_and_players(db_url, key, fake)
        recipients = await notify.add_players(db_url, options.users)
        desk_args = [
            "bench.peak_desk", "--db-url", db_url, "--racetime-host", f"127.0.0.1:{fake['port']}",
            "--api-base", api_base, "--rooms", str(options.rooms), "--rate", str(options.rate),
            "--seconds", str(options.seconds), "--log-file", str(work / "desk.log"),
            *(["--profile", str(options.profile)] if options.profile else []),
        ]
        env = {**os.environ, KEY_ENV: key, "PYTHONUNBUFFERED": "1"}
        async with started(desk_args, work / "desk.log", "RaceDesk", env) as (desk, ready):
            await room_open.seed_tournament(db_url, bot_id, ready["guild"])
            first_due = time.time() + options.lead
            due, infos = await room_open.seed_matches(
                db_url, player_ids,
                room_open.due_times(first_due, options.window, options.matches),
            )
            go = {"players": recipients, "dms": options.dms, "tournament": room_open.TOURNAMENT}
            await tell(server, "GO")
            await tell(desk, f"GO {json.dumps(go)}")
            deadline = time.monotonic() + options.lead + options.window + DONE_TIMEOUT
            queued_line = await read_line(desk, "RaceDesk", "QUEUED", DONE_TIMEOUT)
            queued = json.loads(queued_line.split(" ", 1)[1])
            await room_open.until_all_have_rooms(db_url, options.matches, deadline)
            await until_dms_stored(api_base, queued["dms"], deadline)
            # The server's report waits for its last change; then that change's frame has
            # SETTLE_SECONDS to become an event before RaceDesk reports what it received.
            server_report = await report(server, "the fake racetime")
            await asyncio.sleep(SETTLE_SECONDS)
            desk_report = await report(desk, "RaceDesk")
            discord_log = await fake_discord_log(api_base)
    frames = frame_figures(server_report["sent"], desk_report["received"])
    rooms = room_figures(due, infos, server_report)
    dms = dm_figures(options, desk_report["expected_dms"], discord_log)
    return {
        "bench": "peak",
        "backend": "postgresql" if options.postgres else "sqlite",
        **command_figures(desk_report["answers"]),
        **rooms,
        **frames,
        **dms,
        # A DM RaceDesk could not even queue is lost too.
        "lost": frames["events_lost"] + dms["dms_lost"] + rooms["matches_without_room"]
        + options.dms - len(desk_report["expected_dms"]),
        "duplicates": desk_report["events_repeated"] + dms["dms_duplicates"]
        + rooms["rooms_opened_twice"],
        "dm_events_not_queued": desk_report["dm_events_not_queued"],
        "gc_longest_ms": desk_report["gc_longest_ms"],
        "gc_count": desk_report["gc_count"],
        "rooms": options.rooms, "matches": options.matches, "dms": options.dms,
        "rate": options.rate, "seconds": options.seconds,
        "wall_s": round(time.monotonic() - began, 1),
        "python": sys.version.split()[0],
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.peak")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--rooms", type=int, default=1000, help="rooms racing meanwhile")
    parser.add_argument("--matches", type=int, default=200, help="matches whose rooms open")
    parser.add_argument("--window", type=float, default=60.0,
                        help="seconds over which the matches' rooms fall due")
    parser.add_argument("--lead", type=float, default=10.0,
                        help="seconds from GO to the first room falling due")
    parser.add_argument("--dms", type=int, default=5000, help="DMs in the fan-out")
    parser.add_argument("--rate", type=float, default=20.0, help="interactions per second")
    parser.add_argument("--seconds", type=float, default=100.0,
                        help="how long the rooms change and the interactions arrive")
    parser.add_argument("--users", type=int, default=100, help="DM recipients")
    parser.add_argument("--global-limit", default="50/1", help="COUNT/SECONDS (Discord: 50/1)")
    parser.add_argument("--message-limit", default="5/5",
                        help="create-message per channel, COUNT/SECONDS (Discord: 5/5)")
    parser.add_argument("--quick", action="store_true",
                        help="the CI size: " + ", ".join(f"{k} {v:g}" for k, v in QUICK.items()))
    parser.add_argument("--keep", action="store_true", help="keep the logs")
    parser.add_argument("--profile", type=Path, default=None,
                        help="write a cProfile of the RaceDesk process to this file")
    options = parser.parse_args(argv)
    if options.quick:
        for name, value in QUICK.items():
            setattr(options, name, type(getattr(options, name))(value))
    options.postgres = options.backend == "postgres"
    if options.profile is not None:
        options.profile = options.profile.absolute()
    return options


def main() -> None:
    options = parse()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    result = asyncio.run(workdir.run(options, "racedesk-bench-peak-", bench))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
