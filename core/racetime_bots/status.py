"""Health of the racetime category bots: the row, a history row per change, an event.

A change of status writes the bot's row, its history row, its audit row and the
:class:`RacetimeBotStatusChangedEvent` in one transaction, so none exists without the others.
Implements ``racetime.ports.BotHealthRecorder`` for the racetime engine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from core.clock import Clock
from core.event_store.event_log import DatabaseEventLog
from core.events import RacetimeBotStatusChangedEvent
from core.identity import SYSTEM_USER_ID
from core.leadership import NO_FENCE, Fence
from core.stopping import to_the_end
from db.models import BotStatus, RacetimeBot, RacetimeBotStatusHistory
from db.queries.audit import add_audit_entry

log = logging.getLogger(__name__)

STOPPED_MANUALLY = "Bot stopped manually"
UNHEALTHY = (BotStatus.AUTH_FAILED, BotStatus.CONNECTION_ERROR, BotStatus.DISCONNECTED)


@dataclass(frozen=True, slots=True)
class BotCounts:
    active: int
    unhealthy: int
    stopped: int  # stopped by an owner (/racetime bot stop): not running, on purpose


class BotStatusRepository:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        event_log: DatabaseEventLog,
        clock: Clock,
        *,
        fence: Fence = NO_FENCE,
    ) -> None:
        """``fence``: a status (and the alert it may raise) is the leader's to record
        (``core.leadership``)."""
        self._sessionmaker = sessionmaker
        self._event_log = event_log
        self._clock = clock
        self._fence = fence

    async def update_bot_status(
        self, bot_id: int, status: BotStatus, message: str | None = None
    ) -> bool:
        """Store ``status``; a change of status adds a history row and emits an event.

        Returns whether the status changed. The check time is updated either way. A bot
        stopped meanwhile does not interrupt the transaction (``core.stopping.to_the_end``).
        """
        return await to_the_end(self._update(bot_id, status, message))

    async def _update(self, bot_id: int, status: BotStatus, message: str | None) -> bool:
        now = self._clock.now()
        async with self._event_log.transaction() as outbox:
            session = outbox.session
            await self._fence.check(session)
            # Writing the row first locks it on both backends (SQLite ignores FOR UPDATE and
            # would let two tasks read the old status), so one change is recorded once.
            await session.execute(
                update(RacetimeBot)
                .where(col(RacetimeBot.id) == bot_id)
                .values(last_status_check_at=now)
            )
            bot = await session.get(RacetimeBot, bot_id, populate_existing=True)
            if bot is None:
                log.warning("Status for unknown racetime bot %s ignored", bot_id)
                return False
            old = BotStatus(bot.status)
            bot.status_message = message
            if status == BotStatus.CONNECTED:
                bot.last_connected_at = now
            changed = old != status
            if changed:
                bot.status = int(status)
                session.add(
                    RacetimeBotStatusHistory(
                        bot_id=bot_id,
                        old_status=int(old),
                        new_status=int(status),
                        status_message=message,
                        changed_at=now,
                    )
                )
                event = RacetimeBotStatusChangedEvent(
                    user_id=SYSTEM_USER_ID,
                    entity_id=f"racetime_bot:{bot_id}",
                    bot_id=bot_id,
                    category=bot.category,
                    old_status=int(old),
                    new_status=int(status),
                    status_message=message,
                    occurred_at=now,
                )
                await add_audit_entry(
                    session,
                    "racetime_bot.status_changed",
                    actor_user_id=SYSTEM_USER_ID,
                    details={
                        "bot_id": bot_id,
                        "category": bot.category,
                        "old_status": old.name,
                        "new_status": status.name,
                        "message": message,
                        "event_id": event.event_id,
                    },
                )
                outbox.add(event)
        return changed

    async def record_connection_success(self, bot_id: int) -> None:
        await self.update_bot_status(bot_id, BotStatus.CONNECTED, "Connected")

    async def record_connection_failure(self, bot_id: int, status: int, message: str) -> None:
        if status not in (BotStatus.AUTH_FAILED, BotStatus.CONNECTION_ERROR):
            raise ValueError(f"{status} is not a failure status")
        await self.update_bot_status(bot_id, BotStatus(status), message)

    async def record_stopped(self, bot_id: int, message: str = STOPPED_MANUALLY) -> None:
        await self.update_bot_status(bot_id, BotStatus.DISCONNECTED, message or STOPPED_MANUALLY)

    async def get_unhealthy_bots(self) -> list[RacetimeBot]:
        """Active bots that are not connected because something went wrong or they stopped."""
        async with self._sessionmaker() as session:
            result = await session.execute(
                select(RacetimeBot)
                .where(col(RacetimeBot.is_active).is_(True))
                .where(col(RacetimeBot.status).in_([int(s) for s in UNHEALTHY]))
                .order_by(col(RacetimeBot.category))
            )
            return list(result.scalars())

    async def counts(self) -> BotCounts:
        """How many bots run, how many of those are unhealthy, how many owners stopped."""
        async with self._sessionmaker() as session:
            result = await session.execute(select(RacetimeBot.status, RacetimeBot.is_active))
            rows = [(BotStatus(status), active) for status, active in result.all()]
        running = [status for status, active in rows if active]
        return BotCounts(
            active=len(running),
            unhealthy=sum(status in UNHEALTHY for status in running),
            stopped=len(rows) - len(running),
        )

    async def history(self, bot_id: int) -> list[RacetimeBotStatusHistory]:
        async with self._sessionmaker() as session:
            result = await session.execute(
                select(RacetimeBotStatusHistory)
                .where(RacetimeBotStatusHistory.bot_id == bot_id)
                .order_by(col(RacetimeBotStatusHistory.id))
            )
            return list(result.scalars())
