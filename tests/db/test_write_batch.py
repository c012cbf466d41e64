"""db.write_batch: a write-only transaction of Core statements; on SQLite, one trip to the
connection's thread, with what the ordinary way would have stored and raised."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import EncodedJSON, create_engine, engine_of
from db.models import EventLogEntry, RaceRoom
from db.queries import events as event_queries
from db.queries import rooms as room_queries
from db.queries._tables import table_of
from db.sqlite_driver import OneTripConnection
from db.write_batch import BuildWrites, Committer, Write, _as_json_array, commit_writes
from tests.plugins.faults import DatabaseFaults

AT = datetime(2026, 5, 1, 18, 30, 15, 123456, tzinfo=UTC)


def event_row(event_id: str, room: str = "alttpr/a") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "kind": "racetime.race_status_changed",
        "partition_key": f"room:{room}",
        "payload": {"room": room, "ids": [1, 2], "note": "é ✓"},
        "occurred_at": AT,
    }


def room_state(slug: str, **fields: Any) -> dict[str, Any]:
    return {"category": "alttpr", "slug": slug, **fields}


async def test_rows_are_stored_as_the_ordinary_way_stores_them(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """One room and one event by commit_writes, their twins by SQLAlchemy's own execution:
    read back through the ORM, every column is the same (datetimes, JSON, booleans)."""
    dialect = db_sessionmaker.kw["bind"].dialect.name
    snapshot = {"status": {"value": "open"}, "entrants": [{"name": "Ä"}], "version": 3}
    batched_room = room_state(
        "batched", last_status="open", last_version=3, last_race_data=snapshot,
        is_active=False, last_chat_message_id="m1",
    )
    ordinary_room = {**batched_room, "slug": "ordinary"}
    returned = await commit_writes(
        engine_of(db_sessionmaker),
        lambda d: _as_async(
            [
                *room_queries.room_state_writes(d, [batched_room]),
                event_queries.append_write(d, [event_row("batched")]),
            ]
        ),
    )
    async with db_sessionmaker.begin() as session:
        connection = await session.connection()
        for write in room_queries.room_state_writes(dialect, [ordinary_room]):
            await connection.execute(write.statement, list(write.rows))
        await event_queries.append_events(session, [event_row("ordinary")])

    assert list(event_queries.inserted_seqs(returned[0])) == ["batched"]
    async with db_sessionmaker() as session:
        rooms = {r.slug: r for r in (await session.execute(select(RaceRoom))).scalars()}
        events = {e.event_id: e for e in (await session.execute(select(EventLogEntry))).scalars()}
    assert _columns(rooms["batched"], skip={"id", "slug", "created_at", "updated_at"}) == (
        _columns(rooms["ordinary"], skip={"id", "slug", "created_at", "updated_at"})
    )
    assert rooms["batched"].last_race_data == snapshot
    assert rooms["batched"].is_active is False
    assert rooms["batched"].updated_at.tzinfo is not None
    skip = {"seq", "event_id", "created_at"}
    assert _columns(events["batched"], skip=skip) == _columns(events["ordinary"], skip=skip)
    assert events["batched"].occurred_at == AT


async def test_many_rows_are_stored_as_one_row_at_a_time_stores_them(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Many rows in one write (on SQLite, one statement over a JSON array of them) store
    exactly what the same rows one write each store: JSON, booleans, None, datetimes,
    non-ASCII text, large integers; snapshots updated in place; events in order."""
    engine = engine_of(db_sessionmaker)
    snapshot = {"status": {"value": "open"}, "entrants": [{"name": "Ä ✓ \"q\""}], "version": 3}
    def rooms(prefix: str) -> list[dict[str, Any]]:
        return [
            room_state(f"{prefix}{n}", last_status="open", last_version=2**62 + n,
                       last_race_data=None if n == 1 else {**snapshot, "n": n},
                       is_active=n % 2 == 0)
            for n in range(3)
        ]
    def events(prefix: str) -> list[dict[str, Any]]:
        return [{**event_row(f"{prefix}{n}"), "payload": {"n": n, "x": 0.1 * n}} for n in range(3)]

    together = await commit_writes(engine, lambda d: _as_async([
        *room_queries.room_state_writes(d, rooms("many")),
        event_queries.append_write(d, events("many")),
    ]))
    for room, row in zip(rooms("one"), events("one"), strict=True):
        await commit_writes(engine, lambda d, room=room, row=row: _as_async([
            *room_queries.room_state_writes(d, [room]), event_queries.append_write(d, [row]),
        ]))
    # A second batch updates the rooms stored by the first.
    await commit_writes(engine, lambda d: _as_async(room_queries.room_state_writes(
        d, [room_state(f"many{n}", last_status="finished") for n in range(3)]
    )))
    await commit_writes(engine, lambda d: _as_async(room_queries.room_state_writes(
        d, [room_state(f"one{n}", last_status="finished") for n in range(3)]
    )))

    seqs = event_queries.inserted_seqs(together[0])
    assert list(seqs) == ["many0", "many1", "many2"]
    assert seqs["many0"] < seqs["many1"] < seqs["many2"]
    async with db_sessionmaker() as session:
        stored = {r.slug: r for r in (await session.execute(select(RaceRoom))).scalars()}
        logged = {e.event_id: e for e in (await session.execute(select(EventLogEntry))).scalars()}
    skip = {"id", "slug", "created_at", "updated_at"}
    for n in range(3):
        assert _columns(stored[f"many{n}"], skip=skip) == _columns(stored[f"one{n}"], skip=skip)
        skip_event = {"seq", "event_id", "created_at"}
        assert _columns(logged[f"many{n}"], skip=skip_event) == (
            _columns(logged[f"one{n}"], skip=skip_event)
        )
    assert stored["many0"].last_status == "finished"
    assert stored["many1"].last_version == 2**62 + 1
    assert stored["many1"].last_race_data is None
    assert stored["many2"].last_race_data == {**snapshot, "n": 2}
    assert [stored[f"many{n}"].is_active for n in range(3)] == [True, False, True]


