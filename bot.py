"""RaceDesk's composition root and command line.

``python bot.py`` runs the bot; ``python bot.py db upgrade`` migrates the database and
``db backup FILE`` / ``db restore FILE`` save it to one file and bring it back;
``python bot.py commands [--json]`` lists every slash command; ``python bot.py generate-key``
prints a new secret key for ``[security] secret_key``; ``python bot.py rotate-key``
re-encrypts every stored secret with the current key. ``--config PATH`` goes before or after
the command. A deployment mistake ends with one line saying what to change, and status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import pkgutil
import sys
from collections.abc import Awaitable, Callable, Collection, Coroutine, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

import cogs
from cogs._shared.bot_alert_sender import DiscordAlertSender
from cogs._shared.notification_sender import DiscordNotificationSender
from cogs._shared.permissions import (
    apply_default_permissions,
    audience_of,
    permission_names,
)
from cogs._shared.tree import RaceDeskTree
from core.access import AccessPolicy
from core.clock import Clock, SystemClock
from core.config import (
    DEFAULT_CONFIG_PATH,
    ConfigError,
    RacetimeSettings,
    SecuritySettings,
    Settings,
    WebSettings,
    load_database_settings,
    load_maintenance_settings,
    load_settings,
    setup_logging,
    startup_warnings,
    where_set,
)
from core.events import EventDispatcher, RetryPolicy
from core.identity import SYSTEM_USER_ID
from core.lifecycle import Lifecycle
from core.services.announcements import AnnouncementService
from core.services.api_tokens import ApiTokenService
from core.services.audit import AuditService
from core.services.bot_alerts import BotAlertService
from core.services.bot_status import BotStatusRepository
from core.services.container import Services
from core.services.event_log import DatabaseEventLog
from core.services.health import HealthService
from core.services.linking import LinkService, LinkSettings
from core.services.live_race_wiring import build_live_races
from core.services.match_results import MatchResults
from core.services.match_room_readiness import RoomServiceReadiness
from core.services.match_rooms import MatchRoomService
from core.services.match_scheduler import MatchScheduler
from core.services.matches import MatchService
from core.services.notification_delivery import NotificationDelivery
from core.services.notification_listeners import NotificationListeners
from core.services.notifications import NotificationService
from core.services.open_room import OpenRoomService
from core.services.profiles import ProfileService
from core.services.racetime_admin import RacetimeAdminService
from core.services.racetime_bots import RacetimeBotService
from core.services.racetime_store import DatabaseRoomStore
from core.services.room_api import RoomApiService
from core.services.timezones import TimezoneService
from core.services.tournaments import TournamentService
from core.startup_errors import (
    StartupError,
    database_step,
    dev_guild_refused,
    discord_token_refused,
    discord_unreachable,
    explained,
    listen_step,
)
from core.version import racedesk_version
from db.backup import BackupError, backup, restore
from db.engine import create_engine, create_sessionmaker
from db.migrate import upgrade_to_head
from db.models import metadata
from db.secrets import SecretBox, SecretKeyError, reencrypt_stored_secrets
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
    ) -> None:
        # No privileged intents: interactions carry the member, and DMs need none.
        intents = intents or discord.Intents.default()
        # RaceDesk never joins a voice channel: discord.py's warnings that voice is not
        # supported would only open every start's log with noise.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        self.services = services  # before discord.py's __init__, which sets owner_ids
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=RaceDeskTree,
            owner_ids=services.access.owner_ids,
            help_command=None,
        )
        self._dev_guild_id = dev_guild_id
        self._sync_commands = sync_commands
        # Started once the client has logged in (they need Discord's HTTP API).
        self.after_login: list[Callable[[], Awaitable[None]]] = []

    @property  # type: ignore[override]
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
        for start in self.after_login:
            await start()

    async def on_ready(self) -> None:
        log.info("Logged in as %s (%s) in %d guilds", self.user, self.user and self.user.id,
                 len(self.guilds))


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
) -> Services:
    """Construct every service without touching the network (tests use this too);
    ``owner_ids`` are the bot owners (``[discord] owner_ids``)."""
    racetime = racetime or RacetimeSettings()
    clock = clock or SystemClock()
    metrics = PrometheusMetrics()
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    event_log = DatabaseEventLog(sessionmaker, clock=clock)
    dispatcher = EventDispatcher(event_log, retry=listener_retry, metrics=metrics)
    bot_status = BotStatusRepository(sessionmaker, event_log, clock)
    health = HealthService(
        engine=engine,
        dispatcher=dispatcher,
        clock=clock,
        version=racedesk_version(),
        bot_counts=bot_status.counts,
    )
    racetime_bots = RacetimeBotService(sessionmaker, secret_box)
    room_store = DatabaseRoomStore(sessionmaker, event_log)
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
    MatchResults(event_log, racetime_url=f"{racetime.scheme}://{racetime.host}").subscribe(
        dispatcher
    )
    match_rooms = MatchRoomService(
        sessionmaker=sessionmaker,
        event_log=event_log,
        racetime=manager,
        client=client,
        store=room_store,
        clock=clock,
        metrics=metrics,
        access=access,
    )
    match_rooms.subscribe(dispatcher)
    tournaments = TournamentService(sessionmaker, audit, access=access)
    match_scheduler = MatchScheduler(
        sessionmaker, event_log, match_rooms, system_user_id=SYSTEM_USER_ID, clock=clock
    )
    match_scheduler.subscribe(dispatcher)
    tournaments.on_settings_changed(match_scheduler.on_tournament_changed)
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
    )
    bot_alerts = BotAlertService(sessionmaker, manager, clock)
    bot_alerts.subscribe(dispatcher)
    return Services(
        engine=engine,
        sessionmaker=sessionmaker,
        event_log=event_log,
        dispatcher=dispatcher,
        clock=clock,
        health=health,
        bot_status=bot_status,
        racetime_bots=racetime_bots,
        room_store=room_store,
        racetime=manager,
        racetime_client=client,
        audit=audit,
        access=access,
        racetime_admin=RacetimeAdminService(
            sessionmaker, racetime_bots, manager, audit, event_log, dispatcher,
            bot_status=bot_status, alerts=bot_alerts, access=access,
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
        **live_races,
        bot_alerts=bot_alerts,
    )



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
            rate_limiter=RateLimiter(settings.api_requests_per_minute, clock=services.clock),
            linking=services.linking,
            metrics=exported_metrics(services, settings),
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
    )


async def start_bot_alerts(
    services: Services, client: discord.Client, *, sweep_seconds: float | None = None
) -> None:
    """Deliver racetime bot alerts through ``client`` (stop with ``services.bot_alerts.stop``)."""
    kwargs = {"sweep_seconds": sweep_seconds} if sweep_seconds is not None else {}
    await services.bot_alerts.start(
        DiscordAlertSender(client), lambda: services.access.owner_ids, **kwargs
    )


# -- commands listing -------------------------------------------------------------------------


def describe_commands(tree: app_commands.CommandTree) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for command in tree.walk_commands():
        if isinstance(command, app_commands.Group):
            continue
        rows.append(
            {
                "command": f"/{command.qualified_name}",
                "description": command.description,
                "audience": audience_of(command),
                # What Discord hides it behind: its top-level command's (Discord applies that
                # to every subcommand); null: every member sees it.
                "default_permissions": permission_names(
                    (command.root_parent or command).default_permissions
                ),
                "guild_only": bool(
                    command.guild_only or getattr(command.root_parent, "guild_only", False)
                ),
                "options": [
                    {
                        "name": parameter.name,
                        "type": parameter.type.name,
                        "required": parameter.required,
                        "description": parameter.description,
                    }
                    for parameter in command.parameters
                ],
            }
        )
    return sorted(rows, key=lambda row: row["command"])


def format_command_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| Command | Options | Who | What it does |", "| --- | --- | --- | --- |"]
    for row in rows:
        options = " ".join(
            f"`{o['name']}`" if o["required"] else f"`[{o['name']}]`" for o in row["options"]
        )
        lines.append(
            f"| `{row['command']}` | {options or '—'} | {row['audience']} | {row['description']} |"
        )
    return "\n".join(lines)


async def registered_commands() -> list[dict[str, Any]]:
    services = build_services(
        database_url="sqlite+aiosqlite:///:memory:", secret_box=SecretBox(SecretBox.generate_key())
    )
    async with Lifecycle() as lifecycle:
        await lifecycle.add("database", None, services.engine.dispose)
        bot = RaceDeskBot(services)
        await lifecycle.add("discord", bot.load_cogs, bot.close)
        return describe_commands(bot.tree)


# -- secrets ----------------------------------------------------------------------------------


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def make_secret_box(security: SecuritySettings) -> SecretBox:
    """Encrypts with ``secret_key``; decrypts with it or any of ``old_secret_keys``."""
    return SecretBox(security.secret_key, old_keys=security.old_secret_keys)


async def rotate_key(config_path: Path) -> int:
    """Re-encrypt every stored secret with the current key, in one transaction."""
    settings = load_maintenance_settings(config_path)
    box = make_secret_box(settings.security)
    with database_step(settings.database.url, config_path):
        await upgrade_to_head(settings.database.url)
    engine = create_engine(settings.database.url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            report = await reencrypt_stored_secrets(session, box, metadata)
    finally:
        await engine.dispose()
    print(
        f"Re-encrypted {plural(report.rows_rewritten, 'row')} "
        "with the current [security] secret_key."
    )
    if not report.undecryptable:
        print("Every stored secret is readable: old_secret_keys can be removed now.")
        return 0
    print(
        f"Could not decrypt {plural(len(report.undecryptable), 'stored secret')} "
        "(left unchanged):",
        file=sys.stderr,
    )
    for secret in report.undecryptable:
        print(f"  {secret}", file=sys.stderr)
    print(
        "Add the key they were encrypted with to [security] old_secret_keys and run rotate-key "
        "again; a racetime bot can also be given its credentials again with /racetime bot edit.",
        file=sys.stderr,
    )
    return 1


# -- running ----------------------------------------------------------------------------------


async def run_bot(settings: Settings, config_path: Path = DEFAULT_CONFIG_PATH) -> int:
    """Start everything in order, run until Discord ends or a signal comes, stop in reverse.

    A deployment mistake met on the way (the database, the web server's port, the Discord
    login) raises :class:`StartupError` once what had started is stopped again.
    """
    setup_logging(settings.logging)
    for warning in startup_warnings(settings, config_path):
        log.warning(warning)
    secret_box = make_secret_box(settings.security)
    with database_step(settings.database.url, config_path):
        await upgrade_to_head(settings.database.url)
    services = build_services(
        database_url=settings.database.url,
        secret_box=secret_box,
        racetime=settings.racetime,
        linking=LinkSettings.from_config(settings.oauth, settings.web),
        owner_ids=settings.discord.owner_ids,
    )
    async with Lifecycle() as lifecycle:
        lifecycle.handle_signals()
        await services.start(lifecycle)
        bot = RaceDeskBot(
            services,
            dev_guild_id=settings.discord.dev_guild_id,
            sync_commands=settings.discord.sync_commands,
        )
        await lifecycle.add("discord", None, bot.close)
        # Stops before the Discord client: no request is answered by a half-closed bot.
        server = web_server(services, settings.web, lambda: bot.is_ready() and not bot.is_closed())
        with listen_step(settings.web, config_path):
            await lifecycle.add("web server", server.start, server.stop)
        delivery = notification_delivery(services, bot)
        bot.after_login.append(delivery.start)
        # Stops before the Discord client does, so sends under way can finish.
        await lifecycle.add("notification delivery", None, delivery.stop)
        bot.after_login.append(lambda: start_bot_alerts(services, bot))
        await lifecycle.add("racetime alerts", None, services.bot_alerts.stop)
        with explained(lambda error: discord_failure(error, config_path)):
            await run_until_stopped(
                bot.start(settings.discord.token.get_secret_value()), lifecycle
            )
    return 0


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


def rehearse(args: argparse.Namespace) -> int:
    """``--demo``: the rehearsal, with this composition root's services and bot."""
    from rehearsal.runner import RehearsalOptions, run_rehearsal  # only the demo needs dpytest
    from rehearsal.start_at import StartAtError, parse_start_at, started_at

    try:
        start_at = parse_start_at(args.start_at) if args.start_at else None
    except StartAtError as error:
        print(error, file=sys.stderr)
        return 2
    options = RehearsalOptions(
        fast=args.fast,
        keep_running=args.keep_running,
        data_dir=args.data_dir,
        fake_racetime_url=args.fake_racetime,
        start_at=start_at,
    )
    try:
        with started_at(start_at):
            return asyncio.run(
                run_rehearsal(
                    options, build_services=build_services, make_bot=RaceDeskBot,
                    make_web_server=web_server,
                )
            )
    except KeyboardInterrupt:
        return 130


