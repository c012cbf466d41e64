"""``python -m bench.crash --kills 20 --listener-delay 1.0``: nothing lost or doubled by crashes.

The fake racetime server (``bench.crash_server``) and RaceDesk's engine
(``bench.crash_engine``, built like the application, with a durable listener that records
every event it handles) run in processes of their own. The driver opens ``--rooms`` rooms,
starts the engine and waits until it has joined every room (so each room's baseline, told by
``RacetimeBotJoinedRaceEvent``, is "open, no entrants"), then racers join, ready up, race,
finish or forfeit, sometimes undo it, at a human pace, through the server's ``/_test`` API.
Meanwhile the engine is SIGKILLed again and again: at a random moment, within 100 ms of
joining a room, from inside its N-th database commit (before or after the database
commits), or just after its listener recorded an event (before the acknowledgement);
racers keep acting while it is down, and it is restarted. At the end the engine
is restarted one last time, left to deliver everything, and stopped with SIGTERM.

Then what the listener recorded is compared with the server's log of every ``race.data``
frame it sent (see :func:`compare`). Per entity (a room's race status; each entrant's
status, ``absent`` when not in the room) the server's values over versions form *runs*. A
run is *lost* when the listener never recorded it although it was the entity's final value
or the server sent it to a bot socket that stayed connected (its engine process alive) for
at least 0.5 s in one stretch while it was current; runs that came and went while no bot
was connected are not expected (the engine reports the net change). A socket the server
accepted after its engine died (the handshake was already on its way) was never connected.
A record is *bogus* when the server's value at the record's ``racetime_version`` is not the
recorded value; two records of one run with different event ids are ``duplicates_new_id``;
redeliveries of one ``event_id`` (handled once, thanks to ``exactly_once``) are
``duplicates_same_id``; ``out_of_order`` counts records of an entity delivered after one of
a later version.

Prints one JSON line. Targets: ``lost``, ``duplicates_new_id``, ``bogus`` and
``out_of_order`` all 0, with ``--listener-delay`` 0 and 1.0. Problems are listed on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import logging
import math
import os
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp

CATEGORY = "bench"
CLIENT_ID = "crash-client"
CLIENT_SECRET = "crash-secret"  # a throw-away credential of a local fake
ABSENT = "absent"
RACE = "race"
BOT_JOINED = "RacetimeBotJoinedRaceEvent"
MIN_EXPOSURE = 0.5
PROJECT_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0
DRAIN_TIMEOUT = 600.0

Life = tuple[float, float]
"""An engine process's ``(start, death)`` in monotonic time; ``death`` is inf for the last."""

Value = tuple[str, str | None]
"""An entity's value: a status and, for a finished entrant, its finish time (so that a
finish undone and redone while the engine was away is a new value, as the engine sees it)."""


# -- comparison (pure) -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    """One entry of the server's broadcast log."""

    at: float
    slug: str
    version: int
    status: str
    entrants: dict[str, Value]
    bot_sockets: int
    reason: str

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Frame:
        return cls(
            at=float(raw["at"]),
            slug=raw["slug"],
            version=int(raw["version"]),
            status=raw["status"],
            entrants={user: (status, finish) for user, status, finish in raw["entrants"]},
            bot_sockets=int(raw["bot_sockets"]),
            reason=raw["reason"],
        )

    def value(self, entity: str) -> Value:
        if entity == RACE:
            return self.status, None
        return self.entrants.get(entity, (ABSENT, None))


@dataclass(frozen=True, slots=True)
class Record:
    """One row the durable listener recorded (``order`` is its commit order)."""

    order: int
    event_id: str
    kind: str
    slug: str
    entity: str
    old: str | None
    new: str
    version: int | None


@dataclass(slots=True)
class Run:
    """A stretch of versions over which one entity kept one value."""

    value: Value
    first_version: int
    start: float
    end: float
    exposed: bool = False
    final: bool = False
    baseline: bool = False  # an entrant's value when the bot joined (told by BotJoined)
    records: list[Record] = field(default_factory=list)

    @property
    def expected(self) -> bool:
        return self.exposed or self.final or self.baseline or bool(self.records)


@dataclass(slots=True)
class Comparison:
    transitions: int = 0
    lost: int = 0
    duplicates_new_id: int = 0
    bogus: int = 0
    out_of_order: int = 0
    unexposed: int = 0
    chain_breaks: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RoomHistory:
    """A room as the server told it: each version's state and when bots were listening."""

    slug: str
    versions: list[int]
    states: dict[int, Frame]  # the first frame of each version
    connected: list[tuple[float, float]]  # [start, end) a bot socket was up, engine alive

    def entities(self) -> list[str]:
        users = {u for frame in self.states.values() for u in frame.entrants}
        return [RACE, *sorted(users)]

    def index_of(self, version: int | None) -> int | None:
        """Position of ``version`` among the versions the server sent, if it sent it."""
        if version is None:
            return None
        i = bisect.bisect_left(self.versions, version)
        return i if i < len(self.versions) and self.versions[i] == version else None


