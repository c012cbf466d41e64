"""The audit log."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger
from sqlmodel import Field, SQLModel

from db.models.base import created_at_field


class AuditLog(SQLModel, table=True):
    """Who did what, where.

    ``actor_user_id`` is three-state like every user id (see ``core.identity``): positive is
    a user, ``-1`` is the system, ``NULL`` is unknown. It has no foreign key because ``-1``
    is not a row, and audit rows must outlive deleted users.
    """

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    actor_user_id: int | None = Field(default=None, index=True)
    guild_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    action: str = Field(max_length=64, index=True)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    created_at: datetime = created_at_field(index=True)
