"""``python -m bench.racedesk_at_fakes TAG DISCORD_API BOT_PY ARGS...``: ``bot.py`` as an
admin runs it, talking to the fake Discord, with every request it makes signed ``TAG``.

discord.py sends every REST request to ``Route.BASE`` and connects to the gateway at
``DiscordWebSocket.DEFAULT_GATEWAY``; both are pointed at the fake Discord REST API at
``DISCORD_API`` (``http://host:port/api/v10``, whose gateway is ``ws://host:port/gateway``),
as tests/deploy does for the REST side. And every aiohttp session the process opens (the
racetime client's, discord.py's) and every racetime room socket (``websockets``) sends
``fake_racetime``'s ``CLIENT_TAG_HEADER: TAG`` with each request and handshake: the fakes'
logs then say which RaceDesk process sent what, so a benchmark can tell an effect of a
leader from one of a process that had lost the lease. Nothing of RaceDesk is changed: the
tag is added below it, in the libraries, before RaceDesk is imported.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Mapping
from typing import Any

import aiohttp
import discord.http
import websockets.asyncio.client
import yarl
from discord.gateway import DiscordWebSocket

from fake_racetime.server import CLIENT_TAG_HEADER
from rehearsal.fake_discord_api import API_PREFIX, GATEWAY_PATH


def gateway_of(api_base: str) -> str:
    """The fake's gateway URL for its REST base ``http://host:port/api/v10``."""
    root = api_base.removesuffix(API_PREFIX)
    return "ws" + root.removeprefix("http") + GATEWAY_PATH


def tag_every_session(tag: str) -> None:
    """Every ``aiohttp.ClientSession`` and ``websockets`` connection made from now on sends
    ``CLIENT_TAG_HEADER: tag``."""
    make = aiohttp.ClientSession.__init__

    def tagged(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        given = kwargs.pop("headers", None) or {}
        headers = dict(given.items() if isinstance(given, Mapping) else given)
        headers[CLIENT_TAG_HEADER] = tag
        make(self, *args, headers=headers, **kwargs)

    aiohttp.ClientSession.__init__ = tagged  # type: ignore[method-assign]  # see docstring

    class TaggedConnect(websockets.asyncio.client.connect):
        def __init__(self, uri: str, *args: Any, **kwargs: Any) -> None:
            given = kwargs.pop("additional_headers", None) or {}
            headers = dict(given.items() if isinstance(given, Mapping) else given)
            headers[CLIENT_TAG_HEADER] = tag
            super().__init__(uri, *args, additional_headers=headers, **kwargs)

    # racetime/connection.py imports the name when RaceDesk is imported: after this.
    websockets.asyncio.client.connect = TaggedConnect  # type: ignore[misc]


def main() -> None:
    if len(sys.argv) < 4:
        raise SystemExit("usage: python -m bench.racedesk_at_fakes TAG DISCORD_API BOT_PY ARGS...")
    tag, api_base, bot_py, *args = sys.argv[1:]
    discord.http.Route.BASE = api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_of(api_base))
    tag_every_session(tag)
    sys.argv = [bot_py, *args]
    runpy.run_path(bot_py, run_name="__main__")


if __name__ == "__main__":
    main()
