"""The RaceDesk processes of ``bench.failover``, and the supervisor that keeps two running.

Each process is ``bot.py`` as an admin runs it (``--config``, ``[ha] enabled`` on the bench's
PostgreSQL database), started through :mod:`bench.racedesk_at_fakes` so that it talks to the
fake Discord and signs every request with its name (``desk-1``, ``desk-2``, ...). Its log
(stderr) is kept in a file and read as it comes. :class:`Desks` starts them, as a
supervisor restarts a unit that ended (``Restart=on-failure``), says which one answers
``/readyz`` 200, and keeps the history of the lease (:class:`LeaseWatch`): which process led
under which epoch, from when (the database's ``acquired_at``, wall clock: when that leader
may act).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import aiohttp
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from db.engine import create_engine
from tests.deploy.racedesk_process import BOT, environment

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = "bench.racedesk_at_fakes"
LISTENING = re.compile(r"Web server listening on (http://\S+)")
STANDING_BY = "Standing by:"
# Hang guards only: a process starts in seconds.
START_TIMEOUT = 90.0
READY_POLL_SECONDS = 0.05
LEASE_POLL_SECONDS = 0.1


class Desk:
    """One RaceDesk process: its name (the tag on its requests), its log as it comes."""

    def __init__(self, name: str, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.name = name
        self.process = process
        self.started_at = time.monotonic()
        self.lines: list[str] = []
        self._news = asyncio.Event()
        self._log: IO[str] = log_path.open("a", encoding="utf-8")
        assert process.stderr is not None
        self._reader = asyncio.ensure_future(self._read(process.stderr))
        self._url: str | None = None

    async def _read(self, stream: asyncio.StreamReader) -> None:
        try:
            async for raw in stream:
                line = raw.decode(errors="replace").rstrip()
                self.lines.append(line)
                self._log.write(line + "\n")
                self._news.set()
        finally:
            self._log.close()
            self._news.set()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    def saw(self, words: str) -> bool:
        return any(words in line for line in self.lines)

    async def said(self, words: str, within: float = START_TIMEOUT) -> str:
        """The first log line with ``words``, waiting for it."""
        seen = 0
        async with asyncio.timeout(within):
            while True:
                for line in self.lines[seen:]:
                    if words in line:
                        return line
                seen = len(self.lines)
                if self._reader.done():
                    raise RuntimeError(f"{self.name} ended without saying {words!r}")
                self._news.clear()
                await self._news.wait()

    async def url(self) -> str:
        if self._url is None:
            found = LISTENING.search(await self.said("Web server listening on"))
            assert found is not None
            self._url = found.group(1)
        return self._url

    def _known_url(self) -> str | None:
        if self._url is None:
            for line in self.lines:
                found = LISTENING.search(line)
                if found is not None:
                    self._url = found.group(1)
                    break
        return self._url

    async def ready(self, http: aiohttp.ClientSession, path: str = "/readyz") -> bool:
        """Whether its ``/readyz`` (or ``path``: ``/healthz``) answers 200 now (a process not
        listening yet: no)."""
        url = self._known_url()
        if url is None or not self.alive:
            return False
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with http.get(url + path) as response:
                return response.status == 200
        return False

    def signal(self, which: signal.Signals) -> float:
        """Send ``which``; the moment it was sent (``time.monotonic()``)."""
        at = time.monotonic()
        self.process.send_signal(which)
        return at

    async def ended(self, within: float | None = None) -> int | None:
        """Its exit status, once it has exited (None if still running after ``within``)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self.process.wait()
                await self._reader
        return self.process.returncode

    async def stop(self) -> None:
        """SIGTERM, and SIGKILL if it takes more than a minute."""
        if self.alive:
            self.process.send_signal(signal.SIGCONT)  # a paused one could not stop
            self.process.send_signal(signal.SIGTERM)
            if await self.ended(60.0) is None:
                self.process.kill()
        await self.ended()


