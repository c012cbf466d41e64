"""The racetime engine's front door: one :class:`CategoryBot` per active bot row.

Bots are started and stopped at run time (``start_bot``/``stop_bot``), never through
racetime-bot's ``Bot.run()`` (which takes over the event loop and stops it on the first
error) and never with a blocking call. Rooms are reached through :meth:`room`, which joins
a room on demand, so there is never more than one connection per room.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from core.clock import Clock, SystemClock
from core.events import EventDispatcher
from core.metrics import NO_METRICS, Metrics
from racetime.category_bot import BotTimings, CategoryBot
from racetime.client import RaceSettings, RacetimeClient, split_race_name
from racetime.connection import RoomConnection
from racetime.diff import entrant_invited_event
from racetime.ports import BotCredentials, BotHealthRecorder, RoomStore

log = logging.getLogger(__name__)

BotSource = Callable[[], Awaitable[list[BotCredentials]]]
"""Returns the credentials of every active category bot."""


class UnknownCategoryError(LookupError):
    def __init__(self, category: str) -> None:
        super().__init__(
            f"No racetime bot is running for category '{category}'. "
            "See /racetime status; a bot owner can add one with /racetime bot add."
        )
        self.category = category


class RacetimeManager:
    def __init__(
        self,
        *,
        client: RacetimeClient,
        store: RoomStore,
        health: BotHealthRecorder,
        dispatcher: EventDispatcher,
        active_bots: BotSource,
        timings: BotTimings | None = None,
        clock: Clock | None = None,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._metrics = metrics
        self._client = client
        self._store = store
        self._health = health
        self._dispatcher = dispatcher
        self._active_bots = active_bots
        self._timings = timings or BotTimings()
        self._clock: Clock = clock or SystemClock()
        self._bots: dict[str, CategoryBot] = {}

    @property
    def bots(self) -> dict[str, CategoryBot]:
        return self._bots

    async def start(self) -> None:
        """Start every active bot; each connects in the background."""
        for credentials in await self._active_bots():
            self.start_bot(credentials)
        log.info("racetime engine started with %d category bots", len(self._bots))

    def start_bot(self, credentials: BotCredentials) -> CategoryBot:
        existing = self._bots.get(credentials.category)
        if existing is not None:
            return existing
        bot = CategoryBot(
            credentials,
            client=self._client,
            store=self._store,
            health=self._health,
            timings=self._timings,
            clock=self._clock,
            metrics=self._metrics,
        )
        self._bots[credentials.category] = bot
        bot.start()
        return bot

    async def stop_bot(self, category: str, *, reason: str = "Bot stopped manually") -> bool:
        bot = self._bots.pop(category, None)
        if bot is None:
            return False
        await bot.stop(reason=reason)
        return True

    async def restart_bot(self, credentials: BotCredentials) -> CategoryBot:
        await self.stop_bot(credentials.category, reason="Bot restarting")
        return self.start_bot(credentials)

    async def stop(self) -> None:
        """Stop every bot (shutdown); never raises. The HTTP client belongs to its maker."""
        categories = list(self._bots)
        await asyncio.gather(
            *(self.stop_bot(c, reason="RaceDesk shutting down") for c in categories)
        )

    def bot(self, category: str) -> CategoryBot:
        bot = self._bots.get(category)
        if bot is None:
            raise UnknownCategoryError(category)
        return bot

    async def create_room(
        self,
        category: str,
        settings: RaceSettings,
        *,
        match_id: int | None = None,
        live_race_id: int | None = None,
    ) -> RoomConnection:
        return await self.bot(category).create_room(
            settings, match_id=match_id, live_race_id=live_race_id
        )

    async def room(self, race_name: str) -> RoomConnection:
        """The connection of ``category/slug``, joining the room if we are not in it yet."""
        category, slug = split_race_name(race_name)
        bot = self.bot(category)
        connection = bot.rooms.get(slug)
        if connection is not None and not connection.finished:
            return connection
        record = await self._store.get_room(category, slug)
        if record is None:
            record = await self._store.record_room(category, slug, opened_by_us=False)
        return bot.watch(record)

    async def attach(
        self, race_name: str, *, match_id: int | None = None, live_race_id: int | None = None
    ) -> RoomConnection | None:
        """Link a room to a match or live race; a watched room's events carry it from now on."""
        category, slug = split_race_name(race_name)
        record = await self._store.attach_room(
            category, slug, match_id=match_id, live_race_id=live_race_id
        )
        bot = self._bots.get(category)
        connection = bot.rooms.get(slug) if bot is not None else None
        if connection is not None:
            connection.attach(record)
        return connection

    async def invite(self, race_name: str, racetime_user_id: str, name: str | None = None) -> None:
        """Invite a racetime user and announce it as :class:`RacetimeEntrantInvitedEvent`."""
        connection = await self.room(race_name)
        await connection.invite(racetime_user_id)
        event = entrant_invited_event(
            connection.last_race,
            connection.context,
            racetime_user_id,
            name,
            await connection.linked_user_id(racetime_user_id),
        )
        await self._dispatcher.emit(event)
