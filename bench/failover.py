"""``python -m bench.failover``: a leader and a standby on one PostgreSQL database, the leader
SIGKILLed, paused and SIGTERMed again and again while rooms race, matches fall due and a
DM fan-out goes out; how long each takeover took, and whether anything was lost, done twice
or done by a process that had lost the lease (issue 27).

Processes over loopback, each its own:

- the fake racetime server (``bench.room_open_server --broadcast-log``: the ``alttpr``
  category, a bot app, two players per match; a request log naming which client sent each
  request and websocket action, and every ``race.data`` frame it sent);
- the fake Discord REST API and gateway (``rehearsal.fake_discord_api``: Discord's rate
  limits and nonce dedupe, every message with its sender);
- two RaceDesk processes: ``bot.py`` itself with ``[ha] enabled`` on the bench's own
  database (created and dropped by the run), each started through
  ``bench.racedesk_at_fakes``, which points discord.py at the fake Discord and signs every
  request the process makes with its name (``desk-1``, ``desk-2``, ...);
- this driver, which seeds the database (the category bot, a tournament opening rooms 30
  minutes before its matches, ``--matches`` matches falling due over the run, ``--users``
  players who take DMs), opens ``--rooms`` rooms on the fake that the leader joins and whose
  racers join, ready up, race and finish at a human pace (``bench.crash``'s racers), then
  runs the faults in a shuffled order: ``--kills`` SIGKILLs, ``--pauses`` SIGSTOPs of
  ``--pause-seconds`` then SIGCONT, ``--terms`` SIGTERMs, always on the leader, and
  ``--restarts`` restarts of the database's server (then the database runs on a server of
  the run's own, ``bench.pg_cluster``: stopped ``fast`` or ``immediate`` in turn, away for
  ``--outage-seconds``). Before each one it queues a wave of the ``--dms`` DMs and lets a
  random part of it go out. As a supervisor would, a process that ended (killed, lost its
  lead, stopped) is started again and stands by before the next fault. With ``--alone``
  one process runs, ``[ha]`` off, and only the database restarts: it must wait for its
  database and carry on (``database_back_*``: from the database back to ``/healthz`` 200).

**Takeover** is measured from the signal to the standby's ``/readyz`` answering 200,
polled every 50 ms (``takeover_kill_*``, ``takeover_term_*``, ``takeover_pause_*``).

At the end (every room opened, nothing left in the outbox, every racer done and every
event delivered) both processes are stopped and compared:

- ``rooms_opened_twice`` / ``matches_without_room``: rooms on the fake naming each match
  (``bench.room_open``'s comparison);
- ``events_lost`` / ``events_recorded_twice``: the event log against every frame the fake
  sent (``bench.crash``'s comparison; a process's life runs from the fault before it led to
  the fault that ended its lead);
- ``dms_lost`` / ``dms_sent_twice``: every outbox row (the waves, and the room-opened DMs
  RaceDesk queued itself) against the messages stored, by the nonce RaceDesk derives from
  the row; a resend the fake dropped by its nonce is ``dms_resent_deduped``;
- ``fenced_effects``: whatever changes something outside the database (a request to
  racetime other than a ``GET`` or a token, a websocket action, a Discord request other than
  a ``GET`` or opening a DM channel, a gateway session) sent by a process at a moment it did
  not hold the lease: before its epoch began or after the next one did (the lease row's
  ``acquired_at``, polled all along: when the epoch's leader may act, which after a leader
  that did not hand over is the end of that leader's trust in its last renewal, not the
  moment of the takeover), listed on stderr.

Prints one JSON line. Targets (issue 27): ``takeover_kill_p99_s`` at most 10,
``takeover_term_p99_s`` at most 2, and 0 for every count above. ``--quick`` is the size CI
runs: 10 rooms, 10 matches, 100 DMs, one fault of each kind, a 4 s lease paused for 7 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from bench import crash, notify, room_open, workdir
from bench.crash_engine import entity_change
from bench.failover_desks import Desk, Desks, Lead, LeaseWatch
from bench.pg_cluster import PrivateCluster, private_cluster
from bench.room_open_server import CATEGORY, request_kind
from core.events import RacetimeRoomEvent
from core.events.codec import decode_event
from core.sending import nonce_for
from db.engine import create_engine
from db.migrate import upgrade_to_head
from rehearsal.fake_discord_api import API_PREFIX, DEFAULT_TOKEN
from tests.deploy.racedesk_process import SECRET_KEY, write_config

KILL, PAUSE, TERM, RESTART = "kill", "pause", "term", "restart"
SIGNALS = {KILL: signal.SIGKILL, PAUSE: signal.SIGSTOP, TERM: signal.SIGTERM}
# The database server's restarts alternate: clean (sessions ended), then as after a crash.
RESTART_MODES = ("fast", "immediate")
LEAD_SECONDS = 12.0  # from seeding to the first match due: the first two processes start
START_TIMEOUT = 120.0  # hang guards, not timings
DRAIN_TIMEOUT = 300.0
WAVE_TIMEOUT = 20.0
SETTLE = (1.0, 3.0)  # seconds between a standby back and the next fault
POLL_SECONDS = 0.25
NOT_EFFECTS = {("POST", "/o/token")}  # asking racetime for a token changes nothing
DM_CHANNEL_ROUTE = f"POST {API_PREFIX}/users/@me/channels"


# -- pure parts ------------------------------------------------------------------------------


def fault_plan(
    kills: int, pauses: int, terms: int, rng: random.Random, restarts: int = 0
) -> list[str]:
    plan = [KILL] * kills + [PAUSE] * pauses + [TERM] * terms + [RESTART] * restarts
    rng.shuffle(plan)
    return plan


def expected_seconds(
    plan: Sequence[str], lease: float, pause: float, outage: float = 0.0
) -> float:
    """About how long the faults take: each takeover, the standby started again, a pause,
    the database away."""
    per = {KILL: lease + 6.0, PAUSE: pause + 6.0, TERM: 6.0, RESTART: outage + lease + 6.0}
    return sum(per[kind] + sum(SETTLE) / 2 for kind in plan) or 10.0


def spread(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` nearly equal parts (the first ones take the remainder)."""
    if parts <= 0:
        return []
    base, extra = divmod(total, parts)
    return [base + (index < extra) for index in range(parts)]


