"""What ``/racetime`` does: manage the category bots, and report their health.

Every change is audited with the Discord user who asked for it; credentials never are (the
client id is, the secret never). Whether a bot runs is stored (``racetime_bots.is_active``): a
stopped bot stays stopped after a restart until it is started. A bot serves the servers it
is assigned to (``racetime_bot_guilds``): their organizers see it, their tournaments use it,
their admin channels get its alerts.

Who may do what is the access policy's: bot owners manage the bots; a server's organizers see
its bots, its admins its health. Every view is of one server (its bots, its rooms) unless a
bot owner asks for every server's.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor, Permission
from core.audit import AuditService
from core.errors import NotFoundError, UserFacingError
from core.event_store.event_log import DatabaseEventLog
from core.events import EventDispatcher
from core.leadership import ALONE, LeadershipStatus
from core.racetime_bots.alerts import BotAlertService
from core.racetime_bots.bots import (
    RacetimeBotService,
    already_exists_message,
    no_such_bot_message,
)
from core.racetime_bots.category_slug import normalise_category
from core.racetime_bots.status import STOPPED_MANUALLY, BotStatusRepository
from db.models import BotStatus, RacetimeBot, RacetimeBotStatusHistory
from db.queries import bot_guilds
from db.queries import bots as bot_queries
from db.queries.guild_settings import get_guild_settings, update_guild_settings
from db.queries.server_rooms import room_servers
from racetime.manager import RacetimeManager, UnknownCategoryError

# How long ``add``/``edit``/``start`` wait for the bot's first answer from racetime before
# saying it is still connecting (Discord waits 15 minutes for a deferred reply).
CONNECT_WAIT_SECONDS = 10.0
HISTORY_LIMIT = 15


@contextmanager
def category_errors_as_user_facing() -> Iterator[None]:
    """Turn the engine's :class:`UnknownCategoryError` into a message an admin can act on."""
    try:
        yield
    except UnknownCategoryError as error:
        raise UserFacingError(
            f"No racetime bot is running for `{error.category}`. `/racetime bot list` shows "
            "the bots; a bot owner can add one with `/racetime bot add`."
        ) from None


@dataclass(frozen=True, slots=True)
class BotInfo:
    """A category bot as ``/racetime bot list`` and ``history`` show it (never its secret)."""

    id: int
    category: str
    display_name: str
    is_active: bool
    status: BotStatus
    status_message: str | None
    last_connected_at: datetime | None

    @classmethod
    def of(cls, row: RacetimeBot) -> BotInfo:
        assert row.id is not None
        return cls(
            id=row.id, category=row.category, display_name=row.display_name,
            is_active=row.is_active, status=BotStatus(row.status),
            status_message=row.status_message, last_connected_at=row.last_connected_at,
        )


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One change of a bot's status, for ``/racetime bot history``."""

    changed_at: datetime
    old_status: BotStatus
    new_status: BotStatus
    message: str | None

    @classmethod
    def of(cls, row: RacetimeBotStatusHistory) -> StatusChange:
        return cls(
            changed_at=row.changed_at, old_status=BotStatus(row.old_status or 0),
            new_status=BotStatus(row.new_status), message=row.status_message,
        )


@dataclass(frozen=True, slots=True)
class BotOverview:
    bot: BotInfo
    running: bool
    rooms_watched: int
    secret_readable: bool = True
    guild_ids: tuple[int, ...] = ()

    @property
    def stopped_by_owner(self) -> bool:
        return not self.bot.is_active


@dataclass(frozen=True, slots=True)
class RacetimeOverview:
    """What ``/racetime status`` shows: bots by state, the rooms, event delivery.

    ``guild_id``: the server it is about (its bots and its rooms only); ``None``: every
    server's, for a bot owner who asked.
    """

    bots: list[BotOverview]
    events_pending: int
    deliveries_parked: int
    rooms_connected: int = 0
    rooms_reconnecting: list[str] = field(default_factory=list)
    rooms_unhandled: list[str] = field(default_factory=list)
    guild_id: int | None = None
    # Which process answers, with high availability (issue 27); ALONE: it runs alone.
    leadership: LeadershipStatus = ALONE

    @property
    def by_status(self) -> Counter[BotStatus]:
        return Counter(row.bot.status for row in self.bots)


@dataclass(frozen=True, slots=True)
class ConnectOutcome:
    """A bot that was (re)started, and what racetime said (``None``: no answer yet)."""

    bot: RacetimeBot
    status: BotStatus | None


