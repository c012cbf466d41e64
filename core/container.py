"""The services the application is made of; built once by ``bot.py``."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.access import AccessPolicy
from core.accounts.api_tokens import ApiTokenService
from core.accounts.linking import LinkService
from core.accounts.profiles import ProfileService
from core.accounts.timezones import TimezoneService
from core.audit import AuditService
from core.calendars import CalendarFeedService
from core.clock import Clock
from core.event_store.event_log import DatabaseEventLog
from core.events import EventDispatcher
from core.health import HealthService
from core.leadership import NO_FENCE, Fence, Leadership
from core.lifecycle import Lifecycle
from core.live_races.async_reviews import AsyncReviewService
from core.live_races.async_run_sweeper import AsyncRunSweeper
from core.live_races.async_runs import AsyncRunService
from core.live_races.async_seeds import AsyncSeeds
from core.live_races.async_tournaments import AsyncTournamentService
from core.live_races.leaderboard import AsyncLeaderboards
from core.live_races.live_races import LiveRaceService
from core.live_races.rooms import LiveRaceRooms, LiveRaceScheduler
from core.metrics import NO_METRICS, Metrics
from core.notifications.reminders import ReminderScheduler
from core.notifications.service import NotificationService
from core.outage import DatabaseWatch
from core.pages import PublicPageService
from core.racetime_bots.admin import RacetimeAdminService
from core.racetime_bots.alerts import BotAlertService
from core.racetime_bots.bots import RacetimeBotService
from core.racetime_bots.room_store import DatabaseRoomStore
from core.racetime_bots.status import BotStatusRepository
from core.room_commands.wiring import RoomCommandServices
from core.rooms.api import RoomApiService
from core.rooms.match_rooms import MatchRoomService
from core.rooms.match_scheduler import MatchScheduler
from core.rooms.open_room import OpenRoomService
from core.seeds.service import SeedService
from core.tournaments.announcements import AnnouncementService
from core.tournaments.discord_events import DiscordEventService
from core.tournaments.imports import ScheduleImports
from core.tournaments.match_api import MatchApiService
from core.tournaments.matches import MatchService
from core.tournaments.proposals import ProposalService
from core.tournaments.tournaments import TournamentService
from racetime.client import RacetimeClient
from racetime.manager import RacetimeManager


@dataclass(slots=True)
class Services:
    engine: AsyncEngine
    # Whether the database answers; the parts wait on it while it does not (core.outage).
    database_watch: DatabaseWatch
    sessionmaker: async_sessionmaker[AsyncSession]
    event_log: DatabaseEventLog
    dispatcher: EventDispatcher
    clock: Clock
    health: HealthService
    bot_status: BotStatusRepository
    racetime_bots: RacetimeBotService
    room_store: DatabaseRoomStore
    racetime_engine: RacetimeManager  # the category bots and their rooms' connections
    racetime_client: RacetimeClient
    audit: AuditService
    # Who may do what (issue 22): every service below asks it.
    access: AccessPolicy
    racetime_admin: RacetimeAdminService
    notifications: NotificationService
    # Tournaments and timezones (issue 11).
    tournaments: TournamentService
    timezones: TimezoneService
    match_rooms: MatchRoomService
    matches: MatchService
    match_scheduler: MatchScheduler
    announcements: AnnouncementService
    open_room: OpenRoomService
    # racetime account linking (issue 12).
    linking: LinkService
    profiles: ProfileService
    # The HTTP API (issue 12).
    api_tokens: ApiTokenService
    room_api: RoomApiService
    # Async tournaments and live races (issue 13).
    async_tournaments: AsyncTournamentService
    live_races: LiveRaceService
    live_race_rooms: LiveRaceRooms
    live_race_scheduler: LiveRaceScheduler
    # Players' own runs of pool seeds, and the sweep forfeiting overdue ones (issue 26).
    async_runs: AsyncRunService
    async_run_sweeper: AsyncRunSweeper
    async_reviews: AsyncReviewService  # review of submitted runs (issue 26)
    async_leaderboards: AsyncLeaderboards
    # racetime bot administration (issue 14).
    bot_alerts: BotAlertService
    # Race-room chat commands and seeds (issue 24).
    seeds: SeedService
    async_seeds: AsyncSeeds  # async pools' seeds rolled by a provider (issue 26)
    room_commands: RoomCommandServices
    # Calendar feeds (issue 25): secret iCal URLs per tournament and per player.
    calendars: CalendarFeedService
    # Schedules imported from a file or pushed through the API (issue 25).
    schedule_imports: ScheduleImports
    match_api: MatchApiService
    # Scheduling (issue 25): matches as Discord scheduled events.
    discord_events: DiscordEventService
    # Match reminders (issue 25).
    match_reminders: ReminderScheduler
    # Players schedule their own match (issue 25).
    proposals: ProposalService
    # Public tournament pages (issue 26).
    pages: PublicPageService
    # What the parts record into (issue 14, metrics); ``bot.py`` wires Prometheus.
    metrics: Metrics = field(default=NO_METRICS)
    # High availability (issue 27): the leader lease on PostgreSQL with ``[ha] enabled``
    # (None: this process runs alone), and the fence every effect's write asks.
    leadership: Leadership | None = None
    fence: Fence = field(default=NO_FENCE)
    # The event log's group commit has a connection of its own (bot.build_services).
    event_log_engine: AsyncEngine | None = None

    async def start(
        self, lifecycle: Lifecycle, *, racetime_engine: bool = True, database: bool = True
    ) -> None:
        """Start the services in order under ``lifecycle``, which stops them in reverse.

        Stopping delivers every pending event: the engine stops first (its rooms' last
        snapshots are queued), then the dispatcher drains, then the log commits what is left.
        ``database=False``: the caller added the database already (a standby has it before it
        leads).
        """
        if database:
            await self.start_database(lifecycle)
        await lifecycle.add("event log", self.event_log.start, self.event_log.close)
        await lifecycle.add("event delivery", self.dispatcher.start, self.dispatcher.close)
        await lifecycle.add("racetime client", None, self.racetime_client.close)
        # Stopped at shutdown even when not started here: an admin may start bots at run time.
        start = self.racetime_engine.start if racetime_engine else None
        await lifecycle.add("racetime engine", start, self.racetime_engine.stop)
        if racetime_engine:
            # Rooms open on time only where the engine runs; stopped before the engine.
            await lifecycle.add(
                "match room scheduler", self.match_scheduler.start, self.match_scheduler.stop
            )
            await lifecycle.add(
                "live race room scheduler",
                self.live_race_scheduler.start, self.live_race_scheduler.stop,
            )
            # Runs past their tournament's limit become forfeits where rooms open on time.
            await lifecycle.add(
                "async run sweep", self.async_run_sweeper.start, self.async_run_sweeper.stop
            )
            # Reminders go out where rooms are opened on time: one process sends them.
            await lifecycle.add(
                "match reminders", self.match_reminders.start, self.match_reminders.stop
            )
            # Breaks are announced in rooms the engine watches.
            breaks = self.room_commands.breaks
            await lifecycle.add("room break announcements", breaks.start, breaks.stop)

    async def dispose_engines(self) -> None:
        """Close every database connection (the pool's and the event log writer's)."""
        if self.event_log_engine is not None:
            await self.event_log_engine.dispose()
        await self.engine.dispose()

    async def start_database(self, lifecycle: Lifecycle) -> None:
        """The database, the first part to start and the last to stop, and its watch: from
        the moment a stop is asked for, no part waits any more for a database that is away."""
        await lifecycle.add("database", None, self.dispose_engines)
        await lifecycle.add("database watch", self.database_watch.start, self.database_watch.stop)
        lifecycle.on_stop_requested(self.database_watch.give_up)
