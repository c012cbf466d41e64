"""RaceDesk's composition root: every service built and wired (:func:`build_services`), the
Discord client (:class:`RaceDeskBot`), the web server, and :func:`run_bot`, which starts them
in order and stops them in reverse.

``python bot.py`` runs the command line (``cli/``): the bot by default, ``--demo`` the
rehearsal, and the maintenance commands (``db``, ``commands``, ``generate-key``,
``rotate-key``); ``python bot.py --help`` lists them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import pkgutil
import sys
from collections.abc import Awaitable, Callable, Collection, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import discord
from discord.ext import commands

import cogs
from cogs._shared.fenced_http import fenced_http_trace
from cogs._shared.member_directory import DiscordMembers
from cogs._shared.notifications.sender import DiscordNotificationSender
from cogs._shared.permissions import (
    apply_default_permissions,
)
from cogs._shared.racetime_bots.alert_sender import DiscordAlertSender
from cogs._shared.tree import RaceDeskTree
from cogs.announcements import EVENTS as ANNOUNCED_EVENTS
from cogs.linking import EVENTS as LINK_DM_EVENTS
from cogs.schedule import EVENTS as PROPOSAL_DM_EVENTS
from core import event_loop
from core.access import AccessPolicy
from core.accounts.api_tokens import ApiTokenService
from core.accounts.linking import LinkService, LinkSettings
from core.accounts.profiles import ProfileService
from core.accounts.timezones import TimezoneService
from core.audit import AuditService
from core.calendars import CalendarFeedService, CalendarSettings
from core.clock import Clock, SystemClock
from core.config import (
    DEFAULT_CONFIG_PATH,
    DiscordSettings,
    RacetimeSettings,
    SeedServiceSettings,
    Settings,
    WebSettings,
    setup_logging,
    startup_warnings,
    where_set,
)
from core.container import Services
from core.event_store.event_log import DatabaseEventLog
from core.events import EventDispatcher, RetryPolicy
from core.health import HealthService
from core.identity import SYSTEM_USER_ID
from core.leadership import (
    NO_FENCE,
    Fence,
    FencedError,
    Leadership,
    LeaseTimings,
    Role,
    SingleProcessError,
    SingleProcessLock,
    status_of,
)
from core.lifecycle import Lifecycle
from core.live_races.async_seeds import AsyncSeeds
from core.live_races.wiring import build_live_races
from core.notifications.delivery import NotificationDelivery
from core.notifications.listeners import NotificationListeners
from core.notifications.reminders import ReminderScheduler
from core.notifications.service import NotificationService
from core.outage import DatabaseWatch
from core.pages import PublicPageService
from core.racetime_bots.admin import RacetimeAdminService
from core.racetime_bots.alerts import BotAlertService
from core.racetime_bots.bots import RacetimeBotService
from core.racetime_bots.room_store import DatabaseRoomStore
from core.racetime_bots.status import BotStatusRepository
from core.room_commands.wiring import build_room_commands
from core.rooms.api import RoomApiService
from core.rooms.match_rooms import MatchRoomService
from core.rooms.match_scheduler import MatchScheduler
from core.rooms.open_room import OpenRoomService
from core.rooms.readiness import RoomServiceReadiness
from core.seeds.service import SeedService
from core.startup_errors import (
    StartupError,
    database_step,
    dev_guild_refused,
    discord_token_refused,
    discord_unreachable,
    explained,
    listen_step,
)
from core.tournaments.announcements import AnnouncementService
from core.tournaments.discord_events import EVENTS as DISCORD_EVENT_EVENTS
from core.tournaments.discord_events import DiscordEventService
from core.tournaments.imports import ScheduleImports
from core.tournaments.match_api import MatchApiService
from core.tournaments.match_results import MatchResults
from core.tournaments.matches import MatchService
from core.tournaments.proposals import ProposalService
from core.tournaments.tournaments import TournamentService
from core.version import racedesk_version
from db.engine import (
    check_sqlite_file,
    create_engine,
    create_sessionmaker,
    sqlite_file,
    sqlite_in_memory,
)
from db.migrate import upgrade_to_head
from db.secrets import SecretBox
from racetime.category_bot import BotTimings
from racetime.client import RacetimeClient
from racetime.manager import RacetimeManager
from web.app import WebDependencies, WebServer, create_app
from web.metrics import PrometheusMetrics, RuntimeState
from web.rate_limit import RateLimiter

log = logging.getLogger("racedesk")


def cog_module_names() -> list[str]:
    """Every cog module under ``cogs/``; modules and packages starting with ``_`` are helpers."""
    return sorted(
        f"{cogs.__name__}.{module.name}"
        for module in pkgutil.iter_modules(cogs.__path__)
        if not module.name.startswith("_") and not module.ispkg
    )


class DevGuildRefusedError(Exception):
    """Discord refused the slash commands for ``[discord] dev_guild_id``'s server."""

    def __init__(self, guild_id: int) -> None:
        super().__init__(f"Discord refused slash commands for the server {guild_id}")
        self.guild_id = guild_id


