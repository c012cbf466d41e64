"""Dialect-aware INSERT for ON CONFLICT statements (SQLite and PostgreSQL share the syntax)."""

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_insert(session: AsyncSession, entity: Any) -> Any:
    """``INSERT`` for ``entity`` with ``on_conflict_do_*`` support on the session's backend."""
    return insert_for(dialect_name(session), entity)


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def insert_for(dialect: str, entity: Any) -> Any:
    """``INSERT`` for ``entity`` with ``on_conflict_do_*`` support on backend ``dialect``.

    Hot paths build their statement once per backend (e.g. under ``functools.cache``):
    building an ``ON CONFLICT`` statement costs more than running it.
    """
    if dialect == "postgresql":
        return postgresql.insert(entity)
    if dialect == "sqlite":
        return sqlite.insert(entity)
    raise NotImplementedError(f"upserts are not implemented for {dialect}")