def timings(seconds: Iterable[float]) -> dict[str, float | None]:
    values = sorted(seconds)
    if not values:
        return {"p50_s": None, "p99_s": None, "max_s": None}
    return {
        "p50_s": round(room_open.percentile(values, 0.50), 3),
        "p99_s": round(room_open.percentile(values, 0.99), 3),
        "max_s": round(values[-1], 3),
    }


@dataclass(frozen=True, slots=True)
class Effect:
    """Something a client did that changes something outside the database."""

    client: str | None  # the process that sent it (its tag)
    at: float  # wall clock, time.time()
    what: str


def fenced_effects(effects: Iterable[Effect], leads: Iterable[Lead]) -> tuple[list[Effect], int]:
    """The effects sent by a process while it did not hold the lease (before its epoch
    began, or after the next one did), and how many effects carried no tag."""
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for lead in leads:
        if lead.client is not None:
            spans[lead.client].append((lead.since, lead.until))
    fenced: list[Effect] = []
    untagged = 0
    for effect in effects:
        if effect.client is None:
            untagged += 1
        elif not any(since <= effect.at < until for since, until in spans[effect.client]):
            fenced.append(effect)
    return fenced, untagged


def racetime_effects(changes: Iterable[dict[str, Any]]) -> list[Effect]:
    return [
        Effect(r["client"], float(r["at"]), f"racetime {request_kind(r['method'], r['path'])}")
        for r in changes
        if (r["method"], r["path"]) not in NOT_EFFECTS
    ]