def life_at(lives: Sequence[Life], at: float) -> Life | None:
    """The engine process alive at monotonic time ``at`` (``lives`` sorted by start)."""
    i = bisect.bisect_right([start for start, _ in lives], at) - 1
    return lives[i] if i >= 0 and at < lives[i][1] else None


def room_histories(frames: Iterable[Frame], lives: Sequence[Life]) -> dict[str, RoomHistory]:
    """Every room's versions, and the stretches during which a live engine had a socket.

    A bot socket is up from the frames it got on connecting until the engine process alive
    at that moment died. A socket the server accepted after its engine died (the handshake
    was on its way) was never up.
    """
    ordered = sorted(lives)
    states: dict[str, dict[int, Frame]] = defaultdict(dict)
    connected: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for frame in sorted(frames, key=lambda f: f.at):
        states[frame.slug].setdefault(frame.version, frame)
        life = life_at(ordered, frame.at)
        if frame.reason != "change" and frame.bot_sockets > 0 and life is not None:
            connected[frame.slug].append((frame.at, life[1]))
    return {
        slug: RoomHistory(slug, sorted(by_version), by_version, connected[slug])
        for slug, by_version in states.items()
    }


def longest_exposure(start: float, end: float, connected: Iterable[tuple[float, float]]) -> float:
    """The longest single stretch of ``[start, end)`` during which a bot socket was up."""
    best = 0.0
    for up, down in connected:
        best = max(best, min(end, down) - max(start, up))
    return best


def entity_runs(room: RoomHistory, entity: str, min_exposure: float) -> list[Run]:
    """The entity's values over the room's versions, one run per change."""
    runs: list[Run] = []
    for version in room.versions:
        frame = room.states[version]
        value = frame.value(entity)
        if runs and runs[-1].value == value:
            continue
        if runs:
            runs[-1].end = frame.at
        runs.append(Run(value, version, frame.at, math.inf))
    for run in runs:
        run.exposed = longest_exposure(run.start, run.end, room.connected) >= min_exposure
    runs[-1].final = True
    return runs


def run_at(runs: list[Run], room: RoomHistory, index: int) -> Run:
    """The run current at the room's ``index``-th version."""
    version = room.versions[index]
    starts = [run.first_version for run in runs]
    return runs[bisect.bisect_right(starts, version) - 1]


def merge_runs(runs: list[Run]) -> tuple[list[Run], int]:
    """Drop runs nobody could have seen; join the neighbours they separated if equal.

    Returns the groups and how many runs were dropped. ``ready -> not_ready -> ready``
    while the engine was away is, rightly, no change at all.
    """
    groups: list[Run] = []
    dropped = 0
    for run in runs:
        if not run.expected:
            dropped += 1
            continue
        if groups and groups[-1].value == run.value:
            last = groups[-1]
            last.records.extend(run.records)
            last.exposed |= run.exposed
            last.final |= run.final
            last.baseline |= run.baseline
            last.end = run.end
            continue
        groups.append(run)
    return groups, dropped


def _judge_groups(slug: str, entity: str, groups: list[Run], result: Comparison) -> None:
    """Count each group as a transition; lost if nobody recorded it, doubled if two did."""
    for group in groups:
        ids = sorted({r.event_id for r in group.records})
        baseline_only = group.baseline and entity != RACE and not ids
        if baseline_only:
            continue
        result.transitions += 1
        if not ids and (group.exposed or group.final):
            result.lost += 1
            why = "final value" if group.final else "shown >= 0.5 s to a live bot"
            result.problems.append(
                f"lost: {slug} {entity} -> {group.value[0]} at v{group.first_version} ({why})"
            )
        if len(ids) > 1:
            result.duplicates_new_id += len(ids) - 1
            result.problems.append(
                f"duplicates_new_id: {slug} {entity} -> {group.value[0]}: {', '.join(ids)}"
            )


