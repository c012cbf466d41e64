"""Exactly-once effects for listeners, on top of at-least-once delivery.

The dispatcher may deliver an event again (after a crash, with the same ``event_id``). A
listener that records something durable wraps its work with :func:`exactly_once`: the work
runs in a transaction of its own that also stores a receipt ``(listener, event_id)``; a
repeat finds the receipt and does nothing, and work that fails leaves no receipt, so the
retry runs it again.

A listener whose record is an effect only the leader may cause (a result recorded) passes
its ``fence`` (``core.leadership``): the transaction is refused under an epoch that no longer
leads, and the event stays unacknowledged for the leader that does.

A listener whose work is to read and then add rows that are unique per event anyway (the
notification outbox: one row per event and recipient) uses :func:`exactly_once_writes`: its
reads take no part in the write transaction, which is only the rows and the receipt, in one
trip on SQLite. At a season's peak the ordinary form held SQLite's writers' turn (see
``db.sqlite_driver``) for five trips through a busy event loop, ~30 ms, while the event log's
commits, and every room frame behind them, waited.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.event_store.event_log import DatabaseEventLog, Outbox
from core.events import Event
from core.leadership import NO_FENCE, Fence
from db.engine import engine_of
from db.queries.events import claim_receipt, has_receipt, receipt_write
from db.write_batch import Rows, Write, commit_writes

E = TypeVar("E", bound=Event)

Recorder = Callable[[AsyncSession, E], Awaitable[None]]
EmittingRecorder = Callable[[Outbox, E], Awaitable[None]]
Prepare = Callable[[AsyncSession, str, E], Awaitable[Sequence[Write]]]
"""``(session, dialect, event)``: read through ``session``, return the writes to commit."""
Committed = Callable[[list[Rows]], None]

RECEIPT_NAME_MAX = 100  # ``listener_receipts.listener``


def _check_name(name: str) -> None:
    if not name or len(name) > RECEIPT_NAME_MAX:
        # Caught here, at wiring, rather than by the database at the first event.
        raise ValueError(f"a listener name has 1 to {RECEIPT_NAME_MAX} characters: {name!r}")


def exactly_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    name: str,
    record: Recorder[E],
    *,
    fence: Fence = NO_FENCE,
) -> Callable[[E], Awaitable[None]]:
    """A listener that runs ``record(session, event)`` once per ``event_id``.

    ``name`` identifies the listener in the receipts; keep it stable across releases (a
    renamed listener would handle redelivered events again).
    """
    _check_name(name)

    async def listener(event: E) -> None:
        async with sessionmaker.begin() as session:
            await fence.check(session)
            if await claim_receipt(session, name, event.event_id):
                await record(session, event)

    listener.__qualname__ = listener.__name__ = f"exactly_once[{name}]"
    return listener


def exactly_once_emitting(
    event_log: DatabaseEventLog,
    name: str,
    record: EmittingRecorder[E],
    *,
    fence: Fence = NO_FENCE,
) -> Callable[[E], Awaitable[None]]:
    """:func:`exactly_once` for a listener that also emits events: ``record(outbox, event)``
    changes rows through ``outbox.session`` and adds events to ``outbox``; the rows, the
    receipt and the events commit together, so a repeat emits nothing either."""
    _check_name(name)

    async def listener(event: E) -> None:
        async with event_log.transaction() as outbox:
            await fence.check(outbox.session)
            if await claim_receipt(outbox.session, name, event.event_id):
                await record(outbox, event)

    listener.__qualname__ = listener.__name__ = f"exactly_once[{name}]"
    return listener


def exactly_once_writes(
    sessionmaker: async_sessionmaker[AsyncSession],
    name: str,
    prepare: Prepare[E],
    *,
    committed: Committed | None = None,
) -> Callable[[E], Awaitable[None]]:
    """A listener that commits the writes ``prepare(session, dialect, event)`` returns, and
    the receipt of ``event_id``, in one transaction (one trip on SQLite), once per event.

    ``prepare`` reads in a session of its own that writes nothing, before the transaction, so
    its reads hold up no writer; in exchange they are not isolated from it. So the writes
    must add nothing when they run twice (``ON CONFLICT DO NOTHING`` on a key that includes
    the event): two deliveries that meet can both pass the receipt check. A repeat after the
    commit finds the receipt and reads nothing. ``committed(rows)`` runs after the commit
    with the rows of the ``returning`` writes. No fence: for effects any process may cause.
    """
    _check_name(name)
    engine = engine_of(sessionmaker)
    dialect = engine.dialect.name

    async def listener(event: E) -> None:
        async with sessionmaker() as session:
            if await has_receipt(session, name, event.event_id):
                return
            prepared = await prepare(session, dialect, event)
        writes = [receipt_write(dialect, name, event.event_id), *prepared]

        async def build(_dialect: str) -> list[Write]:
            return writes

        returned = await commit_writes(engine, build)
        if committed is not None:
            committed(returned)

    listener.__qualname__ = listener.__name__ = f"exactly_once[{name}]"
    return listener
