"""Dialect-aware INSERT for ON CONFLICT statements (SQLite and PostgreSQL share the syntax)."""

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_insert(session: AsyncSession, entity: Any) -> Any:
    """``INSERT`` for ``entity`` with ``on_conflict_do_*`` support on the session's backend."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        return postgresql.insert(entity)
    if bind.dialect.name == "sqlite":
        return sqlite.insert(entity)
    raise NotImplementedError(f"upserts are not implemented for {bind.dialect.name}")
