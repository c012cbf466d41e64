"""Event log rows, parked deliveries and listener receipts. Never commit: callers own the
transaction."""

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from db.models import EventLogEntry, ListenerReceipt, ParkedDelivery
from db.queries._tables import affected_rows, table_of
from db.queries._upsert import dialect_insert, dialect_name, insert_for
from db.types import utcnow
from db.write_batch import Write


async def append_events(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> dict[str, int]:
    """Insert event rows (``event_id``, ``kind``, ``partition_key``, ``payload``,
    ``occurred_at``) in the given order; returns ``event_id -> seq`` of those inserted.
    ``seq`` follows the order given.

    A row whose ``event_id`` is already logged is skipped (a repeat is not news).
    """
    if not rows:
        return {}
    write = append_write(dialect_name(session), rows)
    connection = await session.connection()
    result = await connection.execute(write.statement, list(write.rows))
    return inserted_seqs(result)


def append_write(dialect: str, rows: Sequence[dict[str, Any]]) -> Write:
    """:func:`append_events` as a :class:`~db.write_batch.Write` (its returned rows go to
    :func:`inserted_seqs`)."""
    now = utcnow()
    return Write(
        _append_statement(dialect), [{**row, "created_at": now} for row in rows], returning=True
    )


def inserted_seqs(rows: Iterable[Sequence[Any]]) -> dict[str, int]:
    """``event_id -> seq`` from the rows :func:`append_write`'s statement returned, in the
    order of ``seq`` (SQLite does not promise RETURNING's order)."""
    return {event_id: seq for seq, event_id in sorted(tuple(row) for row in rows)}


@cache
def _append_statement(dialect: str) -> Any:
    table = table_of(EventLogEntry)
    return (
        insert_for(dialect, table)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(table.c.seq, table.c.event_id)
    )


async def undelivered_partitions(session: AsyncSession) -> list[str]:
    result = await session.execute(
        select(col(EventLogEntry.partition_key))
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
            col(EventLogEntry.partition_key) == partition,
            col(EventLogEntry.delivered_at).is_(None),
            col(EventLogEntry.seq) > after,
        )
        .order_by(col(EventLogEntry.seq))
        .limit(limit)
    )
    return list(result.scalars())


# Bound parameters per statement: acknowledgements pile up while the database is away, and
# both drivers refuse a statement with more than 32767 parameters.
_IN_CHUNK = 1000


_MARK_DELIVERED = (
    update(table_of(EventLogEntry))
    .where(table_of(EventLogEntry).c.seq.in_(bindparam("seqs", expanding=True)))
    .values(delivered_at=bindparam("at"))
)


# SQLite runs the event log's commit in one trip (db.write_batch): one statement for every
# row, the seqs as a JSON array (no limit on their number, one step of SQLite's; a statement
# a row would take the GIL back once a row from a busy event loop). Elsewhere one statement
# per thousand rows.
_DELIVERED_SEQS = func.json_each(bindparam("seqs_json")).table_valued("value")
_MARK_DELIVERED_JSON = (
    update(table_of(EventLogEntry))
    .where(table_of(EventLogEntry).c.seq.in_(select(_DELIVERED_SEQS.c.value)))
    .values(delivered_at=bindparam("at"))
)


def mark_delivered_writes(dialect: str, seqs: Sequence[int], at: datetime) -> list[Write]:
    """Writes that set ``delivered_at`` of the events ``seqs``."""
    if dialect == "sqlite":
        if not seqs:
            return []
        return [Write(_MARK_DELIVERED_JSON, [{"seqs_json": json.dumps(list(seqs)), "at": at}])]
    return [
        Write(_MARK_DELIVERED, [{"seqs": list(seqs[start : start + _IN_CHUNK]), "at": at}])
        for start in range(0, len(seqs), _IN_CHUNK)
    ]


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
    statement = _receipt_statement(dialect_name(session)).returning(col(ListenerReceipt.id))
    result = await session.execute(
        statement, {"listener": listener, "event_id": event_id, "recorded_at": utcnow()}
    )
    return result.first() is not None


async def has_receipt(session: AsyncSession, listener: str, event_id: str) -> bool:
    """Whether ``listener`` has handled ``event_id`` (a read: it waits for no writer)."""
    result = await session.execute(
        select(col(ListenerReceipt.id)).where(
            col(ListenerReceipt.listener) == listener,
            col(ListenerReceipt.event_id) == event_id,
        )
    )
    return result.first() is not None


def receipt_write(dialect: str, listener: str, event_id: str) -> Write:
    """:func:`claim_receipt` as a :class:`~db.write_batch.Write`, for a receipt kept on its own
    (one trip on SQLite); a receipt already there stays as it is."""
    return Write(_receipt_statement(dialect), [
        {"listener": listener, "event_id": event_id, "recorded_at": utcnow()}
    ])


@cache
def _receipt_statement(dialect: str) -> Any:
    return insert_for(dialect, table_of(ListenerReceipt)).on_conflict_do_nothing(
        index_elements=["listener", "event_id"]
    )


async def prune_delivered(session: AsyncSession, before: datetime) -> int:
    """Delete events delivered before ``before`` (parked ones stay) and older receipts.

    A receipt of an event that is still undelivered stays however old it is: that event
    will be delivered again, and without its receipt a listener would record it twice.
    """
    parked = select(col(ParkedDelivery.seq))
    result = await session.execute(
        delete(EventLogEntry).where(
            col(EventLogEntry.delivered_at) < before,
            col(EventLogEntry.seq).not_in(parked),
        )
    )
    undelivered = select(col(EventLogEntry.event_id)).where(
        col(EventLogEntry.delivered_at).is_(None)
    )
    await session.execute(
        delete(ListenerReceipt).where(
            col(ListenerReceipt.recorded_at) < before,
            col(ListenerReceipt.event_id).not_in(undelivered),
        )
    )
    return affected_rows(result)
