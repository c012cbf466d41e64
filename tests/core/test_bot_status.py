"""Bot health: a change of status is the bot's row, a history row, an audit row and the event,
committed together or not at all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import ManualClock
from core.event_store.event_log import DatabaseEventLog
from core.events import (
    Event,
    EventDispatcher,
    RacetimeBotStatusChangedEvent,
    RetryPolicy,
    decode_event,
)
from core.identity import SYSTEM_USER_ID
from core.racetime_bots.bots import RacetimeBotService
from core.racetime_bots.status import BotStatusRepository
from db.models import AuditLog, BotStatus, EventLogEntry, RacetimeBot, RacetimeBotStatusHistory
from db.secrets import SecretBox
from tests.core.sample_events import SETTLE_SECONDS
from tests.plugins.faults import DatabaseFaults


@dataclass
class Env:
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: ManualClock
    event_log: DatabaseEventLog
    dispatcher: EventDispatcher
    repository: BotStatusRepository
    bot_id: int
    delivered: list[Event]

    async def drain(self) -> None:
        async with asyncio.timeout(SETTLE_SECONDS):
            await self.dispatcher.drain()

    async def bot(self) -> RacetimeBot:
        async with self.sessionmaker() as session:
            bot = await session.get(RacetimeBot, self.bot_id)
            assert bot is not None
            return bot

    async def rows(self, model: type) -> list:
        async with self.sessionmaker() as session:
            return list((await session.execute(select(model))).scalars())


@pytest.fixture
async def env(
    db_sessionmaker: async_sessionmaker[AsyncSession], secret_box: SecretBox
) -> AsyncIterator[Env]:
    async with db_sessionmaker.begin() as session:
        bot = await RacetimeBotService(db_sessionmaker, secret_box).add_bot(
            session,
            category="alttpr",
            client_id="client",
            client_secret="secret",
            display_name="ALttPR",
        )
    assert bot.id is not None
    clock = ManualClock()
    event_log = DatabaseEventLog(db_sessionmaker, clock=clock, ack_delay=0.01)
    dispatcher = EventDispatcher(event_log, retry=RetryPolicy(attempts=2, base=0.001))
    delivered: list[Event] = []

    async def record(event: Event) -> None:
        delivered.append(event)

    dispatcher.subscribe(Event, record)
    await event_log.start()
    await dispatcher.start()
    try:
        yield Env(
            db_sessionmaker,
            clock,
            event_log,
            dispatcher,
            BotStatusRepository(db_sessionmaker, event_log, clock),
            bot.id,
            delivered,
        )
    finally:
        await dispatcher.close()
        await event_log.close()


async def test_a_change_writes_row_history_audit_and_event_together(env: Env) -> None:
    assert await env.repository.update_bot_status(env.bot_id, BotStatus.CONNECTED, "Connected")
    await env.drain()

    bot = await env.bot()
    assert BotStatus(bot.status) == BotStatus.CONNECTED
    assert bot.status_message == "Connected"
    assert bot.last_connected_at == bot.last_status_check_at == env.clock.now()

    (history,) = await env.rows(RacetimeBotStatusHistory)
    assert (history.bot_id, history.old_status, history.new_status) == (
        env.bot_id,
        BotStatus.UNKNOWN,
        BotStatus.CONNECTED,
    )
    assert history.changed_at == env.clock.now()

    (logged,) = await env.rows(EventLogEntry)
    assert logged.partition_key == f"bot:{env.bot_id}"
    event = decode_event(logged.kind, logged.payload)
    assert isinstance(event, RacetimeBotStatusChangedEvent)
    assert (event.bot_id, event.old_status, event.new_status) == (
        env.bot_id,
        BotStatus.UNKNOWN,
        BotStatus.CONNECTED,
    )
    assert event.user_id == SYSTEM_USER_ID
    assert event.occurred_at == env.clock.now()

    (audit,) = await env.rows(AuditLog)
    assert audit.action == "racetime_bot.status_changed"
    assert audit.actor_user_id == SYSTEM_USER_ID
    assert audit.details["event_id"] == logged.event_id
    assert (audit.details["old_status"], audit.details["new_status"]) == ("UNKNOWN", "CONNECTED")

    assert [e.event_id for e in env.delivered] == [logged.event_id]


async def test_every_change_is_its_own_history_row_and_event(env: Env) -> None:
    await env.repository.record_connection_success(env.bot_id)
    await env.clock.advance(timedelta(minutes=1).total_seconds())
    await env.repository.record_connection_failure(
        env.bot_id, BotStatus.CONNECTION_ERROR, "racetime.gg answered 502"
    )
    await env.clock.advance(timedelta(minutes=1).total_seconds())
    await env.repository.record_stopped(env.bot_id)
    await env.drain()

    history = [(h.old_status, h.new_status) for h in await env.repository.history(env.bot_id)]
    assert history == [
        (BotStatus.UNKNOWN, BotStatus.CONNECTED),
        (BotStatus.CONNECTED, BotStatus.CONNECTION_ERROR),
        (BotStatus.CONNECTION_ERROR, BotStatus.DISCONNECTED),
    ]
    changes = [
        (e.old_status, e.new_status)
        for e in env.delivered
        if isinstance(e, RacetimeBotStatusChangedEvent)
    ]
    assert changes == history, "delivered in the order they happened"
    assert len(await env.rows(AuditLog)) == 3


async def test_an_unchanged_status_writes_no_history_audit_or_event(env: Env) -> None:
    await env.repository.record_connection_success(env.bot_id)
    await env.clock.advance(60)
    assert not await env.repository.update_bot_status(
        env.bot_id, BotStatus.CONNECTED, "Still connected"
    )
    await env.drain()

    bot = await env.bot()
    assert bot.status_message == "Still connected"
    assert bot.last_status_check_at == env.clock.now(), "the check itself is recorded"
    assert len(await env.rows(RacetimeBotStatusHistory)) == 1
    assert len(await env.rows(AuditLog)) == 1
    assert len(await env.rows(EventLogEntry)) == 1
    assert len(env.delivered) == 1


async def test_a_failing_audit_insert_leaves_nothing_behind(
    env: Env, db_faults: DatabaseFaults
) -> None:
    fault = db_faults.fail(
        r"INSERT INTO audit_log",
        error=lambda: IntegrityError("(injected)", None, Exception("audit insert failed")),
    )
    with pytest.raises(IntegrityError):
        await env.repository.update_bot_status(env.bot_id, BotStatus.AUTH_FAILED, "401")
    await env.drain()

    assert fault.raised == 1
    assert BotStatus((await env.bot()).status) == BotStatus.UNKNOWN
    assert await env.rows(RacetimeBotStatusHistory) == []
    assert await env.rows(AuditLog) == []
    assert await env.rows(EventLogEntry) == []
    assert env.delivered == []


async def test_a_failing_event_insert_leaves_nothing_behind(
    env: Env, db_faults: DatabaseFaults
) -> None:
    fault = db_faults.fail(r"INSERT INTO event_log")
    with pytest.raises(Exception, match="injected"):
        await env.repository.update_bot_status(env.bot_id, BotStatus.AUTH_FAILED, "401")
    await env.drain()

    assert fault.raised == 1
    assert BotStatus((await env.bot()).status) == BotStatus.UNKNOWN
    assert await env.rows(RacetimeBotStatusHistory) == []
    assert await env.rows(AuditLog) == []
    assert env.delivered == []

    # The next report of the same status is a change again, recorded in full.
    assert await env.repository.update_bot_status(env.bot_id, BotStatus.AUTH_FAILED, "401")
    await env.drain()
    assert len(await env.rows(RacetimeBotStatusHistory)) == 1
    assert len(env.delivered) == 1


async def test_an_unknown_bot_is_ignored(env: Env) -> None:
    assert not await env.repository.update_bot_status(env.bot_id + 1, BotStatus.CONNECTED)
    await env.drain()
    assert await env.rows(RacetimeBotStatusHistory) == []
    assert await env.rows(EventLogEntry) == []


async def test_a_failure_status_must_be_a_failure(env: Env) -> None:
    with pytest.raises(ValueError, match="not a failure status"):
        await env.repository.record_connection_failure(env.bot_id, BotStatus.CONNECTED, "ok")


async def test_the_same_change_reported_at_once_is_recorded_once(env: Env) -> None:
    results = await asyncio.gather(
        *(
            env.repository.update_bot_status(env.bot_id, BotStatus.CONNECTED, "Connected")
            for _ in range(5)
        )
    )
    await env.drain()
    assert sorted(results) == [False, False, False, False, True]
    assert len(await env.rows(RacetimeBotStatusHistory)) == 1
    assert len(env.delivered) == 1


def test_the_engines_health_and_the_stored_status_are_the_same_scale() -> None:
    """Two enums by design: ``racetime/`` may not import ``db`` (nor ``db`` the engine), and
    the repository stores what the engine reports as the number it is. They must agree name
    for name and number for number, or a stored status would mean another."""
    from db.models import BotStatus
    from racetime.ports import BotHealth

    assert [(s.name, s.value) for s in BotHealth] == [(s.name, s.value) for s in BotStatus]
