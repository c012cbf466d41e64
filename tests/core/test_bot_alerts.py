"""racetime alerts: one per incident whatever the bot's status does, durable, and delivered
once to each recipient; rooms that stay disconnected raise the same kind of alert."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

import pytest
from sqlmodel import col, select

from cogs._shared.fenced_http import fenced_http_trace
from cogs._shared.racetime_bots.alert_sender import DiscordAlertSender
from core.clock import ManualClock, SystemClock
from core.racetime_bots.alerts import RECEIPTS, BotAlertService, OutgoingAlert
from core.sending import DeliveryFailed
from db.models import (
    BotStatus,
    GuildSettings,
    ListenerReceipt,
    Match,
    RaceRoom,
    RacetimeAlert,
    RacetimeBotGuild,
    RacetimeIncident,
    Tournament,
)
from rehearsal.fake_discord_api import FakeDiscordApi
from tests.core.leadership_helpers import SwitchFence
from tests.plugins.fake_discord import DiscordClients
from tests.plugins.faults import DatabaseFaults
from tests.plugins.racetime_engine import EngineEnv, eventually
from tests.racetime.engine_helpers import CATEGORY, add_alttpr_bot, started

OWNER = 77
ADMIN_CHANNEL = 5000
SERVER_WITH_CHANNEL, SERVER_WITHOUT = 1001, 1002


@dataclass
class RecordingSender:
    """Discord's side, the outermost edge: keeps what would have been sent, and can fail."""

    sent: list[tuple[str, int, str]] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)  # "channel" or "dm": a 503 for now

    async def post_alert(self, channel_id: int, alert: OutgoingAlert, *, nonce: str) -> None:
        if "channel" in self.failing:
            raise DeliveryFailed("Discord answered 503")
        self.sent.append(("channel", channel_id, alert.kind))

    async def dm_alert(self, discord_user_id: int, alert: OutgoingAlert, *, nonce: str) -> None:
        if "dm" in self.failing:
            raise DeliveryFailed("Discord answered 503")
        self.sent.append(("dm", discord_user_id, alert.kind))


async def alert_kinds(env: EngineEnv) -> list[tuple[str, str]]:
    async with env.sessionmaker() as session:
        result = await session.execute(
            select(RacetimeIncident.subject, RacetimeAlert.kind)
            .join(RacetimeIncident, col(RacetimeIncident.id) == col(RacetimeAlert.incident_id))
            .order_by(col(RacetimeAlert.id))
        )
        return [(subject, kind) for subject, kind in result.all()]


async def watching(env: EngineEnv) -> tuple[BotAlertService, int]:
    bot = await add_alttpr_bot(env)
    assert bot.id is not None
    alerts = BotAlertService(env.sessionmaker, env.new_manager(), SystemClock())
    alerts.subscribe(env.dispatcher)
    return alerts, bot.id


async def test_one_alert_and_one_recovery_per_incident_however_the_status_flaps(
    engine_env: EngineEnv,
) -> None:
    _, bot_id = await watching(engine_env)
    statuses = [
        BotStatus.CONNECTED,
        BotStatus.CONNECTION_ERROR,  # incident 1 opens
        BotStatus.AUTH_FAILED,
        BotStatus.CONNECTION_ERROR,
        BotStatus.DISCONNECTED,  # e.g. restarted with new credentials
        BotStatus.CONNECTION_ERROR,
        BotStatus.CONNECTED,  # incident 1 resolved
        BotStatus.DISCONNECTED,  # stopped on purpose: no incident
        BotStatus.CONNECTED,
        BotStatus.AUTH_FAILED,  # incident 2
        BotStatus.CONNECTED,
    ]
    for status in statuses:
        await engine_env.bot_status.update_bot_status(bot_id, status, "why")
    await engine_env.dispatcher.drain()
    subject = f"bot:{bot_id}"
    assert await alert_kinds(engine_env) == [
        (subject, "opened"), (subject, "resolved"), (subject, "opened"), (subject, "resolved")
    ]


async def test_a_status_change_redelivered_after_a_lost_commit_opens_one_incident(
    engine_env: EngineEnv, db_faults: DatabaseFaults
) -> None:
    _, bot_id = await watching(engine_env)
    lost = db_faults.fail_commit(r"INSERT INTO racetime_alerts")
    await engine_env.bot_status.update_bot_status(bot_id, BotStatus.AUTH_FAILED, "refused")
    await engine_env.dispatcher.drain()
    assert lost.raised == 1, "the first try's transaction was lost, and the event redelivered"
    assert await alert_kinds(engine_env) == [(f"bot:{bot_id}", "opened")]