class RaceDeskBot(commands.Bot):
    """The Discord client; owns nothing but the cogs. Services are started and stopped by the
    application's :class:`~core.lifecycle.Lifecycle`, never by a cog.

    Its bot owners are the access policy's (``[discord] owner_ids``): discord.py never fills
    them from the Discord application's owner or team (:meth:`is_owner` asks the policy).
    """

    def __init__(
        self,
        services: Services,
        *,
        dev_guild_id: int | None = None,
        sync_commands: bool = False,
        intents: discord.Intents | None = None,
        **client_options: Any,
    ) -> None:
        # No privileged intents: interactions carry the member, and DMs need none.
        intents = intents or discord.Intents.default()
        # RaceDesk never joins a voice channel: discord.py's warnings that voice is not
        # supported would only open every start's log with noise.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        # Under a leader lease, the last check that this process still leads comes right
        # before each request that would change something on Discord (none when alone).
        trace = fenced_http_trace(services.fence)
        if trace is not None:
            client_options.setdefault("http_trace", trace)
        self.services = services  # before discord.py's __init__, which sets owner_ids
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=RaceDeskTree,
            owner_ids=services.access.owner_ids,
            help_command=None,
            **client_options,
        )
        self._dev_guild_id = dev_guild_id
        self._sync_commands = sync_commands
        # Racetime chat commands ask what their senders are in the tournament's server.
        services.access.members = DiscordMembers(self)
        # Started once the client has logged in (they need Discord's HTTP API).
        self.after_login: list[Callable[[], Awaitable[None]]] = []

    @property
    def owner_ids(self) -> frozenset[int]:
        """The access policy's bot owners (the simulated server sets them too)."""
        return self.services.access.owner_ids

    @owner_ids.setter
    def owner_ids(self, ids: Collection[int] | None) -> None:
        self.services.access.owner_ids = ids

    async def is_owner(self, user: discord.abc.User, /) -> bool:
        """One of ``[discord] owner_ids``, and only those (never the application's team)."""
        return user.id in self.services.access.owner_ids

    async def load_cogs(self) -> None:
        """Load every cog (one that fails to load fails start-up), then hide each top-level
        command behind the Discord permissions its access rules call for."""
        for name in cog_module_names():
            await self.load_extension(name)
            log.debug("Loaded %s", name)
        apply_default_permissions(self.tree)

    async def setup_hook(self) -> None:
        await self.load_cogs()
        if self._sync_commands:
            if self._dev_guild_id:
                guild = discord.Object(id=self._dev_guild_id)
                self.tree.copy_global_to(guild=guild)
                try:
                    synced = await self.tree.sync(guild=guild)
                except discord.Forbidden as error:
                    raise DevGuildRefusedError(self._dev_guild_id) from error
            else:
                synced = await self.tree.sync()
            log.info("Synced %d slash commands", len(synced))
        await self.logged_in()

    async def logged_in(self) -> None:
        """Start what waited for the login (``after_login``), then tune the interpreter for
        what comes (:func:`tune_interpreter`)."""
        for start in self.after_login:
            await start()
        tune_interpreter()

    async def on_ready(self) -> None:
        log.info("Logged in as %s (%s) in %d guilds", self.user, self.user and self.user.id,
                 len(self.guilds))


class ShardedRaceDeskBot(RaceDeskBot, commands.AutoShardedBot):
    """RaceDesk on discord.py's :class:`~discord.AutoShardedClient`, for large deployments
    (``[discord] shards``): one process runs every shard (the leader, with ``[ha]``)."""

    async def on_shard_ready(self, shard_id: int) -> None:
        log.info("Shard %d of %s is ready", shard_id, self.shard_count)

    async def close(self) -> None:
        # discord.py's AutoShardedClient makes its event queue at login, and its close()
        # needs it: a client stopped before it ever logged in has no shard to close.
        if getattr(self, "_AutoShardedClient__queue", None) is None:
            await discord.Client.close(self)
            return
        await super().close()


