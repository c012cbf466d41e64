"""The engine in a process of its own, SIGKILLed and SIGTERMed: nothing lost, nothing doubled.

Real parts only: ``bench.crash_engine`` (the application's services built by
``bot.build_services``, a durable listener) runs as a subprocess on its own SQLite file (on
both test backends), against the fake racetime server in the test's loop; what its listener
recorded is checked against the event log and against the server's broadcast log with the
bench's own comparison. Waiting is on conditions (stdout markers, rows), never on time.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bench.crash import (
    BOT_JOINED,
    EngineDb,
    EngineProcess,
    Frame,
    Record,
    compare,
    redeliveries,
)
from fake_racetime import FakeRacetimeServer
from fake_racetime.server import Broadcast
from tests.plugins.fake_racetime import ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET

CATEGORY = "alttpr"
WITHIN = 30.0  # generous: a loaded machine starts a Python process slowly


@dataclass
class EngineRig:
    """Starts, kills and inspects engine processes on one SQLite file."""

    fake: FakeRacetimeServer
    workdir: Path
    listener_delay: float
    db: EngineDb = field(init=False)
    engines: list[EngineProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.db = EngineDb(self.workdir / "engine.sqlite3")

    async def start(self, *options: str) -> EngineProcess:
        args = [
            "--db", str(self.db.path), "--host", self.fake.host, "--category", CATEGORY,
            "--client-id", ALTTPR_CLIENT_ID, "--client-secret", ALTTPR_CLIENT_SECRET,
            "--listener-delay", str(self.listener_delay), "--log-level", "WARNING",
        ]
        engine = EngineProcess(args, self.workdir / f"engine-{len(self.engines)}.log")
        self.engines.append(engine)
        await engine.start(*options)
        assert await engine.wait_marker("READY", within=WITHIN), self.log_tail()
        return engine

    async def died(self, engine: EngineProcess) -> None:
        """Wait for an engine that kills itself to do so."""
        assert await engine.wait(within=WITHIN) is not None, "the engine did not die"
        assert engine.markers("DYING"), self.log_tail()
        engine.note_death()

    @property
    def lives(self) -> list[tuple[float, float]]:
        return [engine.life for engine in self.engines]

    def log_tail(self) -> str:
        path = self.workdir / f"engine-{len(self.engines) - 1}.log"
        return path.read_text()[-3000:] if path.exists() else ""

    async def logged_ids(self) -> Counter[str]:
        rows = await self.db.query(
            "SELECT event_id FROM event_log WHERE partition_key LIKE 'room:%'"
        )
        return Counter(event_id for (event_id,) in rows)

    async def recorded_ids(self) -> Counter[str]:
        return Counter(record.event_id for record in await self.db.records())

    async def undelivered(self) -> int:
        return await self.db.undelivered()

    async def is_logged(self, event_id: str) -> bool:
        return event_id in await self.logged_ids()

    async def caught_up(self, slug: str) -> bool:
        """The engine stored the room's current version and delivered every event."""
        stored = (await self.db.room_versions()).get(slug, 0)
        return stored >= self.fake.race(slug).version and await self.undelivered() == 0


