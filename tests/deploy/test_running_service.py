"""RaceDesk as a service manager runs it: up with a racetime bot whose secret racetime.gg
refuses (one clear line; everything else runs on), and stopped cleanly by SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import select

from core.racetime_bots.bots import RacetimeBotService
from db.models import BotStatus, RacetimeBot
from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer
from tests.deploy.racedesk_process import (
    PROCESS_LIMIT_SECONDS,
    SECRET_KEY,
    start,
    write_config,
)
from tests.plugins.fake_racetime import ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET, SMZ3_CLIENT_ID

REFUSED_SECRET = "a-secret-racetime-refuses"


@asynccontextmanager
async def discord_that_never_answers() -> AsyncIterator[str]:
    """A Discord API base URL whose server takes every request and answers none: RaceDesk
    starts everything else and waits at the login, as it does when Discord is slow."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until RaceDesk hangs up
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/api/v10"
    finally:
        server.close()
        await server.wait_closed()


async def statuses(sessions: async_sessionmaker[AsyncSession]) -> dict[str, BotStatus]:
    async with sessions() as session:
        bots = (await session.execute(select(RacetimeBot))).scalars()
        return {bot.category: BotStatus(bot.status) for bot in bots}


async def until(condition: Callable[[], object], what: str) -> None:
    for _ in range(PROCESS_LIMIT_SECONDS * 10):
        if await condition():  # type: ignore[misc]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


async def test_a_refused_racetime_bot_is_one_line_and_sigterm_stops_racedesk_cleanly(
    tmp_path: Path,
    fake_racetime: FakeRacetimeServer,
    db_url: str,
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    bots = RacetimeBotService(db_sessionmaker, SecretBox(SECRET_KEY))
    async with db_sessionmaker.begin() as session:
        await bots.add_bot(
            session, category="alttpr", client_id=ALTTPR_CLIENT_ID,
            client_secret=ALTTPR_CLIENT_SECRET, display_name="ALttPR",
        )
        await bots.add_bot(
            session, category="smz3", client_id=SMZ3_CLIENT_ID,
            client_secret=REFUSED_SECRET, display_name="SMZ3",
        )
    config = write_config(
        tmp_path, db_url,
        racetime={"host": fake_racetime.host, "scheme": "http"}, logging={"level": "INFO"},
    )
    async with discord_that_never_answers() as discord_api:
        process = await start("--config", str(config), home=tmp_path, discord_api=discord_api)
        assert process.stderr is not None
        log_read = asyncio.ensure_future(process.stderr.read())  # the pipe never fills up
        try:

            async def refused_and_running() -> bool:
                current = await statuses(db_sessionmaker)
                return current == {"alttpr": BotStatus.CONNECTED, "smz3": BotStatus.AUTH_FAILED}

            await until(refused_and_running, "alttpr connected and smz3 refused")
            assert process.returncode is None, "RaceDesk must keep running"
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), PROCESS_LIMIT_SECONDS)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        log = (await log_read).decode().splitlines()
    assert process.returncode == 0, "\n".join(log)
    assert not [line for line in log if "Traceback" in line or " ERROR " in line], log
    refused = [line for line in log if "smz3" in line and "WARNING" in line]
    assert len(refused) == 1, refused
    [line] = refused
    assert "racetime bot SMZ3 (smz3) is not working" in line
    assert "refused the bot credentials" in line and "RaceDesk runs on without it" in line
    assert "/racetime bot edit category:smz3" in line
    assert any("Received SIGTERM; shutting down" in line for line in log), log
    assert REFUSED_SECRET not in "\n".join(log) and ALTTPR_CLIENT_SECRET not in "\n".join(log)
