"""Two RaceDesk processes as an admin runs them (issue 27): ``python bot.py`` twice with
``[ha] enabled`` on one PostgreSQL database. One leads, the other stands by and says so in its
log and ``/healthz``; SIGKILL, SIGSTOP or a lost database session on the leader, and the
standby takes over under the next epoch (the old leader, if alive, exits); SIGTERM hands over
in order. On SQLite, a second process on the
same file is refused with one line.

Each process talks to a Discord that takes every request and answers none: it starts
everything else and waits at the login, as when Discord is slow."""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.pool import NullPool

from bot import EXIT_LOST_LEAD
from db.engine import create_engine
from tests.deploy.racedesk_process import (
    PROCESS_LIMIT_SECONDS,
    assert_one_line,
    run,
    start,
    write_config,
)
from tests.deploy.test_running_service import discord_that_never_answers

# Short, so that a lost session is noticed at the next heartbeat (a quarter of it).
LEASE_SECONDS = 4.0
LISTENING = re.compile(r"Web server listening on (http://\S+)")


class RaceDesk:
    """One ``python bot.py`` process, its log read as it comes."""

    def __init__(self, process: asyncio.subprocess.Process, name: str) -> None:
        self.process = process
        self.name = name
        self.lines: list[str] = []
        self._news = asyncio.Event()
        assert process.stderr is not None
        self._reader = asyncio.ensure_future(self._read(process.stderr))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        async for line in stream:
            self.lines.append(line.decode(errors="replace").rstrip())
            self._news.set()
        self._news.set()

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    async def said(self, words: str) -> str:
        """The first log line with ``words``, waiting for it (a hang guard, not a timing)."""
        async with asyncio.timeout(PROCESS_LIMIT_SECONDS):
            while True:
                for line in self.lines:
                    if words in line:
                        return line
                if self._reader.done():
                    raise AssertionError(f"{self.name} ended without saying {words!r}:\n{self.log}")
                self._news.clear()
                await self._news.wait()

    async def url(self) -> str:
        line = await self.said("Web server listening on")
        found = LISTENING.search(line)
        assert found is not None, line
        return found.group(1)

    async def ended(self) -> int:
        code = await asyncio.wait_for(self.process.wait(), PROCESS_LIMIT_SECONDS)
        await self._reader
        return code

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        await self._reader


@asynccontextmanager
async def racedesks(home: Path, database_url: str) -> AsyncIterator[Any]:
    """``launch(name)``: one more process with the same configuration (killed after)."""
    config = write_config(
        home, database_url, logging={"level": "INFO"},
        ha={"enabled": True, "lease_seconds": LEASE_SECONDS},
    )
    running: list[RaceDesk] = []
    async with discord_that_never_answers() as discord_api:

        async def launch(name: str) -> RaceDesk:
            process = await start("--config", str(config), home=home, discord_api=discord_api)
            desk = RaceDesk(process, name)
            running.append(desk)
            return desk

        try:
            yield launch
        finally:
            for desk in running:
                await desk.stop()


