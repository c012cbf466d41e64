"""Match reminders: the players reminded once, at the tournament's minute before the match,
through the notification outbox; correct across reschedules, cancellations, started rooms,
a changed setting and a restart.

RaceDesk as ``bot.py`` wires it (``build_services``) on the real database, without the
racetime engine (no room is opened here): the event log, event delivery and the reminder
scheduler under a lifecycle. Time is a ManualClock: the scheduler's decisions read it, so the
tests move it and sweep instead of sleeping (its APScheduler jobs run on real time, which
starts at the same instant).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot import build_services
from core.access import Actor
from core.clock import ManualClock
from core.container import Services
from core.events import MatchReminderEvent, reminder_event_id
from core.events.codec import decode_event, encode_event
from core.lifecycle import Lifecycle
from core.notifications.delivery import NotificationDelivery
from core.notifications.kinds import NotificationType
from db.models import (
    EventLogEntry,
    Match,
    NotificationLog,
    RaceRoom,
    RaceStatus,
    RacetimeBot,
    RacetimeBotGuild,
    User,
)
from db.secrets import SecretBox
from tests.core.test_notification_service import FAST, RecordingSender
from tests.plugins.racetime_engine import FAST_RETRY, eventually

GUILD = 425_000_000_000_000_001
BOSS = 425_000_000_000_000_002
ADA, BOB = 425_000_000_000_000_011, 425_000_000_000_000_012
BY_BOSS = Actor.server_admin(BOSS, GUILD)
CUP = "Winter Cup"
REMINDER = NotificationType.MATCH_REMINDER.value
# The scheduler's jobs run on real time, the decisions on the ManualClock: both start at now.
NOW = datetime.now(UTC).replace(microsecond=0)
STARTS = NOW + timedelta(hours=2)


@pytest.fixture(autouse=True)
def now_when_the_test_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """APScheduler runs jobs by the wall clock, so the tests' NOW is when each test starts, not
    when the module was imported: in a long suite that is minutes earlier, and a job planned
    "15 minutes from NOW" would already be due (it ran at once, found by a full run)."""
    now = datetime.now(UTC).replace(microsecond=0)
    monkeypatch.setattr(f"{__name__}.NOW", now)
    monkeypatch.setattr(f"{__name__}.STARTS", now + timedelta(hours=2))


async def move_to(clock: ManualClock, moment: datetime) -> None:
    await clock.advance((moment - clock.now()).total_seconds())


@dataclass
class Rig:
    """RaceDesk's services on one database, started and stopped like a process."""

    db_url: str
    secret_box: SecretBox
    clock: ManualClock
    services: Services | None = None

    @property
    def s(self) -> Services:
        assert self.services is not None, "RaceDesk is down"
        return self.services

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Services]:
        """One process: built, started (the reminders with it), stopped in reverse."""
        self.services = build_services(
            database_url=self.db_url, secret_box=self.secret_box, clock=self.clock,
            listener_retry=FAST_RETRY,
        )
        reminders = self.services.match_reminders
        try:
            async with Lifecycle() as lifecycle:
                await self.services.start(lifecycle, racetime_engine=False)
                await lifecycle.add("match reminders", reminders.start, reminders.stop)
                yield self.services
                await self.services.dispatcher.drain()
        finally:
            self.services = None

    async def settled(self) -> None:
        await self.s.dispatcher.drain()

    async def sweep(self) -> None:
        await self.s.match_reminders.sweep()
        await self.settled()

    async def schedule(self, when: datetime | None = None) -> int:
        info = await self.s.matches.schedule(GUILD, CUP, [ADA, BOB], when or STARTS, "Semi-final",
                                             actor=BY_BOSS)
        await self.settled()
        return info.id

    async def reschedule(self, match_id: int, when: datetime) -> None:
        await self.s.matches.reschedule(GUILD, match_id, when, actor=BY_BOSS)
        await self.settled()

    async def reminders(self) -> list[MatchReminderEvent]:
        """Every reminder in the event log, in order."""
        async with self.s.sessionmaker() as session:
            rows = (await session.execute(
                select(EventLogEntry).where(col(EventLogEntry.kind) == "MatchReminderEvent")
                .order_by(col(EventLogEntry.seq))
            )).scalars().all()
        events = [decode_event(row.kind, row.payload) for row in rows]
        return [event for event in events if isinstance(event, MatchReminderEvent)]

    async def reminded(self) -> Counter[tuple[str, int]]:
        """Outbox rows of reminders: (event id, player's Discord id) -> rows."""
        async with self.s.sessionmaker() as session:
            rows = (await session.execute(
                select(NotificationLog.event_id, User.discord_id)
                .join(User, col(User.id) == col(NotificationLog.user_id))
                .where(col(NotificationLog.event_type) == REMINDER)
            )).all()
        return Counter((event_id, discord_id) for event_id, discord_id in rows)


