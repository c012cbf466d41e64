"""Finding or opening one racetime room for something RaceDesk runs (a match, a live race).

Whoever calls :meth:`RoomLauncher.launch` holds that thing's claim on its room (see
``core.rooms.match_rooms`` and ``core.live_races.rooms``); the launcher never
posts ``startrace`` without first looking through the category's current rooms for one this
claim already opened (a lost ``startrace`` answer, a crashed process), and retries with
backoff. Recording the outcome is the caller's business.

Under a leader lease (``core.leadership``) every claim, renewal and record of an opened room
is fenced in its own transaction, and the launcher asks the fence once more, without the
database, just before it posts ``startrace``: a process that has lost the lead (or was
paused past it) opens no room.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor, BotNotAssignedError
from core.clock import Clock, SystemClock
from core.event_store.event_log import DatabaseEventLog
from core.leadership import NO_FENCE, Fence
from core.metrics import NO_METRICS, Metrics
from core.rooms.players import RoomPlayers
from racetime.backoff import Backoff
from racetime.client import RaceSettings, RacetimeClient, split_race_name
from racetime.errors import RacetimeAuthError, RacetimeError, RacetimeValidationError
from racetime.manager import RacetimeManager, UnknownCategoryError
from racetime.models import race_from_dict
from racetime.ports import RoomStore

log = logging.getLogger(__name__)

ERROR_MAX = 1000
# An ``opening`` claim not renewed for this long belongs to a process that stopped. One
# attempt takes at most a few HTTP timeouts (15 s each), and the claim is renewed before each.
CLAIM_LEASE = timedelta(minutes=3)


@dataclass(frozen=True, slots=True)
class OpenRetry:
    """How often and how patiently ``startrace`` is tried before the opening is failed."""

    attempts: int = 4
    backoff: Backoff = field(default_factory=lambda: Backoff(base=2.0, cap=30.0))


@dataclass(frozen=True, slots=True)
class Launched:
    """The room: its slug, whether it was found rather than opened, the settings sent."""

    slug: str
    adopted: bool
    settings: RaceSettings


@dataclass(frozen=True, slots=True)
class LaunchFailed:
    error: str


class RoomTarget(Protocol):
    """What one opening is about, as the launcher needs it."""

    @property
    def category(self) -> str: ...

    @property
    def label(self) -> str:
        """``Match 12``, ``Live race 3``: how logs name it."""
        ...

    def settings(self, category_goals: list[str]) -> RaceSettings: ...

    async def is_ours(self, info: str | None, race_name: str) -> bool:
        """Whether a current room (its info text and name) is the one this claim opened."""
        ...

    async def renew(self) -> None:
        """Renew the claim's lease before another attempt."""
        ...

    async def note_attempt(self, error: str) -> None: ...


