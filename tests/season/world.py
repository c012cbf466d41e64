"""RaceDesk as ``bot.py`` runs it, around a fake racetime.gg and two simulated Discord servers,
on one database: started, taken down and started again on the same database (a restart), and
closed. Time is a :class:`SeasonClock` the machine moves."""

from __future__ import annotations

import asyncio
import importlib
import time
from dataclasses import dataclass, field

import discord
import discord.ext.test as dpytest
import discord.ext.test.backend as dpytest_backend

from bot import RaceDeskBot, build_services, cog_module_names, start_bot_alerts
from cogs._shared.notifications.sender import DiscordNotificationSender
from cogs._shared.permissions import apply_default_permissions
from core.access import Actor
from core.accounts.linking import CALLBACK_PATH
from core.clock import ManualClock
from core.config import RacetimeSettings
from core.container import Services
from core.lifecycle import Lifecycle
from core.notifications.delivery import DeliveryTimings, NotificationDelivery
from db.secrets import SecretBox
from fake_racetime import FakeRacetimeServer
from rehearsal.guild import SimulatedGuild, member_intents
from tests.plugins.discord_bot import SET_UP_BY, SWEEP_SECONDS
from tests.plugins.fake_racetime import (
    ALTTPR_CLIENT_ID,
    ALTTPR_CLIENT_SECRET,
    SMZ3_CLIENT_ID,
    SMZ3_CLIENT_SECRET,
    seed_fake,
)
from tests.plugins.racetime_engine import FAST, FAST_RETRY
from tests.plugins.racetime_linking import link_app

# Each category's bot app on the fake racetime server.
BOTS = {
    "alttpr": (ALTTPR_CLIENT_ID, ALTTPR_CLIENT_SECRET),
    "smz3": (SMZ3_CLIENT_ID, SMZ3_CLIENT_SECRET),
}
CATEGORIES = tuple(BOTS)
STOP_SECONDS = 20.0  # a stop that takes longer is a hang: fail instead of waiting forever


class SeasonClock(ManualClock):
    """The season's time. ``now()`` moves only when the machine advances it, so a room opens
    on the machine's step and never on the wall clock; ``sleep()`` and ``monotonic()`` stay
    real (plus what was advanced), so the racetime engine's scans, backoffs and timeouts run
    as in production instead of waiting for a step that moves time."""

    def monotonic(self) -> float:
        return time.monotonic() + super().monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))


@dataclass
class Server:
    """One simulated Discord server of the season."""

    key: str  # "A", "B"
    marker: str  # in each of its tournament names and match titles, and no other server's
    guild: discord.Guild
    organizer: discord.Member  # Manage Server: organizer and moderator
    players: list[discord.Member]
    results: discord.TextChannel

    @property
    def id(self) -> int:
        return self.guild.id


