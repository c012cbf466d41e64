"""The event log (a transactional outbox), parked deliveries and listener receipts."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from db.models.base import created_at_field, datetime_field

# SQLite only numbers an ``INTEGER PRIMARY KEY`` itself; PostgreSQL gets a 64-bit sequence.
SEQ_TYPE = BigInteger().with_variant(Integer(), "sqlite")


class EventLogEntry(SQLModel, table=True):
    """One event, committed before any listener sees it (see ``core.events.log``).

    ``seq`` orders the log; ``delivered_at`` is set once every listener is done with the
    event. Rows without it are delivered again after a restart, with the same ``event_id``.
    """

    __tablename__ = "event_log"
    __table_args__ = (
        # What a restart (and a partition catching up) reads: the undelivered rows.
        Index(
            "ix_event_log_undelivered",
            "partition_key",
            "seq",
            sqlite_where=text("delivered_at IS NULL"),
            postgresql_where=text("delivered_at IS NULL"),
        ),
    )

    seq: int | None = Field(default=None, primary_key=True, sa_type=SEQ_TYPE)
    event_id: str = Field(max_length=255, unique=True)
    kind: str = Field(max_length=100)
    partition_key: str = Field(max_length=200)
    payload: dict[str, Any] = Field(sa_type=JSON, nullable=False)
    occurred_at: datetime = datetime_field(nullable=False)
    created_at: datetime = created_at_field()
    delivered_at: datetime | None = datetime_field(index=True)


class ParkedDelivery(SQLModel, table=True):
    """A listener that kept failing on an event: kept for an admin, never silently dropped."""

    __tablename__ = "event_deliveries_parked"
    __table_args__ = (UniqueConstraint("event_id", "listener"),)

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(sa_type=BigInteger, index=True)
    event_id: str = Field(max_length=255)
    kind: str = Field(max_length=100)
    listener: str = Field(max_length=200)
    error: str = Field(max_length=2000)
    attempts: int
    parked_at: datetime = created_at_field(index=True)


class ListenerReceipt(SQLModel, table=True):
    """A durable listener recorded its effect of one event (``core.event_store.exactly_once``)."""

    __tablename__ = "listener_receipts"
    __table_args__ = (UniqueConstraint("listener", "event_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=SEQ_TYPE)
    listener: str = Field(max_length=100)
    event_id: str = Field(max_length=255)
    recorded_at: datetime = created_at_field(index=True)
