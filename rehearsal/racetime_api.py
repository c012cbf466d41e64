"""The fake racetime server as another process would drive it: its ``/_test`` HTTP API.

The rehearsal acts as racetime's users through this API (the same one a developer can poke
with ``curl`` while ``--keep-running``), never by reaching into the server object.
"""

from __future__ import annotations

from typing import Any

import aiohttp


class RacetimeActionRefused(RuntimeError):
    """racetime refused what a racer tried (its own error text)."""


class FakeRacetimeApi:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> FakeRacetimeApi:
        self._session = aiohttp.ClientSession(
            self.base_url, timeout=aiohttp.ClientTimeout(total=30)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        assert self._session is not None, "use `async with FakeRacetimeApi(...)`"
        async with self._session.request(method, path, json=body) as response:
            data = await response.json(content_type=None)
            if response.status >= 400:
                errors = data.get("errors") if isinstance(data, dict) else None
                raise RacetimeActionRefused("; ".join(errors or [f"HTTP {response.status}"]))
            return data

    async def add_user(self, name: str, *, streams: bool = True) -> str:
        """A racetime user; one who ``streams`` has Twitch connected and live (so any room
        lets them join). Returns their id."""
        body: dict[str, Any] = {"name": name}
        if streams:
            body |= {"stream_live": True, "twitch_channel": name.lower()}
        return str((await self._call("POST", "/_test/users", body))["id"])

    async def add_bot(self, category: str, client_id: str, client_secret: str) -> None:
        """Register a category bot (the category is created if missing)."""
        body = {"category": category, "client_id": client_id, "client_secret": client_secret,
                "name": "RaceDesk"}
        await self._call("POST", "/_test/bots", body)

    async def register_oauth_app(
        self, client_id: str, client_secret: str, redirect_uris: list[str]
    ) -> None:
        """An OAuth application people authorize (RaceDesk's, for account linking)."""
        body = {"client_id": client_id, "client_secret": client_secret,
                "redirect_uris": redirect_uris}
        await self._call("POST", "/_test/oauth/apps", body)

    async def authorize_as(self, user_id: str) -> None:
        """The next person to open racetime's authorization page is ``user_id``, signed in,
        and approves."""
        await self._call("POST", "/_test/oauth/authorize-as", {"user_id": user_id})

    async def open_race(self, category: str, **settings: Any) -> str:
        """Open a room as a racetime user would; returns its ``category/slug`` name."""
        return str((await self._call("POST", "/_test/races", {"category": category, **settings}))[
            "name"
        ])

    async def racer(self, race_name: str, user_id: str, action: str) -> None:
        slug = race_name.rsplit("/", 1)[-1]
        await self._call("POST", f"/_test/races/{slug}/racers/{user_id}/{action}", {})

    async def say(self, race_name: str, user_id: str, text: str) -> str:
        """``user_id`` types ``text`` in the room's chat; returns the message's id."""
        slug = race_name.rsplit("/", 1)[-1]
        answer = await self._call("POST", f"/_test/races/{slug}/racers/{user_id}/say",
                                  {"text": text})
        return str(answer["id"])

    async def chat(self, race_name: str) -> list[dict[str, Any]]:
        """Every message of the room's chat, oldest first (racetime's message dicts)."""
        slug = race_name.rsplit("/", 1)[-1]
        return list(await self._call("GET", f"/_test/races/{slug}/chat"))

    async def advance(self, seconds: float) -> None:
        """Move racetime's clock (countdowns, the 5-second rule) and run its race runner."""
        await self._call("POST", "/_test/advance", {"seconds": seconds})

    async def hold_clock(self, held: bool) -> None:
        """Hold racetime's clock (it then moves only with :meth:`advance`) or let it run."""
        await self._call("POST", "/_test/clock", {"held": held})

    async def race(self, race_name: str) -> dict[str, Any]:
        """The room's public race data."""
        return dict(await self._call("GET", f"/{race_name}/data"))
