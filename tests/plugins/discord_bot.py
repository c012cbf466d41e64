"""A RaceDesk bot in a simulated Discord server (``rehearsal.guild``), with every cog loaded,
and a way to run slash commands through the real CommandTree, press the buttons of its
replies, and (with ``deliver_notifications=True``) deliver notifications through the real
Discord sender into the simulated server; with ``web_port``, RaceDesk's web server too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import discord
import pytest
from discord import app_commands
from sqlalchemy import func, select
from sqlmodel import col

from bot import RaceDeskBot, build_services, start_bot_alerts, web_server
from cogs._shared.notifications.sender import DiscordNotificationSender
from core.access import Actor
from core.accounts.linking import LinkSettings
from core.calendars import CalendarSettings
from core.clock import Clock
from core.config import RacetimeSettings, SeedServiceSettings, WebSettings
from core.container import Services
from core.lifecycle import Lifecycle
from core.notifications.delivery import DeliveryTimings, NotificationDelivery
from db.models import NotificationLog, NotificationStatus, RacetimeBot, RacetimeBotGuild, User
from db.secrets import SecretBox
from racetime.category_bot import BotTimings
from rehearsal.guild import NOBODY, SimulatedGuild, member_intents
from rehearsal.slash import BotMessage, SlashResult
from tests.plugins.fake_racetime import ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET
from tests.plugins.racetime_engine import FAST_RETRY

# The bot owner who sets the harness up (racetime bots): no simulated member has this id.
SET_UP_BY = NOBODY
SETTLE_SECONDS = 5.0
SWEEP_SECONDS = 0.2


@dataclass
class DiscordHarness:
    bot: RaceDeskBot
    services: Services
    sim: SimulatedGuild
    delivery: NotificationDelivery | None = None
    web_url: str | None = None  # RaceDesk's web server, when started (``web_port``)

    @property
    def guild(self) -> discord.Guild:
        return self.sim.guild

    @property
    def channel(self) -> discord.TextChannel:
        return self.sim.channel

    @property
    def members(self) -> list[discord.Member]:
        return self.sim.members

    def member(self, index: int = 0) -> discord.Member:
        return self.sim.member(index)

    @property
    def set_up(self) -> Actor:
        """Who sets a test up through the services: an admin of this server who is also a bot
        owner (``SET_UP_BY``, no simulated member)."""
        return Actor.server_admin(SET_UP_BY, self.guild.id)

    async def set_roles(
        self, *, organizer: discord.Role | None = None, moderator: discord.Role | None = None
    ) -> None:
        """The server's organizer and/or moderator role, as a server admin sets them."""
        roles = {"organizer_role_id": organizer, "moderator_role_id": moderator}
        await self.services.access.set_roles(
            self.set_up, self.guild.id,
            {key: role.id for key, role in roles.items() if role is not None},
        )

    async def member_with_permissions(self, index: int, **permissions: bool) -> discord.Member:
        """Member ``index`` with a new role granting ``permissions`` (e.g. manage_guild=True)."""
        return await self.sim.grant(self.member(index), **permissions)

    def make_owner(self, member: discord.abc.User) -> None:
        self.sim.make_owner(member)

    async def slash(
        self,
        name: str,
        *,
        member: discord.Member | discord.User | None = None,
        in_dm: bool = False,
        options: Mapping[str, Any] | None = None,
        **more_options: Any,
    ) -> SlashResult:
        """Run ``/name`` through the real CommandTree and return the bot's replies
        (``options`` takes options named like a keyword here, e.g. ``{"member": ...}``)."""
        return await self.sim.slash(
            name, member=member or self.member(0), in_dm=in_dm, options=options, **more_options
        )

    async def press(
        self, message: BotMessage, label: str, *, member: discord.Member | None = None
    ) -> SlashResult:
        """Press the button labelled ``label`` on a reply, through discord.py's view store."""
        return await self.sim.press(message, label, member=member or self.member(0))

    async def submit_modal(
        self,
        result: SlashResult,
        values: Mapping[str, str],
        *,
        member: discord.Member | None = None,
    ) -> SlashResult:
        """Fill in the modal a command answered with (``values`` by field label) and submit
        it through discord.py's view store; returns the bot's answers."""
        [modal] = [m for m in result.messages if m.kind == "modal"]
        return await self.sim.submit_modal(modal, values, member=member or self.member(0))

    async def autocomplete(
        self, name: str, option: str, typed: str, *, member: discord.Member | None = None
    ) -> list[app_commands.Choice[str]]:
        """What ``/name`` suggests for ``option`` while ``typed`` is typed."""
        return await self.sim.autocomplete(name, option, typed, member=member or self.member(0))

    async def run_alttpr_bot(self, users: Mapping[discord.Member, tuple[str, str]]) -> None:
        """The fake racetime server's alttpr bot runs and serves this server; ``users``
        (member -> racetime id and name) have linked their racetime.gg accounts."""
        services = self.services
        owner = Actor.user(SET_UP_BY)
        await services.racetime_admin.add_bot(
            category="alttpr", client_id=ALTTPR_CLIENT_ID, client_secret=ALTTPR_CLIENT_SECRET,
            display_name="ALttPR", actor=owner, guild_id=self.guild.id,
        )
        await asyncio.wait_for(services.racetime_engine.bot("alttpr").wait_healthy(), 5)
        await services.tournaments.allow_bot(self.guild.id, "alttpr", actor=owner)
        async with services.sessionmaker.begin() as session:
            session.add_all(
                User(discord_id=member.id, racetime_id=racetime_id, racetime_name=name)
                for member, (racetime_id, name) in users.items()
            )

    async def assign_bot(self, category: str, secret_box: SecretBox) -> None:
        """A racetime bot of ``category`` (not running) serves this server, so its
        tournaments may use the category."""
        async with self.services.sessionmaker.begin() as session:
            bot = RacetimeBot(category=category, display_name=category, client_id="id",
                              client_secret_encrypted=secret_box.encrypt("secret"))
            session.add(bot)
            await session.flush()
            assert bot.id is not None
            session.add(RacetimeBotGuild(bot_id=bot.id, guild_id=self.guild.id))

    async def notifications_settled(self) -> None:
        """Every event is delivered to the listeners, and every notification they queued has
        had its first attempt (sent, fell back, failed, or waiting for a retry)."""
        assert self.delivery is not None, "start the harness with deliver_notifications=True"
        await self.services.dispatcher.drain()

        async def untried() -> int:
            async with self.services.sessionmaker() as session:
                count = await session.scalar(
                    select(func.count()).select_from(NotificationLog).where(
                        col(NotificationLog.status).in_(NotificationStatus.open()),
                        NotificationLog.last_error.is_(None),  # type: ignore[union-attr]
                    )
                )
            return int(count or 0)

        async with asyncio.timeout(SETTLE_SECONDS):
            while await untried():  # noqa: ASYNC110 - rows written by another task
                await asyncio.sleep(0.01)