GC_THRESHOLDS = (10_000, 10, 100)  # CPython's are (700, 10, 10)
SWITCH_INTERVAL_SECONDS = 0.0005  # CPython's is 0.005


def tune_interpreter() -> None:
    """Once start-up is done: :func:`freeze_start_up_objects`, and a shorter switch
    interval for the database's threads. Every statement SQLite runs lets go of the GIL, and
    taking it back from a busy event loop took up to the whole interval (5 ms): at a peak the
    event log's commit of a few hundred rows spent most of its time waiting for the GIL,
    holding the writers' turn (issue 28)."""
    freeze_start_up_objects()
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)


def freeze_start_up_objects() -> None:
    """Collect once, then move every object alive to the collector's permanent generation
    (``gc.freeze``): the modules, cogs, command tree, services and engine that live as long
    as the process. Every full collection would otherwise walk them all again: 40-190 ms
    pauses of the event loop, which held up room frames and interactions (issue 28)."""
    gc.collect()
    gc.freeze()
    # Frozen objects no longer count as long-lived, so a full collection would run after
    # every 10th middle one; and with the default 700 allocations between young ones, what a
    # burst of frames allocates is promoted before it dies. Fewer, later collections.
    gc.set_threshold(*GC_THRESHOLDS)
    log.debug("%d objects frozen out of garbage collection", gc.get_freeze_count())


def discord_client(
    services: Services, settings: DiscordSettings, **options: Any
) -> RaceDeskBot:
    """The Discord client ``[discord]`` asks for: one gateway connection, or shards (as many
    as Discord recommends for ``"auto"``: discord.py asks at login)."""
    common: dict[str, Any] = {
        "dev_guild_id": settings.dev_guild_id, "sync_commands": settings.sync_commands,
        **options,
    }
    if settings.shards == "off":
        return RaceDeskBot(services, **common)
    count = None if settings.shards == "auto" else settings.shards
    return ShardedRaceDeskBot(services, shard_count=count, **common)