async def test_each_recipient_gets_an_alert_once_across_failures_and_restarts(
    engine_env: EngineEnv,
) -> None:
    alerts, bot_id = await watching(engine_env)
    async with engine_env.sessionmaker.begin() as session:
        for guild_id in (SERVER_WITH_CHANNEL, SERVER_WITHOUT):
            session.add(RacetimeBotGuild(bot_id=bot_id, guild_id=guild_id))
        session.add(GuildSettings(guild_id=SERVER_WITH_CHANNEL, admin_channel_id=ADMIN_CHANNEL))
    await engine_env.bot_status.update_bot_status(bot_id, BotStatus.CONNECTION_ERROR, "503")
    await engine_env.dispatcher.drain()

    sender = RecordingSender(failing={"dm"})
    assert await alerts.deliver(sender, [OWNER]) == 0, "the DM failed: not done yet"
    assert sender.sent == [("channel", ADMIN_CHANNEL, "opened")]
    sender.failing.clear()
    # As after a restart: a new service, the same database.
    again = BotAlertService(engine_env.sessionmaker, engine_env.new_manager(), SystemClock())
    assert await again.deliver(sender, [OWNER]) == 1
    assert sender.sent == [("channel", ADMIN_CHANNEL, "opened"), ("dm", OWNER, "opened")]
    assert await again.deliver(sender, [OWNER]) == 0
    assert len(sender.sent) == 2
    async with engine_env.sessionmaker() as session:
        [row] = (await session.execute(select(RacetimeAlert))).scalars().all()
    assert row.sent_at is not None and row.attempts == 2
    assert row.last_error == "owner:77: Discord answered 503"


async def test_a_room_disconnected_for_more_than_a_minute_raises_an_alert_once(
    engine_env: EngineEnv,
) -> None:
    fake = engine_env.fake
    race = fake.open_race(CATEGORY, goal="Beat the game")
    await add_alttpr_bot(engine_env)
    manager = await started(engine_env)
    connection = await manager.room(race.name)
    await asyncio.wait_for(connection.wait_connected(), 5)
    clock = ManualClock()
    alerts = BotAlertService(engine_env.sessionmaker, manager, clock)

    # The room's socket drops and racetime refuses it back; the bot itself stays connected.
    fake.fail_next(100_000, status=503, path_prefix=f"/ws/o/bot/{race.slug}")
    await fake.drop_sockets(race.slug)
    await eventually(lambda: not connection.is_connected)
    await alerts.check_rooms()
    await clock.advance(59)
    await alerts.check_rooms()
    assert await alert_kinds(engine_env) == [], "not a minute yet"
    await clock.advance(2)
    await alerts.check_rooms()
    await alerts.check_rooms()
    subject = f"room:{race.name}"
    assert await alert_kinds(engine_env) == [(subject, "opened")]
    async with engine_env.sessionmaker() as session:
        [alert] = (await session.execute(select(RacetimeAlert))).scalars().all()
    assert f"`{race.name}` should be connected but keeps failing to reconnect" in alert.text

    fake.clear_faults()
    await asyncio.wait_for(connection.wait_connected(), 5)
    await alerts.check_rooms()
    await alerts.check_rooms()
    assert await alert_kinds(engine_env) == [(subject, "opened"), (subject, "resolved")]


@pytest.mark.parametrize("status", [BotStatus.AUTH_FAILED, BotStatus.CONNECTION_ERROR])
async def test_the_alert_says_what_is_wrong_and_what_to_do(
    engine_env: EngineEnv, status: BotStatus
) -> None:
    _, bot_id = await watching(engine_env)
    await engine_env.bot_status.update_bot_status(bot_id, status, "racetime said no")
    await engine_env.dispatcher.drain()
    async with engine_env.sessionmaker() as session:
        [alert] = (await session.execute(select(RacetimeAlert))).scalars().all()
    assert "**ALttPR** (`alttpr`) is not working" in alert.text
    assert ": racetime said no." in alert.text
    hint = "/racetime bot edit" if status == BotStatus.AUTH_FAILED else "keeps retrying"
    assert hint in alert.text


