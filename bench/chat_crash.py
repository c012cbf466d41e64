"""``python -m bench.chat_crash --kills 12``: commands typed in race rooms, RaceDesk SIGKILLed
between a command's receipt and its answer, again and again: nothing lost, nothing answered
twice, no seed rolled twice.

The fake racetime server runs in this process; RaceDesk runs as ``bench.chat_engine`` (the
application's services, on its own SQLite file). The first engine opens the matches' rooms
and the players accept its invites. Then each round starts an engine with one kill point,
each of the three once first, then drawn at random: *before-answer* (the command is in the
event log, its answer not sent), *after-answer* (racetime has the answer, its receipt is
not recorded) or *after-roll* (a room's seed is rolled and stored, not posted; once per
room, so there is a room per such kill). The engine first answers what the last one left
(the rig counts it: the commands without a recorded receipt), then a racer types the
round's command, the engine kills itself at that point, and 1 or 2 more commands are typed
while it is dead (found by the next engine with ``gethistory``). A last engine answers
everything and stops with SIGTERM.

Every command typed must have exactly one answer in its room (``lost``,
``answered_twice``); each rolled room's seed has ``rolls`` 1 and one seed event whose DM is
queued for both players; nothing is parked or left undelivered. ``misfired`` counts kills
that did not happen where and when asked. Prints one JSON line; problems go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.chat_rig import WITHIN, ChatRig, until
from bench.crash import EngineProcess
from fake_racetime import FakeRacetimeServer

CATEGORY = "chatbench"
CLIENT_ID = "chat-bench-client"
CLIENT_SECRET = "chat-bench-secret"  # a throw-away credential of a local fake
RACERS = ("RacerOne", "RacerTwo")
KILL_POINTS = ("before-answer", "after-answer", "after-roll")
CHATTER = ("!help", "!match", "!fpa")  # answered in any room, before the race starts
SETTLE_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class Config:
    kills: int
    seed: int
    workdir: Path | None = None


def fake_server() -> FakeRacetimeServer:
    fake = FakeRacetimeServer("127.0.0.1", 0)
    fake.add_category(CATEGORY, "Chat bench", "CB", goals=["Any% NMG"])
    fake.seed_bot(CATEGORY, CLIENT_ID, CLIENT_SECRET, name="ChatBench")
    for name in RACERS:
        fake.add_user(name, stream_live=True, twitch_channel=name.lower())
    return fake


class ChatCrashBench:
    def __init__(self, config: Config, rig: ChatRig, rooms: int) -> None:
        self.config = config
        self.rig = rig
        self.random = random.Random(config.seed)
        self.unrolled = list(range(rooms))
        # Every point once first (in a random order), so that even 3 kills try them all.
        self.first = self.random.sample(KILL_POINTS, len(KILL_POINTS))
        self.kills: Counter[str] = Counter()
        self.misfired = 0
        self.problems: list[str] = []

    def draw(self) -> str:
        if self.first:
            return self.first.pop()
        points = KILL_POINTS if self.unrolled else KILL_POINTS[:2]
        return self.random.choice(points)

    async def chatter(self) -> None:
        """A racer types an ordinary command in a random room."""
        await self.rig.say(
            self.random.choice(RACERS), self.random.choice(CHATTER),
            self.random.randrange(len(self.rig.slugs)),
        )

    async def round(self, n: int) -> None:
        point = self.draw()
        backlog = await self.rig.unrecorded()
        count = backlog + 1 if point != "after-roll" else 1
        options = (f"--die-{point}", str(count))
        engine = await (self.rig.open_rooms(*options) if n == 0 else self.rig.start(*options))
        if not await engine.wait_marker("ANSWERED", backlog, within=WITHIN):
            raise RuntimeError(f"round {n}: the engine did not catch up:\n{self.rig.log_tail()}")
        if point == "after-roll":
            said = await self.rig.say(
                self.random.choice(RACERS), "!seed", self.unrolled.pop(0)
            )
        else:
            said = await self.rig.say(
                self.random.choice(RACERS), self.random.choice(CHATTER),
                self.random.randrange(len(self.rig.slugs)),
            )
        dying = await self.rig.died(engine)
        self.kills[point] += 1
        if dying != [point, said.event_id]:
            self.misfired += 1
            self.problems.append(f"round {n}: asked {point} at {said.event_id}, got {dying}")
        for _ in range(self.random.randint(1, 2)):
            await self.chatter()

    async def finish(self) -> EngineProcess:
        engine = await self.rig.start()
        await until(self.rig.settled, within=SETTLE_TIMEOUT)
        if await engine.terminate(within=WITHIN) != 0:
            self.problems.append("the last engine did not stop in order")
        return engine

    async def run(self) -> dict[str, Any]:
        started = time.monotonic()
        for n in range(self.config.kills):
            await self.round(n)
        await self.finish()
        rig = self.rig
        verdict = rig.verdict()
        rolls = await rig.db.seed_rolls()
        seed_events = await rig.db.seed_dms()
        rolled_rooms = len(rig.slugs) - len(self.unrolled)
        result = {
            "bench": "chat_crash",
            "commands": verdict.commands,
            "kills": sum(self.kills.values()),
            "kills_by_point": dict(sorted(self.kills.items())),
            "lost": verdict.lost,
            "answered_twice": verdict.answered_twice,
            "unknown_answers": verdict.unknown,
            "misfired": self.misfired,
            "seeds_rolled": sum(1 for r in rolls.values() if r),
            "rolled_twice": sum(max(0, r - 1) for r in rolls.values())
            + max(0, len(seed_events) - rolled_rooms),
            "seed_dms_missing": sum(max(0, len(RACERS) - c) for c in seed_events.values())
            + len(RACERS) * max(0, rolled_rooms - len(seed_events)),
            "parked": await rig.db.parked(),
            "undelivered": await rig.db.undelivered(),
            "engines": len(rig.engines),
            "seconds": round(time.monotonic() - started, 1),
        }
        for key in ("lost", "answered_twice", "unknown_answers", "rolled_twice",
                    "seed_dms_missing", "parked"):
            if result[key]:
                self.problems.append(f"{key}: {result[key]}")
        if verdict.lost or verdict.answered_twice or verdict.unknown:
            typed = Counter((s.room, s.racer, s.command) for s in rig.said)
            self.problems.append(f"typed {dict(typed)}, answered {dict(Counter(rig.answers()))}")
        return result


async def run(config: Config) -> dict[str, Any]:
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="racedesk-chat-crash-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if any(workdir.iterdir()):
        raise SystemExit(f"{workdir} is not empty: a run needs a fresh database")
    fake = fake_server()
    await fake.start()
    rooms = max(1, math.ceil(config.kills / len(KILL_POINTS)))
    rig = ChatRig(fake, workdir, category=CATEGORY, client_id=CLIENT_ID,
                  client_secret=CLIENT_SECRET, racers=RACERS)
    bench = ChatCrashBench(config, rig, rooms)
    try:
        await rig.set_up(matches=rooms)
        result = await bench.run()
    except BaseException:
        print(f"logs kept in {workdir}", file=sys.stderr)
        raise
    finally:
        await rig.stop()
        await fake.stop()
    for problem in bench.problems:
        print(problem, file=sys.stderr)
    if bench.problems:
        print(f"logs kept in {workdir}", file=sys.stderr)
    elif config.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def parse_args(argv: list[str]) -> Config:
    parser = argparse.ArgumentParser(prog="python -m bench.chat_crash", description=__doc__)
    parser.add_argument("--kills", type=int, default=12, help="rounds, one SIGKILL each")
    parser.add_argument("--quick", action="store_true", help="3 kills (one of each point)")
    parser.add_argument("--seed", type=int, default=24, help="the random draws' seed")
    parser.add_argument("--workdir", type=Path, help="keep the database and logs here")
    args = parser.parse_args(argv)
    return Config(kills=3 if args.quick else args.kills, seed=args.seed, workdir=args.workdir)


def main(argv: list[str] | None = None) -> None:
    config = parse_args(sys.argv[1:] if argv is None else argv)
    print(json.dumps(asyncio.run(run(config))))


if __name__ == "__main__":
    main()
