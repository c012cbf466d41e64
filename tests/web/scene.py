"""A RaceDesk on a real database with a running alttpr bot on the fake racetime server, a
match of two linked players and one unlinked, an API token, and the web server on a free
port (built by ``bot.web_server``, as in production)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from bot import build_services, web_server
from core.access import Actor
from core.config import RacetimeSettings, WebSettings
from core.container import Services
from core.lifecycle import Lifecycle
from db.models import User
from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer
from tests.plugins.fake_racetime import ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET
from tests.plugins.racetime_engine import FAST_RETRY
from web.app import WebServer

CATEGORY = "alttpr"
GUILD = 111_111_111_111_111_111
OTHER_GUILD = 222_222_222_222_222_222
ORGANIZER = 333_333_333_333_333_333  # an admin of both servers
OWNER = 555_555_555_555_555_555  # one of the bot owners
BY_ORGANIZER = Actor.server_admin(ORGANIZER, GUILD)
BY_OWNER = Actor.user(OWNER)
ADA, BOB, STRANGER = 444_444_444_444_444_441, 444_444_444_444_444_442, 444_444_444_444_444_443


@dataclass
class ApiScene:
    services: Services
    fake: FakeRacetimeServer
    http: aiohttp.ClientSession
    server: WebServer
    match_id: int
    other_match_id: int  # OTHER_GUILD's
    token: str
    bot_id: int
    discord_up: list[bool] = field(default_factory=lambda: [True])

    def url(self, path: str) -> str:
        return self.server.url + path

    def room_path(self, match_id: int | str | None = None) -> str:
        return f"/api/matches/{self.match_id if match_id is None else match_id}/racetime-room"

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token if token is None else token}"}

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> tuple[int, dict[str, Any], aiohttp.typedefs.LooseHeaders]:
        sent = self.auth(token) if headers is None else headers
        async with self.http.request(method, self.url(path), headers=sent, **kwargs) as response:
            assert response.content_type == "application/json"
            return response.status, await response.json(), response.headers

    def rooms_on_fake(self) -> list[str]:
        return [r.slug for r in self.fake.races.values() if r.category.slug == CATEGORY]


async def _schedule(services: Services, guild_id: int, players: list[int]) -> int:
    organizer = Actor.server_admin(ORGANIZER, guild_id)
    await services.tournaments.allow_bot(guild_id, CATEGORY, actor=BY_OWNER)
    await services.tournaments.create(
        guild_id, "Winter Cup", category=CATEGORY, actor=organizer, default_goal="All dungeons",
    )
    match = await services.matches.schedule(
        guild_id, "Winter Cup", players,
        datetime.now(UTC).replace(microsecond=0) + timedelta(days=1), "Semi-final",
        actor=organizer,
    )
    return match.id


@asynccontextmanager
async def api_scene(
    db_url: str,
    secret_box: SecretBox,
    fake: FakeRacetimeServer,
    *,
    requests_per_minute: int = 1000,
) -> AsyncIterator[ApiScene]:
    services = build_services(
        database_url=db_url, secret_box=secret_box,
        racetime=RacetimeSettings(host=fake.host, scheme="http"), listener_retry=FAST_RETRY,
        owner_ids=[OWNER],
    )
    async with Lifecycle() as lifecycle:
        await services.start(lifecycle, racetime_engine=False)
        bot = (await services.racetime_admin.add_bot(
            category=CATEGORY, client_id=ALTTPR_CLIENT_ID, client_secret=ALTTPR_CLIENT_SECRET,
            display_name="ALttPR", actor=BY_OWNER, guild_id=GUILD,
        )).bot
        await asyncio.wait_for(services.racetime_engine.bot(CATEGORY).wait_healthy(), 5)
        users = fake.seed.users
        async with services.sessionmaker.begin() as session:
            session.add_all([
                User(discord_id=ADA, racetime_id=users["RacerOne"], racetime_name="RacerOne#1234"),
                User(discord_id=BOB, racetime_id=users["RacerTwo"], racetime_name="RacerTwo#5678"),
            ])
        match_id = await _schedule(services, GUILD, [ADA, BOB, STRANGER])
        other_match_id = await _schedule(services, OTHER_GUILD, [ADA, BOB])
        created = await services.api_tokens.create(GUILD, "stream-overlay", actor=BY_ORGANIZER)
        discord_up = [True]
        connected: Callable[[], bool] = lambda: discord_up[0]  # noqa: E731
        settings = WebSettings(bind_port=0, api_requests_per_minute=requests_per_minute)
        server = web_server(services, settings, connected)
        await lifecycle.add("web server", server.start, server.stop)
        async with aiohttp.ClientSession() as http:
            assert bot.id is not None
            yield ApiScene(
                services, fake, http, server, match_id, other_match_id, created.plaintext,
                bot.id, discord_up,
            )