def _order_and_chain(slug: str, entity: str, records: list[Record], result: Comparison) -> None:
    """In delivery order, versions never go back and each old value is the last new one."""
    previous: Record | None = None
    for record in sorted(records, key=lambda r: r.order):
        if previous is not None and (record.version or 0) < (previous.version or 0):
            result.out_of_order += 1
            result.problems.append(
                f"out_of_order: {slug} {entity}: {record.event_id} after {previous.event_id}"
            )
        expected_old = previous.new if previous is not None else (
            None if entity == RACE else ABSENT
        )
        if record.kind != BOT_JOINED and record.old != expected_old:
            result.chain_breaks += 1
            result.problems.append(
                f"chain_break: {slug} {entity}: {record.event_id} says {record.old!r} -> "
                f"{record.new!r}, last recorded {expected_old!r}"
            )
        previous = record


def compare_room(
    room: RoomHistory, records: list[Record], result: Comparison, min_exposure: float
) -> None:
    runs = {entity: entity_runs(room, entity, min_exposure) for entity in room.entities()}
    by_entity: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        by_entity[record.entity].append(record)
        index = room.index_of(record.version)
        entity_runs_ = runs.get(record.entity)
        if index is None or entity_runs_ is None:
            result.bogus += 1
            result.problems.append(f"bogus: {record.event_id}: version or entity never sent")
            continue
        run = run_at(entity_runs_, room, index)
        if run.value[0] != record.new:
            result.bogus += 1
            result.problems.append(
                f"bogus: {record.event_id} says {record.new!r}, server had {run.value[0]!r}"
            )
            continue
        run.records.append(record)
        if record.kind == BOT_JOINED:
            for entity, others in runs.items():
                if entity != RACE:
                    run_at(others, room, index).baseline = True
    for entity, entity_runs_ in runs.items():
        groups, dropped = merge_runs(entity_runs_)
        result.unexposed += dropped
        _judge_groups(room.slug, entity, groups, result)
    for entity, entity_records in by_entity.items():
        _order_and_chain(room.slug, entity, entity_records, result)


def compare(
    frames: Iterable[Frame],
    records: Iterable[Record],
    lives: Sequence[Life],
    *,
    min_exposure: float = MIN_EXPOSURE,
) -> Comparison:
    """What the listener recorded against what the server broadcast (module docstring)."""
    rooms = room_histories(frames, lives)
    by_room: dict[str, list[Record]] = defaultdict(list)
    result = Comparison()
    for record in records:
        if record.entity == "other":
            continue
        if record.slug not in rooms:
            result.bogus += 1
            result.problems.append(f"bogus: {record.event_id}: room never sent")
            continue
        by_room[record.slug].append(record)
    for slug, room in rooms.items():
        compare_room(room, by_room[slug], result, min_exposure)
    return result


def redeliveries(attempt_ids: Iterable[str]) -> int:
    """Deliveries of an event_id beyond its first."""
    return sum(count - 1 for count in Counter(attempt_ids).values())


# -- the engine's database (read from this process) ------------------------------------------


