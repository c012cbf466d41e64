"""core.notifications.outcomes: sends that finish together are recorded in one transaction;
one outcome the database refuses costs the others nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.events import RetryPolicy
from core.notifications.outcomes import OutcomeRecorder
from core.outage import DatabaseUnavailableError, DatabaseWatch
from db.models import NotificationLog, NotificationStatus, User
from db.queries.notifications import AttemptOutcome
from tests.plugins.faults import DatabaseFaults

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def queued_rows(
    sessionmaker: async_sessionmaker[AsyncSession], count: int, *, attempts: int = 1
) -> list[int]:
    async with sessionmaker.begin() as session:
        rows = [
            NotificationLog(
                event_type="match_room_open", event_id=f"event-{n}",
                status=NotificationStatus.SENDING.value, attempts=attempts,
            )
            for n in range(count)
        ]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows if row.id is not None]


async def stored(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[int, NotificationLog]:
    async with sessionmaker() as session:
        rows = (await session.execute(select(NotificationLog))).scalars()
        return {row.id: row for row in rows if row.id is not None}


async def test_outcomes_that_finish_together_share_one_commit(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ids = await queued_rows(db_sessionmaker, 20)
    recorder = OutcomeRecorder(db_sessionmaker)
    retry_at = AT + timedelta(minutes=5)
    outcomes = [
        AttemptOutcome(i, NotificationStatus.SENT, AT) for i in ids[:10]
    ] + [
        AttemptOutcome(i, NotificationStatus.PENDING, AT, error="429", retry_at=retry_at,
                       counted=False)
        for i in ids[10:]
    ]
    await asyncio.gather(*(recorder.record(outcome) for outcome in outcomes))

    assert recorder.commits <= 2, "the first alone, the other nineteen together"
    rows = await stored(db_sessionmaker)
    assert all(rows[i].status == "sent" and rows[i].sent_at == AT for i in ids[:10])
    assert all(rows[i].attempts == 1 for i in ids[:10])
    # Not counted: the attempt is given back (a literal of the statement: attempts - 1).
    assert all(
        (rows[i].status, rows[i].attempts, rows[i].last_error, rows[i].next_attempt_at)
        == ("pending", 0, "429", retry_at)
        for i in ids[10:]
    )


async def test_a_new_dm_channel_is_remembered_and_bumps_the_users_updated_at(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with db_sessionmaker.begin() as session:
        user = User(discord_id=4242, updated_at=AT - timedelta(days=1))
        session.add(user)
    [row_id] = await queued_rows(db_sessionmaker, 1)

    await OutcomeRecorder(db_sessionmaker).record(
        AttemptOutcome(row_id, NotificationStatus.SENT, AT, discord_id=4242, dm_channel=777)
    )

    async with db_sessionmaker() as session:
        saved = (await session.execute(select(User))).scalar_one()
    assert saved.discord_dm_channel_id == 777
    assert saved.updated_at > AT  # the column's onupdate, as an ORM update would set it


async def test_an_outcome_the_database_refuses_fails_alone(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ids = await queued_rows(db_sessionmaker, 3)
    recorder = OutcomeRecorder(db_sessionmaker)
    naive = datetime(2026, 6, 1, 12, 0)  # the value no column takes
    results = await asyncio.gather(
        recorder.record(AttemptOutcome(ids[0], NotificationStatus.SENT, AT)),
        recorder.record(AttemptOutcome(ids[1], NotificationStatus.SENT, naive)),
        recorder.record(AttemptOutcome(ids[2], NotificationStatus.FAILED, AT, error="gone")),
        return_exceptions=True,
    )

    assert results[0] is None and results[2] is None
    assert isinstance(results[1], StatementError)
    rows = await stored(db_sessionmaker)
    assert [rows[i].status for i in ids] == ["sent", "sending", "failed"]


async def test_a_cancelled_caller_s_outcome_is_recorded_all_the_same(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    [first, second] = await queued_rows(db_sessionmaker, 2)
    recorder = OutcomeRecorder(db_sessionmaker)
    running = asyncio.ensure_future(
        recorder.record(AttemptOutcome(first, NotificationStatus.SENT, AT))
    )
    waiting = asyncio.ensure_future(
        recorder.record(AttemptOutcome(second, NotificationStatus.SENT, AT))
    )
    await asyncio.sleep(0)
    waiting.cancel()
    await running
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await recorder.close()

    rows = await stored(db_sessionmaker)
    assert rows[first].status == rows[second].status == "sent"


async def test_an_outcome_the_database_fails_to_take_is_tried_again_until_it_is_kept(
    db_sessionmaker: async_sessionmaker[AsyncSession], db_faults: DatabaseFaults
) -> None:
    """The DM went out: losing its outcome would let the row's lease run out and send it
    again. A failure that is not about the outcome (a lost connection, a pool timeout) is
    tried again."""
    [row_id] = await queued_rows(db_sessionmaker, 1)
    fault = db_faults.fail(r"UPDATE notification_log", times=3)
    recorder = OutcomeRecorder(db_sessionmaker, retry=RetryPolicy(base=0.01, cap=0.01))

    await asyncio.wait_for(
        recorder.record(AttemptOutcome(row_id, NotificationStatus.SENT, AT)), timeout=5
    )

    assert fault.raised == 3
    assert (await stored(db_sessionmaker))[row_id].status == "sent"


async def test_stopping_while_the_database_is_away_gives_up_at_once(
    db_sessionmaker: async_sessionmaker[AsyncSession], db_faults: DatabaseFaults
) -> None:
    """RaceDesk stopping with the database away: the sender hears so at once (its row is due
    again at the next start), rather than the recorder trying again until it is cancelled."""
    [row_id] = await queued_rows(db_sessionmaker, 1)
    db_faults.fail(r"UPDATE notification_log", times=None)
    # A database that refuses every connection: each ping says it is away.
    watch = DatabaseWatch.for_url("postgresql+asyncpg://racedesk@127.0.0.1:1/away")
    watch.give_up()
    recorder = OutcomeRecorder(db_sessionmaker, watch, retry=RetryPolicy(base=0.01, cap=0.01))
    try:
        with pytest.raises(DatabaseUnavailableError):
            await asyncio.wait_for(
                recorder.record(AttemptOutcome(row_id, NotificationStatus.SENT, AT)), timeout=5
            )
    finally:
        await watch.stop()
    assert recorder.commits == 0
