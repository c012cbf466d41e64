"""One racetime category bot: its token, its health, and the rooms it watches.

Start-up: a real token request and a real ``/o/<category>/data`` request must both succeed
before the bot is CONNECTED. A rejected client (401 ``invalid_client``/403) is AUTH_FAILED and
is retried only after ``auth_retry_seconds`` (no retry storm); network errors and 5xx are
CONNECTION_ERROR and are retried with backoff until the bot is healthy again. Once healthy it
reconnects every room the database calls active and then scans ``/o/<category>/data``
(unlisted rooms included) for rooms it does not watch yet.

The supervisor survives every error: anything unexpected (a database error during discovery,
say) is logged, shown as CONNECTION_ERROR with what went wrong, and retried with backoff,
so the status never says CONNECTED for a bot that stopped working. ``stop()`` always stops
every room and never raises.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import msgspec

from core.clock import Clock, SystemClock
from core.metrics import NO_METRICS, Metrics
from racetime.backoff import Backoff
from racetime.client import AccessToken, RaceSettings, RacetimeClient, split_race_name
from racetime.connection import (
    AccessTokenLike,
    ConnectionTimings,
    CreatedRoom,
    RoomConnection,
)
from racetime.errors import RacetimeAuthError, RacetimeError, RacetimeNotFoundError
from racetime.models import CategoryData, race_from_dict
from racetime.ports import BotCredentials, BotHealth, BotHealthRecorder, RoomRecord, RoomStore

log = logging.getLogger(__name__)

T = TypeVar("T")

MIN_PROBE_SECONDS = 2.0  # rooms failing together ask for one probe, not one each


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes} minutes" if minutes > 1 else f"{round(seconds)} seconds"


@dataclass(frozen=True, slots=True)
class BotTimings:
    # A scan is also the health probe: a failing racetime shows as CONNECTION_ERROR within
    # one interval (under the 10 s admins are promised), and a room whose socket fails asks
    # for a probe at once.
    scan_interval: float = 8.0
    auth_retry_seconds: float = 15 * 60.0
    # Capped so that the bot is CONNECTED again within 10 s of racetime answering.
    backoff: Backoff = field(default_factory=lambda: Backoff(base=1.0, cap=8.0))
    # A refused token is replaced after a random pause up to this long (not all bots at once).
    token_retry_jitter: float = 2.0
    connection: ConnectionTimings = field(default_factory=ConnectionTimings)


class CategoryBot:
    def __init__(
        self,
        credentials: BotCredentials,
        *,
        client: RacetimeClient,
        store: RoomStore,
        health: BotHealthRecorder,
        timings: BotTimings | None = None,
        clock: Clock | None = None,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self.credentials = credentials
        self._metrics = metrics
        self.category = credentials.category
        self._client = client
        self._store = store
        self._health = health
        self._timings = timings or BotTimings()
        self._clock: Clock = clock or SystemClock()
        self._token: AccessToken | None = None
        self._token_lock = asyncio.Lock()
        self._rooms: dict[str, RoomConnection] = {}
        # Held while opening a room and while scanning, so a scan never claims a room we are
        # still recording (which would lose its match and its "created by us").
        self._rooms_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._healthy = asyncio.Event()
        self._probe = asyncio.Event()
        self._last_scan = self._clock.monotonic()
        self._status: BotHealth | None = None
        self._status_recorded = asyncio.Event()  # the first status since start is stored

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"racetime-bot:{self.category}"
            )

    async def stop(self, *, reason: str = "Bot stopped manually") -> None:
        """Stop the supervisor and every room, then record DISCONNECTED; never raises."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # wait, not await: a cancellation of stop() itself is not mistaken for the task's
            await asyncio.wait([task])
            if not task.cancelled() and task.exception() is not None:
                log.error("racetime bot %s: the supervisor had failed", self.category,
                          exc_info=task.exception())
        rooms = list(self._rooms.values())
        self._rooms.clear()
        await asyncio.gather(*(room.stop() for room in rooms))
        self._healthy.clear()
        await self._set_status(BotHealth.DISCONNECTED, reason)

    @property
    def rooms(self) -> dict[str, RoomConnection]:
        return self._rooms

    @property
    def status(self) -> BotHealth | None:
        return self._status

    async def wait_healthy(self) -> None:
        await self._healthy.wait()

    async def wait_status(self) -> BotHealth:
        """The first status this bot recorded (connected, or why not), once it is stored."""
        await self._status_recorded.wait()
        assert self._status is not None
        return self._status

    async def _run(self) -> None:
        """Connect, resume the rooms, then scan for new ones; recover from any failure."""
        failures = 0
        resumed = False
        while True:
            try:
                await self._connect_until_healthy()
                if not resumed:
                    await self._resume_rooms()
                    resumed = True
                while True:
                    await self._until_next_scan()
                    await self.discover_rooms()
                    failures = 0
            except asyncio.CancelledError:
                raise
            except RacetimeAuthError as error:
                self._log_refused(error)
                await self._unhealthy(BotHealth.AUTH_FAILED, str(error))
                await self._clock.sleep(self._timings.auth_retry_seconds)
            except RacetimeError as error:
                failures += 1
                await self._unhealthy(BotHealth.CONNECTION_ERROR, str(error))
                await self._clock.sleep(self._timings.backoff.delay(failures))
            except Exception as error:
                failures += 1
                log.exception("racetime bot %s: unexpected error; retrying", self.category)
                await self._unhealthy(
                    BotHealth.CONNECTION_ERROR,
                    f"Internal error ({type(error).__name__}); retrying",
                )
                await self._clock.sleep(self._timings.backoff.delay(failures))

    def request_probe(self) -> None:
        """A room's socket failed: check racetime now rather than at the next scan."""
        self._probe.set()

    async def _until_next_scan(self) -> None:
        """Sleep one scan interval, or less when a probe is asked for (not more than one
        scan every ``MIN_PROBE_SECONDS`` all the same)."""
        sleep = asyncio.ensure_future(self._clock.sleep(self._timings.scan_interval))
        probe = asyncio.ensure_future(self._probe.wait())
        try:
            await asyncio.wait({sleep, probe}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleep.cancel()
            probe.cancel()
        if self._probe.is_set():
            self._probe.clear()
            since = self._clock.monotonic() - self._last_scan
            await self._clock.sleep(MIN_PROBE_SECONDS - since)
        self._last_scan = self._clock.monotonic()

    async def _unhealthy(self, status: BotHealth, message: str) -> None:
        self._healthy.clear()
        await self._set_status(status, message)

    async def _connect_until_healthy(self) -> None:
        failures = 0
        while True:
            try:
                token = await self.token(force_refresh=True)
                await self._client.get_category_data(self.category, token)
            except RacetimeAuthError as error:
                self._log_refused(error)
                await self._set_status(BotHealth.AUTH_FAILED, str(error))
                await self._clock.sleep(self._timings.auth_retry_seconds)
                continue
            except RacetimeError as error:
                delay = self._timings.backoff.delay(failures)
                failures += 1
                log.warning("racetime bot %s: %s; retrying in %.1fs", self.category, error, delay)
                await self._set_status(BotHealth.CONNECTION_ERROR, str(error))
                await self._clock.sleep(delay)
                continue
            await self._set_status(BotHealth.CONNECTED, None)
            self._healthy.set()
            return

    def _log_refused(self, error: RacetimeAuthError) -> None:
        """One line an admin can act on; RaceDesk and the other bots carry on."""
        name = self.credentials.display_name or self.category
        log.warning(
            "racetime bot %s (%s) is not working: %s RaceDesk runs on without it. A bot owner "
            "can give it its current client id and secret with /racetime bot edit "
            "category:%s; on its own it tries again every %s.",
            name, self.category, str(error).rstrip(".") + ".", self.category,
            _duration(self._timings.auth_retry_seconds),
        )

    async def _set_status(self, status: BotHealth, message: str | None) -> None:
        if status == self._status and status != BotHealth.CONNECTION_ERROR:
            return
        self._status = status
        bot_id = self.credentials.bot_id
        try:
            if status == BotHealth.CONNECTED:
                await self._health.record_connection_success(bot_id)
            elif status == BotHealth.DISCONNECTED:
                await self._health.record_stopped(bot_id, message or "")
            else:
                await self._health.record_connection_failure(bot_id, status, message or "")
        except Exception:
            log.exception("racetime bot %s: could not record status %s", self.category, status)
        if status != BotHealth.DISCONNECTED:
            self._status_recorded.set()

    # -- tokens ------------------------------------------------------------------------------

    async def token(
        self, force_refresh: bool = False, stale: AccessTokenLike | None = None
    ) -> AccessToken:
        """A token not yet half-way through its lifetime that is not ``stale``.

        At most one token request is in flight per bot: callers that queue up behind a
        refresh get its result (a ``stale`` token someone already replaced is not replaced
        again).
        """
        async with self._token_lock:
            token = self._token
            if (
                force_refresh
                or token is None
                or self._clock.now() >= token.renew_at
                or (stale is not None and stale.value == token.value)
            ):
                token = await self._client.get_token(
                    self.credentials.client_id, self.credentials.client_secret
                )
                self._token = token
            return token

    async def _with_token(self, call: Callable[[AccessToken], Awaitable[T]]) -> T:
        """``call(token)``; a token racetime refuses (revoked on its side) is replaced once.

        Only when a fresh token is refused too are the credentials at fault (AUTH_FAILED).
        """
        token = await self.token()
        try:
            return await call(token)
        except RacetimeAuthError:
            log.warning("racetime bot %s: racetime refused its token; getting a new one",
                        self.category)
        await self._clock.sleep(random.uniform(0, self._timings.token_retry_jitter))  # noqa: S311
        return await call(await self.token(stale=token))

    async def _room_token(self, stale: AccessTokenLike | None) -> AccessToken:
        return await self.token(stale=stale)

    # -- rooms -------------------------------------------------------------------------------

    async def _resume_rooms(self) -> None:
        """Rejoin every room the database says we watch, then scan for new ones."""
        records = await self._store.active_rooms(self.category)
        for record in records:
            self.watch(record)
        log.info("racetime bot %s: resumed %d rooms", self.category, len(records))
        try:
            await self.discover_rooms()
        except RacetimeError as error:
            log.warning("racetime bot %s: room scan failed: %s", self.category, error)

    async def discover_rooms(self) -> list[str]:
        """Join every current room of the category we are not watching; returns their slugs."""
        data = await self._with_token(
            lambda token: self._client.get_category_data(self.category, token)
        )
        async with self._rooms_lock:
            return await self._discover(data)

    async def _discover(self, raw: dict[str, object]) -> list[str]:
        try:
            data = msgspec.convert(raw, CategoryData)
        except msgspec.ValidationError:
            log.warning("racetime bot %s: malformed category data", self.category)
            return []
        joined: list[str] = []
        for summary in data.current_races:
            category, slug = split_race_name(summary.name, self.category)
            if category != self.category or slug in self._rooms:
                continue
            record = await self._store.get_room(category, slug)
            if record is None:
                record = await self._store.record_room(category, slug, opened_by_us=False)
            self.watch(record)
            joined.append(slug)
        if joined:
            log.info("racetime bot %s: discovered rooms %s", self.category, ", ".join(joined))
        return joined

    def watch(self, record: RoomRecord, *, created: CreatedRoom | None = None) -> RoomConnection:
        """The one connection of this room, started if it was not yet."""
        existing = self._rooms.get(record.slug)
        if existing is not None and not existing.finished:
            if (existing.record.match_id, existing.record.live_race_id) != (
                record.match_id,
                record.live_race_id,
            ):
                existing.attach(record)
            return existing
        connection = RoomConnection(
            record=record,
            ws_url=self._ws_url(record.slug),
            tokens=self._room_token,
            store=self._store,
            timings=self._timings.connection,
            created=created,
            room_exists=partial(self._room_exists, record.slug),
            clock=self._clock,
            on_trouble=self.request_probe,
            metrics=self._metrics,
        )
        self._rooms[record.slug] = connection
        task = connection.start()
        task.add_done_callback(partial(self._forget, connection))
        return connection

    async def _room_exists(self, slug: str) -> bool | None:
        """False when racetime says the room is gone; None when it cannot tell."""
        try:
            await self._client.get_race_data(self.category, slug)
        except RacetimeNotFoundError:
            return False
        except RacetimeError:
            return None
        return True

    def _forget(self, connection: RoomConnection, _ended: asyncio.Task[None]) -> None:
        """When a room's task ends, its connection is let go (unless replaced already)."""
        if self._rooms.get(connection.record.slug) is connection:
            del self._rooms[connection.record.slug]

    def _ws_url(self, slug: str) -> str:
        scheme = "wss" if self._client.secure else "ws"
        return f"{scheme}://{self._client.host}/ws/o/bot/{slug}"

    async def create_room(
        self,
        settings: RaceSettings,
        *,
        match_id: int | None = None,
        live_race_id: int | None = None,
    ) -> RoomConnection:
        """Open a room on racetime, record it, and join it at once.

        The room is read back: settings racetime dropped without a word (the category does
        not allow them) are logged and kept on the connection as ``settings_not_taken``.
        """
        async with self._rooms_lock:
            race_name = await self._with_token(
                lambda token: self._client.start_race(self.category, token, settings)
            )
            category, slug = split_race_name(race_name, self.category)
            record = await self._store.record_room(
                category, slug, opened_by_us=True, match_id=match_id, live_race_id=live_race_id
            )
            created = CreatedRoom(
                goal=settings.goal or settings.custom_goal, invitational=settings.invitational
            )
            connection = self.watch(record, created=created)
        connection.settings_not_taken = await self._settings_not_taken(slug, settings)
        return connection

    async def _settings_not_taken(self, slug: str, settings: RaceSettings) -> tuple[str, ...]:
        try:
            race = race_from_dict(await self._client.get_race_data(self.category, slug))
        except RacetimeError as error:
            log.warning("Room %s/%s: could not read it back: %s", self.category, slug, error)
            return ()
        missing = tuple(settings.not_taken_by(race)) if race is not None else ()
        if missing:
            log.warning(
                "Room %s/%s: racetime did not apply %s (the category may not allow it)",
                self.category, slug, ", ".join(missing),
            )
        return missing
