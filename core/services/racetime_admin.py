"""What ``/racetime`` does: add, start and stop category bots, and report their health.

Every change is audited with the Discord user who asked for it. Whether a bot runs is stored
(``racetime_bots.is_active``): a stopped bot stays stopped after a restart until it is started.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import UserFacingError
from core.events import EventDispatcher
from core.services.audit import AuditService
from core.services.event_log import DatabaseEventLog
from core.services.racetime_bots import RacetimeBotService
from db.models import RacetimeBot
from racetime.manager import RacetimeManager, UnknownCategoryError


@contextmanager
def category_errors_as_user_facing() -> Iterator[None]:
    """Turn the engine's :class:`UnknownCategoryError` into a message an admin can act on."""
    try:
        yield
    except UnknownCategoryError as error:
        raise UserFacingError(
            f"No racetime bot is running for `{error.category}`. `/racetime status` shows "
            "the bots; a bot owner can add one with `/racetime add`."
        ) from None


@dataclass(frozen=True, slots=True)
class BotOverview:
    bot: RacetimeBot
    running: bool
    rooms_watched: int
    secret_readable: bool = True

    @property
    def stopped_by_owner(self) -> bool:
        return not self.bot.is_active


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
        """Store the bot (secret encrypted), audit it, and start it.

        A bot whose stored secret cannot be decrypted is replaced; any other existing bot
        is refused.
        """
        slug = normalise_category(category)
        async with self._sessionmaker.begin() as session:
            bot, replaced = await self._bots.add_or_replace_bot(
                session,
                category=slug,
                client_id=client_id,
                client_secret=client_secret,
                display_name=display_name or slug,
            )
            details: dict[str, object] = {
                "category": slug, "client_id": client_id, "bot_id": bot.id
            }
            if replaced:
                details["replaced_unreadable_secret"] = True
            await self._audit.record(
                session,
                "racetime_bot.added",
                actor_discord_id=actor_discord_id,
                guild_id=guild_id,
                details=details,
            )
        credentials = await self._bots.credentials(slug)
        with category_errors_as_user_facing():
            await self._manager.restart_bot(credentials)
        return bot

    async def stop_bot(
        self, category: str, *, actor_discord_id: int, guild_id: int | None
    ) -> bool:
        """Stop the bot and mark it inactive, so it stays stopped after a restart.

        False when it was stopped already.
        """
        slug = normalise_category(category)
        async with self._sessionmaker.begin() as session:
            was_active = await self._bots.set_active(session, slug, False)
            running = slug in self._manager.bots
            if was_active or running:
                await self._record(
                    session, "racetime_bot.stopped", slug, actor_discord_id, guild_id
                )
        with category_errors_as_user_facing():
            stopped = await self._manager.stop_bot(slug)
        return was_active or stopped

    async def start_bot(
        self, category: str, *, actor_discord_id: int, guild_id: int | None
    ) -> RacetimeBot:
        """(Re)start a stored bot and mark it active, so it also starts after a restart."""
        slug = normalise_category(category)
        credentials = await self._bots.credentials(slug)
        async with self._sessionmaker.begin() as session:
            await self._bots.set_active(session, slug, True)
            await self._record(session, "racetime_bot.started", slug, actor_discord_id, guild_id)
        with category_errors_as_user_facing():
            await self._manager.restart_bot(credentials)
        bot = await self._bots.get(slug)
        assert bot is not None
        return bot

    async def _record(
        self,
        session: AsyncSession,
        action: str,
        category: str,
        actor_discord_id: int,
        guild_id: int | None,
    ) -> None:
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
                    secret_readable=self._bots.secret_readable(bot),
                )
            )
        return RacetimeOverview(
            bots=rows,
            events_pending=self._dispatcher.pending,
            deliveries_parked=await self._event_log.parked_count(),
        )