def discord_effects(
    requests: Iterable[dict[str, Any]], sessions: Iterable[dict[str, Any]], to_wall: float
) -> list[Effect]:
    """The fake Discord's requests and gateway sessions (``at`` monotonic; ``to_wall`` is
    what to add to make it wall clock)."""
    found = [
        Effect(r.get("client"), float(r["at"]) + to_wall, f"discord {r['route']}")
        for r in requests
        if not r["route"].startswith("GET ") and r["route"] != DM_CHANNEL_ROUTE
    ]
    found += [
        Effect(s.get("client"), float(s["at"]) + to_wall, "discord gateway session")
        for s in sessions
    ]
    return found


def dm_figures(
    expected: Iterable[tuple[str, int]], messages: Iterable[dict[str, Any]]
) -> dict[str, int]:
    """Outbox rows ``(event_id, recipient's Discord id)`` against the messages stored, by the
    nonce RaceDesk gives each row's DM."""
    wanted = {nonce_for(f"dm:{event_id}:{discord_id}") for event_id, discord_id in expected}
    stored = Counter(m["nonce"] for m in messages if m.get("recipient_id"))
    return {
        "dms_expected": len(wanted),
        "dms_delivered": len(wanted & stored.keys()),
        "dms_lost": len(wanted - stored.keys()),
        "dms_sent_twice": sum(n - 1 for n in stored.values()),
        "dms_unexpected": sum(n for nonce, n in stored.items() if nonce not in wanted),
    }


def dm_gaps(
    messages: Iterable[dict[str, Any]], signals: Sequence[float], successors: Sequence[str]
) -> list[float]:
    """For each fault, from its signal to the first DM its successor delivered after it
    (faults after which no DM was left to send are left out); ``at`` all monotonic."""
    firsts: list[float] = []
    for at, successor in zip(signals, successors, strict=True):
        sent = [float(m["at"]) for m in messages
                if m.get("client") == successor and float(m["at"]) > at]
        if sent:
            firsts.append(min(sent) - at)
    return firsts


def event_records(rows: Iterable[tuple[int, str, dict[str, Any]]]) -> list[crash.Record]:
    """The event log's room events as ``bench.crash`` compares them (``rows``: seq, kind,
    payload, in order)."""
    records = []
    for seq, kind, payload in rows:
        event = decode_event(kind, payload)
        if not isinstance(event, RacetimeRoomEvent):
            continue
        entity, old, new = entity_change(event)
        records.append(crash.Record(
            seq, event.event_id, event.kind, event.room_slug, entity, old, new,
            event.racetime_version,
        ))
    return records


def lives(starts: Sequence[float], signals: Sequence[float]) -> list[crash.Life]:
    """Who could see the rooms when: the first process from its start to the first fault,
    then each next leader from the fault before it led to the one that ended its lead."""
    bounds = [starts[0], *signals]
    return [
        (bounds[index], bounds[index + 1] if index + 1 < len(bounds) else float("inf"))
        for index in range(len(bounds))
    ]


# -- the database ----------------------------------------------------------------------------