def both(match_id: int, when: datetime) -> Counter[tuple[str, int]]:
    """Each player reminded once of the match at ``when``."""
    key = reminder_event_id(match_id, when)
    return Counter({(key, ADA): 1, (key, BOB): 1})


@pytest.fixture
async def rig(db_url: str, secret_box: SecretBox) -> AsyncIterator[Rig]:
    rig = Rig(db_url, secret_box, ManualClock(NOW))
    async with rig.running() as services:
        async with services.sessionmaker.begin() as session:
            bot = RacetimeBot(category="alttpr", display_name="alttpr", client_id="id",
                              client_secret_encrypted=b"sealed")
            session.add(bot)
            await session.flush()
            assert bot.id is not None
            session.add(RacetimeBotGuild(bot_id=bot.id, guild_id=GUILD))
        await services.tournaments.create(GUILD, CUP, category="alttpr", actor=BY_BOSS)
    yield rig


async def test_the_players_are_reminded_once_at_the_tournaments_minute(rig: Rig) -> None:
    async with rig.running():
        match_id = await rig.schedule()
        # Default: 30 minutes before.
        assert rig.s.match_reminders.planned_at(match_id) == STARTS - timedelta(minutes=30)

        await move_to(rig.clock, STARTS - timedelta(minutes=31))
        await rig.sweep()
        assert not (await rig.s.match_reminders.remind(match_id))
        assert await rig.reminders() == [] and await rig.reminded() == Counter()

        await move_to(rig.clock, STARTS - timedelta(minutes=30))
        await rig.sweep()
        [reminder] = await rig.reminders()
        assert (reminder.match_id, reminder.scheduled_at, reminder.minutes) == (
            match_id, STARTS, 30)
        assert reminder.event_id == reminder_event_id(match_id, STARTS)
        assert await rig.reminded() == both(match_id, STARTS)

        # Once: neither the job, the sweep nor a later minute sends it again.
        verdict = await rig.s.match_reminders.remind(match_id)
        assert not verdict and verdict.reason == "already reminded for this time"
        await move_to(rig.clock, STARTS - timedelta(minutes=10))
        await rig.sweep()
        assert len(await rig.reminders()) == 1
        assert await rig.reminded() == both(match_id, STARTS)
        assert await rig.s.match_reminders.replan(match_id) is None


async def test_the_reminder_dm_says_which_match_and_when(rig: Rig) -> None:
    sender = RecordingSender()
    async with rig.running() as services:
        delivery = NotificationDelivery(services.sessionmaker, services.notifications, sender,
                                        clock=rig.clock, timings=FAST)
        await rig.schedule()
        await move_to(rig.clock, STARTS - timedelta(minutes=30))
        await rig.sweep()
        await delivery.deliver_due()

    reminders = [(user, message) for user, message, _ in sender.dms
                 if message.kind is NotificationType.MATCH_REMINDER]
    assert sorted(user for user, _ in reminders) == [ADA, BOB]
    message = reminders[0][1]
    assert message.kind is not None and message.kind.info.code == 421
    assert message.kind.info.label == "Match reminder"
    assert (message.content.tournament, message.content.subject) == (CUP, "Semi-final")
    assert message.content.scheduled_at == STARTS


async def test_a_match_moved_before_its_reminder_is_reminded_at_the_new_time_only(
    rig: Rig,
) -> None:
    later = STARTS + timedelta(hours=1)
    async with rig.running():
        match_id = await rig.schedule()
        await move_to(rig.clock, STARTS - timedelta(minutes=45))
        await rig.reschedule(match_id, later)
        assert rig.s.match_reminders.planned_at(match_id) == later - timedelta(minutes=30)

        # The old minute comes and goes: nothing.
        await move_to(rig.clock, STARTS - timedelta(minutes=30))
        await rig.sweep()
        assert not await rig.s.match_reminders.remind(match_id)
        assert await rig.reminders() == []

        await move_to(rig.clock, later - timedelta(minutes=30))
        await rig.sweep()
        assert [r.scheduled_at for r in await rig.reminders()] == [later]
        assert await rig.reminded() == both(match_id, later)


