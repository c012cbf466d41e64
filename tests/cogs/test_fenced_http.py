"""The last check before a request leaves for Discord (``cogs/_shared/fenced_http.py``), on
the client RaceDesk runs (``bot.discord_client``) logged in to the fake Discord REST API over
a real socket: once this process no longer leads, no request that would change something
leaves (reads still do), and the listener it interrupted leaves its event to the leader; a
process that runs alone installs no check at all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import discord
import pytest
from pydantic import SecretStr

from bot import RaceDeskBot, build_services, discord_client
from cogs._shared.fenced_http import fenced_http_trace
from core.config import DiscordSettings
from core.container import Services
from core.events import RacetimeAccountLinkedEvent
from core.leadership import NO_FENCE, FencedError
from db.secrets import SecretBox
from rehearsal.fake_discord_api import FakeDiscordApi
from tests.core.leadership_helpers import SwitchFence
from tests.plugins.fake_discord import DiscordClients
from tests.plugins.racetime_engine import FAST_RETRY

CREATE_DM = "POST /users/@me/channels"
CREATE_MESSAGE = "POST /channels/{channel_id}/messages"


@pytest.fixture
async def bots(fake_discord: FakeDiscordApi) -> AsyncIterator[list[RaceDeskBot]]:
    """Bots to close after the test."""
    started: list[RaceDeskBot] = []
    try:
        yield started
    finally:
        for bot in started:
            await bot.close()


async def logged_in(
    offline_services: Services, fake: FakeDiscordApi, bots: list[RaceDeskBot]
) -> RaceDeskBot:
    """The bot ``[discord]`` builds, logged in to the fake (its cogs loaded; no gateway)."""
    token = fake.token or "any-token"
    bot = discord_client(
        offline_services, DiscordSettings(token=SecretStr(token), sync_commands=False)
    )
    bots.append(bot)
    await bot.login(token)
    return bot


async def test_a_process_that_no_longer_leads_sends_no_request_that_changes_anything(
    offline_services: Services, fake_discord: FakeDiscordApi, bots: list[RaceDeskBot]
) -> None:
    offline_services.fence = fence = SwitchFence()
    bot = await logged_in(offline_services, fake_discord, bots)
    player = fake_discord.add_user()
    assert fence.asked == 0  # the login's reads asked nothing
    channel = await bot.create_dm(discord.Object(id=player))  # while it leads: sent
    assert fence.asked == 1

    fence.stale = True
    user = await bot.fetch_user(player)  # a read still goes out
    with pytest.raises(FencedError, match="ran out unrenewed"):
        await channel.send("Your match room is open")
    with pytest.raises(FencedError):
        await bot.create_dm(discord.Object(id=fake_discord.add_user()))

    assert user.id == player
    assert fence.asked == 3
    assert fake_discord.count(CREATE_DM) == 1
    assert fake_discord.count(CREATE_MESSAGE) == 0 and fake_discord.messages == []
    assert fake_discord.count("GET /users/{user_id}") == 1


async def test_a_process_alone_installs_no_check(
    offline_services: Services, fake_discord: FakeDiscordApi, bots: list[RaceDeskBot]
) -> None:
    assert offline_services.fence is NO_FENCE  # SQLite, or [ha] off
    bot = await logged_in(offline_services, fake_discord, bots)
    assert bot.http.http_trace is None

    channel = await bot.create_dm(discord.Object(id=fake_discord.add_user()))
    await channel.send("Your match room is open")

    assert [message.content for message in fake_discord.messages] == ["Your match room is open"]


async def test_a_listener_refused_by_the_last_check_leaves_its_event_for_the_leader(
    db_url: str, secret_box: SecretBox, fake_discord: FakeDiscordApi,
    discord_clients: DiscordClients,
) -> None:
    """A cog's listener (a link DM, an announcement) whose post the last check refused: the
    dispatcher ``build_services`` makes neither retries it nor parks it, and leaves the event
    unacknowledged for the process that leads."""
    services = build_services(
        database_url=db_url, secret_box=secret_box, listener_retry=FAST_RETRY
    )
    fence = SwitchFence()
    fence.stale = True
    client = await discord_clients.login(http_trace=fenced_http_trace(fence))
    player = fake_discord.add_user()

    async def tell(event: RacetimeAccountLinkedEvent) -> None:
        channel = await client.create_dm(discord.Object(id=player))
        await channel.send("✅ Your Discord account is now linked")

    services.dispatcher.subscribe(RacetimeAccountLinkedEvent, tell)
    event = RacetimeAccountLinkedEvent(
        user_id=1, discord_user_id=player, racetime_id="u" * 16, racetime_name="Ada"
    )
    try:
        await services.event_log.start()
        await services.dispatcher.emit(event)
        async with asyncio.timeout(10):
            await services.dispatcher.drain()

        assert fence.asked == 1  # tried once: not retried
        assert fake_discord.count(CREATE_DM) == 0 and fake_discord.messages == []
        assert await services.event_log.parked_count() == 0
        assert await services.event_log.pending_partitions() == [event.partition_key]
    finally:
        await services.dispatcher.close()
        await services.event_log.close()
        await services.racetime_client.close()
        await services.dispose_engines()
