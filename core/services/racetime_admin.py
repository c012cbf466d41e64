"""What ``/racetime`` does: add, start and stop category bots, and report their health.

Every change is audited with the Discord user who asked for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import UserFacingError
from core.events import EventDispatcher
from core.services.audit import AuditService
from core.services.event_log import DatabaseEventLog
from core.services.racetime_bots import RacetimeBotService
from db.models import RacetimeBot
from racetime.manager import RacetimeManager


@dataclass(frozen=True, slots=True)
class BotOverview:
    bot: RacetimeBot
    running: bool
    rooms_watched: int


@dataclass(frozen=True, slots=True)
class RacetimeOverview:
    """What ``/racetime status`` shows: every bot, and how event delivery is doing."""

    bots: list[BotOverview]
    events_pending: int
    deliveries_parked: int


def normalise_category(category: str) -> str:
    slug = category.strip().lower()
    if not slug or "/" in slug or " " in slug:
        raise UserFacingError("The category is the slug from its URL, e.g. `alttpr`.")
    return slug


class RacetimeAdminService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        bots: RacetimeBotService,
        manager: RacetimeManager,
        audit: AuditService,
        event_log: DatabaseEventLog,
        dispatcher: EventDispatcher,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._bots = bots
        self._manager = manager
        self._audit = audit
        self._event_log = event_log
        self._dispatcher = dispatcher

    async def add_bot(
        self,
        *,
        category: str,
        client_id: str,
        client_secret: str,
        display_name: str | None,
        actor_discord_id: int,
        guild_id: int | None,
    ) -> RacetimeBot:
        """Store the bot (secret encrypted), audit it, and start it."""
        slug = normalise_category(category)
        async with self._sessionmaker.begin() as session:
            bot = await self._bots.add_bot(
                session,
                category=slug,
                client_id=client_id,
                client_secret=client_secret,
                display_name=display_name or slug,
            )
            await self._audit.record(
                session,
                "racetime_bot.added",
                actor_discord_id=actor_discord_id,
                guild_id=guild_id,
                details={"category": slug, "client_id": client_id, "bot_id": bot.id},
            )
        credentials = await self._bots.credentials(slug)
        assert credentials is not None
        self._manager.start_bot(credentials)
        return bot

    async def stop_bot(self, category: str, *, actor_discord_id: int, guild_id: int | None) -> bool:
        slug = normalise_category(category)
        stopped = await self._manager.stop_bot(slug)
        if stopped:
            await self._record("racetime_bot.stopped", slug, actor_discord_id, guild_id)
        return stopped

    async def start_bot(
        self, category: str, *, actor_discord_id: int, guild_id: int | None
    ) -> RacetimeBot | None:
        """(Re)start a stored bot; None when there is no bot for ``category``."""
        slug = normalise_category(category)
        credentials = await self._bots.credentials(slug)
        if credentials is None:
            return None
        await self._manager.restart_bot(credentials)
        await self._record("racetime_bot.started", slug, actor_discord_id, guild_id)
        return await self._bots.get(slug)

    async def _record(
        self, action: str, category: str, actor_discord_id: int, guild_id: int | None
    ) -> None:
        async with self._sessionmaker.begin() as session:
            await self._audit.record(
                session,
                action,
                actor_discord_id=actor_discord_id,
                guild_id=guild_id,
                details={"category": category},
            )

    async def overview(self) -> RacetimeOverview:
        rows = []
        for bot in await self._bots.list_bots():
            running = self._manager.bots.get(bot.category)
            rows.append(
                BotOverview(
                    bot=bot,
                    running=running is not None,
                    rooms_watched=len(running.rooms) if running else 0,
                )
            )
        return RacetimeOverview(
            bots=rows,
            events_pending=self._dispatcher.pending,
            deliveries_parked=await self._event_log.parked_count(),
        )
