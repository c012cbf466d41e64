"""The notification outbox delivered over real HTTP: the real NotificationService and
NotificationDelivery on the test database, the real DiscordNotificationSender, and a real
``discord.Client`` whose HTTP client (with its own rate-limit handling) talks to the fake
Discord REST API over loopback. Only Discord itself is fake; a process that stops leading is a
fence the test turns stale."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from cogs._shared.fenced_http import fenced_http_trace
from cogs._shared.notifications.sender import DiscordNotificationSender
from core.access import AccessPolicy, Actor
from core.audit import AuditService
from core.events import RetryPolicy
from core.leadership import NO_FENCE
from core.notifications.delivery import (
    NO_FALLBACK,
    DeliveryTimings,
    NotificationDelivery,
)
from core.notifications.kinds import NotificationType
from core.notifications.service import NotificationContent, NotificationService
from db.models import NotificationLog, NotificationStatus
from db.queries.users import get_user_by_discord_id
from rehearsal.fake_discord_api import MESSAGE_ROUTE, FakeDiscordApi, Limit, RequestRecord
from tests.core.leadership_helpers import SwitchFence
from tests.plugins.fake_discord import DiscordClients

GUILD = 300_000_000_000_000_001
ORGANIZER = 300_000_000_000_000_002
KIND = NotificationType.MATCH_ROOM_OPENED
TITLE = "🚪 Match room opened"
LOGIN_REQUESTS = 2  # GET /users/@me, GET /oauth2/applications/@me
TIMINGS = DeliveryTimings(
    retry=RetryPolicy(attempts=4, base=0.2, factor=2.0, cap=1.0),
    lease_seconds=30.0,
    sweep_seconds=0.5,
)
SETTLE_SECONDS = 15.0
OPEN = NotificationStatus.open()


@dataclass
class Outbox:
    """Players, queued notifications and their delivery, through the services' APIs."""

    sessionmaker: async_sessionmaker[AsyncSession]
    notifications: NotificationService
    fake: FakeDiscordApi

    async def player(self, *, refuses_dms: bool = False) -> int:
        """A Discord user who exists at the fake and wants ``KIND`` here; their Discord id."""
        discord_id = self.fake.add_user(refuses_dms=refuses_dms)
        await self.notifications.set_preference(discord_id, GUILD, KIND, True)
        return discord_id

    async def queue(self, event_id: str, discord_ids: list[int]) -> None:
        async with self.sessionmaker.begin() as session:
            user_ids = [
                user.id for did in discord_ids
                if (user := await get_user_by_discord_id(session, did)) and user.id is not None
            ]
            await self.notifications.queue_notification(
                session, kind=KIND, guild_id=GUILD, user_ids=user_ids, event_id=event_id,
                content=NotificationContent(tournament="Spring Cup", subject=event_id,
                                            room_url="https://racetime.gg/alttpr/cool-doge-1234"),
            )

    def delivery(self, client: discord.Client) -> NotificationDelivery:
        return NotificationDelivery(
            self.sessionmaker, self.notifications, DiscordNotificationSender(client),
            timings=TIMINGS,
        )

    async def rows(self) -> list[NotificationLog]:
        async with self.sessionmaker() as session:
            rows = select(NotificationLog).order_by(col(NotificationLog.id))
            result = await session.execute(rows)
            return list(result.scalars())

    async def settled(self) -> list[NotificationLog]:
        """The rows once none is pending any more."""

        async def none_pending() -> bool:
            rows = await self.rows()
            return bool(rows) and all(row.status not in OPEN for row in rows)

        await wait_until(none_pending)
        return await self.rows()


