"""Notification subscriptions and the delivery outbox."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from db.models.base import (
    NotificationStatus,
    created_at_field,
    datetime_field,
    status_check,
)

_NO_TOURNAMENT = text("tournament_id IS NULL")
_NO_USER = text("user_id IS NULL")


class NotificationSubscription(SQLModel, table=True):
    """A user's choice for one notification type in one server: on or off.

    No row means the type's default (see ``core.notifications.kinds``).
    ``tournament_id`` narrows a choice to one tournament; ``NULL`` is every tournament of the
    server. SQL treats NULLs as distinct in unique constraints, so the "every tournament" row
    gets its own partial unique index.
    """

    __tablename__ = "notification_subscriptions"
    __table_args__ = (
        UniqueConstraint("user_id", "guild_id", "event_type", "tournament_id"),
        Index(
            "uq_notification_subscriptions_user_id_guild_id_event_type_all",
            "user_id",
            "guild_id",
            "event_type",
            unique=True,
            sqlite_where=_NO_TOURNAMENT,
            postgresql_where=_NO_TOURNAMENT,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    guild_id: int = Field(sa_type=BigInteger, index=True)
    event_type: str = Field(max_length=64)
    tournament_id: int | None = Field(
        default=None, foreign_key="tournaments.id", ondelete="CASCADE", index=True
    )
    enabled: bool = Field(default=True)
    created_at: datetime = created_at_field()


class NotificationLog(SQLModel, table=True):
    """The notification outbox and its history: one row per (event, recipient).

    ``event_id`` is the idempotency key: unique per user, and per guild for channel posts
    (``user_id`` NULL). ``status`` is a :class:`NotificationStatus` value.
    """

    __tablename__ = "notification_log"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id"),
        Index(
            "uq_notification_log_event_id_guild_id_no_user",
            "event_id",
            "guild_id",
            unique=True,
            sqlite_where=_NO_USER,
            postgresql_where=_NO_USER,
        ),
        status_check("status", NotificationStatus),
        # The delivery job's "what is due" query.
        Index("ix_notification_log_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(
        default=None, foreign_key="users.id", ondelete="CASCADE", index=True
    )
    guild_id: int | None = Field(default=None, sa_type=BigInteger)
    event_type: str = Field(max_length=64)
    event_id: str = Field(max_length=255)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    status: str = Field(default=NotificationStatus.PENDING.value, max_length=16)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_type=Text)
    next_attempt_at: datetime | None = datetime_field()
    created_at: datetime = created_at_field()
    sent_at: datetime | None = datetime_field()