def config_option(parser: argparse.ArgumentParser, *, default: Any) -> None:
    """``--config``, before the command or after it (a command's copy keeps the first's)."""
    parser.add_argument(
        "--config", type=Path, default=default, metavar="PATH",
        help="path to config.toml (default: ./config.toml)",
    )


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bot.py", description="RaceDesk Discord bot")
    config_option(parser, default=DEFAULT_CONFIG_PATH)
    demo = parser.add_argument_group(
        "rehearsal", "RaceDesk's whole job offline: a fake racetime.gg, a simulated Discord server"
    )
    demo.add_argument("--demo", action="store_true", help="play the rehearsal and exit")
    demo.add_argument("--fast", action="store_true", help="with --demo: as fast as it can")
    demo.add_argument(
        "--keep-running", action="store_true",
        help="with --demo: leave the fake racetime server and the simulated server up",
    )
    demo.add_argument(
        "--data-dir", type=Path, help="with --demo: keep the database and log in this folder"
    )
    demo.add_argument(
        "--start-at", metavar="INSTANT",
        help="with --demo: play it as if it were INSTANT, e.g. 2026-03-29T00:30:00Z",
    )
    demo.add_argument(
        "--fake-racetime", metavar="URL",
        help="with --demo: use this running fake racetime server (python -m racetime.fake_server)",
    )
    sub = parser.add_subparsers(dest="action")

    def command(
        parent: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str
    ) -> argparse.ArgumentParser:
        added = parent.add_parser(name, help=summary, description=summary)
        config_option(added, default=argparse.SUPPRESS)
        return added

    command(sub, "run", "run the bot (the default)")
    db = command(sub, "db", "database maintenance")
    db_actions = db.add_subparsers(dest="db_action", required=True, metavar="ACTION")
    command(db_actions, "upgrade", "migrate the database to the newest schema")
    command(
        db_actions, "backup", "save the database to a new FILE (safe while RaceDesk runs)"
    ).add_argument("file", type=Path, metavar="FILE")
    command(
        db_actions, "restore", "restore FILE (from db backup) into a new, empty database"
    ).add_argument("file", type=Path, metavar="FILE")
    listing = command(sub, "commands", "list every slash command")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.add_argument("--markdown", action="store_true", help="the README's command table")
    command(sub, "generate-key", "print a new [security] secret_key")
    command(
        sub, "rotate-key",
        "re-encrypt every stored secret with [security] secret_key "
        "(after moving the former key to old_secret_keys)",
    )
    return parser.parse_args(argv)