@pytest.mark.parametrize(
    "value", [b"raw", float("nan"), float("inf"), Decimal("1.5"), "lone \ud800 surrogate"]
)
def test_rows_with_a_value_json_cannot_hold_exactly_are_not_sent_as_json(value: Any) -> None:
    """Such rows go one execution each (as SQLAlchemy would bind them), never as a JSON text
    that would store something else (base64, null, a string) or fail to encode."""
    assert _as_json_array([(1, "a"), (2, value)]) is None


def test_rows_sent_as_json_read_back_as_the_same_values() -> None:
    """Plain values and their subclasses: a race snapshot encoded once (``EncodedJSON``, a
    ``str``) and enums, the hottest rows there are, are sent as JSON like any string."""
    rows = [
        (1, "é ✓ \"q\" \u2028", None, True, 0.1, 2**62, EncodedJSON('{"v": 1}'), Kind.A),
        (-5, "", 1.5e-7, False, -0.0, 0, EncodedJSON("[]"), Level.TWO),
    ]
    as_json = _as_json_array(rows)
    assert as_json is not None
    assert [tuple(row) for row in json.loads(as_json)] == [
        (1, "é ✓ \"q\" \u2028", None, True, 0.1, 2**62, '{"v": 1}', "a"),
        (-5, "", 1.5e-7, False, -0.0, 0, "[]", 2),
    ]


class Kind(StrEnum):
    A = "a"


class Level(IntEnum):
    TWO = 2