def build_services(
    *,
    database_url: str,
    secret_box: SecretBox,
    racetime: RacetimeSettings | None = None,
    clock: Clock | None = None,
    bot_timings: BotTimings | None = None,
    listener_retry: RetryPolicy | None = None,
    linking: LinkSettings | None = None,
    owner_ids: Collection[int] = (),
    seeds: SeedServiceSettings | None = None,
    calendars: CalendarSettings | None = None,
    leadership: Leadership | None = None,
) -> Services:
    """Construct every service without touching the network (tests use this too);
    ``owner_ids`` are the bot owners (``[discord] owner_ids``); ``seeds`` is ``[seeds]``;
    ``calendars`` the feeds' public URL and event length (from ``[web]``); ``leadership``
    the leader lease with ``[ha] enabled`` (None: this process runs alone, unfenced)."""
    racetime = racetime or RacetimeSettings()
    clock = clock or SystemClock()
    metrics = PrometheusMetrics()
    fence: Fence = leadership.fence if leadership is not None else NO_FENCE
    # A leader's sessions carry its id: a process taking over from it can end them.
    engine = create_engine(
        database_url, application_name=leadership.holder if leadership is not None else None
    )
    sessionmaker = create_sessionmaker(engine)
    # The database going away and coming back (core.outage): the parts wait on this watch.
    database_watch = DatabaseWatch.for_url(
        database_url, clock=clock,
        application_name=leadership.holder if leadership is not None else None,
    )
    # The group commit every room change waits for never waits for a pooled connection (an
    # in-memory SQLite database is one connection's own: it shares the pool's).
    event_log_engine = None if sqlite_in_memory(database_url) else create_engine(
        database_url, pool_size=1,
        application_name=leadership.holder if leadership is not None else None,
    )
    event_log = DatabaseEventLog(
        sessionmaker, clock=clock, outage=database_watch,
        writer=create_sessionmaker(event_log_engine) if event_log_engine is not None else None,
    )
    # A listener refused because this process no longer leads (its fenced write, or the last
    # check before a Discord request) leaves the event to the leader: no retry, no park.
    dispatcher = EventDispatcher(
        event_log, retry=listener_retry, metrics=metrics, outage=database_watch,
        stop_on=(FencedError,),
    )
    bot_status = BotStatusRepository(sessionmaker, event_log, clock, fence=fence)
    health = HealthService(
        engine=engine,
        dispatcher=dispatcher,
        clock=clock,
        version=racedesk_version(),
        bot_counts=bot_status.counts,
        database_watch=database_watch,
    )
    racetime_bots = RacetimeBotService(sessionmaker, secret_box)
    room_store = DatabaseRoomStore(sessionmaker, event_log, outage=database_watch)
    client = RacetimeClient(
        racetime.host,
        secure=racetime.scheme == "https",
        timeout=racetime.request_timeout_seconds,
        user_agent=f"RaceDesk/{racedesk_version()}",
        clock=clock,
        metrics=metrics,
    )
    manager = RacetimeManager(
        client=client,
        store=room_store,
        health=bot_status,
        dispatcher=dispatcher,
        active_bots=racetime_bots.active_credentials,
        timings=bot_timings,
        clock=clock,
        metrics=metrics,
    )
    audit = AuditService(sessionmaker)
    access = AccessPolicy(sessionmaker, audit, owner_ids=owner_ids)
    notifications = NotificationService(sessionmaker, audit, access=access)
    metrics.sample_state_with(RuntimeState(
        racetime=manager, dispatcher=dispatcher, outbox_depth=notifications.outbox_depth,
        bots=racetime_bots.list_bots,
    ))
    NotificationListeners(sessionmaker, notifications).subscribe(dispatcher)
    MatchResults(
        event_log, racetime_url=f"{racetime.scheme}://{racetime.host}", fence=fence
    ).subscribe(dispatcher)
    match_rooms = MatchRoomService(
        sessionmaker=sessionmaker,
        event_log=event_log,
        racetime=manager,
        client=client,
        store=room_store,
        clock=clock,
        metrics=metrics,
        access=access,
        fence=fence,
    )
    match_rooms.subscribe(dispatcher)
    tournaments = TournamentService(sessionmaker, audit, access=access)
    match_scheduler = MatchScheduler(
        sessionmaker, event_log, match_rooms, system_user_id=SYSTEM_USER_ID, clock=clock,
        outage=database_watch,
    )
    match_scheduler.subscribe(dispatcher)
    tournaments.on_settings_changed(match_scheduler.on_tournament_changed)
    # Issue 25: players reminded before their match (DMs, the tournament's reminder channel).
    match_reminders = ReminderScheduler(
        sessionmaker, event_log, racetime_url=f"{racetime.scheme}://{racetime.host}", clock=clock
    )
    match_reminders.subscribe(dispatcher)
    tournaments.on_settings_changed(match_reminders.on_tournament_changed)
    matches = MatchService(
        sessionmaker, event_log, audit, tournaments, clock,
        access=access,
        racetime_url=f"{racetime.scheme}://{racetime.host}",
        readiness=RoomServiceReadiness(match_rooms),
    )
    open_room = OpenRoomService(sessionmaker, match_rooms, matches, audit, access=access)
    timezones = TimezoneService(sessionmaker, audit, clock, access=access)
    link_service = LinkService(
        sessionmaker, event_log, client, secret_box, audit, linking, clock=clock
    )
    live_races = build_live_races(
        sessionmaker, event_log, dispatcher, audit, manager, client, room_store, clock,
        access=access, racetime_url=f"{racetime.scheme}://{racetime.host}", metrics=metrics,
        fence=fence, outage=database_watch,
    )
    bot_alerts = BotAlertService(sessionmaker, manager, clock)
    bot_alerts.subscribe(dispatcher)
    seed_service = SeedService(sessionmaker, access, audit, seeds or SeedServiceSettings(), clock)
    room_commands = build_room_commands(
        sessionmaker, event_log, dispatcher, audit, access, clock, manager, seed_service,
        matches, live_races.live_races, racetime_url=f"{racetime.scheme}://{racetime.host}",
    )
    schedule_imports = ScheduleImports(sessionmaker, matches, tournaments, access=access)
    calendar_feeds = CalendarFeedService(
        sessionmaker, audit, clock, secret_box, tournaments, access=access,
        settings=calendars, racetime_url=f"{racetime.scheme}://{racetime.host}",
    )
    services = Services(
        engine=engine,
        event_log_engine=event_log_engine,
        database_watch=database_watch,
        sessionmaker=sessionmaker,
        event_log=event_log,
        dispatcher=dispatcher,
        clock=clock,
        health=health,
        bot_status=bot_status,
        racetime_bots=racetime_bots,
        room_store=room_store,
        racetime_engine=manager,
        racetime_client=client,
        audit=audit,
        access=access,
        racetime_admin=RacetimeAdminService(
            sessionmaker, racetime_bots, manager, audit, event_log, dispatcher,
            bot_status=bot_status, alerts=bot_alerts, access=access,
            leadership=lambda: status_of(leadership),
        ),
        notifications=notifications,
        # Tournaments and timezones (issue 11).
        tournaments=tournaments,
        timezones=timezones,
        match_rooms=match_rooms,
        matches=matches,
        match_scheduler=match_scheduler,
        announcements=AnnouncementService(sessionmaker, tournaments, matches),
        open_room=open_room,
        linking=link_service,
        profiles=ProfileService(link_service, timezones, access=access),
        # The HTTP API (issue 12).
        api_tokens=ApiTokenService(sessionmaker, audit, clock, access=access),
        room_api=RoomApiService(
            sessionmaker, open_room, audit, access=access,
            racetime_url=f"{racetime.scheme}://{racetime.host}",
        ),
        metrics=metrics,
        async_tournaments=live_races.async_tournaments,
        live_races=live_races.live_races,
        live_race_rooms=live_races.rooms,
        live_race_scheduler=live_races.scheduler,
        async_runs=live_races.async_runs,
        async_run_sweeper=live_races.async_run_sweeper,
        async_reviews=live_races.async_reviews,
        async_leaderboards=live_races.async_leaderboards,
        bot_alerts=bot_alerts,
        seeds=seed_service,
        async_seeds=AsyncSeeds(
            sessionmaker, live_races.async_tournaments, live_races.async_runs, seed_service,
            audit, access=access,
        ),
        proposals=ProposalService(
            sessionmaker, event_log, audit, matches, tournaments, clock, access=access
        ),
        room_commands=room_commands,
        calendars=calendar_feeds,
        pages=PublicPageService(
            sessionmaker, clock, calendars=calendar_feeds,
            public_url=calendar_feeds.settings.public_url,
            racetime_url=f"{racetime.scheme}://{racetime.host}",
        ),
        schedule_imports=schedule_imports,
        match_api=MatchApiService(matches, schedule_imports),
        discord_events=DiscordEventService(sessionmaker, tournaments, matches, clock),
        match_reminders=match_reminders,
        leadership=leadership,
        fence=fence,
    )
    metrics.watch_leadership(lambda: status_of(services.leadership))
    metrics.watch_database(lambda: database_watch.available)
    return services



