"""Event log rows, parked deliveries and listener receipts. Never commit: callers own the
transaction."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from db.models import EventLogEntry, ListenerReceipt, ParkedDelivery
from db.queries._upsert import dialect_insert
from db.types import utcnow


async def append_events(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> dict[str, int]:
    """Insert event rows (``event_id``, ``kind``, ``partition_key``, ``payload``,
    ``occurred_at``) in the given order; returns ``event_id -> seq`` of those inserted.

    A row whose ``event_id`` is already logged is skipped (a repeat is not news).
    """
    if not rows:
        return {}
    now = utcnow()
    statement = (
        dialect_insert(session, EventLogEntry)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(col(EventLogEntry.seq), col(EventLogEntry.event_id))
    )
    inserted: dict[str, int] = {}
    # One statement per row keeps ``seq`` in the order given (a multi-row RETURNING does
    # not promise an order); the batch is still one transaction.
    for row in rows:
        result = await session.execute(statement, [{**row, "created_at": now}])
        found = result.first()
        if found is not None:
            inserted[found.event_id] = found.seq
    return inserted


async def undelivered_partitions(session: AsyncSession) -> list[str]:
    result = await session.execute(
        select(EventLogEntry.partition_key)
        .where(col(EventLogEntry.delivered_at).is_(None))
        .distinct()
    )
    return sorted(result.scalars())


async def undelivered_events(
    session: AsyncSession, partition: str, *, after: int, limit: int
) -> list[EventLogEntry]:
    result = await session.execute(
        select(EventLogEntry)
        .where(
            EventLogEntry.partition_key == partition,
            col(EventLogEntry.delivered_at).is_(None),
            col(EventLogEntry.seq) > after,
        )
        .order_by(col(EventLogEntry.seq))
        .limit(limit)
    )
    return list(result.scalars())


async def mark_delivered(session: AsyncSession, seqs: Sequence[int], at: datetime) -> None:
    if seqs:
        await session.execute(
            update(EventLogEntry)
            .where(col(EventLogEntry.seq).in_(list(seqs)))
            .values(delivered_at=at)
        )


async def add_parked_delivery(
    session: AsyncSession,
    *,
    seq: int,
    event_id: str,
    kind: str,
    listener: str,
    error: str,
    attempts: int,
) -> None:
    """Record a parked delivery (once per event and listener)."""
    statement = (
        dialect_insert(session, ParkedDelivery)
        .values(
            seq=seq,
            event_id=event_id,
            kind=kind,
            listener=listener[:200],
            error=error[:2000],
            attempts=attempts,
            parked_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["event_id", "listener"])
    )
    await session.execute(statement)


async def count_parked_deliveries(session: AsyncSession) -> int:
    result = await session.execute(select(func.count()).select_from(ParkedDelivery))
    return int(result.scalar_one())


async def list_parked_deliveries(session: AsyncSession, limit: int = 50) -> list[ParkedDelivery]:
    result = await session.execute(
        select(ParkedDelivery).order_by(col(ParkedDelivery.id).desc()).limit(limit)
    )
    return list(result.scalars())


async def claim_receipt(session: AsyncSession, listener: str, event_id: str) -> bool:
    """Record that ``listener`` handled ``event_id``; False when it already had."""
    statement = (
        dialect_insert(session, ListenerReceipt)
        .values(listener=listener, event_id=event_id, recorded_at=utcnow())
        .on_conflict_do_nothing(index_elements=["listener", "event_id"])
        .returning(col(ListenerReceipt.id))
    )
    result = await session.execute(statement)
    return result.first() is not None


async def prune_delivered(session: AsyncSession, before: datetime) -> int:
    """Delete events delivered before ``before`` (parked ones stay) and older receipts."""
    parked = select(ParkedDelivery.seq)
    result = await session.execute(
        delete(EventLogEntry).where(
            col(EventLogEntry.delivered_at) < before,
            col(EventLogEntry.seq).not_in(parked),
        )
    )
    await session.execute(
        delete(ListenerReceipt).where(col(ListenerReceipt.recorded_at) < before)
    )
    return int(result.rowcount or 0)