def _flat(lists: Iterable[list[str]]) -> list[str]:
    return [item for items in lists for item in items]


def check_credentials(client_id: str, client_secret: str) -> tuple[str, str]:
    """Trimmed credentials; an empty one is refused by name, never echoed."""
    client_id, client_secret = client_id.strip(), client_secret.strip()
    if not client_id:
        raise UserFacingError("The client id is empty.")
    if not client_secret:
        raise UserFacingError("The client secret is empty.")
    if len(client_id) > 255:
        raise UserFacingError("The client id is longer than racetime.gg's (255 characters).")
    return client_id, client_secret


class RacetimeAdminService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        bots: RacetimeBotService,
        manager: RacetimeManager,
        audit: AuditService,
        event_log: DatabaseEventLog,
        dispatcher: EventDispatcher,
        *,
        bot_status: BotStatusRepository,
        alerts: BotAlertService,
        access: AccessPolicy,
        connect_wait_seconds: float = CONNECT_WAIT_SECONDS,
        leadership: Callable[[], LeadershipStatus] = lambda: ALONE,
    ) -> None:
        """``leadership``: what this process is (``/racetime status`` says who leads)."""
        self._access = access
        self._leadership = leadership
        self._sessionmaker = sessionmaker
        self._bots = bots
        self._manager = manager
        self._audit = audit
        self._event_log = event_log
        self._dispatcher = dispatcher
        self._bot_status = bot_status
        self._alerts = alerts
        self._connect_wait = connect_wait_seconds

    # -- credentials -------------------------------------------------------------------------

    async def check_can_add(self, category: str, *, actor: Actor) -> str:
        """The category's slug, or why a bot cannot be added for it (before anyone types
        credentials into a form for nothing)."""
        await self._owners_only(actor)
        slug = normalise_category(category)
        bot = await self._bots.get(slug)
        if bot is not None and self._bots.secret_readable(bot):
            raise UserFacingError(already_exists_message(slug))
        return slug

    async def check_exists(self, category: str, *, actor: Actor) -> str:
        """The category's slug; :class:`NotFoundError` when it has no bot."""
        await self._owners_only(actor)
        slug = normalise_category(category)
        async with self._sessionmaker() as session:
            await self._get(session, slug)
        return slug

    async def add_bot(
        self,
        *,
        category: str,
        client_id: str,
        client_secret: str,
        display_name: str | None,
        actor: Actor,
        guild_id: int | None,
    ) -> ConnectOutcome:
        """Store the bot (secret encrypted), assign it to ``guild_id``, audit, start it, and
        wait for racetime's first answer.

        A bot whose stored secret cannot be decrypted is replaced; any other existing bot
        is refused.
        """
        await self._owners_only(actor)
        slug = normalise_category(category)
        client_id, client_secret = check_credentials(client_id, client_secret)
        async with self._sessionmaker.begin() as session:
            bot, replaced = await self._bots.add_or_replace_bot(
                session,
                category=slug,
                client_id=client_id,
                client_secret=client_secret,
                display_name=(display_name or "").strip() or slug,
            )
            assert bot.id is not None
            if guild_id is not None:
                await bot_guilds.assign_bot_to_guild(session, bot.id, guild_id)
            details: dict[str, object] = {
                "category": slug, "client_id": client_id, "bot_id": bot.id
            }
            if replaced:
                details["replaced_unreadable_secret"] = True
            await self._audit.record(
                session,
                "racetime_bot.added",
                actor_discord_id=actor.discord_id,
                guild_id=guild_id,
                details=details,
            )
        return await self._restart(slug)

    async def edit_credentials(
        self,
        category: str,
        *,
        client_id: str,
        client_secret: str,
        actor: Actor,
    ) -> ConnectOutcome:
        """Replace the bot's credentials (secret encrypted), mark it active and restart it."""
        await self._owners_only(actor)
        slug = normalise_category(category)
        client_id, client_secret = check_credentials(client_id, client_secret)
        async with self._sessionmaker.begin() as session:
            bot = await self._get(session, slug)
            bot.client_id = client_id
            bot.client_secret_encrypted = self._bots.encrypt(client_secret)
            bot.is_active = True
            await session.flush()
            await self._audit.record(
                session,
                "racetime_bot.credentials_changed",
                actor_discord_id=actor.discord_id,
                guild_id=actor.guild_id,
                details={"category": slug, "client_id": client_id, "bot_id": bot.id},
            )
        return await self._restart(slug)

    async def remove_bot(self, category: str, *, actor: Actor) -> None:
        """Stop the bot and delete it with its credentials, history and assignments."""
        await self._owners_only(actor)
        slug = normalise_category(category)
        await self._manager.stop_bot(slug, reason="Bot removed")
        async with self._sessionmaker.begin() as session:
            bot = await self._get(session, slug)
            await self._audit.record(
                session,
                "racetime_bot.removed",
                actor_discord_id=actor.discord_id,
                guild_id=actor.guild_id,
                details={"category": slug, "client_id": bot.client_id, "bot_id": bot.id},
            )
            await session.delete(bot)

    # -- running -----------------------------------------------------------------------------

    async def stop_bot(self, category: str, *, actor: Actor) -> bool:
        """Stop the bot and mark it inactive, so it stays stopped after a restart.

        False when it was stopped already.
        """
        await self._owners_only(actor)
        slug = normalise_category(category)
        async with self._sessionmaker.begin() as session:
            was_active = await self._bots.set_active(session, slug, False)
            running = slug in self._manager.bots
            if was_active or running:
                await self._record(session, "racetime_bot.stopped", slug, actor)
        with category_errors_as_user_facing():
            stopped = await self._manager.stop_bot(slug, reason=STOPPED_MANUALLY)
        return was_active or stopped

    async def start_bot(
        self,
        category: str,
        *,
        actor: Actor,
        action: str = "racetime_bot.started",
    ) -> ConnectOutcome:
        """(Re)start a stored bot and mark it active, so it also starts after a restart."""
        await self._owners_only(actor)
        slug = normalise_category(category)
        await self._bots.credentials(slug)  # a missing bot or unreadable secret says so first
        async with self._sessionmaker.begin() as session:
            await self._bots.set_active(session, slug, True)
            await self._record(session, action, slug, actor)
        return await self._restart(slug)

    async def _restart(self, slug: str) -> ConnectOutcome:
        """Start the bot afresh and wait (a while) for the first status it records."""
        credentials = await self._bots.credentials(slug)
        with category_errors_as_user_facing():
            running = await self._manager.restart_bot(credentials)
        try:
            async with asyncio.timeout(self._connect_wait):
                status: BotStatus | None = BotStatus(await running.wait_status())
        except TimeoutError:
            status = None
        bot = await self._bots.get(slug)
        assert bot is not None
        return ConnectOutcome(bot, status)

    # -- servers -----------------------------------------------------------------------------

    async def assign(
        self, category: str, guild_id: int, *, actor: Actor, assign: bool = True
    ) -> bool:
        """(Un)assign the bot to a server (any server: bot owners decide); returns whether
        anything changed."""
        await self._owners_only(actor)
        slug = normalise_category(category)
        async with self._sessionmaker.begin() as session:
            bot = await self._get(session, slug)
            assert bot.id is not None
            if assign:
                changed = await bot_guilds.assign_bot_to_guild(session, bot.id, guild_id)
            else:
                changed = await bot_guilds.unassign_bot_from_guild(session, bot.id, guild_id)
            if changed:
                await self._audit.record(
                    session,
                    "racetime_bot.assigned" if assign else "racetime_bot.unassigned",
                    actor_discord_id=actor.discord_id,
                    guild_id=guild_id,
                    details={"category": slug, "bot_id": bot.id},
                )
        return changed

    async def alerts_channel(self, guild_id: int) -> int | None:
        async with self._sessionmaker() as session:
            settings = await get_guild_settings(session, guild_id)
            return settings.admin_channel_id if settings else None

    async def set_alerts_channel(
        self, guild_id: int, channel_id: int | None, *, actor: Actor
    ) -> None:
        """Where this server's racetime alerts go (``None``: to the bot owners by DM)."""
        await self._access.require(actor, Permission.CONFIGURE_ALERTS, guild_id)
        async with self._sessionmaker.begin() as session:
            await update_guild_settings(session, guild_id, admin_channel_id=channel_id)
            await self._audit.record(
                session, "racetime_bot.alerts_channel", actor_discord_id=actor.discord_id,
                guild_id=guild_id, details={"channel_id": channel_id},
            )

    # -- health ------------------------------------------------------------------------------

    async def bots_for(
        self, actor: Actor, guild_id: int, *, every_server: bool = False
    ) -> list[BotOverview]:
        """The bots serving ``guild_id`` (every bot: a bot owner's explicit choice), with the
        rooms each watches there."""
        await self._access.require(actor, Permission.VIEW_RACETIME_BOTS, guild_id)
        everywhere = await self._access.sees_every_server(actor, every_server)
        return await self.list_bots(None if everywhere else guild_id)

    async def list_bots(self, guild_id: int | None = None) -> list[BotOverview]:
        """Every bot, or (``guild_id``) those assigned to that server, counting only the
        rooms it watches for that server."""
        watching = {
            category: [f"{category}/{slug}" for slug in running.rooms]
            for category, running in self._manager.bots.items()
        }
        async with self._sessionmaker() as session:
            servers = await bot_guilds.guilds_by_bot(session)
            ours = await self._rooms_of(session, guild_id, _flat(watching.values()))
        rows = []
        for bot in await self._bots.list_bots():
            assert bot.id is not None
            assigned = tuple(servers.get(bot.id, ()))
            if guild_id is not None and guild_id not in assigned:
                continue
            running = self._manager.bots.get(bot.category)
            watched = watching.get(bot.category, [])
            rows.append(
                BotOverview(
                    bot=BotInfo.of(bot),
                    running=running is not None,
                    rooms_watched=len([r for r in watched if ours is None or r in ours]),
                    secret_readable=self._bots.secret_readable(bot),
                    guild_ids=assigned if guild_id is None else (guild_id,),
                )
            )
        return rows

    async def history(
        self, category: str, *, actor: Actor, guild_id: int, limit: int = HISTORY_LIMIT
    ) -> tuple[BotInfo, list[StatusChange]]:
        """The bot's latest status changes, newest first: a bot serving ``guild_id``, or (for
        a bot owner, who names it) any bot."""
        await self._access.require(actor, Permission.VIEW_RACETIME_BOTS, guild_id)
        slug = normalise_category(category)
        scope = None if self._access.is_owner(actor) else guild_id
        visible = {row.bot.category: row.bot for row in await self.list_bots(scope)}
        bot = visible.get(slug)
        if bot is None:
            raise NotFoundError(no_such_bot_message(slug))
        changes = await self._bot_status.history(bot.id)
        return bot, [StatusChange.of(change) for change in reversed(changes)][:limit]

    async def overview(
        self, actor: Actor, guild_id: int, *, every_server: bool = False
    ) -> RacetimeOverview:
        """``/racetime status``: the server's bots and rooms (every server's: a bot owner's
        explicit choice)."""
        await self._access.require(actor, Permission.VIEW_RACETIME_STATUS, guild_id)
        scope = None if await self._access.sees_every_server(actor, every_server) else guild_id
        connected, troubles = await self._alerts.room_troubles()
        async with self._sessionmaker() as session:
            ours = await self._rooms_of(session, scope, [*connected, *(t.name for t in troubles)])
        if ours is not None:
            connected = [name for name in connected if name in ours]
            troubles = [t for t in troubles if t.name in ours]
        return RacetimeOverview(
            bots=await self.list_bots(scope),
            events_pending=self._dispatcher.pending,
            deliveries_parked=await self._event_log.parked_count(),
            rooms_connected=len(connected),
            rooms_reconnecting=[t.name for t in troubles if t.watched],
            rooms_unhandled=[t.name for t in troubles if not t.watched],
            guild_id=scope,
            leadership=self._leadership(),
        )

    @staticmethod
    async def _rooms_of(
        session: AsyncSession, guild_id: int | None, names: Iterable[str]
    ) -> set[str] | None:
        """Those of the rooms ``names`` that are ``guild_id``'s (``None``: no filter)."""
        if guild_id is None:
            return None
        servers = await room_servers(session, names)
        return {name for name, server in servers.items() if server == guild_id}

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    async def _get(session: AsyncSession, slug: str) -> RacetimeBot:
        bot = await bot_queries.get_bot_by_category(session, slug)
        if bot is None:
            raise NotFoundError(no_such_bot_message(slug))
        return bot

    async def _owners_only(self, actor: Actor) -> None:
        await self._access.require(actor, Permission.MANAGE_RACETIME_BOTS, actor.guild_id)

    async def _record(
        self, session: AsyncSession, action: str, category: str, actor: Actor
    ) -> None:
        await self._audit.record(
            session,
            action,
            actor_discord_id=actor.discord_id,
            guild_id=actor.guild_id,
            details={"category": category},
        )


__all__ = [
    "CONNECT_WAIT_SECONDS", "HISTORY_LIMIT", "BotInfo", "BotOverview",
    # The stored statuses the views carry: the Discord layer reads no database model.
    "BotStatus",
    "ConnectOutcome", "RacetimeAdminService", "RacetimeOverview", "StatusChange",
    "category_errors_as_user_facing", "check_credentials",
]
