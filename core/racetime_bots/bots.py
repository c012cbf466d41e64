"""The category bots' credentials: stored encrypted, decrypted only to hand to the engine.

A bot whose secret no configured key decrypts (the key was changed without ``rotate-key``)
is skipped at start-up and logged; the others start. ``/racetime bot list`` shows it.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from core.errors import NotFoundError, UserFacingError
from db.models import RacetimeBot
from db.queries import bots as bot_queries
from db.secrets import SecretBox, SecretDecryptionError
from racetime.ports import BotCredentials

log = logging.getLogger(__name__)


def unreadable_secret_message(category: str) -> str:
    """What to tell an owner about a bot whose client secret cannot be decrypted."""
    return (
        f"The `{category}` bot's client secret cannot be decrypted: was the secret key "
        "changed? See `python bot.py rotate-key`, or give it its credentials again with "
        "`/racetime bot edit`."
    )


def no_such_bot_message(category: str) -> str:
    return (
        f"There is no `{category}` bot. A bot owner can add it with `/racetime bot add`; "
        "`/racetime bot list` lists them."
    )


def already_exists_message(category: str) -> str:
    return (
        f"A bot for `{category}` already exists; `/racetime bot list` shows it, "
        "`/racetime bot edit` changes its credentials."
    )


class RacetimeBotService:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], secret_box: SecretBox
    ) -> None:
        self._sessionmaker = sessionmaker
        self._secret_box = secret_box

    def _credentials(self, bot: RacetimeBot) -> BotCredentials:
        """The bot's credentials; :class:`SecretDecryptionError` when its secret is unreadable."""
        assert bot.id is not None
        return BotCredentials(
            bot_id=bot.id,
            category=bot.category,
            client_id=bot.client_id,
            client_secret=self._secret_box.decrypt(bot.client_secret_encrypted),
            display_name=bot.display_name,
        )

    def encrypt(self, client_secret: str) -> bytes:
        """A client secret as it is stored."""
        return self._secret_box.encrypt(client_secret)

    def secret_readable(self, bot: RacetimeBot) -> bool:
        """Whether a configured key decrypts the bot's client secret."""
        return self._secret_box.can_decrypt(bot.client_secret_encrypted)

    async def active_credentials(self) -> list[BotCredentials]:
        """Every active bot whose secret can be decrypted; the others are logged and skipped."""
        async with self._sessionmaker() as session:
            bots = await bot_queries.list_active_bots(session)
        credentials = []
        for bot in bots:
            try:
                credentials.append(self._credentials(bot))
            except SecretDecryptionError:
                log.error(
                    "racetime bot %s (%s) not started: its client secret cannot be decrypted "
                    "with [security] secret_key or old_secret_keys. Was the key changed? "
                    "See `python bot.py rotate-key`.",
                    bot.id, bot.category,
                )
        return credentials

    async def get(self, category: str) -> RacetimeBot | None:
        async with self._sessionmaker() as session:
            return await bot_queries.get_bot_by_category(session, category)

    async def credentials(self, category: str) -> BotCredentials:
        """The bot's credentials, or a :class:`UserFacingError` saying what is wrong."""
        bot = await self.get(category)
        if bot is None:
            raise NotFoundError(no_such_bot_message(category))
        try:
            return self._credentials(bot)
        except SecretDecryptionError:
            raise UserFacingError(unreadable_secret_message(category)) from None

    async def set_active(self, session: AsyncSession, category: str, active: bool) -> bool:
        """Mark the bot (in)active inside the caller's transaction; returns its old state.

        Only active bots are started when RaceDesk starts, so this outlives a restart.
        """
        bot = await bot_queries.get_bot_by_category(session, category)
        if bot is None:
            raise NotFoundError(no_such_bot_message(category))
        was_active = bot.is_active
        bot.is_active = active
        await session.flush()
        return was_active

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
        bot, _ = await self.add_or_replace_bot(
            session,
            category=category,
            client_id=client_id,
            client_secret=client_secret,
            display_name=display_name,
        )
        return bot

    async def add_or_replace_bot(
        self,
        session: AsyncSession,
        *,
        category: str,
        client_id: str,
        client_secret: str,
        display_name: str,
    ) -> tuple[RacetimeBot, bool]:
        """Like :meth:`add_bot`, and returns whether it replaced a bot.

        Only a bot whose stored secret cannot be decrypted is replaced (its id, rooms and
        history stay): there is no other way back once its key is lost.
        """
        bot = await bot_queries.get_bot_by_category(session, category)
        if bot is not None and self.secret_readable(bot):
            raise UserFacingError(already_exists_message(category))
        replaced = bot is not None
        secret = self._secret_box.encrypt(client_secret)
        if bot is None:
            bot = RacetimeBot(
                category=category, display_name=display_name, client_id=client_id,
                client_secret_encrypted=secret,
            )
        bot.display_name = display_name
        bot.client_id = client_id
        bot.client_secret_encrypted = secret
        bot.is_active = True
        session.add(bot)
        await session.flush()
        return bot, replaced

    async def list_bots(self) -> list[RacetimeBot]:
        async with self._sessionmaker() as session:
            result = await session.execute(select(RacetimeBot).order_by(col(RacetimeBot.category)))
            return list(result.scalars())