async def test_acknowledging_many_events_marks_exactly_those(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    engine = engine_of(db_sessionmaker)
    returned = await commit_writes(engine, appending(*(f"e{n}" for n in range(5))))
    seqs = event_queries.inserted_seqs(returned[0])
    acked = [seqs["e1"], seqs["e3"], seqs["e4"]]
    await commit_writes(
        engine, lambda d: _as_async(event_queries.mark_delivered_writes(d, acked, AT))
    )
    async with db_sessionmaker() as session:
        logged = {e.event_id: e for e in (await session.execute(select(EventLogEntry))).scalars()}
    assert {event_id for event_id, e in logged.items() if e.delivered_at == AT} == {
        "e1", "e3", "e4"
    }
    assert logged["e0"].delivered_at is None and logged["e2"].delivered_at is None


async def _as_async(writes: list[Write]) -> list[Write]:
    return writes


def appending(*event_ids: str) -> BuildWrites:
    """The writes that append these events."""
    rows = [event_row(event_id) for event_id in event_ids]
    return lambda dialect: _as_async([event_queries.append_write(dialect, rows)])


def _columns(row: Any, *, skip: set[str]) -> dict[str, Any]:
    return {k: v for k, v in row.model_dump().items() if k not in skip}


async def test_returning_rows_come_back_in_order_and_a_repeat_returns_nothing(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    first = await commit_writes(
        engine_of(db_sessionmaker),
        lambda d: _as_async([event_queries.append_write(d, [event_row("a"), event_row("b")])]),
    )
    again = await commit_writes(
        engine_of(db_sessionmaker),
        lambda d: _as_async([event_queries.append_write(d, [event_row("b"), event_row("c")])]),
    )
    seqs = event_queries.inserted_seqs(first[0])
    assert list(seqs) == ["a", "b"] and seqs["a"] < seqs["b"]
    assert list(event_queries.inserted_seqs(again[0])) == ["c"]


async def test_on_sqlite_the_whole_transaction_is_one_trip(db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the one trip is SQLite's")
    engine = create_engine(db_url, pool_size=1)  # pooled: one connection, connected once
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert isinstance(driver, OneTripConnection)
    trips = driver._calls_sent  # every call sent to the connection's thread
    await commit_writes(
        engine,
        lambda d: _as_async(
            [
                *room_queries.room_state_writes(d, [room_state("a", last_version=1)]),
                event_queries.append_write(d, [event_row("a"), event_row("b")]),
                *event_queries.mark_delivered_writes(d, [1, 2], AT),
            ]
        ),
    )
    trips_taken = driver._calls_sent - trips
    await engine.dispose()
    assert trips_taken == 1  # the ordinary way: three statements and the commit, four trips


async def test_a_failing_statement_rolls_back_the_whole_transaction(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    engine = engine_of(db_sessionmaker)
    await commit_writes(
        engine, lambda d: _as_async([event_queries.append_write(d, [event_row("x")])])
    )
    # A plain INSERT (no ON CONFLICT): the event id is taken.
    duplicate = Write(insert(table_of(EventLogEntry)), [{**event_row("x"), "created_at": AT}])
    with pytest.raises(IntegrityError):
        await commit_writes(
            engine_of(db_sessionmaker),
            lambda d: _as_async(
                [*room_queries.room_state_writes(d, [room_state("kept-out")]), duplicate]
            ),
        )
    async with db_sessionmaker() as session:
        assert (await session.execute(select(RaceRoom))).first() is None
    # The writers' turn was passed on: the next transaction commits.
    await asyncio.wait_for(
        commit_writes(
            engine_of(db_sessionmaker),
            lambda d: _as_async(room_queries.room_state_writes(d, [room_state("next")])),
        ),
        timeout=2,
    )


async def test_a_value_no_column_takes_is_a_statement_error(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(StatementError):
        await commit_writes(
            engine_of(db_sessionmaker),
            lambda d: _as_async(
                [event_queries.append_write(d, [{**event_row("bad"), "payload": object()}])]
            ),
        )


async def test_the_engines_statement_hooks_see_every_statement(
    db_sessionmaker: async_sessionmaker[AsyncSession], db_faults: DatabaseFaults
) -> None:
    fault = db_faults.fail(r"INSERT INTO event_log")
    with pytest.raises(Exception, match="injected"):
        await commit_writes(
            engine_of(db_sessionmaker),
            lambda d: _as_async(
                [
                    *room_queries.room_state_writes(d, [room_state("hooked")]),
                    event_queries.append_write(d, [event_row("hooked")]),
                ]
            ),
        )
    assert fault.raised == 1
    async with db_sessionmaker() as session:
        assert (await session.execute(select(RaceRoom))).first() is None


async def test_a_committer_keeps_its_connection_and_replaces_one_that_failed(
    db_sessionmaker: async_sessionmaker[AsyncSession], db_faults: DatabaseFaults
) -> None:
    engine = engine_of(db_sessionmaker)
    checkouts = []
    event.listen(engine.sync_engine, "checkout", lambda *args: checkouts.append(args))
    committer = Committer(engine)
    try:
        for n in range(3):
            await committer.commit(appending(f"k{n}"))
        assert len(checkouts) == 1, "one connection for every commit"

        db_faults.fail(r"INSERT INTO event_log")
        with pytest.raises(Exception, match="injected"):
            await committer.commit(appending("lost"))
        returned = await committer.commit(appending("after"))
    finally:
        await committer.close()
    assert len(checkouts) == 2, "the failed connection was replaced"
    assert list(event_queries.inserted_seqs(returned[0])) == ["after"]
