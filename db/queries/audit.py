"""Audit log writes. Never commit: the service owns the transaction."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditLog


async def add_audit_entry(
    session: AsyncSession,
    action: str,
    *,
    actor_user_id: int | None,
    guild_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """Record ``action``; ``actor_user_id`` is three-state (user id, -1 system, None unknown).

    The actor is keyword-only and required so that callers decide, never default, who acted.
    """
    entry = AuditLog(
        action=action,
        actor_user_id=actor_user_id,
        guild_id=guild_id,
        details=dict(details or {}),
    )
    session.add(entry)
    await session.flush()
    return entry