@dataclass(frozen=True, slots=True)
class Lead:
    """One process's lead: under ``epoch``, from ``since`` until ``until`` (wall clock,
    ``time.time()``; ``until`` is the next epoch's start, inf for the last)."""

    client: str | None
    epoch: int
    since: float
    until: float = float("inf")


class LeaseWatch:
    """Polls the lease row; every epoch seen, its holder's process and its start."""

    def __init__(self, db_url: str) -> None:
        self._engine: AsyncEngine = create_engine(db_url, poolclass=NullPool)
        self.epochs: dict[int, tuple[str | None, float]] = {}  # epoch -> (holder, since)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.ensure_future(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.poll()  # the last word
        await self._engine.dispose()

    async def _watch(self) -> None:
        while True:
            # The database server may restart under the bench: connect again, and go on.
            with contextlib.suppress(Exception):
                async with self._engine.connect() as connection:
                    while True:
                        await self._read(connection)
                        await asyncio.sleep(LEASE_POLL_SECONDS)
            await asyncio.sleep(LEASE_POLL_SECONDS)

    async def poll(self) -> None:
        async with self._engine.connect() as connection:
            await self._read(connection)

    async def _read(self, connection: Any) -> None:
        row = (await connection.execute(text(
            "SELECT epoch, holder_name, extract(epoch FROM acquired_at) FROM leadership_lease"
        ))).first()
        await connection.rollback()
        if row is not None and row[0] and row[0] not in self.epochs and row[2] is not None:
            self.epochs[int(row[0])] = (row[1], float(row[2]))

    def leads(self, desks: Iterable[Desk]) -> list[Lead]:
        """The epochs seen, each with the desk that held it (by its process id)."""
        by_pid = {str(desk.pid): desk.name for desk in desks}
        ordered = sorted(self.epochs.items())
        found = []
        for index, (epoch, (holder, since)) in enumerate(ordered):
            pid = (holder or "").rpartition(":")[2]
            until = ordered[index + 1][1][1] if index + 1 < len(ordered) else float("inf")
            found.append(Lead(by_pid.get(pid), epoch, since, until))
        return found


class Desks:
    """The RaceDesk processes of a run: started on ``config``, restarted when they end."""

    def __init__(self, config: Path, api_base: str, work: Path, home: Path) -> None:
        self._config = config
        self._api_base = api_base
        self._work = work
        self._home = home
        self.all: list[Desk] = []

    async def launch(self) -> Desk:
        name = f"desk-{len(self.all) + 1}"
        env = environment(self._home, PYTHONUNBUFFERED="1")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", LAUNCHER, name, self._api_base, str(BOT),
            "--config", str(self._config),
            cwd=PROJECT_ROOT, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        desk = Desk(name, process, self._work / f"{name}.log")
        self.all.append(desk)
        return desk

    @property
    def alive(self) -> list[Desk]:
        return [desk for desk in self.all if desk.alive]

    async def standing_by(self, desk: Desk) -> None:
        """Until ``desk`` stands by (its log says so) and its web server answers."""
        await desk.said(STANDING_BY)
        await desk.url()

    async def until_ready(
        self, http: aiohttp.ClientSession, candidates: list[Desk], within: float,
        path: str = "/readyz",
    ) -> tuple[Desk, float]:
        """The first of ``candidates`` whose ``/readyz`` (or ``path``) answers 200, and when
        (monotonic)."""
        async with asyncio.timeout(within):
            while True:
                for desk in candidates:
                    if await desk.ready(http, path):
                        return desk, time.monotonic()
                await asyncio.sleep(READY_POLL_SECONDS)

    async def stop_all(self) -> None:
        """Every process still running: the standbys first (a leader stopping hands over
        to a standby otherwise), then the leader."""
        async with aiohttp.ClientSession() as http:
            readiness = {desk.name: await desk.ready(http) for desk in self.alive}
        for desk in sorted(self.alive, key=lambda d: readiness.get(d.name, False)):
            await desk.stop()

