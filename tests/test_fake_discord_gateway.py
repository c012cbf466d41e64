"""The fake Discord REST API's gateway and client tags: a real ``discord.Client`` started
against it connects and is ready, and what several clients send is told apart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket

from fake_racetime.server import CLIENT_TAG_HEADER
from rehearsal.fake_discord_api import DEFAULT_TOKEN, FakeDiscordApi

# Ready within this, or the test fails (a hang guard, not a timing).
READY_WITHIN = 30.0


@contextmanager
def gateway_at(url: str) -> Iterator[None]:
    previous = DiscordWebSocket.DEFAULT_GATEWAY
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
    try:
        yield
    finally:
        DiscordWebSocket.DEFAULT_GATEWAY = previous


async def test_a_client_connects_to_the_gateway_and_is_ready(
    fake_discord: FakeDiscordApi,
) -> None:
    client = discord.Client(intents=discord.Intents.default())
    with gateway_at(fake_discord.gateway_url):
        await client.login(DEFAULT_TOKEN)
        running = asyncio.ensure_future(client.connect())
        try:
            async with asyncio.timeout(READY_WITHIN):
                await client.wait_until_ready()
            assert client.user is not None
            assert str(client.user.id) == fake_discord.bot_user["id"]
            assert list(client.guilds) == []
        finally:
            await client.close()
            await running
    [session] = fake_discord.gateway_sessions
    assert session.client is None and session.session_id


async def test_a_wrong_token_is_refused_by_the_gateway(fake_discord: FakeDiscordApi) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(fake_discord.gateway_url) as ws:
        hello = await ws.receive_json()
        assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
        await ws.send_json({"op": 2, "d": {"token": "someone-else"}})
        closed = await ws.receive()
        assert closed.type is aiohttp.WSMsgType.CLOSE and closed.data == 4004
    assert fake_discord.gateway_sessions == []


async def test_requests_messages_and_sessions_keep_the_clients_tag(
    fake_discord: FakeDiscordApi,
) -> None:
    user = fake_discord.add_user()
    headers = {CLIENT_TAG_HEADER: "desk-2", "Authorization": f"Bot {DEFAULT_TOKEN}"}
    async with aiohttp.ClientSession(fake_discord.base_url, headers=headers) as http:
        async with http.post("/api/v10/users/@me/channels", json={"recipient_id": user}) as r:
            channel = (await r.json())["id"]
        async with http.post(f"/api/v10/channels/{channel}/messages",
                             json={"content": "hello"}) as r:
            assert r.status == 200
        async with http.ws_connect("/gateway") as ws:
            await ws.receive_json()
            await ws.send_json({"op": 2, "d": {"token": DEFAULT_TOKEN}})
            ready = await ws.receive_json()
            assert ready["t"] == "READY"
    assert [r.client for r in fake_discord.requests] == ["desk-2", "desk-2"]
    [message] = fake_discord.messages
    assert message.client == "desk-2"
    [session] = fake_discord.gateway_sessions
    assert session.client == "desk-2" and session.session_id == ready["d"]["session_id"]
