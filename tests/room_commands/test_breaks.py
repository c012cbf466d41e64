"""Scheduled breaks: typed as ``!breaks 5m every 2h30``, checked against the room's time limit,
announced from the race's actual start on the injected clock, each announcement once (across a
restart), a missed one skipped once the next is due."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import ManualClock
from core.errors import UserFacingError
from core.room_commands.breaks import BreakPlan, Breaks, parse_plan

T0 = datetime(2031, 3, 30, 0, 45, tzinfo=UTC)
STARTED = T0 + timedelta(minutes=2)
ROOM = "alttpr/lucky-link-0001"


class Room:
    """What the announcer reads of the race, and what it posted (text, guid)."""

    def __init__(self) -> None:
        self.status = "open"
        self.started_at: datetime | None = None
        self.limit = timedelta(hours=24)
        self.posted: list[tuple[str, str]] = []

    async def send(self, room: str, text: str, guid: str) -> None:
        assert room == ROOM
        if guid not in {g for _, g in self.posted}:  # racetime drops a repeated guid
            self.posted.append((text, guid))

    async def race_of(self, room: str) -> tuple[str | None, datetime | None, timedelta | None]:
        return self.status, self.started_at, self.limit


def breaks(db: async_sessionmaker[AsyncSession], clock: ManualClock, room: Room) -> Breaks:
    return Breaks(db, clock, room.send, room.race_of)


@pytest.mark.parametrize(("typed", "plan"), [
    ("5m every 2h30", BreakPlan(timedelta(minutes=5), timedelta(hours=2, minutes=30))),
    ("10min EVERY 90m", BreakPlan(timedelta(minutes=10), timedelta(minutes=90))),
    ("1h every 3h", BreakPlan(timedelta(hours=1), timedelta(hours=3))),
    ("off", None),
])
def test_plans_are_read_as_typed(typed: str, plan: BreakPlan | None) -> None:
    assert parse_plan(typed.split(), None) == plan


@pytest.mark.parametrize(("typed", "says"), [
    ("5m", "Write `!breaks 5m every 2h30`"),
    ("5x every 2h", "“5x” is not a duration"),
    ("0m every 2h", "A break lasts from 1 minute to 1 hour"),
    ("2h every 5h", "A break lasts from 1 minute to 1 hour"),
    ("5m every 12m", "Breaks must be further apart"),
    ("5m every 24h", "No break would come before the race's time limit (24h)"),
])
def test_bad_plans_say_what_to_write(typed: str, says: str) -> None:
    with pytest.raises(UserFacingError) as refused:
        parse_plan(typed.split(), None)
    assert says in refused.value.message


def test_the_room_s_own_time_limit_counts() -> None:
    with pytest.raises(UserFacingError, match=r"time limit \(2h\)"):
        parse_plan(["5m", "every", "2h"], timedelta(hours=2))
    assert parse_plan(["5m", "every", "1h"], timedelta(hours=2)) is not None


async def test_announcements_follow_the_race_s_start_once_each(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock, room = ManualClock(T0), Room()
    announcer = breaks(db_sessionmaker, clock, room)
    room.limit = timedelta(hours=1, minutes=10)
    plan = parse_plan(["5m", "every", "30m"], room.limit)
    assert await announcer.set_plan("alttpr", "lucky-link-0001", plan, actor_discord_id=1)

    assert await announcer.announce_due() == 60  # not started: look again within a minute
    room.status, room.started_at = "in_progress", STARTED
    for minutes, said in [
        (25, "Break 1 in 5 minutes: 5m at 30m of race time."),
        (30, "Break 1 starts now: 5m. The race clock keeps running."),
        (35, "Break 1 is over. Race on!"),
        (55, "Break 2 in 5 minutes: 5m at 1h of race time."),
    ]:
        due = STARTED + timedelta(minutes=minutes)
        await clock.advance((due - clock.now()).total_seconds() - 1)
        await announcer.announce_due()
        assert said not in [text for text, _ in room.posted]  # not a second early
        await clock.advance(1)
        await announcer.announce_due()
        assert room.posted[-1][0] == said
    # A restart goes on from the next announcement, and nothing is posted twice.
    again = breaks(db_sessionmaker, clock, room)
    await again.announce_due()
    assert len(room.posted) == 4
    await clock.advance(5 * 60)
    await again.announce_due()
    assert room.posted[-1][0] == "Break 2 starts now: 5m. The race clock keeps running."
    # The race's time limit (1h10) leaves no third break; once over, the plan is done.
    await clock.advance(5 * 60)
    assert await again.announce_due() == 60
    assert room.posted[-1][0] == "Break 2 is over. Race on!"
    assert len(room.posted) == 6 and len({guid for _, guid in room.posted}) == 6
    assert await again.plan_of("alttpr", "lucky-link-0001") is None


async def test_announcements_missed_while_away_are_skipped_for_the_current_one(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock, room = ManualClock(T0), Room()
    announcer = breaks(db_sessionmaker, clock, room)
    await announcer.set_plan("alttpr", "lucky-link-0001",
                             parse_plan(["5m", "every", "30m"], None), actor_discord_id=1)
    room.status, room.started_at = "in_progress", STARTED
    await clock.advance((STARTED + timedelta(minutes=32) - clock.now()).total_seconds())
    nap = await announcer.announce_due()
    assert [text for text, _ in room.posted] == [
        "Break 1 starts now: 5m. The race clock keeps running."
    ]
    assert nap == 60  # "break over" is 3 minutes away; it looks again within a minute


async def test_a_finished_race_ends_its_plan_and_off_turns_it_off(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock, room = ManualClock(T0), Room()
    announcer = breaks(db_sessionmaker, clock, room)
    plan = parse_plan(["5m", "every", "30m"], None)
    await announcer.set_plan("alttpr", "lucky-link-0001", plan, actor_discord_id=1)
    room.status = "finished"
    await announcer.announce_due()
    assert await announcer.plan_of("alttpr", "lucky-link-0001") is None
    assert room.posted == []
    await announcer.set_plan("alttpr", "lucky-link-0001", plan, actor_discord_id=1)
    assert await announcer.set_plan("alttpr", "lucky-link-0001", None, actor_discord_id=1)
    assert not await announcer.set_plan("alttpr", "lucky-link-0001", None, actor_discord_id=1)


async def test_the_announcer_wakes_for_a_new_plan(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock, room = ManualClock(T0), Room()
    room.status, room.started_at = "in_progress", T0 - timedelta(minutes=25, seconds=30)
    announcer = breaks(db_sessionmaker, clock, room)
    await announcer.start()
    try:
        await announcer.set_plan("alttpr", "lucky-link-0001",
                                 parse_plan(["5m", "every", "30m"], None), actor_discord_id=1)
        async with asyncio.timeout(5):
            while not room.posted:  # noqa: ASYNC110 - posted by the announcer's task
                await asyncio.sleep(0.01)
        assert room.posted[0][0] == "Break 1 in 5 minutes: 5m at 30m of race time."
    finally:
        await announcer.stop()