async def test_a_match_moved_after_its_reminder_is_reminded_again_for_the_new_time(
    rig: Rig,
) -> None:
    later = STARTS + timedelta(hours=3)
    async with rig.running():
        match_id = await rig.schedule()
        await move_to(rig.clock, STARTS - timedelta(minutes=30))
        await rig.sweep()
        assert await rig.reminded() == both(match_id, STARTS)

        await move_to(rig.clock, STARTS - timedelta(minutes=20))
        await rig.reschedule(match_id, later)
        assert rig.s.match_reminders.planned_at(match_id) == later - timedelta(minutes=30)
        await move_to(rig.clock, later - timedelta(minutes=31))
        await rig.sweep()
        assert len(await rig.reminders()) == 1

        await move_to(rig.clock, later - timedelta(minutes=30))
        await rig.sweep()
        assert [r.scheduled_at for r in await rig.reminders()] == [STARTS, later]
        assert await rig.reminded() == both(match_id, STARTS) + both(match_id, later)


async def test_a_reminder_delivered_after_its_match_moved_tells_no_one(rig: Rig) -> None:
    """The reminder was logged, then the match moved before its listeners ran (a crash, a
    slow delivery): the old time is never told."""
    async with rig.running() as services:
        match_id = await rig.schedule()
        await rig.reschedule(match_id, STARTS + timedelta(hours=1))
        stale = MatchReminderEvent(match_id=match_id, tournament_id=1, scheduled_at=STARTS,
                                   minutes=30)
        await services.dispatcher.emit(stale)
        await rig.settled()
        assert await rig.reminded() == Counter()


async def test_a_cancelled_match_is_not_reminded_of(rig: Rig) -> None:
    async with rig.running() as services:
        match_id = await rig.schedule()
        await services.matches.cancel(GUILD, match_id, "Called off.", actor=BY_BOSS)
        await rig.settled()
        assert services.match_reminders.planned_at(match_id) is None

        await move_to(rig.clock, STARTS - timedelta(minutes=30))
        await rig.sweep()
        assert not await services.match_reminders.remind(match_id)
        assert await rig.reminders() == [] and await rig.reminded() == Counter()


@pytest.mark.parametrize("started", ["room in progress", "match in progress", "room finished"])
async def test_a_match_whose_race_started_is_not_reminded_of(rig: Rig, started: str) -> None:
    async with rig.running() as services:
        match_id = await rig.schedule()
        async with services.sessionmaker.begin() as session:
            match = await session.get(Match, match_id)
            assert match is not None
            match.status = (RaceStatus.IN_PROGRESS if started == "match in progress"
                            else RaceStatus.ROOM_OPEN).value
            session.add(RaceRoom(
                category="alttpr", slug="early-bird-1234", match_id=match_id,
                last_status="finished" if started == "room finished" else "in_progress",
            ))
        assert await services.match_reminders.replan(match_id) is None

        await move_to(rig.clock, STARTS - timedelta(minutes=30))
        await rig.sweep()
        assert not await services.match_reminders.remind(match_id)
        assert await rig.reminders() == []


async def test_an_open_room_is_in_the_reminder(rig: Rig) -> None:
    async with rig.running() as services:
        match_id = await rig.schedule()
        async with services.sessionmaker.begin() as session:
            match = await session.get(Match, match_id)
            assert match is not None
            match.status = RaceStatus.ROOM_OPEN.value
            session.add(RaceRoom(category="alttpr", slug="quiet-yoshi-1681",
                                 match_id=match_id, last_status="open"))
        await move_to(rig.clock, STARTS - timedelta(minutes=30))
        await rig.sweep()
        [reminder] = await rig.reminders()
        assert reminder.room_url == "https://racetime.gg/alttpr/quiet-yoshi-1681"