@dataclass
class SeasonWorld:
    db_url: str
    secret_box: SecretBox
    clock: SeasonClock
    fake: FakeRacetimeServer = field(init=False)
    bot: RaceDeskBot = field(init=False)
    sim: SimulatedGuild = field(init=False)
    services: Services = field(init=False)
    servers: list[Server] = field(default_factory=list)
    owner: discord.Member | None = None  # a bot owner ([discord] owner_ids), in server A
    racetime_ids: dict[int, str] = field(default_factory=dict)  # Discord id -> racetime id
    running: bool = False
    _lifecycle: Lifecycle | None = None
    _delivery: NotificationDelivery | None = None

    # -- start and stop ----------------------------------------------------------------------

    async def start(self) -> None:
        self.fake = FakeRacetimeServer("127.0.0.1", 0)
        seed_fake(self.fake)
        await self.fake.start()
        self.linking = link_app(self.fake, f"http://127.0.0.1:9{CALLBACK_PATH}")
        self.services = self._build()
        self.bot = RaceDeskBot(self.services, intents=member_intents())
        self.sim = SimulatedGuild(
            self.bot, guild="Server One", members=["Owner", "OrgA", "Ann", "Abe", "Amy"]
        )
        await self._start_services()
        await self.sim.start()
        self.running = True
        await self._start_delivery()
        await self._set_up_servers()

    def _build(self) -> Services:
        return build_services(
            database_url=self.db_url, secret_box=self.secret_box,
            racetime=RacetimeSettings(host=self.fake.host, scheme="http"), clock=self.clock,
            bot_timings=FAST, listener_retry=FAST_RETRY, linking=self.linking,
            owner_ids=[SET_UP_BY],
        )

    async def _start_services(self) -> None:
        self._lifecycle = Lifecycle()
        await self.services.start(self._lifecycle, racetime_engine=True)

    async def _start_delivery(self) -> None:
        if self.owner is not None:
            self.sim.make_owner(self.owner)
        await start_bot_alerts(self.services, self.bot, sweep_seconds=SWEEP_SECONDS)
        self._delivery = NotificationDelivery(
            self.services.sessionmaker, self.services.notifications,
            DiscordNotificationSender(self.bot), clock=self.services.clock,
            timings=DeliveryTimings(sweep_seconds=SWEEP_SECONDS),
        )
        await self._delivery.start()

    async def _set_up_servers(self) -> None:
        sim = self.sim
        self.owner = sim.member("Owner")
        sim.make_owner(self.owner)
        organizer = await sim.grant(sim.member("OrgA"), manage_guild=True)
        self.servers.append(Server(
            "A", "Alder", sim.guild, organizer,
            [sim.member(name) for name in ("Ann", "Abe", "Amy")], sim.add_text_channel("results"),
        ))
        other = sim.add_server("Server Two", ["OrgB", "Bea", "Bob", "Bud"])
        admins = dpytest_backend.make_role(
            "Admins", other, permissions=discord.Permissions(manage_guild=True).value
        )
        by_name = {m.name: m for m in other.members}
        await dpytest.add_role(by_name["OrgB"], admins)
        self.servers.append(Server(
            "B", "Birch", other, other.get_member(by_name["OrgB"].id) or by_name["OrgB"],
            [by_name[name] for name in ("Bea", "Bob", "Bud")],
            dpytest_backend.make_text_channel("results", other),
        ))
        for server in self.servers:
            for player in server.players:
                self.racetime_ids[player.id] = self.fake.add_user(
                    f"Racer{player.name}", stream_live=True, twitch_channel=player.name.lower()
                )
        owner = Actor.user(SET_UP_BY)
        admin = self.services.racetime_admin
        for category, (client_id, secret) in BOTS.items():
            await admin.add_bot(
                category=category, client_id=client_id, client_secret=secret,
                display_name=category.upper(), actor=owner, guild_id=self.servers[0].id,
            )
            await asyncio.wait_for(self.services.racetime_engine.bot(category).wait_healthy(), 5)
            await admin.assign(category, self.servers[1].id, actor=owner)

    async def down(self) -> None:
        """RaceDesk stops as a process does (its lifecycle in reverse); the simulated Discord
        and racetime.gg stay up."""
        assert self.running
        self.running = False
        await self._stop_delivery()
        for name in list(self.bot.cogs):  # nobody's command reaches a stopped RaceDesk
            await self.bot.remove_cog(name)
        self.bot.tree.clear_commands(guild=None)  # commands some cogs add to the tree
        assert self._lifecycle is not None
        lifecycle, self._lifecycle = self._lifecycle, None
        await asyncio.wait_for(lifecycle.close(), STOP_SECONDS)

    async def up(self) -> None:
        """RaceDesk starts again on the same database: new services, the same Discord bot
        with its cogs set up on them, as a restarted process would have."""
        assert not self.running
        self.services = self._build()
        self.bot.services = self.services
        await self._start_services()
        for module in cog_module_names():
            await importlib.import_module(module).setup(self.bot)
        apply_default_permissions(self.bot.tree)
        self.running = True
        await self._start_delivery()
        for category in CATEGORIES:
            await asyncio.wait_for(self.services.racetime_engine.bot(category).wait_healthy(), 5)

    async def _stop_delivery(self) -> None:
        if self._delivery is not None:
            delivery, self._delivery = self._delivery, None
            await asyncio.wait_for(delivery.stop(), STOP_SECONDS)
        await asyncio.wait_for(self.services.bot_alerts.stop(), STOP_SECONDS)

    async def close(self) -> None:
        """Stop everything that was started, whatever state the season was left in."""
        errors: list[BaseException] = []

        async def attempt(step: object) -> None:
            try:
                await asyncio.wait_for(step, STOP_SECONDS)  # type: ignore[arg-type]
            except BaseException as error:
                errors.append(error)

        if self.running:
            self.running = False
            await attempt(self._stop_delivery())
        if hasattr(self, "sim"):
            await attempt(self.sim.close())
        if self._lifecycle is not None:
            lifecycle, self._lifecycle = self._lifecycle, None
            await attempt(lifecycle.close())
        if hasattr(self, "fake"):
            await attempt(self.fake.stop())
        if errors:
            raise errors[0]

    # -- who and where -----------------------------------------------------------------------

    def server_of(self, guild_id: int) -> Server:
        return next(s for s in self.servers if s.id == guild_id)