class Database:
    """The few reads the driver makes on the bench's database."""

    def __init__(self, db_url: str) -> None:
        self.url = db_url
        self._engine: AsyncEngine = create_engine(db_url, poolclass=NullPool)

    async def rows(self, sql: str) -> list[Any]:
        async with self._engine.connect() as connection:
            return list((await connection.execute(text(sql))).all())

    async def count(self, sql: str) -> int:
        return int((await self.rows(sql))[0][0])

    async def watched(self) -> dict[str, int]:
        """The rooms RaceDesk watches or watched: slug -> the last version it stored."""
        rows = await self.rows(
            f"SELECT slug, last_version FROM race_rooms WHERE category = '{CATEGORY}'"
        )
        return {slug: int(version) for slug, version in rows}

    async def pending_dms(self) -> int:
        return await self.count(
            "SELECT count(*) FROM notification_log WHERE status IN ('pending', 'sending')"
        )

    async def undelivered(self) -> int:
        return await self.count("SELECT count(*) FROM event_log WHERE delivered_at IS NULL")

    async def outbox(self) -> list[tuple[str, int]]:
        rows = await self.rows(
            "SELECT n.event_id, u.discord_id FROM notification_log n "
            "JOIN users u ON u.id = n.user_id"
        )
        return [(event_id, int(discord_id)) for event_id, discord_id in rows]

    async def outbox_statuses(self) -> dict[str, int]:
        rows = await self.rows("SELECT status, count(*) FROM notification_log GROUP BY status")
        return {status: int(n) for status, n in rows}

    async def events(self) -> list[tuple[int, str, dict[str, Any]]]:
        rows = await self.rows("SELECT seq, kind, payload FROM event_log ORDER BY seq")
        return [(int(seq), kind, payload) for seq, kind, payload in rows]

    async def close(self) -> None:
        await self._engine.dispose()


# -- the run ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Faults:
    """What the faults did (times are ``time.monotonic()``)."""

    signals: list[float] = field(default_factory=list)
    successors: list[str] = field(default_factory=list)  # who led after each fault
    takeovers: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    exits: dict[str, list[int | None]] = field(default_factory=lambda: defaultdict(list))
    order: list[str] = field(default_factory=list)