async def test_a_player_who_turned_reminders_off_is_not_reminded(rig: Rig) -> None:
    async with rig.running() as services:
        await services.notifications.set_preference(
            ADA, GUILD, NotificationType.MATCH_REMINDER, False)
        match_id = await rig.schedule()
        await move_to(rig.clock, STARTS - timedelta(minutes=30))
        await rig.sweep()
        assert await rig.reminded() == Counter(
            {(reminder_event_id(match_id, STARTS), BOB): 1})


async def test_a_changed_reminder_time_replans_the_tournaments_matches(rig: Rig) -> None:
    async with rig.running() as services:
        match_id = await rig.schedule()
        await services.tournaments.update_settings(
            GUILD, CUP, actor=BY_BOSS, reminder_minutes=90)
        await eventually(lambda: services.match_reminders.planned_at(match_id)
                         == STARTS - timedelta(minutes=90))
        await move_to(rig.clock, STARTS - timedelta(minutes=90))
        await rig.sweep()
        [reminder] = await rig.reminders()
        assert reminder.minutes == 90


async def test_a_restart_neither_repeats_nor_loses_a_reminder(rig: Rig) -> None:
    async with rig.running():
        sent = await rig.schedule()
        missed = await rig.schedule(STARTS + timedelta(minutes=20))
        too_late = await rig.schedule(STARTS - timedelta(minutes=20))
        await move_to(rig.clock, STARTS - timedelta(minutes=30))
        await rig.sweep()
        # ``too_late`` was due 20 minutes ago: reminded at once.
        assert {r.match_id for r in await rig.reminders()} == {sent, too_late}

    # Down while ``missed``'s minute passes (STARTS - 10 min); up before it starts.
    await move_to(rig.clock, STARTS - timedelta(minutes=5))
    async with rig.running() as services:
        await services.match_reminders.caught_up()  # the sweep the start began
        await rig.settled()
        reminders = [r.match_id for r in await rig.reminders()]
        assert sorted(reminders[:2]) == sorted([sent, too_late]) and reminders[2] == missed
        assert await rig.reminded() == (
            both(sent, STARTS) + both(too_late, STARTS - timedelta(minutes=20))
            + both(missed, STARTS + timedelta(minutes=20))
        )
        assert services.match_reminders.planned_at(sent) is None

    async with rig.running():
        await rig.sweep()
        assert len(await rig.reminders()) == 3


async def test_a_reminder_whose_match_started_while_racedesk_was_down_is_skipped(
    rig: Rig,
) -> None:
    async with rig.running():
        match_id = await rig.schedule()
    await move_to(rig.clock, STARTS + timedelta(minutes=1))
    async with rig.running() as services:
        await rig.sweep()
        assert not await services.match_reminders.remind(match_id)
        assert await rig.reminders() == []


async def test_two_processes_reminding_at_once_remind_once(rig: Rig) -> None:
    """Two RaceDesk processes on one database (a mistake, or a handover): each asks at the
    same minute, and the reminder is one event, one DM per player."""
    async with rig.running() as services:
        match_id = await rig.schedule()
        other = build_services(database_url=rig.db_url, secret_box=rig.secret_box,
                               clock=rig.clock, listener_retry=FAST_RETRY)
        try:
            await move_to(rig.clock, STARTS - timedelta(minutes=30))
            verdicts = await asyncio.gather(
                services.match_reminders.remind(match_id),
                other.match_reminders.remind(match_id),
            )
            await rig.settled()
        finally:
            await other.racetime_client.close()
            await other.dispose_engines()
        assert len(await rig.reminders()) == 1
        assert await rig.reminded() == both(match_id, STARTS)
        assert sum(map(bool, verdicts)) >= 1


def test_a_reminder_is_one_event_per_match_and_time() -> None:
    first = MatchReminderEvent(match_id=7, tournament_id=2, scheduled_at=STARTS, minutes=30)
    again = MatchReminderEvent(match_id=7, tournament_id=2, scheduled_at=STARTS, minutes=30)
    moved = MatchReminderEvent(match_id=7, tournament_id=2, minutes=30,
                               scheduled_at=STARTS + timedelta(minutes=15))
    assert first.event_id == again.event_id == reminder_event_id(7, STARTS)
    assert moved.event_id != first.event_id
    assert decode_event(first.kind, encode_event(first)) == first
    assert first.headline().startswith("Match #7 reminder: it starts at ")