async def until(check: Callable[[], bool | Awaitable[bool]], within: float = WITHIN) -> None:
    """Poll ``check`` (state of another process) until it holds, for at most ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        done = check()
        if inspect.isawaitable(done):
            done = await done
        if done:
            return
        assert time.monotonic() < deadline, f"timed out waiting for {check}"
        await asyncio.sleep(0.02)


@pytest.fixture
async def rig(fake_racetime: FakeRacetimeServer, tmp_path: Path) -> AsyncIterator[EngineRig]:
    fake_racetime.enable_broadcast_log()
    rig = EngineRig(fake_racetime, tmp_path, listener_delay=0.15)
    try:
        yield rig
    finally:
        for engine in rig.engines:
            if engine.alive:
                await engine.kill()


def status_event_id(slug: str, version: int, change: str) -> str:
    return f"{CATEGORY}/{slug}:{version}:RacetimeRaceStatusChangedEvent:{change}"


async def joined(rig: EngineRig, slug: str) -> None:
    """Until the listener recorded that the bot joined ``slug`` (the room's baseline)."""
    async def recorded() -> bool:
        return slug in await rig.db.joined_rooms()

    await until(recorded)


async def race_to_pending(rig: EngineRig, slug: str, *users: str) -> None:
    """Everyone joins, then everyone readies up: the race counts down."""
    for user in users:
        await rig.fake.racer(slug, user).join()
    for user in users:
        await rig.fake.racer(slug, user).ready()
    await until(lambda: rig.fake.race(slug).status == "pending")


def frames_of(log: list[Broadcast] | None) -> list[Frame]:
    return [Frame.of(broadcast.as_dict()) for broadcast in log or []]


async def test_engine_killed_mid_race_loses_and_doubles_nothing(rig: EngineRig) -> None:
    fake = rig.fake
    one, two, three = (fake.seed.users[n] for n in ("RacerOne", "RacerTwo", "RacerThree"))
    race = fake.open_race(CATEGORY, streaming_required=False)
    # SIGKILLed right after its listener recorded the 4th event, before it is acknowledged.
    engine = await rig.start("--die-after-record", "4")
    await joined(rig, race.slug)
    await race_to_pending(rig, race.slug, one, two, three)
    await fake.advance_to_start(race.slug)
    await fake.advance(6)
    await rig.died(engine)
    fourth = (await rig.db.records())[3].event_id
    assert await rig.undelivered() > 0

    # While the engine is down: a finish undone and redone, a forfeit, a finish.
    for user, action in (
        (one, "done"), (one, "undone"), (one, "done"), (two, "forfeit"), (three, "done"),
    ):
        await fake.racer(race.slug, user).do(action)
    await until(lambda: race.status == "finished")

    engine = await rig.start()
    await until(lambda: rig.caught_up(race.slug))
    assert await engine.terminate(within=WITHIN) == 0, rig.log_tail()

    assert await rig.undelivered() == 0
    logged, recorded = await rig.logged_ids(), await rig.recorded_ids()
    assert recorded == logged, "every room event recorded, each exactly once"
    assert Counter(await rig.db.attempt_ids())[fourth] == 2, "delivered again, same id"
    records = await rig.db.records()
    final = {(r.entity, r.new) for r in records if r.version == race.version}
    assert final == {("race", "finished"), (one, "done"), (two, "dnf"), (three, "done")}
    result = compare(frames_of(fake.broadcast_log), records, rig.lives)
    assert result.problems == []
    assert result.transitions == len(records)


async def test_sigterm_delivers_every_pending_event(rig: EngineRig) -> None:
    fake = rig.fake
    rig.listener_delay = 0.3
    race = fake.open_race(CATEGORY, streaming_required=False)
    engine = await rig.start()
    await joined(rig, race.slug)
    await race_to_pending(rig, race.slug, *fake.seed.users.values())
    await until(lambda: rig.is_logged(status_event_id(race.slug, race.version, "open>pending")))
    assert await rig.undelivered() >= 3, "events should be waiting for the slow listener"

    assert await engine.terminate(within=WITHIN) == 0, rig.log_tail()

    assert engine.markers("STOPPED")
    assert await rig.undelivered() == 0
    logged, recorded = await rig.logged_ids(), await rig.recorded_ids()
    # The bot joined; three entrants joined and readied up; the race counts down.
    assert recorded == logged and len(logged) == 8


# -- the comparison itself -------------------------------------------------------------------

U = "user-one-0000000"


def frame(
    at: float, version: int, status: str = "open", user: str | None = None, *,
    connect: bool = False, bots: int = 1,
) -> Frame:
    entrants = {U: (user, None)} if user else {}
    return Frame(at, "r", version, status, entrants, bots, "connect" if connect else "change")


def record(
    order: int, version: int, entity: str, old: str | None, new: str, kind: str = ""
) -> Record:
    kind = kind or ("RacetimeRaceStatusChangedEvent" if entity == "race" else "Entrant")
    return Record(order, f"r:{version}:{kind}:{entity}", kind, "r", entity, old, new, version)


# The engine joins at t=0 and dies at t=0.5; a racer joins and readies while it is down; a
# new engine starts at t=1.5, connects at t=2 (it sees v3) and stays; the race goes pending
# at t=3.
FRAMES = [
    frame(0.0, 1, connect=True),
    frame(1.0, 2, user="not_ready", bots=0),
    frame(1.2, 3, user="ready", bots=0),
    frame(2.0, 3, user="ready", connect=True),
    frame(3.0, 4, "pending", user="ready"),
]
LIVES = [(-1.0, 0.5), (1.5, math.inf)]
RECORDS = [
    record(1, 1, "race", None, "open", BOT_JOINED),
    record(2, 3, U, "absent", "ready"),
    record(3, 4, "race", "open", "pending"),
]


def test_comparison_of_a_clean_run() -> None:
    result = compare(FRAMES, RECORDS, LIVES)
    assert result.problems == []
    # race open, race pending, racer ready; not_ready came and went while no bot listened.
    assert (result.transitions, result.unexposed) == (3, 1)


@pytest.mark.parametrize("missing", [1, 2])
def test_comparison_finds_lost_transitions(missing: int) -> None:
    records = [r for r in RECORDS if r.order != missing + 1]
    result = compare(FRAMES, records, LIVES)
    assert result.lost == 1, result.problems


@pytest.mark.parametrize(("shown", "lost", "unexposed"), [(0.3, 0, 2), (0.6, 2, 1)])
def test_a_value_a_live_bot_had_for_half_a_second_must_be_recorded(
    shown: float, lost: int, unexposed: int
) -> None:
    # The racer is "done" for ``shown`` s, then "ready" again. Unrecorded, a short "done" is
    # no loss (ready all along, as far as anyone could tell); a long one loses "done" and
    # the return to "ready".
    frames = [*FRAMES, frame(3.5, 5, "pending", "done"), frame(3.5 + shown, 6, "pending", "ready")]
    result = compare(frames, RECORDS, LIVES)
    assert (result.lost, result.unexposed) == (lost, unexposed)


def test_comparison_finds_bogus_duplicate_and_out_of_order_records() -> None:
    bogus = [*RECORDS[:2], record(3, 4, "race", "open", "in_progress")]
    assert compare(FRAMES, bogus, LIVES).bogus == 1
    again = Record(4, "another-id", "RacetimeRaceStatusChangedEvent", "r", "race", "open",
                   "pending", 4)
    assert compare(FRAMES, [*RECORDS, again], LIVES).duplicates_new_id == 1
    swapped = [
        RECORDS[0],
        record(2, 3, U, "absent", "ready"),
        record(3, 2, U, "absent", "not_ready"),
        RECORDS[2],
    ]
    assert compare(FRAMES, swapped, LIVES).out_of_order == 1


def test_a_socket_accepted_after_its_engine_died_was_never_up() -> None:
    # The server accepts a handshake that was on its way when the engine died at t=0.5; the
    # next engine starts at t=1.5 only. Nobody saw the racer join and leave: no loss. Had an
    # engine been alive, both would be lost.
    frames = [frame(0.0, 1, connect=True), frame(0.4, 2, user="not_ready", bots=0),
              frame(0.51, 2, user="not_ready", connect=True), frame(1.4, 3, bots=0)]
    records = [RECORDS[0]]
    assert compare(frames, records, LIVES).lost == 0
    assert compare(frames, records, [(-1.0, 0.5), (0.45, math.inf)]).lost == 2


def test_redeliveries_count_repeats_of_one_event_id() -> None:
    assert redeliveries(["a", "b", "a", "a"]) == 2