async def database_command(args: argparse.Namespace) -> str:
    """``db upgrade``, ``db backup FILE`` or ``db restore FILE``; says what it did."""
    url = load_database_settings(args.config).url
    with database_step(url, args.config):
        if args.db_action == "backup":
            saved = await backup(url, args.file)
            return f"Backed up the database (schema revision {saved.revision}) to {args.file}."
        if args.db_action == "restore":
            restored = await restore(url, args.file)
            then = (
                "it is at the newest schema." if restored.at_head else
                "RaceDesk migrates it to the newest schema when it starts (or now: db upgrade)."
            )
            return f"Restored {args.file} (schema revision {restored.revision}); {then}"
        await upgrade_to_head(url)
        return "Database is at the newest schema."


def print_commands(args: argparse.Namespace) -> None:
    rows = asyncio.run(registered_commands())
    if args.json:
        print(json.dumps(rows, indent=2))
    elif args.markdown:
        print(format_command_table(rows))
    else:
        for row in rows:
            options = ", ".join(o["name"] + ("" if o["required"] else "?") for o in row["options"])
            print(f"{row['command']:<28} {row['audience']:<26} {options}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.demo:
        return rehearse(args)
    action = args.action or "run"
    try:
        if action == "generate-key":
            print(SecretBox.generate_key())
            return 0
        if action == "commands":
            print_commands(args)
            return 0
        if action == "rotate-key":
            return asyncio.run(rotate_key(args.config))
        if action == "db":
            print(asyncio.run(database_command(args)))
            return 0
        return asyncio.run(run_bot(load_settings(args.config), args.config))
    except (ConfigError, SecretKeyError, StartupError, BackupError) as error:
        # One line (one per problem in the file) that says what to change; no traceback.
        print(str(error), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