async def wait_until(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll ``check`` (the database, the fake) until it holds, for at most SETTLE_SECONDS."""
    async with asyncio.timeout(SETTLE_SECONDS):
        while True:
            if await check():
                return
            await asyncio.sleep(0.02)


@pytest.fixture
def outbox(
    db_sessionmaker: async_sessionmaker[AsyncSession], fake_discord: FakeDiscordApi
) -> Outbox:
    audit = AuditService(db_sessionmaker)
    notifications = NotificationService(
        db_sessionmaker, audit, access=AccessPolicy(db_sessionmaker, audit)
    )
    return Outbox(db_sessionmaker, notifications, fake_discord)


@contextlib.asynccontextmanager
async def running(delivery: NotificationDelivery) -> AsyncIterator[NotificationDelivery]:
    await delivery.start()
    try:
        yield delivery
    finally:
        await delivery.stop()


def message_posts(fake: FakeDiscordApi, channel_id: int | None = None) -> list[int]:
    """The statuses of every create-message request (to one channel), in order."""
    return [
        record.status for record in fake.requests
        if record.route == MESSAGE_ROUTE
        and (channel_id is None or record.path.endswith(f"/{channel_id}/messages"))
    ]


def posts_by_nonce(fake: FakeDiscordApi) -> dict[str | None, list[RequestRecord]]:
    """Every create-message request, grouped by the message (nonce) it was for."""
    grouped: dict[str | None, list[RequestRecord]] = defaultdict(list)
    for record in fake.requests:
        if record.route == MESSAGE_ROUTE:
            grouped[record.nonce].append(record)
    return dict(grouped)


def stored_once_each(fake: FakeDiscordApi) -> bool:
    return all(n == 1 for n in Counter((m.channel_id, m.nonce) for m in fake.messages).values())


# -- rate limits -------------------------------------------------------------------------------


async def test_a_global_429_is_waited_out_and_the_dm_lands_once(
    outbox: Outbox, fake_discord: FakeDiscordApi, discord_clients: DiscordClients
) -> None:
    player = await outbox.player()
    fake_discord.rate_limit_next(2, retry_after=0.3, is_global=True, path="/channels/")
    await outbox.queue("match:1:room", [player])

    async with running(outbox.delivery(await discord_clients.login())):
        [row] = await outbox.settled()

    # discord.py waited the 429s out itself: one attempt as far as the outbox knows.
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    channel = fake_discord.dm_channel_of(player)
    assert message_posts(fake_discord, channel) == [429, 429, 200]
    posts = [r.at for r in fake_discord.requests if r.route == MESSAGE_ROUTE]
    assert all(later - earlier >= 0.3 for earlier, later in itertools.pairwise(posts))
    [message] = fake_discord.messages_in(channel)
    assert (message.embed_title, message.embed_description) == (TITLE, "Spring Cup · match:1:room")
    # login, create_dm, and the three tries of the one message: nothing more.
    assert fake_discord.stats.requests == LOGIN_REQUESTS + 1 + 3
    assert fake_discord.stats.global_429 == 2


async def test_a_busy_outbox_stays_under_the_global_limit_without_hammering(
    outbox: Outbox, fake_discord: FakeDiscordApi, discord_clients: DiscordClients
) -> None:
    # 20 requests a second at most, and no per-channel bucket in the way.
    fake_discord.set_limits(global_limit=Limit(10, 0.5), message_limit=Limit(50, 1.0))
    players = [await outbox.player() for _ in range(5)]
    for match in range(4):
        await outbox.queue(f"match:{match}:room", players)

    async with running(outbox.delivery(await discord_clients.login())):
        rows = await outbox.settled()

    assert {row.status for row in rows} == {"sent"}
    assert len(fake_discord.messages) == 20 and stored_once_each(fake_discord)
    assert fake_discord.stats.global_429 > 0, "the limit was never reached: the test proves nothing"
    posts = posts_by_nonce(fake_discord)
    assert len(posts) == 20 and all(tries[-1].status == 200 for tries in posts.values())
    for tries in posts.values():
        # discord.py waited as long as each 429 said before it tried again.
        for earlier, later in itertools.pairwise(tries):
            assert earlier.retry_after is not None
            assert later.at - earlier.at >= earlier.retry_after - 0.001
    # When discord.py gives up (five 429s in a row for one request) the outbox tries the row
    # again later: a 429 delays a notification, it never fails it.
    assert max(row.attempts for row in rows) < TIMINGS.retry.attempts


async def test_a_rate_limit_that_outlasts_discord_py_delays_the_row_without_using_attempts(
    outbox: Outbox, fake_discord: FakeDiscordApi, discord_clients: DiscordClients
) -> None:
    player = await outbox.player()
    # More 429s in a row than discord.py waits out, and more than the outbox's retry limit.
    fake_discord.rate_limit_next(5 * TIMINGS.retry.attempts, retry_after=0.01, path="/channels/")
    await outbox.queue("match:8:room", [player])

    async with running(outbox.delivery(await discord_clients.login())):
        [row] = await outbox.settled()

    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    assert message_posts(fake_discord).count(429) == 5 * TIMINGS.retry.attempts
    assert len(fake_discord.messages) == 1


async def test_each_player_s_dm_channel_is_opened_once_for_a_whole_batch(
    outbox: Outbox, fake_discord: FakeDiscordApi, discord_clients: DiscordClients
) -> None:
    players = [await outbox.player() for _ in range(5)]
    for match in range(4):
        await outbox.queue(f"match:{match}:room", players)

    async with running(outbox.delivery(await discord_clients.login())):
        rows = await outbox.settled()

    assert len(rows) == 20 and {row.status for row in rows} == {"sent"}
    assert fake_discord.count("GET /users/{user_id}") == 0  # no lookup: the DM is enough
    assert fake_discord.count("POST /users/@me/channels") == len(players)


async def test_after_a_restart_the_dm_channel_is_not_opened_again(
    outbox: Outbox, fake_discord: FakeDiscordApi, discord_clients: DiscordClients
) -> None:
    player = await outbox.player()
    await outbox.queue("match:10:scheduled", [player])
    async with running(outbox.delivery(await discord_clients.login())):
        await outbox.settled()
    async with outbox.sessionmaker() as session:
        user = await get_user_by_discord_id(session, player)
    assert user is not None and user.discord_dm_channel_id == fake_discord.dm_channel_of(player)

    await outbox.queue("match:10:room", [player])
    async with running(outbox.delivery(await discord_clients.login())):  # a new process
        rows = await outbox.settled()

    assert [row.status for row in rows] == ["sent", "sent"]
    assert fake_discord.count("POST /users/@me/channels") == 1
    assert len(fake_discord.messages_in(fake_discord.dm_channel_of(player))) == 2


async def test_a_dm_channel_discord_no_longer_knows_is_opened_anew(
    outbox: Outbox, fake_discord: FakeDiscordApi, discord_clients: DiscordClients
) -> None:
    player = await outbox.player()
    async with outbox.sessionmaker.begin() as session:
        user = await get_user_by_discord_id(session, player)
        assert user is not None
        user.discord_dm_channel_id = 404  # remembered, but unknown to Discord
    await outbox.queue("match:11:room", [player])

    async with running(outbox.delivery(await discord_clients.login())):
        [row] = await outbox.settled()

    assert (row.status, row.attempts) == ("sent", 1)
    channel = fake_discord.dm_channel_of(player)
    assert len(fake_discord.messages_in(channel)) == 1
    async with outbox.sessionmaker() as session:
        user = await get_user_by_discord_id(session, player)
    assert user is not None and user.discord_dm_channel_id == channel


# -- refused DMs -------------------------------------------------------------------------------


async def test_a_refused_dm_falls_back_to_the_channel_mentioning_the_player(
    outbox: Outbox, fake_discord: FakeDiscordApi, discord_clients: DiscordClients
) -> None:
    player = await outbox.player(refuses_dms=True)
    channel = fake_discord.add_text_channel(GUILD, "race-alerts")
    await outbox.notifications.set_fallback_channel(
        GUILD, channel, actor=Actor.server_admin(ORGANIZER, GUILD)
    )
    await outbox.queue("match:2:room", [player])

    async with running(outbox.delivery(await discord_clients.login())):
        [row] = await outbox.settled()

    assert message_posts(fake_discord, fake_discord.dm_channel_of(player)) == [403]
    assert fake_discord.stats.dm_refused == 1
    [posted] = fake_discord.messages
    assert posted.channel_id == channel
    assert posted.content.startswith(f"<@{player}>")
    assert posted.embed_title == TITLE
    assert (row.status, row.attempts) == ("fallback", 1)
    [entry] = await outbox.notifications.history(player, GUILD, actor=Actor.member(player, GUILD))
    assert entry.state == "fell back to channel"
    assert entry.error is not None
    assert "does not accept DMs" in entry.error and "posted in #race-alerts" in entry.error


async def test_a_refused_dm_without_a_fallback_channel_fails_and_says_why(
    outbox: Outbox, fake_discord: FakeDiscordApi, discord_clients: DiscordClients
) -> None:
    player = await outbox.player(refuses_dms=True)
    await outbox.queue("match:3:room", [player])

    async with running(outbox.delivery(await discord_clients.login())):
        [row] = await outbox.settled()
        await asyncio.sleep(TIMINGS.retry.base * 2)  # time enough for a retry, if one came

    assert fake_discord.messages == []
    assert message_posts(fake_discord) == [403]  # refused is final: never tried again
    assert (row.status, row.attempts) == ("failed", 1)
    [entry] = await outbox.notifications.history(player, GUILD, actor=Actor.member(player, GUILD))
    assert entry.state == "failed"
    assert entry.error is not None
    assert "does not accept DMs" in entry.error and NO_FALLBACK in entry.error


# -- server errors -----------------------------------------------------------------------------


async def test_a_500_is_retried_by_discord_py_with_its_backoff_then_delivered(
    outbox: Outbox, fake_discord: FakeDiscordApi, discord_clients: DiscordClients
) -> None:
    player = await outbox.player()
    fake_discord.fail_next(1, status=500, path="/channels/")
    await outbox.queue("match:4:room", [player])

    async with running(outbox.delivery(await discord_clients.login())):
        [row] = await outbox.settled()

    assert (row.status, row.attempts) == ("sent", 1)
    assert message_posts(fake_discord) == [500, 200]
    first, second = (r.at for r in fake_discord.requests if r.route == MESSAGE_ROUTE)
    assert second - first >= 1.0  # discord.py's own pause before retrying a 500
    assert len(fake_discord.messages) == 1


async def test_a_503_is_retried_by_the_outbox_with_backoff_then_delivered(
    outbox: Outbox, fake_discord: FakeDiscordApi, discord_clients: DiscordClients
) -> None:
    player = await outbox.player()
    fake_discord.fail_next(2, status=503, path="/channels/")  # discord.py does not retry 503
    await outbox.queue("match:5:room", [player])

    async with running(outbox.delivery(await discord_clients.login())):
        [row] = await outbox.settled()

    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)
    assert message_posts(fake_discord) == [503, 503, 200]
    times = [r.at for r in fake_discord.requests if r.route == MESSAGE_ROUTE]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # RetryPolicy.delay(n) is base * 2**(n-1), jittered down to half of it at most.
    assert gaps[0] >= TIMINGS.retry.base / 2 and gaps[1] >= TIMINGS.retry.base
    assert len(fake_discord.messages) == 1


async def test_a_5xx_that_lasts_fails_after_the_retry_limit_and_says_why(
    outbox: Outbox, fake_discord: FakeDiscordApi, discord_clients: DiscordClients
) -> None:
    player = await outbox.player()
    fake_discord.fail_next(TIMINGS.retry.attempts, status=503, path="/channels/")
    await outbox.queue("match:6:room", [player])

    async with running(outbox.delivery(await discord_clients.login())):
        [row] = await outbox.settled()

    assert (row.status, row.attempts) == ("failed", TIMINGS.retry.attempts)
    assert message_posts(fake_discord) == [503] * TIMINGS.retry.attempts
    [entry] = await outbox.notifications.history(player, GUILD, actor=Actor.member(player, GUILD))
    assert entry.state == "failed"
    assert entry.error is not None
    assert "503" in entry.error
    assert f"gave up after {TIMINGS.retry.attempts} attempts" in entry.error


async def test_a_restart_keeps_a_retry_s_backoff(
    outbox: Outbox, fake_discord: FakeDiscordApi, discord_clients: DiscordClients
) -> None:
    slow = DeliveryTimings(retry=RetryPolicy(attempts=6, base=60.0, cap=600))
    player = await outbox.player()
    fake_discord.fail_next(1, status=503, path="/channels/")
    await outbox.queue("match:9:room", [player])
    client = await discord_clients.login()
    sender = DiscordNotificationSender(client)
    await NotificationDelivery(outbox.sessionmaker, outbox.notifications, sender,
                               timings=slow).deliver_due()
    [waiting] = await outbox.rows()
    assert (waiting.status, waiting.attempts) == ("pending", 1)

    restarted = NotificationDelivery(outbox.sessionmaker, outbox.notifications, sender,
                                     timings=slow)
    async with running(restarted):
        assert await restarted.deliver_due() == 0  # not due: it waits out its backoff

    [row] = await outbox.rows()
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1,
                                                               waiting.next_attempt_at)
    assert message_posts(fake_discord) == [503]


# -- a restart in the middle of a batch --------------------------------------------------------


async def test_a_restart_mid_batch_delivers_each_notification_exactly_once(
    outbox: Outbox, fake_discord: FakeDiscordApi, discord_clients: DiscordClients,
    caplog: pytest.LogCaptureFixture,
) -> None:
    players = [await outbox.player() for _ in range(6)]
    await outbox.queue("match:7:room", players)
    # Discord stores every message, but only the first two answers reach the bot before
    # it dies: four sends happened that the outbox never recorded.
    fake_discord.hold_messages(after=2)
    dying = outbox.delivery(await discord_clients.login())
    batch = asyncio.create_task(dying.deliver_due())

    async def crash_point() -> bool:
        sent = sum(row.status == "sent" for row in await outbox.rows())
        return fake_discord.held == 4 and sent == 2

    await wait_until(crash_point)
    batch.cancel()  # the process dies: its in-flight sends and their bookkeeping with it
    with contextlib.suppress(asyncio.CancelledError):
        await batch
    fake_discord.release_messages()
    assert len(fake_discord.messages) == 6

    with caplog.at_level("INFO", logger="core.notifications.delivery"):
        async with running(outbox.delivery(await discord_clients.login())):
            rows = await outbox.settled()

    assert "4 notifications left in flight by the last run are due again" in caplog.text
    assert sorted(row.attempts for row in rows) == [1, 1, 2, 2, 2, 2]
    assert {row.status for row in rows} == {"sent"}
    # The four sends were repeated with the same nonces; Discord kept the first of each.
    assert message_posts(fake_discord).count(200) == 6 + 4
    assert fake_discord.stats.nonce_hits == 4
    assert len(fake_discord.messages) == 6 and stored_once_each(fake_discord)
    for player in players:
        [message] = fake_discord.messages_in(fake_discord.dm_channel_of(player))
        assert message.embed_description == "Spring Cup · match:7:room"



async def test_a_send_waiting_past_its_lease_is_not_taken_again_by_its_own_process(
    outbox: Outbox, fake_discord: FakeDiscordApi, discord_clients: DiscordClients
) -> None:
    """At a season's peak a DM can wait longer than its lease (a channel's rate limit, a
    loaded loop): the process sending it must not take the row again and send it twice."""
    player = await outbox.player()
    await outbox.queue("match:8:room", [player])
    fake_discord.hold_messages(after=0)  # Discord takes the message but answers late
    delivery = NotificationDelivery(
        outbox.sessionmaker, outbox.notifications,
        DiscordNotificationSender(await discord_clients.login()),
        timings=DeliveryTimings(lease_seconds=0.2, sweep_seconds=0.05),
    )
    async with running(delivery):
        await wait_until(lambda: as_awaitable(fake_discord.held == 1))
        await asyncio.sleep(1.0)  # five leases, twenty sweeps
        fake_discord.release_messages()
        [row] = await outbox.settled()

    assert (row.status, row.attempts) == ("sent", 1)
    assert message_posts(fake_discord) == [200]


async def as_awaitable(value: bool) -> bool:
    return value


# -- a leader that stops leading while a DM waits ----------------------------------------------


async def test_a_dm_waiting_out_a_429_is_not_sent_once_its_process_no_longer_leads(
    outbox: Outbox, fake_discord: FakeDiscordApi, discord_clients: DiscordClients,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The delivery asked the fence and handed the DM over; Discord made it wait, and the
    lease ran out meanwhile (the process paused, or cut off from the database). When
    discord.py tries again, the bot's last check stops the request before it leaves."""
    player = await outbox.player()
    fake_discord.rate_limit_next(1, retry_after=1.5, is_global=False, path="/channels/")
    await outbox.queue("match:12:room", [player])
    fence = SwitchFence()
    client = await discord_clients.login(http_trace=fenced_http_trace(fence))
    paused = NotificationDelivery(
        outbox.sessionmaker, outbox.notifications, DiscordNotificationSender(client),
        timings=TIMINGS, fence=fence,
    )

    with caplog.at_level("WARNING", logger="core.notifications.delivery"):
        sending = asyncio.create_task(paused.deliver_due())

        async def waiting_out_the_429() -> bool:
            return message_posts(fake_discord) == [429]

        await wait_until(waiting_out_the_429)
        [taken] = await outbox.rows()
        fence.stale = True  # discord.py sleeps out retry_after: the lease runs out meanwhile
        asked = fence.asked
        assert await sending == 1

    assert fence.asked == asked + 1  # discord.py's retry asked, right before it would leave
    assert message_posts(fake_discord) == [429]  # ...and never reached Discord
    assert fake_discord.messages == []
    # Left as taken: not finished, no error, the attempt not given back; its lease runs out.
    [row] = await outbox.rows()
    left = (row.status, row.attempts, row.next_attempt_at, row.last_error)
    assert left == (taken.status, taken.attempts, taken.next_attempt_at, taken.last_error)
    assert (row.status, row.last_error) == ("sending", None)
    assert f"Notification {row.id} not sent: the lease of epoch 1 ran out" in caplog.text

    # The process that leads now finds the row left in flight and sends it, once.
    async with running(outbox.delivery(await discord_clients.login())):
        [row] = await outbox.settled()
    assert (row.status, row.attempts, row.last_error) == ("sent", taken.attempts + 1, None)
    assert message_posts(fake_discord) == [429, 200]
    assert len(fake_discord.messages) == 1