def web_server(
    services: Services, settings: WebSettings, discord_connected: Callable[[], bool]
) -> WebServer:
    """The HTTP server (``/healthz`` and the API) over ``services``; not started yet."""
    app = create_app(
        WebDependencies(
            health=services.health,
            discord_connected=discord_connected,
            api_tokens=services.api_tokens,
            room_api=services.room_api,
            match_api=services.match_api,
            rate_limiter=RateLimiter(settings.api_requests_per_minute, clock=services.clock),
            linking=services.linking,
            calendars=services.calendars,
            pages=services.pages,
            metrics=exported_metrics(services, settings),
            leadership=lambda: status_of(services.leadership),
            database_watch=services.database_watch,
        )
    )
    return WebServer(app, host=settings.bind_host, port=settings.bind_port)


def exported_metrics(services: Services, settings: WebSettings) -> PrometheusMetrics | None:
    """What ``/metrics`` serves: the services' Prometheus metrics, unless turned off."""
    if settings.metrics and isinstance(services.metrics, PrometheusMetrics):
        return services.metrics
    return None


def notification_delivery(services: Services, client: discord.Client) -> NotificationDelivery:
    """The notification outbox's delivery, sending through ``client``."""
    return NotificationDelivery(
        services.sessionmaker,
        services.notifications,
        DiscordNotificationSender(client),
        clock=services.clock,
        metrics=services.metrics,
        fence=services.fence,
        outage=services.database_watch,
    )


async def start_bot_alerts(
    services: Services, client: discord.Client, *, sweep_seconds: float | None = None
) -> None:
    """Deliver racetime bot alerts through ``client`` (stop with ``services.bot_alerts.stop``)."""
    kwargs = {"sweep_seconds": sweep_seconds} if sweep_seconds is not None else {}
    await services.bot_alerts.start(
        DiscordAlertSender(client), lambda: services.access.owner_ids, **kwargs
    )