async def get(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.json()


async def ready(url: str) -> dict[str, Any]:
    """``/readyz``'s answer once it is 200: a new leader answers 503 until it has waited out
    the old one and started its parts (a hang guard, not a timing)."""
    async with asyncio.timeout(PROCESS_LIMIT_SECONDS):
        while True:
            status, body = await get(url + "/readyz")
            if status == 200:
                return body
            assert (status, body["role"]) in ((503, "leader"), (503, "standby")), body
            await asyncio.sleep(0.1)


def assert_no_errors(desk: RaceDesk) -> None:
    bad = [line for line in desk.lines if "Traceback" in line or " ERROR " in line]
    assert not bad, desk.log


@pytest.mark.postgres
async def test_the_standby_takes_over_a_killed_leader_and_sigterm_hands_over(
    tmp_path: Path, own_pg_db_url: str
) -> None:
    async with racedesks(tmp_path, own_pg_db_url) as launch:
        first = await launch("first")
        await first.said("leads from now on: epoch 1")
        second = await launch("second")
        standing = await second.said("Standing by:")
        assert "leads (epoch 1)" in standing
        standby_url = await second.url()
        status, health = await get(standby_url + "/healthz")
        assert (status, health["role"], health["epoch"]) == (200, "standby", 1)
        assert (await get(standby_url + "/readyz"))[0] == 503
        leading = await ready(await first.url())
        assert (leading["role"], leading["epoch"]) == ("leader", 1)

        first.process.send_signal(signal.SIGKILL)
        await first.ended()
        await second.said("leads from now on: epoch 2")
        leading = await ready(standby_url)
        assert (leading["role"], leading["epoch"]) == ("leader", 2)

        # A third process stands by; SIGTERM on the leader hands over to it in order.
        third = await launch("third")
        await third.said("Standing by:")
        second.process.send_signal(signal.SIGTERM)
        assert await second.ended() == 0, second.log
        await second.said("Handed over the leadership (epoch 2)")
        await third.said("leads from now on: epoch 3")
        assert not any("ending its database sessions" in line for line in third.lines), (
            "a handover ends nobody's sessions"
        )
        third.process.send_signal(signal.SIGTERM)
        assert await third.ended() == 0, third.log
    for desk in (second, third):
        assert_no_errors(desk)


@pytest.mark.postgres
async def test_a_leader_whose_database_session_is_cut_exits_and_the_standby_leads(
    tmp_path: Path, own_pg_db_url: str
) -> None:
    async with racedesks(tmp_path, own_pg_db_url) as launch:
        first = await launch("first")
        await first.said("leads from now on: epoch 1")
        second = await launch("second")
        await second.said("Standing by:")

        engine = create_engine(own_pg_db_url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                await connection.execute(text(
                    "SELECT pg_terminate_backend(backend_pid) FROM leadership_lease"
                ))
        finally:
            await engine.dispose()

        assert await first.ended() == EXIT_LOST_LEAD, first.log
        lost = await first.said("This process no longer leads")
        assert "supervisor starts it again as a standby" in lost
        await second.said("leads from now on: epoch 2")


@pytest.mark.postgres
async def test_a_paused_leader_is_taken_over_and_exits_when_it_resumes(
    tmp_path: Path, own_pg_db_url: str
) -> None:
    """SIGSTOP keeps the leader's connections open (and its lock held): the standby waits
    for its lease to run out, ends its sessions and leads; resumed, the old leader finds its
    lease lost and exits without acting."""
    async with racedesks(tmp_path, own_pg_db_url) as launch:
        first = await launch("first")
        await first.said("leads from now on: epoch 1")
        second = await launch("second")
        await second.said("Standing by:")

        first.process.send_signal(signal.SIGSTOP)
        try:
            await second.said("has not renewed its lease")
            await second.said("leads from now on: epoch 2")
        finally:
            first.process.send_signal(signal.SIGCONT)
        assert await first.ended() == EXIT_LOST_LEAD, first.log
        await first.said("This process no longer leads")
        leading = await ready(await second.url())
        assert (leading["role"], leading["epoch"]) == ("leader", 2)


async def test_a_second_process_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "data" / "racedesk.sqlite3"
    url = f"sqlite+aiosqlite:///{database}"
    config = write_config(tmp_path, url, logging={"level": "INFO"})
    async with discord_that_never_answers() as discord_api:
        first = RaceDesk(
            await start("--config", str(config), home=tmp_path, discord_api=discord_api),
            "first",
        )
        try:
            await first.said("SQLite: this is the one RaceDesk process")
            second = await run("--config", str(config), home=tmp_path, discord_api=discord_api)
            line = assert_one_line(
                second, f"Another RaceDesk process (process {first.process.pid}) is running "
                f"on the SQLite database {database}", "move to PostgreSQL and turn on [ha]",
            )
            assert "Traceback" not in line
            first.process.send_signal(signal.SIGTERM)
            assert await first.ended() == 0, first.log
        finally:
            await first.stop()
        # Stopped: the next process starts on the file.
        again = RaceDesk(
            await start("--config", str(config), home=tmp_path, discord_api=discord_api),
            "again",
        )
        try:
            await again.said("SQLite: this is the one RaceDesk process")
        finally:
            await again.stop()