class FailoverBench:
    def __init__(
        self,
        options: argparse.Namespace,
        db: Database,
        desks: Desks,
        http: aiohttp.ClientSession,
        api: crash.FakeApi,
        discord_test: str,
        cluster: PrivateCluster | None = None,
    ) -> None:
        self.options = options
        self.cluster = cluster  # the database's own server, restarted by --restarts
        self.rng = random.Random(options.seed)
        self.db = db
        self.desks = desks
        self.http = http
        self.api = api
        self._discord_test = discord_test  # the fake Discord's /_test base
        self.faults = Faults()
        self.leader: Desk | None = None
        self.standby: Desk | None = None
        self.players: dict[int, int] = {}
        self._next_event = 0

    @property
    def takeover_limit(self) -> float:
        return 3 * float(self.options.lease_seconds) + 30.0

    async def discord(self, path: str) -> Any:
        async with self.http.get(self._discord_test + path) as response:
            response.raise_for_status()
            return await response.json()

    # -- processes -------------------------------------------------------------------------

    async def start_pair(self) -> None:
        """The first process leads; the second stands by (``--alone``: none does)."""
        first = await self.desks.launch()
        self.leader, _ = await self.desks.until_ready(self.http, [first], START_TIMEOUT)
        if self.options.alone:
            return
        second = await self.desks.launch()
        await self.desks.standing_by(second)
        self.standby = second

    async def until_joined(self, rooms: Iterable[str]) -> None:
        wanted = set(rooms)
        async with asyncio.timeout(START_TIMEOUT):
            while True:
                if wanted <= {s for s, v in (await self.db.watched()).items() if v > 0}:
                    return
                await asyncio.sleep(POLL_SECONDS)

    # -- DMs ------------------------------------------------------------------------------

    async def dm_wave(self, size: int) -> None:
        """Queue ``size`` DMs, and wait until a random part of them is out: the fault comes
        with the rest in flight."""
        if size <= 0:
            return
        before = int((await self.discord("/_test/stats"))["messages"])
        _, self._next_event = await notify.queue(
            self.db.url, self.players, size, first_event=self._next_event
        )
        target = before + self.rng.uniform(0.2, 0.6) * size
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(WAVE_TIMEOUT):
                while True:
                    if int((await self.discord("/_test/stats"))["messages"]) >= target:
                        return
                    await asyncio.sleep(0.05)

    # -- faults ---------------------------------------------------------------------------

    async def fault(self, kind: str) -> None:
        """Signal the leader; the standby takes over; the old process, once ended, is
        started again and stands by."""
        if kind == RESTART:
            await self.restart_database()
            return
        leader, standby = self.leader, self.standby
        assert leader is not None and standby is not None
        at = leader.signal(SIGNALS[kind])
        self.faults.signals.append(at)
        self.faults.order.append(kind)
        ended = asyncio.ensure_future(self.end_of(leader, kind, at))
        try:
            limit = self.takeover_limit + (self.options.pause_seconds if kind == PAUSE else 0)
            try:
                new, ready = await self.desks.until_ready(self.http, [standby], limit)
            except TimeoutError:
                raise RuntimeError(
                    f"no takeover within {limit:g} s of the {kind} of {leader.name} "
                    f"({standby.name} stood by); see the logs"
                ) from None
            self.faults.takeovers[kind].append(ready - at)
            self.faults.successors.append(new.name)
            code = await ended
        finally:
            ended.cancel()
        self.faults.exits[kind].append(code)
        replacement = await self.desks.launch()
        await self.desks.standing_by(replacement)
        self.leader, self.standby = new, replacement

    async def restart_database(self) -> None:
        """Stop the database's server for ``--outage-seconds`` (``fast`` and ``immediate``
        in turn), then start it again. A leader loses its lease with its session and exits;
        the standby takes over once the database is back. A process alone (``--alone``)
        waits for the database and carries on: its ``/healthz`` answers 200 again. The time
        taken counts from the database back to the process acting again."""
        assert self.cluster is not None and self.leader is not None
        leader, standby = self.leader, self.standby
        mode = RESTART_MODES[len(self.faults.takeovers[RESTART]) % len(RESTART_MODES)]
        at = time.monotonic()
        self.faults.order.append(RESTART)
        await self.cluster.astop(mode)
        await asyncio.sleep(self.options.outage_seconds)
        await self.cluster.astart()
        back = time.monotonic()
        limit = self.takeover_limit
        if standby is None:
            _, healthy = await self.desks.until_ready(self.http, [leader], limit, "/healthz")
            self.faults.takeovers[RESTART].append(healthy - back)
            self.faults.exits[RESTART].append(leader.process.returncode)
            return
        self.faults.signals.append(at)  # the leader's lead ends with its database session
        ended = asyncio.ensure_future(self.end_of(leader, RESTART, at))
        try:
            new, ready = await self.desks.until_ready(self.http, [standby], limit)
            self.faults.takeovers[RESTART].append(ready - back)
            self.faults.successors.append(new.name)
            code = await ended
        finally:
            ended.cancel()
        self.faults.exits[RESTART].append(code)
        replacement = await self.desks.launch()
        await self.desks.standing_by(replacement)
        self.leader, self.standby = new, replacement

    async def end_of(self, desk: Desk, kind: str, at: float) -> int | None:
        """How the signalled process ended; a paused one is resumed after the pause."""
        if kind == PAUSE:
            await asyncio.sleep(max(0.0, at + self.options.pause_seconds - time.monotonic()))
            desk.signal(signal.SIGCONT)
        code = await desk.ended(START_TIMEOUT)
        if code is None:
            desk.process.kill()
            await desk.ended()
        return code

    # -- the end ----------------------------------------------------------------------------

    async def drain(self, matches: int, last_due: float) -> bool:
        """Until every match's room is settled, nothing is left in the outbox, and every
        watched room's last version is stored with its events delivered."""
        deadline = time.monotonic() + max(0.0, last_due - time.time()) + DRAIN_TIMEOUT
        settled = await room_open.until_all_have_rooms(self.db.url, matches, deadline)
        async with asyncio.timeout(max(1.0, deadline - time.monotonic())):
            while True:
                watched = await self.db.watched()
                behind = [
                    slug for slug, version in watched.items()
                    if version < int((await self.api.race(slug))["version"])
                ]
                if (
                    not behind and not await self.db.pending_dms()
                    and not await self.db.undelivered()
                ):
                    return settled
                await asyncio.sleep(POLL_SECONDS)