async def test_an_alert_about_a_room_goes_to_the_rooms_server_only(
    engine_env: EngineEnv,
) -> None:
    """A bot serving two servers: the trouble of one server's room is not the other's news
    (issue 22). A room of no server's match or live race goes to the bot owners."""
    alerts, bot_id = await watching(engine_env)
    theirs_channel = ADMIN_CHANNEL + 1
    async with engine_env.sessionmaker.begin() as session:
        for guild_id, channel in ((SERVER_WITH_CHANNEL, ADMIN_CHANNEL),
                                  (SERVER_WITHOUT, theirs_channel)):
            session.add(RacetimeBotGuild(bot_id=bot_id, guild_id=guild_id))
            session.add(GuildSettings(guild_id=guild_id, admin_channel_id=channel))
        tournament = Tournament(
            guild_id=SERVER_WITH_CHANNEL, name="Cup", racetime_category=CATEGORY
        )
        session.add(tournament)
        await session.flush()
        match = Match(tournament_id=tournament.id or 0, title="Final")
        session.add(match)
        await session.flush()
        session.add(RaceRoom(category=CATEGORY, slug="ours-room-0001", match_id=match.id))
        session.add(RaceRoom(category=CATEGORY, slug="stray-room-0002"))
        for number, slug in enumerate(("ours-room-0001", "stray-room-0002")):
            incident = RacetimeIncident(
                bot_id=bot_id, subject=f"room:{CATEGORY}/{slug}",
                open_key=f"room:{CATEGORY}/{slug}",
            )
            session.add(incident)
            await session.flush()
            session.add(RacetimeAlert(
                id=100 + number, incident_id=incident.id or 0, kind="opened", text=slug,
            ))
    sender = RecordingSender()
    assert await alerts.deliver(sender, [OWNER]) == 2
    assert sender.sent == [("channel", ADMIN_CHANNEL, "opened"), ("dm", OWNER, "opened")]


class WatchedWake(asyncio.Event):
    """The alerts loop's wake-up event, telling the test when the loop waits on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = asyncio.Event()

    async def wait(self) -> Literal[True]:
        self.waiting.set()
        return await super().wait()


async def test_stop_ends_the_loop_even_when_news_arrives_in_the_same_moment(
    engine_env: EngineEnv,
) -> None:
    """Found hunting a hang of the test suite's teardown (issue 20): a wake-up and the stop's
    cancellation landing together. Under ``asyncio.wait_for`` (Python 3.11) the finished
    wake-up won and the cancellation was lost: the loop went on and ``stop()`` waited for
    ever. The loop now ends at a stop flag; a cancellation is only the last resort."""
    alerts, _ = await watching(engine_env)
    wake = alerts.wake = WatchedWake()
    await alerts.start(RecordingSender(), lambda: [OWNER], sweep_seconds=3600)
    await wake.waiting.wait()  # the loop has done its round and waits for news
    wake.set()  # news: the loop's wait is done, its task not yet resumed...
    stopping = asyncio.ensure_future(alerts.stop())  # ...and the stop cancels it right then
    done, _ = await asyncio.wait({stopping}, timeout=5)
    assert done, "stop() is still waiting for the alerts loop"


async def test_alerts_stop_with_nothing_recorded_once_the_process_no_longer_leads(
    engine_env: EngineEnv, fake_discord: FakeDiscordApi, discord_clients: DiscordClients
) -> None:
    """Discord's side for real (the fake Discord REST API over a socket): the client's last
    check refuses the owner's DM. The loop stops rather than retrying every sweep, and keeps
    no receipt and no attempt: the process that leads sends the alert, once."""
    alerts, bot_id = await watching(engine_env)
    await engine_env.bot_status.update_bot_status(bot_id, BotStatus.AUTH_FAILED, "refused")
    await engine_env.dispatcher.drain()
    owner = fake_discord.add_user()
    fence = SwitchFence()
    fence.stale = True
    paused = DiscordAlertSender(await discord_clients.login(http_trace=fenced_http_trace(fence)))

    async with asyncio.timeout(10):  # it stops by itself; it does not sweep again in an hour
        await alerts.run(paused, lambda: [owner], sweep_seconds=3600)

    assert fence.asked == 1
    assert fake_discord.count("POST /users/@me/channels") == 0 and fake_discord.messages == []
    async with engine_env.sessionmaker() as session:
        [row] = (await session.execute(select(RacetimeAlert))).scalars().all()
        receipts = (await session.execute(
            select(ListenerReceipt).where(col(ListenerReceipt.listener) == RECEIPTS)
        )).scalars().all()
    assert (row.attempts, row.sent_at, row.last_error, receipts) == (0, None, None, [])

    leading = DiscordAlertSender(await discord_clients.login())
    assert await alerts.deliver(leading, [owner]) == 1
    assert [m.recipient_id for m in fake_discord.messages] == [owner]