class EngineDb:
    """Reads the engine's SQLite file (WAL: never in the engine's way)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _query(self, sql: str) -> list[tuple[Any, ...]]:
        if not self.path.exists():
            return []
        try:
            with contextlib.closing(sqlite3.connect(self.path, timeout=10)) as connection:
                return connection.execute(sql).fetchall()
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return []
            raise

    async def query(self, sql: str) -> list[tuple[Any, ...]]:
        return await asyncio.to_thread(self._query, sql)

    async def joined_rooms(self) -> set[str]:
        rows = await self.query(
            f"SELECT DISTINCT room_slug FROM bench_crash_records WHERE kind = '{BOT_JOINED}'"
        )
        return {slug for (slug,) in rows}

    async def undelivered(self) -> int:
        rows = await self.query("SELECT COUNT(*) FROM event_log WHERE delivered_at IS NULL")
        return int(rows[0][0]) if rows else 0

    async def active_rooms(self) -> int:
        """Rooms the engine watches (a restart rejoins them)."""
        rows = await self.query("SELECT COUNT(*) FROM race_rooms WHERE is_active")
        return int(rows[0][0]) if rows else 0

    async def room_versions(self) -> dict[str, int]:
        rows = await self.query("SELECT slug, last_version FROM race_rooms")
        return {slug: int(version or 0) for slug, version in rows}

    async def records(self) -> list[Record]:
        rows = await self.query(
            "SELECT id, event_id, kind, room_slug, entity, old_value, new_value, "
            "racetime_version FROM bench_crash_records ORDER BY id"
        )
        return [Record(*row) for row in rows]

    async def attempt_ids(self) -> list[str]:
        return [row[0] for row in await self.query("SELECT event_id FROM bench_crash_attempts")]

    async def count(self, table: str) -> int:
        rows = await self.query(f"SELECT COUNT(*) FROM {table}")
        return int(rows[0][0]) if rows else 0


# -- processes -------------------------------------------------------------------------------


def _log_file(path: Path) -> IO[bytes]:
    return path.open("ab")


class EngineProcess:
    """One run of ``bench.crash_engine`` (or another engine ``module``, e.g.
    ``bench.chat_engine``, with ``env`` added to this process's environment); its stdout
    markers are collected as they come."""

    def __init__(
        self,
        args: list[str],
        log_path: Path,
        *,
        module: str = "bench.crash_engine",
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._args = args
        self._log_path = log_path
        self._module = module
        self._env = {**os.environ, **env} if env else None
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self._changed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self.started_at = math.inf
        self.died_at = math.inf

    @property
    def life(self) -> Life:
        return self.started_at, self.died_at

    async def start(self, *extra: str) -> None:
        self.started_at = time.monotonic()
        with _log_file(self._log_path) as stderr:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", self._module, *self._args, *extra,
                stdout=asyncio.subprocess.PIPE, stderr=stderr, cwd=PROJECT_ROOT, env=self._env,
            )
        self._reader = asyncio.create_task(self._read(), name="bench-engine-stdout")

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.append(line.decode().strip())
            self._changed.set()
        self._changed.set()

    def markers(self, prefix: str) -> list[list[str]]:
        return [line.split()[1:] for line in self.lines if line.split()[:1] == [prefix]]

    async def wait_for(self, predicate: Callable[[], bool], within: float) -> bool:
        """Wait until ``predicate()`` holds (checked on every marker and at exit)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while not predicate():
                    if not self.alive and self._reader is not None and self._reader.done():
                        return predicate()
                    self._changed.clear()
                    await self._changed.wait()
        return predicate()

    async def wait_marker(self, prefix: str, count: int = 1, within: float = START_TIMEOUT) -> bool:
        return await self.wait_for(lambda: len(self.markers(prefix)) >= count, within)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def kill(self) -> float:
        """SIGKILL; returns the moment it was sent (the engine's last moment)."""
        assert self.proc is not None
        if self.alive:
            self.died_at = time.monotonic()
            self.proc.send_signal(signal.SIGKILL)
        await self.wait()
        return self.died_at

    async def wait(self, within: float | None = None) -> int | None:
        """The exit code, or None if it is still running after ``within`` seconds."""
        assert self.proc is not None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self.proc.wait()
                if self._reader is not None:
                    await self._reader
        return self.proc.returncode

    async def terminate(self, within: float) -> int | None:
        """SIGTERM and wait for the orderly shutdown; SIGKILL if it takes too long."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = await self.wait(within)
        if code is None:
            await self.kill()
        return code

    def note_death(self) -> float:
        """An exit it chose (``DYING <t> <where>``) or not: when it happened, about."""
        dying = self.markers("DYING")
        self.died_at = float(dying[-1][0]) if dying else time.monotonic()
        return self.died_at


class ServerProcess:
    """``bench.crash_server``: the fake racetime server with its broadcast log on."""

    def __init__(self, log_path: Path) -> None:
        self._log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0

    async def start(self) -> None:
        with _log_file(self._log_path) as stderr:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.crash_server", cwd=PROJECT_ROOT,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=stderr,
            )
        assert self.proc.stdout is not None
        async with asyncio.timeout(START_TIMEOUT):
            line = (await self.proc.stdout.readline()).decode().split()
        if line[:1] != ["READY"]:
            raise RuntimeError(f"the fake server did not start: {line}")
        self.port = int(line[1])

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"STOP\n")
        await self.proc.stdin.drain()
        try:
            async with asyncio.timeout(10):
                await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


class FakeApi:
    """The fake server's ``/_test`` API and public race data of one ``category``, over HTTP."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        port: int,
        engine_down: Callable[[], bool],
        category: str = CATEGORY,
    ) -> None:
        self._session = session
        self.base = f"http://127.0.0.1:{port}"
        self._engine_down = engine_down
        self.category = category
        self.actions = Counter[str]()  # racer actions racetime accepted: "up" / "down"

    async def post(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        async with self._session.post(self.base + path, json=body or {}) as response:
            return response.status, await response.json()

    async def get(self, path: str) -> Any:
        async with self._session.get(self.base + path) as response:
            response.raise_for_status()
            return await response.json()

    async def add_user(self, name: str) -> str:
        body = {"name": name, "stream_live": True, "twitch_channel": name.lower()}
        return str((await self.post("/_test/users", body))[1]["id"])

    async def open_room(self) -> str:
        body = {"category": self.category, "streaming_required": False}
        return str((await self.post("/_test/races", body))[1]["slug"])

    async def act(self, slug: str, user: str, action: str) -> bool:
        status, _ = await self.post(f"/_test/races/{slug}/racers/{user}/{action}")
        if status == 200:
            self.actions["down" if self._engine_down() else "up"] += 1
        return status == 200

    async def race(self, slug: str) -> dict[str, Any]:
        return dict(await self.get(f"/{self.category}/{slug}/data"))

    async def broadcasts(self) -> list[Frame]:
        data = await self.get("/_test/broadcasts")
        return [Frame.of(raw) for raw in data["broadcasts"]]


# -- racers ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Pace:
    """How long racers take between actions (seconds of wall time)."""

    mean_gap: float
    rng: random.Random

    def gap(self) -> float:
        return self.rng.uniform(0.1, 2 * self.mean_gap)

    def quick(self) -> float:
        """A second thought: undoing something soon after (often under 0.5 s)."""
        return self.rng.uniform(0.05, 0.8)


async def wait_status(api: FakeApi, slug: str, wanted: Sequence[str], within: float) -> str:
    async with asyncio.timeout(within):
        while True:
            status = str((await api.race(slug))["status"]["value"])
            if status in wanted:
                return status
            await asyncio.sleep(0.1)


async def insist(api: FakeApi, slug: str, user: str, action: str, tries: int = 100) -> bool:
    """Repeat an action racetime refuses for now (finishing within 5 s of the start)."""
    for _ in range(tries):
        if await api.act(slug, user, action):
            return True
        if (await api.race(slug))["status"]["value"] not in ("in_progress", "pending"):
            return False
        await asyncio.sleep(0.1)
    return False


async def gather_up(api: FakeApi, slug: str, users: list[str], pace: Pace) -> None:
    """Join, sometimes leave and come back; then ready, sometimes unready and ready again."""
    for user in users:
        await asyncio.sleep(pace.gap())
        await api.act(slug, user, "join")
        if pace.rng.random() < 0.15:
            await asyncio.sleep(pace.quick())
            await api.act(slug, user, "leave")
            await asyncio.sleep(pace.gap())
            await api.act(slug, user, "join")
    for user in users:
        await asyncio.sleep(pace.gap())
        await api.act(slug, user, "ready")
        if pace.rng.random() < 0.15 and user != users[-1]:
            await asyncio.sleep(pace.quick())
            await api.act(slug, user, "unready")
            await asyncio.sleep(pace.gap())
            await api.act(slug, user, "ready")


async def finish_one(api: FakeApi, slug: str, user: str, pace: Pace) -> None:
    """Finish (3 in 4) or forfeit, sometimes undone or unforfeited and finished again."""
    if pace.rng.random() < 0.75:
        if not await insist(api, slug, user, "done"):
            return
        if pace.rng.random() < 0.25:
            await asyncio.sleep(pace.quick())
            if await api.act(slug, user, "undone"):
                await asyncio.sleep(pace.gap())
                await insist(api, slug, user, "done")
    else:
        if not await insist(api, slug, user, "forfeit"):
            return
        if pace.rng.random() < 0.2:
            await asyncio.sleep(pace.quick())
            if await api.act(slug, user, "unforfeit"):
                await asyncio.sleep(pace.gap())
                await insist(api, slug, user, "done")


async def race_room(api: FakeApi, slug: str, users: list[str], pace: Pace, start: float) -> None:
    """One room's race from the first join to the final result, then maybe an un-finish."""
    await asyncio.sleep(start)
    await gather_up(api, slug, users, pace)
    await wait_status(api, slug, ("in_progress",), within=120)
    for user in pace.rng.sample(users, len(users)):
        await asyncio.sleep(pace.gap())
        await finish_one(api, slug, user, pace)
    status = await wait_status(api, slug, ("finished", "cancelled"), within=120)
    if status == "finished" and pace.rng.random() < 0.35:
        finished = [e["user"]["id"] for e in (await api.race(slug))["entrants"]
                    if e["status"]["value"] == "done"]
        user = pace.rng.choice(finished)
        await asyncio.sleep(pace.quick())
        if await api.act(slug, user, "undone"):  # the race is back in progress
            await asyncio.sleep(pace.gap())
            await insist(api, slug, user, "done")


async def open_racing_rooms(
    api: FakeApi, rooms: int, racers: int, rng: random.Random
) -> dict[str, list[str]]:
    """``rooms`` rooms on the fake, each with 2 to ``racers`` racers of its own (users made
    for it; nobody has joined yet): slug -> the racers' user ids."""
    opened: dict[str, list[str]] = {}
    for index in range(rooms):
        slug = await api.open_room()
        count = rng.randint(2, max(2, racers))
        opened[slug] = [await api.add_user(f"R{index}x{n}") for n in range(count)]
    return opened


def race_rooms(
    api: FakeApi, rooms: dict[str, list[str]], *, racers: int, seconds: float,
    rng: random.Random,
) -> list[asyncio.Task[None]]:
    """Every room's racers at a human pace over about ``seconds``, the rooms starting over
    the first third of it (``racers``: the most a room has)."""
    steps = 3 * racers + 3
    pace = Pace(mean_gap=max(0.15, (0.7 * seconds - 3.0) / steps), rng=rng)
    return [
        asyncio.create_task(
            race_room(api, slug, users, pace, rng.uniform(0, 0.3 * seconds)),
            name=f"bench-race:{slug}",
        )
        for slug, users in rooms.items()
    ]


async def run_clock(api: FakeApi) -> None:
    """The fake clock runs 8 times faster than the wall clock (countdowns take 2 s)."""
    while True:
        await asyncio.sleep(0.25)
        await api.post("/_test/advance", {"seconds": 2.0})


# -- the run ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Config:
    kills: int = 20
    listener_delay: float = 1.0
    rooms: int = 12
    racers: int = 4
    seed: int = 1
    span: float = 0.0  # seconds of racing; 0: about 3 s per kill
    workdir: Path | None = None

    @property
    def racing_seconds(self) -> float:
        return self.span or max(12.0, 3.0 * self.kills)


@dataclass(slots=True)
class KillLog:
    deaths: list[float] = field(default_factory=list)
    modes: Counter[str] = field(default_factory=Counter)
    unexpected_exits: int = 0
    after_join_ms: list[float] = field(default_factory=list)  # "join" kills: how soon
    order: list[str] = field(default_factory=list)  # the mode of each death, in order

    def add(self, mode: str, at: float) -> None:
        self.deaths.append(at)
        self.modes[mode] += 1
        self.order.append(mode)

    @property
    def kills(self) -> int:
        return sum(self.modes.values())


class CrashBench:
    def __init__(
        self, config: Config, workdir: Path, session: aiohttp.ClientSession, port: int
    ) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.api = FakeApi(session, port, self.engine_down)
        self.db = EngineDb(workdir / "engine.sqlite3")
        self.kill_log = KillLog()
        self._workdir = workdir
        self._engine_args = [
            "--db", str(self.db.path), "--host", f"127.0.0.1:{port}",
            "--category", CATEGORY, "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET,
            "--listener-delay", str(config.listener_delay),
        ]
        self.engine: EngineProcess | None = None
        self.engines: list[EngineProcess] = []
        self.lives = 0

    def engine_down(self) -> bool:
        """No engine, or one that has not reached its rooms yet."""
        engine = self.engine
        return engine is None or not engine.alive or not engine.markers("JOINED")

    async def start_engine(self, *extra: str) -> EngineProcess:
        self.lives += 1
        engine = EngineProcess(self._engine_args, self._workdir / f"engine-{self.lives:03d}.log")
        await engine.start(*extra)
        self.engine = engine
        self.engines.append(engine)
        return engine

    @property
    def code_versions(self) -> set[str]:
        """Fingerprints of the engine source each run started with (should be one)."""
        return {m[1] for e in self.engines for m in e.markers("READY") if len(m) > 1}

    async def kill_engine(self, mode: str) -> None:
        assert self.engine is not None
        self.kill_log.add(mode, await self.engine.kill())

    # -- kill modes ----------------------------------------------------------------------

    async def kill_at_random(self) -> None:
        engine = await self.start_engine()
        await engine.wait_marker("READY")
        await asyncio.sleep(self.rng.uniform(0.0, 3.0))
        await self.kill_engine("timed")

    async def kill_near_join(self) -> None:
        """SIGKILL within 100 ms of the k-th room (re)joined in this run of the engine."""
        engine = await self.start_engine()
        k = self.rng.randint(1, min(3, self.config.rooms))
        joined = await engine.wait_marker("JOINED", k, within=10.0)
        await asyncio.sleep(self.rng.uniform(0.0, 0.09))  # markers take a few ms to arrive
        await self.kill_engine("join" if joined else "join_timeout")
        if joined:
            at = float(engine.markers("JOINED")[k - 1][1])
            self.kill_log.after_join_ms.append((self.kill_log.deaths[-1] - at) * 1000)

    async def kill_in_commit(self) -> None:
        phase = self.rng.choice(("before", "after"))
        n = self.rng.randint(1, 60)
        await self.let_it_die(f"commit_{phase}", "--die-at-commit", str(n), "--die-phase", phase)

    async def kill_after_record(self) -> None:
        """The listener recorded an event; the dispatcher has not acknowledged it yet."""
        await self.let_it_die("record", "--die-after-record", str(self.rng.randint(1, 10)))

    async def let_it_die(self, mode: str, *options: str) -> None:
        """Start an engine that kills itself (SIGKILL after 10 s if it does not)."""
        engine = await self.start_engine(*options)
        if await engine.wait(within=10.0) is None:
            await self.kill_engine(f"{mode}_timeout")
        elif engine.markers("DYING"):
            self.kill_log.add(mode, engine.note_death())
        else:
            self.kill_log.unexpected_exits += 1
            self.kill_log.add("crashed", engine.note_death())

    def kill_plan(self) -> list[str]:
        """Two kills while joining (before racers act), the engine that joined the rooms at a
        random moment, then a shuffled mix of the modes."""
        kills = self.config.kills
        joining = ["join"] * min(2, kills)
        first = ["timed"] * min(1, kills - len(joining))
        modes = ["commit", "record", "join", "timed"] * kills
        rest = modes[: kills - len(joining) - len(first)]
        self.rng.shuffle(rest)
        return joining + first + rest

    async def kill_once(self, mode: str) -> None:
        if mode == "timed":
            await self.kill_at_random()
        elif mode == "join":
            await self.kill_near_join()
        elif mode == "record":
            await self.kill_after_record()
        else:
            await self.kill_in_commit()

    # -- phases --------------------------------------------------------------------------

    async def open_rooms(self) -> dict[str, list[str]]:
        await self.api.post(
            "/_test/bots",
            {"category": CATEGORY, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
             "name": "CrashBot"},
        )
        return await open_racing_rooms(self.api, self.config.rooms, self.config.racers, self.rng)

    async def join_all(self, rooms: Iterable[str], plan: list[str]) -> None:
        """Kill while joining as planned, then run until every room's baseline is recorded."""
        while plan and plan[0] == "join":
            await self.kill_once(plan.pop(0))
            await asyncio.sleep(self.rng.uniform(0.1, 0.5))
        engine = await self.start_engine()
        wanted = set(rooms)
        async with asyncio.timeout(START_TIMEOUT + 10 * self.config.listener_delay):
            while not wanted <= await self.db.joined_rooms():
                if not engine.alive:
                    raise RuntimeError("the engine died while joining the rooms")
                await asyncio.sleep(0.05)

    async def crash_repeatedly(self, plan: list[str]) -> None:
        """The racing phase: the engine that joined dies first, then one engine per kill;
        racers act while it is down. The last engine started is left running."""
        if not plan:
            return
        await asyncio.sleep(self.rng.uniform(0.0, 3.0))
        await self.kill_engine("timed")
        for mode in plan[1:]:
            await asyncio.sleep(self.rng.uniform(0.2, 2.0))
            await self.kill_once(mode)
        await asyncio.sleep(self.rng.uniform(0.2, 2.0))
        await self.start_engine()

    def race(self, rooms: dict[str, list[str]]) -> list[asyncio.Task[None]]:
        """Every room's racers, spread over the first third of the racing time."""
        return race_rooms(
            self.api, rooms, racers=self.config.racers, seconds=self.config.racing_seconds,
            rng=self.rng,
        )

    async def rejoined(self, engine: EngineProcess) -> None:
        """Until ``engine`` started and is back in every room still watched."""
        if not await engine.wait_marker("READY"):
            raise RuntimeError("the last engine did not start")
        if not await engine.wait_marker("JOINED", await self.db.active_rooms()):
            raise RuntimeError("the last engine did not rejoin every active room")

    async def drain(self, rooms: Iterable[str]) -> None:
        """Until the engine has every room's last version and nothing is undelivered."""
        async with asyncio.timeout(DRAIN_TIMEOUT):
            while True:
                server = {slug: int((await self.api.race(slug))["version"]) for slug in rooms}
                stored = await self.db.room_versions()
                behind = [s for s, v in server.items() if stored.get(s, 0) < v]
                if not behind and await self.db.undelivered() == 0:
                    return
                await asyncio.sleep(0.25)

    async def run(self) -> dict[str, Any]:
        started = time.monotonic()
        rooms = await self.open_rooms()
        plan = self.kill_plan()
        await self.join_all(rooms, plan)
        clock = asyncio.create_task(run_clock(self.api), name="bench-clock")
        racers = self.race(rooms)
        try:
            await self.crash_repeatedly(plan)
            await asyncio.gather(*racers)
        finally:
            for task in (*racers, clock):
                task.cancel()
            await asyncio.gather(*racers, clock, return_exceptions=True)
        final = self.engine
        if final is None or not final.alive:
            final = await self.start_engine()
        await self.rejoined(final)
        await self.drain(rooms)
        exit_code = await final.terminate(within=300)
        return await self.report(rooms, exit_code, time.monotonic() - started)

    async def report(
        self, rooms: dict[str, list[str]], exit_code: int | None, wall: float
    ) -> dict[str, Any]:
        frames = await self.api.broadcasts()
        records = await self.db.records()
        attempts = await self.db.attempt_ids()
        result = compare(frames, records, [engine.life for engine in self.engines])
        ids = Counter(r.event_id for r in records)
        for problem in result.problems:
            print(problem, file=sys.stderr)
        if self.config.workdir is not None:
            self.keep_evidence(frames, result)
        return {
            "bench": "crash",
            "kills": self.kill_log.kills,
            "transitions": result.transitions,
            "lost": result.lost,
            "duplicates_same_id": redeliveries(attempts),
            "duplicates_new_id": result.duplicates_new_id,
            "bogus": result.bogus,
            "out_of_order": result.out_of_order,
            "chain_breaks": result.chain_breaks,
            "unexposed_runs": result.unexposed,
            "recorded_twice": sum(n - 1 for n in ids.values()),
            "rooms": len(rooms),
            "racers": sum(len(users) for users in rooms.values()),
            "frames": len(frames),
            "events_logged": await self.db.count("event_log"),
            "events_recorded": len(records),
            "undelivered_after_stop": await self.db.undelivered(),
            "parked": await self.db.count("event_deliveries_parked"),
            "kill_modes": dict(sorted(self.kill_log.modes.items())),
            "join_kill_ms_max": round(max(self.kill_log.after_join_ms, default=0.0), 1),
            "unexpected_exits": self.kill_log.unexpected_exits,
            "racer_actions": self.api.actions["up"] + self.api.actions["down"],
            "racer_actions_while_down": self.api.actions["down"],
            "engine_runs": self.lives,
            "code_versions": len(self.code_versions),
            "exit_code": exit_code,
            "listener_delay": self.config.listener_delay,
            "seed": self.config.seed,
            "wall_s": round(wall, 1),
            "python": sys.version.split()[0],
        }

    def keep_evidence(self, frames: list[Frame], result: Comparison) -> None:
        """What the comparison saw, for a look afterwards (``--workdir`` only)."""
        evidence = {
            "lives": [engine.life for engine in self.engines],
            "kills": self.kill_log.order,
            "engines": [
                {
                    "pid": engine.proc.pid if engine.proc else None,
                    "returncode": engine.proc.returncode if engine.proc else None,
                    "markers": [line for line in engine.lines if not line.startswith("JOINED")],
                }
                for engine in self.engines
            ],
            "broadcasts": [
                {**vars_of(frame), "entrants": list(frame.entrants.items())} for frame in frames
            ],
            "problems": result.problems,
        }
        (self._workdir / "evidence.json").write_text(json.dumps(evidence, indent=1))


def vars_of(frame: Frame) -> dict[str, Any]:
    return {name: getattr(frame, name) for name in Frame.__slots__}


async def run(config: Config) -> dict[str, Any]:
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="racedesk-crash-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if any(workdir.iterdir()):
        raise SystemExit(f"{workdir} is not empty: a run needs a fresh database")
    server = ServerProcess(workdir / "server.log")
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            bench = CrashBench(config, workdir, session, server.port)
            try:
                return await bench.run()
            finally:
                if bench.engine is not None and bench.engine.alive:
                    await bench.engine.kill()
    finally:
        await server.stop()
        if config.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def parse_args(argv: list[str]) -> Config:
    parser = argparse.ArgumentParser(prog="python -m bench.crash")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--listener-delay", type=float, default=1.0)
    parser.add_argument("--rooms", type=int, default=12)
    parser.add_argument("--racers", type=int, default=4, help="at most this many per room (>= 2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=0.0, help="racing time (0: 3 s a kill)")
    parser.add_argument("--quick", action="store_true", help="3 rooms, 2 racers, 5 kills")
    parser.add_argument("--workdir", type=Path, help="keep the database and logs here")
    args = parser.parse_args(argv)
    if args.quick:
        args.rooms, args.racers, args.kills = 3, 2, 5
    return Config(
        kills=args.kills,
        listener_delay=args.listener_delay,
        rooms=args.rooms,
        racers=args.racers,
        seed=args.seed,
        span=args.seconds,
        workdir=args.workdir,
    )


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    config = parse_args(sys.argv[1:] if argv is None else argv)
    print(json.dumps(asyncio.run(run(config))))


if __name__ == "__main__":
    main()
