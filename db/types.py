"""Column types shared by every table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class NaiveDatetimeError(ValueError):
    """A naive datetime was about to be written; the database only takes aware values."""


class UTCDateTime(TypeDecorator[datetime]):
    """An aware-UTC datetime on every backend.

    PostgreSQL stores ``TIMESTAMP WITH TIME ZONE``; SQLite has no time zones, so the value is
    converted to UTC and stored naive. Reads always return aware UTC datetimes. Writing a
    naive datetime raises :class:`NaiveDatetimeError` instead of guessing its zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UTCDateTime expects a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetimeError(
                "naive datetime rejected: use an aware UTC datetime, e.g. datetime.now(UTC)"
            )
        utc = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return utc.replace(tzinfo=None)
        return utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stored: datetime = value  # the DateTime column gives datetimes
        if stored.tzinfo is None:
            return stored.replace(tzinfo=UTC)
        return stored.astimezone(UTC)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (the default for timestamp columns)."""
    return datetime.now(UTC)
