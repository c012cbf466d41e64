"""The category bots' credentials: stored encrypted, decrypted only to hand to the engine."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from core.errors import UserFacingError
from db.models import RacetimeBot
from db.queries import bots as bot_queries
from db.secrets import SecretBox
from racetime.ports import BotCredentials


class RacetimeBotService:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], secret_box: SecretBox
    ) -> None:
        self._sessionmaker = sessionmaker
        self._secret_box = secret_box

    def _credentials(self, bot: RacetimeBot) -> BotCredentials:
        assert bot.id is not None
        return BotCredentials(
            bot_id=bot.id,
            category=bot.category,
            client_id=bot.client_id,
            client_secret=self._secret_box.decrypt(bot.client_secret_encrypted),
            display_name=bot.display_name,
        )

    async def active_credentials(self) -> list[BotCredentials]:
        async with self._sessionmaker() as session:
            return [self._credentials(b) for b in await bot_queries.list_active_bots(session)]

    async def get(self, category: str) -> RacetimeBot | None:
        async with self._sessionmaker() as session:
            return await bot_queries.get_bot_by_category(session, category)

    async def credentials(self, category: str) -> BotCredentials | None:
        bot = await self.get(category)
        return self._credentials(bot) if bot is not None else None

    async def add_bot(
        self,
        session: AsyncSession,
        *,
        category: str,
        client_id: str,
        client_secret: str,
        display_name: str,
    ) -> RacetimeBot:
        """Add a bot inside the caller's transaction; the secret is stored encrypted."""
        if await bot_queries.get_bot_by_category(session, category) is not None:
            raise UserFacingError(
                f"A bot for `{category}` already exists. Remove it first to replace it."
            )
        bot = RacetimeBot(
            category=category,
            display_name=display_name,
            client_id=client_id,
            client_secret_encrypted=self._secret_box.encrypt(client_secret),
            is_active=True,
        )
        session.add(bot)
        await session.flush()
        return bot

    async def list_bots(self) -> list[RacetimeBot]:
        async with self._sessionmaker() as session:
            result = await session.execute(select(RacetimeBot).order_by(col(RacetimeBot.category)))
            return list(result.scalars())
