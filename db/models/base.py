"""Helpers shared by the table modules: naming convention and timestamp columns."""

from enum import IntEnum, StrEnum
from typing import Any

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from db.types import UTCDateTime, utcnow

# Deterministic constraint names on both backends, so migrations can refer to them by name.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def created_at_field(*, index: bool = False) -> Any:
    """A ``created_at`` column, defaulted in Python and in Core inserts alike."""
    return Field(
        default_factory=utcnow,
        sa_type=UTCDateTime,
        nullable=False,
        index=index,
        sa_column_kwargs={"default": utcnow},
    )


def updated_at_field() -> Any:
    """An ``updated_at`` column that the ORM bumps on every UPDATE."""
    return Field(
        default_factory=utcnow,
        sa_type=UTCDateTime,
        nullable=False,
        sa_column_kwargs={"default": utcnow, "onupdate": utcnow},
    )


def datetime_field(*, nullable: bool = True, index: bool = False) -> Any:
    """Any other timestamp column (always :class:`~db.types.UTCDateTime`)."""
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)
    return Field(sa_type=UTCDateTime, nullable=False, index=index)


def status_check(column: str, values: type[StrEnum]) -> CheckConstraint:
    """A CHECK constraint limiting ``column`` to the values of the enum ``values``."""
    allowed = ", ".join(f"'{member.value}'" for member in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_valid")


class BotStatus(IntEnum):
    """Health of a racetime category bot, as stored in ``racetime_bots.status``."""

    UNKNOWN = 0
    CONNECTED = 1
    AUTH_FAILED = 2
    CONNECTION_ERROR = 3
    DISCONNECTED = 4


class RaceStatus(StrEnum):
    """Lifecycle of a scheduled match or async live race."""

    SCHEDULED = "scheduled"
    ROOM_OPEN = "room_open"
    IN_PROGRESS = "in_progress"
    FINISHED = "finished"
    CANCELLED = "cancelled"


class PlayerStatus(StrEnum):
    """A match player's state: ``registered`` before a room exists, then racetime's own."""

    REGISTERED = "registered"
    REQUESTED = "requested"
    INVITED = "invited"
    DECLINED = "declined"
    READY = "ready"
    NOT_READY = "not_ready"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DNF = "dnf"
    DQ = "dq"


class NotificationStatus(StrEnum):
    """Delivery state of one outbox row."""

    PENDING = "pending"  # due at next_attempt_at (queued, or waiting to be retried)
    SENDING = "sending"  # leased by the delivery until next_attempt_at: a send is under way
    SENT = "sent"
    FAILED = "failed"
    FALLBACK = "fallback"

    @classmethod
    def open(cls) -> tuple[str, str]:
        """The statuses of rows the delivery has still to finish (waiting or under way)."""
        return (cls.PENDING.value, cls.SENDING.value)


__all__ = [
    "BotStatus",
    "NotificationStatus",
    "PlayerStatus",
    "RaceStatus",
    "created_at_field",
    "datetime_field",
    "status_check",
    "updated_at_field",
]
