"""The fake Discord REST API (``rehearsal.fake_discord_api``) and real discord.py clients on it.

Fixtures:
    fake_discord     a started ``FakeDiscordApi`` on a random port; for the test,
                     ``discord.http.Route.BASE`` points at it (restored afterwards)
    discord_clients  ``await discord_clients.login()``: a ``discord.Client`` logged in to the
                     fake over HTTP (no gateway); every one is closed after the test
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import discord
import pytest

from rehearsal.fake_discord_api import FakeDiscordApi


@contextmanager
def discord_api_at(base: str) -> Iterator[None]:
    """discord.py's HTTP client sends every request built meanwhile to ``base``."""
    previous = discord.http.Route.BASE
    discord.http.Route.BASE = base
    try:
        yield
    finally:
        discord.http.Route.BASE = previous


class DiscordClients:
    """Logged-in clients of the fake, each standing for one bot process."""

    def __init__(self, fake: FakeDiscordApi) -> None:
        self._fake = fake
        self._clients: list[discord.Client] = []

    async def login(self, **options: Any) -> discord.Client:
        """A client logged in to the fake; ``options`` go to ``discord.Client``
        (``http_trace``, say)."""
        client = discord.Client(intents=discord.Intents.default(), **options)
        self._clients.append(client)
        await client.login(self._fake.token or "any-token")
        return client

    async def close(self) -> None:
        for client in self._clients:
            await client.close()


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscordApi]:
    async with FakeDiscordApi() as fake:
        with discord_api_at(fake.api_base):
            yield fake


@pytest.fixture
async def discord_clients(fake_discord: FakeDiscordApi) -> AsyncIterator[DiscordClients]:
    clients = DiscordClients(fake_discord)
    try:
        yield clients
    finally:
        await clients.close()
