"""``python bot.py`` while its PostgreSQL server restarts under it (issue 27), on a server of
the test's own (``private_pg``): one process, ``[ha]`` off. It says once that the database is
gone and once that it is back; meanwhile ``/healthz`` says why and the API answers 503 with
``Retry-After``; a SIGTERM while the database is away stops it at once, not after its waits.

Races, room openings and a DM fan-out through a restart, with one process and with two, are
``bench.failover --restarts`` (``tests/bench/test_failover_run.py``): nothing lost or doubled.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from bench.pg_cluster import PrivateCluster
from tests.deploy.racedesk_process import start, write_config
from tests.deploy.test_high_availability import RaceDesk, get
from tests.deploy.test_running_service import discord_that_never_answers

# Stopping while the database is away must not wait out the event log's and the dispatcher's
# close timeouts (30 s each) or the lifecycle's grace: well under the first of them.
STOPS_AT_ONCE_SECONDS = 20.0


async def new_database(cluster: PrivateCluster) -> str:
    name = f"racedesk_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(host="127.0.0.1", port=cluster.port, user="postgres",
                                  database="postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return cluster.url(name)


@pytest.mark.postgres
async def test_one_process_waits_for_its_restarted_database_and_stops_at_once_while_it_is_away(
    tmp_path: Path, private_pg: PrivateCluster
) -> None:
    config = write_config(tmp_path, await new_database(private_pg), logging={"level": "INFO"})
    async with discord_that_never_answers() as discord_api:
        desk = RaceDesk(
            await start("--config", str(config), home=tmp_path, discord_api=discord_api),
            "racedesk",
        )
        try:
            url = await desk.url()
            await private_pg.astop("immediate")  # as if the server crashed
            await desk.said("The database is unreachable")
            status, body = await get(url + "/healthz")
            database = next(c for c in body["checks"] if c["name"] == "Database")
            assert status == 503 and not database["ok"], body
            assert "unreachable for" in database["detail"], body
            status, body = await get(url + "/api/matches/1")
            assert (status, body["error"]) == (503, "database_unavailable"), body
            assert "racedesk_database_up 0.0" in await metrics(url)

            await private_pg.astart()
            await desk.said("The database is back after")
            status, body = await get(url + "/healthz")
            database = next(c for c in body["checks"] if c["name"] == "Database")
            assert database["ok"], body
            assert "racedesk_database_up 1.0" in await metrics(url)
            said = [line for line in desk.lines if "The database is unreachable" in line]
            assert len(said) == 1, desk.log  # once, however many parts met it

            await private_pg.astop("fast")
            await desk.said("The database is unreachable")
            asked = time.monotonic()
            desk.process.send_signal(signal.SIGTERM)
            code = await desk.ended()
            took = time.monotonic() - asked
            assert code == 0, desk.log
            assert took < STOPS_AT_ONCE_SECONDS, (took, desk.log)
            assert "did not stop" not in desk.log, desk.log
        finally:
            await desk.stop()
            if not await asyncio.to_thread(private_pg_running, private_pg):
                await private_pg.astart()


async def metrics(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(url + "/metrics") as response:
        return await response.text()


def private_pg_running(cluster: PrivateCluster) -> bool:
    return (cluster.data / "postmaster.pid").exists()
