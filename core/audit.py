"""The audit log: who did what, where. Admin actions land here, and bot health changes
(written by ``core.racetime_bots.status`` in the same transaction as the change)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from db.models import AuditLog
from db.queries.audit import add_audit_entry
from db.queries.users import get_or_create_user_by_discord_id

log = logging.getLogger(__name__)


class AuditService:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def record(
        self,
        session: AsyncSession,
        action: str,
        *,
        actor_discord_id: int | None,
        guild_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditLog:
        """Record an action of a Discord user inside the caller's transaction."""
        actor_user_id = None
        if actor_discord_id is not None:
            actor_user_id = (await get_or_create_user_by_discord_id(session, actor_discord_id)).id
        return await add_audit_entry(
            session, action, actor_user_id=actor_user_id, guild_id=guild_id, details=details
        )

    async def entries(self, action_prefix: str = "") -> list[AuditLog]:
        async with self._sessionmaker() as session:
            result = await session.execute(
                select(AuditLog)
                .where(col(AuditLog.action).startswith(action_prefix))
                .order_by(col(AuditLog.id))
            )
            return list(result.scalars())