@asynccontextmanager
async def running_harness(
    db_url: str,
    secret_box: SecretBox,
    racetime: RacetimeSettings | None = None,
    *,
    deliver_notifications: bool = False,
    linking: LinkSettings | None = None,
    web_port: int | None = None,
    bot_timings: BotTimings | None = None,
    seeds: SeedServiceSettings | None = None,
    clock: Clock | None = None,
) -> AsyncIterator[DiscordHarness]:
    """A bot under dpytest on ``db_url``; the racetime engine (not started) uses ``racetime``.

    ``deliver_notifications``: the notification outbox is delivered as in production (the
    real ``DiscordNotificationSender``, here into the simulated server).
    ``web_port``: RaceDesk's web server (the API, ``/healthz``, racetime's OAuth callback)
    listens on 127.0.0.1 at that port, over the same services (and is the calendar feeds'
    public address).
    """
    public = None if web_port is None else CalendarSettings(f"http://127.0.0.1:{web_port}")
    services = build_services(
        database_url=db_url, secret_box=secret_box, racetime=racetime, listener_retry=FAST_RETRY,
        linking=linking, bot_timings=bot_timings, owner_ids=[SET_UP_BY], seeds=seeds,
        calendars=public, clock=clock,
    )
    lifecycle = Lifecycle()
    await services.start(lifecycle, racetime_engine=False)
    web_url = None
    if web_port is not None:
        server = web_server(services, WebSettings(bind_port=web_port), lambda: True)
        await lifecycle.add("web server", server.start, server.stop)
        web_url = f"http://127.0.0.1:{web_port}"
    bot = RaceDeskBot(services, intents=member_intents())
    sim = SimulatedGuild(bot)
    await sim.start()
    sim.scheduled_events.now = services.clock.now  # Discord's "now" is the services' clock
    # racetime bot alerts are delivered as in production, into the simulated server.
    await start_bot_alerts(services, bot, sweep_seconds=SWEEP_SECONDS)
    delivery = (
        NotificationDelivery(
            services.sessionmaker,
            services.notifications,
            DiscordNotificationSender(bot),
            clock=services.clock,
            # The loop can miss a wake-up that comes while it queries (it clears the event in
            # ``_pause``), then waits for the sweep: keep that short, not the 60 s default.
            timings=DeliveryTimings(sweep_seconds=SWEEP_SECONDS),
        )
        if deliver_notifications
        else None
    )
    if delivery is not None:
        await delivery.start()
    try:
        yield DiscordHarness(
            bot=bot, services=services, sim=sim, delivery=delivery, web_url=web_url
        )
        sim.check_refusals()  # a post or DM Discord would have refused fails the test
    finally:
        if delivery is not None:
            await delivery.stop()
        await services.bot_alerts.stop()
        await sim.close()
        await lifecycle.close()


@pytest.fixture
async def offline_services() -> AsyncIterator[Services]:
    """The services on an in-memory database, not started (nothing touches the network)."""
    built = build_services(
        database_url="sqlite+aiosqlite:///:memory:", secret_box=SecretBox(SecretBox.generate_key())
    )
    async with Lifecycle() as lifecycle:
        await lifecycle.add("database", None, built.engine.dispose)
        yield built


@pytest.fixture
async def discord_harness(db_url: str, secret_box: SecretBox) -> AsyncIterator[DiscordHarness]:
    async with running_harness(db_url, secret_box) as harness:
        yield harness