async def seed_discord_users(http: aiohttp.ClientSession, base: str, ids: list[int]) -> None:
    async with http.post(base + "/_test/users", json={"ids": ids}) as response:
        response.raise_for_status()


async def bench(
    options: argparse.Namespace, db_url: str, work: Path, cluster: PrivateCluster | None = None
) -> dict[str, Any]:
    started = time.monotonic()
    to_wall = time.time() - time.monotonic()
    rng = random.Random(options.seed)
    plan = fault_plan(options.kills, options.pauses, options.terms, rng, options.restarts)
    seconds = expected_seconds(
        plan, options.lease_seconds, options.pause_seconds, options.outage_seconds
    )
    await upgrade_to_head(db_url)
    db = Database(db_url)
    async with (
        room_open.fake_racetime(options, work, broadcast_log=True) as (fake, details),
        notify.fake_discord(options, work) as api_base,
        aiohttp.ClientSession() as http,
    ):
        discord_test = api_base.removesuffix(API_PREFIX)
        user_ids = await room_open.seed_base(db_url, SECRET_KEY, details)
        await seed_discord_users(http, discord_test, [
            room_open.FIRST_DISCORD_ID + index for index in range(len(details["users"]))
        ])
        api = crash.FakeApi(http, details["port"], lambda: False, category=CATEGORY)
        rooms = await crash.open_racing_rooms(api, options.rooms, options.racers, rng)
        due, infos = await room_open.seed_matches(db_url, user_ids, room_open.due_times(
            time.time() + LEAD_SECONDS, 0.8 * seconds, options.matches
        ))
        config = write_config(
            work, db_url, discord={"token": DEFAULT_TOKEN},
            racetime={"host": f"127.0.0.1:{details['port']}", "scheme": "http"},
            ha={"enabled": not options.alone, "lease_seconds": options.lease_seconds},
            logging={"level": "INFO"},
        )
        desks = Desks(config, api_base, work, home=work)
        run = FailoverBench(options, db, desks, http, api, discord_test, cluster)
        run.players = await notify.add_players(db_url, options.users)
        watch = LeaseWatch(db_url)
        await watch.start()
        clock: asyncio.Task[None] | None = None
        racers: list[asyncio.Task[None]] = []
        try:
            await run.start_pair()
            await run.until_joined(rooms)
            clock = asyncio.ensure_future(crash.run_clock(api))
            racers = crash.race_rooms(
                api, rooms, racers=options.racers, seconds=seconds, rng=rng
            )
            for kind, wave in zip(plan, spread(options.dms, len(plan)), strict=True):
                await run.dm_wave(wave)
                await asyncio.sleep(rng.uniform(0.0, 0.2))
                await run.fault(kind)
                await asyncio.sleep(rng.uniform(*SETTLE))
            if not plan:
                await run.dm_wave(options.dms)
            async with asyncio.timeout(DRAIN_TIMEOUT):
                await asyncio.gather(*racers)
            settled = await run.drain(options.matches, max(due.values(), default=0.0))
        finally:
            for task in (*racers, *([clock] if clock else [])):
                task.cancel()
            await asyncio.gather(*racers, *([clock] if clock else []), return_exceptions=True)
            await desks.stop_all()
            await watch.stop()
        await room_open.tell(fake, "REPORT")
        assert fake.stdout is not None
        report = json.loads(await fake.stdout.readline())
        frames = await api.broadcasts()
        messages = await run.discord("/_test/messages")
        requests = await run.discord("/_test/requests")
        sessions = await run.discord("/_test/gateway")
        stats = await run.discord("/_test/stats")
    if options.keep:
        (work / "collected.json").write_text(json.dumps({
            "racetime": report, "messages": messages, "requests": requests,
            "gateway": sessions, "stats": stats, "due": due, "signals": run.faults.signals,
            "successors": run.faults.successors, "order": run.faults.order,
        }))
    try:
        records = event_records(await db.events())
        outbox = await db.outbox()
        outbox_statuses = await db.outbox_statuses()
        parked = await db.count("SELECT count(*) FROM event_deliveries_parked")
    finally:
        await db.close()
    claims = await room_open.claims(db_url)

    matches = room_open.outcome(due, infos, report["startrace"], [
        room_open.Room(r["name"], "\n".join(filter(None, (r["info_user"], r["info_bot"]))))
        for r in report["rooms"]
    ])
    comparison = crash.compare(
        frames, records, lives([desks.all[0].started_at], run.faults.signals)
    )
    leads = watch.leads(desks.all)
    effects = racetime_effects(report["changes"]) + discord_effects(requests, sessions, to_wall)
    # A process alone holds no lease: nothing to fence (and nobody to be fenced from).
    fenced, untagged = ([], 0) if options.alone else fenced_effects(effects, leads)
    for problem in comparison.problems:
        print(problem, file=sys.stderr)
    for effect in fenced:
        print(f"fenced effect: {effect.what} by {effect.client} at {effect.at:.3f}",
              file=sys.stderr)
    if options.keep:
        (work / "leads.json").write_text(json.dumps([vars_of(lead) for lead in leads]))
    faults = run.faults
    kill, term, pause, restart = (
        timings(faults.takeovers[k]) for k in (KILL, TERM, PAUSE, RESTART)
    )
    lateness = timings(matches.lateness.values())
    ids = Counter(r.event_id for r in records)
    return {
        "bench": "failover",
        "takeover_kill_p99_s": kill["p99_s"],
        "takeover_term_p99_s": term["p99_s"],
        "takeover_pause_p99_s": pause["p99_s"],
        # From the database back after a restart to a process acting (a standby that took
        # over, or with --alone the same process, /healthz 200 again).
        "database_back_p99_s": restart["p99_s"],
        "restarts": len(faults.takeovers[RESTART]),
        "kills": len(faults.takeovers[KILL]),
        "pauses": len(faults.takeovers[PAUSE]),
        "terms": len(faults.takeovers[TERM]),
        "rooms_opened_twice": sum(max(0, n - 1) for n in matches.rooms.values()),
        "matches_without_room": sum(n == 0 for n in matches.rooms.values()),
        "events_lost": comparison.lost,
        "events_recorded_twice": comparison.duplicates_new_id,
        **dm_figures(outbox, messages),
        "fenced_effects": len(fenced),
        "takeover_kill_s": {k: v for k, v in kill.items() if k != "p99_s"},
        "takeover_term_s": {k: v for k, v in term.items() if k != "p99_s"},
        "takeover_pause_s": {k: v for k, v in pause.items() if k != "p99_s"},
        # From a fault to the first DM the new leader delivered: its Discord login too.
        "dm_gap_s": timings(dm_gaps(messages, faults.signals, faults.successors)),
        "fault_order": faults.order,
        "exit_codes": {kind: codes for kind, codes in faults.exits.items()},
        "epochs": len(leads),
        "processes": len(desks.all),
        "fenced_effect_kinds": dict(Counter(effect.what for effect in fenced)),
        "untagged_effects": untagged,
        "effects": len(effects),
        "dms_resent_deduped": stats["nonce_hits"],
        "dm_http_429": stats["http_429"],
        "outbox": outbox_statuses,
        "events_logged": len(records),
        "events_redelivered_same_id": sum(n - 1 for n in ids.values()),
        "event_transitions": comparison.transitions,
        "events_bogus": comparison.bogus,
        "events_out_of_order": comparison.out_of_order,
        "parked": parked,
        "room_late_s": lateness,
        "claims": claims,
        "all_settled": settled,
        "rooms": options.rooms,
        "matches": options.matches,
        "dms": options.dms,
        "lease_s": options.lease_seconds,
        "outage_s": options.outage_seconds,
        "alone": options.alone,
        "pause_s": options.pause_seconds,
        "seed": options.seed,
        "backend": "postgresql",
        "wall_s": round(time.monotonic() - started, 1),
        "python": sys.version.split()[0],
    }


