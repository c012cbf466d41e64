"""``[discord] shards``: one gateway connection by default, discord.py's AutoShardedClient
when asked (as many shards as Discord recommends, or a number), with the same cogs and
commands either way. Discord cannot be reached here: the clients are built and their cogs
loaded, not logged in."""

from __future__ import annotations

import discord
import pytest
from pydantic import SecretStr

from bot import RaceDeskBot, ShardedRaceDeskBot, discord_client
from core.config import DiscordSettings
from core.container import Services


def settings(shards: object) -> DiscordSettings:
    return DiscordSettings(token=SecretStr("t"), shards=shards, sync_commands=False)  # type: ignore[arg-type]


async def commands_of(bot: RaceDeskBot) -> list[str]:
    try:
        await bot.load_cogs()
        return sorted(c.qualified_name for c in bot.tree.walk_commands())
    finally:
        await bot.close()


async def test_one_connection_unless_shards_are_asked_for(offline_services: Services) -> None:
    plain = discord_client(offline_services, settings("off"))
    assert type(plain) is RaceDeskBot
    assert not isinstance(plain, discord.AutoShardedClient)
    assert plain.shard_count is None
    assert "async start" in await commands_of(plain)


@pytest.mark.parametrize(("shards", "count"), [("auto", None), (4, 4)])
async def test_shards_run_on_the_auto_sharded_client_with_the_same_commands(
    offline_services: Services, shards: object, count: int | None
) -> None:
    expected = await commands_of(discord_client(offline_services, settings("off")))
    sharded = discord_client(offline_services, settings(shards))
    assert isinstance(sharded, ShardedRaceDeskBot)
    assert isinstance(sharded, discord.AutoShardedClient)
    assert isinstance(sharded, RaceDeskBot)  # the cogs' type for their bot
    assert sharded.shard_count == count  # None: discord.py asks Discord at login
    assert await commands_of(sharded) == expected
