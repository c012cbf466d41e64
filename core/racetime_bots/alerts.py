"""Alerts about racetime bots and rooms in trouble: once per incident, recovery announced.

An *incident* opens when a bot becomes unhealthy (AUTH_FAILED or CONNECTION_ERROR) or when a
room that should be connected has not been for ``room_grace``; it is resolved when the bot is
CONNECTED again or the room is back (or no longer needs watching). Retries, a bot flapping
between the two failure states, or a manual stop in between do not open another one: one
incident, one alert, one recovery message.

Durability: a status change is a :class:`RacetimeBotStatusChangedEvent` in the event log; its
listener (exactly once per ``event_id``) opens or resolves the incident and queues the alert as
a ``racetime_alerts`` row, all in one transaction. A unique ``open_key`` keeps one open
incident per subject however the events arrive. Delivery (:meth:`BotAlertService.deliver`)
sends each queued alert to its recipients through an :class:`AlertSender` (Discord's, under
``cogs/_shared``) with a receipt per recipient (:class:`SentOnce`), so a restart neither loses
an alert nor sends one twice. A sender that finds this process no longer leads
(:class:`~core.leadership.FencedError`) stops the delivery with nothing recorded.

Recipients of an alert about a bot: the admin channel (``/racetime alerts channel``) of every
server the bot is assigned to; the bot owners by DM when one of those servers has no admin
channel, or when the bot serves no server at all. An alert about a room goes to the room's own
server only (the server of its match or live race; another server the bot serves never hears
of it), or to the owners when that server has no admin channel or the room is no server's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from core.clock import Clock
from core.event_store.exactly_once import exactly_once
from core.event_store.sent_once import SentOnce
from core.events import EventDispatcher, RacetimeBotStatusChangedEvent
from core.leadership import FencedError
from core.sending import NONCE_LENGTH, DeliveryFailed, DeliveryRefused
from core.stopping import wait_or_cancel
from db.models import (
    BotStatus,
    GuildSettings,
    RaceRoom,
    RacetimeAlert,
    RacetimeBot,
    RacetimeBotGuild,
    RacetimeIncident,
)
from db.queries.server_rooms import room_servers
from racetime.ports import BotHealth

log = logging.getLogger(__name__)

LISTENER = "racetime_bot_alerts"
RECEIPTS = "racetime_alert_sent"
UNHEALTHY = (BotStatus.AUTH_FAILED, BotStatus.CONNECTION_ERROR)
ROOM_GRACE = timedelta(minutes=1)
SWEEP_SECONDS = 15.0  # rooms are checked (and failed sends retried) at least this often
MAX_ATTEMPTS = 10  # an alert that still cannot be sent is logged and given up
STATUS_ICONS = {
    BotStatus.UNKNOWN: "❔",
    BotStatus.CONNECTED: "✅",
    BotStatus.AUTH_FAILED: "🔑",
    BotStatus.CONNECTION_ERROR: "⚠️",
    BotStatus.DISCONNECTED: "☁️",
}


def status_name(status: BotStatus) -> str:
    """``AUTH_FAILED`` as people read it: ``Auth failed``."""
    return status.name.replace("_", " ").capitalize()


@dataclass(frozen=True, slots=True)
class OutgoingAlert:
    alert_id: int
    kind: str  # "opened" or "resolved"
    text: str

    @property
    def resolved(self) -> bool:
        return self.kind == "resolved"


class AlertSender(Protocol):
    """Sends alerts through Discord; failures are ``DeliveryFailed`` / ``DeliveryRefused``."""

    async def post_alert(self, channel_id: int, alert: OutgoingAlert, *, nonce: str) -> None: ...

    async def dm_alert(self, discord_user_id: int, alert: OutgoingAlert, *, nonce: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Recipient:
    key: str  # stable per alert: "channel:123" or "owner:456"
    channel_id: int | None = None
    owner_id: int | None = None


@dataclass(frozen=True, slots=True)
class RoomTrouble:
    """A room the database says is active whose bot is not connected to it."""

    name: str
    bot_id: int
    watched: bool  # a connection exists and is reconnecting; False: nobody handles it
    bot_connected: bool  # False: the bot itself is down, and its own alert says so


class WatchedRoom(Protocol):
    """A room connection, as far as alerts look at it."""

    @property
    def is_connected(self) -> bool: ...

    @property
    def finished(self) -> bool: ...


class RunningBot(Protocol):
    """A running category bot, as far as alerts look at it."""

    @property
    def status(self) -> BotHealth | None: ...

    @property
    def rooms(self) -> Mapping[str, WatchedRoom]: ...


class RunningBots(Protocol):
    """What alerts need of the racetime engine: which bots run, and their rooms."""

    @property
    def bots(self) -> Mapping[str, RunningBot]: ...


class BotAlertService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        manager: RunningBots,
        clock: Clock,
        *,
        room_grace: timedelta = ROOM_GRACE,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._manager = manager
        self._clock = clock
        self._room_grace = room_grace
        self._receipts = SentOnce(sessionmaker, RECEIPTS)
        self._room_trouble_since: dict[str, datetime] = {}
        self.wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def subscribe(self, dispatcher: EventDispatcher) -> None:
        record = exactly_once(self._sessionmaker, LISTENER, self._on_status_changed)

        async def listener(event: RacetimeBotStatusChangedEvent) -> None:
            await record(event)
            self.wake.set()

        dispatcher.subscribe(RacetimeBotStatusChangedEvent, listener)

    # -- incidents ---------------------------------------------------------------------------

    async def _on_status_changed(
        self, session: AsyncSession, event: RacetimeBotStatusChangedEvent
    ) -> None:
        new = BotStatus(event.new_status)
        subject = f"bot:{event.bot_id}"
        bot = await session.get(RacetimeBot, event.bot_id)
        if bot is None:
            return
        if new in UNHEALTHY:
            said = (event.status_message or "").rstrip(".")
            reason = f": {said}" if said else ""
            hint = (
                " A bot owner can give it new credentials with `/racetime bot edit`."
                if new == BotStatus.AUTH_FAILED
                else " RaceDesk keeps retrying."
            )
            await self._open(
                session, bot, subject, event.status_message,
                f"{STATUS_ICONS[new]} The racetime bot **{bot.display_name}** (`{bot.category}`) "
                f"is not working: **{status_name(new)}**{reason}.{hint}",
            )
        elif new == BotStatus.CONNECTED:
            await self._resolve(
                session, subject,
                f"✅ The racetime bot **{bot.display_name}** (`{bot.category}`) is connected "
                "again.",
            )

    async def _open(
        self, session: AsyncSession, bot: RacetimeBot, subject: str, detail: str | None, text: str
    ) -> bool:
        """Open an incident about ``subject`` unless one is open; queue its alert."""
        open_now = await self._open_incident(session, subject)
        if open_now is not None:
            return False
        assert bot.id is not None
        incident = RacetimeIncident(
            bot_id=bot.id, subject=subject, open_key=subject, detail=(detail or "")[:1000] or None,
            opened_at=self._clock.now(),
        )
        session.add(incident)
        await session.flush()
        assert incident.id is not None
        session.add(RacetimeAlert(incident_id=incident.id, kind="opened", text=text[:2000]))
        log.warning("racetime incident opened: %s", subject)
        return True

    async def _resolve(self, session: AsyncSession, subject: str, text: str) -> bool:
        incident = await self._open_incident(session, subject)
        if incident is None:
            return False
        incident.open_key = None
        incident.resolved_at = self._clock.now()
        assert incident.id is not None
        session.add(RacetimeAlert(incident_id=incident.id, kind="resolved", text=text[:2000]))
        log.info("racetime incident resolved: %s", subject)
        return True

    @staticmethod
    async def _open_incident(session: AsyncSession, subject: str) -> RacetimeIncident | None:
        result = await session.execute(
            select(RacetimeIncident).where(RacetimeIncident.open_key == subject)
        )
        return result.scalars().first()

    # -- rooms -------------------------------------------------------------------------------

    async def room_troubles(self) -> tuple[list[str], list[RoomTrouble]]:
        """The active rooms that are connected (their names), and the others (reconnecting
        or unhandled).

        Only rooms of active bots count: a bot an owner stopped leaves its rooms on purpose.
        """
        async with self._sessionmaker() as session:
            result = await session.execute(
                select(RaceRoom.category, RaceRoom.slug, RacetimeBot.id)
                .join(RacetimeBot, col(RacetimeBot.category) == col(RaceRoom.category))
                .where(col(RaceRoom.is_active).is_(True), col(RacetimeBot.is_active).is_(True))
                .order_by(col(RaceRoom.id))
            )
            rows = list(result.all())
        connected: list[str] = []
        troubles = []
        for category, slug, bot_id in rows:
            running = self._manager.bots.get(category)
            connection = running.rooms.get(slug) if running is not None else None
            if connection is not None and connection.is_connected:
                connected.append(f"{category}/{slug}")
            elif connection is None or not connection.finished:
                troubles.append(
                    RoomTrouble(
                        f"{category}/{slug}", bot_id, connection is not None,
                        running is not None and running.status == BotHealth.CONNECTED,
                    )
                )
        return connected, troubles

    async def check_rooms(self) -> None:
        """Alert about rooms disconnected for longer than the grace; announce their return."""
        _, every = await self.room_troubles()
        # A room of a bot that is down is the bot's incident, not one of its own.
        troubles = [t for t in every if t.bot_connected]
        now = self._clock.now()
        troubled = {t.name: t for t in troubles}
        for name in list(self._room_trouble_since):
            if name not in troubled:
                del self._room_trouble_since[name]
        changed = False
        async with self._sessionmaker.begin() as session:
            for trouble in troubles:
                since = self._room_trouble_since.setdefault(trouble.name, now)
                if now - since < self._room_grace:
                    continue
                bot = await session.get(RacetimeBot, trouble.bot_id)
                if bot is None:
                    continue
                state = "keeps failing to reconnect" if trouble.watched else "is not watched"
                changed |= await self._open(
                    session, bot, f"room:{trouble.name}", state,
                    f"⚠️ The racetime room `{trouble.name}` should be connected but {state} "
                    f"(for more than {int(self._room_grace.total_seconds())} s). "
                    "RaceDesk misses what happens there until it is back.",
                )
            result = await session.execute(
                select(RacetimeIncident).where(col(RacetimeIncident.open_key).like("room:%"))
            )
            for incident in result.scalars().all():
                name = incident.subject.removeprefix("room:")
                if name not in troubled:
                    changed |= await self._resolve(
                        session, incident.subject,
                        f"✅ The racetime room `{name}` is connected again.",
                    )
        if changed:
            self.wake.set()

    # -- delivery ----------------------------------------------------------------------------

    async def deliver(self, sender: AlertSender, owner_ids: Collection[int]) -> int:
        """Send every queued alert to its recipients; returns how many were completed."""
        async with self._sessionmaker() as session:
            result = await session.execute(
                select(RacetimeAlert, RacetimeIncident.bot_id, RacetimeIncident.subject)
                .join(RacetimeIncident, col(RacetimeIncident.id) == col(RacetimeAlert.incident_id))
                .where(col(RacetimeAlert.sent_at).is_(None))
                .order_by(col(RacetimeAlert.id))
            )
            pending = list(result.all())
        done = 0
        for alert, bot_id, subject in pending:
            assert alert.id is not None
            outgoing = OutgoingAlert(alert.id, alert.kind, alert.text)
            errors = []
            for recipient in await self._recipients(bot_id, subject, owner_ids):
                error = await self._send_once(sender, outgoing, recipient)
                if error is not None:
                    errors.append(error)
            await self._finish(alert, errors)
            done += not errors
        return done

    async def _send_once(
        self, sender: AlertSender, alert: OutgoingAlert, recipient: Recipient
    ) -> str | None:
        """Send unless its receipt exists; the error text when it could not be sent."""
        key = f"alert:{alert.alert_id}:{recipient.key}"
        if await self._receipts.done(key):
            return None
        nonce = "a" + hashlib.sha256(key.encode()).hexdigest()[: NONCE_LENGTH - 1]
        try:
            if recipient.channel_id is not None:
                await sender.post_alert(recipient.channel_id, alert, nonce=nonce)
            else:
                assert recipient.owner_id is not None
                await sender.dm_alert(recipient.owner_id, alert, nonce=nonce)
        except DeliveryRefused as refused:
            log.warning("racetime alert %s: %s refused it (%s)", alert.alert_id, recipient.key,
                        refused)
        except DeliveryFailed as failed:
            if not failed.permanent:
                return f"{recipient.key}: {failed}"
            log.warning("racetime alert %s to %s failed for good: %s", alert.alert_id,
                        recipient.key, failed)
        await self._receipts.record(key)
        return None

    async def _finish(self, alert: RacetimeAlert, errors: list[str]) -> None:
        attempts = alert.attempts + 1
        values: dict[str, object] = {"attempts": attempts}
        if errors:
            values["last_error"] = "; ".join(errors)[:1000]
        if not errors or attempts >= MAX_ATTEMPTS:
            values["sent_at"] = self._clock.now()
            if errors:
                log.error("racetime alert %s given up after %d attempts: %s", alert.id,
                          attempts, values["last_error"])
        async with self._sessionmaker.begin() as session:
            await session.execute(
                update(RacetimeAlert).where(col(RacetimeAlert.id) == alert.id).values(**values)
            )

    async def _recipients(
        self, bot_id: int, subject: str, owner_ids: Collection[int]
    ) -> list[Recipient]:
        async with self._sessionmaker() as session:
            if subject.startswith("room:"):
                room = subject.removeprefix("room:")
                guild_ids = list((await room_servers(session, [room])).values())
            else:
                result = await session.execute(
                    select(col(RacetimeBotGuild.guild_id))
                    .where(col(RacetimeBotGuild.bot_id) == bot_id)
                )
                guild_ids = list(result.scalars())
            settings = await session.execute(
                select(col(GuildSettings.guild_id), col(GuildSettings.admin_channel_id))
                .where(col(GuildSettings.guild_id).in_(guild_ids))
            )
            admin_channels: dict[int, int | None] = {g: c for g, c in settings.all()}
        servers = [(guild_id, admin_channels.get(guild_id)) for guild_id in sorted(guild_ids)]
        channels = [channel for _, channel in servers if channel is not None]
        recipients = [Recipient(f"channel:{c}", channel_id=c) for c in channels]
        if len(channels) < len(servers) or not servers:
            recipients += [Recipient(f"owner:{o}", owner_id=o) for o in sorted(owner_ids)]
        return recipients

    # -- the loop ----------------------------------------------------------------------------

    async def start(
        self,
        sender: AlertSender,
        owner_ids: Callable[[], Collection[int]],
        *,
        sweep_seconds: float = SWEEP_SECONDS,
    ) -> None:
        """Run :meth:`run` in the background until :meth:`stop`."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self.run(sender, owner_ids, sweep_seconds=sweep_seconds),
                name="racetime-alerts",
            )

    async def stop(self) -> None:
        """Let the round under way finish (a round cancelled mid-query leaves its database
        connection to be torn down behind our back), then end the loop; never waits for ever."""
        task, self._task = self._task, None
        if task is not None:
            self._stopping = True
            self.wake.set()
            try:
                await wait_or_cancel(task, "racetime alerts")
            finally:
                self._stopping = False

    async def run(
        self,
        sender: AlertSender,
        owner_ids: Callable[[], Collection[int]],
        *,
        sweep_seconds: float,
    ) -> None:
        """Deliver and check rooms, then wait for news or ``sweep_seconds``; until stopped."""
        while not self._stopping:
            self.wake.clear()
            try:
                await self.check_rooms()
                await self.deliver(sender, owner_ids())
            except FencedError as fenced:
                # The sender's last check found this process no longer leads: what it was
                # sending has no receipt and no attempt recorded; the leader sends it.
                log.warning("racetime alerts stop: %s", fenced)
                return
            except Exception:
                log.exception("racetime alerts: a round failed; trying again later")
            # Not ``asyncio.wait_for``: on Python 3.11 it loses a cancellation that lands as
            # the wake-up finishes, and the loop then went on for ever (issue 20).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(sweep_seconds):
                    await self.wake.wait()