def vars_of(lead: Lead) -> dict[str, Any]:
    return {"client": lead.client, "epoch": lead.epoch, "since": lead.since,
            "until": lead.until}


async def main_async(options: argparse.Namespace) -> dict[str, Any]:
    if not options.private_server:
        return await workdir.run(options, "racedesk-bench-failover-", bench)
    with private_cluster() as cluster:
        options.pg_port = cluster.port

        async def on_cluster(
            options: argparse.Namespace, db_url: str, work: Path
        ) -> dict[str, Any]:
            return await bench(options, db_url, work, cluster)

        return await workdir.run(options, "racedesk-bench-failover-", on_cluster)


# The sizes: the issue's, and CI's (--quick). An option given explicitly wins over both.
FULL: dict[str, float] = {
    "rooms": 50, "racers": 4, "matches": 100, "dms": 2000, "users": 100, "kills": 10,
    "pauses": 3, "pause_seconds": 30.0, "terms": 3, "lease_seconds": 8.0, "restarts": 2,
    "outage_seconds": 5.0,
}
QUICK: dict[str, float] = {
    **FULL, "rooms": 10, "racers": 3, "matches": 10, "dms": 100, "kills": 1, "pauses": 1,
    "pause_seconds": 7.0, "terms": 1, "lease_seconds": 4.0, "restarts": 1,
    "outage_seconds": 3.0,
}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.failover")
    size = parser.add_argument
    size("--rooms", type=int, help="rooms racing on the fake (50)")
    size("--racers", type=int, help="at most this many per room (4)")
    size("--matches", type=int, help="matches whose rooms fall due over the run (100)")
    size("--dms", type=int, help="DMs in the fan-out (2000)")
    size("--users", type=int, help="players the DMs go to (100)")
    size("--kills", type=int, help="SIGKILLs of the leader (10)")
    size("--pauses", type=int, help="SIGSTOPs of the leader (3)")
    size("--pause-seconds", type=float, help="how long each pause lasts (30)")
    size("--terms", type=int, help="SIGTERMs of the leader (3)")
    size("--lease-seconds", type=float, help="[ha] lease_seconds (8)")
    size("--restarts", type=int,
         help="restarts of the database's server, a private one the run makes (2)")
    size("--outage-seconds", type=float, help="how long the database is away each time (5)")
    parser.add_argument("--alone", action="store_true",
                        help="one process, [ha] off: only the database restarts (no takeover)")
    parser.add_argument("--global-limit", default="50/1", help="the fake Discord's, COUNT/SECONDS")
    parser.add_argument("--message-limit", default="5/5",
                        help="the fake Discord's per DM channel, COUNT/SECONDS")
    parser.add_argument("--seed", type=int, default=1, help="the fault order, racers, waves")
    parser.add_argument("--quick", action="store_true", help="CI's size: " + ", ".join(
        f"{key.replace('_', '-')} {value:g}" for key, value in QUICK.items()
        if value != FULL[key]
    ))
    parser.add_argument("--keep", action="store_true", help="keep the logs and the reports")
    options = parser.parse_args(argv)
    for key, value in (QUICK if options.quick else FULL).items():
        if getattr(options, key) is None:
            setattr(options, key, type(value)(value))
    if options.alone:
        options.kills = options.pauses = options.terms = 0  # nobody to take over
    if options.pauses and options.pause_seconds <= options.lease_seconds:
        parser.error("--pause-seconds must be longer than --lease-seconds: a shorter pause "
                     "is no takeover (the leader resumes with its lease)")
    options.postgres = True  # two processes share a PostgreSQL database (created, dropped)
    # Restarting the machine's PostgreSQL would break whatever else uses it: a server of the
    # run's own (bench.pg_cluster) is restarted instead.
    options.private_server = options.restarts > 0
    return options


def main() -> None:
    options = parse()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    print(json.dumps(asyncio.run(main_async(options))))


if __name__ == "__main__":
    main()