class RoomLauncher:
    def __init__(
        self,
        racetime: RacetimeManager,
        client: RacetimeClient,
        clock: Clock,
        retry: OpenRetry | None = None,
        fence: Fence = NO_FENCE,
    ) -> None:
        self._racetime = racetime
        self._client = client
        self._clock = clock
        self._retry = retry or OpenRetry()
        self._fence = fence

    async def launch(self, target: RoomTarget) -> Launched | LaunchFailed:
        """Find the target's room on racetime or open it, retrying with backoff."""
        error = "not tried"
        for attempt in range(self._retry.attempts):
            if attempt:
                await self._clock.sleep(self._retry.backoff.delay(attempt - 1))
                # (Every way in has just committed the claim: the first try needs no renewal.)
                await target.renew()
            try:
                return await self._find_or_start(target)
            except (RacetimeError, UnknownCategoryError) as failure:
                error = str(failure)[:ERROR_MAX]
                log.warning(
                    "%s: opening its room failed (attempt %d of %d): %s",
                    target.label, attempt + 1, self._retry.attempts, error,
                )
                await target.note_attempt(error)
                if isinstance(failure, RacetimeValidationError | UnknownCategoryError):
                    break  # no retry cures a refused form or a bot that is not running
        return LaunchFailed(error)

    async def _find_or_start(self, target: RoomTarget) -> Launched:
        """``startrace`` is posted here rather than through ``RacetimeManager.create_room`` so
        that the caller commits the room's row, its claim and its event *before* the engine
        watches the room and logs events of its own about it."""
        category = target.category
        bot = self._racetime.bot(category)
        token = await bot.token()
        data = await self._client.get_category(category, token)
        settings = target.settings(data.goals)
        for race in data.current_races:
            if race.opened_by_bot is not None and await target.is_ours(race.info, race.name):
                log.info("%s: found its room %s on racetime; adopting it", target.label, race.name)
                return Launched(race.name.rpartition("/")[2], True, settings)
        self._fence.ensure_current()  # the last moment a lost lead can stop an opening
        try:
            name = await self._client.start_race(category, token, settings)
        except RacetimeAuthError:
            # A bare 403 opens nothing: a token racetime revoked is replaced once.
            token = await bot.token(stale=token)
            name = await self._client.start_race(category, token, settings)
        log.info("%s: opened its room %s", target.label, name)
        return Launched(split_race_name(name, category)[1], False, settings)

    async def not_taken(
        self, category: str, slug: str, settings: RaceSettings
    ) -> tuple[str, ...]:
        """Settings racetime silently dropped (read back from the room)."""
        try:
            race = race_from_dict(await self._client.get_race_data(category, slug))
        except RacetimeError as error:
            log.warning("Room %s/%s: could not read it back: %s", category, slug, error)
            return ()
        missing = settings.not_taken_by(race) if race is not None else []
        return tuple(f"racetime did not apply {name}" for name in missing)


class RoomService:
    """What a service that opens rooms and keeps their players holds (the match rooms', the
    live races'): the database, the event log, the racetime engine and client, the launcher
    and the claim's lease."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        event_log: DatabaseEventLog,
        racetime: RacetimeManager,
        client: RacetimeClient,
        store: RoomStore,
        clock: Clock | None = None,
        retry: OpenRetry | None = None,
        connect_timeout: float = 10.0,
        lease: timedelta = CLAIM_LEASE,
        metrics: Metrics = NO_METRICS,
        access: AccessPolicy | None = None,
        fence: Fence = NO_FENCE,
    ) -> None:
        self._metrics = metrics
        # Asked in every transaction that claims, renews or records a room (core.leadership).
        self._fence = fence
        # Asked before every opening: may the actor open rooms, and does the bot serve the
        # server now (the assignment alone needs no owners, so a bare policy will do).
        self._access = access or AccessPolicy(sessionmaker)
        self._sessionmaker = sessionmaker
        self._event_log = event_log
        self._racetime = racetime
        self._client = client
        self._store = store
        self._clock: Clock = clock or SystemClock()
        self._launcher = RoomLauncher(racetime, client, self._clock, retry, fence)
        self._lease = lease
        self._players = RoomPlayers(sessionmaker, racetime, connect_timeout=connect_timeout)
        self._resumed = False  # the rooms resumed at start-up were checked once

    def _url(self, category: str, slug: str) -> str:
        return f"{self._client.base_url}/{category}/{slug}"

    async def _may_open(
        self, actor: Actor | None, guild_id: int, category: str, change: str
    ) -> None:
        """Ask the access policy before a room is opened: the bot must serve the server now,
        and ``actor`` (when the caller has not asked for it already) may open rooms there."""
        if actor is not None:
            await self._access.require_room_opening(actor, guild_id, category, change=change)
        elif not await self._access.bot_serves(guild_id, category):
            raise BotNotAssignedError(category, change)


__all__ = [
    "CLAIM_LEASE", "LaunchFailed", "Launched", "OpenRetry", "RoomLauncher", "RoomService",
    "RoomTarget",
]