async def test_without_a_lease_the_client_asks_nothing_and_the_dm_waits_out_the_429(
    outbox: Outbox, fake_discord: FakeDiscordApi, discord_clients: DiscordClients,
) -> None:
    assert fenced_http_trace(NO_FENCE) is None  # a process alone installs no check at all
    player = await outbox.player()
    fake_discord.rate_limit_next(1, retry_after=0.3, is_global=False, path="/channels/")
    await outbox.queue("match:13:room", [player])
    client = await discord_clients.login(http_trace=fenced_http_trace(NO_FENCE))
    assert client.http.http_trace is None
    delivery = NotificationDelivery(
        outbox.sessionmaker, outbox.notifications, DiscordNotificationSender(client),
        timings=TIMINGS, fence=NO_FENCE,
    )

    assert await delivery.deliver_due() == 1

    [row] = await outbox.rows()
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    assert message_posts(fake_discord) == [429, 200]
    assert len(fake_discord.messages) == 1


# -- the fake itself answers like Discord ------------------------------------------------------


async def test_the_fake_answers_rate_limits_nonces_and_refusals_like_discord(
    fake_discord: FakeDiscordApi,
) -> None:
    closed = fake_discord.add_user(refuses_dms=True)
    friend = fake_discord.add_user()
    fake_discord.set_limits(global_limit=Limit(6, 60.0))
    headers = {"Authorization": f"Bot {fake_discord.token}"}
    async with aiohttp.ClientSession(fake_discord.api_base + "/", headers=headers) as http:

        async def call(path: str, body: object) -> tuple[int, Mapping[str, str], Any]:
            async with http.post(path, json=body) as response:
                return response.status, response.headers, await response.json(content_type=None)

        _, dm_headers, dm = await call("users/@me/channels", {"recipient_id": str(friend)})
        _, _, closed_dm = await call("users/@me/channels", {"recipient_id": str(closed)})
        _, _, same_dm = await call("users/@me/channels", {"recipient_id": str(friend)})
        message = {"content": "hi", "nonce": "n1", "enforce_nonce": True}
        _, post_headers, first = await call(f"channels/{dm['id']}/messages", message)
        _, _, again = await call(f"channels/{dm['id']}/messages", message)
        refused = await call(f"channels/{closed_dm['id']}/messages", message)
        limited = await call(f"channels/{dm['id']}/messages", {"content": "over the limit"})
        fake_discord.set_limits(global_limit=Limit(50, 1.0))
        missing = await call("channels/404/messages", message)

    assert dm == same_dm and dm["type"] == 1 and dm["recipients"][0]["id"] == str(friend)
    assert dm_headers["X-RateLimit-Limit"] == "50" and "X-RateLimit-Bucket" in dm_headers
    assert post_headers["X-RateLimit-Limit"] == "5" and post_headers["X-RateLimit-Remaining"]
    assert first == again and first["nonce"] == "n1" and fake_discord.stats.nonce_hits == 1
    assert refused[0] == 403
    assert refused[2] == {"message": "Cannot send messages to this user", "code": 50007}
    status, limit_headers, body = limited
    assert status == 429
    assert body["message"] == "You are being rate limited." and body["global"] is True
    assert 0 < body["retry_after"] <= 60
    assert limit_headers["X-RateLimit-Global"] == "true"
    assert limit_headers["X-RateLimit-Scope"] == "global"
    assert int(limit_headers["Retry-After"]) >= 1
    assert limit_headers["Via"]  # without it discord.py takes a 429 for a Cloudflare ban
    assert [m.content for m in fake_discord.messages] == ["hi"]
    assert missing[0] == 404 and missing[2] == {"message": "Unknown Channel", "code": 10003}
