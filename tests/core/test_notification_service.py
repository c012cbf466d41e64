"""Notifications without Discord: preferences, the outbox, listeners exactly once, and the
delivery's outcomes, with a recording sender at the outermost edge (where Discord would be)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.access import AccessPolicy, Actor
from core.audit import AuditService
from core.event_store.event_log import DatabaseEventLog
from core.events import (
    AsyncLiveRaceCreatedEvent,
    EventDispatcher,
    MatchScheduledEvent,
    RacetimeRoomOpenedEvent,
    RetryPolicy,
)
from core.notifications.delivery import (
    DeliveryTimings,
    NotificationDelivery,
    OutgoingNotification,
)
from core.notifications.kinds import NotificationType
from core.notifications.listeners import NotificationListeners
from core.notifications.service import NotificationContent, NotificationService
from core.sending import DeliveryFailed, DeliveryRefused, nonce_for
from db.models import (
    AsyncLiveRace,
    AsyncParticipant,
    AsyncTournament,
    Match,
    MatchPlayer,
    NotificationLog,
    NotificationStatus,
    Tournament,
    User,
)
from tests.plugins.racetime_engine import eventually

GUILD, OTHER_GUILD = 111_111_111_111_111_111, 222_222_222_222_222_222
WHEN = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)
FAST = DeliveryTimings(retry=RetryPolicy(attempts=3, base=0.01, cap=0.02), sweep_seconds=0.2)


@dataclass
class RecordingSender:
    """Where Discord would be: remembers what it was asked to send, fails as told."""

    dms: list[tuple[int, OutgoingNotification, str]] = field(default_factory=list)
    posts: list[tuple[int, int, OutgoingNotification]] = field(default_factory=list)
    refuse: set[int] = field(default_factory=set)
    fail_once: dict[int, DeliveryFailed] = field(default_factory=dict)

    async def send_dm(self, discord_user_id: int, message: OutgoingNotification, *,
                      nonce: str, dm_channel_id: int | None = None) -> int:
        if discord_user_id in self.fail_once:
            raise self.fail_once.pop(discord_user_id)
        if discord_user_id in self.refuse:
            raise DeliveryRefused("the player does not accept DMs from the bot (Discord 50007)")
        self.dms.append((discord_user_id, message, nonce))
        return dm_channel_id or discord_user_id + 1

    async def post_in_channel(self, channel_id: int, discord_user_id: int,
                              message: OutgoingNotification, *, nonce: str) -> str:
        self.posts.append((channel_id, discord_user_id, message))
        return "#race-control"


@dataclass
class Env:
    sessionmaker: async_sessionmaker[AsyncSession]
    notifications: NotificationService
    dispatcher: EventDispatcher
    sender: RecordingSender
    delivery: NotificationDelivery

    async def user(self, discord_id: int) -> int:
        async with self.sessionmaker.begin() as session:
            user = User(discord_id=discord_id)
            session.add(user)
            await session.flush()
            assert user.id is not None
            return user.id

    async def queue(self, kind: NotificationType, user_ids: list[int], event_id: str,
                    guild: int = GUILD) -> int:
        async with self.sessionmaker.begin() as session:
            return await self.notifications.queue_notification(
                session, kind=kind, guild_id=guild, user_ids=user_ids, event_id=event_id,
                content=NotificationContent(tournament="Winter Cup", subject="Final",
                                            scheduled_at=WHEN),
            )

    async def rows(self) -> list[NotificationLog]:
        async with self.sessionmaker() as session:
            return list((await session.execute(
                select(NotificationLog).order_by(NotificationLog.id))).scalars())


@pytest.fixture
async def env(db_sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[Env]:
    event_log = DatabaseEventLog(db_sessionmaker, ack_delay=0.01)
    dispatcher = EventDispatcher(event_log)
    audit = AuditService(db_sessionmaker)
    notifications = NotificationService(
        db_sessionmaker, audit, access=AccessPolicy(db_sessionmaker, audit)
    )
    NotificationListeners(db_sessionmaker, notifications).subscribe(dispatcher)
    sender = RecordingSender()
    delivery = NotificationDelivery(db_sessionmaker, notifications, sender, timings=FAST)
    await event_log.start()
    await dispatcher.start()
    try:
        yield Env(db_sessionmaker, notifications, dispatcher, sender, delivery)
    finally:
        await delivery.stop()
        await dispatcher.close()
        await event_log.close()


async def test_types_keep_their_codes_and_needed_ones_default_on() -> None:
    codes = {kind.value: kind.info.code for kind in NotificationType}
    assert [codes[f"LIVE_RACE_{n}"] for n in
            ("SCHEDULED", "ROOM_OPENED", "STARTED", "FINISHED", "CANCELLED")] == [
        415, 416, 417, 418, 419]
    assert NotificationType.MATCH_ROOM_OPENED.info.default_on
    assert NotificationType.LIVE_RACE_ROOM_OPENED.info.default_on
    assert NotificationType.parse("416") is NotificationType.LIVE_RACE_ROOM_OPENED
    assert NotificationType.parse("match room opened") is NotificationType.MATCH_ROOM_OPENED
    with pytest.raises(ValueError, match=r"Unknown notification type `teleport`\. Choose one of"):
        NotificationType.parse("teleport")


async def test_preferences_are_per_server_and_show_defaults(env: Env) -> None:
    before = {p.type: p for p in await env.notifications.preferences(7, GUILD)}
    assert all(p.is_default for p in before.values())
    assert before[NotificationType.LIVE_RACE_STARTED].enabled is False

    await env.notifications.set_preference(7, GUILD, NotificationType.MATCH_RESULT, False)
    here = {p.type: p for p in await env.notifications.preferences(7, GUILD)}
    there = {p.type: p for p in await env.notifications.preferences(7, OTHER_GUILD)}
    assert (here[NotificationType.MATCH_RESULT].enabled,
            here[NotificationType.MATCH_RESULT].is_default) == (False, False)
    assert there[NotificationType.MATCH_RESULT].enabled is True


async def test_the_outbox_follows_preferences_and_never_doubles_an_event(env: Env) -> None:
    alice, bob = await env.user(1001), await env.user(1002)
    await env.notifications.set_preference(1002, GUILD, NotificationType.MATCH_SCHEDULED, False)
    assert await env.queue(NotificationType.MATCH_SCHEDULED, [alice, bob], "e1") == 1
    assert await env.queue(NotificationType.MATCH_SCHEDULED, [alice, bob], "e1") == 0
    assert await env.queue(NotificationType.LIVE_RACE_STARTED, [alice], "e2") == 0  # off
    assert [(r.user_id, r.event_type) for r in await env.rows()] == [
        (alice, "MATCH_SCHEDULED")]


async def match_with_players(env: Env, *discord_ids: int) -> tuple[int, int, list[int]]:
    users = [await env.user(d) for d in discord_ids]
    async with env.sessionmaker.begin() as session:
        tournament = Tournament(guild_id=GUILD, name="Winter Cup", racetime_category="alttpr")
        session.add(tournament)
        await session.flush()
        assert tournament.id is not None
        match = Match(tournament_id=tournament.id, title="Final", scheduled_at=WHEN)
        session.add(match)
        await session.flush()
        assert match.id is not None
        session.add_all(MatchPlayer(match_id=match.id, user_id=u) for u in users)
        return tournament.id, match.id, users


async def test_an_event_delivered_twice_notifies_each_player_once(env: Env) -> None:
    tournament_id, match_id, users = await match_with_players(env, 2001, 2002)
    scheduled = MatchScheduledEvent(match_id=match_id, tournament_id=tournament_id,
                                    scheduled_at=WHEN)
    opened = RacetimeRoomOpenedEvent(
        match_id=match_id, tournament_id=tournament_id, category="alttpr",
        room_slug="odd-kirby-0001", room_url="https://racetime.gg/alttpr/odd-kirby-0001",
    )
    await env.dispatcher.emit(scheduled, opened)
    await env.dispatcher.drain()
    # A redelivery after a crash: the same event_ids reach the listeners again.
    for event in (scheduled, opened):
        for group in env.dispatcher.listeners_for(type(event)):
            for subscription in group:
                await subscription.handler(event)
    rows = await env.rows()
    assert sorted((r.user_id, r.event_type) for r in rows) == sorted(
        [(u, "MATCH_SCHEDULED") for u in users] + [(u, "MATCH_ROOM_OPENED") for u in users])
    room = next(r for r in rows if r.event_type == "MATCH_ROOM_OPENED")
    assert room.payload["room_url"].endswith("odd-kirby-0001")
    assert room.payload["tournament"] == "Winter Cup" and room.payload["subject"] == "Final"


async def test_a_live_race_notifies_its_eligible_participants_only(env: Env) -> None:
    linked, unlinked, left = [await env.user(3001), await env.user(3002), await env.user(3003)]
    async with env.sessionmaker.begin() as session:
        for user_id in (linked, left):
            user = await session.get(User, user_id)
            assert user is not None
            user.racetime_id = f"rt{user_id:014d}"
        tournament = AsyncTournament(guild_id=GUILD, name="Async Cup", racetime_category="alttpr")
        session.add(tournament)
        await session.flush()
        assert tournament.id is not None
        session.add_all([
            AsyncParticipant(tournament_id=tournament.id, user_id=linked),
            AsyncParticipant(tournament_id=tournament.id, user_id=unlinked),
            AsyncParticipant(tournament_id=tournament.id, user_id=left, is_active=False),
        ])
        race = AsyncLiveRace(tournament_id=tournament.id, scheduled_at=WHEN)
        session.add(race)
        await session.flush()
        assert race.id is not None
        tournament_id, race_id = tournament.id, race.id
    await env.dispatcher.emit(AsyncLiveRaceCreatedEvent(
        live_race_id=race_id, tournament_id=tournament_id, scheduled_at=WHEN))
    await env.dispatcher.drain()
    assert [r.user_id for r in await env.rows()] == [linked]
    assert {r.event_type for r in await env.rows()} == {"LIVE_RACE_SCHEDULED"}


async def test_delivery_sends_falls_back_retries_and_gives_up(env: Env) -> None:
    sender, notifications = env.sender, env.notifications
    ok, closed, closed_elsewhere, flaky = [await env.user(4000 + n) for n in range(4)]
    sender.refuse |= {4001, 4002}
    await notifications.set_fallback_channel(GUILD, 555, actor=Actor.server_admin(1, GUILD))
    await env.queue(NotificationType.MATCH_SCHEDULED, [ok, closed], "e-ok")
    await env.queue(NotificationType.MATCH_SCHEDULED, [closed_elsewhere], "e-nowhere",
                    guild=OTHER_GUILD)
    sender.fail_once[4003] = DeliveryFailed("Discord answered 503", retry_after=0.05)
    await env.queue(NotificationType.MATCH_SCHEDULED, [flaky], "e-flaky")
    await env.delivery.start()
    await eventually(lambda: len(sender.dms) == 2 and len(sender.posts) == 1)
    await eventually(lambda: env.delivery.delivered == 3)

    states = {r.user_id: (r.status, r.attempts, r.last_error) for r in await env.rows()}
    assert states[ok][0] == "sent"
    assert states[closed][0] == "fallback" and "posted in #race-control" in states[closed][2]
    assert states[closed_elsewhere][0] == "failed"
    assert "no fallback channel" in states[closed_elsewhere][2]
    assert states[flaky][:2] == ("sent", 2)
    history = await notifications.history(4001, GUILD, actor=Actor.member(4001, GUILD))
    assert history[0].state == "fell back to channel"


async def test_delivery_wakes_when_rows_are_queued_not_at_the_sweep(env: Env) -> None:
    slow = NotificationDelivery(env.sessionmaker, env.notifications, env.sender,
                                timings=DeliveryTimings(sweep_seconds=3600))
    await slow.start()
    try:
        user = await env.user(5001)
        await asyncio.sleep(0.05)  # the task is asleep, for an hour
        await env.queue(NotificationType.MATCH_SCHEDULED, [user], "e-wake")
        await eventually(lambda: len(env.sender.dms) == 1)
    finally:
        await slow.stop()


@dataclass
class HeldSender(RecordingSender):
    """A sender whose DMs wait until ``go`` is set: sends under way, for as long as a test
    needs."""

    go: asyncio.Event = field(default_factory=asyncio.Event)
    under_way: int = 0

    async def send_dm(self, discord_user_id: int, message: OutgoingNotification, *,
                      nonce: str, dm_channel_id: int | None = None) -> int:
        self.under_way += 1
        await self.go.wait()
        return await super().send_dm(discord_user_id, message, nonce=nonce,
                                     dm_channel_id=dm_channel_id)


async def test_a_stop_finishes_the_sends_under_way_and_leaves_the_rest_to_the_next_start(
    env: Env,
) -> None:
    """SIGTERM on a leader hands over once its sends under way are done: the rows it had
    taken but not started are not sent, and the next start (here, or the process taking
    over) sends them, each once."""
    users = [await env.user(6100 + n) for n in range(6)]
    await env.queue(NotificationType.MATCH_SCHEDULED, users, "e-handover")
    held = HeldSender()
    timings = DeliveryTimings(retry=FAST.retry, sweep_seconds=0.2, batch=6, concurrency=2)
    leaving = NotificationDelivery(env.sessionmaker, env.notifications, held, timings=timings)
    await leaving.start()
    await eventually(lambda: held.under_way == 2)  # two under way, four waiting for a slot
    stopping = asyncio.ensure_future(leaving.stop())
    await asyncio.sleep(0)  # the stop has begun
    held.go.set()
    await stopping
    assert len(held.dms) == 2
    assert sorted(r.status for r in await env.rows()) == ["sending"] * 4 + ["sent"] * 2

    taking_over = NotificationDelivery(env.sessionmaker, env.notifications, env.sender,
                                       timings=timings)
    await taking_over.start()
    try:
        await eventually(lambda: len(env.sender.dms) == 4)
        await eventually(lambda: taking_over.delivered == 4)
    finally:
        await taking_over.stop()
    sent = [discord_id for discord_id, _, _ in held.dms + env.sender.dms]
    assert sorted(sent) == [6100 + n for n in range(6)]
    assert {r.status for r in await env.rows()} == {"sent"}


async def test_a_restart_sends_what_a_dead_process_had_leased_with_the_same_nonce(
    env: Env,
) -> None:
    user = await env.user(6001)
    await env.queue(NotificationType.MATCH_SCHEDULED, [user], "e-crash")
    async with env.sessionmaker.begin() as session:  # a process took it, then died
        row = (await session.execute(select(NotificationLog))).scalar_one()
        row.status, row.attempts = NotificationStatus.SENDING.value, 1
        row.next_attempt_at = datetime.now(UTC) + timedelta(hours=1)
    await env.delivery.start()
    await eventually(lambda: len(env.sender.dms) == 1)
    (_, _, nonce), = env.sender.dms
    assert nonce == nonce_for(f"dm:e-crash:{6001}") and len(nonce) <= 25