# -- running ----------------------------------------------------------------------------------


# What the cogs' listeners hear (posts and DMs): held until they subscribe, after the login.
# Discord scheduled events (cogs/discord_events.py) hear the match events too.
DISCORD_SIDE_EVENTS = tuple(dict.fromkeys((
    *ANNOUNCED_EVENTS, *LINK_DM_EVENTS, *DISCORD_EVENT_EVENTS, *PROPOSAL_DM_EVENTS,
)))


async def start_with_discord(
    services: Services,
    bot: RaceDeskBot,
    lifecycle: Lifecycle,
    *,
    racetime_engine: bool = True,
    database: bool = True,
) -> None:
    """Start the services under ``lifecycle`` for ``bot``.

    The cogs subscribe their listeners once the bot has logged in, and Discord's ``close``
    unsubscribes them; event delivery runs before and after (what a crash left unacknowledged
    is delivered at once, the racetime engine reports what rooms did meanwhile). Events for
    those listeners wait for them (:meth:`EventDispatcher.reserve`), or for the next start,
    instead of being acknowledged without them and never posted.
    """
    dispatcher = services.dispatcher

    async def listening() -> None:
        ready()

    async def not_listening() -> None:
        dispatcher.reserve(*DISCORD_SIDE_EVENTS)

    ready = dispatcher.reserve(*DISCORD_SIDE_EVENTS)
    bot.after_login.insert(0, listening)  # setup_hook: the cogs are loaded by then
    await services.start(lifecycle, racetime_engine=racetime_engine, database=database)
    await lifecycle.add("discord", None, bot.close)
    await lifecycle.add("discord listeners", None, not_listening)  # stopped before the bot


async def run_bot(settings: Settings, config_path: Path = DEFAULT_CONFIG_PATH) -> int:
    """Start everything in order, run until Discord ends or a signal comes, stop in reverse.

    With ``[ha] enabled`` (PostgreSQL) the process is a standby first: the database and the
    web server start, then it waits for the leader lease, and only then starts the parts
    that act (:func:`start_leading`). On SQLite it is the one process on its file.

    A deployment mistake met on the way (the database, the web server's port, the Discord
    login, a second process on a SQLite file) raises :class:`StartupError` once what had
    started is stopped again.
    """
    setup_logging(settings.logging)
    log.debug("RaceDesk starting on the %s event loop", event_loop.name())
    for warning in startup_warnings(settings, config_path):
        log.warning(warning)
    security = settings.security
    # Encrypts with secret_key; decrypts with it or any of old_secret_keys.
    secret_box = SecretBox(security.secret_key, old_keys=security.old_secret_keys)
    with database_step(settings.database.url, config_path):
        only_process = hold_sqlite_file(settings.database.url)
        await upgrade_to_head(settings.database.url)
    try:
        leadership = leader_lease(settings)
        services = build_services(
            database_url=settings.database.url,
            secret_box=secret_box,
            racetime=settings.racetime,
            linking=LinkSettings.from_config(settings.oauth, settings.web),
            owner_ids=settings.discord.owner_ids,
            seeds=settings.seeds,
            calendars=CalendarSettings.from_config(settings.web),
            leadership=leadership,
        )
        async with Lifecycle() as lifecycle:
            lifecycle.handle_signals()
            bot = discord_client(services, settings.discord)
            server = web_server(
                services, settings.web, lambda: bot.is_ready() and not bot.is_closed()
            )
            if leadership is None:
                await start_with_discord(services, bot, lifecycle)
                # Stops before the Discord client: no request is answered by a half-closed bot.
                with listen_step(settings.web, config_path):
                    await lifecycle.add("web server", server.start, server.stop)
            else:
                await services.start_database(lifecycle)
                # A standby answers /healthz and /readyz (and nothing else) while it waits.
                with listen_step(settings.web, config_path):
                    await lifecycle.add("web server", server.start, server.stop)
                # Handed over once the leader's parts have stopped (they stop first).
                await lifecycle.add("leader lease", None, leadership.release)
                if not await wait_to_lead(leadership, lifecycle):
                    return 0  # stopped while standing by
                await start_with_discord(services, bot, lifecycle, database=False)
            await start_leading(services, bot, lifecycle)
            if leadership is not None:
                leadership.started()  # ready for traffic (/readyz) once its parts run
            with explained(lambda error: discord_failure(error, config_path)):
                await run_until_stopped(
                    bot.start(settings.discord.token.get_secret_value()), lifecycle
                )
    finally:
        if only_process is not None:
            only_process.release()
    return 0


