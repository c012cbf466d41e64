"""Receipts for side effects outside the database (a Discord post or DM), once per event.

A transaction cannot hold a Discord call (a slow Discord would hold the database), so the
order is: look for the receipt, act with a nonce derived from the event, keep the receipt.
A crash between the last two acts again with the same nonce, which Discord drops.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import engine_of
from db.queries.events import has_receipt, receipt_write
from db.write_batch import Write, commit_writes


class SentOnce:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], name: str) -> None:
        self._sessionmaker = sessionmaker
        self._engine = engine_of(sessionmaker)
        self.name = name

    async def done(self, event_id: str) -> bool:
        async with self._sessionmaker() as session:
            return await has_receipt(session, self.name, event_id)

    async def record(self, event_id: str) -> None:
        # One write, committed in one trip (db.write_batch): at a peak an ORM transaction
        # holds SQLite's writers' turn for a trip to the busy loop per statement.
        async def writes(dialect: str) -> list[Write]:
            return [receipt_write(dialect, self.name, event_id)]

        await commit_writes(self._engine, writes)
