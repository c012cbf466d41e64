"""Fencing by epoch (issue 27) where effects are claimed: a process that lost the lead, or
was paused past its lease, claims no room and posts no ``startrace``, takes no outbox row
and sends no DM (not even one that waited in discord.py's rate limiter), and records no
result; the leader under the newest epoch does each once. A claim an older epoch left behind
is finished by the new leader at once. On PostgreSQL (the lease needs it)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cogs._shared.fenced_http import fenced_http_trace
from cogs._shared.notifications.sender import DiscordNotificationSender
from core.access import AccessPolicy
from core.audit import AuditService
from core.clock import ManualClock, SystemClock
from core.event_store.exactly_once import exactly_once
from core.events import RacetimeRaceStatusChangedEvent
from core.leadership import Fence, FencedError, Leadership
from core.live_races.rooms import LiveRaceRooms
from core.notifications.delivery import (
    DeliveryTimings,
    NotificationDelivery,
    NotificationSender,
)
from core.notifications.kinds import NotificationType
from core.notifications.service import NotificationContent, NotificationService
from core.racetime_bots.status import BotStatusRepository
from core.rooms.launch import RoomLauncher
from core.rooms.match_rooms import OpeningStatus
from core.tournaments.match_results import MatchResults
from db.models import (
    AsyncLiveRace,
    BotStatus,
    ClaimState,
    ListenerReceipt,
    MatchRoomClaim,
    NotificationLog,
    NotificationStatus,
    RacetimeBot,
    User,
)
from racetime.client import RaceSettings
from racetime.manager import RacetimeManager
from rehearsal.fake_discord_api import FakeDiscordApi
from tests.core.leadership_helpers import JumpingClock, leader, old_and_new_leader, until
from tests.core.match_room_helpers import NO_WAIT, add_match, room_service
from tests.core.sample_events import status
from tests.core.test_live_race_rooms import NOW, add_race
from tests.core.test_notification_service import FAST, RecordingSender
from tests.plugins.fake_discord import DiscordClients
from tests.plugins.racetime_engine import EngineEnv
from tests.racetime.engine_helpers import CATEGORY, add_alttpr_bot, started

pytestmark = pytest.mark.postgres

STARTRACE = "/o/alttpr/startrace"
MESSAGE_POST = "POST /channels/{channel_id}/messages"
WHEN = datetime(2026, 11, 26, 18, 30, tzinfo=UTC)
INFO = "Spring Cup - RacerOne vs RacerTwo - Scheduled: 2026-11-26 18:30 UTC"
GUILD = 111_111_111_111_111_111


async def count(sessions: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


# -- room claims -----------------------------------------------------------------------------


async def test_an_old_leader_claims_no_room_and_the_new_one_opens_it_once(
    engine_env: EngineEnv, db_url: str
) -> None:
    env = engine_env
    await add_alttpr_bot(env)
    manager = await started(env)
    setup = await add_match(env, scheduled_at=WHEN)
    async with old_and_new_leader(db_url) as (old, new):
        stale = room_service(env, manager, fence=old.fence, subscribe=False)
        current = room_service(env, manager, fence=new.fence)

        with pytest.raises(FencedError, match=f"epoch {new.epoch} leads now"):
            await stale.create_race_room_for_match(
                setup.match_id, actor_user_id=None, reason="scheduled"
            )
        assert env.fake.request_count(STARTRACE) == 0
        assert await count(env.sessionmaker, MatchRoomClaim) == 0
        assert old.lost.is_set()  # the refusal told the old leader it lost the lead

        opening = await current.create_race_room_for_match(
            setup.match_id, actor_user_id=None, reason="scheduled"
        )
        assert opening.status == OpeningStatus.OPENED
        assert env.fake.request_count(STARTRACE) == 1


async def test_a_claim_left_opening_by_an_older_epoch_is_taken_over_at_once(
    engine_env: EngineEnv, db_url: str
) -> None:
    """The old leader claimed the room and stopped before startrace: the new leader, at its
    start, finishes the opening without waiting for the claim's own lease (minutes), while a
    fresh claim of its own epoch is left to whoever holds it."""
    env = engine_env
    await add_alttpr_bot(env)
    manager = await started(env)
    setup = await add_match(env, scheduled_at=WHEN)
    other = await add_match(env, scheduled_at=WHEN, title="Three vs Four",
                            tournament_name="Autumn Cup", linked=("RacerThree",), unlinked=0)
    async with old_and_new_leader(db_url) as (old, new):
        assert old.epoch is not None and new.epoch is not None
        async with env.sessionmaker.begin() as session:
            session.add(MatchRoomClaim(match_id=setup.match_id, category=CATEGORY, info=INFO,
                                       reason="scheduled", leader_epoch=old.epoch))
            session.add(MatchRoomClaim(match_id=other.match_id, category=CATEGORY,
                                       info="Autumn Cup - Three vs Four", reason="scheduled",
                                       leader_epoch=new.epoch))
        service = room_service(env, manager, fence=new.fence)

        (outcome,) = await service.reconcile_unfinished()

        assert (outcome.match_id, outcome.status) == (setup.match_id, OpeningStatus.OPENED)
        assert env.fake.request_count(STARTRACE) == 1
        async with env.sessionmaker() as session:
            claims = {c.match_id: c for c in (await session.execute(
                select(MatchRoomClaim))).scalars()}
        assert claims[setup.match_id].leader_epoch == new.epoch
        assert claims[other.match_id].state == "opening"  # under way elsewhere: left alone


def live_race_rooms(env: EngineEnv, manager: RacetimeManager, fence: Fence) -> LiveRaceRooms:
    return LiveRaceRooms(
        sessionmaker=env.sessionmaker, event_log=env.event_log, racetime=manager,
        client=env.client, store=env.store, clock=ManualClock(NOW), retry=NO_WAIT,
        connect_timeout=5.0, fence=fence,
    )


async def test_live_race_rooms_are_claimed_by_the_leader_only_and_taken_over_at_once(
    engine_env: EngineEnv, db_url: str
) -> None:
    env = engine_env
    await add_alttpr_bot(env)
    manager = await started(env)
    refused_race = await add_race(env, NOW + timedelta(minutes=10))
    left_race = await add_race(env, NOW + timedelta(minutes=10), name="Second Async Cup")
    async with old_and_new_leader(db_url) as (old, new):
        with pytest.raises(FencedError):
            await live_race_rooms(env, manager, old.fence).open_room(
                refused_race, actor_user_id=None, reason="scheduled"
            )
        assert (await live_race(env, refused_race)).room_state is None
        assert env.fake.request_count(STARTRACE) == 0
        # What the old leader left: a fresh claim, under its epoch, and no room yet.
        async with env.sessionmaker.begin() as session:
            race = await session.get(AsyncLiveRace, left_race)
            assert race is not None
            race.room_state, race.room_claimed_at = ClaimState.OPENING.value, NOW
            race.room_claim_epoch = old.epoch

        (outcome,) = await live_race_rooms(env, manager, new.fence).reconcile_unfinished()

        assert (outcome.match_id, outcome.status) == (left_race, OpeningStatus.OPENED)
        assert env.fake.request_count(STARTRACE) == 1
        assert (await live_race(env, left_race)).room_claim_epoch == new.epoch


async def live_race(env: EngineEnv, race_id: int) -> AsyncLiveRace:
    async with env.sessionmaker() as session:
        race = await session.get(AsyncLiveRace, race_id)
        assert race is not None
        return race


@dataclass
class PausedBeforeStartrace:
    """A room to open whose settings are asked for just before ``startrace``: the moment
    the process is paused for a minute here (longer than any lease)."""

    clock: JumpingClock
    category: str = CATEGORY
    label: str = "A room opened by a paused leader"
    renewals: list[str] = field(default_factory=list)

    def settings(self, category_goals: list[str]) -> RaceSettings:
        self.clock.jump(60.0)
        return RaceSettings(goal=category_goals[0], info_bot="paused")

    async def is_ours(self, info: str | None, race_name: str) -> bool:
        return False

    async def renew(self) -> None:
        self.renewals.append("renewed")

    async def note_attempt(self, error: str) -> None:
        raise AssertionError(f"a fenced opening is no attempt: {error}")


async def test_a_leader_paused_between_its_claim_and_startrace_posts_nothing(
    engine_env: EngineEnv, db_url: str
) -> None:
    env = engine_env
    await add_alttpr_bot(env)
    manager = await started(env)
    clock = JumpingClock()
    async with leader(db_url, clock) as paused:
        launcher = RoomLauncher(manager, env.client, clock, fence=paused.fence)
        target = PausedBeforeStartrace(clock)

        with pytest.raises(FencedError, match="ran out unrenewed"):
            await launcher.launch(target)
        assert env.fake.request_count(STARTRACE) == 0
        assert paused.lost.is_set()


# -- the notification outbox -----------------------------------------------------------------


async def queue_dm(
    sessions: async_sessionmaker[AsyncSession], notifications: NotificationService,
    event_id: str, *discord_ids: int,
) -> None:
    async with sessions.begin() as session:
        users = [User(discord_id=discord_id) for discord_id in discord_ids]
        session.add_all(users)
        await session.flush()
        await notifications.queue_notification(
            session, kind=NotificationType.MATCH_SCHEDULED, guild_id=GUILD,
            user_ids=[user.id for user in users if user.id is not None], event_id=event_id,
            content=NotificationContent(tournament="Winter Cup", subject="Final",
                                        scheduled_at=WHEN),
        )


def outbox(
    sessions: async_sessionmaker[AsyncSession], leadership: Leadership,
    sender: NotificationSender, timings: DeliveryTimings = FAST,
) -> tuple[NotificationService, NotificationDelivery]:
    audit = AuditService(sessions)
    notifications = NotificationService(sessions, audit, access=AccessPolicy(sessions, audit))
    delivery = NotificationDelivery(
        sessions, notifications, sender, timings=timings, fence=leadership.fence
    )
    return notifications, delivery


async def statuses(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        rows = await session.execute(select(NotificationLog.status).order_by(NotificationLog.id))
        return [str(value) for value in rows.scalars()]


async def test_an_old_leader_takes_no_outbox_row_and_the_new_one_sends_each_once(
    db_sessionmaker: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    old_sender, new_sender = RecordingSender(), RecordingSender()
    async with old_and_new_leader(db_url) as (old, new):
        notifications, stale = outbox(db_sessionmaker, old, old_sender)
        _, current = outbox(db_sessionmaker, new, new_sender)
        await queue_dm(db_sessionmaker, notifications, "match-1-scheduled", 501, 502)

        with pytest.raises(FencedError):
            await stale.deliver_due()
        assert old_sender.dms == []
        assert await statuses(db_sessionmaker) == [NotificationStatus.PENDING.value] * 2

        assert await current.deliver_due() == 2
        assert sorted(dm[0] for dm in new_sender.dms) == [501, 502]
        assert await statuses(db_sessionmaker) == [NotificationStatus.SENT.value] * 2


@dataclass
class SenderThatPauses(RecordingSender):
    """Its first DM takes a minute (the process is paused in the middle of it)."""

    clock: JumpingClock = field(default_factory=JumpingClock)

    async def send_dm(self, discord_user_id: int, *args: object, **kwargs: object) -> int:
        sent = await super().send_dm(discord_user_id, *args, **kwargs)  # type: ignore[arg-type]
        self.clock.jump(60.0)
        return sent


async def test_rows_taken_before_a_pause_are_not_sent_after_it(
    db_sessionmaker: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    sender = SenderThatPauses()
    one_at_a_time = DeliveryTimings(retry=FAST.retry, sweep_seconds=0.2, concurrency=1)
    async with leader(db_url, sender.clock) as paused:
        notifications, delivery = outbox(db_sessionmaker, paused, sender, one_at_a_time)
        await queue_dm(db_sessionmaker, notifications, "match-2-scheduled", 601, 602)

        assert await delivery.deliver_due() == 2  # both taken under the lease
    # The first went out before the pause; the second was left for the leader to send.
    assert [dm[0] for dm in sender.dms] == [601]
    assert await statuses(db_sessionmaker) == [
        NotificationStatus.SENT.value, NotificationStatus.SENDING.value,
    ]
    assert paused.lost.is_set()


async def test_a_dm_waiting_in_discord_py_s_rate_limiter_is_not_sent_after_a_pause(
    db_sessionmaker: async_sessionmaker[AsyncSession], db_url: str,
    fake_discord: FakeDiscordApi, discord_clients: DiscordClients,
) -> None:
    """The real sender and discord.py's client over the fake Discord REST API: the DM was
    handed over under the lease, and Discord made it wait (a 429); the process is paused for
    a minute meanwhile. discord.py's retry meets the lease's last check and never leaves."""
    clock = JumpingClock()
    player = fake_discord.add_user()
    fake_discord.rate_limit_next(1, retry_after=1.5, is_global=False, path="/channels/")
    async with leader(db_url, clock) as paused:
        client = await discord_clients.login(http_trace=fenced_http_trace(paused.fence))
        notifications, delivery = outbox(
            db_sessionmaker, paused, DiscordNotificationSender(client)
        )
        await queue_dm(db_sessionmaker, notifications, "match-3-scheduled", player)
        sending = asyncio.create_task(delivery.deliver_due())
        await until(lambda: fake_discord.count(MESSAGE_POST, status=429) == 1)
        clock.jump(60.0)  # paused while discord.py sleeps out the 429's retry_after

        assert await sending == 1
        assert paused.lost.is_set()
    assert fake_discord.count(MESSAGE_POST) == 1 and fake_discord.messages == []
    assert await statuses(db_sessionmaker) == [NotificationStatus.SENDING.value]


# -- racetime bot statuses --------------------------------------------------------------------


async def test_an_old_leader_records_no_bot_status(engine_env: EngineEnv, db_url: str) -> None:
    env = engine_env
    bot = await add_alttpr_bot(env)
    assert bot.id is not None
    async with old_and_new_leader(db_url) as (old, new):
        stale = BotStatusRepository(env.sessionmaker, env.event_log, SystemClock(),
                                    fence=old.fence)
        with pytest.raises(FencedError):
            await stale.update_bot_status(bot.id, BotStatus.AUTH_FAILED, "refused")
        current = BotStatusRepository(env.sessionmaker, env.event_log, SystemClock(),
                                      fence=new.fence)
        assert await current.update_bot_status(bot.id, BotStatus.CONNECTED)
    async with env.sessionmaker() as session:
        row = await session.get(RacetimeBot, bot.id)
        assert row is not None and row.status == BotStatus.CONNECTED


# -- results ---------------------------------------------------------------------------------


async def test_an_exactly_once_record_under_an_old_epoch_is_refused_without_a_receipt(
    db_sessionmaker: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    recorded: list[str] = []

    async def record(session: AsyncSession, event: RacetimeRaceStatusChangedEvent) -> None:
        recorded.append(event.event_id)

    event = status("clever-link-1234", "finished")
    async with old_and_new_leader(db_url) as (old, new):
        with pytest.raises(FencedError):
            await exactly_once(db_sessionmaker, "results", record, fence=old.fence)(event)
        assert recorded == [] and await count(db_sessionmaker, ListenerReceipt) == 0

        listener = exactly_once(db_sessionmaker, "results", record, fence=new.fence)
        await listener(event)
        await listener(event)  # delivered again: once
        assert recorded == [event.event_id]


class Subscriptions:
    """Where a listener subscribes, so a test can call it as the dispatcher would."""

    def __init__(self) -> None:
        self.listeners: list[object] = []

    def subscribe(self, event_type: type, listener: object, *args: object, **kw: object) -> None:
        self.listeners.append(listener)


async def test_match_results_are_fenced(engine_env: EngineEnv, db_url: str) -> None:
    subscriptions = Subscriptions()
    async with old_and_new_leader(db_url) as (old, _):
        results = MatchResults(engine_env.event_log, fence=old.fence)
        results.subscribe(subscriptions)  # type: ignore[arg-type]
        (listener,) = subscriptions.listeners
        with pytest.raises(FencedError):
            await listener(status("clever-link-1234", "finished"))  # type: ignore[operator]
        assert old.lost.is_set()