async def start_leading(services: Services, bot: RaceDeskBot, lifecycle: Lifecycle) -> None:
    """What only the process that acts runs, once the bot has logged in: the notification
    outbox's delivery and the racetime bots' alerts."""
    delivery = notification_delivery(services, bot)
    bot.after_login.append(delivery.start)
    # Stops before the Discord client does, so sends under way can finish.
    await lifecycle.add("notification delivery", None, delivery.stop)
    bot.after_login.append(lambda: start_bot_alerts(services, bot))
    await lifecycle.add("racetime alerts", None, services.bot_alerts.stop)


# A process that lost the lead exits with this status (EX_TEMPFAIL): its supervisor starts it
# again (deploy/racedesk.service: Restart=on-failure), and it comes back as a standby.
EXIT_LOST_LEAD = 75


def hold_sqlite_file(database_url: str) -> SingleProcessLock | None:
    """On SQLite, be the one RaceDesk process on the file (a second one is refused with one
    line); None on PostgreSQL."""
    path = sqlite_file(database_url)
    if path is None:
        return None
    # The file and its folder first: what is wrong with them is said as it always is.
    check_sqlite_file(database_url)
    lock = SingleProcessLock(path)
    try:
        lock.acquire()
    except SingleProcessError as error:
        raise StartupError(str(error)) from None
    return lock


def leader_lease(settings: Settings) -> Leadership | None:
    """The leader lease with ``[ha] enabled`` (a process that loses it exits at once);
    None when this process runs alone."""
    if not settings.ha.enabled:
        if settings.database.url.startswith("postgresql"):
            log.info(
                "PostgreSQL with [ha] off: this process acts alone. Run one RaceDesk process "
                "on this database, or turn [ha] enabled on in every process to run a standby."
            )
        return None
    leadership = Leadership(
        settings.database.url, timings=LeaseTimings.for_lease(settings.ha.lease_seconds)
    )
    leadership.on_lost(exit_on_lost_lead)
    return leadership


def exit_on_lost_lead(reason: str) -> None:
    """Stop acting at once: exit without stopping the parts in order, as a process killed by
    SIGKILL does (everything it did is in the database, and the leader now in charge picks
    up from there). An orderly stop would deliver pending events and send DMs: effects a
    process that no longer leads must not cause."""
    log.critical(
        "This process no longer leads: %s. It exits now, with status %d; its supervisor "
        "starts it again as a standby.", reason, EXIT_LOST_LEAD,
    )
    logging.shutdown()
    os._exit(EXIT_LOST_LEAD)


async def wait_to_lead(leadership: Leadership, lifecycle: Lifecycle) -> bool:
    """Stand by until this process holds the lease (True), or is asked to stop (False)."""
    log.info(
        "High availability ([ha] enabled): this process (%s, %s) stands by until it holds "
        "the leader lease", leadership.holder_name, leadership.holder,
    )

    async def acquire() -> None:
        await leadership.acquire()

    await run_until_stopped(acquire(), lifecycle)
    return leadership.role is Role.LEADER and not lifecycle.stop_requested


def discord_failure(error: BaseException, config_path: Path) -> str | None:
    """A refused token or development server, or an unreachable Discord, as one line."""
    if isinstance(error, discord.LoginFailure):
        return discord_token_refused(where_set(("discord", "token"), config_path))
    if isinstance(error, DevGuildRefusedError):
        setting = where_set(("discord", "dev_guild_id"), config_path)
        return dev_guild_refused(error.guild_id, setting)
    if isinstance(error, aiohttp.ClientConnectionError | TimeoutError):
        return discord_unreachable(error)
    return None


async def run_until_stopped(main: Coroutine[Any, Any, None], lifecycle: Lifecycle) -> None:
    """Run ``main`` until it ends (its error is raised) or the lifecycle is asked to stop."""
    task = asyncio.ensure_future(main)
    stop = asyncio.ensure_future(lifecycle.wait_for_stop())
    try:
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


if __name__ == "__main__":
    from cli.main import main

    sys.exit(main())
